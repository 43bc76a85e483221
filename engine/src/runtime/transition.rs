//! Transition events: finding the transition, checking it (stage, role, required
//! fields, guard), and taking it (the move, its clocks, its actions).

use std::borrow::Cow;

use super::draft::Draft;
use super::{Data, Refusal};
use crate::case::{Cause, EventKind, MoveReason};
use crate::diagnostic::did_you_mean;
use crate::policy::{Action, Transition};

impl Draft<'_> {
    /// A named event sent by a user.
    pub(super) fn event(&mut self, name: &str, data: &Data) -> Result<(), Refusal> {
        if name == "note" {
            let text = data
                .get("text")
                .and_then(|v| v.as_str())
                .unwrap_or_default();
            self.emit(EventKind::Noted {
                text: text.to_string(),
            });
            return Ok(());
        }
        let policy = self.policy;
        let all: Vec<&Transition> = policy
            .transitions()
            .iter()
            .filter(|t| t.event == name)
            .collect();
        if all.is_empty() && name == "withdraw" {
            return self.withdraw();
        }
        if all.is_empty() {
            let events = policy.transitions().iter().map(|t| t.event.as_str());
            return Err(Refusal::UnknownEvent {
                event: name.to_string(),
                help: did_you_mean(name, events),
            });
        }
        let here: Vec<&Transition> = all
            .into_iter()
            .filter(|t| t.from.contains(&self.case.stage))
            .collect();
        if here.is_empty() {
            return Err(self.not_allowed(name));
        }
        self.set_input(data)?;
        // With several candidates, the refusal that matters is the one from a
        // transition whose guard holds: it is the one the actor was attempting
        // (an agent granting 1,200 needs the manager's role, not a smaller amount).
        let mut first_refusal = None;
        let mut applicable_refusal = None;
        for t in here {
            match self.check(t) {
                Ok(()) => {
                    // Folding does not read why a case moved.
                    let guard = t.guard.as_ref().filter(|_| !self.counted());
                    let guard = guard.map(|g| g.source().to_string());
                    return self.take(t.index, MoveReason::Command { guard });
                }
                Err(r) => {
                    if applicable_refusal.is_none() && self.guard_holds(t, &r) {
                        applicable_refusal = Some(r.clone());
                    }
                    first_refusal.get_or_insert(r);
                }
            }
        }
        Err(applicable_refusal
            .or(first_refusal)
            .unwrap_or_else(|| self.not_allowed(name)))
    }

    /// Whether a refused transition's guard holds (no guard holds trivially);
    /// a guard that failed to evaluate does not.
    fn guard_holds(&self, t: &Transition, refusal: &Refusal) -> bool {
        if matches!(refusal, Refusal::GuardFailed { .. }) {
            return false;
        }
        t.guard.as_ref().is_none_or(|g| {
            g.eval(self.policy.scripts(), &self.case.view(), &self.ctx)
                .unwrap_or(false)
        })
    }

    fn not_allowed(&self, name: &str) -> Refusal {
        let mut allowed: Vec<String> = self
            .policy
            .transitions()
            .iter()
            .filter(|t| t.from.contains(&self.case.stage) && t.after.is_none() && !t.automatic)
            .map(|t| t.event.clone())
            .collect();
        allowed.dedup();
        Refusal::NotAllowedFromStage {
            event: name.to_string(),
            stage: self.case.stage.clone(),
            allowed,
        }
    }

    /// Role, required fields, then the guard.
    fn check(&self, t: &Transition) -> Result<(), Refusal> {
        let role = self.actor.and_then(|a| a.role.as_ref());
        if !t.roles.is_empty() && !role.is_some_and(|r| t.roles.contains(r)) {
            return Err(Refusal::RoleNotAllowed {
                event: t.event.clone(),
                role: role.cloned(),
                allowed: t.roles.clone(),
            });
        }
        self.check_requires(&t.event, &t.requires)?;
        let Some(guard) = &t.guard else {
            return Ok(());
        };
        let holds = guard.eval(self.policy.scripts(), &self.case.view(), &self.ctx)?;
        match holds {
            true => Ok(()),
            false => Err(Refusal::GuardFailed {
                event: t.event.clone(),
                condition: guard.source().to_string(),
            }),
        }
    }

    pub(super) fn check_requires(&self, event: &str, requires: &[String]) -> Result<(), Refusal> {
        let missing: Vec<String> = requires
            .iter()
            .filter(|f| !self.case.fields.contains_key(*f))
            .cloned()
            .collect();
        match missing.is_empty() {
            true => Ok(()),
            false => Err(Refusal::MissingFields {
                event: event.to_string(),
                fields: missing,
            }),
        }
    }

    /// Takes transition `index`: moves, runs the clocks, then the actions.
    pub(super) fn take(&mut self, index: usize, reason: MoveReason) -> Result<(), Refusal> {
        let policy = self.policy;
        let t = &policy.transitions()[index];
        // The stage left, as the policy names it (it is one of the transition's
        // `from`), so that the move need not copy the case's own.
        let from = match t.from.iter().find(|s| **s == self.case.stage) {
            Some(from) => Cow::Borrowed(from.as_str()),
            None => Cow::Owned(self.case.stage.clone()),
        };
        let closes = t.closes;
        self.emit(EventKind::Moved {
            event: self.text(&t.event),
            transition: index,
            from: self.text(&from),
            to: t.to.clone(),
            reopens: t.reopens,
            closes,
            reason,
        });
        self.clocks_on_move(&from, &t.event, &t.to, t.reopens, closes, self.now)?;
        for action in &t.actions {
            self.action(t, action)?;
        }
        Ok(())
    }

    fn action(&mut self, t: &Transition, action: &Action) -> Result<(), Refusal> {
        let cause = Cause::Action {
            event: self.text(&t.event),
            transition: t.index,
        };
        match action {
            Action::Set(fields) => self.set_fields(fields.clone(), cause)?,
            Action::Notify { to, message } => {
                // Folding a notification changes nothing but the version.
                let (to, message) = match self.counted() {
                    true => (String::new(), None),
                    false => (to.clone(), message.clone()),
                };
                self.emit(EventKind::Notified { to, message, cause });
            }
            Action::Tag(tag) => self.emit(EventKind::Tagged {
                tag: tag.clone(),
                cause,
            }),
            Action::Script(script) => {
                let outcome = script.run(self.policy.scripts(), &self.case.view(), &self.ctx)?;
                self.set_fields(outcome.updates, cause.clone())?;
                for n in outcome.notifications {
                    self.emit(EventKind::Notified {
                        to: n.to,
                        message: Some(n.message),
                        cause: cause.clone(),
                    });
                }
            }
        }
        Ok(())
    }

    /// A withdrawal in a policy without a `withdraw` transition: the case closes
    /// where it is and its clocks stop.
    fn withdraw(&mut self) -> Result<(), Refusal> {
        self.emit(EventKind::Withdrawn);
        self.stop_all("withdrawn", self.now, true);
        Ok(())
    }
}
