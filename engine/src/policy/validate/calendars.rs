//! Calendars: included data files merged with the policy's own entries, checked by
//! the calendar layer, every problem mapped back to its line.

use std::sync::Arc;

use chrono::{NaiveDate, NaiveTime, Weekday};
use chrono_tz::Tz;
use indexmap::IndexMap;

use super::Validator;
use crate::calendar::data::{CalendarFile, DataError, parse_calendar_file};
use crate::calendar::{Calendar, CalendarError, CalendarSpec, Holiday, WorkingDay};
use crate::diagnostic::{Code, Diagnostic, Location, SourceId};
use crate::policy::locate::Seg;
use crate::policy::raw::{RawCalendar, RawDateEntry};

/// The name of the calendar a policy gets when it declares none: Monday to Friday,
/// all day, no holidays, in the policy's time zone.
pub(crate) const IMPLICIT_CALENDAR: &str = "default";

/// The policy's calendars, built.
pub(crate) struct Calendars {
    pub calendars: IndexMap<String, Arc<Calendar>>,
    pub default: String,
}

impl Calendars {
    pub fn names(&self) -> impl Iterator<Item = &str> + Clone {
        self.calendars.keys().map(String::as_str)
    }
}

/// Where the entries of a merged spec came from, to point errors at them.
#[derive(Default)]
struct Origins {
    /// Per holiday: its data file and span, or `None` for the policy's own entries.
    holidays: Vec<Option<(SourceId, std::ops::Range<usize>)>>,
    working_days: Vec<Option<(SourceId, std::ops::Range<usize>)>>,
}

impl Validator<'_, '_> {
    pub(super) fn calendars(&mut self, policy_tz: Option<Tz>) -> Calendars {
        let mut calendars = IndexMap::new();
        let raws: Vec<(&String, &RawCalendar)> = self.doc.calendars.iter().collect();
        for (name, raw) in raws {
            if let Some(cal) = self.calendar(name, raw, policy_tz) {
                calendars.insert(name.clone(), Arc::new(cal));
            }
        }
        let default = self.default_calendar(&mut calendars, policy_tz);
        Calendars { calendars, default }
    }

    fn default_calendar(
        &mut self,
        calendars: &mut IndexMap<String, Arc<Calendar>>,
        policy_tz: Option<Tz>,
    ) -> String {
        let declared: Vec<String> = self.doc.calendars.keys().cloned().collect();
        match self.doc.header.as_ref().and_then(|h| h.calendar.clone()) {
            Some(name) => {
                let path = [Seg::Key("policy"), Seg::Key("calendar")];
                self.check_known(
                    Code::UnknownCalendar,
                    "calendar",
                    &name,
                    declared.iter().map(String::as_str),
                    &path,
                );
                name
            }
            None if declared.len() == 1 => declared[0].clone(),
            None => {
                if declared.len() > 1 {
                    let d = Diagnostic::error(Code::MissingKey, "several calendars are declared, but `[policy]` does not say which is the default")
                        .at(self.at(&[Seg::Key("policy")]))
                        .with_help(format!("add `calendar = \"{}\"` to `[policy]`", declared[0]));
                    self.report(d);
                }
                let spec = plain_spec(IMPLICIT_CALENDAR, policy_tz.unwrap_or(Tz::UTC));
                if let Ok(cal) = Calendar::new(spec) {
                    calendars.insert(IMPLICIT_CALENDAR.to_string(), Arc::new(cal));
                }
                IMPLICIT_CALENDAR.to_string()
            }
        }
    }

    fn calendar(
        &mut self,
        name: &str,
        raw: &RawCalendar,
        policy_tz: Option<Tz>,
    ) -> Option<Calendar> {
        let at = |key: &'static str| [Seg::Key("calendars"), Seg::Key(name), Seg::Key(key)];
        let mut origins = Origins::default();
        let mut spec = self
            .included(name, raw, &mut origins)
            .unwrap_or_else(|| plain_spec(name, policy_tz.unwrap_or(Tz::UTC)));
        spec.name = name.to_string();
        if let Some(tz) = &raw.timezone {
            spec.timezone = self.timezone(tz, &at("timezone"))?;
        } else if raw.include.is_none() {
            spec.timezone = policy_tz?;
        }
        if let Some(week) = &raw.week {
            spec.week = self.week(name, week)?;
        }
        if !raw.hours.is_empty() {
            spec.hours = self.hours(name, &raw.hours)?;
        }
        spec.open_on_observed |= raw.open_on_observed;
        for (i, entry) in raw.holidays.iter().enumerate() {
            let path = [
                Seg::Key("calendars"),
                Seg::Key(name),
                Seg::Key("holidays"),
                Seg::Index(i),
            ];
            let (from, to) = self.date_entry(entry, &path)?;
            let name = entry.name.clone().unwrap_or_else(|| "holiday".into());
            spec.holidays.push(Holiday {
                name,
                from,
                to,
                observed: entry.observed,
            });
            origins.holidays.push(None);
        }
        for (i, entry) in raw.working_days.iter().enumerate() {
            let path = [
                Seg::Key("calendars"),
                Seg::Key(name),
                Seg::Key("working_days"),
                Seg::Index(i),
            ];
            let (date, _) = self.date_entry(entry, &path)?;
            let name = entry
                .name
                .clone()
                .unwrap_or_else(|| "make-up working day".into());
            spec.working_days.push(WorkingDay { name, date });
            origins.working_days.push(None);
        }
        let own_holidays = origins.holidays.iter().filter(|o| o.is_some()).count();
        let own_days = origins.working_days.iter().filter(|o| o.is_some()).count();
        let described = spec.clone();
        match Calendar::new(spec) {
            Ok(cal) => Some(cal),
            Err(errors) => {
                for e in errors {
                    let location =
                        self.calendar_error_location(name, &e, &origins, own_holidays, own_days);
                    let message = format!("calendar `{name}`: {}", describe(&e, &described));
                    let d = Diagnostic::error(calendar_code(e.code()), message).at(location);
                    self.report(d);
                }
                None
            }
        }
    }

    /// Reads and merges the calendar's included data files.
    fn included(
        &mut self,
        name: &str,
        raw: &RawCalendar,
        origins: &mut Origins,
    ) -> Option<CalendarSpec> {
        let files = raw.include.as_ref()?.as_slice().to_vec();
        let many = matches!(raw.include, Some(crate::policy::raw::OneOrMany::Many(_)));
        let mut merged: Option<CalendarSpec> = None;
        for (i, file) in files.iter().enumerate() {
            let mut path = vec![Seg::Key("calendars"), Seg::Key(name), Seg::Key("include")];
            if many {
                path.push(Seg::Index(i));
            }
            let (id, text) = self.include(file, &path)?;
            let data = match parse_calendar_file(&text) {
                Ok(data) => data,
                Err(errors) => {
                    for e in errors {
                        self.report(data_diagnostic(e, self.sources.locate(id, 0..0), |span| {
                            self.sources.locate(id, span)
                        }));
                    }
                    return None;
                }
            };
            merged = Some(self.merge(merged, data, id, origins, &path));
        }
        merged
    }

    fn merge(
        &mut self,
        base: Option<CalendarSpec>,
        data: CalendarFile,
        id: SourceId,
        origins: &mut Origins,
        path: &[Seg<'_>],
    ) -> CalendarSpec {
        origins
            .holidays
            .extend(data.holiday_spans.iter().map(|s| Some((id, s.clone()))));
        origins
            .working_days
            .extend(data.working_day_spans.iter().map(|s| Some((id, s.clone()))));
        let next = data.into_spec();
        let Some(mut base) = base else { return next };
        if base.timezone != next.timezone {
            let d = Diagnostic::error(
                Code::CalendarConflict,
                format!(
                    "included calendars disagree on the time zone: `{}` and `{}`",
                    base.timezone.name(),
                    next.timezone.name()
                ),
            )
            .at(self.at(path));
            self.report(d);
        }
        base.holidays.extend(next.holidays);
        base.working_days.extend(next.working_days);
        base.covers = match (base.covers, next.covers) {
            (Some(a), Some(b)) => Some((a.0.max(b.0), a.1.min(b.1))),
            (a, b) => a.or(b),
        };
        base
    }

    fn calendar_error_location(
        &self,
        name: &str,
        e: &CalendarError,
        origins: &Origins,
        own_holidays_from: usize,
        own_days_from: usize,
    ) -> Location {
        let at = |key: &'static str, i: Option<usize>| {
            let mut p = vec![Seg::Key("calendars"), Seg::Key(name), Seg::Key(key)];
            p.extend(i.map(Seg::Index));
            self.at(&p)
        };
        let entry = |list: &[Option<(SourceId, std::ops::Range<usize>)>],
                     index: usize,
                     key: &'static str,
                     own_from: usize| match list.get(index) {
            Some(Some((id, span))) => self.sources.locate(*id, span.clone()),
            _ => at(key, Some(index - own_from)),
        };
        match e {
            CalendarError::InvertedHours { index } => at("hours", Some(*index)),
            CalendarError::OverlappingHours { second, .. } => at("hours", Some(*second)),
            CalendarError::InvertedHoliday { index }
            | CalendarError::HolidayOutsideCovers { index } => {
                entry(&origins.holidays, *index, "holidays", own_holidays_from)
            }
            CalendarError::WorkingDayIsHoliday { index }
            | CalendarError::WorkingDayOutsideCovers { index } => {
                entry(&origins.working_days, *index, "working_days", own_days_from)
            }
            CalendarError::NoWorkingDays => at("week", None),
            _ => self.at(&[Seg::Key("calendars"), Seg::Key(name)]),
        }
    }

    fn week(&mut self, name: &str, week: &[String]) -> Option<Vec<Weekday>> {
        let mut out = Vec::new();
        for (i, day) in week.iter().enumerate() {
            match day.parse::<Weekday>() {
                Ok(d) => out.push(d),
                Err(_) => {
                    let path = [
                        Seg::Key("calendars"),
                        Seg::Key(name),
                        Seg::Key("week"),
                        Seg::Index(i),
                    ];
                    let d = Diagnostic::error(Code::WrongType, format!("`{day}` is not a weekday"))
                        .at(self.at(&path))
                        .with_help("weekdays are `mon`, `tue`, `wed`, `thu`, `fri`, `sat`, `sun`");
                    self.report(d);
                    return None;
                }
            }
        }
        Some(out)
    }

    fn hours(&mut self, name: &str, hours: &[String]) -> Option<Vec<(NaiveTime, NaiveTime)>> {
        let mut out = Vec::new();
        let mut ok = true;
        for (i, range) in hours.iter().enumerate() {
            let parse = |s: &str| NaiveTime::parse_from_str(s.trim(), "%H:%M").ok();
            match range
                .split_once('-')
                .and_then(|(a, b)| Some((parse(a)?, parse(b)?)))
            {
                Some(pair) => out.push(pair),
                None => {
                    let path = [
                        Seg::Key("calendars"),
                        Seg::Key(name),
                        Seg::Key("hours"),
                        Seg::Index(i),
                    ];
                    let d = Diagnostic::error(
                        Code::InvalidHours,
                        format!("`{range}` is not a range of hours"),
                    )
                    .at(self.at(&path))
                    .with_help("write business hours as `HH:MM-HH:MM`, e.g. `09:00-12:00`");
                    self.report(d);
                    ok = false;
                }
            }
        }
        ok.then_some(out)
    }

    /// A `{ date = ... }` or `{ from = ..., to = ... }` entry as an inclusive range.
    fn date_entry(
        &mut self,
        entry: &RawDateEntry,
        path: &[Seg<'_>],
    ) -> Option<(NaiveDate, NaiveDate)> {
        let sub = |key: &'static str| [path, &[Seg::Key(key)]].concat();
        match (&entry.date, &entry.from, &entry.to) {
            (Some(d), None, None) => {
                let d = self.date(d, &sub("date"))?;
                Some((d, d))
            }
            (None, Some(f), Some(t)) => {
                let (f, t) = (self.date(f, &sub("from")), self.date(t, &sub("to")));
                Some((f?, t?))
            }
            _ => {
                let d = Diagnostic::error(
                    Code::InvalidDate,
                    "a date entry needs `date`, or `from` and `to`",
                )
                .at(self.at(path));
                self.report(d);
                None
            }
        }
    }

    fn date(&mut self, text: &str, path: &[Seg<'_>]) -> Option<NaiveDate> {
        match NaiveDate::parse_from_str(text, "%Y-%m-%d") {
            Ok(d) => Some(d),
            Err(_) => {
                let d = Diagnostic::error(Code::InvalidDate, format!("`{text}` is not a date"))
                    .at(self.at(path))
                    .with_help("write a real date as `YYYY-MM-DD`, e.g. `2026-02-28`");
                self.report(d);
                None
            }
        }
    }
}

/// A calendar error in words a person knows: the holiday's name and dates rather
/// than its position in a list.
fn describe(e: &CalendarError, spec: &CalendarSpec) -> String {
    let covers = spec
        .covers
        .map(|(a, b)| format!("{a} to {b}"))
        .unwrap_or_default();
    let holiday = |i: &usize| {
        spec.holidays
            .get(*i)
            .map(|h| format!("holiday `{}` ({} to {})", h.name, h.from, h.to))
    };
    let day = |i: &usize| {
        spec.working_days
            .get(*i)
            .map(|w| format!("make-up working day `{}` ({})", w.name, w.date))
    };
    let text = match e {
        CalendarError::InvertedHoliday { index } => {
            holiday(index).map(|h| format!("{h} ends before it starts"))
        }
        CalendarError::HolidayOutsideCovers { index } => {
            holiday(index).map(|h| format!("{h} lies outside the dates its data covers ({covers})"))
        }
        CalendarError::WorkingDayIsHoliday { index } => {
            day(index).map(|d| format!("{d} falls on a holiday"))
        }
        CalendarError::WorkingDayOutsideCovers { index } => {
            day(index).map(|d| format!("{d} lies outside the dates its data covers ({covers})"))
        }
        _ => None,
    };
    text.unwrap_or_else(|| e.to_string())
}

fn plain_spec(name: &str, timezone: Tz) -> CalendarSpec {
    CalendarSpec {
        name: name.to_string(),
        timezone,
        week: vec![
            Weekday::Mon,
            Weekday::Tue,
            Weekday::Wed,
            Weekday::Thu,
            Weekday::Fri,
        ],
        hours: Vec::new(),
        holidays: Vec::new(),
        working_days: Vec::new(),
        open_on_observed: false,
        covers: None,
    }
}

/// The policy's diagnostic code for a calendar layer's code.
fn calendar_code(code: &str) -> Code {
    match code {
        "toml-syntax" => Code::TomlSyntax,
        "unknown-key" => Code::UnknownKey,
        "invalid-timezone" => Code::UnknownTimezone,
        "invalid-weekday" => Code::WrongType,
        "invalid-hours" => Code::InvalidHours,
        "inverted-hours" => Code::InvertedHours,
        "overlapping-hours" => Code::OverlappingHours,
        "inverted-holiday" | "inverted-covers" => Code::InvertedRange,
        "duplicate-holiday" | "duplicate-working-day" => Code::DuplicateName,
        "working-day-is-holiday" => Code::CalendarConflict,
        "no-working-days" => Code::NoWorkingDays,
        "holiday-outside-calendar" | "working-day-outside-calendar" | "date-outside-calendar" => {
            Code::DateOutsideCalendar
        }
        _ => Code::InvalidDate,
    }
}

pub(crate) fn data_diagnostic(
    e: DataError,
    fallback: Location,
    locate: impl Fn(std::ops::Range<usize>) -> Location,
) -> Diagnostic {
    let location = if e.span.is_empty() && e.span.start == 0 {
        fallback
    } else {
        locate(e.span.clone())
    };
    Diagnostic::error(calendar_code(e.code), e.message)
        .at(location)
        .with_help_opt(e.help)
}
