//! Calendars: included data files merged with the policy's own entries, checked by
//! the calendar layer, every problem mapped back to its line.

use std::sync::Arc;

use chrono::{NaiveDate, NaiveTime, Weekday};
use chrono_tz::Tz;
use indexmap::IndexMap;

use super::Validator;
use crate::calendar::data::{CalendarFile, DataError, parse_calendar_file};
use crate::calendar::{Calendar, CalendarError, CalendarSpec, Holiday, WorkingDay};
use crate::diagnostic::{Diagnostic, Location, SourceId};
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
    /// The data files, in include order.
    files: Vec<String>,
}

/// What one data file says about one date.
#[derive(Debug)]
enum Entry {
    None,
    Holiday {
        index: usize,
        name: String,
        observed: bool,
    },
    WorkingDay {
        index: usize,
        name: String,
    },
}

impl Entry {
    fn of(file: &CalendarFile, date: NaiveDate) -> Entry {
        if let Some((index, h)) = file
            .holidays
            .iter()
            .enumerate()
            .find(|(_, h)| h.from <= date && date <= h.to)
        {
            let (name, observed) = (h.name.clone(), h.observed);
            return Entry::Holiday {
                index,
                name,
                observed,
            };
        }
        match file
            .working_days
            .iter()
            .enumerate()
            .find(|(_, w)| w.date == date)
        {
            Some((index, w)) => Entry::WorkingDay {
                index,
                name: w.name.clone(),
            },
            None => Entry::None,
        }
    }

    /// Whether two entries say the same, wherever they are in their files.
    fn says_same(&self, other: &Entry) -> bool {
        match (self, other) {
            (Entry::None, Entry::None) => true,
            (
                Entry::Holiday {
                    name: a,
                    observed: x,
                    ..
                },
                Entry::Holiday {
                    name: b,
                    observed: y,
                    ..
                },
            ) => a == b && x == y,
            (Entry::WorkingDay { name: a, .. }, Entry::WorkingDay { name: b, .. }) => a == b,
            _ => false,
        }
    }

    fn span(&self, file: &CalendarFile) -> Option<std::ops::Range<usize>> {
        match self {
            Entry::None => None,
            Entry::Holiday { index, .. } => file.holiday_spans.get(*index).cloned(),
            Entry::WorkingDay { index, .. } => file.working_day_spans.get(*index).cloned(),
        }
    }

    fn describe(&self) -> String {
        match self {
            Entry::None => "no entry (a plain day of the week)".to_string(),
            Entry::Holiday {
                name,
                observed: true,
                ..
            } => format!("holiday `{name}` (observed)"),
            Entry::Holiday { name, .. } => format!("holiday `{name}`"),
            Entry::WorkingDay { name, .. } => format!("make-up working day `{name}`"),
        }
    }
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
                    "unknown-calendar",
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
                    let d = Diagnostic::error("missing-key", "several calendars are declared, but `[policy]` does not say which is the default")
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
                    let message = format!(
                        "calendar `{name}`{}: {}",
                        files_text(&origins.files),
                        describe(&e, &described)
                    );
                    let d = Diagnostic::error(calendar_code(e.code()), message).at(location);
                    self.report(d);
                }
                None
            }
        }
    }

    /// Reads the calendar's included data files and joins them: their covered
    /// ranges add up (a gap between two files stays uncovered), and a date two files
    /// both cover must have the same entry in both.
    fn included(
        &mut self,
        name: &str,
        raw: &RawCalendar,
        origins: &mut Origins,
    ) -> Option<CalendarSpec> {
        let files = raw.include.as_ref()?.as_slice().to_vec();
        let many = matches!(raw.include, Some(crate::policy::raw::OneOrMany::Many(_)));
        let mut read: Vec<(SourceId, CalendarFile)> = Vec::new();
        let mut broken = false;
        for (i, file) in files.iter().enumerate() {
            let mut path = vec![Seg::Key("calendars"), Seg::Key(name), Seg::Key("include")];
            if many {
                path.push(Seg::Index(i));
            }
            let Some((id, text)) = self.include(file, &path) else {
                broken = true;
                continue;
            };
            match parse_calendar_file(&text) {
                Ok(data) => read.push((id, data)),
                Err(errors) => {
                    broken = true;
                    for e in errors {
                        self.report(data_diagnostic(e, self.sources.locate(id, 0..0), |span| {
                            self.sources.locate(id, span)
                        }));
                    }
                }
            }
        }
        if broken {
            return None;
        }
        self.check_joined(name, &read);
        let mut merged: Option<CalendarSpec> = None;
        for (id, data) in read {
            merged = Some(self.merge(merged, data, id, origins));
        }
        merged
    }

    /// Files of one calendar agree on the time zone, and on every date they both cover.
    fn check_joined(&mut self, name: &str, files: &[(SourceId, CalendarFile)]) {
        for (j, (b_id, b)) in files.iter().enumerate() {
            for (a_id, a) in &files[..j] {
                if a.timezone != b.timezone {
                    let message = format!(
                        "calendar `{name}`: `{}` and `{}` disagree on the time zone: `{}` and `{}`",
                        self.sources.name(*a_id),
                        self.sources.name(*b_id),
                        a.timezone.name(),
                        b.timezone.name()
                    );
                    let location = self.sources.locate(*b_id, b.covers_span.clone());
                    self.report(Diagnostic::error("calendar-conflict", message).at(location));
                }
                self.check_overlap(name, (*a_id, a), (*b_id, b));
            }
        }
    }

    /// Reports the first date two files both cover where their entries differ.
    fn check_overlap(
        &mut self,
        name: &str,
        (a_id, a): (SourceId, &CalendarFile),
        (b_id, b): (SourceId, &CalendarFile),
    ) {
        let (Some((a_from, a_to)), Some((b_from, b_to))) = (a.covers, b.covers) else {
            return;
        };
        let (from, to) = (a_from.max(b_from), a_to.min(b_to));
        for date in from.iter_days().take_while(|d| *d <= to) {
            let (ea, eb) = (Entry::of(a, date), Entry::of(b, date));
            if ea.says_same(&eb) {
                continue;
            }
            let line = |id: SourceId, file: &CalendarFile, e: &Entry| {
                let span = e.span(file).unwrap_or_else(|| file.covers_span.clone());
                self.sources.locate(id, span)
            };
            let (la, lb) = (line(a_id, a, &ea), line(b_id, b, &eb));
            let message = format!(
                "calendar `{name}`: `{}` line {} and `{}` line {} disagree on {date}: {} and {}",
                la.file,
                la.line,
                lb.file,
                lb.line,
                ea.describe(),
                eb.describe()
            );
            let d = Diagnostic::error("calendar-conflict", message)
                .at(lb)
                .with_help("files of one calendar may overlap only where they say the same; remove the date from one of them");
            self.report(d);
            return;
        }
    }

    fn merge(
        &mut self,
        base: Option<CalendarSpec>,
        data: CalendarFile,
        id: SourceId,
        origins: &mut Origins,
    ) -> CalendarSpec {
        origins
            .holidays
            .extend(data.holiday_spans.iter().map(|s| Some((id, s.clone()))));
        origins
            .working_days
            .extend(data.working_day_spans.iter().map(|s| Some((id, s.clone()))));
        origins.files.push(self.sources.name(id).to_string());
        let next = data.into_spec(self.sources.name(id));
        let Some(mut base) = base else { return next };
        base.holidays.extend(next.holidays);
        base.working_days.extend(next.working_days);
        base.covers.extend(next.covers);
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
                    let d = Diagnostic::error("wrong-type", format!("`{day}` is not a weekday"))
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
                        "invalid-hours",
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
                    "invalid-date",
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
                let d = Diagnostic::error("invalid-date", format!("`{text}` is not a date"))
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
        .iter()
        .map(|c| format!("{} to {}", c.from, c.to))
        .collect::<Vec<_>>()
        .join(", ");
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

/// ` (from `a.toml`, `b.toml`)`, or nothing for a calendar without data files.
fn files_text(files: &[String]) -> String {
    match files.is_empty() {
        true => String::new(),
        false => {
            let list: Vec<String> = files.iter().map(|f| format!("`{f}`")).collect();
            format!(" (from {})", list.join(", "))
        }
    }
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
        covers: Vec::new(),
    }
}

/// The policy's diagnostic code for a calendar layer's code.
fn calendar_code(code: &str) -> &'static str {
    match code {
        "toml-syntax" => "toml-syntax",
        "unknown-key" => "unknown-key",
        "invalid-timezone" => "unknown-timezone",
        "invalid-weekday" | "invalid-status" => "wrong-type",
        "invalid-hours" => "invalid-hours",
        "inverted-hours" => "inverted-hours",
        "overlapping-hours" => "overlapping-hours",
        "inverted-holiday" | "inverted-covers" => "inverted-range",
        "duplicate-holiday" | "duplicate-working-day" => "duplicate-name",
        "working-day-is-holiday" => "calendar-conflict",
        "no-working-days" => "no-working-days",
        "holiday-outside-calendar" | "working-day-outside-calendar" | "date-outside-calendar" => {
            "date-outside-calendar"
        }
        _ => "invalid-date",
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
