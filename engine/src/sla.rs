//! SLA rules and the clocks that enforce them on a case.
//!
//! An [`SlaRule`] is what a policy declares ("decision within 15 days, warn at 50%
//! and 80%"); an [`SlaClock`] is one case's instance of it: started, paused, resumed,
//! extended and stopped at given instants. Nothing reads the system clock: the caller
//! passes `now` in. A case may hold several clocks; each is independent.
//!
//! Semantics, documented once:
//!
//! - The deadline is the first instant that is late: a clock stopped before its
//!   deadline is [`ClockState::Met`], one stopped at or after it is
//!   [`ClockState::Missed`], and a running clock is [`ClockState::Breached`] from its
//!   deadline on.
//! - Paused time does not count; see [`crate::calendar::deadline`] for how each unit
//!   moves (day-based targets round paused time **up** to whole days).
//! - A pause that begins at or after the deadline in force does not move it, nor do
//!   the pauses after it: a breach stays a breach, and the explanation says so.
//! - While a clock is paused its deadline is not yet known ([`SlaClock::deadline`]
//!   returns `None`, no attention is due) and [`SlaClock::remaining`] is frozen at its
//!   value when the pause began.
//! - An extension replaces the target with a longer one: one whose deadline, from the
//!   run's start and without pauses, is later than the target in force. An extension
//!   that is not longer is recorded but not applied, and the explanation says so.
//! - Warnings fire at a percentage of the time from the (effective) start to the
//!   current deadline, so they move with pauses and extensions.
//! - Starting a stopped clock re-starts it (a reopened case): a new run with the
//!   rule's own target, its pauses, extensions and fired warnings; earlier runs stay
//!   in the clock's history.

pub mod sla_clock;

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::calendar::{DeadlineOptions, Interval, SlaDuration};

pub use sla_clock::{Extension, Pause, Run, RunningSpan, SlaClock};

/// A policy's service-level rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlaRule {
    /// The rule's name, unique in its policy.
    pub name: String,
    /// The target.
    pub target: SlaDuration,
    /// Warning thresholds, percent of the target, each 1 to 99.
    pub warn: Vec<u8>,
    /// Roll a `days`/`weeks`/`months` deadline that ends on a non-working day to the
    /// end of the next working day.
    pub roll_to_working_day: bool,
    /// Count a start outside business hours from the next opening.
    pub from_next_working_day_after_hours: bool,
}

impl SlaRule {
    /// The deadline options this rule sets.
    pub fn options(&self) -> DeadlineOptions {
        DeadlineOptions {
            roll_to_working_day: self.roll_to_working_day,
            from_next_working_day_after_hours: self.from_next_working_day_after_hours,
        }
    }
}

/// Where a clock stands at an instant. Written `not-started`, `running`, ... (in
/// JSON, in scenario tests, in metrics): the words are derived from the variants.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::EnumIter,
    strum::EnumString,
    strum::Display,
)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ClockState {
    /// Never started.
    NotStarted,
    /// Running, deadline not reached.
    Running,
    /// Paused.
    Paused,
    /// Stopped before the deadline.
    Met,
    /// Stopped at or after the deadline.
    Missed,
    /// Running at or past the deadline.
    Breached,
    /// Stopped by the complainant's withdrawal: neither met nor missed, so that a
    /// withdrawal is never counted as answered on time.
    Withdrawn,
}

impl ClockState {
    /// The state as written: `not-started`.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Every state.
    pub fn iter() -> impl Iterator<Item = ClockState> + Clone {
        <ClockState as strum::IntoEnumIterator>::iter()
    }
}

/// Something a running clock needs the runtime to do at an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Attention {
    /// A warning at this percentage of the target.
    Warning(u8),
    /// The deadline.
    Breach,
}

/// An operation that does not fit the clock's state.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SlaError {
    /// `start` on a clock that is running or paused.
    #[error("clock `{0}` is already running")]
    AlreadyRunning(String),
    /// `pause`, `stop` or `extend` on a clock that is not running.
    #[error("clock `{0}` is not running")]
    NotRunning(String),
    /// `resume` on a clock that is not paused.
    #[error("clock `{0}` is not paused")]
    NotPaused(String),
    /// An instant before the clock's last recorded event.
    #[error("clock `{rule}`: {at} is before its last event at {last}")]
    BeforeLastEvent {
        /// The clock's rule.
        rule: String,
        /// The instant given.
        at: DateTime<Utc>,
        /// The last recorded event.
        last: DateTime<Utc>,
    },
}

impl SlaError {
    /// A stable kebab-case code for this error.
    pub fn code(&self) -> &'static str {
        match self {
            SlaError::AlreadyRunning(_) => "clock-already-running",
            SlaError::NotRunning(_) => "clock-not-running",
            SlaError::NotPaused(_) => "clock-not-paused",
            SlaError::BeforeLastEvent { .. } => "clock-time-before-last-event",
        }
    }
}

/// An extension as the explanation shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExplainedExtension {
    /// When it was granted.
    #[serde(serialize_with = "crate::instant::serialize")]
    pub at: DateTime<Utc>,
    /// The new target.
    pub target: SlaDuration,
    /// Why.
    pub reason: String,
    /// Who granted it.
    pub granted_by: Option<String>,
    /// False when it was not longer than the target already in force.
    pub applied: bool,
}

/// Why a clock's deadline is what it is, line by line, for a regulator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Explanation {
    /// The SLA rule's name.
    pub rule: String,
    /// The calendar's name.
    pub calendar: String,
    /// The calendar's IANA time zone.
    pub timezone: String,
    /// The target in force (after extensions); `None` when never started.
    pub target: Option<SlaDuration>,
    /// When the current run started.
    #[serde(serialize_with = "crate::instant::serialize_option")]
    pub started_at: Option<DateTime<Utc>>,
    /// When it stopped.
    #[serde(serialize_with = "crate::instant::serialize_option")]
    pub stopped_at: Option<DateTime<Utc>>,
    /// Paused since this instant, when paused now.
    #[serde(serialize_with = "crate::instant::serialize_option")]
    pub paused_since: Option<DateTime<Utc>>,
    /// The deadline; while paused, the deadline as if resumed when the pause began.
    #[serde(serialize_with = "crate::instant::serialize_option")]
    pub deadline: Option<DateTime<Utc>>,
    /// The rules that made the deadline, one line each.
    pub rules: Vec<String>,
    /// Why the deadline is provisional, when it is (a day beyond the calendar's
    /// data, or of data marked provisional, was counted).
    pub provisional: Option<String>,
    /// The extensions, in order.
    pub extensions: Vec<ExplainedExtension>,
    /// The current run's timeline, up to its stop, its open pause or its deadline.
    pub intervals: Vec<Interval>,
    /// Earlier runs (before reopening): `(started, stopped)`.
    #[serde(serialize_with = "crate::instant::serialize_runs")]
    pub earlier_runs: Vec<(DateTime<Utc>, Option<DateTime<Utc>>)>,
}

impl fmt::Display for Explanation {
    /// The explanation as plain lines for a regulator, times in the calendar's zone.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tz: chrono_tz::Tz = self.timezone.parse().unwrap_or(chrono_tz::UTC);
        let local = |t: DateTime<Utc>| t.with_timezone(&tz).format("%Y-%m-%d %H:%M %:z");
        writeln!(
            f,
            "SLA `{}` on calendar `{}` ({})",
            self.rule, self.calendar, self.timezone
        )?;
        let Some(started) = self.started_at else {
            return writeln!(f, "not started");
        };
        writeln!(f, "started {}", local(started))?;
        for rule in &self.rules {
            writeln!(f, "rule: {rule}")?;
        }
        for e in &self.extensions {
            let applied = if e.applied {
                "applied"
            } else {
                "not applied: not longer"
            };
            let by = e.granted_by.as_deref().unwrap_or("unknown");
            writeln!(
                f,
                "extension {} to {} by {by} ({applied}): {}",
                local(e.at),
                e.target,
                e.reason
            )?;
        }
        for i in &self.intervals {
            let reason = i
                .reason
                .as_deref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default();
            writeln!(
                f,
                "{} to {}: {}{reason}",
                local(i.from),
                local(i.to),
                i.kind.as_str()
            )?;
        }
        let provisional = match self.provisional {
            Some(_) => " (provisional)",
            None => "",
        };
        match (self.stopped_at, self.deadline) {
            (Some(stop), _) => writeln!(f, "stopped {}", local(stop)),
            (None, Some(deadline)) => writeln!(f, "deadline {}{provisional}", local(deadline)),
            (None, None) => Ok(()),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn rule_options_follow_the_flags() {
        let rule = SlaRule {
            name: "ack".into(),
            target: SlaDuration::BusinessDays(1),
            warn: vec![],
            roll_to_working_day: true,
            from_next_working_day_after_hours: false,
        };
        let options = rule.options();
        assert!(options.roll_to_working_day && !options.from_next_working_day_after_hours);
    }

    #[test]
    fn errors_have_stable_codes() {
        assert_eq!(SlaError::NotPaused("x".into()).code(), "clock-not-paused");
        assert_eq!(
            SlaError::NotPaused("x".into()).to_string(),
            "clock `x` is not paused"
        );
        let json = serde_json::to_string(&Attention::Warning(80)).unwrap();
        assert_eq!(json, r#"{"warning":80}"#);
        assert_eq!(
            serde_json::to_string(&ClockState::NotStarted).unwrap(),
            r#""not-started""#
        );
    }
}
