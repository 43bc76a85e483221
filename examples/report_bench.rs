//! A benchmark (not a test) of `redress report` over a store: writes closed cases
//! through the store (the runtime decides each case's events, `Store::append`
//! writes them with their report facts, as `redress serve` does), then times one
//! quarter's report grouped by queue and category, streamed from the store.
//!
//! ```sh
//! cargo run --release --example report_bench -- write /tmp/report-bench.db 1000000
//! /usr/bin/time -v cargo run --release --example report_bench -- report /tmp/report-bench.db
//! ```
//!
//! Cases run on `engine/tests/fixtures/report/policy.toml` (intake, investigate,
//! resolve, close with an outcome, root cause, redress and score), received through
//! 2026, each closed 1 to 40 days later.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::time::Instant;

use chrono::{DateTime, TimeDelta, Utc};
use redress_engine::policy::{Dimension, load_policy};
use redress_engine::report::{CaseFacts, ComplainantKey, Period, ReportBuilder};
use redress_engine::runtime::VirtualCase;
use redress_engine::runtime::replay::Line;
use redress_store::{Append, ClockSummary, SqliteStore, Store, Summary};
use serde_json::json;

const CATEGORIES: [&str; 3] = ["fees", "cards", "loans"];
const CAUSES: [&str; 4] = [
    "disclosure",
    "process_error",
    "staff_conduct",
    "system_failure",
];
const OUTCOMES: [&str; 3] = ["upheld", "partly_upheld", "not_upheld"];

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let policy_path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("engine/tests/fixtures/report/policy.toml");
    let policy = load_policy(&policy_path).unwrap();
    match args.get(1).map(String::as_str) {
        Some("write") => write(
            &policy,
            &args[2],
            args.get(3).map_or(1_000_000, |n| n.parse().unwrap()),
        ),
        Some("report") => report(&policy, &args[2]),
        _ => eprintln!("usage: report_bench write DB [N] | report DB"),
    }
}

fn line(case: &str, at: DateTime<Utc>, event: &str, data: serde_json::Value) -> Line {
    serde_json::from_value(
        json!({"case": case, "at": at.to_rfc3339(), "event": event, "data": data}),
    )
    .unwrap()
}

fn write(policy: &redress_engine::policy::Policy, db: &str, n: u64) {
    let store = SqliteStore::open(db).unwrap();
    let key = ComplainantKey::new(*b"bench key");
    let start: DateTime<Utc> = "2026-01-01T01:00:00Z".parse().unwrap();
    let started = Instant::now();
    let mut receipts = std::collections::VecDeque::new();
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    for i in 0..n {
        let id = format!("B-{i:07}");
        let received = start + TimeDelta::seconds((i * 31_000_000 / n) as i64);
        let days = 1 + (next() % 40) as i64;
        let r = next();
        let category = CATEGORIES[(r % 3) as usize];
        let mut vc = VirtualCase::new(policy, &id, true);
        let phone = format!("p{}", next() % (n / 2).max(1));
        let data = json!({"category": category, "phone": phone, "summary": "x"});
        let steps = [
            line(&id, received, "intake", data),
            line(
                &id,
                received + TimeDelta::hours(1),
                "investigate",
                json!({}),
            ),
            line(&id, received + TimeDelta::days(days), "resolve", json!({})),
            line(
                &id,
                received + TimeDelta::days(days) + TimeDelta::hours(2),
                "close",
                json!({
                    "outcome": OUTCOMES[(r / 3 % 3) as usize], "root_cause": CAUSES[(r / 9 % 4) as usize],
                    "redress": format!("{}.50", r % 500), "satisfaction": 1 + (r / 36 % 5) as i64,
                }),
            ),
        ];
        for step in steps {
            let at = step.instant();
            vc.send(&step.into_command(), at).unwrap();
        }
        let case = vc.case.clone();
        let append = Append {
            org: "bench".into(),
            report: CaseFacts::of(policy, &case, Some(&key)),
            summary: Summary {
                policy_id: policy.id().into(),
                clock_state: ClockSummary::None,
                next_due: None,
            },
            events: std::mem::take(&mut vc.events),
            case,
            intake_key: None,
            fingerprint: None,
            recorded_at: Utc::now(),
            outbox: Vec::new(),
        };
        receipts.push_back(store.append(append));
        // Keep many writes in flight, so that they share commits.
        while receipts.len() > 2_000 {
            receipts
                .pop_front()
                .unwrap()
                .blocking_recv()
                .unwrap()
                .unwrap();
        }
        if i % 100_000 == 0 {
            eprintln!("{i} cases, {:.0} s", started.elapsed().as_secs_f64());
        }
    }
    for r in receipts {
        r.blocking_recv().unwrap().unwrap();
    }
    eprintln!(
        "wrote {n} cases in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

fn report(policy: &redress_engine::policy::Policy, db: &str) {
    let store = SqliteStore::open(db).unwrap();
    let period = Period::named("2026-Q2", policy.timezone()).unwrap();
    let started = Instant::now();
    let mut builder = ReportBuilder::new(
        policy,
        period,
        vec![Dimension::Queue, Dimension::Category],
        true,
    )
    .unwrap();
    let (from, to) = builder.window();
    let read = store
        .report_facts("bench", policy.id(), from, to, &mut |f| builder.add(&f))
        .unwrap();
    let report = builder.finish();
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "2026-Q2 by queue, category: {read} cases read, {} received, {} closed, {} groups in {elapsed:.2} s",
        report.total.received,
        report.total.closed,
        report.groups.len()
    );
}
