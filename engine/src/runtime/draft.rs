//! [`Draft`]: a command being decided on a case, its events applied to the case as
//! they are decided, so each step sees the effects of the ones before it. On a
//! refusal the case is put back ([`Draft::undo`]): a refused command changes nothing.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::{CalendarDays, Command, CommandKind, Data, How, MAX_AUTOMATIC, Refusal, Timer};
use crate::case::undo::Undo;
use crate::case::{Actor, Case, Cause, Event, EventKind, MoveReason, apply, apply_taking};
use crate::policy::{Input, Policy, SetBy};
use crate::routing::RouteReason;
use crate::script::{BusinessDays, EvalContext};
use crate::value::Fields;

/// What a draft does with the events it decides, once folded into the case.
pub(in crate::runtime) enum Record {
    /// Keeps them whole, for the caller to append.
    Kept(Vec<Event>),
    /// Only counts them: what folding does not read is left out of them, so they
    /// cannot leave the draft (see [`super::Folded`]).
    Folded(usize),
}

/// A command being decided.
pub(super) struct Draft<'a> {
    pub(super) policy: &'a Policy,
    pub(super) case: &'a mut Case,
    pub(super) now: DateTime<Utc>,
    pub(super) actor: Option<&'a Actor>,
    pub(super) ctx: EvalContext,
    key: Option<String>,
    record: Record,
    /// The policy hash every event records: the case's own copy once taken in.
    hash: Arc<str>,
    /// A warning or breach fired is known to be due (see [`How::due_known`]).
    due_known: bool,
    /// What the events changed, when the case is to be put back on a refusal.
    undo: Option<Undo>,
}

impl<'a> Draft<'a> {
    /// A draft on `case` itself; in place, it records what the events change, for
    /// [`Self::undo`].
    pub(super) fn new(
        policy: &'a Policy,
        case: &'a mut Case,
        command: &'a Command,
        now: DateTime<Utc>,
        how: How<'_>,
        record: Record,
    ) -> Self {
        let calendar: Arc<dyn BusinessDays> = match how.calendar {
            Some(calendar) => calendar.clone() as Arc<dyn BusinessDays>,
            None => Arc::new(CalendarDays(policy.default_calendar().clone())),
        };
        let hash = match case.is_received() {
            true => case.policy.clone(),
            false => Arc::from(policy.hash()),
        };
        Draft {
            hash,
            policy,
            case,
            now,
            actor: command.actor.as_ref(),
            ctx: EvalContext { now, calendar },
            key: command.key.clone(),
            record,
            due_known: how.due_known,
            undo: how.in_place.then(Undo::default),
        }
    }

    pub(super) fn into_record(self) -> Record {
        self.record
    }

    /// Puts the case back as it was before the draft (when it was made undoable).
    pub(super) fn undo(self) {
        if let Some(undo) = self.undo {
            undo.restore(self.case);
        }
    }

    /// Records an event and applies it to the case.
    pub(super) fn emit(&mut self, kind: EventKind) {
        let event = Event {
            seq: self.case.version + 1,
            at: self.now,
            policy: self.hash.clone(),
            // Folding does not read who acted.
            actor: if self.counted() {
                None
            } else {
                self.actor.cloned()
            },
            key: self.key.clone(),
            kind,
        };
        if let Some(undo) = &mut self.undo {
            undo.record(self.case, &event);
        }
        match &mut self.record {
            Record::Kept(events) => {
                apply(self.case, &event);
                events.push(event);
            }
            Record::Folded(count) => {
                let mut event = event;
                apply_taking(self.case, &mut event);
                *count += 1;
            }
        }
    }

    /// Whether the events are only counted (see [`Record::Folded`]).
    pub(super) fn counted(&self) -> bool {
        matches!(self.record, Record::Folded(_))
    }

    /// A copy of `text` for an event, where folding it does not read it: empty
    /// when the events are only counted.
    pub(super) fn text(&self, text: &str) -> String {
        match self.counted() {
            true => String::new(),
            false => text.to_string(),
        }
    }

    /// The text saying why a clock moved, unless the events are only counted.
    pub(super) fn trigger(&self, text: impl FnOnce() -> String) -> String {
        match self.counted() {
            true => String::new(),
            false => text(),
        }
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
        if let Timer::After { transition } = timer {
            let error =
                super::timers::after_guard_error(self.policy, self.case, *transition, &self.ctx);
            if let Some(error) = error {
                self.emit(EventKind::TimerFailed {
                    timer: timer.to_string(),
                    transition: *transition,
                    error,
                });
                return Ok(());
            }
        }
        let known = self.due_known && !matches!(timer, Timer::After { .. });
        if !known && !super::timers::is_due(self.policy, self.case, timer, &self.ctx)? {
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
        // Only a field with a default or that is required needs looking up.
        let defaulted = self.policy.fields().iter();
        for (name, def) in defaulted.filter(|(_, d)| d.default.is_some() || d.required) {
            match (&def.default, fields.contains_key(name)) {
                (_, true) => {}
                (Some(default), false) => {
                    fields.insert(name.clone(), default.clone());
                }
                (None, false) => missing.push(name.clone()),
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
        self.clocks_on_move("", "intake", &stage, false, closes, received_at)?;
        self.check_data_begins()
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
            if def.set_by == SetBy::Actions {
                return Err(Refusal::SetByActions {
                    field: name.clone(),
                });
            }
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
        // The values that change, kept in the map they came in (no new map).
        let mut changed = fields;
        changed.retain(|k, v| self.case.fields.get(k) != Some(v));
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
        // Folding does not read the reason: counted events go without it.
        let reason = match self.counted() {
            true => String::new(),
            false => decision.explain(),
        };
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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use std::collections::BTreeMap;

    use chrono::{DateTime, Utc};

    use super::super::simulate::{Profile, generate};
    use super::super::test_support::bank;
    use super::super::{Command, CommandKind, decide, decide_and_apply, next_due};
    use crate::case::{Actor, Case, apply};
    use crate::policy::Policy;

    /// `decide_and_apply` (in place, put back on a refusal) against `decide` on a
    /// copy then `apply` of each event: the same decision, the same case.
    fn check(policy: &Policy, case: &mut Case, command: &Command, at: DateTime<Utc>) -> bool {
        let before = case.clone();
        let expected = decide(policy, &before, command, at);
        let actual = decide_and_apply(policy, case, command, at);
        assert_eq!(actual, expected);
        let mut folded = before.clone();
        if let Ok(decision) = &expected {
            decision.events.iter().for_each(|e| apply(&mut folded, e));
        }
        assert_eq!(*case, folded);
        expected.is_ok()
    }

    #[test]
    fn deciding_in_place_is_deciding_on_a_copy() {
        let policy = bank();
        let lines = generate(&policy, &Profile::default(), 400, 11, 1, &|_| {});
        let mut by_case: BTreeMap<String, Vec<_>> = BTreeMap::new();
        for line in lines {
            by_case.entry(line.case.clone()).or_default().push(line);
        }
        let (mut refused, mut fired) = (0, 0);
        for (id, lines) in by_case {
            let mut case = Case::new(id);
            let mut now = DateTime::<Utc>::MIN_UTC;
            for line in lines {
                let at = line.instant();
                while let Some((due, timer)) = next_due(&case, &policy).filter(|d| d.0 <= at) {
                    now = now.max(due);
                    let command = Command::new(CommandKind::Fire(timer));
                    if !check(&policy, &mut case, &command, now) {
                        break;
                    }
                    fired += 1;
                }
                now = now.max(at);
                if !check(&policy, &mut case, &line.command(), now) {
                    refused += 1;
                }
            }
        }
        assert!(
            refused > 10 && fired > 100,
            "{refused} refused, {fired} fired"
        );
    }

    #[test]
    fn a_refusal_after_fields_were_set_puts_everything_back() {
        let policy = bank();
        let agent = Actor {
            id: Some("u7".into()),
            role: Some("agent".into()),
        };
        let at: DateTime<Utc> = "2026-03-02T02:00:00Z".parse().unwrap();
        let mut case = Case::new("C-1");
        let data = serde_json::json!({"category": "fees", "summary": "charged twice"});
        let intake = CommandKind::Intake {
            received_at: at,
            data: data.as_object().unwrap().clone(),
        };
        assert!(check(&policy, &mut case, &Command::new(intake), at));
        for event in ["acknowledge", "start_investigation"] {
            let command = Command::new(CommandKind::Event {
                name: event.into(),
                data: Default::default(),
            });
            assert!(check(&policy, &mut case, &command.by(agent.clone()), at));
        }
        // Sets `decision` and `remedies_explained`, then the guard refuses.
        let data = serde_json::json!({"decision": "no", "remedies_explained": false});
        let decide_event = Command::new(CommandKind::Event {
            name: "decide".into(),
            data: data.as_object().unwrap().clone(),
        });
        let before = case.clone();
        assert!(!check(&policy, &mut case, &decide_event.by(agent), at));
        assert_eq!(case, before);
    }
}
