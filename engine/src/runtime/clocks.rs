//! Clocks on a case: what entering or leaving a stage, an event, a reopen, an
//! extension or a breach does to each SLA's clock.

use chrono::{DateTime, Utc};

use super::Refusal;
use super::draft::Draft;
use crate::case::{Cause, ClockOp, EventKind};
use crate::policy::{Reopen, Sla, Trigger};

/// Where one clock stands, as far as triggers care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    NotStarted,
    Running,
    Paused,
    Stopped,
}

/// The event of a withdrawal: the built-in one, or a policy's own transition of
/// that name. Clocks it stops end withdrawn, not met.
pub(super) const WITHDRAW: &str = "withdraw";

fn stop_op(withdrawn: bool) -> ClockOp {
    match withdrawn {
        true => ClockOp::Withdraw,
        false => ClockOp::Stop,
    }
}

fn entered(triggers: &[Trigger], stage: &str) -> bool {
    triggers
        .iter()
        .any(|t| matches!(t, Trigger::Enter(s) if s == stage))
}

fn by_event(triggers: &[Trigger], event: &str) -> bool {
    triggers
        .iter()
        .any(|t| matches!(t, Trigger::Event(e) if e == event))
}

impl Draft<'_> {
    fn status(&self, sla: &str) -> Status {
        let Some(run) = self.case.clocks.get(sla).and_then(|c| c.runs().last()) else {
            return Status::NotStarted;
        };
        match (
            run.stopped_at,
            run.pauses.last().is_some_and(|p| p.to.is_none()),
        ) {
            (Some(_), _) => Status::Stopped,
            (None, true) => Status::Paused,
            (None, false) => Status::Running,
        }
    }

    fn clock(&mut self, sla: &str, op: ClockOp, on: DateTime<Utc>, trigger: String) {
        self.emit(EventKind::Clock {
            sla: sla.to_string(),
            op,
            on,
            trigger,
        });
    }

    /// Applies every SLA's triggers for a move from `from` by `event` into `to`, at `on`;
    /// `closes`: `to` is terminal.
    pub(super) fn clocks_on_move(
        &mut self,
        from: &str,
        event: &str,
        to: &str,
        reopens: bool,
        closes: bool,
        on: DateTime<Utc>,
    ) -> Result<(), Refusal> {
        let policy = self.policy;
        for sla in policy.slas().values() {
            self.leave_and_event(sla, from, event, to, on);
            if reopens && self.status(&sla.name) == Status::Stopped {
                self.reopen(sla, event, on);
            }
            self.enter(sla, event, to, on)?;
        }
        if closes {
            self.stop_all(to, on, event == WITHDRAW);
        }
        Ok(())
    }

    fn leave_and_event(&mut self, sla: &Sla, from: &str, event: &str, to: &str, on: DateTime<Utc>) {
        let name = &sla.name;
        // Triggers first: they are cheaper to test than the clock's status.
        let left_pause = entered(&sla.pause, from) && !entered(&sla.pause, to);
        if (left_pause || by_event(&sla.resume, event)) && self.status(name) == Status::Paused {
            let trigger = self.trigger(|| format!("left `{from}`"));
            self.clock(name, ClockOp::Resume, on, trigger);
        }
        if by_event(&sla.pause, event) && self.status(name) == Status::Running {
            let trigger = self.trigger(|| format!("event `{event}`"));
            self.clock(name, ClockOp::Pause, on, trigger);
        }
        let stops = by_event(&sla.stop, event) || entered(&sla.stop, to);
        if stops && matches!(self.status(name), Status::Running | Status::Paused) {
            let trigger = self.trigger(|| format!("`{event}` into `{to}`"));
            self.clock(name, stop_op(event == WITHDRAW), on, trigger);
        }
    }

    fn reopen(&mut self, sla: &Sla, event: &str, on: DateTime<Utc>) {
        if matches!(sla.on_reopen, Reopen::Restart | Reopen::Resume) {
            let trigger = self.trigger(|| format!("reopened by `{event}`"));
            self.clock(&sla.name, ClockOp::Start, on, trigger);
        }
    }

    fn enter(
        &mut self,
        sla: &Sla,
        event: &str,
        to: &str,
        on: DateTime<Utc>,
    ) -> Result<(), Refusal> {
        let name = &sla.name;
        let starts = entered(&sla.start, to) || by_event(&sla.start, event);
        if starts && self.status(name) == Status::NotStarted && self.applies(sla)? {
            let trigger = self.trigger(|| format!("`{event}` into `{to}`"));
            self.clock(name, ClockOp::Start, on, trigger);
        }
        if entered(&sla.pause, to) && self.status(name) == Status::Running {
            let trigger = self.trigger(|| format!("entered `{to}`"));
            self.clock(name, ClockOp::Pause, on, trigger);
        }
        Ok(())
    }

    fn applies(&self, sla: &Sla) -> Result<bool, Refusal> {
        match &sla.applies_when {
            None => Ok(true),
            Some(c) => Ok(c.eval(self.policy.scripts(), &self.case.view(), &self.ctx)?),
        }
    }

    /// Stops every clock still running or paused (a terminal stage, a withdrawal:
    /// `withdrawn`).
    pub(super) fn stop_all(&mut self, why: &str, on: DateTime<Utc>, withdrawn: bool) {
        let live: Vec<String> = self
            .case
            .clocks
            .keys()
            .filter(|k| matches!(self.status(k), Status::Running | Status::Paused))
            .cloned()
            .collect();
        for sla in live {
            let trigger = self.trigger(|| format!("case closed: `{why}`"));
            self.clock(&sla, stop_op(withdrawn), on, trigger);
        }
    }

    /// Refuses a clock that starts before its calendar's data begins: its deadline
    /// cannot be counted, and a clock without a deadline would never breach.
    pub(super) fn check_data_begins(&self) -> Result<(), Refusal> {
        for (name, sla) in self.policy.slas() {
            let Some(run) = self.case.clocks.get(name).and_then(|c| c.runs().last()) else {
                continue;
            };
            let calendar = self.policy.calendar_of(sla);
            let day = calendar.local_date(run.started_at);
            calendar
                .day_kind(day)
                .map_err(|e| Refusal::CalendarFailed {
                    message: format!("clock `{name}`: {e}"),
                })?;
        }
        Ok(())
    }

    /// Grants an extension of an SLA's clock.
    pub(super) fn extend(&mut self, sla: &str, wanted: Option<&str>) -> Result<(), Refusal> {
        let policy = self.policy;
        let rule = policy.slas().get(sla).ok_or_else(|| Refusal::UnknownSla {
            sla: sla.to_string(),
        })?;
        if !matches!(self.status(sla), Status::Running | Status::Paused) {
            return Err(Refusal::ClockNotRunning {
                sla: sla.to_string(),
            });
        }
        let current = self
            .case
            .clocks
            .get(sla)
            .and_then(|c| {
                let cal = policy.calendar(&rule.calendar)?;
                c.target(&rule.rule, cal).ok()
            })
            .map(|t| t.approx_seconds())
            .unwrap_or_default();
        let ext = rule.extensions.iter().find(|e| match wanted {
            Some(w) => e.name == w || e.to.to_string() == w,
            None => e.to.approx_seconds() > current,
        });
        let ext = ext.ok_or_else(|| Refusal::UnknownExtension {
            sla: sla.to_string(),
            extension: wanted.unwrap_or("(next)").to_string(),
        })?;
        let event = format!("extend {sla}");
        let role = self.actor.and_then(|a| a.role.clone());
        if let Some(allowed) = &ext.role
            && role.as_ref() != Some(allowed)
        {
            return Err(Refusal::RoleNotAllowed {
                event,
                role,
                allowed: vec![allowed.clone()],
            });
        }
        self.check_requires(&event, &ext.requires)?;
        if let Some(when) = &ext.when
            && !when.eval(policy.scripts(), &self.case.view(), &self.ctx)?
        {
            return Err(Refusal::GuardFailed {
                event,
                condition: when.source().to_string(),
            });
        }
        let reason = self
            .case
            .fields
            .get("extension_reason")
            .map(ToString::to_string)
            .or_else(|| ext.description.clone())
            .unwrap_or_else(|| ext.name.clone());
        let op = ClockOp::Extend {
            extension: ext.name.clone(),
            target: ext.to,
            reason,
            granted_by: self.actor.and_then(|a| a.id.clone()),
        };
        self.clock(sla, op, self.now, event);
        for to in &ext.notify {
            self.emit(EventKind::Notified {
                to: to.clone(),
                message: Some(format!("{sla} extended ({})", ext.name)),
                cause: Cause::Sla {
                    sla: sla.to_string(),
                },
            });
        }
        Ok(())
    }

    /// A clock's deadline passed while it ran: record it, escalate, notify.
    pub(super) fn breach(&mut self, sla: &str) -> Result<(), Refusal> {
        let policy = self.policy;
        let Some(rule) = policy.slas().get(sla) else {
            return Err(Refusal::UnknownSla {
                sla: sla.to_string(),
            });
        };
        let calendar = policy.calendar_of(rule);
        let deadline = self
            .case
            .clocks
            .get(sla)
            .map(|c| c.deadline(&rule.rule, calendar))
            .transpose()?
            .flatten()
            .unwrap_or(self.now);
        self.emit(EventKind::Breached {
            sla: sla.to_string(),
            deadline,
        });
        let b = &rule.on_breach;
        if b.escalate_to.is_some() || b.priority.is_some() {
            self.emit(EventKind::Escalated {
                sla: sla.to_string(),
                queue: b.escalate_to.clone(),
                priority: b.priority,
            });
        }
        for to in &b.notify {
            self.emit(EventKind::Notified {
                to: to.clone(),
                message: Some(format!("{sla} breached")),
                cause: Cause::Sla {
                    sla: sla.to_string(),
                },
            });
        }
        Ok(())
    }
}
