//! SLA durations as policies write them: `24 hours`, `3 business days`, `6 months`.
//!
//! Each unit has one meaning, applied by [`Calendar::deadline`](super::Calendar::deadline):
//!
//! - `minutes`, `hours`: exact elapsed time from the start instant. 24 hours across a
//!   daylight-saving change are 24 real hours.
//! - `business minutes`, `business hours`: only time inside business hours on working
//!   days counts (a calendar without hours counts the whole of each working day).
//! - `days`, `weeks`: the day of the start is not counted; the deadline is the end of
//!   the Nth calendar day after it (a week is 7 days), in the calendar's time zone.
//! - `months`: the same day of the month N months later, clamped to the month's end,
//!   and the deadline is the end of that day.
//! - `business days`: the day of the start is not counted; the deadline is the end of
//!   the Nth working day after it (close of business where hours are set).
//!
//! "End of day D" is the instant of local midnight that starts D+1.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;

use crate::diagnostic::did_you_mean;

/// A target duration of an SLA, in one of the units above.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SlaDuration {
    /// Exact elapsed minutes.
    Minutes(u32),
    /// Exact elapsed hours.
    Hours(u32),
    /// Minutes inside business hours on working days.
    BusinessMinutes(u32),
    /// Hours inside business hours on working days.
    BusinessHours(u32),
    /// Calendar days after the day of the start.
    Days(u32),
    /// Weeks of 7 calendar days after the day of the start.
    Weeks(u32),
    /// Calendar months after the day of the start, clamped to the month's end.
    Months(u32),
    /// Working days after the day of the start.
    BusinessDays(u32),
}

/// A policy string that is not a duration.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{message}")]
pub struct DurationError {
    /// What is wrong, lowercase, the input in backticks.
    pub message: String,
    /// Advice, such as "did you mean `days`?".
    pub help: Option<String>,
}

impl DurationError {
    /// A stable kebab-case code for this error.
    pub fn code(&self) -> &'static str {
        "invalid-duration"
    }
}

/// The unit words a policy may write, singular and plural, with their constructor.
/// A unit's singular and plural words and its constructor.
type Unit = (&'static str, &'static str, fn(u32) -> SlaDuration);

const UNITS: &[Unit] = &[
    ("minute", "minutes", SlaDuration::Minutes),
    ("hour", "hours", SlaDuration::Hours),
    (
        "business minute",
        "business minutes",
        SlaDuration::BusinessMinutes,
    ),
    (
        "business hour",
        "business hours",
        SlaDuration::BusinessHours,
    ),
    ("day", "days", SlaDuration::Days),
    ("week", "weeks", SlaDuration::Weeks),
    ("month", "months", SlaDuration::Months),
    ("business day", "business days", SlaDuration::BusinessDays),
];

impl SlaDuration {
    /// The number of units.
    pub fn count(&self) -> u32 {
        match *self {
            SlaDuration::Minutes(n)
            | SlaDuration::Hours(n)
            | SlaDuration::BusinessMinutes(n)
            | SlaDuration::BusinessHours(n)
            | SlaDuration::Days(n)
            | SlaDuration::Weeks(n)
            | SlaDuration::Months(n)
            | SlaDuration::BusinessDays(n) => n,
        }
    }

    /// True for units counted in whole days (`days`, `weeks`, `months`, `business days`).
    pub fn is_day_based(&self) -> bool {
        matches!(
            self,
            SlaDuration::Days(_)
                | SlaDuration::Weeks(_)
                | SlaDuration::Months(_)
                | SlaDuration::BusinessDays(_)
        )
    }

    /// True for units that count only working time (`business ...`).
    pub fn is_business(&self) -> bool {
        matches!(
            self,
            SlaDuration::BusinessMinutes(_)
                | SlaDuration::BusinessHours(_)
                | SlaDuration::BusinessDays(_)
        )
    }

    /// An approximate length in seconds, only for comparing targets of different units.
    ///
    /// A month is 30.436875 days (2,629,746 s); a business day is 7/5 of a day and a
    /// business hour 168/40 hours (a 5-day, 40-hour week). Never use it for a deadline.
    pub fn approx_seconds(&self) -> i64 {
        let n = i64::from(self.count());
        match self {
            SlaDuration::Minutes(_) => n * 60,
            SlaDuration::Hours(_) => n * 3_600,
            SlaDuration::BusinessMinutes(_) => n * 252,
            SlaDuration::BusinessHours(_) => n * 15_120,
            SlaDuration::Days(_) => n * 86_400,
            SlaDuration::Weeks(_) => n * 604_800,
            SlaDuration::Months(_) => n * 2_629_746,
            SlaDuration::BusinessDays(_) => n * 120_960,
        }
    }

    /// The unit's word for this count: `day` for 1, `days` otherwise.
    pub fn unit_word(&self) -> &'static str {
        let (one, many) = self.unit_words();
        if self.count() == 1 { one } else { many }
    }

    fn unit_words(&self) -> (&'static str, &'static str) {
        let index = match self {
            SlaDuration::Minutes(_) => 0,
            SlaDuration::Hours(_) => 1,
            SlaDuration::BusinessMinutes(_) => 2,
            SlaDuration::BusinessHours(_) => 3,
            SlaDuration::Days(_) => 4,
            SlaDuration::Weeks(_) => 5,
            SlaDuration::Months(_) => 6,
            SlaDuration::BusinessDays(_) => 7,
        };
        (UNITS[index].0, UNITS[index].1)
    }
}

impl fmt::Display for SlaDuration {
    /// The canonical text: `1 business day`, `15 days`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (one, many) = self.unit_words();
        let n = self.count();
        write!(f, "{n} {}", if n == 1 { one } else { many })
    }
}

impl FromStr for SlaDuration {
    type Err = DurationError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let trimmed = text.trim();
        let (number, unit) = split_number(trimmed).ok_or_else(|| DurationError {
            message: format!("`{trimmed}` is not a duration"),
            help: Some(
                "write a whole number and a unit, e.g. `15 days` or `4 business hours`".into(),
            ),
        })?;
        let n: u32 = number.parse().map_err(|_| DurationError {
            message: format!("`{number}` is not a whole number of units"),
            help: Some("write a whole number from 0 to 4294967295".into()),
        })?;
        let unit = unit
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase();
        find_unit(&unit)
            .map(|make| make(n))
            .ok_or_else(|| unknown_unit(&unit))
    }
}

fn split_number(text: &str) -> Option<(&str, &str)> {
    let end = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, rest) = text.split_at(end);
    let unit = rest.trim();
    (!number.is_empty() && !unit.is_empty()).then_some((number, unit))
}

fn find_unit(unit: &str) -> Option<fn(u32) -> SlaDuration> {
    UNITS
        .iter()
        .find(|(one, many, _)| unit == *one || unit == *many)
        .map(|(_, _, make)| *make)
}

fn unknown_unit(unit: &str) -> DurationError {
    let help = did_you_mean(unit, UNITS.iter().map(|(_, many, _)| *many)).unwrap_or_else(|| {
        "units are minutes, hours, business minutes, business hours, days, weeks, months, business days".into()
    });
    DurationError {
        message: format!("unknown duration unit `{unit}`"),
        help: Some(help),
    }
}

impl Serialize for SlaDuration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// A duration as a policy writes it, in its canonical form.
#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for SlaDuration {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(
                "A duration as a policy writes it: a count and a unit (`15 days`, `4 business hours`, `8 weeks`)",
            ))
            .pattern(Some("^[0-9]+ [a-z ]+$"))
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for SlaDuration {}

impl<'de> Deserialize<'de> for SlaDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_unit_and_prints_canonically() {
        let cases = [
            ("24 hours", SlaDuration::Hours(24), "24 hours"),
            (
                "4 business hours",
                SlaDuration::BusinessHours(4),
                "4 business hours",
            ),
            ("15 days", SlaDuration::Days(15), "15 days"),
            ("8 weeks", SlaDuration::Weeks(8), "8 weeks"),
            ("6 months", SlaDuration::Months(6), "6 months"),
            (
                "1 business day",
                SlaDuration::BusinessDays(1),
                "1 business day",
            ),
            (
                "3  Business   Days",
                SlaDuration::BusinessDays(3),
                "3 business days",
            ),
            ("30 minutes", SlaDuration::Minutes(30), "30 minutes"),
            (
                "90 business minutes",
                SlaDuration::BusinessMinutes(90),
                "90 business minutes",
            ),
            ("1 hour", SlaDuration::Hours(1), "1 hour"),
            ("15days", SlaDuration::Days(15), "15 days"),
        ];
        for (text, want, canonical) in cases {
            let got: SlaDuration = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(got, want, "{text}");
            assert_eq!(got.to_string(), canonical, "{text}");
        }
    }

    #[test]
    fn rejects_bad_input_with_help() {
        let err = "15 dayz".parse::<SlaDuration>().unwrap_err();
        assert_eq!(err.message, "unknown duration unit `dayz`");
        assert_eq!(err.help.as_deref(), Some("did you mean `days`?"));
        let err = "3 bussiness days".parse::<SlaDuration>().unwrap_err();
        assert_eq!(err.help.as_deref(), Some("did you mean `business days`?"));
        assert!("days".parse::<SlaDuration>().is_err());
        assert!("15".parse::<SlaDuration>().is_err());
        assert!("-3 days".parse::<SlaDuration>().is_err());
        assert!("99999999999 days".parse::<SlaDuration>().is_err());
        assert_eq!(
            "".parse::<SlaDuration>().unwrap_err().code(),
            "invalid-duration"
        );
    }

    #[test]
    fn serializes_as_text() {
        let json = serde_json::to_string(&SlaDuration::BusinessDays(3)).unwrap();
        assert_eq!(json, "\"3 business days\"");
        let back: SlaDuration = serde_json::from_str(&json).unwrap();
        assert_eq!(back, SlaDuration::BusinessDays(3));
        assert!(serde_json::from_str::<SlaDuration>("\"3 dais\"").is_err());
    }

    #[test]
    fn approx_seconds_orders_units() {
        let d = |s: &str| s.parse::<SlaDuration>().unwrap().approx_seconds();
        assert!(d("30 days") > d("15 business days"));
        assert!(d("1 month") > d("4 weeks"));
        assert_eq!(d("24 hours"), d("1 day"));
    }
}
