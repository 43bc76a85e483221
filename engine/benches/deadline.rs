//! Deadline plus explanation for a 15-business-day SLA on the cn-2026 calendar,
//! started just before Spring Festival so the walk crosses the longest holiday.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;

use chrono::{DateTime, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use redress_engine::calendar::Calendar;
use redress_engine::calendar::data::parse_calendar_file;
use redress_engine::sla::{SlaClock, SlaRule};

fn cn() -> Calendar {
    let path = format!(
        "{}/../policies/calendars/cn-2026.toml",
        env!("CARGO_MANIFEST_DIR")
    );
    Calendar::new(
        parse_calendar_file(&std::fs::read_to_string(path).unwrap())
            .unwrap()
            .into_spec("cn-2026.toml"),
    )
    .unwrap()
}

fn deadline(c: &mut Criterion) {
    let cal = cn();
    let rule = SlaRule {
        name: "payment services final response".into(),
        target: "15 business days".parse().unwrap(),
        warn: vec![50, 80],
        roll_to_working_day: false,
        from_next_working_day_after_hours: false,
    };
    let start: DateTime<Utc> = "2026-02-13T08:00:00Z".parse().unwrap();
    let mut clock = SlaClock::new(rule.name.clone());
    clock.start(start).unwrap();
    c.bench_function("deadline_15_business_days_cn_2026", |b| {
        b.iter(|| black_box(&clock).deadline(black_box(&rule), &cal).unwrap())
    });
    c.bench_function("deadline_and_explanation_15_business_days_cn_2026", |b| {
        b.iter(|| {
            let deadline = black_box(&clock).deadline(black_box(&rule), &cal).unwrap();
            let explanation = clock.explain(&rule, &cal).unwrap();
            (deadline, explanation)
        })
    });
}

/// The benchmarks, as `criterion_main!` runs them.
mod group {
    // `criterion_group!` makes a `pub fn benches` that cannot carry a doc comment.
    #![allow(missing_docs)]
    use super::*;
    criterion_group!(benches, deadline);
}
criterion_main!(group::benches);
