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
//!   breach fired) keeps its deadline, so it keeps its outcome (recorded only when
//!   the new version would have moved it).
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
        // Nothing to keep when the new version would say the same.
        let would = clock.deadline(&new_sla.rule, new_cal).ok().flatten();
        if would == old {
            return Ok(None);
        }
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

/// What became, or would become, of one case: the report line of a dry run or an
/// applied migration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CasePlan {
    /// The case.
    pub case: String,
    /// The version's hash it is on.
    pub from: String,
    /// `moves` (some deadline moves), `unchanged` (none does) or `refused`.
    pub outcome: &'static str,
    /// Its stage, when renamed: `(old, new)`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage: Option<(String, String)>,
    /// The clocks whose deadline moves, and those kept because settled.
    pub clocks: Vec<MigratedClock>,
    /// Why it cannot move.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused: Option<PlanRefusal>,
}

/// A refusal as a report shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PlanRefusal {
    /// The stable code (`unmapped-stage`).
    pub code: &'static str,
    /// Why, in words.
    pub message: String,
}

impl CasePlan {
    /// The plan of a case from what [`migrate_case`] answered.
    pub fn of(case: &Case, outcome: &Result<Migration, MigrationRefusal>) -> CasePlan {
        let mut plan = CasePlan {
            case: case.id.clone(),
            from: case.policy.to_string(),
            outcome: "refused",
            stage: None,
            clocks: Vec::new(),
            refused: None,
        };
        match outcome {
            Err(e) => {
                plan.refused = Some(PlanRefusal {
                    code: e.code(),
                    message: e.to_string(),
                })
            }
            Ok(m) => {
                if let EventKind::Migrated { stage, clocks, .. } = &m.event.kind {
                    plan.stage.clone_from(stage);
                    let shown = clocks.iter().filter(|c| c.kept || c.old != c.new);
                    plan.clocks = shown.cloned().collect();
                }
                plan.outcome = match m.moved().next() {
                    Some(_) => "moves",
                    None => "unchanged",
                };
            }
        }
        plan
    }
}

/// A migration of a policy's running cases onto one version: every case's plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MigrationReport {
    /// The policy's id.
    pub policy: String,
    /// The target version's hash.
    pub to: String,
    /// Whether it was applied (`false`: a dry run, nothing written).
    pub applied: bool,
    /// Cases with a deadline that moves.
    pub moves: usize,
    /// Cases whose deadlines stay (they move to the new version all the same).
    pub unchanged: usize,
    /// Cases that cannot move, left as they were.
    pub refused: usize,
    /// Each case, in the store's order.
    pub cases: Vec<CasePlan>,
    /// The policy's time zone, for showing instants.
    #[serde(skip)]
    pub timezone: chrono_tz::Tz,
}

impl MigrationReport {
    /// An empty report.
    pub fn new(policy: &Policy, applied: bool) -> Self {
        MigrationReport {
            policy: policy.id().to_string(),
            to: policy.hash().to_string(),
            applied,
            moves: 0,
            unchanged: 0,
            refused: 0,
            cases: Vec::new(),
            timezone: policy.timezone(),
        }
    }

    /// Adds a case's plan.
    pub fn push(&mut self, plan: CasePlan) {
        match plan.outcome {
            "moves" => self.moves += 1,
            "unchanged" => self.unchanged += 1,
            _ => self.refused += 1,
        }
        self.cases.push(plan);
    }
}

impl std::fmt::Display for MigrationReport {
    /// The report for people, instants in the policy's time zone.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let head = match self.applied {
            true => "migrated",
            false => "dry run (nothing written; `--apply` to migrate)",
        };
        writeln!(
            f,
            "policy `{}` to version {}: {head}",
            self.policy,
            short_hash(&self.to)
        )?;
        let tz = self.timezone;
        let when = |t: &Option<DateTime<Utc>>| {
            t.map_or("(paused)".to_string(), |t| {
                t.with_timezone(&tz).to_rfc3339()
            })
        };
        for plan in &self.cases {
            let from = short_hash(&plan.from);
            match &plan.refused {
                Some(r) => writeln!(
                    f,
                    "  {} (from {from}): refused [{}]: {}",
                    plan.case, r.code, r.message
                )?,
                None => writeln!(f, "  {} (from {from}): {}", plan.case, plan.outcome)?,
            }
            if let Some((old, new)) = &plan.stage {
                writeln!(f, "    stage `{old}` becomes `{new}`")?;
            }
            for c in &plan.clocks {
                match c.kept {
                    true => writeln!(
                        f,
                        "    {}: kept at {} ({})",
                        c.sla,
                        when(&c.old),
                        c.why.join("; ")
                    )?,
                    false => writeln!(
                        f,
                        "    {}: {} -> {} ({})",
                        c.sla,
                        when(&c.old),
                        when(&c.new),
                        c.why.join("; ")
                    )?,
                }
            }
        }
        writeln!(
            f,
            "{} cases: {} with moved deadlines, {} unchanged, {} refused",
            self.cases.len(),
            self.moves,
            self.unchanged,
            self.refused
        )
    }
}
