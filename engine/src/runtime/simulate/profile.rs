//! [`Profile`]: the distributions a simulation draws complaints from, read from a
//! small TOML file; every key has a default.
//!
//! ```toml
//! start = "2026-03-02T09:00:00+08:00"   # the first complaint may arrive from here
//! span_days = 60                        # complaints arrive evenly over this many days (at most 36,525)
//! late_registration = 0.1               # share keyed in the next day (letters)
//! missing_field = 0.02                  # share of events sent without a field they need
//! bool_true = 0.9                       # a flag an event needs is true this often
//! flag_rate = 0.05                      # an optional flag (vulnerable, complex) is set
//! wait = 3.0                            # weight of doing nothing where a timer would act
//! max_steps = 12
//! left_open = 1.0                       # share of unfinished cases left open for good; the rest are withdrawn
//! amount = { median = 800.0, spread = 1.5 }      # money: log-normal
//! delay_hours = { median = 20.0, spread = 1.0 }  # between a case's events
//! [values.category]                      # enum weights (default: equal)
//! fees = 3
//! fraud = 1
//! [events]                               # weight of each event (default 1)
//! withdraw = 0.05
//! ```
//!
//! A case is *unfinished* when its steps are over (`max_steps` ran out, or no event
//! it could draw moves it and no timer would) and it is still open, and its timers
//! do not close it within a year of its last event: a complaint nobody gets back
//! to. With the default `left_open = 1.0` every such case stays open for good
//! (about 12% of the bank policy's cases); with `left_open = 0.0` none does: each is
//! withdrawn by its complainant (a `withdraw` line) a drawn delay after its last
//! event, so that every case closes in the end. Values in between withdraw that
//! share of them.

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset};
use serde::Deserialize;

/// A log-normal distribution.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogNormal {
    /// Its median.
    pub median: f64,
    /// The standard deviation of its logarithm.
    pub spread: f64,
}

/// What a simulation draws from.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Profile {
    /// The earliest receipt.
    pub start: DateTime<FixedOffset>,
    /// Receipts spread evenly over this many days.
    pub span_days: u32,
    /// Share of complaints keyed in the day after receipt.
    pub late_registration: f64,
    /// Share of events sent without one field they need (they are refused).
    pub missing_field: f64,
    /// How often a flag an event needs is true.
    pub bool_true: f64,
    /// How often an optional flag is set at intake.
    pub flag_rate: f64,
    /// Weight of waiting for a timer where one would act.
    pub wait: f64,
    /// Events per case, at most.
    pub max_steps: usize,
    /// Share of the unfinished cases (see the module's documentation) left open for
    /// good; the others are withdrawn a drawn delay after their last event.
    pub left_open: f64,
    /// Money amounts.
    pub amount: LogNormal,
    /// Hours between a case's events.
    pub delay_hours: LogNormal,
    /// Weights of enum values, per field.
    pub values: BTreeMap<String, BTreeMap<String, f64>>,
    /// Weights of events (default 1; `withdraw` 0.05).
    pub events: BTreeMap<String, f64>,
}

impl Default for Profile {
    fn default() -> Self {
        Profile {
            start: DateTime::parse_from_rfc3339("2026-03-02T09:00:00+08:00").unwrap_or_default(),
            span_days: 60,
            late_registration: 0.1,
            missing_field: 0.02,
            bool_true: 0.9,
            flag_rate: 0.05,
            wait: 3.0,
            max_steps: 12,
            left_open: 1.0,
            amount: LogNormal {
                median: 800.0,
                spread: 1.5,
            },
            delay_hours: LogNormal {
                median: 20.0,
                spread: 1.0,
            },
            values: BTreeMap::new(),
            events: BTreeMap::from([("withdraw".to_string(), 0.05)]),
        }
    }
}

impl Profile {
    /// Reads a profile from TOML; missing keys keep their defaults.
    pub fn from_toml(text: &str) -> Result<Profile, toml::de::Error> {
        toml::from_str(text)
    }

    /// The weight of an event.
    pub fn event_weight(&self, event: &str) -> f64 {
        self.events.get(event).copied().unwrap_or(1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partial_profile_keeps_the_other_defaults() {
        let p = Profile::from_toml("span_days = 5\n[values.category]\nfees = 2\n").unwrap();
        assert_eq!(p.span_days, 5);
        assert_eq!(p.values["category"]["fees"], 2.0);
        assert_eq!(p.max_steps, Profile::default().max_steps);
        assert!(Profile::from_toml("nonsense = 1").is_err());
    }
}
