//! The SQLite store as the service uses it: appends and reads, conflicts that change
//! nothing, group commit, durability across reopening, schema versions, the due
//! index, lists, policy versions and counts. Every test runs on a fresh database in
//! its own temporary directory, with cases and events the engine made from the
//! shipped policies.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use chrono::TimeDelta;
use redress_store::{
    CaseCount, CaseFilter, ClockSummary, Conflict, Due, IndexStamp, MIGRATIONS, Page,
    PolicyVersion, SqliteStore, Store, StoreError, SummaryUpdate, TrackingLink,
};

use common::*;

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
fn list_all(store: &SqliteStore, org: &str, filter: &CaseFilter, limit: usize) -> Vec<String> {
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

#[test]
fn an_intake_reads_back_as_it_was_written() {
    let db = Db::new();
    let store = db.open();
    let p = retail();
    assert_eq!(store.case_count(ORG_A).unwrap(), 0);

    let (case, events) = intake(p, "C-1", retail_data("CN", "quality"), at(0));
    assert!(events.len() >= 3, "received, routed, clocks: {events:#?}");
    // microsecond precision: what the store keeps
    let recorded = at(0) + TimeDelta::microseconds(1_234_567);
    write(
        &store,
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

#[test]
fn later_writes_move_the_snapshot_version_and_summary_on() {
    let db = Db::new();
    let store = db.open();
    let p = retail();
    let mut c = Tracked::intake(
        &store,
        p,
        ORG_A,
        "C-1",
        retail_data("CN", "delivery"),
        None,
        at(0),
    );
    assert_eq!(observe(&store, ORG_A, "C-1"), c.observed());
    let due_at_intake = c.summary.next_due;

    let steps = [
        ("acknowledge", event("acknowledge"), 30),
        ("assign", assign("mei"), 45),
        ("note", note("called the courier"), 50),
    ];
    for (name, command, minutes) in steps {
        let before = c.case.version;
        c.run(&store, p, command, at(minutes));
        assert!(c.case.version > before, "{name} added events");
        assert_eq!(observe(&store, ORG_A, "C-1"), c.observed(), "after {name}");
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

#[test]
fn conflicting_writes_are_refused_and_change_nothing() {
    let db = Db::new();
    let store = db.open();
    let p = retail();
    let mut c1 = Tracked::intake(
        &store,
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
    c1.run(&store, p, event("acknowledge"), at(10));

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

    let state = |store: &SqliteStore| {
        (
            ["C-1", "C-2", "C-3"].map(|id| observe(store, ORG_A, id)),
            ["k-1", "k-fresh"].map(|k| store.case_by_key(ORG_A, k).unwrap()),
            store.case_count(ORG_A).unwrap(),
            store.list(ORG_A, &CaseFilter::default(), None, 10).unwrap(),
        )
    };
    let before = state(&store);
    assert_eq!(
        before.0[0],
        c1.observed(),
        "the first writer's events are kept"
    );
    for (name, write_, id, reason) in cases {
        let outcome = write(&store, write_);
        assert_eq!(outcome, Err(conflict(ORG_A, id, reason)), "{name}");
        assert_eq!(state(&store), before, "{name} changed the store");
    }
    assert_eq!(
        before.1,
        [Some("C-1".to_string()), None],
        "the refused intake's key was not recorded"
    );
    assert_eq!(before.2, 1);
}

// 4. Group commit -----------------------------------------------------------------

#[test]
fn writes_committed_together_succeed_or_fail_one_by_one() {
    let db = Db::new();
    let store = db.open();
    let p = retail();
    // cases already stored, for pairs of writes from the same version
    let pairs: Vec<Tracked> = (0..20)
        .map(|j| {
            Tracked::intake(
                &store,
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

    // every receipt first, then the outcomes
    let receipts: Vec<_> = writes
        .iter()
        .map(|(w, _)| store.append(w.clone()))
        .collect();
    let outcomes: Vec<_> = receipts
        .into_iter()
        .map(|r| r.blocking_recv().expect("every receipt is answered"))
        .collect();

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
                    observe(&store, ORG_A, &t.case.id),
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
        list_all(&store, ORG_A, &CaseFilter::default(), 50).len() as u64,
        good_intakes + 20
    );
}

// 5. Durability and migrations ----------------------------------------------------

#[test]
fn everything_written_is_there_after_reopening() {
    let db = Db::new();
    let p = retail();
    let store = db.open();
    let mut tracked = vec![
        Tracked::intake(
            &store,
            p,
            ORG_A,
            "C-1",
            retail_data("CN", "quality"),
            Some("k-1"),
            at(0),
        ),
        Tracked::intake(
            &store,
            p,
            ORG_B,
            "C-1",
            retail_data("EU", "returns"),
            Some("k-1"),
            at(1),
        ),
    ];
    tracked[0].run(&store, p, event("acknowledge"), at(10));
    tracked[1].run(&store, p, withdraw(), at(11));
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
    let list_before = store
        .list(ORG_A, &CaseFilter::default(), None, 100)
        .unwrap();
    drop(store); // joins the writer

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
                observe(&store, &t.org, &t.case.id),
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
        assert_eq!(
            store
                .list(ORG_A, &CaseFilter::default(), None, 100)
                .unwrap(),
            list_before
        );
        assert_eq!(
            store.policy_version(ORG_A, p.hash()).unwrap(),
            Some(version.clone())
        );
        drop(store);
        assert_migrated_once(&db);
    }
}

fn assert_migrated_once(db: &Db) {
    let conn = rusqlite::Connection::open(db.path()).unwrap();
    let user_version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    let last = MIGRATIONS.last().map(|m| m.0).unwrap();
    assert_eq!(user_version, last);
    let rows: Vec<(i64, String)> = conn
        .prepare("SELECT version, name FROM schema_migrations ORDER BY version")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let expected: Vec<(i64, String)> = MIGRATIONS
        .iter()
        .map(|(v, name, _)| (*v, name.to_string()))
        .collect();
    assert_eq!(rows, expected);
    assert_eq!(expected[0], (1, "initial".to_string()));
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

#[test]
fn a_new_database_is_migrated_once() {
    let db = Db::new();
    drop(db.open());
    assert_migrated_once(&db);
    drop(db.open());
    assert_migrated_once(&db);
}

/// BUG (store/src/sqlite.rs `SqliteStore::open` and store/src/migrations.rs
/// `migrate`): two processes (the server and a CLI, or an overlapping restart)
/// opening a new database at once. `migrate` reads `user_version` outside any
/// transaction and applies each migration in a deferred one, so both openers see 0
/// and the second fails with "table events already exists"; and `open` switches to
/// WAL before it sets the busy timeout, so an opener can also fail at once with
/// "database is locked". Every opener should succeed and the schema be migrated once.
#[test]
fn openers_racing_on_a_new_database_all_succeed() {
    let mut failures = Vec::new();
    for round in 0..20 {
        let db = Db::new();
        let start = std::sync::Arc::new(std::sync::Barrier::new(4));
        let openers: Vec<_> = (0..4)
            .map(|_| {
                let (start, path) = (start.clone(), db.path());
                std::thread::spawn(move || {
                    start.wait();
                    SqliteStore::open(&path).map(drop)
                })
            })
            .collect();
        for opener in openers {
            if let Err(e) = opener.join().unwrap() {
                failures.push(format!("round {round}: {e}"));
            }
        }
        if failures.is_empty() {
            assert_migrated_once(&db);
        }
    }
    assert!(
        failures.is_empty(),
        "{} openers failed: {failures:#?}",
        failures.len()
    );
}

// 6. A newer schema ---------------------------------------------------------------

#[test]
fn a_database_from_a_newer_redress_is_refused() {
    let known = MIGRATIONS.last().map(|m| m.0).unwrap();
    for (name, found, migrated_first) in [
        ("an empty database marked 99", 99, false),
        (
            "a migrated database marked one past the last",
            known + 1,
            true,
        ),
    ] {
        let db = Db::new();
        if migrated_first {
            drop(db.open());
        }
        let conn = rusqlite::Connection::open(db.path()).unwrap();
        conn.pragma_update(None, "user_version", found).unwrap();
        drop(conn);
        let refused = SqliteStore::open(db.path()).expect_err(name);
        assert_eq!(refused, StoreError::NewerSchema { found, known }, "{name}");
    }
}

// 7. The due index ----------------------------------------------------------------

#[test]
fn due_cases_come_earliest_first_across_organisations() {
    let db = Db::new();
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
            &store,
            p,
            org,
            id,
            retail_data("CN", "quality"),
            None,
            at(0),
            |s| s.next_due = due.map(at),
        );
        if withdrawn {
            t.run(&store, p, withdraw(), at(1));
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
    late.run(&store, p, withdraw(), at(2));
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

#[test]
fn lists_filter_page_and_keep_organisations_apart() {
    let db = Db::new();
    let store = db.open();
    let (r, b) = (retail(), bank());

    let a1 = Tracked::intake(
        &store,
        r,
        ORG_A,
        "A-1",
        retail_data("CN", "quality"),
        Some("key-1"),
        at(0),
    );
    let a2 = Tracked::intake(
        &store,
        r,
        ORG_A,
        "A-2",
        retail_data("EU", "service"),
        Some("key-2"),
        at(1),
    );
    let mut a3 = Tracked::intake(
        &store,
        r,
        ORG_A,
        "A-3",
        retail_data("CN", "delivery"),
        None,
        at(2),
    );
    a3.run(&store, r, event("acknowledge"), at(10));
    a3.run(&store, r, assign("mei"), at(11));
    let a4 = Tracked::intake(&store, b, ORG_A, "A-4", bank_data(), None, at(3));
    let mut a5 = Tracked::intake(
        &store,
        r,
        ORG_A,
        "A-5",
        retail_data("CN", "quality"),
        None,
        at(4),
    );
    a5.run(&store, r, withdraw(), at(12));
    let mut a6 = Tracked::intake(
        &store,
        r,
        ORG_A,
        "A-6",
        retail_data("CN", "service"),
        None,
        at(5),
    );
    a6.run_with(&store, r, assign("mei"), at(13), |s| {
        s.clock_state = ClockSummary::Breached
    });
    let a7 = Tracked::intake_with(
        &store,
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
        &store,
        r,
        ORG_B,
        "B-1",
        retail_data("CN", "quality"),
        None,
        at(7),
    );
    let b_a1 = Tracked::intake(
        &store,
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
                list_all(&store, ORG_A, filter, limit),
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
    assert_eq!(list_all(&store, ORG_B, &f(), 1), ["B-1", "A-1"]);
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
    assert_eq!(observe(&store, ORG_A, "A-1"), a1.observed());
    assert_eq!(observe(&store, ORG_B, "A-1"), b_a1.observed());
    assert_eq!(observe(&store, ORG_B, "B-1"), b1.observed());
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
#[test]
fn a_list_without_a_limit_shows_every_case() {
    let db = Db::new();
    let store = db.open();
    let p = retail();
    for i in 0..3 {
        Tracked::intake(
            &store,
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

#[test]
fn open_cases_page_through_every_organisation_skipping_closed_ones() {
    let db = Db::new();
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
            &store,
            p,
            org,
            id,
            retail_data("CN", "quality"),
            None,
            at(i as i64),
        );
        if closed {
            t.run(&store, p, withdraw(), at(10));
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

#[test]
fn policy_versions_are_kept_per_organisation() {
    let db = Db::new();
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
    let check = |store: &SqliteStore| {
        for (org, hash, expected) in table {
            assert_eq!(
                store.policy_version(org, hash).unwrap().as_ref(),
                expected,
                "{org} {hash}"
            );
        }
    };
    check(&store);
    // saving again is a no-op
    store.save_policy_version(ORG_A, &kept).unwrap();
    store.save_policy_version(ORG_B, &other).unwrap();
    check(&store);
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
    let conn = rusqlite::Connection::open(db.path()).unwrap();
    let rows: i64 = conn
        .query_row("SELECT COUNT(*) FROM policy_versions", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 3, "one row per organisation and version");
}

// 10. Counts ----------------------------------------------------------------------

#[test]
fn counts_group_by_organisation_policy_stage_and_clock() {
    let db = Db::new();
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
        let mut t = Tracked::intake_with(&store, p, org, &id, data, None, at(0), |s| {
            if let Some(c) = clock {
                s.clock_state = c;
            }
        });
        if ack {
            t.run(&store, p, event("acknowledge"), at(5));
        }
        if withdrawn {
            t.run(&store, p, withdraw(), at(6));
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
#[test]
fn outbox_messages_are_written_with_their_events_and_retried_until_done() {
    let db = Db::new();
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
    write(&store, write_1.clone()).unwrap();
    // A refused write leaves no message behind.
    write_1.outbox[0].body = r#"{"n":"refused"}"#.into();
    assert!(write(&store, write_1).is_err());

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
        .outbox_attempted(due[0].id, false, Some("503".into()), Some(at(5)))
        .unwrap();
    store.outbox_attempted(due[1].id, true, None, None).unwrap();
    assert_eq!(store.outbox_due(at(1), 10).unwrap(), vec![]);
    let again = store.outbox_due(at(5), 10).unwrap();
    assert_eq!((again.len(), again[0].attempts), (1, 1));
    let counts = store.outbox_counts().unwrap();
    assert_eq!((counts.waiting, counts.dead), (1, 0));

    // Given up on: no longer due, counted as dead, and it survives a reopen.
    store
        .outbox_attempted(again[0].id, false, Some("503".into()), None)
        .unwrap();
    drop(store);
    let store = db.open();
    assert_eq!(store.outbox_due(at(1000), 10).unwrap(), vec![]);
    assert_eq!(store.outbox_next().unwrap(), None);
    let counts = store.outbox_counts().unwrap();
    assert_eq!((counts.waiting, counts.dead), (0, 1));
}

#[test]
fn a_tracking_link_opens_its_case_until_revoked_and_only_by_its_hash() {
    let db = Db::new();
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

// Due index stamps, for reading the stored index at start-up ----------------------

/// Open cases written for the stamp tests: two organisations, two policy versions
/// (retail and bank), one closed case of each version in organisation A.
fn stamp_fixture(store: &SqliteStore) -> Vec<Tracked> {
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

#[test]
fn index_stamps_count_open_cases_by_version_and_a_stamp_ahead_of_cases_waits_for_none() {
    let db = Db::new();
    let store = db.open();
    let (r, b) = (retail().hash(), bank().hash());
    assert_eq!(store.index_stamps().unwrap(), Some(vec![]));
    // A version no open case is pinned to may be stamped ahead of its cases.
    assert!(store.stamp_index(ORG_A, b, "build 1", true).unwrap());
    stamp_fixture(&store);
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
    assert_eq!(store.index_stamps().unwrap().unwrap(), sorted(expected.clone()));

    // Stamps are durable, and a version whose cases all closed is no longer listed.
    drop(store);
    let store = db.open();
    assert_eq!(store.index_stamps().unwrap().unwrap(), sorted(expected));
    let mut last = store.case(ORG_A, "B-2").unwrap().unwrap();
    let events = run(bank(), &mut last.case, withdraw(), at(20));
    write(&store, append(bank(), ORG_A, &last.case, &events, None, at(20))).unwrap();
    let listed: Vec<_> = store.index_stamps().unwrap().unwrap();
    assert!(listed.iter().all(|s| s.policy_hash != b), "{listed:?}");
}

#[test]
fn open_cases_pinned_page_through_one_version_of_one_organisation_by_id() {
    let db = Db::new();
    let store = db.open();
    let tracked = stamp_fixture(&store);
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

#[test]
fn set_summaries_sets_each_whose_version_still_holds_and_no_other() {
    let db = Db::new();
    let store = db.open();
    let tracked = stamp_fixture(&store);
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
    assert_eq!(store.case(ORG_A, "R-2").unwrap().unwrap().summary, r2.summary);
    assert_eq!(store.next_due().unwrap(), Some(at(3)));
    assert_eq!(store.set_summaries(Vec::new()).unwrap(), 0);
}
