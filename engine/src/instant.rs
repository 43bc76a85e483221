//! How an instant is written in JSON wherever the engine's types and the service
//! show one (answers, webhook bodies, the event history): RFC 3339 in UTC with `Z`
//! and exactly six fractional digits, `2026-11-20T01:15:00.000000Z`.
//!
//! Microseconds, because the store keeps no finer grain (PostgreSQL's
//! `timestamptz`, SQLite's integer microseconds): an instant reads the same before
//! and after it is stored. Fixed width, so instants compare as text. Reading stays
//! lenient: any RFC 3339 instant is accepted.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serializer;

/// An instant as written: `2026-11-20T01:15:00.000000Z` (finer digits dropped).
pub fn format(at: &DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// `#[serde(serialize_with = "instant::serialize")]` for a `DateTime<Utc>`.
pub fn serialize<S: Serializer>(at: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&format(at))
}

/// `#[serde(serialize_with = "instant::serialize_option")]` for an
/// `Option<DateTime<Utc>>`: `null` for `None`.
pub fn serialize_option<S: Serializer>(
    at: &Option<DateTime<Utc>>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match at {
        Some(at) => serialize(at, serializer),
        None => serializer.serialize_none(),
    }
}

/// `#[serde(serialize_with = "instant::serialize_runs")]` for spans
/// `(start, end)` whose end may be open: `[["…Z", null], …]`.
pub fn serialize_runs<S: Serializer>(
    runs: &[(DateTime<Utc>, Option<DateTime<Utc>>)],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeSeq;
    let mut seq = serializer.serialize_seq(Some(runs.len()))?;
    for (start, end) in runs {
        seq.serialize_element(&(format(start), end.as_ref().map(format)))?;
    }
    seq.end()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn instants_have_six_fractional_digits_and_a_z() {
        let whole = DateTime::parse_from_rfc3339("2026-11-20T09:15:00+08:00").unwrap();
        assert_eq!(format(&whole.to_utc()), "2026-11-20T01:15:00.000000Z");
        let fine = DateTime::parse_from_rfc3339("2026-11-20T01:15:00.123456789Z").unwrap();
        assert_eq!(format(&fine.to_utc()), "2026-11-20T01:15:00.123456Z");
    }
}
