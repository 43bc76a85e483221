//! [`Period`]: the span of time a report covers, as instants, read from a month
//! (`2026-11`), a quarter (`2026-Q4`), a half-year (`2026-H2`), a year (`2026`) or
//! two dates, in the policy's time zone; and the period before it.

use chrono::{DateTime, Datelike, Months, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use super::ReportError;

/// A half-open span of time `[from, to)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Period {
    /// Its first instant.
    #[serde(serialize_with = "crate::instant::serialize")]
    pub from: DateTime<Utc>,
    /// The instant after its last.
    #[serde(serialize_with = "crate::instant::serialize")]
    pub to: DateTime<Utc>,
    /// How it was named (`2026-Q4`, `2026-10-01..2026-12-31`).
    pub label: String,
    /// Calendar months it spans, when it is a whole number of them (a month,
    /// quarter, half or year): the previous period is then the months before.
    #[serde(skip)]
    months: Option<(NaiveDate, u32)>,
    #[serde(skip)]
    timezone: Option<Tz>,
}

impl Period {
    /// Reads `2026-11`, `2026-Q4`, `2026-H2` or `2026` as local months in `tz`.
    pub fn named(name: &str, tz: Tz) -> Result<Period, ReportError> {
        let bad = || {
            ReportError::Period(format!(
                "cannot read period `{name}`: expected a month (`2026-11`), a quarter (`2026-Q4`), a half-year (`2026-H2`) or a year (`2026`)"
            ))
        };
        let (year, rest) = match name.split_once('-') {
            Some((_, "")) => return Err(bad()),
            Some(parts) => parts,
            None => (name, ""),
        };
        let year: i32 = year.parse().map_err(|_| bad())?;
        let (first_month, months) = match rest.as_bytes() {
            [] => (1, 12),
            [b'Q', q @ b'1'..=b'4'] => (u32::from(q - b'0') * 3 - 2, 3),
            [b'H', h @ b'1'..=b'2'] => (u32::from(h - b'0') * 6 - 5, 6),
            _ => (
                rest.parse::<u32>()
                    .ok()
                    .filter(|m| (1..=12).contains(m))
                    .ok_or_else(bad)?,
                1,
            ),
        };
        let start = NaiveDate::from_ymd_opt(year, first_month, 1).ok_or_else(bad)?;
        Period::of_months(start, months, name.to_string(), tz)
    }

    /// The local dates `from` to `to`, both included, in `tz`.
    pub fn dates(from: NaiveDate, to: NaiveDate, tz: Tz) -> Result<Period, ReportError> {
        if to < from {
            return Err(ReportError::Period(format!(
                "the period ends (`{to}`) before it starts (`{from}`)"
            )));
        }
        let end = to
            .succ_opt()
            .ok_or_else(|| ReportError::Period(format!("`{to}` is out of range")))?;
        Ok(Period {
            from: midnight(from, tz)?,
            to: midnight(end, tz)?,
            label: format!("{from}..{to}"),
            months: None,
            timezone: Some(tz),
        })
    }

    fn of_months(
        start: NaiveDate,
        months: u32,
        label: String,
        tz: Tz,
    ) -> Result<Period, ReportError> {
        let end = start
            .checked_add_months(Months::new(months))
            .ok_or_else(|| ReportError::Period(format!("`{label}` is out of range")))?;
        Ok(Period {
            from: midnight(start, tz)?,
            to: midnight(end, tz)?,
            label,
            months: Some((start, months)),
            timezone: Some(tz),
        })
    }

    /// The period of the same length just before this one: the previous month,
    /// quarter, half or year for a named period.
    pub fn previous(&self) -> Period {
        let named = self.months.zip(self.timezone).and_then(|((start, n), tz)| {
            let first = start.checked_sub_months(Months::new(n))?;
            Period::of_months(first, n, previous_label(first, n), tz).ok()
        });
        named.unwrap_or_else(|| Period {
            from: self.from - (self.to - self.from),
            to: self.from,
            label: format!("before {}", self.label),
            months: None,
            timezone: self.timezone,
        })
    }

    /// Whether `at` falls in the period.
    pub fn contains(&self, at: DateTime<Utc>) -> bool {
        self.from <= at && at < self.to
    }

    /// Whether the period is longer than a month and a day: trends then go by month.
    pub(crate) fn by_month(&self) -> bool {
        (self.to - self.from).num_days() > 31
    }
}

fn previous_label(first: NaiveDate, months: u32) -> String {
    match months {
        12 => format!("{}", first.year()),
        6 => format!("{}-H{}", first.year(), first.month().div_ceil(6)),
        3 => format!("{}-Q{}", first.year(), first.month().div_ceil(3)),
        _ => format!("{}-{:02}", first.year(), first.month()),
    }
}

/// The first instant of `date` in `tz` (the earliest, when a change of offset
/// makes midnight happen twice; the first instant after it when it is skipped).
pub(crate) fn midnight(date: NaiveDate, tz: Tz) -> Result<DateTime<Utc>, ReportError> {
    let local = date.and_hms_opt(0, 0, 0).unwrap_or_default();
    let mut probe = local;
    for _ in 0..4 {
        if let Some(t) = tz.from_local_datetime(&probe).earliest() {
            return Ok(t.with_timezone(&Utc));
        }
        probe += chrono::TimeDelta::minutes(30);
    }
    Err(ReportError::Period(format!(
        "midnight of `{date}` does not exist in `{tz}`"
    )))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn named_periods_are_local_months_and_know_the_one_before() {
        let tz: Tz = "Asia/Shanghai".parse().unwrap();
        let cases = [
            (
                "2026-11",
                "2026-10-31T16:00:00Z",
                "2026-11-30T16:00:00Z",
                "2026-10",
            ),
            (
                "2026-Q4",
                "2026-09-30T16:00:00Z",
                "2026-12-31T16:00:00Z",
                "2026-Q3",
            ),
            (
                "2026-H2",
                "2026-06-30T16:00:00Z",
                "2026-12-31T16:00:00Z",
                "2026-H1",
            ),
            (
                "2026-Q1",
                "2025-12-31T16:00:00Z",
                "2026-03-31T16:00:00Z",
                "2025-Q4",
            ),
            (
                "2026",
                "2025-12-31T16:00:00Z",
                "2026-12-31T16:00:00Z",
                "2025",
            ),
        ];
        for (name, from, to, previous) in cases {
            let p = Period::named(name, tz).unwrap();
            assert_eq!(p.from.to_rfc3339(), from.replace('Z', "+00:00"), "{name}");
            assert_eq!(p.to.to_rfc3339(), to.replace('Z', "+00:00"), "{name}");
            assert_eq!(p.previous().label, previous, "{name}");
            assert_eq!(p.previous().to, p.from, "{name}");
        }
        for bad in ["2026-13", "2026-Q5", "26-H3", "2026-", "Q4"] {
            assert!(Period::named(bad, tz).is_err(), "{bad}");
        }
    }

    #[test]
    fn dates_include_the_last_day_and_the_previous_period_has_the_same_length() {
        let tz: Tz = "Europe/London".parse().unwrap();
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        let p = Period::dates(d("2026-03-01"), d("2026-03-10"), tz).unwrap();
        assert_eq!(p.to.to_rfc3339(), "2026-03-11T00:00:00+00:00");
        let before = p.previous();
        assert_eq!(before.to, p.from);
        assert_eq!(before.to - before.from, p.to - p.from);
        assert!(Period::dates(d("2026-03-10"), d("2026-03-01"), tz).is_err());
    }
}
