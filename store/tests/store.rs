//! The stores as the service uses them: appends and reads, conflicts that change
//! nothing, group commit, durability across reopening, schema versions, the due
//! index and its claims, lists, policy versions, counts and the outbox. One suite,
//! two backends: every test runs once on SQLite (a fresh file in its own temporary
//! directory) and once on PostgreSQL (a fresh database on the server
//! `REDRESS_TEST_POSTGRES` names, dropped afterwards; skipped, loudly, when it is
//! not set), with cases and events the engine made from the shipped policies.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[macro_use]
mod common;

use chrono::TimeDelta;
use redress_store::{
    CaseCount, CaseFilter, ClockSummary, Conflict, Due, IndexStamp, Lease, Page, PolicyVersion,
    Store, StoreError, SummaryUpdate, TrackingLink,
};

use common::*;
use redress_engine::report::CaseFacts;

fn conflict(org: &str, case: &str, reason: Conflict) -> StoreError {
    StoreError::Conflict {
        org: org.to_string(),
        case: case.to_string(),
        reason,
    }
}

/// The ids on a page.
fn ids(page: &Page) -> Vec<&str> {
    page.rows.iter().map(|r| r.id.as_str()).collect()
}

/// Every case of `org` that `filter` lets through, page by page (`limit` a page).
fn list_all(store: &dyn Store, org: &str, filter: &CaseFilter, limit: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    for _ in 0..1000 {
        let page = store.list(org, filter, after.as_deref(), limit).unwrap();
        assert!(page.rows.len() <= limit, "a page longer than its limit");
        out.extend(page.rows.iter().map(|r| r.id.clone()));
        match page.next {
            Some(next) => after = Some(next),
            None => return out,
        }
    }
    panic!("the list of {org} never ended");
}

// 1. A new case, read back ------------------------------------------------------

fn an_intake_reads_back_as_it_was_written(backend: Backend) {
    let Some(db) = Db::new(backend) else { return };
    let store = db.open();
    let p = retail();
    assert_eq!(store.case_count(ORG_A).unwrap(), 0);

    let (case, events) = intake(p, "C-1", retail_data("CN", "quality"), at(0));
    assert!(events.len() >= 3, "received, routed, clocks: {events:#?}");
    // microsecond precision: what the store keeps
    let recorded = at(0) + TimeDelta::microseconds(1_234_567);
    write(
        &*store,
        append(p, ORG_A, &case, &events, Some("web-42"), recorded),
    )
    .unwrap();

    let got = store
        .case(ORG_A, "C-1")
        .unwrap()
        .expect("the case is stored");
    assert_eq!(got.case, case);
    assert_eq!(got.summary, summary(p, &case));
    assert!(got.summary.next_due.is_some(), "a new case has a clock");

    let log = store.events(ORG_A, "C-1", 0, 100).unwrap();
    assert_eq!(log, stored(&events, recorded));
    let seqs: Vec<u64> = log.iter().map(|e| e.event.seq).collect();
    assert_eq!(seqs, (1..=events.len() as u64).collect::<Vec<_>>());
    assert_eq!(case.version, events.len() as u64);

    // the log pages by version
    let middle = store.events(ORG_A, "C-1", 1, 2).unwrap();
    assert_eq!(
        middle.iter().map(|e| e.event.seq).collect::<Vec<_>>(),
        [2, 3]
    );
    assert!(
        store
            .events(ORG_A, "C-1", case.version, 10)
            .unwrap()
            .is_empty()
    );
    assert!(store.events(ORG_A, "C-1", 0, 0).unwrap().is_empty());

    assert_eq!(
        store.case_by_key(ORG_A, "web-42").unwrap().as_deref(),
        Some("C-1")
    );
    assert_eq!(store.case_by_key(ORG_A, "web-43").unwrap(), None);
    assert_eq!(store.case_count(ORG_A).unwrap(), 1);
    assert!(store.case(ORG_A, "C-2").unwrap().is_none());
    assert!(store.events(ORG_A, "C-2", 0, 10).unwrap().is_empty());

    // and as a list row
    let page = store.list(ORG_A, &CaseFilter::default(), None, 10).unwrap();
    assert_eq!(page.next, None);
    assert_eq!(page.rows.len(), 1);
    let row = &page.rows[0];
    assert_eq!(row.id, "C-1");
    assert_eq!(row.policy, "retail");
    assert_eq!(row.policy_hash, p.hash());
    assert_eq!(row.version, case.version);
    assert_eq!(row.stage, "received");
    assert_eq!(row.queue.as_deref(), Some("quality"));
    assert_eq!(row.priority, Some(2));
    assert_eq!(row.assignee, None);
    assert!(!row.closed);
    assert_eq!(row.clock_state, ClockSummary::Running);
    assert_eq!(row.received_at, at(0));
    assert_eq!(row.updated_at, at(0));
    assert_eq!(row.next_due, got.summary.next_due);
}

// 2. More events on a case --------------------------------------------------------

fn later_writes_move_the_snapshot_version_and_summary_on(backend: Backend) {
    let Some(db) = Db::new(backend) else { return };
    let store = db.open();
    let p = retail();
    let mut c = Tracked::intake(
        &*store,
        p,
        ORG_A,
        "C-1",
        retail_data("CN", "delivery"),
        None,
        at(0),
    );
    assert_eq!(observe(&*store, ORG_A, "C-1"), c.observed());
    let due_at_intake = c.summary.next_due;

    let steps = [
        ("acknowledge", event("acknowledge"), 30),
        ("assign", assign("mei"), 45),
        ("note", note("called the courier"), 50),
    ];
    for (name, command, minutes) in steps {
        let before = c.case.version;
        c.run(&*store, p, command, at(minutes));
        assert!(c.case.version > before, "{name} added events");
        assert_eq!(observe(&*store, ORG_A, "C-1"), c.observed(), "after {name}");
        let row = store
            .list(ORG_A, &CaseFilter::default(), None, 10)
            .unwrap()
            .rows
            .remove(0);
        assert_eq!(row.version, c.case.version, "after {name}");
        assert_eq!(row.updated_at, at(minutes), "after {name}");
        assert_eq!(row.stage, c.case.stage, "after {name}");
        assert_eq!(row.assignee, c.case.assignee, "after {name}");
        assert_eq!(row.next_due, c.summary.next_due, "after {name}");
        assert_eq!(row.queue, c.case.queue, "after {name}");
        assert_eq!(row.clock_state, c.summary.clock_state, "after {name}");
        // The filters read the indexed columns, which a write sets only when they
        // change: each finds the case by its new value and none by an old one.
        let found = |filter: CaseFilter| list_all(&*store, ORG_A, &filter, 10);
        let by_stage = |stage: &str| CaseFilter {
            stage: Some(stage.to_string()),
            ..CaseFilter::default()
        };
        assert_eq!(found(by_stage(&c.case.stage)), ["C-1"], "after {name}");
        for stage in ["received", "acknowledged", "investigating"] {
            if stage != c.case.stage {
                assert!(found(by_stage(stage)).is_empty(), "{stage} after {name}");
            }
        }
        let by_queue = CaseFilter {
            queue: c.case.queue.clone(),
            ..CaseFilter::default()
        };
        assert_eq!(found(by_queue), ["C-1"], "after {name}");
        let by_clock = |clock_state| CaseFilter {
            clock_state: Some(clock_state),
            ..CaseFilter::default()
        };
        assert_eq!(
            found(by_clock(c.summary.clock_state)),
            ["C-1"],
            "after {name}"
        );
        let open = CaseFilter {
            closed: Some(false),
            ..CaseFilter::default()
        };
        assert_eq!(found(open), ["C-1"], "after {name}");
    }
    assert_eq!(c.case.stage, "investigating");
    assert_eq!(c.case.assignee.as_deref(), Some("mei"));
    assert_ne!(
        c.summary.next_due, due_at_intake,
        "acknowledging stops the acknowledgement clock, so the next timer moves"
    );
    assert_eq!(store.case_count(ORG_A).unwrap(), 1);
    // the log is the concatenation of every write, each with its own recorded_at
    let seqs: Vec<u64> = c.log.iter().map(|e| e.event.seq).collect();
    assert_eq!(seqs, (1..=c.case.version).collect::<Vec<_>>());
}

// 3. Conflicts change nothing -----------------------------------------------------

fn conflicting_writes_are_refused_and_change_nothing(backend: Backend) {
    let Some(db) = Db::new(backend) else { return };
    let store = db.open();
    let p = retail();
    let mut c1 = Tracked::intake(
        &*store,
        p,
        ORG_A,
        "C-1",
        retail_data("CN", "quality"),
        Some("k-1"),
        at(0),
    );
    // two writes starting from the same version: the first wins
    let base = c1.case.clone();
    let mut loser = base.clone();
    let loser_events = run(p, &mut loser, note("second writer"), at(20));
    c1.run(&*store, p, event("acknowledge"), at(10));

    // a write of events that do not follow the stored version
    let mut skipping = c1.case.clone();
    let mut skipped = run(p, &mut skipping, note("skips one"), at(30));
    skipped[0].seq += 1;
    skipping.version += 1;

    // a later write to a case that was never stored
    let (mut ghost, _) = intake(p, "C-3", retail_data("CN", "billing"), at(0));
    let ghost_events = run(p, &mut ghost, note("never taken in here"), at(5));

    // more events than the case's version counts
    let mut short = c1.case.clone();
    let mut short_events = run(p, &mut short, note("short"), at(40));
    short_events.push(short_events[0].clone());
    short.version = 1;

    let (again, again_events) = intake(p, "C-1", retail_data("EU", "service"), at(50));
    let (c2, c2_events) = intake(p, "C-2", retail_data("CN", "returns"), at(50));

    let cases = [
        (
            "a second write from the same version",
            append(p, ORG_A, &loser, &loser_events, None, at(20)),
            "C-1",
            Conflict::Version,
        ),
        (
            "a new case whose id is taken (with a fresh key)",
            append(p, ORG_A, &again, &again_events, Some("k-fresh"), at(50)),
            "C-1",
            Conflict::CaseExists,
        ),
        (
            "a new case whose intake key names another case",
            append(p, ORG_A, &c2, &c2_events, Some("k-1"), at(50)),
            "C-2",
            Conflict::KeyTaken,
        ),
        (
            "events that skip a version",
            append(p, ORG_A, &skipping, &skipped, None, at(30)),
            "C-1",
            Conflict::Version,
        ),
        (
            "a later write to a case that is not stored",
            append(p, ORG_A, &ghost, &ghost_events, None, at(5)),
            "C-3",
            Conflict::Version,
        ),
        (
            "more events than the case's version",
            append(p, ORG_A, &short, &short_events, None, at(40)),
            "C-1",
            Conflict::Version,
        ),
    ];

    let state = |store: &dyn Store| {
        (
            ["C-1", "C-2", "C-3"].map(|id| observe(store, ORG_A, id)),
            ["k-1", "k-fresh"].map(|k| store.case_by_key(ORG_A, k).unwrap()),
            store.case_count(ORG_A).unwrap(),
            store.list(ORG_A, &CaseFilter::default(), None, 10).unwrap(),
        )
    };
    let before = state(&*store);
    assert_eq!(
        before.0[0],
        c1.observed(),
        "the first writer's events are kept"
    );
    for (name, write_, id, reason) in cases {
        let outcome = write(&*store, write_);
        assert_eq!(outcome, Err(conflict(ORG_A, id, reason)), "{name}");
        assert_eq!(state(&*store), before, "{name} changed the store");
    }
    assert_eq!(
        before.1,
        [Some("C-1".to_string()), None],
        "the refused intake's key was not recorded"
    );
    assert_eq!(before.2, 1);
}

// 4. Group commit -----------------------------------------------------------------

fn writes_committed_together_succeed_or_fail_one_by_one(backend: Backend) {
    let Some(db) = Db::new(backend) else { return };
    let store = db.open();
    let p = retail();
    // cases already stored, for pairs of writes from the same version
    let pairs: Vec<Tracked> = (0..20)
        .map(|j| {
            Tracked::intake(
                &*store,
                p,
                ORG_A,
                &format!("P-{j}"),
                retail_data("CN", "quality"),
                None,
                at(j),
            )
        })
        .collect();

    #[derive(Debug, Clone)]
    enum Expect {
        Stored(Box<Tracked>),
        Refused(StoreError),
    }
    let mut writes = Vec::new();
    for i in 0..200usize {
        let now = at(100 + i as i64);
        let (write_, expect) = match i % 10 {
            0..=5 => {
                let id = format!("G-{i}");
                let market = ["CN", "EU"][i % 2];
                let (case, events) = intake(p, &id, retail_data(market, "delivery"), now);
                let key = format!("K-{i}");
                let w = append(p, ORG_A, &case, &events, Some(&key), now);
                let t = Tracked {
                    org: ORG_A.into(),
                    summary: w.summary.clone(),
                    log: stored(&events, now),
                    case,
                };
                (w, Expect::Stored(Box::new(t)))
            }
            6 => {
                // the key of a good intake earlier in the same burst
                let id = format!("D-{i}");
                let (case, events) = intake(p, &id, retail_data("CN", "billing"), now);
                let key = format!("K-{}", i - 6);
                let w = append(p, ORG_A, &case, &events, Some(&key), now);
                (w, Expect::Refused(conflict(ORG_A, &id, Conflict::KeyTaken)))
            }
            7 => {
                // the id of a good intake earlier in the same burst
                let id = format!("G-{}", i - 7);
                let (case, events) = intake(p, &id, retail_data("CN", "billing"), now);
                let key = format!("F-{i}");
                let w = append(p, ORG_A, &case, &events, Some(&key), now);
                (
                    w,
                    Expect::Refused(conflict(ORG_A, &id, Conflict::CaseExists)),
                )
            }
            8 => {
                let mut t = pairs[i / 10].clone();
                let events = run(p, &mut t.case, event("acknowledge"), now);
                let w = append(p, ORG_A, &t.case, &events, None, now);
                t.summary = w.summary.clone();
                t.log.extend(stored(&events, now));
                (w, Expect::Stored(Box::new(t)))
            }
            _ => {
                let mut t = pairs[i / 10].clone();
                let events = run(p, &mut t.case, note("from the same version"), now);
                let w = append(p, ORG_A, &t.case, &events, None, now);
                let id = t.case.id.clone();
                (w, Expect::Refused(conflict(ORG_A, &id, Conflict::Version)))
            }
        };
        writes.push((write_, expect));
    }

    // every receipt first, then the outcomes. One SQLite writer commits in the
    // order sent, so the first of two racing writes wins; PostgreSQL commits on
    // several connections at once, where a race has no order: there the losers
    // (the keys, ids and versions taken earlier in the burst) go in a second wave.
    let second_wave = |i: usize| store.shared() && matches!(i % 10, 6 | 7 | 9);
    let mut outcomes = vec![None; writes.len()];
    for wave in [false, true] {
        let receipts: Vec<_> = (0..writes.len())
            .filter(|i| second_wave(*i) == wave)
            .map(|i| (i, store.append(writes[i].0.clone())))
            .collect();
        for (i, r) in receipts {
            outcomes[i] = Some(r.blocking_recv().expect("every receipt is answered"));
        }
    }
    let outcomes: Vec<_> = outcomes.into_iter().map(Option::unwrap).collect();

    let mut wrong = Vec::new();
    for (i, ((w, expect), outcome)) in writes.iter().zip(&outcomes).enumerate() {
        let ok = match expect {
            Expect::Stored(_) => outcome.is_ok(),
            Expect::Refused(e) => outcome.as_ref().err() == Some(e),
        };
        if !ok {
            wrong.push(format!("write {i} ({}): {outcome:?}", w.case.id));
        }
    }
    assert!(
        wrong.is_empty(),
        "unexpected outcomes:\n{}",
        wrong.join("\n")
    );

    // what succeeded is stored whole; what failed left nothing
    for (i, (w, expect)) in writes.iter().enumerate() {
        match expect {
            Expect::Stored(t) => {
                assert_eq!(
                    observe(&*store, ORG_A, &t.case.id),
                    t.observed(),
                    "write {i}"
                );
                if let Some(key) = &w.intake_key {
                    assert_eq!(
                        store.case_by_key(ORG_A, key).unwrap().as_deref(),
                        Some(t.case.id.as_str()),
                        "write {i}"
                    );
                }
            }
            Expect::Refused(_) => {
                let key = w.intake_key.as_deref();
                match i % 10 {
                    6 => assert!(store.case(ORG_A, &w.case.id).unwrap().is_none()),
                    7 => assert_eq!(store.case_by_key(ORG_A, key.unwrap()).unwrap(), None),
                    _ => {}
                }
            }
        }
    }
    let good_intakes = (0..200).filter(|i| i % 10 <= 5).count() as u64;
    assert_eq!(store.case_count(ORG_A).unwrap(), good_intakes + 20);
    assert_eq!(
        list_all(&*store, ORG_A, &CaseFilter::default(), 50).len() as u64,
        good_intakes + 20
    );
}

// 5. Durability and migrations ----------------------------------------------------

fn everything_written_is_there_after_reopening(backend: Backend) {
    let Some(db) = Db::new(backend) else { return };
    let p = retail();
    let store = db.open();
    let mut tracked = vec![
        Tracked::intake(
            &*store,
            p,
            ORG_A,
            "C-1",
            retail_data("CN", "quality"),
            Some("k-1"),
            at(0),
        ),
        Tracked::intake(
            &*store,
            p,
            ORG_B,
            "C-1",
            retail_data("EU", "returns"),
            Some("k-1"),
            at(1),
        ),
    ];
    tracked[0].run(&*store, p, event("acknowledge"), at(10));
    tracked[1].run(&*store, p, withdraw(), at(11));
    // a burst nobody waits for before the store is dropped
    let mut receipts = Vec::new();
    for i in 0..50 {
        let id = format!("B-{i}");
        let (case, events) = intake(p, &id, retail_data("CN", "service"), at(20 + i));
        let w = append(
            p,
            ORG_A,
            &case,
            &events,
            Some(&format!("b-{i}")),
            at(20 + i),
        );
        tracked.push(Tracked {
            org: ORG_A.into(),
            summary: w.summary.clone(),
            log: stored(&events, at(20 + i)),
            case,
        });
        receipts.push(store.append(w));
    }
    let version = retail_version(p);
    store.save_policy_version(ORG_A, &version).unwrap();
    // With one writer the list already shows the burst; on PostgreSQL the burst
    // may still be committing, so the list is first taken after reopening.
    let mut list_before = (!store.shared()).then(|| {
        store
            .list(ORG_A, &CaseFilter::default(), None, 100)
            .unwrap()
    });
    drop(store); // waits for the writes in flight

    for r in receipts {
        assert_eq!(
            r.blocking_recv().expect("answered before the writer ended"),
            Ok(())
        );
    }
    for _ in 0..3 {
        let store = db.open();
        for t in &tracked {
            assert_eq!(
                observe(&*store, &t.org, &t.case.id),
                t.observed(),
                "{}",
                t.case.id
            );
        }
        assert_eq!(
            store.case_by_key(ORG_A, "k-1").unwrap().as_deref(),
            Some("C-1")
        );
        assert_eq!(
            store.case_by_key(ORG_A, "b-49").unwrap().as_deref(),
            Some("B-49")
        );
        assert_eq!(store.case_count(ORG_A).unwrap(), 51);
        assert_eq!(store.case_count(ORG_B).unwrap(), 1);
        let list = store
            .list(ORG_A, &CaseFilter::default(), None, 100)
            .unwrap();
        assert_eq!(list.rows.len(), 51);
        assert_eq!(&list, list_before.get_or_insert_with(|| list.clone()));
        assert_eq!(
            store.policy_version(ORG_A, p.hash()).unwrap(),
            Some(version.clone())
        );
        drop(store);
        db.assert_migrated_once();
    }
}

fn a_new_database_is_migrated_once(backend: Backend) {
    let Some(db) = Db::new(backend) else { return };
    drop(db.open());
    db.assert_migrated_once();
    drop(db.open());
    db.assert_migrated_once();
}

/// BUG (store/src/sqlite.rs `SqliteStore::open` and store/src/migrations.rs
/// `migrate`): two processes (the server and a CLI, or an overlapping restart, or
/// several nodes starting at once on PostgreSQL) opening a new database at once.
/// Every opener should succeed and the schema be migrated once.
fn openers_racing_on_a_new_database_all_succeed(backend: Backend) {
    let mut failures = Vec::new();
    let rounds = match backend {
        Backend::Sqlite => 20,
        Backend::Postgres => 4,
    };
    for round in 0..rounds {
        let Some(db) = Db::new(backend) else { return };
        let db = std::sync::Arc::new(db);
        let start = std::sync::Arc::new(std::sync::Barrier::new(4));
        let openers: Vec<_> = (0..4)
            .map(|_| {
                let (start, db) = (start.clone(), db.clone());
                std::thread::spawn(move || {
                    start.wait();
                    db.try_open().map(drop)
                })
            })
            .collect();
        for opener in openers {
            if let Err(e) = opener.join().unwrap() {
                failures.push(format!("round {round}: {e}"));
            }
        }
        if failures.is_empty() {
            db.assert_migrated_once();
        }
    }
    assert!(
        failures.is_empty(),
        "{} openers failed: {failures:#?}",
        failures.len()
    );
}

// 6. A newer schema ---------------------------------------------------------------

fn a_database_from_a_newer_redress_is_refused(backend: Backend) {
    let known = Db::known_schema(backend);
    for (name, found, migrated_first) in [
        ("an empty database marked 99", 99, false),
        (
            "a migrated database marked one past the last",
            known + 1,
            true,
        ),
    ] {
        let Some(db) = Db::new(backend) else { return };
        if migrated_first {
            drop(db.open());
        }
        db.mark_schema_version(found);
        let refused = db.try_open().err().expect(name);
        assert_eq!(refused, StoreError::NewerSchema { found, known }, "{name}");
    }
}

// 7. The due index ----------------------------------------------------------------

fn due_cases_come_earliest_first_across_organisations(backend: Backend) {
    let Some(db) = Db::new(backend) else { return };
    let store = db.open();
    let p = retail();
    assert_eq!(store.due(at(100_000), 10).unwrap(), []);
    assert_eq!(store.next_due().unwrap(), None);

    // (org, case, due in minutes (None: nothing pending), withdrawn)
    let spec: [(&str, &str, Option<i64>, bool); 7] = [
        (ORG_A, "A-late", Some(300), false),
        (ORG_B, "B-first", Some(10), false),
        (ORG_A, "A-mid", Some(120), false),
        (ORG_B, "B-mid", Some(121), false),
        (ORG_A, "A-nothing", None, false),
        (ORG_B, "B-closed", None, true),
        (ORG_A, "A-closed", None, true),
    ];
    let mut cases = Vec::new();
    for (org, id, due, withdrawn) in spec {
        let mut t = Tracked::intake_with(
            &*store,
            p,
            org,
            id,
            retail_data("CN", "quality"),
            None,
            at(0),
            |s| s.next_due = due.map(at),
        );
        if withdrawn {
            t.run(&*store, p, withdraw(), at(1));
            assert!(t.case.closed);
            assert_eq!(t.summary.next_due, None, "a closed case has no timer");
        }
        cases.push(t);
    }
    let due = |org: &str, case: &str, minutes: i64| Due {
        org: org.into(),
        case: case.into(),
        at: at(minutes),
    };
    let table = [
        (9, 10, vec![]),
        (10, 10, vec![due(ORG_B, "B-first", 10)]),
        (
            121,
            10,
            vec![
                due(ORG_B, "B-first", 10),
                due(ORG_A, "A-mid", 120),
                due(ORG_B, "B-mid", 121),
            ],
        ),
        (
            100_000,
            10,
            vec![
                due(ORG_B, "B-first", 10),
                due(ORG_A, "A-mid", 120),
                due(ORG_B, "B-mid", 121),
                due(ORG_A, "A-late", 300),
            ],
        ),
        (
            100_000,
            2,
            vec![due(ORG_B, "B-first", 10), due(ORG_A, "A-mid", 120)],
        ),
        (100_000, 0, vec![]),
    ];
    for (until, limit, expected) in table {
        assert_eq!(
            store.due(at(until), limit).unwrap(),
            expected,
            "until {until} minutes, limit {limit}"
        );
    }
    assert_eq!(store.next_due().unwrap(), Some(at(10)));

    // set_summary with the stored version moves a case in the index
    let late = &cases[0];
    let mut moved = late.summary.clone();
    moved.next_due = Some(at(5));
    moved.clock_state = ClockSummary::AtRisk;
    assert!(
        store
            .set_summary(ORG_A, "A-late", late.case.version, &moved)
            .unwrap()
    );
    assert_eq!(store.next_due().unwrap(), Some(at(5)));
    assert_eq!(store.due(at(9), 10).unwrap(), [due(ORG_A, "A-late", 5)]);
    assert_eq!(store.case(ORG_A, "A-late").unwrap().unwrap().summary, moved);
    let row = store
        .list(
            ORG_A,
            &CaseFilter {
                clock_state: Some(ClockSummary::AtRisk),
                ..CaseFilter::default()
            },
            None,
            10,
        )
        .unwrap();
    assert_eq!(ids(&row), ["A-late"]);

    // a stale version, another organisation or an unknown case: nothing changes
    let mut stale = moved.clone();
    stale.next_due = Some(at(1));
    let refused = [
        (ORG_A, "A-late", late.case.version - 1),
        (ORG_A, "A-late", late.case.version + 1),
        (ORG_B, "A-late", late.case.version),
        (ORG_A, "A-unknown", 1),
    ];
    for (org, id, version) in refused {
        assert!(
            !store.set_summary(org, id, version, &stale).unwrap(),
            "{org}/{id} at {version}"
        );
    }
    assert_eq!(store.case(ORG_A, "A-late").unwrap().unwrap().summary, moved);
    assert_eq!(store.next_due().unwrap(), Some(at(5)));

    // closing the case takes it out of the index
    let mut late = cases[0].clone();
    late.run(&*store, p, withdraw(), at(2));
    assert_eq!(store.next_due().unwrap(), Some(at(10)));
    assert!(
        !store
            .set_summary(ORG_A, "A-late", cases[0].case.version, &moved)
            .unwrap(),
        "the version before the withdrawal is stale"
    );
    assert_eq!(
        store.due(at(100_000), 10).unwrap(),
        [
            due(ORG_B, "B-first", 10),
            due(ORG_A, "A-mid", 120),
            due(ORG_B, "B-mid", 121),
        ]
    );
}

// 8. Lists ------------------------------------------------------------------------

fn lists_filter_page_and_keep_organisations_apart(backend: Backend) {
    let Some(db) = Db::new(backend) else { return };
    let store = db.open();
    let (r, b) = (retail(), bank());

    let a1 = Tracked::intake(
        &*store,
        r,
        ORG_A,
        "A-1",
        retail_data("CN", "quality"),
        Some("key-1"),
        at(0),
    );
    let a2 = Tracked::intake(
        &*store,
        r,
        ORG_A,
        "A-2",
        retail_data("EU", "service"),
        Some("key-2"),
        at(1),
    );
    let mut a3 = Tracked::intake(
        &*store,
        r,
        ORG_A,
        "A-3",
        retail_data("CN", "delivery"),
        None,
        at(2),
    );
    a3.run(&*store, r, event("acknowledge"), at(10));
    a3.run(&*store, r, assign("mei"), at(11));
    let a4 = Tracked::intake(&*store, b, ORG_A, "A-4", bank_data(), None, at(3));
    let mut a5 = Tracked::intake(
        &*store,
        r,
        ORG_A,
        "A-5",
        retail_data("CN", "quality"),
        None,
        at(4),
    );
    a5.run(&*store, r, withdraw(), at(12));
    let mut a6 = Tracked::intake(
        &*store,
        r,
        ORG_A,
        "A-6",
        retail_data("CN", "service"),
        None,
        at(5),
    );
    a6.run_with(&*store, r, assign("mei"), at(13), |s| {
        s.clock_state = ClockSummary::Breached
    });
    let a7 = Tracked::intake_with(
        &*store,
        r,
        ORG_A,
        "A-7",
        retail_data("EU", "quality"),
        None,
        at(6),
        |s| s.clock_state = ClockSummary::AtRisk,
    );
    // organisation B: one case of its own, one with an id and key A uses too
    let b1 = Tracked::intake(
        &*store,
        r,
        ORG_B,
        "B-1",
        retail_data("CN", "quality"),
        None,
        at(7),
    );
    let b_a1 = Tracked::intake(
        &*store,
        r,
        ORG_B,
        "A-1",
        retail_data("EU", "returns"),
        Some("key-1"),
        at(8),
    );

    assert_eq!(a4.case.queue.as_deref(), Some("general"));
    assert_eq!(a6.case.queue.as_deref(), Some("general"));
    assert_eq!(a2.case.queue.as_deref(), Some("eu-service"));
    assert_eq!(a7.case.queue.as_deref(), Some("eu-service"));
    assert_eq!(a5.case.stage, "withdrawn");

    let all = ["A-1", "A-2", "A-3", "A-4", "A-5", "A-6", "A-7"];
    let open = ["A-1", "A-2", "A-3", "A-4", "A-6", "A-7"];
    let f = CaseFilter::default;
    let table: Vec<(&str, CaseFilter, Vec<&str>)> = vec![
        ("no filter", f(), all.to_vec()),
        (
            "queue",
            CaseFilter {
                queue: Some("quality".into()),
                ..f()
            },
            vec!["A-1", "A-5"],
        ),
        (
            "queue across policies",
            CaseFilter {
                queue: Some("general".into()),
                ..f()
            },
            vec!["A-4", "A-6"],
        ),
        (
            "stage",
            CaseFilter {
                stage: Some("investigating".into()),
                ..f()
            },
            vec!["A-3"],
        ),
        (
            "clock breached",
            CaseFilter {
                clock_state: Some(ClockSummary::Breached),
                ..f()
            },
            vec!["A-6"],
        ),
        (
            "clock at risk",
            CaseFilter {
                clock_state: Some(ClockSummary::AtRisk),
                ..f()
            },
            vec!["A-7"],
        ),
        (
            "clock none",
            CaseFilter {
                clock_state: Some(ClockSummary::None),
                ..f()
            },
            vec!["A-5"],
        ),
        (
            "clock paused",
            CaseFilter {
                clock_state: Some(ClockSummary::Paused),
                ..f()
            },
            vec![],
        ),
        (
            "policy",
            CaseFilter {
                policy: Some("bank-cn".into()),
                ..f()
            },
            vec!["A-4"],
        ),
        (
            "closed",
            CaseFilter {
                closed: Some(true),
                ..f()
            },
            vec!["A-5"],
        ),
        (
            "open",
            CaseFilter {
                closed: Some(false),
                ..f()
            },
            open.to_vec(),
        ),
        (
            "assignee",
            CaseFilter {
                assignee: Some("mei".into()),
                ..f()
            },
            vec!["A-3", "A-6"],
        ),
        (
            "unknown assignee",
            CaseFilter {
                assignee: Some("nobody".into()),
                ..f()
            },
            vec![],
        ),
        (
            "open retail in eu-service",
            CaseFilter {
                queue: Some("eu-service".into()),
                policy: Some("retail".into()),
                closed: Some(false),
                ..f()
            },
            vec!["A-2", "A-7"],
        ),
    ];
    for (name, filter, expected) in &table {
        let page = store.list(ORG_A, filter, None, 100).unwrap();
        assert_eq!(ids(&page), *expected, "{name}");
        assert_eq!(page.next, None, "{name}");
        for limit in [1, 2, 3] {
            assert_eq!(
                list_all(&*store, ORG_A, filter, limit),
                *expected,
                "{name}, {limit} a page"
            );
        }
    }

    // three pages, by cursor
    let p1 = store.list(ORG_A, &f(), None, 3).unwrap();
    assert_eq!(ids(&p1), ["A-1", "A-2", "A-3"]);
    let p2 = store.list(ORG_A, &f(), p1.next.as_deref(), 3).unwrap();
    assert_eq!(ids(&p2), ["A-4", "A-5", "A-6"]);
    let p3 = store.list(ORG_A, &f(), p2.next.as_deref(), 3).unwrap();
    assert_eq!(ids(&p3), ["A-7"]);
    assert!(p1.next.is_some() && p2.next.is_some());
    assert_eq!(p3.next, None);
    // a page that ends exactly at the last case has no next
    let exact = store.list(ORG_A, &f(), None, 7).unwrap();
    assert_eq!((exact.rows.len(), exact.next), (7, None));
    let open_pages = [store
        .list(
            ORG_A,
            &CaseFilter {
                closed: Some(false),
                ..f()
            },
            None,
            3,
        )
        .unwrap()];
    assert_eq!(ids(&open_pages[0]), ["A-1", "A-2", "A-3"]);
    let rest = store
        .list(
            ORG_A,
            &CaseFilter {
                closed: Some(false),
                ..f()
            },
            open_pages[0].next.as_deref(),
            3,
        )
        .unwrap();
    assert_eq!(
        (ids(&rest), rest.next.clone()),
        (vec!["A-4", "A-6", "A-7"], None)
    );
    assert!(matches!(
        store.list(ORG_A, &f(), Some("not-a-cursor"), 3),
        Err(StoreError::Corrupt { .. })
    ));

    // organisation B sees only its own
    assert_eq!(
        ids(&store.list(ORG_B, &f(), None, 100).unwrap()),
        ["B-1", "A-1"]
    );
    assert_eq!(list_all(&*store, ORG_B, &f(), 1), ["B-1", "A-1"]);
    let other = store.list("org-c", &f(), None, 100).unwrap();
    assert_eq!((other.rows.len(), other.next), (0, None));
    assert_eq!(store.case_count(ORG_A).unwrap(), 7);
    assert_eq!(store.case_count(ORG_B).unwrap(), 2);
    assert_eq!(store.case_count("org-c").unwrap(), 0);
    for a in [&a2, &a3, &a4, &a5, &a6, &a7] {
        assert!(
            store.case(ORG_B, &a.case.id).unwrap().is_none(),
            "{}",
            a.case.id
        );
        assert!(store.events(ORG_B, &a.case.id, 0, 100).unwrap().is_empty());
    }
    assert_eq!(store.case_by_key(ORG_B, "key-2").unwrap(), None);
    // the same id and key in both: each organisation has its own
    assert_eq!(observe(&*store, ORG_A, "A-1"), a1.observed());
    assert_eq!(observe(&*store, ORG_B, "A-1"), b_a1.observed());
    assert_eq!(observe(&*store, ORG_B, "B-1"), b1.observed());
    assert_eq!(
        store.case_by_key(ORG_A, "key-1").unwrap().as_deref(),
        Some("A-1")
    );
    assert_eq!(
        store.case_by_key(ORG_B, "key-1").unwrap().as_deref(),
        Some("A-1")
    );
    assert!(store.case(ORG_A, "B-1").unwrap().is_none());
    // a cursor from A's list does not show B's cases
    let after_a = store.list(ORG_A, &f(), p2.next.as_deref(), 100).unwrap();
    assert_eq!(ids(&after_a), ["A-7"]);
}

/// BUG (store/src/sqlite.rs, `list`): the query's limit is `limit as i64 + 1`, so
/// `usize::MAX` (a caller's "no limit") becomes `LIMIT 0`: an empty page with no
/// `next`, as if the organisation had no cases.
fn a_list_without_a_limit_shows_every_case(backend: Backend) {
    let Some(db) = Db::new(backend) else { return };
    let store = db.open();
    let p = retail();
    for i in 0..3 {
        Tracked::intake(
            &*store,
            p,
            ORG_A,
            &format!("C-{i}"),
            retail_data("CN", "quality"),
            None,
            at(i),
        );
    }
    let page = store
        .list(ORG_A, &CaseFilter::default(), None, usize::MAX)
        .unwrap();
    assert_eq!(
        (ids(&page), page.next.clone()),
        (vec!["C-0", "C-1", "C-2"], None)
    );
}

// Open cases, for rebuilding the due index ---------------------------------------

fn open_cases_page_through_every_organisation_skipping_closed_ones(backend: Backend) {
    let Some(db) = Db::new(backend) else { return };
    let store = db.open();
    let p = retail();
    let spec = [
        (ORG_B, "X-2", false),
        (ORG_A, "X-1", false),
        (ORG_A, "X-3", true),
        (ORG_B, "X-1", false),
        (ORG_A, "X-2", false),
        (ORG_B, "X-3", true),
    ];
    let mut tracked = Vec::new();
    for (i, (org, id, closed)) in spec.into_iter().enumerate() {
        let mut t = Tracked::intake(
            &*store,
            p,
            org,
            id,
            retail_data("CN", "quality"),
            None,
            at(i as i64),
        );
        if closed {
            t.run(&*store, p, withdraw(), at(10));
        }
        tracked.push(t);
    }
    let mut seen = Vec::new();
    let mut after: Option<(String, String)> = None;
    loop {
        let page = store
            .open_cases(after.as_ref().map(|(o, i)| (o.as_str(), i.as_str())), 2)
            .unwrap();
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 2);
        for (org, c) in &page {
            let t = tracked
                .iter()
                .find(|t| &t.org == org && t.case.id == c.case.id)
                .unwrap();
            assert_eq!((&c.case, &c.summary), (&t.case, &t.summary));
        }
        let (org, last) = page.last().unwrap();
        after = Some((org.clone(), last.case.id.clone()));
        seen.extend(page.into_iter().map(|(org, c)| (org, c.case.id)));
    }
    let expected = [
        (ORG_A, "X-1"),
        (ORG_A, "X-2"),
        (ORG_B, "X-1"),
        (ORG_B, "X-2"),
    ]
    .map(|(o, i)| (o.to_string(), i.to_string()));
    assert_eq!(seen, expected);
}

// 9. Policy versions --------------------------------------------------------------

fn retail_version(p: &redress_engine::policy::Policy) -> PolicyVersion {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies");
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap();
    PolicyVersion {
        hash: p.hash().to_string(),
        policy_id: p.id().to_string(),
        version: p.version().to_string(),
        sources: vec![
            ("retail.toml".into(), read("retail.toml")),
            (
                "calendars/cn-2026.toml".into(),
                read("calendars/cn-2026.toml"),
            ),
        ],
    }
}

fn policy_versions_are_kept_per_organisation(backend: Backend) {
    let Some(db) = Db::new(backend) else { return };
    let store = db.open();
    let kept = retail_version(retail());
    let other = PolicyVersion {
        hash: "0".repeat(64),
        policy_id: "tiny".into(),
        version: "1".into(),
        sources: vec![(
            "tiny.toml".into(),
            "[policy]\nid = \"tiny\"\n# 中文\n".into(),
        )],
    };
    assert_eq!(store.policy_version(ORG_A, &kept.hash).unwrap(), None);
    store.save_policy_version(ORG_A, &kept).unwrap();
    store.save_policy_version(ORG_B, &other).unwrap();

    let table = [
        (ORG_A, &kept.hash, Some(&kept)),
        (ORG_A, &other.hash, None),
        (ORG_B, &other.hash, Some(&other)),
        (ORG_B, &kept.hash, None),
        ("org-c", &kept.hash, None),
    ];
    let check = |store: &dyn Store| {
        for (org, hash, expected) in table {
            assert_eq!(
                store.policy_version(org, hash).unwrap().as_ref(),
                expected,
                "{org} {hash}"
            );
        }
    };
    check(&*store);
    // saving again is a no-op
    store.save_policy_version(ORG_A, &kept).unwrap();
    store.save_policy_version(ORG_B, &other).unwrap();
    check(&*store);
    // the same version for another organisation is that organisation's own
    store.save_policy_version(ORG_B, &kept).unwrap();
    assert_eq!(
        store.policy_version(ORG_B, &kept.hash).unwrap(),
        Some(kept.clone())
    );
    drop(store);
    let store = db.open();
    assert_eq!(
        store.policy_version(ORG_A, &kept.hash).unwrap(),
        Some(kept.clone())
    );
    assert_eq!(
        store.policy_version(ORG_B, &other.hash).unwrap(),
        Some(other)
    );
    let rows = db.count("SELECT COUNT(*) FROM policy_versions");
    assert_eq!(rows, 3, "one row per organisation and version");
}

// 10. Counts ----------------------------------------------------------------------

fn counts_group_by_organisation_policy_stage_and_clock(backend: Backend) {
    let Some(db) = Db::new(backend) else { return };
    let store = db.open();
    let (r, b) = (retail(), bank());
    assert_eq!(store.counts().unwrap(), []);

    // (org, bank?, acknowledge?, withdraw?, clock override)
    let spec: [(&str, bool, bool, bool, Option<ClockSummary>); 9] = [
        (ORG_A, false, false, false, None),
        (ORG_A, false, false, false, None),
        (ORG_A, false, true, false, None),
        (ORG_A, false, false, true, None),
        (ORG_A, true, false, false, None),
        (ORG_A, true, true, false, None),
        (ORG_B, false, false, false, None),
        (ORG_B, false, false, false, Some(ClockSummary::Breached)),
        (ORG_B, false, false, false, Some(ClockSummary::Breached)),
    ];
    for (i, (org, is_bank, ack, withdrawn, clock)) in spec.into_iter().enumerate() {
        let (p, data) = match is_bank {
            true => (b, bank_data()),
            false => (r, retail_data("CN", "quality")),
        };
        let id = format!("C-{i}");
        let mut t = Tracked::intake_with(&*store, p, org, &id, data, None, at(0), |s| {
            if let Some(c) = clock {
                s.clock_state = c;
            }
        });
        if ack {
            t.run(&*store, p, event("acknowledge"), at(5));
        }
        if withdrawn {
            t.run(&*store, p, withdraw(), at(6));
        }
    }
    let count = |org: &str, policy: &str, stage: &str, clock_state, count| CaseCount {
        org: org.into(),
        policy: policy.into(),
        stage: stage.into(),
        clock_state,
        count,
    };
    let mut expected = vec![
        count(ORG_A, "retail", "received", ClockSummary::Running, 2),
        count(ORG_A, "retail", "investigating", ClockSummary::Running, 1),
        count(ORG_A, "retail", "withdrawn", ClockSummary::None, 1),
        count(ORG_A, "bank-cn", "received", ClockSummary::Running, 1),
        count(ORG_A, "bank-cn", "acknowledged", ClockSummary::Running, 1),
        count(ORG_B, "retail", "received", ClockSummary::Running, 1),
        count(ORG_B, "retail", "received", ClockSummary::Breached, 2),
    ];
    let key = |c: &CaseCount| {
        (
            c.org.clone(),
            c.policy.clone(),
            c.stage.clone(),
            c.clock_state,
        )
    };
    expected.sort_by_key(key);
    let mut got = store.counts().unwrap();
    got.sort_by_key(key);
    assert_eq!(got, expected);
    assert_eq!(
        got.iter().map(|c| c.count).sum::<u64>(),
        store.case_count(ORG_A).unwrap() + store.case_count(ORG_B).unwrap()
    );
}

/// Webhook messages are written with the events, come due in order, wait after a
/// failed attempt until their next one, and leave once delivered or given up on.
fn outbox_messages_are_written_with_their_events_and_retried_until_done(backend: Backend) {
    let Some(db) = Db::new(backend) else { return };
    let store = db.open();
    let p = retail();
    let (case, events) = intake(p, "C-1", retail_data("CN", "quality"), at(0));
    let mut write_1 = append(p, ORG_A, &case, &events, None, at(0));
    write_1.outbox = vec![
        redress_store::Message {
            webhook: "crm".into(),
            body: r#"{"n":1}"#.into(),
        },
        redress_store::Message {
            webhook: "crm".into(),
            body: r#"{"n":2}"#.into(),
        },
    ];
    write(&*store, write_1.clone()).unwrap();
    // A refused write leaves no message behind.
    write_1.outbox[0].body = r#"{"n":"refused"}"#.into();
    assert!(write(&*store, write_1).is_err());

    assert_eq!(store.outbox_due(at(-1), 10).unwrap(), vec![]);
    let due = store.outbox_due(at(0), 10).unwrap();
    let bodies: Vec<&str> = due.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(bodies, [r#"{"n":1}"#, r#"{"n":2}"#]);
    assert!(
        due.iter()
            .all(|m| m.org == ORG_A && m.webhook == "crm" && m.attempts == 0)
    );
    assert_eq!(store.outbox_next().unwrap(), Some(at(0)));

    // The first fails and waits; the second is delivered.
    store
        .outbox_attempted(ORG_A, due[0].id, false, Some("503".into()), Some(at(5)))
        .unwrap();
    store
        .outbox_attempted(ORG_A, due[1].id, true, None, None)
        .unwrap();
    assert_eq!(store.outbox_due(at(1), 10).unwrap(), vec![]);
    let again = store.outbox_due(at(5), 10).unwrap();
    assert_eq!((again.len(), again[0].attempts), (1, 1));
    let counts = store.outbox_counts().unwrap();
    assert_eq!((counts.waiting, counts.dead), (1, 0));

    // Given up on: no longer due, counted as dead, and it survives a reopen.
    store
        .outbox_attempted(ORG_A, again[0].id, false, Some("503".into()), None)
        .unwrap();
    drop(store);
    let store = db.open();
    assert_eq!(store.outbox_due(at(1000), 10).unwrap(), vec![]);
    assert_eq!(store.outbox_next().unwrap(), None);
    let counts = store.outbox_counts().unwrap();
    assert_eq!((counts.waiting, counts.dead), (0, 1));
}

/// A tracking link's token is in a message only while a delivery may still need
/// it: a retry carries it, a delivered or given-up message no longer holds it.
fn a_finished_message_no_longer_holds_its_tracking_link(backend: Backend) {
    let Some(db) = Db::new(backend) else { return };
    let store = db.open();
    let p = retail();
    let (case, events) = intake(p, "C-1", retail_data("CN", "quality"), at(0));
    let mut w = append(p, ORG_A, &case, &events, None, at(0));
    let body = |n: u32| {
        format!(
            r#"{{"n":{n},"tracking_link":"/track/{}"}}"#,
            "ab".repeat(32)
        )
    };
    w.outbox = (1..=3)
        .map(|n| redress_store::Message {
            webhook: "mailer".into(),
            body: body(n),
        })
        .collect();
    write(&*store, w).unwrap();
    let holding = || db.count("SELECT COUNT(*) FROM outbox WHERE body LIKE '%/track/abab%'");
    assert_eq!(holding(), 3);

    let due = store.outbox_due(at(0), 10).unwrap();
    store
        .outbox_attempted(ORG_A, due[0].id, false, Some("503".into()), Some(at(5)))
        .unwrap();
    store
        .outbox_attempted(ORG_A, due[1].id, true, None, None)
        .unwrap();
    store
        .outbox_attempted(ORG_A, due[2].id, false, Some("410".into()), None)
        .unwrap();
    assert_eq!(
        holding(),
        1,
        "only the message still waiting holds the link"
    );
    let again = store.outbox_due(at(5), 10).unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].body, body(1), "the retry is sent as it was signed");
    store
        .outbox_attempted(ORG_A, again[0].id, true, None, None)
        .unwrap();
    assert_eq!(holding(), 0);
    // The rest of the message is kept, for the record.
    assert_eq!(
        db.count(r#"SELECT COUNT(*) FROM outbox WHERE body LIKE '{"n":%' OR body LIKE '{"n": %'"#),
        3
    );
}

// 11. Claims: due timers and webhook messages, one node at a time ----------------

fn lease(node: &str, now: i64, until: i64) -> Lease {
    Lease {
        node: node.into(),
        now: at(now),
        until: at(until),
    }
}

fn due_ids(due: &[Due]) -> Vec<&str> {
    due.iter().map(|d| d.case.as_str()).collect()
}

/// Several nodes share a PostgreSQL: a due case is claimed by one node until its
/// lease ends (then another may take it: the first may have died), and an append
/// to the case ends the claim. A SQLite file has one writer, whose claims need no
/// record.
fn due_cases_are_claimed_by_one_node_until_the_lease_ends(backend: Backend) {
    let Some(db) = Db::new(backend) else { return };
    let store = db.open();
    let p = retail();
    let mut cases: Vec<Tracked> = [10, 20, 30]
        .into_iter()
        .enumerate()
        .map(|(i, due)| {
            Tracked::intake_with(
                &*store,
                p,
                ORG_A,
                &format!("D-{i}"),
                retail_data("CN", "quality"),
                None,
                at(0),
                |s| s.next_due = Some(at(due)),
            )
        })
        .collect();
    assert_eq!(store.claim_due(&lease("a", 5, 15), 10).unwrap(), []);
    let claimed = store.claim_due(&lease("a", 25, 35), 10).unwrap();
    assert_eq!(due_ids(&claimed), ["D-0", "D-1"]);
    assert_eq!((claimed[0].org.as_str(), claimed[0].at), (ORG_A, at(10)));
    if !store.shared() {
        let again = store.claim_due(&lease("a", 25, 35), 10).unwrap();
        assert_eq!(
            due_ids(&again),
            ["D-0", "D-1"],
            "one writer: nothing is held"
        );
        return;
    }
    assert_eq!(
        store.claim_due(&lease("b", 25, 35), 10).unwrap(),
        [],
        "a holds them"
    );
    assert_eq!(
        store.next_due().unwrap(),
        Some(at(30)),
        "D-2 is not claimed"
    );
    let claimed = store.claim_due(&lease("b", 31, 41), 10).unwrap();
    assert_eq!(due_ids(&claimed), ["D-2"]);
    assert_eq!(
        store.next_due().unwrap(),
        Some(at(35)),
        "when a's lease ends"
    );
    // a died holding D-0 and D-1: once its lease ends, b takes them
    assert_eq!(store.claim_due(&lease("b", 34, 44), 10).unwrap(), []);
    let claimed = store.claim_due(&lease("b", 36, 46), 10).unwrap();
    assert_eq!(due_ids(&claimed), ["D-0", "D-1"]);
    // an append ends the case's claim; a corrected summary does not (the node
    // holding it may be firing)
    cases[0].run_with(&*store, p, note("fired"), at(37), |s| {
        s.next_due = Some(at(38))
    });
    let mut moved = cases[1].summary.clone();
    moved.next_due = Some(at(39));
    assert!(
        store
            .set_summary(ORG_A, "D-1", cases[1].case.version, &moved)
            .unwrap()
    );
    assert_eq!(store.next_due().unwrap(), Some(at(38)));
    let claimed = store.claim_due(&lease("c", 40, 50), 10).unwrap();
    assert_eq!(due_ids(&claimed), ["D-0"], "D-1 and D-2 are still b's");
    assert_eq!(
        store.next_due().unwrap(),
        Some(at(41)),
        "b's claim on D-2 ends"
    );
    let claimed = store.claim_due(&lease("c", 47, 57), 10).unwrap();
    assert_eq!(
        due_ids(&claimed),
        ["D-2", "D-1"],
        "earliest first: 30, then 39"
    );
}

/// Each webhook attempt is made by one node: a claimed message is not due again
/// for anyone until the claim ends, when its attempt has been recorded or the
/// node that claimed it is presumed dead.
fn outbox_messages_are_claimed_by_one_node_at_a_time(backend: Backend) {
    let Some(db) = Db::new(backend) else { return };
    let store = db.open();
    let p = retail();
    let (case, events) = intake(p, "C-1", retail_data("CN", "quality"), at(0));
    let mut w = append(p, ORG_A, &case, &events, None, at(0));
    w.outbox = (1..=3)
        .map(|n| redress_store::Message {
            webhook: "crm".into(),
            body: format!(r#"{{"n":{n}}}"#),
        })
        .collect();
    write(&*store, w).unwrap();
    let bodies = |m: &[redress_store::Pending]| -> Vec<String> {
        m.iter().map(|m| m.body.clone()).collect()
    };
    let first = store.claim_outbox(&lease("a", 0, 5), 2).unwrap();
    assert_eq!(bodies(&first), [r#"{"n":1}"#, r#"{"n":2}"#]);
    let second = store.claim_outbox(&lease("b", 0, 5), 10).unwrap();
    assert_eq!(bodies(&second), [r#"{"n":3}"#]);
    assert_eq!(store.claim_outbox(&lease("c", 1, 6), 10).unwrap(), []);
    assert_eq!(store.outbox_next().unwrap(), Some(at(5)));
    // a records its first attempt and dies before the second; b delivers
    store
        .outbox_attempted(ORG_A, first[0].id, true, None, None)
        .unwrap();
    store
        .outbox_attempted(ORG_A, second[0].id, true, None, None)
        .unwrap();
    let retried = store.claim_outbox(&lease("c", 5, 10), 10).unwrap();
    assert_eq!(bodies(&retried), [r#"{"n":2}"#]);
    assert_eq!(retried[0].attempts, 0, "a never recorded an attempt");
    assert_eq!(store.outbox_counts().unwrap().waiting, 1);
}

// 12. Tracking links -------------------------------------------------------------

fn a_tracking_link_opens_its_case_until_revoked_and_only_by_its_hash(backend: Backend) {
    let Some(db) = Db::new(backend) else { return };
    let store = db.open();
    let link = |hash: &str, case: &str| TrackingLink {
        token_sha256: hash.to_string(),
        org: "bank".into(),
        case: case.into(),
        issued_at: at(0),
    };
    store.save_tracking_link(&link("aa01", "C-1")).unwrap();
    store.save_tracking_link(&link("bb02", "C-1")).unwrap();
    store.save_tracking_link(&link("cc03", "C-2")).unwrap();
    assert_eq!(
        store.tracking_link("aa01").unwrap(),
        Some(link("aa01", "C-1"))
    );
    assert_eq!(
        store.tracking_link("AA01").unwrap(),
        None,
        "hashes are compared exactly"
    );
    assert_eq!(store.tracking_link("dd04").unwrap(), None);
    // The same hash twice is refused, not silently pointed at another case.
    assert!(store.save_tracking_link(&link("aa01", "C-2")).is_err());
    assert_eq!(
        store.revoke_tracking_links("bank", "C-1", at(5)).unwrap(),
        2
    );
    assert_eq!(
        store.revoke_tracking_links("bank", "C-1", at(6)).unwrap(),
        0
    );
    assert_eq!(
        store.revoke_tracking_links("other", "C-2", at(6)).unwrap(),
        0
    );
    assert_eq!(store.tracking_link("aa01").unwrap(), None);
    assert_eq!(store.tracking_link("bb02").unwrap(), None);
    drop(store);
    // Kept across reopening: revoked stays revoked, the other still opens.
    let store = db.open();
    assert_eq!(store.tracking_link("bb02").unwrap(), None);
    assert_eq!(
        store.tracking_link("cc03").unwrap(),
        Some(link("cc03", "C-2"))
    );
}

// 13. Idempotency keys and the fingerprints of their requests ----------------------

/// Each idempotency key is kept with the fingerprint of the request it was first
/// used with, so that any node can tell a true retry from a key reused with
/// another request; a key kept without one (written before fingerprints were
/// kept) has none.
fn idempotency_keys_keep_the_fingerprint_of_their_first_request(backend: Backend) {
    let Some(db) = Db::new(backend) else { return };
    let store = db.open();
    let p = retail();
    let (mut case, events) = intake(p, "C-1", retail_data("CN", "quality"), at(0));
    let mut w = append(p, ORG_A, &case, &events, Some("web-1"), at(0));
    w.fingerprint = Some("fp-intake".into());
    write(&*store, w).unwrap();
    let (old, events) = intake(p, "C-2", retail_data("CN", "quality"), at(0));
    write(
        &*store,
        append(p, ORG_A, &old, &events, Some("web-old"), at(0)),
    )
    .unwrap();

    let mut command = note("first");
    command.key = Some("cmd-1".into());
    let events = run(p, &mut case, command, at(1));
    let mut w = append(p, ORG_A, &case, &events, None, at(1));
    w.fingerprint = Some("fp-note".into());
    write(&*store, w).unwrap();
    // a refused write keeps nothing of its key
    let mut stale = case.clone();
    let mut command = note("second");
    command.key = Some("cmd-2".into());
    let events = run(p, &mut stale, command, at(2));
    let mut w = append(p, ORG_A, &stale, &events, None, at(2));
    w.case.version += 1;
    w.fingerprint = Some("fp-lost".into());
    assert!(write(&*store, w).is_err());

    drop(store);
    let store = db.open();
    assert_eq!(
        store.intake_key(ORG_A, "web-1").unwrap(),
        Some(("C-1".to_string(), Some("fp-intake".to_string())))
    );
    assert_eq!(
        store.intake_key(ORG_A, "web-old").unwrap(),
        Some(("C-2".to_string(), None))
    );
    assert_eq!(store.intake_key(ORG_A, "web-2").unwrap(), None);
    assert_eq!(
        store.intake_key(ORG_B, "web-1").unwrap(),
        None,
        "keys are per organisation"
    );
    assert_eq!(
        store
            .command_key_fingerprint(ORG_A, "C-1", "cmd-1")
            .unwrap(),
        Some("fp-note".to_string())
    );
    assert_eq!(
        store
            .command_key_fingerprint(ORG_A, "C-1", "cmd-2")
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .command_key_fingerprint(ORG_A, "C-2", "cmd-1")
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .command_key_fingerprint(ORG_B, "C-1", "cmd-1")
            .unwrap(),
        None
    );
}

// 14. Report facts -------------------------------------------------------------------

fn facts_between(store: &dyn Store, org: &str, policy: &str, from: i64, to: i64) -> Vec<CaseFacts> {
    let mut got = Vec::new();
    let count = store
        .report_facts(org, policy, at(from), at(to), &mut |f| got.push(f))
        .unwrap();
    assert_eq!(count, got.len() as u64, "the count is of the facts given");
    got.sort_by_key(|f| f.received_at);
    got
}

/// The facts reports count are written with the case's events, replaced by each
/// write that carries new ones, and read per organisation and policy for the cases
/// open at some time in a period: received before its end, not closed before its
/// start.
fn report_facts_are_kept_with_the_case_and_read_by_period(backend: Backend) {
    let Some(db) = Db::new(backend) else { return };
    let store = db.open();
    let p = retail();
    let with_facts = |org: &str, case: &redress_engine::case::Case, events: &[_], now| {
        let mut w = append(p, org, case, events, None, now);
        w.report = CaseFacts::of(p, case, None);
        assert!(w.report.is_some(), "a received case has facts");
        write(&*store, w).unwrap();
        CaseFacts::of(p, case, None).unwrap()
    };
    let (mut c1, events) = intake(p, "C-1", retail_data("CN", "quality"), at(0));
    with_facts(ORG_A, &c1, &events, at(0));
    let (c2, events) = intake(p, "C-2", retail_data("CN", "quality"), at(30));
    let f2 = with_facts(ORG_A, &c2, &events, at(30));
    let (c3, events) = intake(p, "C-3", retail_data("CN", "quality"), at(200));
    let f3 = with_facts(ORG_A, &c3, &events, at(200));
    let (b1, events) = intake(p, "B-1", retail_data("CN", "quality"), at(0));
    let fb = with_facts(ORG_B, &b1, &events, at(0));
    // no facts written: not counted
    let (c4, events) = intake(p, "C-4", retail_data("CN", "quality"), at(0));
    write(&*store, append(p, ORG_A, &c4, &events, None, at(0))).unwrap();
    // C-1 closes at 60; a later write without facts leaves them as they were
    let events = run(p, &mut c1, withdraw(), at(60));
    let f1 = with_facts(ORG_A, &c1, &events, at(60));
    assert_eq!(f1.closed_at, Some(at(60)), "the withdrawal closes C-1");
    let mut t2 = Tracked {
        org: ORG_A.into(),
        summary: summary(p, &c2),
        log: Vec::new(),
        case: c2,
    };
    t2.run(&*store, p, note("no facts in this write"), at(61));

    let id = p.id();
    assert_eq!(
        facts_between(&*store, ORG_A, id, 0, 10),
        std::slice::from_ref(&f1),
        "C-2 came later"
    );
    assert_eq!(
        facts_between(&*store, ORG_A, id, 0, 31),
        [f1.clone(), f2.clone()]
    );
    assert_eq!(
        facts_between(&*store, ORG_A, id, 60, 100),
        [f1, f2.clone()],
        "closed at the period's start: open in it"
    );
    assert_eq!(
        facts_between(&*store, ORG_A, id, 61, 300),
        [f2, f3],
        "C-1 closed before"
    );
    assert_eq!(facts_between(&*store, ORG_B, id, 0, 300), [fb]);
    assert_eq!(facts_between(&*store, ORG_A, "hotel", 0, 300), []);
}

// 15. The policy version a case runs on ------------------------------------------------

/// A case migrated to another policy version is written with the new version's
/// hash: the case's row (what lists show) follows its snapshot.
fn an_append_moves_the_case_to_the_policy_hash_it_carries(backend: Backend) {
    let Some(db) = Db::new(backend) else { return };
    let store = db.open();
    let p = retail();
    let mut c = Tracked::intake(
        &*store,
        p,
        ORG_A,
        "C-1",
        retail_data("CN", "quality"),
        None,
        at(0),
    );
    let first = c.case.policy.clone();
    let hashes = |store: &dyn Store| -> Vec<String> {
        let page = store.list(ORG_A, &CaseFilter::default(), None, 10).unwrap();
        page.rows.into_iter().map(|r| r.policy_hash).collect()
    };
    assert_eq!(hashes(&*store), [first.to_string()]);
    // what a migration writes: events, and the case on the later version
    let events = run(p, &mut c.case, note("migrated"), at(1));
    c.case.policy = std::sync::Arc::from("a-later-version");
    write(&*store, append(p, ORG_A, &c.case, &events, None, at(1))).unwrap();
    assert_eq!(hashes(&*store), ["a-later-version"]);
    let stored = store.case(ORG_A, "C-1").unwrap().unwrap();
    assert_eq!(&*stored.case.policy, "a-later-version");
    assert_eq!(stored.case, c.case);
}

// 16. What a store tells of its files ------------------------------------------------

/// SQLite reports its write-ahead log for metrics; PostgreSQL's log is the
/// server's, so it reports none rather than a made-up figure.
fn a_store_reports_its_write_ahead_log_where_it_has_one(backend: Backend) {
    let Some(db) = Db::new(backend) else { return };
    let store = db.open();
    let stats = store.storage();
    match backend {
        Backend::Sqlite => assert!(stats.wal_bytes.is_some() && stats.wal_truncations.is_some()),
        Backend::Postgres => assert_eq!(stats, redress_store::StorageStats::default()),
    }
}

backends! {
    an_intake_reads_back_as_it_was_written,
    later_writes_move_the_snapshot_version_and_summary_on,
    conflicting_writes_are_refused_and_change_nothing,
    writes_committed_together_succeed_or_fail_one_by_one,
    everything_written_is_there_after_reopening,
    a_new_database_is_migrated_once,
    openers_racing_on_a_new_database_all_succeed,
    a_database_from_a_newer_redress_is_refused,
    due_cases_come_earliest_first_across_organisations,
    lists_filter_page_and_keep_organisations_apart,
    a_list_without_a_limit_shows_every_case,
    open_cases_page_through_every_organisation_skipping_closed_ones,
    policy_versions_are_kept_per_organisation,
    counts_group_by_organisation_policy_stage_and_clock,
    outbox_messages_are_written_with_their_events_and_retried_until_done,
    a_finished_message_no_longer_holds_its_tracking_link,
    due_cases_are_claimed_by_one_node_until_the_lease_ends,
    outbox_messages_are_claimed_by_one_node_at_a_time,
    a_tracking_link_opens_its_case_until_revoked_and_only_by_its_hash,
    idempotency_keys_keep_the_fingerprint_of_their_first_request,
    report_facts_are_kept_with_the_case_and_read_by_period,
    an_append_moves_the_case_to_the_policy_hash_it_carries,
    a_store_reports_its_write_ahead_log_where_it_has_one,
    index_stamps_count_open_cases_by_version_and_a_stamp_ahead_of_cases_waits_for_none,
    open_cases_pinned_page_through_one_version_of_one_organisation_by_id,
    set_summaries_sets_each_whose_version_still_holds_and_no_other,
}

// SQLite only: its write-ahead log --------------------------------------------------

/// The log's size is the file's as it is now, also while a reader keeps the
/// checkpointer from truncating it (the figure once stayed at its last value, 0,
/// while the file grew to hundreds of megabytes).
#[test]
fn the_write_ahead_logs_size_is_read_from_its_file() {
    let db = Db::new(Backend::Sqlite).unwrap();
    let store = db.open();
    let p = retail();
    let reader = rusqlite::Connection::open(db.path()).unwrap();
    reader.execute_batch("BEGIN").unwrap();
    let _: i64 = reader
        .query_row("SELECT COUNT(*) FROM cases", [], |r| r.get(0))
        .unwrap();
    for n in 0..200 {
        let id = format!("C-{n}");
        let (case, events) = intake(p, &id, retail_data("CN", "quality"), at(0));
        write(&*store, append(p, ORG_A, &case, &events, None, at(0))).unwrap();
    }
    let mut wal = db.path().into_os_string();
    wal.push("-wal");
    let on_disk = std::fs::metadata(&wal).unwrap().len();
    assert!(
        on_disk > 100_000,
        "200 cases written past a reader: {on_disk}"
    );
    assert_eq!(store.storage().wal_bytes, Some(on_disk));
    reader.execute_batch("COMMIT").unwrap();
}

// PostgreSQL only: the connection itself ------------------------------------------

/// An unreachable database is refused at start-up with what was tried, once the
/// retry time is spent.
#[test]
fn an_unreachable_postgres_is_refused_naming_it() {
    let refused = redress_store::PostgresStore::connect(
        "postgres://redress:secret@127.0.0.1:1/cases?connect_retry=0s",
    )
    .expect_err("nothing listens on port 1");
    let message = refused.to_string();
    assert!(matches!(refused, StoreError::Connect(_)), "{refused:?}");
    assert!(message.contains("`cases`"), "{message}");
    assert!(message.contains("refused"), "{message}");
    assert!(!message.contains("secret"), "{message}");
}

const OTHER_CA: &str = "-----BEGIN CERTIFICATE-----
MIIBfTCCASOgAwIBAgIUcOJpnEYhFzfAklFLAtN+cdd1BWEwCgYIKoZIzj0EAwIw
EzERMA8GA1UEAwwIT3RoZXIgQ0EwIBcNMjYxMjAxMjI0MTE1WhgPMjEyNjExMDcy
MjQxMTVaMBMxETAPBgNVBAMMCE90aGVyIENBMFkwEwYHKoZIzj0CAQYIKoZIzj0D
AQcDQgAEflteHJj6PS06hpfyJ+PlOVe8wk95Zw35rVytiv3T5DLgWe47CS9ZHZsO
aUQGj+VVVIS1THN6F+D1dz1V2dphsKNTMFEwHQYDVR0OBBYEFGxNen/DjBr8fAtw
MeHEfoVMnBXvMB8GA1UdIwQYMBaAFGxNen/DjBr8fAtwMeHEfoVMnBXvMA8GA1Ud
EwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDSAAwRQIgH52u+dZrY8wWLq0kApMEfeRM
Xpmy6A2GHC2aHMAgLa4CIQDAYvlvkvw9Rj5eOPbfcjjoQD3K6RFL9+0ecyIrSEbo
Kw==
-----END CERTIFICATE-----
";

/// TLS over rustls: with `sslmode=verify-full` the store connects only to a
/// server whose certificate a trusted authority signed for its host name.
#[test]
fn postgres_over_tls_verifies_the_server() {
    let Some(db) = Db::new(Backend::Postgres) else {
        return;
    };
    let cert = "/etc/ssl/certs/ssl-cert-snakeoil.pem"; // the local server's own
    if !std::path::Path::new(cert).exists()
        || db.count("SELECT COUNT(*) FROM pg_settings WHERE name = 'ssl' AND setting = 'on'") == 0
    {
        eprintln!(
            "SKIPPED postgres_over_tls_verifies_the_server: the server has no TLS certificate at {cert}"
        );
        return;
    }
    let url = db.url_with_host("localhost");
    let tls =
        format!("{url}?sslmode=verify-full&sslrootcert={cert}&application_name=redress-tls-test");
    let store = redress_store::PostgresStore::connect(&tls).unwrap();
    assert_eq!(store.case_count(ORG_A).unwrap(), 0);
    let encrypted = db.count(
        "SELECT COUNT(*) FROM pg_stat_ssl JOIN pg_stat_activity USING (pid)
         WHERE ssl AND application_name = 'redress-tls-test'",
    );
    assert!(encrypted >= 1, "the store's connection is not encrypted");
    drop(store);
    // a certificate no trusted authority signed is refused
    let other = std::env::temp_dir().join(format!("redress-other-ca-{}.pem", std::process::id()));
    std::fs::write(&other, OTHER_CA).unwrap();
    let refused = redress_store::PostgresStore::connect(&format!(
        "{url}?sslmode=require&sslrootcert={}&connect_retry=0s",
        other.display()
    ))
    .expect_err("the server's certificate is not signed by that authority");
    let _ = std::fs::remove_file(&other);
    assert!(matches!(refused, StoreError::Connect(_)), "{refused:?}");
}

// Due index stamps, for reading the stored index at start-up ----------------------

/// Open cases written for the stamp tests: two organisations, two policy versions
/// (retail and bank), one closed case of each version in organisation A.
fn stamp_fixture(store: &dyn Store) -> Vec<Tracked> {
    let (r, b) = (retail(), bank());
    let spec = [
        (ORG_A, "R-2", r, false),
        (ORG_A, "R-1", r, false),
        (ORG_A, "R-3", r, true),
        (ORG_B, "R-1", r, false),
        (ORG_A, "B-1", b, true),
        (ORG_A, "B-2", b, false),
        (ORG_A, "R-4", r, false),
    ];
    let mut out = Vec::new();
    for (i, (org, id, policy, closed)) in spec.into_iter().enumerate() {
        let data = match std::ptr::eq(policy, r) {
            true => retail_data("CN", "quality"),
            false => bank_data(),
        };
        let mut t = Tracked::intake(store, policy, org, id, data, None, at(i as i64));
        if closed {
            t.run(store, policy, withdraw(), at(10));
        }
        out.push(t);
    }
    out
}

fn stamp(org: &str, hash: &str, open: u64, stamp: Option<&str>) -> IndexStamp {
    IndexStamp {
        org: org.to_string(),
        policy_hash: hash.to_string(),
        open,
        stamp: stamp.map(str::to_string),
    }
}

fn sorted(mut stamps: Vec<IndexStamp>) -> Vec<IndexStamp> {
    stamps.sort_by(|a, b| (&a.org, &a.policy_hash).cmp(&(&b.org, &b.policy_hash)));
    stamps
}

fn index_stamps_count_open_cases_by_version_and_a_stamp_ahead_of_cases_waits_for_none(
    backend: Backend,
) {
    let Some(db) = Db::new(backend) else { return };
    let store = db.open();
    let (r, b) = (retail().hash(), bank().hash());
    assert_eq!(store.index_stamps().unwrap(), Some(vec![]));
    // A version no open case is pinned to may be stamped ahead of its cases.
    assert!(store.stamp_index(ORG_A, b, "build 1", true).unwrap());
    stamp_fixture(&*store);
    let found = store.index_stamps().unwrap().unwrap();
    let expected = vec![
        stamp(ORG_A, b, 1, Some("build 1")),
        stamp(ORG_A, r, 3, None),
        stamp(ORG_B, r, 1, None),
    ];
    assert_eq!(found, sorted(expected));

    // With open cases, a stamp ahead of them is refused and changes nothing; a stamp
    // after a rebuild is written, replacing the one before.
    assert!(!store.stamp_index(ORG_A, r, "build 2", true).unwrap());
    assert!(!store.stamp_index(ORG_A, b, "build 2", true).unwrap());
    assert_eq!(store.index_stamps().unwrap().unwrap(), found);
    assert!(store.stamp_index(ORG_A, r, "build 2", false).unwrap());
    assert!(store.stamp_index(ORG_A, b, "build 2", false).unwrap());
    let expected = vec![
        stamp(ORG_A, b, 1, Some("build 2")),
        stamp(ORG_A, r, 3, Some("build 2")),
        stamp(ORG_B, r, 1, None),
    ];
    assert_eq!(
        store.index_stamps().unwrap().unwrap(),
        sorted(expected.clone())
    );

    // Stamps are durable, and a version whose cases all closed is no longer listed.
    drop(store);
    let store = db.open();
    assert_eq!(store.index_stamps().unwrap().unwrap(), sorted(expected));
    let mut last = store.case(ORG_A, "B-2").unwrap().unwrap();
    let events = run(bank(), &mut last.case, withdraw(), at(20));
    write(
        &*store,
        append(bank(), ORG_A, &last.case, &events, None, at(20)),
    )
    .unwrap();
    let listed: Vec<_> = store.index_stamps().unwrap().unwrap();
    assert!(listed.iter().all(|s| s.policy_hash != b), "{listed:?}");
}

fn open_cases_pinned_page_through_one_version_of_one_organisation_by_id(backend: Backend) {
    let Some(db) = Db::new(backend) else { return };
    let store = db.open();
    let tracked = stamp_fixture(&*store);
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = store
            .open_cases_pinned(ORG_A, retail().hash(), after.as_deref(), 2)
            .unwrap();
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 2);
        for c in &page {
            let t = tracked
                .iter()
                .find(|t| t.org == ORG_A && t.case.id == c.case.id)
                .unwrap();
            assert_eq!((&c.case, &c.summary), (&t.case, &t.summary));
        }
        after = page.last().map(|c| c.case.id.clone());
        seen.extend(page.into_iter().map(|c| c.case.id));
    }
    assert_eq!(seen, ["R-1", "R-2", "R-4"]);
    let bank_open = store
        .open_cases_pinned(ORG_A, bank().hash(), None, 10)
        .unwrap();
    assert_eq!(bank_open.len(), 1);
    assert_eq!(bank_open[0].case.id, "B-2");
    assert!(
        store
            .open_cases_pinned(ORG_B, bank().hash(), None, 10)
            .unwrap()
            .is_empty()
    );
}

fn set_summaries_sets_each_whose_version_still_holds_and_no_other(backend: Backend) {
    let Some(db) = Db::new(backend) else { return };
    let store = db.open();
    let tracked = stamp_fixture(&*store);
    let moved = |t: &Tracked, minutes: i64| {
        let mut s = t.summary.clone();
        s.next_due = Some(at(minutes));
        s.clock_state = ClockSummary::AtRisk;
        s
    };
    let (r1, r2) = (&tracked[1], &tracked[0]);
    let update = |t: &Tracked, org: &str, version: u64, minutes: i64| SummaryUpdate {
        org: org.to_string(),
        id: t.case.id.clone(),
        version,
        summary: moved(t, minutes),
    };
    let updates = vec![
        update(r1, ORG_A, r1.case.version, 3),
        update(r2, ORG_A, r2.case.version - 1, 4),
        update(r2, ORG_B, r2.case.version, 4),
    ];
    assert_eq!(store.set_summaries(updates).unwrap(), 1);
    assert_eq!(
        store.case(ORG_A, "R-1").unwrap().unwrap().summary,
        moved(r1, 3)
    );
    assert_eq!(
        store.case(ORG_A, "R-2").unwrap().unwrap().summary,
        r2.summary
    );
    assert_eq!(store.next_due().unwrap(), Some(at(3)));
    assert_eq!(store.set_summaries(Vec::new()).unwrap(), 0);
}
