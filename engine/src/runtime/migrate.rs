//! Migration: moving a running case from one version of its policy to another, so
//! that a calendar correction (the official 2027 data) or a policy change reaches
//! cases already running, visibly and auditably. [`migrate_case`] decides; the
//! caller shows the plan (a dry run) or stores its event and case (apply).
//!
//! The rules, documented once (docs/policy-format.md, "Migrating running cases"):
//!
//! - Stages map by name, or by the new version's `[migration] stages` table. A case
//!   whose stage has no counterpart is refused and left as it was.
//! - A live clock (running or paused) whose SLA the new version does not have is
//!   refused likewise; a stopped clock of a removed SLA stays in the case, unread.
//! - Clocks keep their start, pauses, extensions and the warnings already sent; only
//!   the deadline is recomputed, under the new version's rule and calendar.
//! - A clock whose outcome is settled (met, missed, withdrawn, or breached, its
//!   breach fired) keeps its deadline, so it keeps its outcome.
//! - The result is one [`EventKind::Migrated`] event (from hash, to hash, each clock's
//!   old and new deadline and why it moved); folding it gives the migrated case.
//!   Timers follow from the new case: a breach whose new instant has passed fires at
//!   the next firing, once; a warning already sent is not sent again.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use thiserror::Error;

use crate::calendar::{Calendar, CalendarError};
use crate::case::{Actor, Case, Event, EventKind, MigratedClock, apply};
use crate::policy::{Policy, Sla};
use crate::sla::{Attention, ClockState, SlaClock};

/// At most this many reasons are given for one moved deadline.
const MAX_REASONS: usize = 3;

/// Why a case cannot move to the new version; it is left as it was.
#[derive(Debug, Clone, PartialEq, Eq, Error, Serialize)]
#[serde(tag = "code", rename_all = "kebab-case")]
pub enum MigrationRefusal {
    /// The case's stage has no counterpart in the new version.
    #[error(
        "stage `{stage}` has no counterpart in version {to}: add `[migration] stages = {{ {stage} = \"...\" }}` to the new version, naming the stage it becomes"
    )]
    UnmappedStage {
        /// The case's stage.
        stage: String,
        /// The new version's hash, shortened.
        to: String,
    },
    /// A live clock's SLA is not in the new version.
    #[error("clock `{sla}` is running, but version {to} has no SLA `{sla}`")]
    UnmappedSla {
        /// The SLA.
        sla: String,
        /// The new version's hash, shortened.
        to: String,
    },
    /// The new version cannot count a clock's deadline.
    #[error("clock `{sla}`: {message}")]
    CalendarFailed {
        /// The SLA.
        sla: String,
        /// The calendar's error.
        message: String,
    },
    /// The case is of another policy.
    #[error("the case is on policy `{policy}`, not `{to_policy}`")]
    OtherPolicy {
        /// The case's policy.
        policy: String,
        /// The target's policy.
        to_policy: String,
    },
}

impl MigrationRefusal {
    /// The stable kebab-case code.
    pub fn code(&self) -> &'static str {
        match self {
            MigrationRefusal::UnmappedStage { .. } => "unmapped-stage",
            MigrationRefusal::UnmappedSla { .. } => "unmapped-sla",
            MigrationRefusal::CalendarFailed { .. } => "calendar-failed",
            MigrationRefusal::OtherPolicy { .. } => "other-policy",
        }
    }
}

/// What migrating one case does: its event, and the case after it.
#[derive(Debug, Clone)]
pub struct Migration {
    /// The `migrated` event (not yet stored).
    pub event: Event,
    /// The case after the event.
    pub case: Case,
}

impl Migration {
    /// The clocks whose deadline moves.
    pub fn moved(&self) -> impl Iterator<Item = &MigratedClock> {
        let clocks = match &self.event.kind {
            EventKind::Migrated { clocks, .. } => clocks.as_slice(),
            _ => &[],
        };
        clocks.iter().filter(|c| !c.kept && c.old != c.new)
    }
}

/// Moves `case` (on `from`) onto `to` at `now`; `actor` is who asked. Pure: the case
/// given is not changed.
pub fn migrate_case(
    from: &Policy,
    to: &Policy,
    case: &Case,
    now: DateTime<Utc>,
    actor: Option<Actor>,
) -> Result<Migration, MigrationRefusal> {
    if from.id() != to.id() {
        return Err(MigrationRefusal::OtherPolicy {
            policy: from.id().to_string(),
            to_policy: to.id().to_string(),
        });
    }
    let short = short_hash(to.hash());
    let stage = to
        .stage_for(&case.stage)
        .ok_or_else(|| MigrationRefusal::UnmappedStage {
            stage: case.stage.clone(),
            to: short.clone(),
        })?;
    let mut clocks = Vec::new();
    for (name, clock) in case.clocks.iter() {
        if let Some(c) = migrate_clock(from, to, name, clock, now, &short)? {
            clocks.push(c);
        }
    }
    let kind = EventKind::Migrated {
        from: from.hash().to_string(),
        to: to.hash().to_string(),
        stage: (stage != case.stage).then(|| (case.stage.clone(), stage.to_string())),
        clocks,
    };
    let event = Event {
        seq: case.version + 1,
        at: now.max(case.updated_at),
        policy: Arc::from(to.hash()),
        actor,
        key: None,
        kind,
    };
    let mut migrated = case.clone();
    apply(&mut migrated, &event);
    Ok(Migration {
        event,
        case: migrated,
    })
}

/// One clock: `None` when there is nothing to say (never started, or stopped and
/// its SLA removed).
fn migrate_clock(
    from: &Policy,
    to: &Policy,
    name: &str,
    clock: &SlaClock,
    now: DateTime<Utc>,
    short: &str,
) -> Result<Option<MigratedClock>, MigrationRefusal> {
    let Some(run) = clock.runs().last() else {
        return Ok(None);
    };
    let live = run.stopped_at.is_none();
    let (Some(old_sla), Some(new_sla)) = (from.slas().get(name), to.slas().get(name)) else {
        return match live {
            true => Err(MigrationRefusal::UnmappedSla {
                sla: name.to_string(),
                to: short.to_string(),
            }),
            false => Ok(None),
        };
    };
    let failed = |e: CalendarError| MigrationRefusal::CalendarFailed {
        sla: name.to_string(),
        message: e.to_string(),
    };
    let (old_cal, new_cal) = (from.calendar_of(old_sla), to.calendar_of(new_sla));
    let old = clock.deadline(&old_sla.rule, old_cal).map_err(failed)?;
    let state = clock.state(&old_sla.rule, old_cal, now).map_err(failed)?;
    let settled = matches!(
        state,
        ClockState::Met | ClockState::Missed | ClockState::Withdrawn | ClockState::Breached
    ) || run.fired.contains(&Attention::Breach);
    if settled {
        return Ok(Some(MigratedClock {
            sla: name.to_string(),
            old,
            new: old,
            kept: true,
            why: vec![format!(
                "{} before the migration: its deadline is kept",
                word(state)
            )],
        }));
    }
    let new = clock.deadline(&new_sla.rule, new_cal).map_err(failed)?;
    let why = match old == new {
        true => Vec::new(),
        false => reasons(clock, (old_sla, old_cal), (new_sla, new_cal), [old, new]),
    };
    Ok(Some(MigratedClock {
        sla: name.to_string(),
        old,
        new,
        kept: false,
        why,
    }))
}

fn word(state: ClockState) -> &'static str {
    match state {
        ClockState::Met => "met",
        ClockState::Missed => "missed",
        ClockState::Withdrawn => "withdrawn",
        _ => "breached",
    }
}

/// Why a deadline moved: the target, the days that changed kind, the provisional
/// mark, in that order, at most [`MAX_REASONS`].
fn reasons(
    clock: &SlaClock,
    (old_sla, old_cal): (&Sla, &Calendar),
    (new_sla, new_cal): (&Sla, &Calendar),
    deadlines: [Option<DateTime<Utc>>; 2],
) -> Vec<String> {
    let mut why = Vec::new();
    if old_sla.rule.target != new_sla.rule.target {
        why.push(format!(
            "the target is now {} (was {})",
            new_sla.rule.target, old_sla.rule.target
        ));
    }
    let start = clock.runs().last().map(|r| r.started_at);
    let last = deadlines.iter().flatten().max().copied();
    if let (Some(start), Some(last)) = (start, last) {
        let (first, last) = (new_cal.local_date(start), new_cal.local_date(last));
        why.extend(changed_days(old_cal, new_cal, first, last));
    }
    let old_p = clock.provisional(&old_sla.rule, old_cal).ok().flatten();
    let new_p = clock.provisional(&new_sla.rule, new_cal).ok().flatten();
    match (old_p, new_p) {
        (Some(_), None) => why.push("the deadline is no longer provisional".to_string()),
        (None, Some(p)) => why.push(format!("the deadline is now provisional: {}", p.reason)),
        _ => {}
    }
    if why.is_empty() {
        why.push("counted under the new version".to_string());
    }
    why.truncate(MAX_REASONS);
    why
}

/// The days in `first..=last` that one calendar works and the other does not.
fn changed_days(old: &Calendar, new: &Calendar, first: NaiveDate, last: NaiveDate) -> Vec<String> {
    let mut out = Vec::new();
    for date in first.iter_days().take_while(|d| *d <= last) {
        let (Ok(was), Ok(is)) = (old.day_kind(date), new.day_kind(date)) else {
            continue;
        };
        if was.is_working() == is.is_working() {
            continue;
        }
        out.push(match is.is_working() {
            true => format!("{date} is now a working day ({})", new.day_reason(is)),
            false => format!("{date} is now a non-working day ({})", new.day_reason(is)),
        });
        if out.len() == MAX_REASONS {
            break;
        }
    }
    out
}

/// The first 12 characters of a hash, as messages show it.
fn short_hash(hash: &str) -> String {
    hash.chars().take(12).collect()
}
