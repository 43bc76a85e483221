//! The report's exact numbers: a hand-written event file of fourteen complaints
//! (`tests/fixtures/report/complaints.jsonl`: outcomes, a pause, an extension, a
//! withdrawal, a reopen, satisfaction scores, a repeat complainant) replayed on a
//! small policy, every figure checked against values worked out by hand below.
//!
//! The period is March 2026 (Beijing time); February is the previous one. March has
//! no public holiday in China; 28 February was a make-up working day.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use chrono::{DateTime, Utc};
use redress_engine::policy::{Dimension, Policy, load_policy};
use redress_engine::report::{
    CaseFacts, ComplainantKey, Period, Report, facts_from_events, report, returns::Return,
};
use redress_engine::runtime::replay::ReplayOptions;
use rust_decimal::Decimal;

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/report")
        .join(name)
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn facts(policy: &Policy) -> Vec<CaseFacts> {
    let file = std::fs::File::open(fixture("complaints.jsonl")).unwrap();
    let options = ReplayOptions {
        threads: 2,
        until: Some(at("2026-04-01T00:00:00+08:00")),
        ..Default::default()
    };
    let key = ComplainantKey::new(*b"test key");
    let (facts, summary) =
        facts_from_events(policy, std::io::BufReader::new(file), &options, Some(&key));
    assert_eq!(summary.skipped.count, 0, "{:?}", summary.skipped);
    assert!(
        summary.events.refused.is_empty(),
        "{:?}",
        summary.events.refused
    );
    facts
}

fn march(by: Vec<Dimension>) -> (Policy, Report) {
    let policy = load_policy(&fixture("policy.toml")).unwrap();
    let facts = facts(&policy);
    assert_eq!(facts.len(), 14);
    let period = Period::named("2026-03", policy.timezone()).unwrap();
    let report = report(&policy, period, by, true, &facts).unwrap();
    (policy, report)
}

#[test]
fn every_figure_of_march_matches_the_hand_worked_values() {
    let (_, r) = march(vec![]);
    assert_eq!(r.period.from, at("2026-03-01T00:00:00+08:00"));
    assert_eq!(r.previous.label, "2026-02");
    let t = &r.total;
    // Received in March: M03-M13. Closed in March: P02, M03, M04, M05, M06, M07
    // (withdrawn), M08, M11. Open on 1 March: P02, P14; on 1 April: M09, M10, M12, M13,
    // P14 (2 + 11 - 8 = 5).
    assert_eq!((t.received, t.closed, t.withdrawn), (11, 8, 1));
    assert_eq!((t.open_at_start, t.open_at_end), (2, 5));
    assert_eq!(t.resolution_rate, Some(0.6154)); // 8 / 13
    // Days from receipt to closing: 6, 4, 8, 22, 25, 3, 8, 4 -> 3 4 4 6 8 8 22 25.
    assert_eq!(t.handling.median_days, Some(7.0));
    assert_eq!(t.handling.p90_days, Some(25.0)); // rank ceil(0.9 * 8) = 8
    // Working days after the day of receipt: P02 26, 27 Feb, 28 Feb (make-up), 2, 3 Mar
    // = 5; M03 4; M04 6; M05 16; M06 17; M07 3; M08 6; M11 2 (a weekend between).
    assert_eq!(t.handling.median_business_days, Some(5.5));
    assert_eq!(t.handling.p90_business_days, Some(17.0));
    let w = &t.closed_within;
    assert_eq!(w.business_days_3, 2); // M07, M11
    assert_eq!(w.weeks_8, 8);
    assert_eq!(w.days_15, 6); // all but M05 (22 days) and M06 (25)
    assert_eq!(w.days_30_extended, 1); // M05, extended
    assert_eq!(w.days_60_extended, 0);
    let c = &t.slas["resolution"];
    // Met: P02, M03, M04 (paused 5 days), M05 (extended), M08 (its second run), M11.
    // Breached: M06. Withdrawn: M07. Past the deadline on 1 April: M10 (18 March), P14
    // (15 March). Running: M09, M12, M13. P01 stopped in February: not counted.
    assert_eq!((c.met, c.breached, c.withdrawn), (6, 1, 1));
    assert_eq!((c.running_past_deadline, c.running), (2, 3));
    assert_eq!(c.compliance_rate, Some(0.6667)); // 6 / 9
    assert_eq!(t.extensions, 1);
    assert_eq!((t.reopened, t.reopen_rate), (1, Some(0.125)));
    let o = &t.outcomes;
    assert_eq!(
        (o.upheld, o.partly_upheld, o.not_upheld, o.not_recorded),
        (4, 1, 2, 1)
    );
    assert_eq!(t.upheld_rate, Some(0.7143)); // 5 / 7
    // 200 + 50.50 + 20 + 300; M08's 0 is no redress.
    assert_eq!(t.redress.paid, Decimal::new(57050, 2));
    assert_eq!(t.redress.cases, 4);
    let s = &t.satisfaction;
    assert_eq!(
        (s.responses, s.response_rate, s.mean),
        (6, Some(0.75), Some(3.33))
    ); // 20 / 6
    let distribution: Vec<(i64, u64)> = s.distribution.iter().map(|(k, v)| (*k, *v)).collect();
    assert_eq!(distribution, [(1, 1), (2, 1), (3, 1), (4, 1), (5, 2)]);
    // p3 complained three times in March (M03, M04 as ` P3 `, M11); p2's other
    // complaint came in February.
    let who = t.complainants.as_ref().unwrap();
    assert_eq!(
        (
            who.identified,
            who.distinct,
            who.repeat,
            who.repeat_complaints
        ),
        (11, 9, 1, 3)
    );
}

#[test]
fn root_causes_are_compared_with_february_and_the_trend_goes_by_day() {
    let (_, r) = march(vec![]);
    let causes: Vec<(&str, u64, u64, i64, Option<f64>)> = r
        .root_causes
        .iter()
        .map(|c| {
            (
                c.cause.as_str(),
                c.count,
                c.previous,
                c.change,
                c.change_rate,
            )
        })
        .collect();
    assert_eq!(
        causes,
        [
            ("disclosure", 2, 1, 1, Some(1.0)),
            ("process_error", 2, 0, 2, None),
            ("system_failure", 2, 0, 2, None),
            ("staff_conduct", 1, 0, 1, None),
        ]
    );
    assert_eq!(r.trend.len(), 31);
    let day = |d: u32| {
        r.trend
            .iter()
            .find(|p| p.from.to_string() == format!("2026-03-{d:02}"))
            .unwrap()
    };
    assert_eq!((day(2).received, day(2).closed), (2, 0)); // M03, M10
    assert_eq!((day(3).received, day(3).closed), (1, 1)); // M04; P02
    assert_eq!(r.trend.iter().map(|p| p.received).sum::<u64>(), 11);
    assert_eq!(r.trend.iter().map(|p| p.closed).sum::<u64>(), 8);
}

#[test]
fn groups_by_queue_add_up_to_the_total() {
    let (_, r) = march(vec![Dimension::Queue]);
    let keys: Vec<Option<&str>> = r
        .groups
        .iter()
        .map(|g| g.key[&Dimension::Queue].as_deref())
        .collect();
    assert_eq!(keys, [Some("cards"), Some("general")]);
    let (cards, general) = (&r.groups[0].figures, &r.groups[1].figures);
    // cards: P02, M06, M10, M13.
    assert_eq!(
        (
            cards.received,
            cards.closed,
            cards.open_at_start,
            cards.open_at_end
        ),
        (3, 2, 1, 2)
    );
    assert_eq!(cards.slas["resolution"].breached, 1);
    assert_eq!(cards.redress.paid, Decimal::new(500, 0));
    // general: the rest.
    assert_eq!(
        (
            general.received,
            general.closed,
            general.open_at_start,
            general.open_at_end
        ),
        (8, 6, 1, 3)
    );
    assert_eq!(general.complainants.as_ref().unwrap().repeat_complaints, 3);
}

#[test]
fn the_consumer_return_reads_the_same_numbers() {
    let policy = load_policy(&fixture("policy.toml")).unwrap();
    let by = Return::CnConsumer.by(&policy).unwrap();
    assert_eq!(by, [Dimension::Category, Dimension::RootCause]);
    let facts = facts(&policy);
    let period = Period::named("2026-03", policy.timezone()).unwrap();
    let r = report(&policy, period, by, true, &facts).unwrap();
    let rows = Return::CnConsumer.rows(&r);
    let find = |cat: &str, cause: &str| {
        rows.iter()
            .find(|row| row[0] == cat && row[1] == cause)
            .unwrap()
            .clone()
    };
    // loans / staff_conduct: M05, closed in 22 days with an extension.
    assert_eq!(
        find("loans", "staff_conduct")[2..],
        ["1", "1", "0", "1", "0", "0", "0"]
    );
    // cards / system_failure: P02 (6 days, received in February) and M06 (25 days, not extended).
    assert_eq!(
        find("cards", "system_failure")[2..],
        ["1", "2", "1", "0", "0", "1", "0"]
    );
    let total = rows.last().unwrap();
    assert_eq!(total[0], "Total");
    assert_eq!(total[2..], ["11", "8", "6", "1", "0", "1", "5"]);
}

/// February's report counts only the three complaints received by then (P01, P02,
/// P14): the March complaints in the same file, whose clocks run past February's
/// end, are not counted as running in February, as a store (which selects on the
/// report's window) would not count them.
#[test]
fn a_period_counts_only_the_cases_received_before_its_end() {
    let policy = load_policy(&fixture("policy.toml")).unwrap();
    let facts = facts(&policy);
    let february = || Period::named("2026-02", policy.timezone()).unwrap();
    let all = report(&policy, february(), vec![], true, &facts).unwrap();
    let before_march = at("2026-03-01T00:00:00+08:00");
    let received: Vec<&CaseFacts> = facts
        .iter()
        .filter(|f| f.received_at < before_march)
        .collect();
    assert_eq!(received.len(), 3);
    let only = report(&policy, february(), vec![], true, received).unwrap();
    assert_eq!(
        serde_json::to_value(&all).unwrap(),
        serde_json::to_value(&only).unwrap()
    );
    let c = &all.total.slas["resolution"];
    let counted = c.met + c.breached + c.running_past_deadline + c.running + c.withdrawn;
    assert_eq!(counted, 3, "{c:?}");
    assert_eq!(all.total.received, 3);
}

/// Counting each case into the report as the replay finishes with it (what `redress
/// report --events` does, keeping no facts) gives the same report as counting the
/// facts collected at the end.
#[test]
fn a_report_counted_during_the_replay_is_the_report_of_the_facts() {
    let policy = load_policy(&fixture("policy.toml")).unwrap();
    let march = || Period::named("2026-03", policy.timezone()).unwrap();
    let by = vec![Dimension::Queue];
    let collected = report(&policy, march(), by.clone(), true, &facts(&policy)).unwrap();
    let mut builder =
        redress_engine::report::ReportBuilder::new(&policy, march(), by, true).unwrap();
    let file = std::fs::File::open(fixture("complaints.jsonl")).unwrap();
    let options = ReplayOptions {
        threads: 2,
        until: Some(at("2026-04-01T00:00:00+08:00")),
        ..Default::default()
    };
    let key = ComplainantKey::new(*b"test key");
    let summary = redress_engine::report::report_events(
        &mut builder,
        std::io::BufReader::new(file),
        &options,
        Some(&key),
    );
    assert_eq!(summary.cases, 14);
    assert_eq!(
        serde_json::to_value(builder.finish()).unwrap(),
        serde_json::to_value(&collected).unwrap()
    );
}
