//! [`Draft`]: a scratch copy of the case that a command's events are applied to as
//! they are decided, so each step sees the effects of the ones before it. Dropped on
//! a refusal: a refused command changes nothing.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::{CalendarDays, Command, CommandKind, Data, MAX_AUTOMATIC, Refusal, Timer};
use crate::case::{Actor, Case, Cause, Event, EventKind, MoveReason, apply};
use crate::policy::{Input, Policy};
use crate::routing::RouteReason;
use crate::script::EvalContext;
use crate::value::Fields;

/// A command being decided.
pub(super) struct Draft<'a> {
    pub(super) policy: &'a Policy,
    pub(super) case: Case,
    pub(super) now: DateTime<Utc>,
    pub(super) actor: Option<Actor>,
    pub(super) ctx: EvalContext,
    key: Option<String>,
    events: Vec<Event>,
    /// The policy hash every event records: the case's own copy once taken in.
    hash: Arc<str>,
    /// A warning or breach fired is known to be due (see `runtime::fire_due`).
    pub(super) due_known: bool,
}

impl<'a> Draft<'a> {
    pub(super) fn new(
        policy: &'a Policy,
        case: &Case,
        command: &Command,
        now: DateTime<Utc>,
    ) -> Self {
        let calendar = Arc::new(CalendarDays(policy.default_calendar().clone()));
        let hash = match case.is_received() {
            true => case.policy.clone(),
            false => Arc::from(policy.hash()),
        };
        Draft {
            hash,
            policy,
            case: case.clone(),
            now,
            actor: command.actor.clone(),
            ctx: EvalContext { now, calendar },
            key: command.key.clone(),
            events: Vec::new(),
            due_known: false,
        }
    }

    pub(super) fn into_events(self) -> Vec<Event> {
        self.events
    }

    /// The scratch case with every event folded in, and the events.
    pub(super) fn into_parts(self) -> (Case, Vec<Event>) {
        (self.case, self.events)
    }

    /// Records an event and applies it to the scratch case.
    pub(super) fn emit(&mut self, kind: EventKind) {
        let event = Event {
            seq: self.case.version + 1,
            at: self.now,
            policy: self.hash.clone(),
            actor: self.actor.clone(),
            key: self.key.clone(),
            kind,
        };
        apply(&mut self.case, &event);
        self.events.push(event);
    }

    pub(super) fn run(&mut self, kind: &CommandKind) -> Result<(), Refusal> {
        match kind {
            CommandKind::Intake { received_at, data } => self.intake(*received_at, data)?,
            CommandKind::Note { text } => self.emit(EventKind::Noted { text: text.clone() }),
            CommandKind::Fire(timer) => self.fire(timer)?,
            _ if self.case.closed => {
                return Err(Refusal::CaseClosed {
                    stage: self.case.stage.clone(),
                });
            }
            CommandKind::Event { name, data } => self.event(name, data)?,
            CommandKind::Update { data } => self.update(data)?,
            CommandKind::Assign { assignee } => self.emit(EventKind::Assigned {
                assignee: assignee.clone(),
            }),
            CommandKind::Extend { sla, extension } => self.extend(sla, extension.as_deref())?,
            CommandKind::Withdraw => self.event("withdraw", &Data::new())?,
        }
        self.automatic();
        Ok(())
    }

    fn fire(&mut self, timer: &Timer) -> Result<(), Refusal> {
        let not_due = || Refusal::TimerNotDue {
            timer: timer.to_string(),
        };
        let known = self.due_known && !matches!(timer, Timer::After { .. });
        if !known && !super::timers::is_due(self.policy, &self.case, timer, &self.ctx)? {
            return Err(not_due());
        }
        match timer {
            Timer::Warning { sla, percent } => self.emit(EventKind::Warned {
                sla: sla.clone(),
                percent: *percent,
            }),
            Timer::Breach { sla } => self.breach(sla)?,
            Timer::After { transition } => {
                let t = &self.policy.transitions()[*transition];
                let reason = MoveReason::After {
                    delay: t.after.unwrap_or(crate::calendar::SlaDuration::Days(0)),
                };
                self.take(*transition, reason)?;
            }
        }
        Ok(())
    }

    fn intake(&mut self, received_at: DateTime<Utc>, data: &Data) -> Result<(), Refusal> {
        if received_at > self.now {
            return Err(Refusal::ReceivedInFuture {
                received_at,
                now: self.now,
            });
        }
        let mut fields = self.read_fields(data)?;
        let mut missing = Vec::new();
        for (name, def) in self.policy.fields() {
            match (&def.default, fields.contains_key(name)) {
                (_, true) => {}
                (Some(default), false) => {
                    fields.insert(name.clone(), default.clone());
                }
                (None, false) if def.required => missing.push(name.clone()),
                (None, false) => {}
            }
        }
        if !missing.is_empty() {
            return Err(Refusal::MissingFields {
                event: "intake".to_string(),
                fields: missing,
            });
        }
        let stage = self.policy.start_stage().name.clone();
        self.emit(EventKind::Received {
            case: self.case.id.clone(),
            received_at,
            fields,
            stage: stage.clone(),
        });
        self.route()?;
        let closes = self.policy.stages().get(&stage).is_some_and(|s| s.terminal);
        self.clocks_on_move("", "intake", &stage, false, closes, received_at)
    }

    /// Reads input against the policy's field declarations.
    pub(super) fn read_fields(&self, data: &Data) -> Result<Fields, Refusal> {
        let mut out = Fields::new();
        for (name, value) in data {
            let def = self.policy.fields().get(name).ok_or_else(|| {
                Refusal::from(crate::policy::FieldError::Unknown {
                    field: name.clone(),
                })
            })?;
            out.insert(name.clone(), def.read(Input::Json(value))?);
        }
        Ok(out)
    }

    /// Sets input fields; re-routes when one of `reroute_on` changed.
    pub(super) fn set_input(&mut self, data: &Data) -> Result<(), Refusal> {
        let fields = self.read_fields(data)?;
        self.set_fields(fields, Cause::Input)
    }

    pub(super) fn set_fields(&mut self, fields: Fields, cause: Cause) -> Result<(), Refusal> {
        let changed: Fields = fields
            .into_iter()
            .filter(|(k, v)| self.case.fields.get(k) != Some(v))
            .collect();
        if changed.is_empty() {
            return Ok(());
        }
        let reroute = changed
            .keys()
            .any(|k| self.policy.routing().reroute_on.contains(k));
        self.emit(EventKind::FieldsSet {
            fields: changed,
            cause,
        });
        match reroute {
            true => self.route(),
            false => Ok(()),
        }
    }

    fn update(&mut self, data: &Data) -> Result<(), Refusal> {
        self.set_input(data)
    }

    /// Routes the case; records a `Routed` event when the route changes.
    pub(super) fn route(&mut self) -> Result<(), Refusal> {
        let policy = self.policy;
        let decision = policy
            .routing()
            .router
            .route(policy.scripts(), &self.case.view(), &self.ctx)
            .map_err(|e| Refusal::ScriptFailed {
                script_code: e.code(),
                message: e.to_string(),
            })?;
        let same = self.case.queue.as_deref() == Some(decision.queue.as_str())
            && (decision.priority.is_none() || self.case.priority == decision.priority)
            && decision.tags.iter().all(|t| self.case.tags.contains(t));
        if same {
            return Ok(());
        }
        let rule = match &decision.reason {
            RouteReason::Rule { index, .. } | RouteReason::Otherwise { index } => Some(*index),
            RouteReason::Script { .. } => None,
        };
        let reason = decision.explain();
        self.emit(EventKind::Routed {
            queue: decision.queue,
            priority: decision.priority,
            assignee: decision.assignee,
            tags: decision.tags,
            rule,
            reason,
        });
        Ok(())
    }

    /// Takes automatic transitions whose condition holds; a condition that fails to
    /// evaluate is treated as false.
    fn automatic(&mut self) {
        for _ in 0..MAX_AUTOMATIC {
            let policy = self.policy;
            let next = policy.transitions().iter().find(|t| {
                t.automatic
                    && !self.case.closed
                    && t.from.contains(&self.case.stage)
                    && t.guard.as_ref().is_none_or(|g| {
                        g.eval(policy.scripts(), &self.case.view(), &self.ctx)
                            .unwrap_or(false)
                    })
            });
            let Some(t) = next else { return };
            let condition = t
                .guard
                .as_ref()
                .map(|g| g.source().to_string())
                .unwrap_or_default();
            if self
                .take(t.index, MoveReason::Automatic { condition })
                .is_err()
            {
                return;
            }
        }
    }
}
