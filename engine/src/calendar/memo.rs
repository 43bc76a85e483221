//! [`Memo`]: the deadlines a thread worked out lately, so that the same deadline is
//! not worked out again. A case's clock asks for the same deadline many times (for
//! its next timer, each time a pause closes, for its state when it is counted), and
//! the arithmetic behind it (local dates, working days, business hours) costs far
//! more than finding it again.
//!
//! A deadline depends on the calendar, the start, the target, the options and the
//! pauses alone: [`super::Calendar::deadline_with`] is a function of them, and a
//! calendar never changes once built. Each calendar built has an identity of its
//! own ([`CalendarId`]), never reused, so that a new calendar (a reloaded policy's)
//! never finds an old one's deadlines. The memo is direct-mapped: each key has one
//! slot, a new deadline replaces the one in its slot, and a slot answers only for
//! the exact key it holds. Errors are not kept.

use std::cell::RefCell;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use rustc_hash::FxHasher;

use super::SlaDuration;
use super::deadline::{Deadline, DeadlineOptions};

/// Slots of a thread's memo (a power of two).
const SLOTS: usize = 4096;

/// A calendar's identity: distinct for every calendar built (clones share it, and
/// share the days it stands for).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct CalendarId(u64);

impl CalendarId {
    /// An identity no calendar had before.
    pub(super) fn fresh() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        CalendarId(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

/// What a deadline is worked out from.
#[derive(Debug, Clone, Copy)]
pub(super) struct Key<'a> {
    pub calendar: CalendarId,
    pub start: DateTime<Utc>,
    pub target: SlaDuration,
    pub options: DeadlineOptions,
    pub pauses: &'a [(DateTime<Utc>, DateTime<Utc>)],
}

impl Key<'_> {
    fn slot(&self) -> usize {
        let mut h = FxHasher::default();
        self.calendar.hash(&mut h);
        self.start.hash(&mut h);
        self.target.hash(&mut h);
        self.options.hash(&mut h);
        self.pauses.hash(&mut h);
        // FxHash's high bits are its best mixed.
        (h.finish() >> 52) as usize & (SLOTS - 1)
    }
}

/// A deadline kept, with the key it answers for.
#[derive(Debug)]
struct Entry {
    calendar: CalendarId,
    start: DateTime<Utc>,
    target: SlaDuration,
    options: DeadlineOptions,
    pauses: Vec<(DateTime<Utc>, DateTime<Utc>)>,
    deadline: Deadline,
}

impl Entry {
    fn answers(&self, key: &Key<'_>) -> bool {
        self.calendar == key.calendar
            && self.start == key.start
            && self.target == key.target
            && self.options == key.options
            && self.pauses == key.pauses
    }
}

/// One thread's deadlines, by slot.
#[derive(Debug, Default)]
struct Memo {
    slots: Vec<Option<Entry>>,
}

thread_local! {
    static MEMO: RefCell<Memo> = RefCell::default();
}

/// The deadline of `key`, from the memo when this thread worked it out lately, else
/// by `work` (and kept when it succeeds).
pub(super) fn remembered<E>(
    key: Key<'_>,
    work: impl FnOnce() -> Result<Deadline, E>,
) -> Result<Deadline, E> {
    let slot = key.slot();
    let found = MEMO.with_borrow(|memo| {
        memo.slots
            .get(slot)
            .and_then(Option::as_ref)
            .filter(|e| e.answers(&key))
            .map(|e| e.deadline.clone())
    });
    if let Some(deadline) = found {
        return Ok(deadline);
    }
    let deadline = work()?;
    MEMO.with_borrow_mut(|memo| {
        if memo.slots.is_empty() {
            memo.slots.resize_with(SLOTS, || None);
        }
        let kept = memo.slots[slot].take();
        // The pauses' room of the deadline replaced is reused.
        let mut pauses = kept.map(|e| e.pauses).unwrap_or_default();
        pauses.clear();
        pauses.extend_from_slice(key.pauses);
        memo.slots[slot] = Some(Entry {
            calendar: key.calendar,
            start: key.start,
            target: key.target,
            options: key.options,
            pauses,
            deadline: deadline.clone(),
        });
    });
    Ok(deadline)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use chrono::{NaiveDate, NaiveTime, TimeDelta, TimeZone};
    use proptest::prelude::*;

    use super::super::{Calendar, CalendarSpec, Holiday};
    use super::*;

    fn calendar(holiday: Option<&str>, hours: bool) -> Calendar {
        let date = |s: &str| s.parse::<NaiveDate>().unwrap();
        let time = |s: &str| NaiveTime::parse_from_str(s, "%H:%M").unwrap();
        let holidays = holiday.map(|d| Holiday {
            name: "holiday".into(),
            from: date(d),
            to: date(d),
            observed: false,
        });
        Calendar::new(CalendarSpec {
            name: "test".into(),
            timezone: chrono_tz::Europe::London,
            week: ["Mon", "Tue", "Wed", "Thu", "Fri"]
                .map(|d| d.parse().unwrap())
                .into(),
            hours: match hours {
                true => vec![(time("09:00"), time("17:30"))],
                false => vec![],
            },
            holidays: holidays.into_iter().collect(),
            working_days: vec![],
            open_on_observed: false,
            covers: vec![],
        })
        .unwrap()
    }

    fn target() -> impl Strategy<Value = SlaDuration> {
        prop_oneof![
            (1u32..600).prop_map(SlaDuration::Minutes),
            (1u32..100).prop_map(SlaDuration::Hours),
            (1u32..50).prop_map(SlaDuration::BusinessHours),
            (1u32..40).prop_map(SlaDuration::Days),
            (1u32..9).prop_map(SlaDuration::Weeks),
            (1u32..3).prop_map(SlaDuration::Months),
            (1u32..30).prop_map(SlaDuration::BusinessDays),
        ]
    }

    proptest! {
        /// Asked twice, or after other deadlines took its slot, a deadline is the one
        /// worked out afresh, with any start, target, options and pauses.
        #[test]
        fn a_remembered_deadline_is_the_one_worked_out(
            start in 0i64..(400 * 86_400),
            target in target(),
            roll in any::<bool>(),
            after_hours in any::<bool>(),
            pauses in prop::collection::vec((0i64..(40 * 86_400), 1i64..(5 * 86_400)), 0..3),
            hours in any::<bool>(),
        ) {
            let cal = calendar(Some("2026-05-04"), hours);
            let base = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
            let start = base + TimeDelta::seconds(start);
            let options = DeadlineOptions {
                roll_to_working_day: roll,
                from_next_working_day_after_hours: after_hours,
            };
            let pauses: Vec<_> = pauses
                .iter()
                .scan(start, |at, (gap, length)| {
                    let from = *at + TimeDelta::seconds(*gap);
                    *at = from + TimeDelta::seconds(*length);
                    Some((from, *at))
                })
                .collect();
            let fresh = cal.work_out(start, &target, options, &pauses);
            for prefix in 0..=pauses.len() {
                cal.deadline_with(start, &target, options, &pauses[..prefix]).ok();
            }
            prop_assert_eq!(cal.deadline_with(start, &target, options, &pauses), fresh.clone());
            prop_assert_eq!(cal.deadline_with(start, &target, options, &pauses), fresh);
        }
    }

    /// Two calendars that differ only in a holiday never answer with each other's
    /// deadlines, though every other part of the key is the same.
    #[test]
    fn a_calendar_never_finds_another_calendars_deadline() {
        let start = Utc.with_ymd_and_hms(2026, 4, 30, 10, 0, 0).unwrap();
        let target = SlaDuration::BusinessDays(2);
        let with_holiday = calendar(Some("2026-05-04"), false);
        let without = calendar(None, false);
        let options = DeadlineOptions::default();
        let a = with_holiday
            .deadline_with(start, &target, options, &[])
            .unwrap();
        let b = without.deadline_with(start, &target, options, &[]).unwrap();
        assert_ne!(a.at, b.at, "the holiday moves the deadline a day");
        assert_eq!(
            with_holiday
                .deadline_with(start, &target, options, &[])
                .unwrap(),
            a
        );
        assert_eq!(
            without.deadline_with(start, &target, options, &[]).unwrap(),
            b
        );
        // A clone is the same calendar: it shares the memo's answers.
        assert_eq!(
            without
                .clone()
                .deadline_with(start, &target, options, &[])
                .unwrap(),
            b
        );
    }
}
