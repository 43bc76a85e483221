//! Reading the instants of an event file quickly: the common RFC 3339 form
//! (`2026-03-02T09:15:00Z`, `2026-03-02T09:15:00+08:00`) directly, anything else
//! (fractions of a second, a space for `T`, a leap second, an error) through
//! chrono's own parser, so the result and the error messages are chrono's.

use std::fmt;

use chrono::{DateTime, FixedOffset, NaiveDate, TimeZone};
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

/// Reads an instant as chrono's `Deserialize` for `DateTime<FixedOffset>` does.
pub(super) fn deserialize<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<DateTime<FixedOffset>, D::Error> {
    deserializer.deserialize_str(InstantVisitor)
}

/// Reads an optional instant as chrono's `Deserialize` for
/// `Option<DateTime<FixedOffset>>` does.
pub(super) fn deserialize_option<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<DateTime<FixedOffset>>, D::Error> {
    Ok(Option::<Instant>::deserialize(deserializer)?.map(|i| i.0))
}

/// An instant read by [`deserialize`].
struct Instant(DateTime<FixedOffset>);

impl<'de> Deserialize<'de> for Instant {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserialize(deserializer).map(Instant)
    }
}

struct InstantVisitor;

impl Visitor<'_> for InstantVisitor {
    type Value = DateTime<FixedOffset>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        // The same words as chrono's visitor.
        formatter.write_str("an RFC 3339 formatted date and time string")
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Self::Value, E> {
        match parse_common(value) {
            Some(at) => Ok(at),
            None => value.parse().map_err(E::custom),
        }
    }
}

/// `YYYY-MM-DDTHH:MM:SS` then `Z` or `±HH:MM`, seconds below 60; `None` for any
/// other text (which chrono then reads, or refuses).
pub(crate) fn parse_common(s: &str) -> Option<DateTime<FixedOffset>> {
    let b = s.as_bytes();
    if b.len() != 20 && b.len() != 25 {
        return None;
    }
    let seps = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')];
    if seps.iter().any(|&(i, c)| b[i] != c) {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<u32> {
        b[from..to].iter().try_fold(0u32, |n, &d| {
            d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
        })
    };
    let year = i32::try_from(num(0, 4)?).ok()?;
    let (month, day) = (num(5, 7)?, num(8, 10)?);
    let (hour, minute, second) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    if second >= 60 {
        return None;
    }
    let offset_seconds = match (b.len(), b[19]) {
        (20, b'Z') => 0,
        (25, sign @ (b'+' | b'-')) if b[22] == b':' => {
            let (h, m) = (num(20, 22)?, num(23, 25)?);
            if m >= 60 {
                return None;
            }
            let secs = i32::try_from(h * 3600 + m * 60).ok()?;
            if sign == b'-' { -secs } else { secs }
        }
        _ => return None,
    };
    let offset = FixedOffset::east_opt(offset_seconds)?;
    let local = NaiveDate::from_ymd_opt(year, month, day)?.and_hms_opt(hour, minute, second)?;
    offset.from_local_datetime(&local).single()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn chrono(s: &str) -> Option<DateTime<FixedOffset>> {
        s.parse().ok()
    }

    #[test]
    fn the_common_forms_read_as_chrono_reads_them() {
        for s in [
            "2026-03-02T09:15:00Z",
            "2026-03-02T09:15:00+08:00",
            "2026-03-02T09:15:00-05:30",
            "2026-03-02T09:15:00-00:00",
            "2024-02-29T23:59:59+14:00",
            "0001-01-01T00:00:00Z",
            "9999-12-31T23:59:59Z",
        ] {
            let fast = parse_common(s).unwrap();
            assert_eq!(Some(fast), chrono(s), "{s}");
            assert_eq!(fast.offset(), chrono(s).unwrap().offset(), "{s}");
        }
    }

    #[test]
    fn anything_else_is_left_to_chrono() {
        for s in [
            "2026-03-02T09:15:00.5Z",
            "2026-03-02 09:15:00Z",
            "2026-03-02t09:15:00z",
            "2026-03-02T09:15:60Z",
            "2026-02-30T09:15:00Z",
            "2026-03-02T24:00:00Z",
            "2026-03-02T09:15:00+0800",
            "2026-03-02T09:15:00+08:60",
            "2026-03-02T09:15:00+25:00",
            "2026-03-02T09:15:00",
            "+2026-03-02T09:15:00Z",
            "2026-03-02T09:1a:00Z",
            "",
        ] {
            assert_eq!(parse_common(s), None, "{s}");
        }
    }

    #[test]
    fn errors_are_chronos() {
        #[derive(Deserialize)]
        struct L {
            #[serde(deserialize_with = "deserialize")]
            at: DateTime<FixedOffset>,
            #[serde(default, deserialize_with = "deserialize_option")]
            received_at: Option<DateTime<FixedOffset>>,
        }
        #[derive(Deserialize)]
        struct C {
            #[allow(dead_code)]
            at: DateTime<FixedOffset>,
            #[serde(default)]
            #[allow(dead_code)]
            received_at: Option<DateTime<FixedOffset>>,
        }
        for text in [
            r#"{"at":"2026-03-02T09:15:00+08:00"}"#,
            r#"{"at":"2026-03-02T09:15:00.25+08:00","received_at":null}"#,
            r#"{"at":"2026-03-02T09:15:00Z","received_at":"2026-03-01T09:15:00Z"}"#,
            r#"{"at":"2026-02-30T09:15:00Z"}"#,
            r#"{"at":5}"#,
            r#"{"at":"2026-03-02T09:15:00Z","received_at":7}"#,
            r#"{"at":"2026-03-02T09:15:00Z","received_at":"nope"}"#,
            r#"{"received_at":"2026-03-02T09:15:00Z"}"#,
        ] {
            let ours = serde_json::from_str::<L>(text).map_err(|e| e.to_string());
            let theirs = serde_json::from_str::<C>(text).map_err(|e| e.to_string());
            match (ours, theirs) {
                (Ok(a), Ok(b)) => {
                    assert_eq!(a.at.to_rfc3339(), b.at.to_rfc3339(), "{text}");
                    let (a, b) = (a.received_at, b.received_at);
                    assert_eq!(a.map(|t| t.to_rfc3339()), b.map(|t| t.to_rfc3339()));
                }
                (Err(a), Err(b)) => assert_eq!(a, b, "{text}"),
                (a, b) => panic!("{text}: {:?} vs {:?}", a.is_ok(), b.is_ok()),
            }
        }
    }
}
