//! Explanations a regulator can read: the rule that made a deadline what it is, and
//! the intervals of a clock's life that counted, were paused, or were skipped.

use std::borrow::Cow;
use std::fmt::Write;

use chrono::{DateTime, Datelike, NaiveDate, Offset, TimeDelta, Timelike, Utc};
use serde::Serialize;

use super::deadline::{Deadline, Shift};
use super::{Calendar, CalendarError, DayKind, SlaDuration, next_day};

/// What happened to the time in one interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum IntervalKind {
    /// The time counted towards the target.
    Counted,
    /// The clock was paused.
    Paused,
    /// A non-working day (holiday or weekend) that a business target skips.
    NonWorking,
    /// Time outside business hours on a working day, skipped by business-time targets.
    OutsideHours,
    /// Time before counting began: the day of receipt for day-based targets, or a
    /// receipt outside business hours.
    NotCounted,
}

impl IntervalKind {
    /// The kebab-case name, as serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            IntervalKind::Counted => "counted",
            IntervalKind::Paused => "paused",
            IntervalKind::NonWorking => "non-working",
            IntervalKind::OutsideHours => "outside-hours",
            IntervalKind::NotCounted => "not-counted",
        }
    }
}

/// One interval of a clock's timeline, `[from, to)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Interval {
    /// The first instant.
    #[serde(serialize_with = "crate::instant::serialize")]
    pub from: DateTime<Utc>,
    /// The instant after the last.
    #[serde(serialize_with = "crate::instant::serialize")]
    pub to: DateTime<Utc>,
    /// What happened to the time.
    pub kind: IntervalKind,
    /// Why, when there is a reason to give: a holiday's name, `weekend`, a make-up
    /// working day's name, `day of receipt is not counted`.
    pub reason: Option<Cow<'static, str>>,
}

/// How one calendar day is labelled in a timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Label<'a> {
    kind: IntervalKind,
    reason: Option<Why<'a>>,
    /// Split by business hours.
    hourly: bool,
}

/// A reason: fixed text, or a name borrowed from the calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Why<'a> {
    Fixed(&'static str),
    Named(&'a str),
}

impl Why<'_> {
    fn as_str(&self) -> &str {
        match self {
            Why::Fixed(s) => s,
            Why::Named(s) => s,
        }
    }

    fn to_cow(self) -> Cow<'static, str> {
        match self {
            Why::Fixed(s) => Cow::Borrowed(s),
            Why::Named(s) => Cow::Owned(s.to_owned()),
        }
    }
}

const RECEIPT_DAY: Why<'static> = Why::Fixed("day of receipt is not counted");

impl Calendar {
    /// The timeline of a deadline's clock from its start to `until`, cut by closed
    /// `pauses`. Adjacent intervals of the same kind and reason are merged.
    pub fn timeline(
        &self,
        deadline: &Deadline,
        until: DateTime<Utc>,
        pauses: &[(DateTime<Utc>, DateTime<Utc>)],
    ) -> Result<Vec<Interval>, CalendarError> {
        let mut out = Vec::with_capacity(16);
        let start = deadline.effective_start;
        let late =
            (deadline.start < start).then_some(Why::Fixed("received outside business hours"));
        push(
            &mut out,
            deadline.start,
            start.min(until),
            IntervalKind::NotCounted,
            late,
        );
        let mut cursor = start;
        for (from, to) in pauses {
            let (from, to) = ((*from).clamp(cursor, until), (*to).clamp(cursor, until));
            self.running(&mut out, deadline, cursor, from)?;
            push(&mut out, from, to, IntervalKind::Paused, None);
            cursor = cursor.max(to);
        }
        self.running(&mut out, deadline, cursor, until)?;
        Ok(out)
    }

    /// Labels the running time `[a, b)` day by day, one run of equal days at a time.
    fn running(
        &self,
        out: &mut Vec<Interval>,
        d: &Deadline,
        a: DateTime<Utc>,
        b: DateTime<Utc>,
    ) -> Result<(), CalendarError> {
        if b <= a {
            return Ok(());
        }
        let received = self.local_date(d.effective_start);
        let last = self.local_date(b - TimeDelta::nanoseconds(1));
        let (mut run_from, mut date) = (a, self.local_date(a));
        let mut label = self.label(&d.target, received, date)?;
        // Only business targets look at the kind of day (and need the data to cover it).
        let kind_of = |date| match d.target.is_business() {
            true => self.day_kind(date),
            false => Ok(DayKind::Working),
        };
        let mut kind = kind_of(date)?;
        while date < last {
            // Days of one kind after the day of receipt share a label: skip them at once.
            if !label.hourly && date > received {
                date = match d.target.is_business() {
                    true => self.last_of_same_kind(date, last),
                    false => last,
                };
                if date == last {
                    break;
                }
            }
            let next = next_day(date)?;
            let next_kind = kind_of(next)?;
            // Days of one kind after the day of receipt share a label.
            if !label.hourly && next_kind == kind && date > received {
                date = next;
                continue;
            }
            kind = next_kind;
            let next_label = self.label(&d.target, received, next)?;
            if label.hourly || next_label != label {
                let boundary = self.start_of_day(next)?;
                self.emit(out, label, date, run_from, boundary)?;
                (run_from, label) = (boundary, next_label);
            }
            date = next;
        }
        self.emit(out, label, date, run_from, b)
    }

    fn label(
        &self,
        target: &SlaDuration,
        received: NaiveDate,
        date: NaiveDate,
    ) -> Result<Label<'_>, CalendarError> {
        let plain = |kind, reason| Label {
            kind,
            reason,
            hourly: false,
        };
        if target.is_day_based() && date <= received {
            return Ok(plain(IntervalKind::NotCounted, Some(RECEIPT_DAY)));
        }
        if !target.is_business() {
            return Ok(plain(IntervalKind::Counted, None));
        }
        let kind = self.day_kind(date)?;
        Ok(match kind {
            DayKind::Weekend => plain(IntervalKind::NonWorking, Some(Why::Fixed("weekend"))),
            DayKind::Holiday(_) => plain(
                IntervalKind::NonWorking,
                Some(Why::Named(self.day_reason(kind))),
            ),
            _ if !target.is_day_based() && !self.hours().is_empty() => Label {
                kind: IntervalKind::Counted,
                reason: None,
                hourly: true,
            },
            DayKind::MakeUp(_) => plain(
                IntervalKind::Counted,
                Some(Why::Named(self.day_reason(kind))),
            ),
            DayKind::Working => plain(IntervalKind::Counted, None),
        })
    }

    /// Pushes `[x, y)` with a label; hourly labels are cut by the business hours of `date`.
    fn emit(
        &self,
        out: &mut Vec<Interval>,
        label: Label<'_>,
        date: NaiveDate,
        x: DateTime<Utc>,
        y: DateTime<Utc>,
    ) -> Result<(), CalendarError> {
        if !label.hourly {
            push(out, x, y, label.kind, label.reason);
            return Ok(());
        }
        let mut cursor = x;
        for index in 0..self.span_count() {
            let (open, close) = self.span(date, index)?;
            let (open, close) = (open.clamp(x, y), close.clamp(x, y));
            push(out, cursor, open, IntervalKind::OutsideHours, None);
            push(out, open, close, IntervalKind::Counted, None);
            cursor = cursor.max(close);
        }
        push(out, cursor, y, IntervalKind::OutsideHours, None);
        Ok(())
    }

    /// The rules that made a deadline what it is, one line each, e.g.
    /// `15 days from receipt 2026-02-13 (Asia/Shanghai): end of 2026-02-28`.
    pub fn rules(&self, d: &Deadline) -> Vec<String> {
        let tz = self.timezone();
        let mut lines = Vec::with_capacity(3);
        if d.effective_start != d.start {
            lines.push(format!(
                "received {} outside business hours: counted from {} ({tz})",
                local(self, d.start),
                local(self, d.effective_start)
            ));
        }
        lines.push(self.main_rule(d));
        if let Some(line) = shift_line(self, d) {
            lines.push(line);
        }
        if let (Some(from), Some(day)) = (d.rolled_from, d.day) {
            let why = self
                .day_kind(from)
                .map_or("not a working day", |k| self.day_reason(k));
            lines.push(format!(
                "{from} is not a working day ({why}): rolled to the end of {day}"
            ));
        }
        lines
    }
}

impl Calendar {
    /// `15 days from receipt 2026-02-13 (Asia/Shanghai): end of 2026-02-28`. Built by
    /// hand rather than with `format!`: explanations are on the hot path.
    fn main_rule(&self, d: &Deadline) -> String {
        let tz = self.timezone().name();
        let Some(day) = d.base_day else {
            let (from, to) = (local(self, d.effective_start), local(self, d.base));
            return format!("{} from {from} ({tz}): {to}", d.target);
        };
        let mut line = String::with_capacity(112);
        push_number(&mut line, i64::from(d.target.count()), 1);
        line.push(' ');
        line.push_str(d.target.unit_word());
        line.push_str(" from receipt ");
        push_date(&mut line, self.local_date(d.effective_start));
        line.push_str(" (");
        line.push_str(tz);
        let business_hours = self.hours().last().filter(|_| d.target.is_business());
        match business_hours {
            Some((_, close)) => {
                line.push_str("): close of business on ");
                push_date(&mut line, day);
                let _ = write!(line, " at {}", close.format("%H:%M"));
            }
            None if d.target.is_business() => line.push_str("): end of working day "),
            None => line.push_str("): end of "),
        }
        if business_hours.is_none() {
            push_date(&mut line, day);
        }
        line
    }
}

/// Appends `n` with at least `width` digits.
fn push_number(s: &mut String, n: i64, width: usize) {
    let mut digits = [0u8; 20];
    let (mut rest, mut len) = (n.unsigned_abs(), 0);
    loop {
        digits[len] = b'0' + (rest % 10) as u8;
        (rest, len) = (rest / 10, len + 1);
        if rest == 0 && len >= width {
            break;
        }
    }
    if n < 0 {
        s.push('-');
    }
    s.extend(digits[..len].iter().rev().map(|d| char::from(*d)));
}

/// Appends `YYYY-MM-DD`.
fn push_date(s: &mut String, date: NaiveDate) {
    push_number(s, i64::from(date.year()), 4);
    s.push('-');
    push_number(s, i64::from(date.month()), 2);
    s.push('-');
    push_number(s, i64::from(date.day()), 2);
}

fn shift_line(cal: &Calendar, d: &Deadline) -> Option<String> {
    if d.shift == Shift::None {
        return None;
    }
    let paused = human(d.paused);
    let to = local(cal, d.at);
    Some(match d.shift {
        Shift::None => return None,
        Shift::Elapsed(_) => {
            format!("paused {paused} in total, which does not count: moved to {to}")
        }
        Shift::Business(b) => format!(
            "paused {paused}, of which {} business time: moved to {to}",
            human(b)
        ),
        Shift::Days(n) => {
            format!("paused {paused} in total, rounded up to {n} whole day(s): moved to {to}")
        }
        Shift::BusinessDays(n) => format!(
            "paused {paused} in total, rounded up to {n} whole working day(s) of business time: moved to {to}"
        ),
    })
}

/// An instant in the calendar's local time, minutes precision, with its offset:
/// `2026-03-09 14:30 +08:00`. Written by hand: chrono's format strings are slow.
/// An instant in the calendar's time zone with its offset: `2026-03-02 17:30 +08:00`.
pub(crate) fn local(cal: &Calendar, at: DateTime<Utc>) -> String {
    let t = at.with_timezone(&cal.timezone());
    let offset = t.offset().fix().local_minus_utc();
    let (sign, offset) = if offset < 0 {
        ('-', -offset)
    } else {
        ('+', offset)
    };
    format!(
        "{} {:02}:{:02} {sign}{:02}:{:02}",
        t.date_naive(),
        t.hour(),
        t.minute(),
        offset / 3600,
        offset / 60 % 60
    )
}

/// `2 days 3 h 5 min`.
fn human(delta: TimeDelta) -> String {
    let minutes = delta.num_minutes();
    let (days, hours, mins) = (minutes / 1440, minutes % 1440 / 60, minutes % 60);
    match (days, hours, mins) {
        (0, 0, m) => format!("{m} min"),
        (0, h, m) => format!("{h} h {m} min"),
        (d, h, m) => format!("{d} day(s) {h} h {m} min"),
    }
}

fn push(
    out: &mut Vec<Interval>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    kind: IntervalKind,
    reason: Option<Why<'_>>,
) {
    if to <= from {
        return;
    }
    if let Some(last) = out.last_mut()
        && last.to == from
        && last.kind == kind
        && last.reason.as_deref() == reason.as_ref().map(Why::as_str)
    {
        last.to = to;
        return;
    }
    out.push(Interval {
        from,
        to,
        kind,
        reason: reason.map(Why::to_cow),
    });
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn writes_numbers_and_dates_by_hand() {
        let mut s = String::new();
        push_number(&mut s, 7, 2);
        s.push(' ');
        push_number(&mut s, 0, 1);
        s.push(' ');
        push_number(&mut s, -12, 4);
        s.push(' ');
        push_date(&mut s, NaiveDate::from_ymd_opt(2026, 2, 28).unwrap());
        assert_eq!(s, "07 0 -0012 2026-02-28");
    }

    #[test]
    fn humanises_durations() {
        assert_eq!(human(TimeDelta::minutes(5)), "5 min");
        assert_eq!(human(TimeDelta::minutes(125)), "2 h 5 min");
        assert_eq!(human(TimeDelta::hours(47)), "1 day(s) 23 h 0 min");
    }

    #[test]
    fn merges_adjacent_intervals_of_one_kind() {
        let t = |h: i64| DateTime::<Utc>::from_timestamp(h * 3600, 0).unwrap();
        let mut out = Vec::new();
        push(&mut out, t(0), t(1), IntervalKind::Counted, None);
        push(&mut out, t(1), t(2), IntervalKind::Counted, None);
        push(&mut out, t(2), t(2), IntervalKind::Paused, None);
        push(
            &mut out,
            t(2),
            t(3),
            IntervalKind::NonWorking,
            Some(Why::Fixed("weekend")),
        );
        push(
            &mut out,
            t(3),
            t(4),
            IntervalKind::NonWorking,
            Some(Why::Named("Spring Festival")),
        );
        let kinds: Vec<_> = out
            .iter()
            .map(|i| (i.kind.as_str(), i.to - i.from))
            .collect();
        assert_eq!(
            kinds,
            [
                ("counted", TimeDelta::hours(2)),
                ("non-working", TimeDelta::hours(1)),
                ("non-working", TimeDelta::hours(1))
            ]
        );
    }
}
