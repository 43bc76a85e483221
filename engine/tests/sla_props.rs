//! Properties of SLA clocks over random pause/resume histories: pausing never brings a
//! deadline forward, an extension never does either, and the explanation's timeline
//! runs without gaps from the start to the deadline.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::OnceLock;

use chrono::{DateTime, TimeDelta, Utc};
use proptest::prelude::*;
use redress_engine::calendar::data::parse_calendar_file;
use redress_engine::calendar::{Calendar, SlaDuration};
use redress_engine::sla::{SlaClock, SlaRule};

fn cn() -> &'static Calendar {
    static CAL: OnceLock<Calendar> = OnceLock::new();
    CAL.get_or_init(|| {
        let path = format!(
            "{}/../policies/calendars/cn-2026.toml",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(path).unwrap();
        Calendar::new(parse_calendar_file(&text).unwrap().into_spec("data.toml")).unwrap()
    })
}

fn target() -> impl Strategy<Value = SlaDuration> {
    prop_oneof![
        (1u32..72).prop_map(SlaDuration::Hours),
        (1u32..40).prop_map(SlaDuration::BusinessHours),
        (1u32..30).prop_map(SlaDuration::Days),
        (1u32..3).prop_map(SlaDuration::Months),
        (1u32..20).prop_map(SlaDuration::BusinessDays),
    ]
}

fn rule(target: SlaDuration, roll: bool, after_hours: bool) -> SlaRule {
    SlaRule {
        name: "decision".into(),
        target,
        warn: vec![50, 80],
        roll_to_working_day: roll,
        from_next_working_day_after_hours: after_hours,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn pauses_never_bring_the_deadline_forward(
        start in 0i64..(200 * 24 * 60),
        gaps in prop::collection::vec((1i64..(3 * 24 * 60), 1i64..(3 * 24 * 60)), 0..4),
        t in target(), roll in any::<bool>(), after_hours in any::<bool>(),
    ) {
        let cal = cn();
        let r = rule(t, roll, after_hours);
        let start: DateTime<Utc> = "2026-01-01T00:00:00Z".parse::<DateTime<Utc>>().unwrap() + TimeDelta::minutes(start);
        let mut clock = SlaClock::new("decision");
        clock.start(start).unwrap();
        let mut previous = clock.deadline(&r, cal).unwrap().unwrap();
        let mut now = start;
        for (run, pause) in gaps {
            now += TimeDelta::minutes(run);
            clock.pause(now).unwrap();
            now += TimeDelta::minutes(pause);
            clock.resume(now).unwrap();
            let deadline = clock.deadline(&r, cal).unwrap().unwrap();
            prop_assert!(deadline >= previous, "{t}: {deadline} < {previous}");
            previous = deadline;
        }
        let e = clock.explain(&r, cal).unwrap();
        let mut cursor = start;
        for i in &e.intervals {
            prop_assert_eq!(i.from, cursor, "{:#?}", e.intervals);
            cursor = i.to;
        }
        prop_assert_eq!(cursor.max(start), e.deadline.unwrap().max(start));
    }

    #[test]
    fn extensions_never_bring_the_deadline_forward(start in 0i64..(200 * 24 * 60), a in target(), b in target()) {
        let cal = cn();
        let r = rule(a, false, false);
        let start: DateTime<Utc> = "2026-01-01T00:00:00Z".parse::<DateTime<Utc>>().unwrap() + TimeDelta::minutes(start);
        let mut clock = SlaClock::new("decision");
        clock.start(start).unwrap();
        let before = clock.deadline(&r, cal).unwrap().unwrap();
        clock.extend(b, start, "test".into(), None).unwrap();
        let after = clock.deadline(&r, cal).unwrap().unwrap();
        prop_assert!(after >= before, "{a} then {b}: {after} < {before}");
        let extended = clock.explain(&r, cal).unwrap().extensions[0].applied;
        prop_assert_eq!(extended, after > before);
    }
}
