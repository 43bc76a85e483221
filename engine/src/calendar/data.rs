//! Calendar data files (`policies/calendars/*.toml`) and their parser.
//!
//! A file holds one calendar's public holidays and make-up working days for a range
//! of dates, and cites its source in a header comment and in `source`:
//!
//! ```toml
//! # Mainland China public holidays and make-up working days, 2026.
//! # Source: 国务院办公厅关于2026年部分节假日安排的通知 (State Council General Office)
//! [calendar]
//! name = "Mainland China 2026"
//! timezone = "Asia/Shanghai"                       # IANA name
//! covers = { from = "2026-01-01", to = "2026-12-31" } # dates outside are errors
//! week = ["mon", "tue", "wed", "thu", "fri"]       # optional, default mon-fri
//! hours = ["09:00-12:00", "13:30-17:30"]           # optional, default the whole day
//! open_on_observed = false                         # optional: work on observed days
//! status = "official"                              # optional: or "provisional"
//! source = "<citation>"
//!
//! [[holidays]]
//! name = "New Year's Day"
//! from = "2026-01-01"
//! to = "2026-01-03"          # inclusive; or `date = "2026-01-01"` for one day
//!
//! [[holidays]]
//! name = "Independence Day (observed)"
//! date = "2026-07-03"
//! observed = true            # observed in lieu; `open_on_observed` calendars work on it
//!
//! [[working_days]]
//! name = "Spring Festival make-up working day"
//! date = "2026-02-14"
//! ```
//!
//! [`parse_calendar_file`] reports every problem it finds with a stable code and the
//! byte range of the offending text: `toml-syntax`, `unknown-key` (a syntax error, or
//! the list of every unknown key, stops parsing, so these come without the others), `invalid-date`, `invalid-timezone`,
//! `invalid-weekday`, `invalid-hours`, `inverted-hours`, `holiday-dates`,
//! `inverted-holiday`, `inverted-covers`, `duplicate-holiday`, `duplicate-working-day`,
//! `date-outside-calendar`, `working-day-is-holiday`, `invalid-status`.
//!
//! `status = "provisional"` marks data that is not yet the official text (a
//! government's holiday notice not yet published): deadlines that count its days are
//! computed on it and shown as provisional.

use std::collections::BTreeMap;
use std::ops::Range;

use chrono::{NaiveDate, NaiveTime, Weekday};
use serde::Deserialize;
use toml::Spanned;
use toml::de::{DeArray, DeTable, DeValue};

use super::{CalendarSpec, Coverage, Holiday, WorkingDay};

/// One problem in a calendar data file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct DataError {
    /// A stable kebab-case code.
    pub code: &'static str,
    /// What is wrong, lowercase, user input in backticks.
    pub message: String,
    /// The byte range of the offending text.
    pub span: Range<usize>,
    /// Advice.
    pub help: Option<String>,
}

/// A parsed, checked calendar data file.
#[derive(Debug, Clone, PartialEq)]
pub struct CalendarFile {
    /// The calendar's name.
    pub name: String,
    /// The citation of the data's source.
    pub source: String,
    /// The IANA time zone.
    pub timezone: chrono_tz::Tz,
    /// The inclusive range of dates the data covers.
    pub covers: Option<(NaiveDate, NaiveDate)>,
    /// The byte range of `covers` (of `[calendar]` when it has none).
    pub covers_span: Range<usize>,
    /// The data is marked `status = "provisional"`.
    pub provisional: bool,
    /// The working week, when the file sets one.
    pub week: Option<Vec<Weekday>>,
    /// Business hours; empty means the whole day.
    pub hours: Vec<(NaiveTime, NaiveTime)>,
    /// Observed-only holidays are working days.
    pub open_on_observed: bool,
    /// Holidays, in file order.
    pub holidays: Vec<Holiday>,
    /// The byte range of each holiday's table, parallel to `holidays`.
    pub holiday_spans: Vec<Range<usize>>,
    /// Make-up working days, in file order.
    pub working_days: Vec<WorkingDay>,
    /// The byte range of each make-up day's table, parallel to `working_days`.
    pub working_day_spans: Vec<Range<usize>>,
}

impl CalendarFile {
    /// The spec for [`Calendar::new`](super::Calendar::new), the data read from the
    /// file named `file`; the week defaults to Monday to Friday.
    pub fn into_spec(self, file: &str) -> CalendarSpec {
        let week = self.week.unwrap_or_else(|| {
            vec![
                Weekday::Mon,
                Weekday::Tue,
                Weekday::Wed,
                Weekday::Thu,
                Weekday::Fri,
            ]
        });
        CalendarSpec {
            name: self.name,
            timezone: self.timezone,
            week,
            hours: self.hours,
            holidays: self.holidays,
            working_days: self.working_days,
            open_on_observed: self.open_on_observed,
            covers: self
                .covers
                .map(|(from, to)| Coverage {
                    from,
                    to,
                    source: file.to_owned(),
                    provisional: self.provisional,
                })
                .into_iter()
                .collect(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    calendar: RawHeader,
    #[serde(default)]
    holidays: Vec<Spanned<RawHoliday>>,
    #[serde(default)]
    working_days: Vec<Spanned<RawWorkingDay>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHeader {
    name: String,
    timezone: Spanned<String>,
    source: String,
    status: Option<Spanned<String>>,
    covers: Option<Spanned<RawCovers>>,
    week: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    hours: Vec<Spanned<String>>,
    #[serde(default)]
    open_on_observed: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCovers {
    from: Spanned<String>,
    to: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHoliday {
    name: String,
    date: Option<Spanned<String>>,
    from: Option<Spanned<String>>,
    to: Option<Spanned<String>>,
    #[serde(default)]
    observed: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWorkingDay {
    name: String,
    date: Spanned<String>,
}

/// Collects problems while checking one file.
#[derive(Default)]
struct Checker {
    errors: Vec<DataError>,
}

impl Checker {
    fn error(
        &mut self,
        code: &'static str,
        message: String,
        span: Range<usize>,
        help: Option<String>,
    ) {
        self.errors.push(DataError {
            code,
            message,
            span,
            help,
        });
    }

    fn date(&mut self, raw: &Spanned<String>) -> Option<NaiveDate> {
        let parsed = NaiveDate::parse_from_str(raw.get_ref(), "%Y-%m-%d").ok();
        if parsed.is_none() {
            let help = Some("write a real date as `YYYY-MM-DD`, e.g. `2026-02-28`".to_owned());
            self.error(
                "invalid-date",
                format!("`{}` is not a date", raw.get_ref()),
                raw.span(),
                help,
            );
        }
        parsed
    }

    fn timezone(&mut self, raw: &Spanned<String>) -> Option<chrono_tz::Tz> {
        let parsed = raw.get_ref().parse::<chrono_tz::Tz>().ok();
        if parsed.is_none() {
            let best = chrono_tz::TZ_VARIANTS
                .iter()
                .map(|tz| (strsim::jaro_winkler(raw.get_ref(), tz.name()), tz.name()))
                .fold((0.0, ""), |a, b| if b.0 > a.0 { b } else { a });
            let help = (best.0 > 0.8).then(|| format!("did you mean `{}`?", best.1));
            self.error(
                "invalid-timezone",
                format!("unknown time zone `{}`", raw.get_ref()),
                raw.span(),
                help,
            );
        }
        parsed
    }

    /// Reads `status`: true for `provisional`.
    fn status(&mut self, raw: &Spanned<String>) -> bool {
        match raw.get_ref().as_str() {
            "official" => false,
            "provisional" => true,
            other => {
                let help = Some("`status` is `official` (the default) or `provisional`".to_owned());
                let msg = format!("`{other}` is not a status");
                self.error("invalid-status", msg, raw.span(), help);
                false
            }
        }
    }

    fn weekday(&mut self, raw: &Spanned<String>) -> Option<Weekday> {
        let parsed = raw.get_ref().parse::<Weekday>().ok();
        if parsed.is_none() {
            let help =
                Some("weekdays are `mon`, `tue`, `wed`, `thu`, `fri`, `sat`, `sun`".to_owned());
            self.error(
                "invalid-weekday",
                format!("`{}` is not a weekday", raw.get_ref()),
                raw.span(),
                help,
            );
        }
        parsed
    }

    fn hours(&mut self, raw: &Spanned<String>) -> Option<(NaiveTime, NaiveTime)> {
        let parse = |s: &str| NaiveTime::parse_from_str(s.trim(), "%H:%M").ok();
        let parsed = raw
            .get_ref()
            .split_once('-')
            .and_then(|(a, b)| Some((parse(a)?, parse(b)?)));
        match parsed {
            None => {
                let help =
                    Some("write business hours as `HH:MM-HH:MM`, e.g. `09:00-17:30`".to_owned());
                self.error(
                    "invalid-hours",
                    format!("`{}` is not a range of hours", raw.get_ref()),
                    raw.span(),
                    help,
                );
                None
            }
            Some((open, close)) if close <= open => {
                let msg = format!("business hours `{}` close before they open", raw.get_ref());
                self.error("inverted-hours", msg, raw.span(), None);
                None
            }
            some => some,
        }
    }
}

/// Parses and checks a calendar data file, reporting all problems at once.
pub fn parse_calendar_file(text: &str) -> Result<CalendarFile, Vec<DataError>> {
    let raw: RawFile = match toml::from_str(text) {
        Ok(raw) => raw,
        Err(e) => {
            // Serde stops at the first unknown key: list them all instead.
            let first = syntax_error(&e, text);
            let unknown = match first.code {
                "unknown-key" => unknown_keys(text),
                _ => Vec::new(),
            };
            return Err(match unknown.is_empty() {
                true => vec![first],
                false => unknown,
            });
        }
    };
    let mut check = Checker::default();
    let header = &raw.calendar;
    let timezone = check.timezone(&header.timezone);
    let covers = header
        .covers
        .as_ref()
        .and_then(|c| covers(&mut check, c.get_ref()));
    let covers_span = header.covers.as_ref().map_or(0..0, |c| c.span());
    let provisional = header.status.as_ref().is_some_and(|s| check.status(s));
    let week = header
        .week
        .as_ref()
        .map(|w| w.iter().filter_map(|d| check.weekday(d)).collect());
    let hours = header.hours.iter().filter_map(|h| check.hours(h)).collect();
    let (holidays, holiday_spans) = holidays(&mut check, &raw.holidays, covers);
    let (working_days, working_day_spans) =
        working_days(&mut check, &raw.working_days, covers, &holidays);
    match (timezone, check.errors.is_empty()) {
        (Some(timezone), true) => Ok(CalendarFile {
            name: header.name.clone(),
            source: header.source.clone(),
            timezone,
            covers,
            covers_span,
            provisional,
            week,
            hours,
            open_on_observed: header.open_on_observed,
            holidays,
            holiday_spans,
            working_days,
            working_day_spans,
        }),
        _ => Err(check.errors),
    }
}

const TOP_KEYS: &[&str] = &["calendar", "holidays", "working_days"];
const HEADER_KEYS: &[&str] = &[
    "name",
    "timezone",
    "source",
    "status",
    "covers",
    "week",
    "hours",
    "open_on_observed",
];
const COVERS_KEYS: &[&str] = &["from", "to"];
const HOLIDAY_KEYS: &[&str] = &["name", "date", "from", "to", "observed"];
const WORKING_DAY_KEYS: &[&str] = &["name", "date"];

/// Every key the format does not know, each with its span and a suggestion.
fn unknown_keys(text: &str) -> Vec<DataError> {
    let (table, _) = DeTable::parse_recoverable(text);
    let mut errors = Vec::new();
    check_keys(table.get_ref(), TOP_KEYS, "the file", &mut errors);
    for (key, value) in table.get_ref() {
        match (key.get_ref().as_ref(), value.get_ref()) {
            ("calendar", DeValue::Table(header)) => {
                check_keys(header, HEADER_KEYS, "`[calendar]`", &mut errors);
                for (key, value) in header {
                    if let ("covers", DeValue::Table(covers)) =
                        (key.get_ref().as_ref(), value.get_ref())
                    {
                        check_keys(covers, COVERS_KEYS, "`covers`", &mut errors);
                    }
                }
            }
            ("holidays", DeValue::Array(items)) => {
                check_items(items, HOLIDAY_KEYS, "`[[holidays]]`", &mut errors)
            }
            ("working_days", DeValue::Array(items)) => {
                check_items(items, WORKING_DAY_KEYS, "`[[working_days]]`", &mut errors)
            }
            _ => {}
        }
    }
    errors
}

fn check_items(items: &DeArray<'_>, known: &[&str], place: &str, errors: &mut Vec<DataError>) {
    for item in items {
        if let DeValue::Table(table) = item.get_ref() {
            check_keys(table, known, place, errors);
        }
    }
}

fn check_keys(table: &DeTable<'_>, known: &[&str], place: &str, errors: &mut Vec<DataError>) {
    for key in table.keys() {
        let name: &str = key.get_ref().as_ref();
        if known.contains(&name) {
            continue;
        }
        let best = known
            .iter()
            .map(|k| (strsim::jaro_winkler(name, k), *k))
            .fold((0.0, ""), |a, b| if b.0 > a.0 { b } else { a });
        let help = match best.0 > 0.8 {
            true => format!("did you mean `{}`?", best.1),
            false => format!("known keys here: {}", known.join(", ")),
        };
        let message = format!("unknown key `{name}` in {place}");
        errors.push(DataError {
            code: "unknown-key",
            message,
            span: key.span(),
            help: Some(help),
        });
    }
}

fn syntax_error(e: &toml::de::Error, text: &str) -> DataError {
    let message = e.message().trim().to_owned();
    let code = if message.starts_with("unknown field") {
        "unknown-key"
    } else {
        "toml-syntax"
    };
    let span = e.span().unwrap_or(0..text.len());
    DataError {
        code,
        message,
        span,
        help: None,
    }
}

fn covers(check: &mut Checker, raw: &RawCovers) -> Option<(NaiveDate, NaiveDate)> {
    let (from, to) = (check.date(&raw.from), check.date(&raw.to));
    let (from, to) = (from?, to?);
    if to < from {
        let span = raw.from.span().start..raw.to.span().end;
        check.error(
            "inverted-covers",
            format!("`covers` ends ({to}) before it starts ({from})"),
            span,
            None,
        );
        return None;
    }
    Some((from, to))
}

fn outside(covers: Option<(NaiveDate, NaiveDate)>, date: NaiveDate) -> bool {
    covers.is_some_and(|(from, to)| date < from || date > to)
}

fn holiday(check: &mut Checker, raw: &Spanned<RawHoliday>) -> Option<Holiday> {
    let h = raw.get_ref();
    let (from, to) = match (&h.date, &h.from, &h.to) {
        (Some(date), None, None) => {
            let date = check.date(date)?;
            return Some(Holiday {
                name: h.name.clone(),
                from: date,
                to: date,
                observed: h.observed,
            });
        }
        (None, Some(from), Some(to)) => (from, to),
        _ => {
            let help =
                Some("write either `date = \"YYYY-MM-DD\"` or both `from` and `to`".to_owned());
            check.error(
                "holiday-dates",
                format!("holiday `{}` needs a date or a range", h.name),
                raw.span(),
                help,
            );
            return None;
        }
    };
    let (from, to) = (check.date(from), check.date(to));
    let (from, to) = (from?, to?);
    if to < from {
        check.error(
            "inverted-holiday",
            format!("holiday `{}` ends ({to}) before it starts ({from})", h.name),
            raw.span(),
            None,
        );
        return None;
    }
    Some(Holiday {
        name: h.name.clone(),
        from,
        to,
        observed: h.observed,
    })
}

type Covers = Option<(NaiveDate, NaiveDate)>;

fn holidays(
    check: &mut Checker,
    raw: &[Spanned<RawHoliday>],
    covers: Covers,
) -> (Vec<Holiday>, Vec<Range<usize>>) {
    let (mut out, mut spans) = (Vec::new(), Vec::new());
    let mut seen: BTreeMap<NaiveDate, String> = BTreeMap::new();
    for item in raw {
        let Some(h) = holiday(check, item) else {
            continue;
        };
        if outside(covers, h.from) || outside(covers, h.to) {
            let msg = format!(
                "holiday `{}` lies outside the dates the calendar covers",
                h.name
            );
            check.error("date-outside-calendar", msg, item.span(), None);
        }
        for date in h.from.iter_days().take_while(|d| *d <= h.to) {
            if let Some(other) = seen.insert(date, h.name.clone()) {
                let msg = format!("holiday `{}` repeats {date}, already in `{other}`", h.name);
                check.error("duplicate-holiday", msg, item.span(), None);
            }
        }
        out.push(h);
        spans.push(item.span());
    }
    (out, spans)
}

fn working_days(
    check: &mut Checker,
    raw: &[Spanned<RawWorkingDay>],
    covers: Covers,
    holidays: &[Holiday],
) -> (Vec<WorkingDay>, Vec<Range<usize>>) {
    let (mut out, mut spans): (Vec<WorkingDay>, Vec<_>) = (Vec::new(), Vec::new());
    for item in raw {
        let w = item.get_ref();
        let Some(date) = check.date(&w.date) else {
            continue;
        };
        if outside(covers, date) {
            check.error(
                "date-outside-calendar",
                format!("make-up working day {date} lies outside the dates the calendar covers"),
                item.span(),
                None,
            );
        }
        if let Some(h) = holidays.iter().find(|h| h.from <= date && date <= h.to) {
            check.error(
                "working-day-is-holiday",
                format!("make-up working day {date} falls on holiday `{}`", h.name),
                item.span(),
                None,
            );
        }
        if out.iter().any(|o| o.date == date) {
            check.error(
                "duplicate-working-day",
                format!("make-up working day {date} is listed twice"),
                item.span(),
                None,
            );
        }
        out.push(WorkingDay {
            name: w.name.clone(),
            date,
        });
        spans.push(item.span());
    }
    (out, spans)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[calendar]
name = "Test"
timezone = "Asia/Shanghai"
covers = { from = "2026-01-01", to = "2026-12-31" }
week = ["mon", "tue", "wed", "thu", "fri"]
hours = ["09:00-12:00", "13:30-17:30"]
source = "test"

[[holidays]]
name = "New Year's Day"
from = "2026-01-01"
to = "2026-01-03"

[[holidays]]
name = "One day"
date = "2026-05-01"
observed = true

[[working_days]]
name = "make-up"
date = "2026-01-04"
"#;

    #[test]
    fn parses_a_good_file() {
        let file = parse_calendar_file(GOOD).unwrap();
        assert_eq!(file.timezone, chrono_tz::Asia::Shanghai);
        assert_eq!(file.holidays.len(), 2);
        assert!(file.holidays[1].observed);
        assert_eq!(file.hours.len(), 2);
        let span = &file.working_day_spans[0];
        assert!(
            GOOD[span.clone()].contains("[[working_days]]"),
            "{span:?}: {}",
            &GOOD[span.clone()]
        );
        let spec = file.into_spec("good.toml");
        assert_eq!(spec.week.len(), 5);
        assert_eq!(spec.covers[0].source, "good.toml");
        assert!(!spec.covers[0].provisional);
        assert!(crate::calendar::Calendar::new(spec).is_ok());
    }

    #[test]
    fn reports_all_semantic_problems_at_once() {
        let text = GOOD
            .replace("\"2026-05-01\"", "\"2026-02-30\"")
            .replace("Asia/Shanghai", "Asia/Shangai")
            .replace("to = \"2026-01-03\"", "to = \"2025-12-31\"")
            .replace("\"13:30-17:30\"", "\"17:30-13:30\"")
            .replace("\"fri\"]", "\"fry\"]")
            + "\n[[working_days]]\nname = \"x\"\ndate = \"2027-01-02\"\n";
        let errors = parse_calendar_file(&text).unwrap_err();
        let codes: Vec<_> = errors.iter().map(|e| e.code).collect();
        assert_eq!(
            codes,
            [
                "invalid-timezone",
                "invalid-weekday",
                "inverted-hours",
                "inverted-holiday",
                "invalid-date",
                "date-outside-calendar"
            ]
        );
        assert_eq!(
            errors[0].help.as_deref(),
            Some("did you mean `Asia/Shanghai`?")
        );
        assert_eq!(&text[errors[4].span.clone()], "\"2026-02-30\"");
    }

    #[test]
    fn reports_duplicates_and_working_days_on_holidays() {
        let text = GOOD.to_owned()
            + "\n[[holidays]]\nname = \"again\"\ndate = \"2026-01-02\"\n"
            + "\n[[working_days]]\nname = \"bad\"\ndate = \"2026-01-03\"\n"
            + "\n[[working_days]]\nname = \"twice\"\ndate = \"2026-01-04\"\n";
        let errors = parse_calendar_file(&text).unwrap_err();
        let codes: Vec<_> = errors.iter().map(|e| e.code).collect();
        assert_eq!(
            codes,
            [
                "duplicate-holiday",
                "working-day-is-holiday",
                "duplicate-working-day"
            ]
        );
    }

    #[test]
    fn reports_syntax_and_unknown_keys_with_spans() {
        let errors = parse_calendar_file("[calendar\nname = 1").unwrap_err();
        assert_eq!(errors[0].code, "toml-syntax");
        let text = GOOD
            .replace("observed = true", "obsreved = true")
            .replace("source = ", "sorce = ")
            .replace("to = \"2026-12-31\"", "until = \"2026-12-31\"");
        let errors = parse_calendar_file(&text).unwrap_err();
        let found: Vec<_> = errors
            .iter()
            .map(|e| (e.code, &text[e.span.clone()], e.help.as_deref()))
            .collect();
        assert_eq!(
            found,
            [
                ("unknown-key", "sorce", Some("did you mean `source`?")),
                ("unknown-key", "until", Some("known keys here: from, to")),
                ("unknown-key", "obsreved", Some("did you mean `observed`?")),
            ]
        );
    }

    #[test]
    fn a_holiday_needs_dates() {
        let text = GOOD.replace("date = \"2026-05-01\"", "from = \"2026-05-01\"");
        let errors = parse_calendar_file(&text).unwrap_err();
        assert_eq!(errors[0].code, "holiday-dates");
    }
}
