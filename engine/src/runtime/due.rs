//! [`fire_due`]: what a scheduler does for one case: fire every timer that has
//! fallen due, in time order, each at the instant it was due.

use chrono::{DateTime, Utc};

use super::{Command, CommandKind, Refusal, Timer, decide_and_apply, next_due};
use crate::case::{Case, Event};
use crate::policy::Policy;

/// Timers fired for one case in one call, at most: a guard against a policy whose
/// timers keep each other due.
const MAX_FIRED: usize = 10_000;

/// What [`fire_due`] did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Fired {
    /// Each timer fired, with the instant it was due, in the order fired.
    pub timers: Vec<(DateTime<Utc>, Timer)>,
    /// The events they recorded, to append in order.
    pub events: Vec<Event>,
    /// A due timer that could not fire (a calendar beyond its data, a failing
    /// script), with why; the timers after it wait.
    pub stuck: Option<(Timer, Refusal)>,
}

/// Fires every timer of `case` due at or before `until`, in time order, each at the
/// instant it fell due (or at the case's last event, if later), folding the events
/// into `case`. A timer fires once: its event changes the case so that it is no
/// longer pending, which is what makes a scheduler's firing exactly-once when the
/// events are stored with the case's version.
pub fn fire_due(policy: &Policy, case: &mut Case, until: DateTime<Utc>) -> Fired {
    let mut fired = Fired::default();
    for _ in 0..MAX_FIRED {
        let Some((at, timer)) = next_due(case, policy) else {
            break;
        };
        if at > until {
            break;
        }
        let now = at.max(case.updated_at);
        let command = Command::new(CommandKind::Fire(timer.clone()));
        match decide_and_apply(policy, case, &command, now) {
            Ok(decision) => {
                fired.timers.push((at, timer));
                fired.events.extend(decision.events);
            }
            Err(refusal) => {
                fired.stuck = Some((timer, refusal));
                break;
            }
        }
    }
    fired
}
