//! Business calendars: which days are working days and which hours count, in one
//! IANA time zone, and the deadline arithmetic built on them.
//!
//! Nothing here reads the system clock: every instant is passed in, so the same
//! inputs always give the same deadline. A [`Calendar`] is built once from a plain
//! [`CalendarSpec`] (the policy layer or [`data::parse_calendar_file`] makes one);
//! [`Calendar::new`] checks it and precomputes the kind of every day in its covered
//! range, so a deadline costs a few array reads per day.
//!
//! Semantics, documented once:
//!
//! - The local date of an instant is taken in the calendar's time zone (23:30 UTC on
//!   13 February is 14 February in Beijing).
//! - "End of day D" is the first instant of D+1 in local time (local midnight). Where
//!   local midnight does not exist (a DST gap at midnight) it is the first instant
//!   after the gap; where a local time is ambiguous (a DST overlap) the earlier
//!   instant is used. Both rules apply to business hours' opening and closing times.
//! - Business hours are half-open intervals `[open, close)` of local time on working
//!   days; an empty list means the whole day. A business-hours deadline that uses up
//!   exactly the last minute of a day ends at that day's close, not the next opening.
//! - A calendar's data covers one or more ranges of dates ([`Coverage`], one per data
//!   file; none means the calendar is complete by itself). A date before the data
//!   begins is an error ([`CalendarError::BeforeData`]), never a guess. A date after
//!   it, or in a gap between two files, is counted on the working week alone (no
//!   holidays assumed), and a deadline that needed such a day, or a day of data
//!   marked provisional, says so ([`Provisional`]): it is computed, used for
//!   warnings and breaches, and shown as provisional until the data is loaded.
//! - See [`duration`] for what each unit means and [`DeadlineOptions`] for rolling and
//!   after-hours receipt.

pub mod data;
pub mod deadline;
pub mod duration;
pub mod explain;
mod memo;
pub mod provisional;

use std::collections::BTreeMap;

use chrono::{
    DateTime, Datelike, Days, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta,
    TimeZone, Utc, Weekday,
};
use serde::Serialize;
use thiserror::Error;

pub use deadline::{Deadline, DeadlineOptions};
pub use duration::{DurationError, SlaDuration};
pub use explain::{Interval, IntervalKind};
pub use provisional::Provisional;

/// A holiday: one day or an inclusive range of days when the institution is closed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Holiday {
    /// The holiday's name, as an explanation shows it ("Spring Festival").
    pub name: String,
    /// The first day.
    pub from: NaiveDate,
    /// The last day, inclusive.
    pub to: NaiveDate,
    /// An observed-in-lieu day (the holiday fell on a weekend); calendars with
    /// `open_on_observed` treat it as a working day.
    pub observed: bool,
}

/// A make-up working day: a day outside the working week that is worked (China's 调休).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WorkingDay {
    /// Why it is worked ("Spring Festival make-up working day").
    pub name: String,
    /// The day.
    pub date: NaiveDate,
}

/// Plain, already-parsed input for [`Calendar::new`].
#[derive(Debug, Clone, PartialEq)]
pub struct CalendarSpec {
    /// The calendar's name.
    pub name: String,
    /// The IANA time zone every local date and time is taken in.
    pub timezone: chrono_tz::Tz,
    /// The working weekdays.
    pub week: Vec<Weekday>,
    /// Business hours as `[open, close)` local times; empty means the whole day.
    pub hours: Vec<(NaiveTime, NaiveTime)>,
    /// Holidays.
    pub holidays: Vec<Holiday>,
    /// Make-up working days.
    pub working_days: Vec<WorkingDay>,
    /// Observed-only holidays are working days (the US Federal Reserve Banks).
    pub open_on_observed: bool,
    /// The ranges of dates the data covers, one per data file, in any order; empty
    /// means the calendar is complete by itself (no date is out of its data).
    pub covers: Vec<Coverage>,
}

/// One range of dates a calendar's data covers: what one data file holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Coverage {
    /// The first day covered.
    pub from: NaiveDate,
    /// The last day covered, inclusive.
    pub to: NaiveDate,
    /// Where the data comes from (the data file's name), for messages.
    pub source: String,
    /// The data is marked `status = "provisional"`: deadlines that count its days
    /// are provisional too.
    pub provisional: bool,
}

impl Coverage {
    /// Whether `date` lies in the range.
    pub fn contains(&self, date: NaiveDate) -> bool {
        self.from <= date && date <= self.to
    }
}

/// A problem with a calendar spec, or arithmetic that left the calendar's data.
///
/// Spec problems name the offending item by its index in the spec.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CalendarError {
    /// Business hours whose close is not after their open.
    #[error("business hours #{index} close before they open")]
    InvertedHours {
        /// Index into `hours`.
        index: usize,
    },
    /// Two business-hours intervals overlap.
    #[error("business hours #{first} and #{second} overlap")]
    OverlappingHours {
        /// Index into `hours`.
        first: usize,
        /// Index into `hours`.
        second: usize,
    },
    /// A holiday that ends before it starts.
    #[error("holiday #{index} ends before it starts")]
    InvertedHoliday {
        /// Index into `holidays`.
        index: usize,
    },
    /// A make-up working day that is also a holiday.
    #[error("make-up working day #{index} falls on a holiday")]
    WorkingDayIsHoliday {
        /// Index into `working_days`.
        index: usize,
    },
    /// A holiday outside the covered range.
    #[error("holiday #{index} lies outside the dates the calendar covers")]
    HolidayOutsideCovers {
        /// Index into `holidays`.
        index: usize,
    },
    /// A make-up working day outside the covered range.
    #[error("make-up working day #{index} lies outside the dates the calendar covers")]
    WorkingDayOutsideCovers {
        /// Index into `working_days`.
        index: usize,
    },
    /// A covered range that ends before it starts.
    #[error("the range `{file}` covers ends before it starts")]
    InvertedCovers {
        /// The data file.
        file: String,
    },
    /// A working week without any working day.
    #[error("the working week has no working day")]
    NoWorkingDays,
    /// Arithmetic needed a date before the calendar's data begins.
    #[error("date `{date}` is before the calendar's data begins ({begins}, `{file}`)")]
    BeforeData {
        /// The date that was needed.
        date: NaiveDate,
        /// The first day of the data.
        begins: NaiveDate,
        /// The data file that begins it.
        file: String,
    },
    /// A date beyond what the date type can hold.
    #[error("date arithmetic overflowed")]
    Overflow,
}

impl CalendarError {
    /// A stable kebab-case code for this error.
    pub fn code(&self) -> &'static str {
        match self {
            CalendarError::InvertedHours { .. } => "inverted-hours",
            CalendarError::OverlappingHours { .. } => "overlapping-hours",
            CalendarError::InvertedHoliday { .. } => "inverted-holiday",
            CalendarError::WorkingDayIsHoliday { .. } => "working-day-is-holiday",
            CalendarError::HolidayOutsideCovers { .. } => "holiday-outside-calendar",
            CalendarError::WorkingDayOutsideCovers { .. } => "working-day-outside-calendar",
            CalendarError::InvertedCovers { .. } => "inverted-covers",
            CalendarError::NoWorkingDays => "no-working-days",
            CalendarError::BeforeData { .. } => "date-outside-calendar",
            CalendarError::Overflow => "date-overflow",
        }
    }
}

/// What a day is, by the calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DayKind {
    /// A working weekday.
    Working,
    /// A make-up working day: index into the spec's `working_days`.
    MakeUp(usize),
    /// A day outside the working week.
    Weekend,
    /// A holiday: index into the spec's `holidays`.
    Holiday(usize),
}

impl DayKind {
    /// True for working days (working weekdays and make-up days).
    pub fn is_working(self) -> bool {
        matches!(self, DayKind::Working | DayKind::MakeUp(_))
    }
}

/// Covered ranges longer than this (about 200 years) are not precomputed: their days
/// are looked up one by one, which is slower but bounded in memory.
const MAX_DENSE_DAYS: i64 = 73_050;

/// A checked business calendar, ready for deadline arithmetic.
#[derive(Debug, Clone)]
pub struct Calendar {
    spec: CalendarSpec,
    /// Working weekdays, indexed by `Weekday::num_days_from_monday`.
    week: [bool; 7],
    // INVARIANT: sorted by open time, non-overlapping, each open < close.
    hours: Vec<(NaiveTime, NaiveTime)>,
    /// Days that differ from the working week, for unbounded calendars.
    exceptions: BTreeMap<NaiveDate, DayKind>,
    /// The kind of every covered day, indexed by days since `covers.0`.
    dense: Vec<DayKind>,
    /// How many of the covered days up to each (itself included) are working days,
    /// indexed like `dense`.
    working_through: Vec<u32>,
    /// The first instant of every covered day as seconds since the epoch (a whole
    /// number: time zones' offsets are), indexed like `dense` (empty if any could
    /// not be computed; then each is computed when needed).
    day_starts: Vec<i64>,
    /// The first and last day of all the data, when the spec has coverage.
    span: Option<(NaiveDate, NaiveDate)>,
    /// The first day of the data as days from the common era, for indexing `dense`.
    dense_base: i32,
    /// This calendar's identity, for the deadlines it remembers.
    id: memo::CalendarId,
}

impl Calendar {
    /// Checks a spec and precomputes the kind of each covered day.
    ///
    /// Reports every problem found, not only the first.
    pub fn new(mut spec: CalendarSpec) -> Result<Calendar, Vec<CalendarError>> {
        let mut errors = Vec::new();
        spec.covers.sort_by_key(|c| (c.from, c.to));
        let hours = check_hours(&spec.hours, &mut errors);
        check_covers(&spec, &mut errors);
        let exceptions = exceptions(&spec, &mut errors);
        if spec.week.is_empty() {
            errors.push(CalendarError::NoWorkingDays);
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let mut week = [false; 7];
        for day in &spec.week {
            week[day.num_days_from_monday() as usize] = true;
        }
        let span = spec.covers.first().map(|first| {
            let last = spec.covers.iter().map(|c| c.to).max().unwrap_or(first.to);
            (first.from, last)
        });
        let spec_base = span.map_or(0, |(from, _)| from.num_days_from_ce());
        let mut calendar = Calendar {
            span,
            spec,
            week,
            hours,
            exceptions,
            dense: Vec::new(),
            working_through: Vec::new(),
            day_starts: Vec::new(),
            dense_base: spec_base,
            id: memo::CalendarId::fresh(),
        };
        calendar.dense = calendar.dense_days();
        calendar.working_through = (calendar.dense.iter())
            .scan(0, |n, kind| {
                *n += u32::from(kind.is_working());
                Some(*n)
            })
            .collect();
        calendar.day_starts = calendar.day_starts();
        Ok(calendar)
    }

    /// The covered days, when there are few enough to precompute.
    fn dense_range(&self) -> Option<impl Iterator<Item = NaiveDate>> {
        let (from, to) = self.span?;
        ((to - from).num_days() <= MAX_DENSE_DAYS)
            .then(|| from.iter_days().take_while(move |d| *d <= to))
    }

    fn dense_days(&self) -> Vec<DayKind> {
        let Some(days) = self.dense_range() else {
            return Vec::new();
        };
        days.map(|d| self.sparse_kind(d)).collect()
    }

    fn day_starts(&self) -> Vec<i64> {
        let Some(days) = self.dense_range() else {
            return Vec::new();
        };
        days.map(|d| Ok(self.local_instant(d, NaiveTime::MIN)?.timestamp()))
            .collect::<Result<_, CalendarError>>()
            .unwrap_or_default()
    }

    fn sparse_kind(&self, date: NaiveDate) -> DayKind {
        match self.exceptions.get(&date) {
            Some(kind) => *kind,
            None if self.week[date.weekday().num_days_from_monday() as usize] => DayKind::Working,
            None => DayKind::Weekend,
        }
    }

    /// The calendar's name.
    pub fn name(&self) -> &str {
        &self.spec.name
    }

    /// The calendar's time zone.
    pub fn timezone(&self) -> chrono_tz::Tz {
        self.spec.timezone
    }

    /// Business hours, sorted; empty means the whole day.
    pub fn hours(&self) -> &[(NaiveTime, NaiveTime)] {
        &self.hours
    }

    /// What a day is; an error before the data begins. A day after the data, or in
    /// a gap between data files, is what the working week makes it.
    pub fn day_kind(&self, date: NaiveDate) -> Result<DayKind, CalendarError> {
        match self.span {
            None => Ok(self.sparse_kind(date)),
            Some((begins, _)) if date < begins => Err(self.before_data(date)),
            Some(_) => Ok(self
                .dense_index(date)
                .and_then(|i| self.dense.get(i).copied())
                .unwrap_or_else(|| self.sparse_kind(date))),
        }
    }

    fn before_data(&self, date: NaiveDate) -> CalendarError {
        let first = self.spec.covers.first();
        CalendarError::BeforeData {
            date,
            begins: first.map_or(date, |c| c.from),
            file: first.map(|c| c.source.clone()).unwrap_or_default(),
        }
    }

    /// The ranges of dates the data covers, sorted by their first day.
    pub fn covers(&self) -> &[Coverage] {
        &self.spec.covers
    }

    /// The first day of the data; `None` for a calendar complete by itself.
    pub fn data_begins(&self) -> Option<NaiveDate> {
        self.span.map(|(from, _)| from)
    }

    /// The last day of the firm data: every day from the data's first to this one is
    /// covered by data not marked provisional. `None` for a calendar complete by
    /// itself (it never runs out); the day before the data begins when its first
    /// file is provisional.
    pub fn firm_until(&self) -> Option<NaiveDate> {
        let (begins, _) = self.span?;
        let mut until = begins.pred_opt().unwrap_or(begins);
        for c in &self.spec.covers {
            if c.provisional || c.from > until.succ_opt().unwrap_or(until) {
                break;
            }
            until = until.max(c.to);
        }
        Some(until)
    }

    /// The index of a covered date in `dense`.
    fn dense_index(&self, date: NaiveDate) -> Option<usize> {
        self.span?;
        usize::try_from(date.num_days_from_ce() - self.dense_base).ok()
    }

    /// The working days in `first..=last` by the precomputed days, when the covered
    /// range holds both; `None` sends the caller to the day-by-day count.
    fn working_days_dense(&self, first: NaiveDate, last: NaiveDate) -> Option<i64> {
        if last < first {
            return Some(0);
        }
        let through = |date| self.working_through.get(self.dense_index(date)?).copied();
        let before = match self.dense_index(first)? {
            0 => 0,
            i => *self.working_through.get(i - 1)?,
        };
        Some(i64::from(through(last)? - before))
    }

    /// The `n`th working day after `date` by the precomputed days, when the covered
    /// range holds it; `None` sends the caller to the day-by-day walk (and its error).
    pub(crate) fn nth_working_day_dense(&self, date: NaiveDate, n: u32) -> Option<NaiveDate> {
        let start = self.dense_index(date)?;
        let mut left = n;
        for (index, kind) in self.dense.iter().enumerate().skip(start + 1) {
            if kind.is_working() {
                left -= 1;
                if left == 0 {
                    let offset = i32::try_from(index).ok()?;
                    return NaiveDate::from_num_days_from_ce_opt(self.dense_base + offset);
                }
            }
        }
        None
    }

    /// The last day in `date..=last` reached from `date` through days of the same
    /// kind, by the precomputed days; `date` itself for unbounded calendars.
    pub(crate) fn last_of_same_kind(&self, date: NaiveDate, last: NaiveDate) -> NaiveDate {
        let (Some(first), Some(end)) = (self.dense_index(date), self.dense_index(last)) else {
            return date;
        };
        let Some((head, rest)) = self.dense.get(first..=end).and_then(|d| d.split_first()) else {
            return date;
        };
        let same = rest.iter().take_while(|k| *k == head).count();
        i32::try_from(first + same)
            .ok()
            .and_then(|offset| NaiveDate::from_num_days_from_ce_opt(self.dense_base + offset))
            .unwrap_or(date)
    }

    /// Whether a day is a working day; an error outside the covered range.
    pub fn is_working_day(&self, date: NaiveDate) -> Result<bool, CalendarError> {
        Ok(self.day_kind(date)?.is_working())
    }

    /// Why a day is what it is: the holiday's or make-up day's name, `weekend`, or
    /// `working day`.
    pub fn day_reason(&self, kind: DayKind) -> &str {
        match kind {
            DayKind::Working => "working day",
            DayKind::Weekend => "weekend",
            DayKind::Holiday(i) => self.spec.holidays.get(i).map_or("holiday", |h| &h.name),
            DayKind::MakeUp(i) => self
                .spec
                .working_days
                .get(i)
                .map_or("make-up working day", |w| &w.name),
        }
    }

    /// The local date of an instant in the calendar's time zone.
    pub fn local_date(&self, at: DateTime<Utc>) -> NaiveDate {
        match self.cached_local_date(at) {
            Some(date) => date,
            None => at.with_timezone(&self.spec.timezone).date_naive(),
        }
    }

    /// [`Self::local_date`] by the precomputed first instants of the covered days
    /// (the day whose start is the last at or before `at`), without asking the time
    /// zone; `None` outside them (before the first day, or on the last, whose end
    /// is not among them).
    fn cached_local_date(&self, at: DateTime<Utc>) -> Option<NaiveDate> {
        // Whole seconds (a day starts on one; `at >= start` holds of `at`'s whole
        // second as of `at`).
        let (starts, at) = (&self.day_starts, at.timestamp());
        let first = *starts.first()?;
        if at < first {
            return None;
        }
        // Days are 24 hours but for a time zone's changes, so the day is the guess
        // or one near it.
        let guess = usize::try_from((at - first) / 86_400).ok()?;
        let mut i = guess.min(starts.len() - 1);
        while starts[i] > at {
            i -= 1;
        }
        while i + 1 < starts.len() && starts[i + 1] <= at {
            i += 1;
        }
        if i + 1 == starts.len() {
            return None;
        }
        let offset = i32::try_from(i).ok()?;
        NaiveDate::from_num_days_from_ce_opt(self.dense_base + offset)
    }

    /// The instant of a local date and time: the earlier one in a DST overlap, the
    /// first instant after the gap for a time inside a DST gap.
    pub fn local_instant(
        &self,
        date: NaiveDate,
        time: NaiveTime,
    ) -> Result<DateTime<Utc>, CalendarError> {
        let mut local = NaiveDateTime::new(date, time);
        // Gaps are at most a day long (Pacific/Apia skipped 30 December 2011).
        for _ in 0..=(2 * 24 * 60) {
            match self.spec.timezone.from_local_datetime(&local) {
                LocalResult::Single(t) => return Ok(t.with_timezone(&Utc)),
                LocalResult::Ambiguous(early, _) => return Ok(early.with_timezone(&Utc)),
                LocalResult::None => {
                    local = local
                        .checked_add_signed(TimeDelta::minutes(1))
                        .ok_or(CalendarError::Overflow)?;
                }
            }
        }
        Err(CalendarError::Overflow)
    }

    /// The first instant of a local date.
    pub fn start_of_day(&self, date: NaiveDate) -> Result<DateTime<Utc>, CalendarError> {
        let cached = self.dense_index(date).and_then(|i| self.day_starts.get(i));
        match cached.and_then(|s| DateTime::from_timestamp(*s, 0)) {
            Some(start) => Ok(start),
            None => self.local_instant(date, NaiveTime::MIN),
        }
    }

    /// The end of a local date: the first instant of the next day.
    pub fn end_of_day(&self, date: NaiveDate) -> Result<DateTime<Utc>, CalendarError> {
        self.start_of_day(next_day(date)?)
    }

    /// How many business-hours intervals a working day has (1 when hours are unset).
    pub(crate) fn span_count(&self) -> usize {
        self.hours.len().max(1)
    }

    /// The `index`th business-hours interval of a date as instants.
    pub(crate) fn span(
        &self,
        date: NaiveDate,
        index: usize,
    ) -> Result<(DateTime<Utc>, DateTime<Utc>), CalendarError> {
        match self.hours.get(index) {
            Some((open, close)) => Ok((
                self.local_instant(date, *open)?,
                self.local_instant(date, *close)?,
            )),
            None => Ok((self.start_of_day(date)?, self.end_of_day(date)?)),
        }
    }

    /// The number of working days `D` with `local_date(a) < D <= local_date(b)`;
    /// negative when `b` is before `a`.
    pub fn business_days_between(
        &self,
        a: DateTime<Utc>,
        b: DateTime<Utc>,
    ) -> Result<i64, CalendarError> {
        if b < a {
            return self.business_days_between(b, a).map(|n| -n);
        }
        let (first, last) = (next_day(self.local_date(a))?, self.local_date(b));
        if let Some(count) = self.working_days_dense(first, last) {
            return Ok(count);
        }
        let mut count = 0;
        for date in first.iter_days().take_while(|d| *d <= last) {
            count += i64::from(self.is_working_day(date)?);
        }
        Ok(count)
    }
}

/// The day after `date`.
pub(crate) fn next_day(date: NaiveDate) -> Result<NaiveDate, CalendarError> {
    date.checked_add_days(Days::new(1))
        .ok_or(CalendarError::Overflow)
}

fn check_hours(
    hours: &[(NaiveTime, NaiveTime)],
    errors: &mut Vec<CalendarError>,
) -> Vec<(NaiveTime, NaiveTime)> {
    let mut valid = Vec::new();
    for (index, (open, close)) in hours.iter().enumerate() {
        match close <= open {
            true => errors.push(CalendarError::InvertedHours { index }),
            false => valid.push((index, (*open, *close))),
        }
    }
    valid.sort_by_key(|(_, span)| *span);
    // The interval reaching furthest so far, to catch overlaps that are not adjacent.
    let mut furthest: Option<(usize, NaiveTime)> = None;
    for (index, (open, close)) in &valid {
        if let Some((other, end)) = furthest
            && *open < end
        {
            let (first, second) = (other.min(*index), other.max(*index));
            errors.push(CalendarError::OverlappingHours { first, second });
        }
        if furthest.is_none_or(|(_, end)| *close > end) {
            furthest = Some((*index, *close));
        }
    }
    valid.into_iter().map(|(_, span)| span).collect()
}

fn check_covers(spec: &CalendarSpec, errors: &mut Vec<CalendarError>) {
    if spec.covers.is_empty() {
        return;
    }
    let mut inverted = false;
    for c in spec.covers.iter().filter(|c| c.to < c.from) {
        let file = c.source.clone();
        errors.push(CalendarError::InvertedCovers { file });
        inverted = true;
    }
    if inverted {
        return;
    }
    let inside = |d: NaiveDate| spec.covers.iter().any(|c| c.contains(d));
    for (index, h) in spec.holidays.iter().enumerate() {
        if h.from <= h.to && !(inside(h.from) && inside(h.to)) {
            errors.push(CalendarError::HolidayOutsideCovers { index });
        }
    }
    for (index, w) in spec.working_days.iter().enumerate() {
        if !inside(w.date) {
            errors.push(CalendarError::WorkingDayOutsideCovers { index });
        }
    }
}

/// Holidays and make-up days by date. The first holiday listed for a date names it.
fn exceptions(
    spec: &CalendarSpec,
    errors: &mut Vec<CalendarError>,
) -> BTreeMap<NaiveDate, DayKind> {
    let mut days = BTreeMap::new();
    for (index, h) in spec.holidays.iter().enumerate() {
        if h.to < h.from {
            errors.push(CalendarError::InvertedHoliday { index });
            continue;
        }
        if h.observed && spec.open_on_observed {
            continue;
        }
        for date in h.from.iter_days().take_while(|d| *d <= h.to) {
            days.entry(date).or_insert(DayKind::Holiday(index));
        }
    }
    for (index, w) in spec.working_days.iter().enumerate() {
        if matches!(days.get(&w.date), Some(DayKind::Holiday(_))) {
            errors.push(CalendarError::WorkingDayIsHoliday { index });
        } else {
            days.insert(w.date, DayKind::MakeUp(index));
        }
    }
    days
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn time(s: &str) -> NaiveTime {
        NaiveTime::parse_from_str(s, "%H:%M").unwrap()
    }

    fn cover(from: &str, to: &str, source: &str, provisional: bool) -> Coverage {
        Coverage {
            from: date(from),
            to: date(to),
            source: source.into(),
            provisional,
        }
    }

    fn spec() -> CalendarSpec {
        CalendarSpec {
            name: "test".into(),
            timezone: chrono_tz::Asia::Shanghai,
            week: vec![
                Weekday::Mon,
                Weekday::Tue,
                Weekday::Wed,
                Weekday::Thu,
                Weekday::Fri,
            ],
            hours: vec![],
            holidays: vec![Holiday {
                name: "Spring Festival".into(),
                from: date("2026-02-15"),
                to: date("2026-02-23"),
                observed: false,
            }],
            working_days: vec![WorkingDay {
                name: "make-up".into(),
                date: date("2026-02-14"),
            }],
            open_on_observed: false,
            covers: vec![cover("2026-01-01", "2026-12-31", "cn-2026.toml", false)],
        }
    }

    #[test]
    fn reports_every_spec_problem_by_index() {
        let mut s = spec();
        s.hours = vec![
            (time("13:00"), time("17:00")),
            (time("12:00"), time("11:00")),
            (time("09:00"), time("13:30")),
        ];
        s.holidays.push(Holiday {
            name: "x".into(),
            from: date("2026-03-02"),
            to: date("2026-03-01"),
            observed: false,
        });
        s.working_days.push(WorkingDay {
            name: "y".into(),
            date: date("2026-02-16"),
        });
        s.working_days.push(WorkingDay {
            name: "z".into(),
            date: date("2027-01-02"),
        });
        s.week.clear();
        let errors = Calendar::new(s).unwrap_err();
        let codes: Vec<_> = errors.iter().map(CalendarError::code).collect();
        assert_eq!(
            codes,
            [
                "inverted-hours",
                "overlapping-hours",
                "working-day-outside-calendar",
                "inverted-holiday",
                "working-day-is-holiday",
                "no-working-days"
            ]
        );
        assert!(errors.contains(&CalendarError::InvertedHours { index: 1 }));
        assert!(errors.contains(&CalendarError::OverlappingHours {
            first: 0,
            second: 2
        }));
        assert!(errors.contains(&CalendarError::WorkingDayIsHoliday { index: 1 }));
    }

    #[test]
    fn classifies_days() {
        let cal = Calendar::new(spec()).unwrap();
        assert!(
            cal.is_working_day(date("2026-02-14")).unwrap(),
            "make-up Saturday"
        );
        assert!(
            !cal.is_working_day(date("2026-02-16")).unwrap(),
            "Spring Festival"
        );
        assert!(
            !cal.is_working_day(date("2026-02-28")).unwrap(),
            "plain Saturday here"
        );
        assert!(cal.is_working_day(date("2026-02-13")).unwrap());
        assert_eq!(
            cal.day_reason(cal.day_kind(date("2026-02-16")).unwrap()),
            "Spring Festival"
        );
        let err = cal.is_working_day(date("2025-12-31")).unwrap_err();
        assert_eq!(err.code(), "date-outside-calendar");
        assert_eq!(
            err.to_string(),
            "date `2025-12-31` is before the calendar's data begins (2026-01-01, `cn-2026.toml`)"
        );
        // After the data: the working week alone.
        assert!(cal.is_working_day(date("2027-01-01")).unwrap(), "a Friday");
        assert!(
            !cal.is_working_day(date("2027-01-02")).unwrap(),
            "a Saturday"
        );
    }

    #[test]
    fn days_beyond_the_data_or_in_a_gap_are_provisional() {
        let mut s = spec();
        s.covers = vec![
            cover("2028-01-01", "2028-12-31", "cn-2028.toml", true),
            cover("2026-01-01", "2026-12-31", "cn-2026.toml", false),
        ];
        let cal = Calendar::new(s).unwrap();
        assert_eq!(cal.data_begins(), Some(date("2026-01-01")));
        assert_eq!(cal.firm_until(), Some(date("2026-12-31")));
        assert_eq!(
            cal.provisional_in(date("2026-03-01"), date("2026-12-31")),
            None
        );
        let gap = cal
            .provisional_in(date("2026-12-20"), date("2027-01-10"))
            .unwrap();
        assert_eq!(gap.date, date("2027-01-01"));
        assert_eq!(
            gap.reason,
            "2027 data not loaded: counted Monday to Friday, no holidays"
        );
        let marked = cal
            .provisional_in(date("2028-05-01"), date("2028-05-02"))
            .unwrap();
        assert_eq!(marked.reason, "2028 data is provisional (`cn-2028.toml`)");
        let after = cal
            .provisional_in(date("2029-03-02"), date("2029-03-03"))
            .unwrap();
        assert_eq!(
            after.reason,
            "2029 data not loaded: counted Monday to Friday, no holidays"
        );
        assert_eq!(
            cal.covers()[0].source,
            "cn-2026.toml",
            "sorted by first day"
        );
    }

    #[test]
    fn a_calendar_without_data_files_never_runs_out() {
        let mut s = spec();
        s.covers = Vec::new();
        let cal = Calendar::new(s).unwrap();
        assert_eq!(cal.firm_until(), None);
        assert_eq!(
            cal.provisional_in(date("2030-01-01"), date("2031-01-01")),
            None
        );
    }

    #[test]
    fn local_date_uses_the_calendar_zone() {
        let cal = Calendar::new(spec()).unwrap();
        let at: DateTime<Utc> = "2026-02-13T23:30:00Z".parse().unwrap();
        assert_eq!(cal.local_date(at), date("2026-02-14"));
    }

    #[test]
    fn local_dates_from_the_day_starts_are_the_time_zones_own() {
        // Zones with summer time, one that skipped a day (Apia, 30 December 2011),
        // and one without changes: every quarter hour over the covered days, and an
        // hour before and after them.
        for (zone, from, to) in [
            (chrono_tz::Europe::London, "2026-01-01", "2026-12-31"),
            (chrono_tz::America::New_York, "2026-03-01", "2026-11-30"),
            (chrono_tz::Pacific::Apia, "2011-12-20", "2012-01-10"),
            (chrono_tz::Australia::Lord_Howe, "2026-03-30", "2026-04-10"),
            (chrono_tz::Asia::Shanghai, "2026-01-01", "2026-12-31"),
        ] {
            let mut s = spec();
            (s.timezone, s.holidays, s.working_days) = (zone, vec![], vec![]);
            s.covers = vec![cover(from, to, "test", false)];
            let cal = Calendar::new(s).unwrap();
            assert!(!cal.day_starts.is_empty(), "{zone}: day starts");
            let first = cal.start_of_day(date(from)).unwrap() - TimeDelta::hours(1);
            let last = cal.start_of_day(date(to)).unwrap() + TimeDelta::hours(25);
            let mut at = first;
            while at < last {
                let own = at.with_timezone(&zone).date_naive();
                assert_eq!(cal.local_date(at), own, "{zone} at {at}");
                at += TimeDelta::minutes(15);
            }
        }
    }

    #[test]
    fn local_instant_handles_gaps_and_overlaps() {
        let mut s = spec();
        s.timezone = chrono_tz::Europe::London;
        s.covers = Vec::new();
        let cal = Calendar::new(s).unwrap();
        // 01:30 does not exist on 29 March 2026 in London: the gap ends at 01:00 UTC.
        let gap = cal
            .local_instant(date("2026-03-29"), time("01:30"))
            .unwrap();
        assert_eq!(
            gap,
            "2026-03-29T01:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        // 01:30 happens twice on 25 October 2026: the earlier is 00:30 UTC.
        let overlap = cal
            .local_instant(date("2026-10-25"), time("01:30"))
            .unwrap();
        assert_eq!(
            overlap,
            "2026-10-25T00:30:00Z".parse::<DateTime<Utc>>().unwrap()
        );
    }

    #[test]
    fn counts_business_days_between() {
        let cal = Calendar::new(spec()).unwrap();
        let a: DateTime<Utc> = "2026-02-13T08:00:00Z".parse().unwrap();
        let b: DateTime<Utc> = "2026-02-25T08:00:00Z".parse().unwrap();
        // 14 (make-up), 24, 25.
        assert_eq!(cal.business_days_between(a, b).unwrap(), 3);
        assert_eq!(cal.business_days_between(b, a).unwrap(), -3);
    }

    /// Counted from the precomputed days, business days between two instants are
    /// the working days counted one by one, within the data, across its edges and
    /// past its end.
    #[test]
    fn business_days_between_are_the_working_days_counted_one_by_one() {
        let cal = Calendar::new(spec()).unwrap();
        let by_day = |a: DateTime<Utc>, b: DateTime<Utc>| {
            let (first, last) = (next_day(cal.local_date(a)).unwrap(), cal.local_date(b));
            (first.iter_days().take_while(|d| *d <= last))
                .map(|d| i64::from(cal.is_working_day(d).unwrap()))
                .sum::<i64>()
        };
        let day = TimeDelta::hours(23);
        let start: DateTime<Utc> = "2026-01-01T03:00:00Z".parse().unwrap();
        for i in 0..40 {
            for j in [0, 1, 2, 7, 13, 40, 200, 380, 420] {
                let a = start + day * (i * 11);
                let b = a + day * j;
                assert_eq!(
                    cal.business_days_between(a, b).unwrap(),
                    by_day(a, b),
                    "{a} {b}"
                );
            }
        }
        let before: DateTime<Utc> = "2025-12-30T03:00:00Z".parse().unwrap();
        assert!(cal.business_days_between(before, start).is_err());
    }

    #[test]
    fn a_very_long_covered_range_is_looked_up_day_by_day() {
        let mut s = spec();
        s.covers = vec![cover("1900-01-01", "2400-12-31", "long.toml", false)];
        let cal = Calendar::new(s).unwrap();
        assert!(cal.dense.is_empty());
        assert!(!cal.is_working_day(date("2026-02-16")).unwrap());
        assert!(cal.is_working_day(date("2026-02-14")).unwrap());
        assert_eq!(
            cal.nth_working_day(date("2026-02-13"), 2).unwrap(),
            date("2026-02-24")
        );
        assert!(cal.is_working_day(date("1899-12-31")).is_err());
        assert!(
            cal.is_working_day(date("2401-01-01")).unwrap(),
            "after the data: a Monday"
        );
    }

    #[test]
    fn unbounded_calendar_has_no_range_error() {
        let mut s = spec();
        s.covers = Vec::new();
        let cal = Calendar::new(s).unwrap();
        assert!(cal.is_working_day(date("2030-01-02")).unwrap());
        assert!(!cal.is_working_day(date("2026-02-16")).unwrap());
    }
}
