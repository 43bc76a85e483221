//! A case as the API shows it: in full (policy, clocks with their explanation, the
//! events the caller may send next), in short, in a list; what a command answers;
//! a page of its history.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use redress_engine::calendar::{Calendar, CalendarError};
use redress_engine::case::Case;
use redress_engine::policy::{Policy, Sla};
use redress_engine::runtime::{CalendarDays, Timer, next_due};
use redress_engine::script::EvalContext;
use redress_engine::sla::{Attention, ClockState, Explanation, SlaClock};
use redress_engine::value::Fields;
use redress_store::{CaseRow, ClockSummary};
use serde::Serialize;
use utoipa::ToSchema;

use super::event::{EventView, StoredEventView};
use crate::config::Caller;
use crate::slot::Slot;

/// The policy version a case runs on.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyRef {
    /// The policy's id (`bank-cn`).
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its version label, as the policy file gives it.
    pub version: String,
    /// The version's hash: the version a case is pinned to.
    pub hash: String,
}

/// A case in full, for a caller: its data (personal fields masked unless the
/// caller may see them), clocks, next due timer and the events it may take next.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Case)]
pub struct CaseView {
    /// Its id.
    pub id: String,
    /// Its version: the number of events recorded on it (also its `ETag`).
    pub version: u64,
    /// The policy version it runs on.
    pub policy: PolicyRef,
    /// Its stage.
    pub stage: String,
    /// The stage's label, when the policy gives one.
    pub stage_label: Option<String>,
    /// When it entered its stage.
    #[serde(serialize_with = "redress_engine::instant::serialize")]
    pub stage_since: DateTime<Utc>,
    /// Whether it is closed (its stage is terminal).
    pub closed: bool,
    /// The queue it is routed to.
    pub queue: Option<String>,
    /// Its priority.
    pub priority: Option<i64>,
    /// Who it is assigned to.
    pub assignee: Option<String>,
    /// Its tags.
    pub tags: Vec<String>,
    /// How often it was reopened.
    pub reopen_count: u32,
    /// When the complaint was received.
    #[serde(serialize_with = "redress_engine::instant::serialize")]
    pub received_at: DateTime<Utc>,
    /// When it last changed.
    #[serde(serialize_with = "redress_engine::instant::serialize")]
    pub updated_at: DateTime<Utc>,
    /// The worst state among its clocks.
    pub clock_state: ClockSummary,
    /// Its field values.
    #[schema(value_type = redress_engine::value::FieldValues)]
    pub data: Fields,
    /// Every SLA of the policy, in its order.
    pub clocks: Vec<ClockView>,
    /// Its earliest pending timer.
    pub next_due: Option<NextDue>,
    /// The events it may take next from its stage, and whether the caller may send
    /// each now.
    pub next_events: Vec<NextEvent>,
    /// Delayed transitions whose condition failed when they fell due in the current
    /// stage.
    pub failed_timers: Vec<FailedTimer>,
}

/// A case in short, for `Prefer: return=minimal`: no field data, no clocks.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CaseSummary {
    /// Its id.
    pub id: String,
    /// Its version.
    pub version: u64,
    /// Its stage.
    pub stage: String,
    /// Whether it is closed.
    pub closed: bool,
    /// The queue it is routed to.
    pub queue: Option<String>,
    /// Its priority.
    pub priority: Option<i64>,
    /// The worst state among its clocks.
    pub clock_state: ClockSummary,
    /// When it next needs the runtime.
    #[serde(serialize_with = "redress_engine::instant::serialize_option")]
    pub next_due: Option<DateTime<Utc>>,
}

/// A case's earliest pending timer.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NextDue {
    /// When it falls due.
    #[serde(serialize_with = "redress_engine::instant::serialize")]
    pub at: DateTime<Utc>,
    /// What falls due.
    pub timer: Timer,
}

/// One SLA's clock on a case: started, not started, or one whose calendar cannot
/// count its deadline (shown, never dropped).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(untagged)]
pub enum ClockView {
    /// A clock that has started (it may have stopped since).
    Started(Box<StartedClock>),
    /// A clock that never started.
    NotStarted(UnstartedClock),
    /// A clock whose deadline the calendar could not count.
    Failed(FailedClock),
}

/// A started clock: state, deadline, time left, warnings and breach fired, and the
/// explanation of its deadline.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartedClock {
    /// The SLA.
    pub sla: String,
    /// The target in force (after extensions).
    pub target: String,
    /// Where the clock stands now.
    pub state: ClockState,
    /// The deadline; while paused, as if resumed when the pause began.
    #[serde(serialize_with = "redress_engine::instant::serialize_option")]
    pub deadline: Option<DateTime<Utc>>,
    /// Whether the deadline counted a day the calendar's firm data does not cover.
    pub provisional: bool,
    /// Why it is provisional, when it is.
    pub provisional_reason: Option<String>,
    /// Seconds to the deadline (negative past it), while it runs.
    pub remaining_seconds: Option<i64>,
    /// The same for people: `3d 4h 5m`.
    pub remaining: Option<String>,
    /// Warnings and breach fired in the current run.
    pub fired: Vec<Attention>,
    /// The calendar counted on.
    pub calendar: String,
    /// The regulation the SLA implements.
    pub regulation: Option<String>,
    /// Why the deadline is what it is, line by line.
    pub explanation: Explanation,
}

/// The state of a clock that never started.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum NotStarted {
    /// Never started.
    NotStarted,
}

/// A clock that never started.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UnstartedClock {
    /// The SLA.
    pub sla: String,
    /// Its target.
    pub target: String,
    /// Always `not-started`.
    pub state: NotStarted,
}

/// The state of a clock whose calendar failed.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ClockFailed {
    /// The calendar could not count the deadline.
    Error,
}

/// Why a calendar could not count a deadline.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClockError {
    /// Always `calendar-failed`.
    pub code: String,
    /// What the calendar said.
    pub message: String,
}

/// A clock whose deadline the calendar could not count (a date before its data).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FailedClock {
    /// The SLA.
    pub sla: String,
    /// Its target.
    pub target: String,
    /// Always `error`.
    pub state: ClockFailed,
    /// What went wrong.
    pub error: ClockError,
    /// The calendar.
    pub calendar: String,
    /// The regulation the SLA implements.
    pub regulation: Option<String>,
}

/// A transition's condition, evaluated on the case.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GuardView {
    /// The condition as written.
    pub condition: String,
    /// Whether it holds now.
    pub holds: bool,
}

/// An event the case may take next from its stage.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NextEvent {
    /// The event's name.
    pub event: String,
    /// The stage it moves to.
    pub to: String,
    /// The roles that may send it (empty: any).
    pub roles: Vec<String>,
    /// Its condition, evaluated now.
    pub guard: Option<GuardView>,
    /// The fields it requires.
    pub requires: Vec<String>,
    /// Those of them without a value.
    pub missing: Vec<String>,
    /// Whether the caller may send it now (role, condition, write rights).
    pub allowed: bool,
}

/// A delayed transition whose condition failed when it fell due.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FailedTimer {
    /// The transition's position among the policy's transitions.
    pub transition: usize,
    /// Its event.
    pub event: Option<String>,
    /// The script error.
    pub error: String,
}

/// The case in an answer to a command: in full, or in short for
/// `Prefer: return=minimal`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(untagged)]
pub enum CaseAnswer {
    /// In full.
    Full(Box<CaseView>),
    /// In short.
    Minimal(CaseSummary),
}

/// For a repeated idempotency key: the versions the first command produced.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RepeatOf {
    /// The first version it produced.
    pub first: u64,
    /// The last.
    pub last: u64,
}

/// What an intake or a command answers: the case after it and the events it
/// recorded.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Outcome {
    /// The case after the command.
    pub case: CaseAnswer,
    /// The events it recorded (timers fired before it excluded).
    pub events: Vec<EventView>,
    /// Set when the idempotency key was used before: nothing new was recorded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repeat_of: Option<RepeatOf>,
}

/// A page of cases.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CaseList {
    /// The cases, oldest first.
    pub cases: Vec<CaseRow>,
    /// Pass as `after` for the next page; `null` on the last page.
    pub next: Option<String>,
}

/// A page of a case's history.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct History {
    /// The case's id.
    pub case: String,
    /// Its events in order, each with when it was written.
    pub events: Vec<StoredEventView>,
    /// Pass as `after` for the next page; `null` on the last page.
    pub next: Option<u64>,
}

/// A duration for people: `3d 4h 5m`, negative with a leading `-`.
fn human(seconds: i64) -> String {
    let sign = if seconds < 0 { "-" } else { "" };
    let s = seconds.unsigned_abs();
    let (d, h, m) = (s / 86_400, s % 86_400 / 3_600, s % 3_600 / 60);
    match (d, h) {
        (0, 0) => format!("{sign}{m}m"),
        (0, _) => format!("{sign}{h}h {m}m"),
        _ => format!("{sign}{d}d {h}h {m}m"),
    }
}

/// Every SLA of the policy, in its order.
fn clocks(policy: &Policy, case: &Case, now: DateTime<Utc>) -> Vec<ClockView> {
    let mut out = Vec::new();
    for (name, sla) in policy.slas() {
        let calendar = policy.calendar_of(sla);
        let Some(clock) = case.clocks.get(name) else {
            out.push(ClockView::NotStarted(UnstartedClock {
                sla: name.clone(),
                target: sla.rule.target.to_string(),
                state: NotStarted::NotStarted,
            }));
            continue;
        };
        match started_clock(clock, sla, calendar, now) {
            Ok(view) => out.push(ClockView::Started(Box::new(view))),
            // A calendar that cannot count the deadline is shown, never dropped.
            Err(e) => out.push(ClockView::Failed(FailedClock {
                sla: name.clone(),
                target: sla.rule.target.to_string(),
                state: ClockFailed::Error,
                error: ClockError {
                    code: "calendar-failed".into(),
                    message: e.to_string(),
                },
                calendar: sla.calendar.clone(),
                regulation: sla.regulation.clone(),
            })),
        }
    }
    out
}

/// One started clock.
fn started_clock(
    clock: &SlaClock,
    sla: &Sla,
    calendar: &Calendar,
    now: DateTime<Utc>,
) -> Result<StartedClock, CalendarError> {
    let remaining = clock
        .remaining(&sla.rule, calendar, now)?
        .map(|d| d.num_seconds());
    let provisional = clock.provisional(&sla.rule, calendar)?;
    Ok(StartedClock {
        sla: sla.name.clone(),
        target: clock.target(&sla.rule, calendar)?.to_string(),
        state: clock.state(&sla.rule, calendar, now)?,
        deadline: clock.deadline(&sla.rule, calendar)?,
        provisional: provisional.is_some(),
        provisional_reason: provisional.map(|p| p.reason),
        remaining_seconds: remaining,
        remaining: remaining.map(human),
        fired: clock
            .runs()
            .last()
            .map(|r| r.fired.clone())
            .unwrap_or_default(),
        calendar: sla.calendar.clone(),
        regulation: sla.regulation.clone(),
        explanation: clock.explain(&sla.rule, calendar)?,
    })
}

/// The events the case may take next from its stage, and for each whether the
/// caller may send it now: its role, and its condition evaluated on the case.
fn next_events(
    policy: &Policy,
    case: &Case,
    caller: &Caller,
    now: DateTime<Utc>,
) -> Vec<NextEvent> {
    if case.closed {
        return Vec::new();
    }
    let ctx = EvalContext {
        now,
        calendar: Arc::new(CalendarDays(policy.default_calendar().clone())),
    };
    let mut out = Vec::new();
    for t in policy.transitions() {
        if !t.from.contains(&case.stage) || t.automatic || t.after.is_some() {
            continue;
        }
        let role_ok = t.roles.is_empty() || t.roles.contains(&caller.role);
        let guard = t.guard.as_ref().map(|g| GuardView {
            condition: g.source().to_string(),
            holds: g
                .eval(policy.scripts(), &case.view(), &ctx)
                .unwrap_or(false),
        });
        let guard_ok = guard.as_ref().is_none_or(|g| g.holds);
        let missing = t
            .requires
            .iter()
            .filter(|f| !case.fields.contains_key(*f))
            .cloned()
            .collect();
        out.push(NextEvent {
            event: t.event.clone(),
            to: t.to.clone(),
            roles: t.roles.clone(),
            guard,
            requires: t.requires.clone(),
            missing,
            allowed: role_ok && guard_ok && !caller.read_only,
        });
    }
    out
}

/// A case in short, for `Prefer: return=minimal`.
pub fn case_summary(slot: &Slot) -> CaseSummary {
    let case = &slot.case;
    CaseSummary {
        id: case.id.clone(),
        version: case.version,
        stage: case.stage.clone(),
        closed: case.closed,
        queue: case.queue.clone(),
        priority: case.priority,
        clock_state: slot.summary.clock_state,
        next_due: slot.summary.next_due,
    }
}

/// The policy version a case runs on.
pub fn policy_ref(policy: &Policy) -> PolicyRef {
    PolicyRef {
        id: policy.id().to_string(),
        name: policy.name().to_string(),
        version: policy.version().to_string(),
        hash: policy.hash().to_string(),
    }
}

/// A case for a caller.
pub fn case(slot: &Slot, caller: &Caller, now: DateTime<Utc>) -> CaseView {
    let (case, policy) = (&slot.case, &slot.policy);
    CaseView {
        id: case.id.clone(),
        version: case.version,
        policy: policy_ref(policy),
        stage: case.stage.clone(),
        stage_label: policy
            .stages()
            .get(&case.stage)
            .and_then(|s| s.label.clone()),
        stage_since: case.stage_since,
        closed: case.closed,
        queue: case.queue.clone(),
        priority: case.priority,
        assignee: case.assignee.clone(),
        tags: case.tags.clone(),
        reopen_count: case.reopen_count,
        received_at: case.received_at,
        updated_at: case.updated_at,
        clock_state: slot.summary.clock_state,
        data: super::fields(policy, &case.fields, caller),
        clocks: clocks(policy, case, now),
        next_due: next_due(case, policy).map(|(at, timer)| NextDue { at, timer }),
        next_events: next_events(policy, case, caller, now),
        failed_timers: failed_timers(policy, case),
    }
}

/// The delayed transitions whose condition failed when they fell due in the current
/// stage (`timer-failed` events), with the error.
fn failed_timers(policy: &Policy, case: &Case) -> Vec<FailedTimer> {
    case.failed_timers
        .iter()
        .map(|(i, error)| FailedTimer {
            transition: *i,
            event: policy.transitions().get(*i).map(|t| t.event.clone()),
            error: error.clone(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::human;

    #[test]
    fn durations_read_as_people_write_them() {
        for (seconds, text) in [
            (59, "0m"),
            (60, "1m"),
            (3_660, "1h 1m"),
            (90_061, "1d 1h 1m"),
            (-3_600, "-1h 0m"),
        ] {
            assert_eq!(human(seconds), text);
        }
    }
}
