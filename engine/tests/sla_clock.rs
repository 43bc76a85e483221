//! SLA clocks: states, pauses (across a holiday), extensions, warnings, re-start on
//! reopen, several clocks on one case, explanations.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{DateTime, TimeDelta, Utc};
use redress_engine::calendar::data::parse_calendar_file;
use redress_engine::calendar::{Calendar, IntervalKind};
use redress_engine::sla::{Attention, ClockState, SlaClock, SlaRule};

fn cn() -> Calendar {
    let path = format!(
        "{}/../policies/calendars/cn-2026.toml",
        env!("CARGO_MANIFEST_DIR")
    );
    let file = parse_calendar_file(&std::fs::read_to_string(path).unwrap()).unwrap();
    Calendar::new(file.into_spec("data.toml")).unwrap()
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn rule(target: &str, warn: &[u8]) -> SlaRule {
    SlaRule {
        name: format!("rule {target}"),
        target: target.parse().unwrap(),
        warn: warn.to_vec(),
        roll_to_working_day: false,
        from_next_working_day_after_hours: false,
    }
}

fn started(s: &str) -> SlaClock {
    let mut clock = SlaClock::new("decision");
    clock.start(at(s)).unwrap();
    clock
}

#[test]
fn states_from_not_started_to_breached() {
    let (cal, r) = (cn(), rule("15 days", &[]));
    let mut clock = SlaClock::new("decision");
    assert_eq!(
        clock
            .state(&r, &cal, at("2026-02-13T16:00:00+08:00"))
            .unwrap(),
        ClockState::NotStarted
    );
    assert_eq!(clock.deadline(&r, &cal).unwrap(), None);
    clock.start(at("2026-02-13T16:00:00+08:00")).unwrap();
    let deadline = at("2026-03-01T00:00:00+08:00");
    assert_eq!(clock.deadline(&r, &cal).unwrap(), Some(deadline));
    let just_before = deadline - TimeDelta::seconds(1);
    assert_eq!(
        clock.state(&r, &cal, just_before).unwrap(),
        ClockState::Running
    );
    assert_eq!(
        clock.state(&r, &cal, deadline).unwrap(),
        ClockState::Breached
    );
    assert_eq!(
        clock.remaining(&r, &cal, just_before).unwrap(),
        Some(TimeDelta::seconds(1))
    );
    assert_eq!(
        clock
            .remaining(&r, &cal, deadline + TimeDelta::hours(1))
            .unwrap(),
        Some(TimeDelta::hours(-1))
    );
}

#[test]
fn met_and_missed() {
    let (cal, r) = (cn(), rule("15 days", &[]));
    let mut met = started("2026-02-13T16:00:00+08:00");
    met.stop(at("2026-02-28T23:59:59+08:00")).unwrap();
    assert_eq!(
        met.state(&r, &cal, at("2026-06-01T00:00:00Z")).unwrap(),
        ClockState::Met
    );
    assert_eq!(
        met.remaining(&r, &cal, at("2026-06-01T00:00:00Z")).unwrap(),
        None
    );
    let mut missed = started("2026-02-13T16:00:00+08:00");
    missed.stop(at("2026-03-01T00:00:00+08:00")).unwrap();
    assert_eq!(
        missed.state(&r, &cal, at("2026-06-01T00:00:00Z")).unwrap(),
        ClockState::Missed
    );
}

#[test]
fn hours_pause_shifts_exactly() {
    let (cal, r) = (cn(), rule("24 hours", &[]));
    let mut clock = started("2026-03-02T10:00:00+08:00");
    clock.pause(at("2026-03-02T11:00:00+08:00")).unwrap();
    assert_eq!(
        clock.state(&r, &cal, at("2026-03-05T00:00:00Z")).unwrap(),
        ClockState::Paused
    );
    assert_eq!(
        clock.deadline(&r, &cal).unwrap(),
        None,
        "unknown while paused"
    );
    let frozen = clock
        .remaining(&r, &cal, at("2026-03-04T00:00:00Z"))
        .unwrap();
    assert_eq!(frozen, Some(TimeDelta::hours(23)));
    clock.resume(at("2026-03-02T13:30:00+08:00")).unwrap();
    assert_eq!(
        clock.deadline(&r, &cal).unwrap(),
        Some(at("2026-03-03T12:30:00+08:00"))
    );
}

#[test]
fn day_pause_rounds_up_to_whole_days() {
    let (cal, r) = (cn(), rule("15 days", &[]));
    let mut clock = started("2026-02-13T16:00:00+08:00");
    clock.pause(at("2026-02-14T10:00:00+08:00")).unwrap();
    clock.resume(at("2026-02-16T09:00:00+08:00")).unwrap(); // 47 hours: 2 days
    assert_eq!(
        clock.deadline(&r, &cal).unwrap(),
        Some(at("2026-03-03T00:00:00+08:00"))
    );
    let explanation = clock.explain(&r, &cal).unwrap();
    assert_eq!(
        explanation.rules,
        [
            "15 days from receipt 2026-02-13 (Asia/Shanghai): end of 2026-02-28",
            "paused 1 day(s) 23 h 0 min in total, rounded up to 2 whole day(s): moved to 2026-03-03 00:00 +08:00"
        ]
    );
}

#[test]
fn business_day_pause_across_a_holiday_counts_only_business_time() {
    let (cal, r) = (cn(), rule("3 business days", &[]));
    let mut clock = started("2026-02-13T10:00:00+08:00");
    assert_eq!(
        clock.deadline(&r, &cal).unwrap(),
        Some(at("2026-02-26T00:00:00+08:00"))
    );
    // Paused over Spring Festival: 12 h on the 13th, the make-up 14th, 12 h on the 24th = 2 days.
    clock.pause(at("2026-02-13T12:00:00+08:00")).unwrap();
    clock.resume(at("2026-02-24T12:00:00+08:00")).unwrap();
    assert_eq!(
        clock.deadline(&r, &cal).unwrap(),
        Some(at("2026-02-28T00:00:00+08:00"))
    );
    let explanation = clock.explain(&r, &cal).unwrap();
    let kinds: Vec<(IntervalKind, Option<String>)> = explanation
        .intervals
        .iter()
        .map(|i| (i.kind, i.reason.as_deref().map(str::to_owned)))
        .collect();
    assert_eq!(
        kinds,
        [
            (
                IntervalKind::NotCounted,
                Some("day of receipt is not counted".into())
            ),
            (IntervalKind::Paused, None),
            (IntervalKind::Counted, None),
        ]
    );
    assert!(
        explanation.rules[1].contains("rounded up to 2 whole working day(s)"),
        "{:?}",
        explanation.rules
    );
}

#[test]
fn a_short_pause_on_a_holiday_does_not_move_a_business_day_deadline() {
    let (cal, r) = (cn(), rule("3 business days", &[]));
    let mut clock = started("2026-02-13T10:00:00+08:00");
    clock.pause(at("2026-02-16T10:00:00+08:00")).unwrap();
    clock.resume(at("2026-02-17T10:00:00+08:00")).unwrap();
    assert_eq!(
        clock.deadline(&r, &cal).unwrap(),
        Some(at("2026-02-26T00:00:00+08:00"))
    );
    let explanation = clock.explain(&r, &cal).unwrap();
    let paused = explanation
        .intervals
        .iter()
        .filter(|i| i.kind == IntervalKind::Paused)
        .count();
    let holiday = explanation
        .intervals
        .iter()
        .filter(|i| i.reason.as_deref() == Some("Spring Festival"))
        .count();
    assert_eq!((paused, holiday), (1, 2), "{:#?}", explanation.intervals);
}

#[test]
fn extensions_are_recorded_and_applied_when_longer() {
    let (cal, r) = (cn(), rule("15 days", &[]));
    let mut clock = started("2026-02-13T16:00:00+08:00");
    let by = Some("head of complaints".to_owned());
    clock
        .extend(
            "30 days".parse().unwrap(),
            at("2026-02-20T10:00:00Z"),
            "complex case, complainant told".into(),
            by,
        )
        .unwrap();
    assert_eq!(
        clock.deadline(&r, &cal).unwrap(),
        Some(at("2026-03-16T00:00:00+08:00"))
    );
    clock
        .extend(
            "10 days".parse().unwrap(),
            at("2026-02-21T10:00:00Z"),
            "typo".into(),
            None,
        )
        .unwrap();
    assert_eq!(
        clock.deadline(&r, &cal).unwrap(),
        Some(at("2026-03-16T00:00:00+08:00")),
        "shorter is not applied"
    );
    clock
        .extend(
            "2 months".parse().unwrap(),
            at("2026-02-22T10:00:00Z"),
            "ombudsman agreed".into(),
            None,
        )
        .unwrap();
    assert_eq!(
        clock.deadline(&r, &cal).unwrap(),
        Some(at("2026-04-14T00:00:00+08:00"))
    );
    let e = clock.explain(&r, &cal).unwrap();
    let applied: Vec<bool> = e.extensions.iter().map(|x| x.applied).collect();
    assert_eq!(applied, [true, false, true]);
    assert_eq!(
        e.extensions[0].granted_by.as_deref(),
        Some("head of complaints")
    );
    assert_eq!(e.extensions[0].reason, "complex case, complainant told");
    assert_eq!(e.target, Some("2 months".parse().unwrap()));
}

#[test]
fn warnings_then_breach_each_fired_once() {
    let (cal, r) = (cn(), rule("10 days", &[80, 50]));
    let mut clock = started("2026-03-02T00:00:00+08:00");
    // Deadline end of 12 March: 11 days after the start instant.
    let start = at("2026-03-02T00:00:00+08:00");
    let deadline = at("2026-03-13T00:00:00+08:00");
    let span = deadline - start;
    assert_eq!(
        clock.next_attention(&r, &cal).unwrap(),
        Some((start + span / 2, Attention::Warning(50)))
    );
    clock.mark_fired(Attention::Warning(50));
    clock.mark_fired(Attention::Warning(50));
    assert_eq!(
        clock.next_attention(&r, &cal).unwrap(),
        Some((start + span * 80 / 100, Attention::Warning(80)))
    );
    clock.mark_fired(Attention::Warning(80));
    assert_eq!(
        clock.next_attention(&r, &cal).unwrap(),
        Some((deadline, Attention::Breach))
    );
    clock.mark_fired(Attention::Breach);
    assert_eq!(clock.next_attention(&r, &cal).unwrap(), None);
    clock.pause(at("2026-03-03T00:00:00Z")).unwrap();
    assert_eq!(
        clock.next_attention(&r, &cal).unwrap(),
        None,
        "nothing is due while paused"
    );
}

#[test]
fn restart_on_reopen_starts_a_new_run() {
    let (cal, r) = (cn(), rule("15 days", &[50]));
    let mut clock = started("2026-02-13T16:00:00+08:00");
    clock
        .extend(
            "30 days".parse().unwrap(),
            at("2026-02-20T10:00:00Z"),
            "complex".into(),
            None,
        )
        .unwrap();
    clock.mark_fired(Attention::Warning(50));
    clock.stop(at("2026-03-05T10:00:00Z")).unwrap();
    assert_eq!(
        clock.start(at("2026-03-01T10:00:00Z")).unwrap_err().code(),
        "clock-time-before-last-event"
    );
    clock.start(at("2026-04-01T10:00:00+08:00")).unwrap();
    assert_eq!(clock.runs().len(), 2);
    assert_eq!(
        clock.deadline(&r, &cal).unwrap(),
        Some(at("2026-04-17T00:00:00+08:00")),
        "the rule's own target again"
    );
    assert!(matches!(
        clock.next_attention(&r, &cal).unwrap(),
        Some((_, Attention::Warning(50)))
    ));
    let e = clock.explain(&r, &cal).unwrap();
    assert_eq!(
        e.earlier_runs,
        [(
            at("2026-02-13T16:00:00+08:00"),
            Some(at("2026-03-05T10:00:00Z"))
        )]
    );
}

#[test]
fn several_clocks_on_one_case_are_independent() {
    let cal = cn();
    let (ack, decision) = (rule("1 business day", &[]), rule("15 days", &[]));
    let received = at("2026-02-13T16:00:00+08:00");
    let mut clocks = [SlaClock::new("ack"), SlaClock::new("decision")];
    for clock in &mut clocks {
        clock.start(received).unwrap();
    }
    clocks[0].stop(at("2026-02-14T10:00:00+08:00")).unwrap();
    assert_eq!(
        clocks[0]
            .state(&ack, &cal, at("2026-02-20T00:00:00Z"))
            .unwrap(),
        ClockState::Met
    );
    assert_eq!(
        clocks[1]
            .state(&decision, &cal, at("2026-02-20T00:00:00Z"))
            .unwrap(),
        ClockState::Running
    );
    clocks[1].pause(at("2026-02-15T00:00:00Z")).unwrap();
    assert_eq!(
        clocks[0]
            .state(&ack, &cal, at("2026-02-20T00:00:00Z"))
            .unwrap(),
        ClockState::Met
    );
}

#[test]
fn operations_out_of_order_are_errors() {
    let mut clock = SlaClock::new("decision");
    assert_eq!(
        clock.pause(at("2026-03-02T10:00:00Z")).unwrap_err().code(),
        "clock-not-running"
    );
    clock.start(at("2026-03-02T10:00:00Z")).unwrap();
    assert_eq!(
        clock.start(at("2026-03-02T11:00:00Z")).unwrap_err().code(),
        "clock-already-running"
    );
    assert_eq!(
        clock.resume(at("2026-03-02T11:00:00Z")).unwrap_err().code(),
        "clock-not-paused"
    );
    assert_eq!(
        clock.pause(at("2026-03-02T09:00:00Z")).unwrap_err().code(),
        "clock-time-before-last-event"
    );
    clock.pause(at("2026-03-02T11:00:00Z")).unwrap();
    assert_eq!(
        clock.pause(at("2026-03-02T12:00:00Z")).unwrap_err().code(),
        "clock-not-running"
    );
    clock.stop(at("2026-03-02T12:00:00Z")).unwrap();
    assert_eq!(
        clock.runs()[0].pauses[0].to,
        Some(at("2026-03-02T12:00:00Z")),
        "stop ends the pause"
    );
    assert_eq!(
        clock
            .extend(
                "1 day".parse().unwrap(),
                at("2026-03-02T13:00:00Z"),
                "x".into(),
                None
            )
            .unwrap_err()
            .code(),
        "clock-not-running"
    );
}

#[test]
fn clock_round_trips_through_json_and_explanation_serializes() {
    let (cal, r) = (cn(), rule("3 business days", &[50]));
    let mut clock = started("2026-02-13T10:00:00+08:00");
    clock.pause(at("2026-02-16T10:00:00+08:00")).unwrap();
    let json = serde_json::to_string(&clock).unwrap();
    let back: SlaClock = serde_json::from_str(&json).unwrap();
    assert_eq!(back, clock);
    let e = clock.explain(&r, &cal).unwrap();
    assert_eq!(e.paused_since, Some(at("2026-02-16T10:00:00+08:00")));
    let value = serde_json::to_value(&e).unwrap();
    assert_eq!(value["target"], "3 business days");
    assert_eq!(value["intervals"][0]["kind"], "not-counted");
    assert_eq!(value["timezone"], "Asia/Shanghai");
}

#[test]
fn after_hours_rule_reaches_the_clock() {
    let cal = cn();
    let mut r = rule("1 business day", &[]);
    r.from_next_working_day_after_hours = true;
    // Received on a Sunday of Spring Festival: counted from 24 February.
    let clock = started("2026-02-22T10:00:00+08:00");
    assert_eq!(
        clock.deadline(&r, &cal).unwrap(),
        Some(at("2026-02-26T00:00:00+08:00"))
    );
    let e = clock.explain(&r, &cal).unwrap();
    assert!(
        e.rules[0].starts_with("received 2026-02-22 10:00 +08:00 outside business hours"),
        "{:?}",
        e.rules
    );
}

#[test]
fn a_pause_after_the_deadline_does_not_undo_a_breach() {
    let (cal, r) = (cn(), rule("24 hours", &[]));
    let mut clock = started("2026-03-02T10:00:00+08:00");
    clock.pause(at("2026-03-03T11:00:00+08:00")).unwrap();
    let now = at("2026-03-03T12:00:00+08:00");
    assert_eq!(clock.state(&r, &cal, now).unwrap(), ClockState::Breached);
    assert_eq!(
        clock.deadline(&r, &cal).unwrap(),
        Some(at("2026-03-03T10:00:00+08:00"))
    );
    assert_eq!(
        clock.remaining(&r, &cal, now).unwrap(),
        Some(TimeDelta::hours(-2))
    );
    assert_eq!(
        clock.next_attention(&r, &cal).unwrap().map(|a| a.1),
        Some(Attention::Breach)
    );
    clock.resume(at("2026-03-04T10:00:00+08:00")).unwrap();
    clock.stop(at("2026-03-04T11:00:00+08:00")).unwrap();
    assert_eq!(clock.state(&r, &cal, now).unwrap(), ClockState::Missed);
    let e = clock.explain(&r, &cal).unwrap();
    assert!(
        e.rules
            .iter()
            .any(|l| l.contains("began at or after the deadline")),
        "{:?}",
        e.rules
    );
    assert!(
        e.intervals.iter().all(|i| i.kind != IntervalKind::Paused),
        "{:#?}",
        e.intervals
    );
}

#[test]
fn a_pause_before_the_deadline_that_outlasts_it_still_counts() {
    let (cal, r) = (cn(), rule("24 hours", &[]));
    let mut clock = started("2026-03-02T10:00:00+08:00");
    clock.pause(at("2026-03-03T09:00:00+08:00")).unwrap();
    let later = at("2026-03-05T00:00:00+08:00");
    assert_eq!(clock.state(&r, &cal, later).unwrap(), ClockState::Paused);
    assert_eq!(
        clock.remaining(&r, &cal, later).unwrap(),
        Some(TimeDelta::hours(1))
    );
    clock.resume(at("2026-03-05T09:00:00+08:00")).unwrap();
    assert_eq!(
        clock.deadline(&r, &cal).unwrap(),
        Some(at("2026-03-05T10:00:00+08:00"))
    );
}

#[test]
fn explanation_renders_line_by_line() {
    let (cal, r) = (cn(), rule("3 business days", &[]));
    let mut clock = started("2026-02-13T10:00:00+08:00");
    clock.pause(at("2026-02-24T10:00:00+08:00")).unwrap();
    clock.resume(at("2026-02-24T12:00:00+08:00")).unwrap();
    let by = Some("team lead".to_owned());
    clock
        .extend(
            "5 business days".parse().unwrap(),
            at("2026-02-24T12:00:00+08:00"),
            "complex".into(),
            by,
        )
        .unwrap();
    let text = clock.explain(&r, &cal).unwrap().to_string();
    let expected = "\
SLA `rule 3 business days` on calendar `Mainland China 2026` (Asia/Shanghai)
started 2026-02-13 10:00 +08:00
rule: 5 business days from receipt 2026-02-13 (Asia/Shanghai): end of working day 2026-02-27
rule: paused 2 h 0 min in total, rounded up to 1 whole working day(s) of business time: moved to 2026-03-01 00:00 +08:00
extension 2026-02-24 12:00 +08:00 to 5 business days by team lead (applied): complex
2026-02-13 10:00 +08:00 to 2026-02-14 00:00 +08:00: not-counted (day of receipt is not counted)
2026-02-14 00:00 +08:00 to 2026-02-15 00:00 +08:00: counted (Spring Festival make-up working day)
2026-02-15 00:00 +08:00 to 2026-02-24 00:00 +08:00: non-working (Spring Festival)
2026-02-24 00:00 +08:00 to 2026-02-24 10:00 +08:00: counted
2026-02-24 10:00 +08:00 to 2026-02-24 12:00 +08:00: paused
2026-02-24 12:00 +08:00 to 2026-02-28 00:00 +08:00: counted
2026-02-28 00:00 +08:00 to 2026-03-01 00:00 +08:00: counted (Spring Festival make-up working day)
deadline 2026-03-01 00:00 +08:00
";
    assert_eq!(text, expected, "\n{text}");
}
