//! Properties of the deadline arithmetic over random starts, targets and pauses:
//! a longer target never gives an earlier deadline; a pause never brings a deadline
//! forward; a business-day deadline always falls on a working day.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::OnceLock;

use chrono::{DateTime, NaiveTime, TimeDelta, Utc, Weekday};
use proptest::prelude::*;
use redress_engine::calendar::data::parse_calendar_file;
use redress_engine::calendar::{
    Calendar, CalendarError, CalendarSpec, Deadline, DeadlineOptions, SlaDuration,
};

fn cn() -> &'static Calendar {
    static CAL: OnceLock<Calendar> = OnceLock::new();
    CAL.get_or_init(|| {
        let path = format!(
            "{}/../policies/calendars/cn-2026.toml",
            env!("CARGO_MANIFEST_DIR")
        );
        Calendar::new(
            parse_calendar_file(&std::fs::read_to_string(path).unwrap())
                .unwrap()
                .into_spec("data.toml"),
        )
        .unwrap()
    })
}

/// London, split business hours, the England and Wales holidays, unbounded.
fn london() -> &'static Calendar {
    static CAL: OnceLock<Calendar> = OnceLock::new();
    CAL.get_or_init(|| {
        let path = format!(
            "{}/../policies/calendars/gb-eaw-2026.toml",
            env!("CARGO_MANIFEST_DIR")
        );
        let file = parse_calendar_file(&std::fs::read_to_string(path).unwrap()).unwrap();
        let t = |h, m| NaiveTime::from_hms_opt(h, m, 0).unwrap();
        Calendar::new(CalendarSpec {
            hours: vec![(t(9, 0), t(12, 0)), (t(13, 30), t(17, 30))],
            covers: Vec::new(),
            week: vec![
                Weekday::Mon,
                Weekday::Tue,
                Weekday::Wed,
                Weekday::Thu,
                Weekday::Fri,
            ],
            ..file.into_spec("data.toml")
        })
        .unwrap()
    })
}

fn calendar(which: bool) -> &'static Calendar {
    if which { cn() } else { london() }
}

/// An instant in January to August 2026, so that targets stay inside cn-2026's data.
fn start() -> impl Strategy<Value = DateTime<Utc>> {
    (0i64..(240 * 24 * 60)).prop_map(|m| {
        "2026-01-01T00:00:00Z".parse::<DateTime<Utc>>().unwrap() + TimeDelta::minutes(m)
    })
}

fn unit() -> impl Strategy<Value = fn(u32) -> SlaDuration> {
    prop::sample::select(vec![
        SlaDuration::Minutes as fn(u32) -> SlaDuration,
        SlaDuration::Hours,
        SlaDuration::BusinessMinutes,
        SlaDuration::BusinessHours,
        SlaDuration::Days,
        SlaDuration::Weeks,
        SlaDuration::Months,
        SlaDuration::BusinessDays,
    ])
}

/// `None` when the arithmetic left cn-2026's data (an error by design), else the deadline.
fn within(result: Result<Deadline, CalendarError>) -> Option<Deadline> {
    match result {
        Ok(d) => Some(d),
        Err(e) if e.code() == "date-outside-calendar" => None,
        Err(e) => panic!("unexpected error {e}"),
    }
}

fn options() -> impl Strategy<Value = DeadlineOptions> {
    (any::<bool>(), any::<bool>()).prop_map(
        |(roll_to_working_day, from_next_working_day_after_hours)| DeadlineOptions {
            roll_to_working_day,
            from_next_working_day_after_hours,
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn longer_target_never_earlier(which in any::<bool>(), s in start(), make in unit(), a in 0u32..20, extra in 0u32..20, opts in options()) {
        let cal = calendar(which);
        let long = within(cal.deadline_with(s, &make(a + extra), opts, &[]));
        prop_assume!(long.is_some());
        let short = within(cal.deadline_with(s, &make(a), opts, &[])).unwrap().at;
        let long = long.unwrap().at;
        prop_assert!(long >= short, "{} gave {long}, {} gave {short}", make(a + extra), make(a));
    }

    #[test]
    fn pause_never_brings_a_deadline_forward(
        which in any::<bool>(), s in start(), make in unit(), n in 0u32..20, opts in options(),
        offset in 0i64..(20 * 24 * 60), length in 0i64..(10 * 24 * 60),
    ) {
        let cal = calendar(which);
        let from = s + TimeDelta::minutes(offset);
        let pause = [(from, from + TimeDelta::minutes(length))];
        let paused = within(cal.deadline_with(s, &make(n), opts, &pause));
        prop_assume!(paused.is_some());
        let paused = paused.unwrap().at;
        let plain = within(cal.deadline_with(s, &make(n), opts, &[])).unwrap().at;
        prop_assert!(paused >= plain, "{}: paused {paused} < {plain}", make(n));
    }

    #[test]
    fn business_day_deadline_falls_on_a_working_day(which in any::<bool>(), s in start(), n in 0u32..30, opts in options()) {
        let cal = calendar(which);
        let d = within(cal.deadline_with(s, &SlaDuration::BusinessDays(n), opts, &[]));
        prop_assume!(d.is_some());
        let d = d.unwrap();
        let day = d.day.unwrap();
        prop_assert!(n == 0 || cal.is_working_day(day).unwrap(), "{day}");
        // The instant itself is that day's close of business.
        prop_assert_eq!(d.at.max(d.effective_start), cal.close_of_business(day).unwrap().max(d.effective_start));
        if n > 0 {
            let last_instant = d.at - TimeDelta::nanoseconds(1);
            prop_assert!(cal.is_working_day(cal.local_date(last_instant)).unwrap());
        }
    }

    #[test]
    fn timeline_covers_start_to_deadline_without_gaps(which in any::<bool>(), s in start(), make in unit(), n in 0u32..15, opts in options()) {
        let cal = calendar(which);
        let d = within(cal.deadline_with(s, &make(n), opts, &[]));
        prop_assume!(d.is_some());
        let d = d.unwrap();
        let intervals = cal.timeline(&d, d.at, &[]).unwrap();
        let mut cursor = s;
        for i in &intervals {
            prop_assert_eq!(i.from, cursor);
            prop_assert!(i.to > i.from);
            cursor = i.to;
        }
        prop_assert!(intervals.is_empty() && d.at <= s || cursor == d.at);
    }
}
