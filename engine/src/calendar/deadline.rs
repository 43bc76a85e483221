//! Deadline arithmetic: from a start instant, a target and options to an instant.
//!
//! Paused time does not count. How a pause moves a deadline depends on the unit:
//!
//! - `minutes`, `hours`: by the paused elapsed time, exactly.
//! - `business minutes`, `business hours`: by the business time inside the pauses.
//! - `days`, `weeks`, `months`: by the paused elapsed time rounded **up** to whole
//!   days (a pause of 1 hour moves the deadline by 1 day), added to the last day.
//! - `business days`: by the business time inside the pauses divided by the length
//!   of a business day (the sum of the business hours, or 24 hours), rounded **up**
//!   to whole working days.
//!
//! Only pause time after the effective start counts; a pause can never bring a
//! deadline forward.

use chrono::{DateTime, Days, Months, NaiveDate, TimeDelta, Utc};

use super::memo::{Key, remembered};
use super::{Calendar, CalendarError, Provisional, SlaDuration, next_day};

/// Per-SLA options of the deadline arithmetic.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct DeadlineOptions {
    /// A `days`, `weeks` or `months` deadline whose last day is not a working day
    /// moves to the end of the next working day. Other units are unaffected:
    /// business units always end on a working day, elapsed hours are exact.
    pub roll_to_working_day: bool,
    /// A start outside business hours (or on a non-working day) counts from the next
    /// opening, e.g. a complaint received on Friday evening counts from Monday's
    /// opening: for day-based units Monday is then the (uncounted) day of receipt.
    pub from_next_working_day_after_hours: bool,
}

/// How pauses moved a deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shift {
    /// No pause counted.
    None,
    /// Moved by elapsed time.
    Elapsed(TimeDelta),
    /// Moved by business time.
    Business(TimeDelta),
    /// Moved by whole calendar days (paused time rounded up).
    Days(u32),
    /// Moved by whole working days (paused business time rounded up).
    BusinessDays(u32),
}

/// A computed deadline with everything needed to explain it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deadline {
    /// The start as given.
    pub start: DateTime<Utc>,
    /// The start after the after-hours option.
    pub effective_start: DateTime<Utc>,
    /// The target applied.
    pub target: SlaDuration,
    /// The deadline.
    pub at: DateTime<Utc>,
    /// The deadline before pauses and rolling.
    pub base: DateTime<Utc>,
    /// Day-based units: the last day before pauses and rolling.
    pub base_day: Option<NaiveDate>,
    /// Total paused elapsed time that counted.
    pub paused: TimeDelta,
    /// How the pauses moved the deadline.
    pub shift: Shift,
    /// Day-based units: the last day, after pauses and rolling.
    pub day: Option<NaiveDate>,
    /// The last day before rolling, when the deadline was rolled.
    pub rolled_from: Option<NaiveDate>,
    /// Set when the deadline counted a day that firm data does not cover (see
    /// [`Calendar::provisional_in`]): it is computed, enforced and shown as
    /// provisional.
    pub provisional: Option<Provisional>,
}

impl Calendar {
    /// The deadline of `target` from `start`, without options or pauses.
    pub fn deadline(
        &self,
        start: DateTime<Utc>,
        target: &SlaDuration,
    ) -> Result<DateTime<Utc>, CalendarError> {
        Ok(self
            .deadline_with(start, target, DeadlineOptions::default(), &[])?
            .at)
    }

    /// The deadline of `target` from `start` with options and closed pauses
    /// `(from, to)`, with the steps that made it (worked out once, then found in
    /// the thread's memo while it stays there).
    pub fn deadline_with(
        &self,
        start: DateTime<Utc>,
        target: &SlaDuration,
        options: DeadlineOptions,
        pauses: &[(DateTime<Utc>, DateTime<Utc>)],
    ) -> Result<Deadline, CalendarError> {
        let key = Key {
            calendar: self.id,
            start,
            target: *target,
            options,
            pauses,
        };
        remembered(key, || self.work_out(start, target, options, pauses))
    }

    /// [`Self::deadline_with`], worked out.
    pub(super) fn work_out(
        &self,
        start: DateTime<Utc>,
        target: &SlaDuration,
        options: DeadlineOptions,
        pauses: &[(DateTime<Utc>, DateTime<Utc>)],
    ) -> Result<Deadline, CalendarError> {
        let effective_start = match options.from_next_working_day_after_hours {
            true => self.next_business_instant(start)?,
            false => start,
        };
        let paused = pauses
            .iter()
            .map(|(from, to)| (*to - (*from).max(effective_start)).max(TimeDelta::zero()))
            .sum::<TimeDelta>();
        let mut d = Deadline {
            start,
            effective_start,
            target: *target,
            at: effective_start,
            base: effective_start,
            base_day: None,
            paused,
            shift: Shift::None,
            day: None,
            rolled_from: None,
            provisional: None,
        };
        match target {
            SlaDuration::Minutes(_) | SlaDuration::Hours(_) => self.elapsed(&mut d)?,
            SlaDuration::BusinessMinutes(_) | SlaDuration::BusinessHours(_) => {
                self.business_time(&mut d, pauses)?
            }
            SlaDuration::Days(_) | SlaDuration::Weeks(_) | SlaDuration::Months(_) => {
                self.calendar_days(&mut d, options)?
            }
            SlaDuration::BusinessDays(n) => self.business_days(&mut d, *n, pauses)?,
        }
        d.provisional = self.provisional_of(&d, pauses);
        Ok(d)
    }

    /// Whether the days the arithmetic looked at are all covered by firm data: the
    /// days from receipt to the opening it counted from, every day a business target
    /// counted (pauses included), and the days a roll looked at. Elapsed time and
    /// calendar days need no day's kind.
    fn provisional_of(
        &self,
        d: &Deadline,
        pauses: &[(DateTime<Utc>, DateTime<Utc>)],
    ) -> Option<Provisional> {
        let date = |t: DateTime<Utc>| self.local_date(t);
        let opened = (d.effective_start != d.start)
            .then(|| self.provisional_in(date(d.start), date(d.effective_start)))
            .flatten();
        let counted = match d.target {
            SlaDuration::BusinessMinutes(_)
            | SlaDuration::BusinessHours(_)
            | SlaDuration::BusinessDays(_) => {
                let first = pauses
                    .iter()
                    .map(|p| date(p.0))
                    .fold(date(d.effective_start), NaiveDate::min);
                let last = pauses
                    .iter()
                    .map(|p| date(p.1))
                    .fold(date(d.at), NaiveDate::max);
                self.provisional_in(first, last)
            }
            _ => match (d.rolled_from, d.day) {
                (Some(from), Some(day)) => self.provisional_in(from, day),
                _ => None,
            },
        };
        opened.or(counted)
    }

    fn elapsed(&self, d: &mut Deadline) -> Result<(), CalendarError> {
        let exact = target_delta(&d.target);
        d.base = d
            .effective_start
            .checked_add_signed(exact)
            .ok_or(CalendarError::Overflow)?;
        d.at = d
            .base
            .checked_add_signed(d.paused)
            .ok_or(CalendarError::Overflow)?;
        if d.paused > TimeDelta::zero() {
            d.shift = Shift::Elapsed(d.paused);
        }
        Ok(())
    }

    fn business_time(
        &self,
        d: &mut Deadline,
        pauses: &[(DateTime<Utc>, DateTime<Utc>)],
    ) -> Result<(), CalendarError> {
        let exact = target_delta(&d.target);
        let mut paused = TimeDelta::zero();
        for (from, to) in pauses {
            paused += self.business_time_between((*from).max(d.effective_start), *to)?;
        }
        d.base = self.add_business_time(d.effective_start, exact)?;
        d.at = self.add_business_time(d.effective_start, exact + paused)?;
        if paused > TimeDelta::zero() {
            d.shift = Shift::Business(paused);
        }
        Ok(())
    }

    fn calendar_days(
        &self,
        d: &mut Deadline,
        options: DeadlineOptions,
    ) -> Result<(), CalendarError> {
        let received = self.local_date(d.effective_start);
        let base_day = match d.target {
            SlaDuration::Months(n) => received.checked_add_months(Months::new(n)),
            SlaDuration::Weeks(n) => received.checked_add_days(Days::new(7 * u64::from(n))),
            _ => received.checked_add_days(Days::new(u64::from(d.target.count()))),
        }
        .ok_or(CalendarError::Overflow)?;
        let shift_days = round_up_days(d.paused, TimeDelta::days(1));
        let mut day = base_day
            .checked_add_days(Days::new(u64::from(shift_days)))
            .ok_or(CalendarError::Overflow)?;
        if options.roll_to_working_day && !self.is_working_day(day)? {
            d.rolled_from = Some(day);
            day = self.nth_working_day(day, 1)?;
        }
        d.base_day = Some(base_day);
        d.base = self.end_of_day(base_day)?;
        d.day = Some(day);
        d.at = self.end_of_day(day)?;
        if shift_days > 0 {
            d.shift = Shift::Days(shift_days);
        }
        Ok(())
    }

    fn business_days(
        &self,
        d: &mut Deadline,
        n: u32,
        pauses: &[(DateTime<Utc>, DateTime<Utc>)],
    ) -> Result<(), CalendarError> {
        let received = self.local_date(d.effective_start);
        let mut paused = TimeDelta::zero();
        for (from, to) in pauses {
            paused += self.business_time_between((*from).max(d.effective_start), *to)?;
        }
        let shift_days = round_up_days(paused, self.business_day_length());
        let base_day = self.nth_working_day(received, n)?;
        let day = self.nth_working_day(base_day, shift_days)?;
        d.base_day = Some(base_day);
        d.base = self.close_of_business(base_day)?.max(d.effective_start);
        d.day = Some(day);
        d.at = self.close_of_business(day)?.max(d.effective_start);
        if shift_days > 0 {
            d.shift = Shift::BusinessDays(shift_days);
        }
        Ok(())
    }

    /// The `n`th working day after `date` (`date` itself for 0).
    pub fn nth_working_day(&self, date: NaiveDate, n: u32) -> Result<NaiveDate, CalendarError> {
        if n == 0 {
            return Ok(date);
        }
        if let Some(day) = self.nth_working_day_dense(date, n) {
            return Ok(day);
        }
        let (mut day, mut left) = (date, n);
        while left > 0 {
            day = next_day(day)?;
            if self.is_working_day(day)? {
                left -= 1;
            }
        }
        Ok(day)
    }

    /// The close of business of a date: its last closing time, or its end when the
    /// calendar has no business hours.
    pub fn close_of_business(&self, date: NaiveDate) -> Result<DateTime<Utc>, CalendarError> {
        match self.hours().last() {
            Some((_, close)) => self.local_instant(date, *close),
            None => self.end_of_day(date),
        }
    }

    /// The nominal length of a business day: the sum of the business hours, or 24 hours.
    pub fn business_day_length(&self) -> TimeDelta {
        match self.hours() {
            [] => TimeDelta::days(1),
            hours => hours.iter().map(|(open, close)| *close - *open).sum(),
        }
    }

    /// `at` itself when inside business hours on a working day, else the next opening.
    pub fn next_business_instant(&self, at: DateTime<Utc>) -> Result<DateTime<Utc>, CalendarError> {
        let mut date = self.local_date(at);
        loop {
            if self.is_working_day(date)? {
                for index in 0..self.span_count() {
                    let (open, close) = self.span(date, index)?;
                    if close > at {
                        return Ok(open.max(at));
                    }
                }
            }
            date = next_day(date)?;
        }
    }

    /// The instant when `amount` of business time has passed after `from`.
    pub fn add_business_time(
        &self,
        from: DateTime<Utc>,
        amount: TimeDelta,
    ) -> Result<DateTime<Utc>, CalendarError> {
        let mut left = amount;
        if left <= TimeDelta::zero() {
            return Ok(from);
        }
        let mut date = self.local_date(from);
        loop {
            if self.is_working_day(date)? {
                for index in 0..self.span_count() {
                    let (open, close) = self.span(date, index)?;
                    let begin = open.max(from);
                    if begin >= close {
                        continue;
                    }
                    if close - begin >= left {
                        return Ok(begin + left);
                    }
                    left -= close - begin;
                }
            }
            date = next_day(date)?;
        }
    }

    /// The business time inside `[a, b)`.
    pub fn business_time_between(
        &self,
        a: DateTime<Utc>,
        b: DateTime<Utc>,
    ) -> Result<TimeDelta, CalendarError> {
        let mut total = TimeDelta::zero();
        if b <= a {
            return Ok(total);
        }
        let (mut date, last) = (self.local_date(a), self.local_date(b));
        while date <= last {
            if self.is_working_day(date)? {
                for index in 0..self.span_count() {
                    let (open, close) = self.span(date, index)?;
                    total += (close.min(b) - open.max(a)).max(TimeDelta::zero());
                }
            }
            date = next_day(date)?;
        }
        Ok(total)
    }
}

/// The exact length of an elapsed or business-time target.
fn target_delta(target: &SlaDuration) -> TimeDelta {
    let n = i64::from(target.count());
    match target {
        SlaDuration::Minutes(_) | SlaDuration::BusinessMinutes(_) => TimeDelta::minutes(n),
        _ => TimeDelta::hours(n),
    }
}

/// `paused / unit`, rounded up; 0 for no pause.
fn round_up_days(paused: TimeDelta, unit: TimeDelta) -> u32 {
    let (p, u) = (paused.num_seconds(), unit.num_seconds().max(1));
    u32::try_from((p + u - 1).div_euclid(u).max(0)).unwrap_or(u32::MAX)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn rounds_pauses_up_to_whole_units() {
        assert_eq!(round_up_days(TimeDelta::zero(), TimeDelta::days(1)), 0);
        assert_eq!(round_up_days(TimeDelta::seconds(1), TimeDelta::days(1)), 1);
        assert_eq!(round_up_days(TimeDelta::days(1), TimeDelta::days(1)), 1);
        assert_eq!(round_up_days(TimeDelta::hours(25), TimeDelta::days(1)), 2);
        assert_eq!(round_up_days(TimeDelta::hours(9), TimeDelta::hours(8)), 2);
    }
}
