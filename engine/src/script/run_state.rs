//! Per-evaluation state that native helpers and the progress callback need: the
//! runtime's `now`, the policy's calendar and the wall-clock deadline.
//!
//! Rhai fixes its callbacks when the engine is built, so what changes per evaluation
//! lives in a thread-local set around each evaluation (an evaluation never leaves its
//! thread). [`run`] also catches a panic inside Rhai, so the process keeps serving.

use std::cell::RefCell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rhai::Dynamic;

use super::{BusinessDays, EvalContext, ScriptError, ScriptErrorKind};

/// How many operations pass between two looks at the clock: reading it costs ~25 ns, an
/// operation less, and the operation limit bounds the work in between anyway.
const CLOCK_EVERY: u64 = 256;

struct RunState {
    /// Set at the first look at the clock (after [`CLOCK_EVERY`] operations), so a
    /// short evaluation never reads the clock; the few microseconds before do not count.
    deadline: Option<Instant>,
    timeout: Duration,
    now: DateTime<Utc>,
    calendar: Arc<dyn BusinessDays>,
}

thread_local! {
    static RUN: RefCell<Option<RunState>> = const { RefCell::new(None) };
}

/// Runs one evaluation with `ctx` visible to helpers and a deadline `timeout` after it
/// starts.
/// A panic inside is reported as `script-internal`.
pub(crate) fn run<T>(
    ctx: &EvalContext,
    timeout: Duration,
    eval: impl FnOnce() -> Result<T, ScriptError>,
) -> Result<T, ScriptError> {
    let state = RunState {
        deadline: None,
        timeout,
        now: ctx.now,
        calendar: Arc::clone(&ctx.calendar),
    };
    let previous = RUN.with(|run| run.replace(Some(state)));
    let outcome = catch_unwind(AssertUnwindSafe(eval));
    RUN.with(|run| run.replace(previous));
    outcome.unwrap_or_else(|_| {
        Err(ScriptError::new(
            ScriptErrorKind::Internal,
            "the script engine failed internally; the evaluation was abandoned",
        ))
    })
}

/// The progress callback: stops the script once past its deadline.
pub(crate) fn on_progress(operations: u64) -> Option<Dynamic> {
    if !operations.is_multiple_of(CLOCK_EVERY) {
        return None;
    }
    let late = RUN.with(|run| {
        let mut run = run.borrow_mut();
        let Some(state) = run.as_mut() else {
            return false;
        };
        let now = Instant::now();
        let deadline = *state.deadline.get_or_insert(now + state.timeout);
        now > deadline
    });
    late.then(|| Dynamic::from("timeout"))
}

/// The runtime's `now` for the evaluation under way.
pub(crate) fn now() -> Option<DateTime<Utc>> {
    RUN.with(|run| run.borrow().as_ref().map(|s| s.now))
}

/// The policy's calendar for the evaluation under way.
pub(crate) fn calendar() -> Option<Arc<dyn BusinessDays>> {
    RUN.with(|run| run.borrow().as_ref().map(|s| Arc::clone(&s.calendar)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::script::test_support::NoCalendar;

    fn ctx() -> EvalContext {
        EvalContext {
            now: DateTime::UNIX_EPOCH,
            calendar: Arc::new(NoCalendar),
        }
    }

    #[test]
    #[allow(clippy::panic)] // the panic is the point: it stands for one inside Rhai
    fn a_panic_inside_an_evaluation_is_an_internal_error() {
        let result: Result<(), ScriptError> =
            run(&ctx(), Duration::from_secs(1), || panic!("inside rhai"));
        assert_eq!(result.err().map(|e| e.code()), Some("script-internal"));
        assert_eq!(now(), None, "the state must be cleared after a panic");
    }

    #[test]
    fn state_is_visible_only_during_the_run() {
        let seen = run(&ctx(), Duration::from_secs(1), || Ok(now()));
        assert_eq!(seen, Ok(Some(DateTime::UNIX_EPOCH)));
        assert_eq!(now(), None);
    }
}
