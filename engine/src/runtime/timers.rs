//! Timers: what the runtime itself must do to a case, and when. Derived from the case
//! and the policy alone, so a scheduler's index of them can always be rebuilt.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::{CalendarDays, Refusal, Timer};
use crate::calendar::CalendarError;
use crate::case::Case;
use crate::policy::{Policy, Sla};
use crate::script::EvalContext;
use crate::sla::{Attention, RunningSpan, SlaClock};

/// The earliest timer the case is waiting for: when it is due and what it is.
/// `None` for a closed case or one with nothing pending. A clock whose calendar
/// cannot answer (a date before its data begins) is never left out: its breach is
/// due at once, so that firing it reports the calendar's error (the case is stuck,
/// loudly) instead of a deadline silently vanishing.
pub fn next_due(case: &Case, policy: &Policy) -> Option<(DateTime<Utc>, Timer)> {
    if !case.is_received() || case.closed {
        return None;
    }
    let (clock, after) = (
        next_clock_timer(case, policy),
        next_after_timer(case, policy),
    );
    earliest(clock.as_ref(), after.as_ref()).cloned()
}

/// The earlier of a clock timer and an `after` timer; the clock's on a tie.
pub(super) fn earliest<'t>(
    clock: Option<&'t (DateTime<Utc>, Timer)>,
    after: Option<&'t (DateTime<Utc>, Timer)>,
) -> Option<&'t (DateTime<Utc>, Timer)> {
    match (clock, after) {
        (Some(c), Some(a)) => Some(if a.0 < c.0 { a } else { c }),
        (c, a) => c.or(a),
    }
}

/// The earliest warning or breach of the case's clocks (the first clock, by name,
/// on a tie). Depends on the clocks alone.
pub(super) fn next_clock_timer(case: &Case, policy: &Policy) -> Option<(DateTime<Utc>, Timer)> {
    next_clock_timer_with(case, policy, |_, clock, sla| {
        clock.running_span(&sla.rule, policy.calendar_of(sla))
    })
}

/// [`next_clock_timer`] with each clock's [`SlaClock::running_span`] from `span_of`,
/// given the SLA's position in the policy.
pub(super) fn next_clock_timer_with(
    case: &Case,
    policy: &Policy,
    mut span_of: impl FnMut(usize, &SlaClock, &Sla) -> Result<Option<RunningSpan>, CalendarError>,
) -> Option<(DateTime<Utc>, Timer)> {
    // Over the policy's SLAs, looking each clock up in the case (cheaper than the
    // other way round); a clock the policy does not know is left out either way.
    let mut best: Option<(DateTime<Utc>, &str, Attention)> = None;
    for (i, (name, sla)) in policy.slas().iter().enumerate() {
        let Some(clock) = case.clocks.get(name) else {
            continue;
        };
        let next = match span_of(i, clock, sla) {
            Ok(Some(span)) => clock.next_attention_in(&sla.rule, span),
            Ok(None) => None,
            Err(_) => failing_clock(clock),
        };
        let Some((at, attention)) = next else {
            continue;
        };
        if best.is_none_or(|(b, n, _)| (at, name.as_str()) < (b, n)) {
            best = Some((at, name, attention));
        }
    }
    best.map(|(at, name, attention)| (at, timer_of(name, attention)))
}

/// The earliest pending `after` transition (the first in policy order on a tie).
pub(super) fn next_after_timer(case: &Case, policy: &Policy) -> Option<(DateTime<Utc>, Timer)> {
    let mut best: Option<(DateTime<Utc>, Timer)> = None;
    for (at, timer) in after_timers(case, policy, None) {
        if best.as_ref().is_none_or(|(b, _)| at < *b) {
            best = Some((at, timer));
        }
    }
    best
}

/// Whether some `after` transition has a guard: without one, the pending `after`
/// timers depend on the stage and when it was entered alone.
pub(super) fn after_guarded(policy: &Policy) -> bool {
    policy
        .transitions()
        .iter()
        .any(|t| t.after.is_some() && t.guard.is_some())
}

/// Whether `timer` is pending and due at `ctx.now`.
pub(super) fn is_due(
    policy: &Policy,
    case: &Case,
    timer: &Timer,
    ctx: &EvalContext,
) -> Result<bool, Refusal> {
    if case.closed {
        return Ok(false);
    }
    let sla = match timer {
        Timer::Warning { sla, .. } | Timer::Breach { sla } => sla,
        Timer::After { .. } => {
            let after = after_timers(case, policy, Some(ctx));
            return Ok(after.iter().any(|(at, t)| t == timer && *at <= ctx.now));
        }
    };
    let (Some(rule), Some(clock)) = (policy.slas().get(sla), case.clocks.get(sla)) else {
        return Ok(false);
    };
    let next = clock.next_attention(&rule.rule, policy.calendar_of(rule))?;
    Ok(next.is_some_and(|(at, a)| at <= ctx.now && timer_of(sla, a) == *timer))
}

/// The timer of a live clock whose deadline cannot be computed: its breach, due
/// at its start.
fn failing_clock(clock: &SlaClock) -> Option<(DateTime<Utc>, Attention)> {
    let run = clock.runs().last().filter(|r| r.stopped_at.is_none())?;
    Some((run.started_at, Attention::Breach))
}

fn timer_of(sla: &str, attention: Attention) -> Timer {
    let sla = sla.to_string();
    match attention {
        Attention::Warning(percent) => Timer::Warning { sla, percent },
        Attention::Breach => Timer::Breach { sla },
    }
}

/// `after` transitions from the current stage, due `after` the stage was entered;
/// one whose guard is false at its due time is not pending. One whose guard cannot
/// be evaluated is pending (so that firing it records the failure) until the failure
/// is recorded; when asked at an instant (`ctx`), it is not due.
fn after_timers(
    case: &Case,
    policy: &Policy,
    ctx: Option<&EvalContext>,
) -> Vec<(DateTime<Utc>, Timer)> {
    let calendar = policy.default_calendar();
    let mut out = Vec::new();
    for t in policy.transitions() {
        let Some(after) = &t.after else { continue };
        if !t.from.contains(&case.stage) {
            continue;
        }
        let Ok(at) = calendar.deadline(case.stage_since, after) else {
            continue;
        };
        let holds = t.guard.as_ref().is_none_or(|g| {
            let at_due = EvalContext {
                now: at,
                calendar: Arc::new(CalendarDays(calendar.clone())),
            };
            let eval_ctx = ctx.unwrap_or(&at_due);
            match g.eval(policy.scripts(), &case.view(), eval_ctx) {
                Ok(holds) => holds,
                Err(_) => ctx.is_none() && !case.failed_timers.iter().any(|(i, _)| *i == t.index),
            }
        });
        if holds {
            out.push((
                at,
                Timer::After {
                    transition: t.index,
                },
            ));
        }
    }
    out
}

/// The error of a delayed transition's guard, when the transition is from the
/// current stage, due at `ctx.now`, not yet recorded as failed, and its guard
/// cannot be evaluated.
pub(super) fn after_guard_error(
    policy: &Policy,
    case: &Case,
    transition: usize,
    ctx: &EvalContext,
) -> Option<String> {
    let t = policy.transitions().get(transition)?;
    let (after, guard) = (t.after.as_ref()?, t.guard.as_ref()?);
    if !t.from.contains(&case.stage) || case.failed_timers.iter().any(|(i, _)| *i == transition) {
        return None;
    }
    let at = policy
        .default_calendar()
        .deadline(case.stage_since, after)
        .ok()?;
    if at > ctx.now {
        return None;
    }
    guard
        .eval(policy.scripts(), &case.view(), ctx)
        .err()
        .map(|e| e.to_string())
}
