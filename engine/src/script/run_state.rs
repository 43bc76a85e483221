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
    deadline: Instant,
    now: DateTime<Utc>,
    calendar: Arc<dyn BusinessDays>,
}

thread_local! {
    static RUN: RefCell<Option<RunState>> = const { RefCell::new(None) };
}

/// Runs one evaluation with `ctx` visible to helpers and a deadline `timeout` from now.
/// A panic inside is reported as `script-internal`.
pub(crate) fn run<T>(
    ctx: &EvalContext,
    timeout: Duration,
    eval: impl FnOnce() -> Result<T, ScriptError>,
) -> Result<T, ScriptError> {
    let state = RunState {
        deadline: Instant::now() + timeout,
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
    if operations % CLOCK_EVERY != 0 {
        return None;
    }
    let late = RUN.with(|run| {
        run.borrow()
            .as_ref()
            .is_some_and(|s| Instant::now() > s.deadline)
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
