//! Databases made by earlier versions of the schema open with the current store: a
//! database is built at each earlier migration with the shipped SQL files (as the
//! Redress of that version made it), filled with rows the store wrote (the columns
//! that version had), and opened; every row is still there and read back the same,
//! the later tables and columns are there, and new writes use them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[allow(dead_code)] // shared with the other store tests
mod common;

use chrono::TimeDelta;
use common::*;
use redress_engine::report::CaseFacts;
use redress_store::{MIGRATIONS, Message, PolicyVersion, SqliteStore, Store, TrackingLink};
use rusqlite::{Connection, params};

const TOKEN_SHA256: &str = "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8";

/// What the reference database holds, to be found again after the upgrade.
struct Written {
    note: Tracked,
    closed: Tracked,
    policy: PolicyVersion,
}

/// Writes, with the current store, the rows an old database would hold: a case
/// taken in with an intake key and given a note with a command key, a withdrawn
/// case, a policy version, an outbox message and a tracking link.
fn write_reference(store: &SqliteStore) -> Written {
    let p = retail();
    let mut note = Tracked::intake(
        store,
        p,
        ORG_A,
        "U-1",
        retail_data("CN", "quality"),
        Some("intake-1"),
        at(0),
    );
    let mut command = common::note("called the complainant");
    command.key = Some("note-1".into());
    note.run(store, p, command, at(5));
    let mut closed = Tracked::intake(
        store,
        p,
        ORG_B,
        "U-2",
        retail_data("EU", "delivery"),
        None,
        at(1),
    );
    closed.run(store, p, withdraw(), at(2));
    let mut outbox = append(p, ORG_B, &closed.case, &[], None, at(3));
    outbox.outbox = vec![Message {
        webhook: "crm".into(),
        body: r#"{"type":"case.withdrawn"}"#.into(),
    }];
    write(store, outbox).unwrap();
    let policy = PolicyVersion {
        hash: p.hash().to_string(),
        policy_id: p.id().to_string(),
        version: "2026.1".into(),
        sources: vec![("retail.toml".into(), "id = \"retail\"".into())],
    };
    store.save_policy_version(ORG_A, &policy).unwrap();
    store
        .save_tracking_link(&TrackingLink {
            token_sha256: TOKEN_SHA256.into(),
            org: ORG_A.into(),
            case: "U-1".into(),
            issued_at: at(6),
        })
        .unwrap();
    Written {
        note,
        closed,
        policy,
    }
}

/// A database as the Redress of schema `version` made it: the shipped migrations up
/// to `version` applied the way the store applies them.
fn database_at(path: &std::path::Path, version: i64) -> Connection {
    let conn = Connection::open(path).unwrap();
    conn.execute_batch(
        "CREATE TABLE schema_migrations (
             version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)",
    )
    .unwrap();
    for (v, name, sql) in MIGRATIONS.iter().filter(|m| m.0 <= version) {
        conn.execute_batch(sql)
            .unwrap_or_else(|e| panic!("migration {v} ({name}): {e}"));
        conn.execute(
            "INSERT INTO schema_migrations VALUES (?1, ?2, '2026-01-01T00:00:00+00:00')",
            params![v, name],
        )
        .unwrap();
    }
    conn.pragma_update(None, "user_version", version).unwrap();
    conn
}

fn columns(conn: &Connection, schema: &str, table: &str) -> Vec<String> {
    let mut s = conn
        .prepare(&format!("PRAGMA {schema}.table_info({table})"))
        .unwrap();
    s.query_map([], |r| r.get::<_, String>(1))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn tables(conn: &Connection) -> Vec<String> {
    let mut s = conn
        .prepare(
            "SELECT name FROM sqlite_master WHERE type = 'table'
             AND name NOT LIKE 'sqlite_%' AND name != 'schema_migrations' ORDER BY name",
        )
        .unwrap();
    s.query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// Copies into the old database every row of the reference, keeping the columns
/// the old schema has (a column added later did not exist when the row was written).
fn copy_rows(old: &Connection, reference: &std::path::Path) -> usize {
    old.execute(
        "ATTACH DATABASE ?1 AS reference",
        params![reference.to_str().unwrap()],
    )
    .unwrap();
    let mut copied = 0;
    for table in tables(old) {
        let now = columns(old, "main", &table);
        let then = columns(old, "reference", &table);
        let shared: Vec<&String> = now.iter().filter(|c| then.contains(c)).collect();
        let list = shared
            .iter()
            .map(|c| format!("\"{c}\""))
            .collect::<Vec<_>>()
            .join(", ");
        copied += old
            .execute(
                &format!("INSERT INTO main.{table} ({list}) SELECT {list} FROM reference.{table}"),
                [],
            )
            .unwrap();
    }
    old.execute_batch("DETACH DATABASE reference").unwrap();
    copied
}

fn upgrade_from(version: i64) {
    let latest = MIGRATIONS.last().unwrap().0;
    let reference = Db::new(Backend::Sqlite).unwrap();
    let written = write_reference(&SqliteStore::open(reference.path()).unwrap());
    let db = Db::new(Backend::Sqlite).unwrap();
    let old = database_at(&db.path(), version);
    let tables_then = tables(&old);
    assert!(
        copy_rows(&old, &reference.path()) > 0,
        "from {version}: no row copied"
    );
    drop(old);

    let store = SqliteStore::open(db.path())
        .unwrap_or_else(|e| panic!("a database at schema {version} opens: {e}"));
    let conn = Connection::open(db.path()).unwrap();
    let v: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(v, latest, "from {version}: the schema version");
    let applied: Vec<i64> = conn
        .prepare("SELECT version FROM schema_migrations ORDER BY version")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(applied, (1..=latest).collect::<Vec<_>>(), "from {version}");
    let fresh = Connection::open(reference.path()).unwrap();
    let now = tables(&conn);
    assert_eq!(
        now,
        tables(&fresh),
        "from {version}: the tables of a new database"
    );
    for table in &now {
        assert_eq!(
            columns(&conn, "main", table),
            columns(&fresh, "main", table),
            "from {version}: the columns of `{table}`"
        );
    }
    assert!(
        tables_then.iter().all(|t| now.contains(t)),
        "from {version}: a table went ({tables_then:?})"
    );

    // Every row is read back as the store wrote it.
    for tracked in [&written.note, &written.closed] {
        assert_eq!(
            observe(&store, &tracked.org, &tracked.case.id),
            tracked.observed(),
            "from {version}: case `{}`",
            tracked.case.id
        );
    }
    assert_eq!(
        store.intake_key(ORG_A, "intake-1").unwrap(),
        Some(("U-1".into(), None)),
        "from {version}: a key kept before fingerprints has none"
    );
    assert_eq!(
        store
            .command_key_fingerprint(ORG_A, "U-1", "note-1")
            .unwrap(),
        None,
        "from {version}"
    );
    assert_eq!(
        store.policy_version(ORG_A, &written.policy.hash).unwrap(),
        Some(written.policy.clone()),
        "from {version}"
    );
    let due = store.outbox_due(at(10), 10).unwrap();
    assert_eq!(due.len(), 1, "from {version}: the outbox {due:?}");
    let link = store.tracking_link(TOKEN_SHA256).unwrap();
    assert_eq!(
        link.map(|l| l.case),
        (version >= 2).then(|| "U-1".to_string()),
        "from {version}: the tracking link (kept from schema 2)"
    );

    // New writes use what the later migrations added.
    let p = retail();
    let mut later = Tracked::intake(
        &store,
        p,
        ORG_A,
        "U-3",
        retail_data("CN", "billing"),
        None,
        at(20),
    );
    let mut command = common::note("after the upgrade");
    command.key = Some("note-3".into());
    let events = run(p, &mut later.case, command, at(21));
    let mut note = append(p, ORG_A, &later.case, &events, None, at(21));
    note.fingerprint = Some("fp-3".into());
    note.report = CaseFacts::of(p, &later.case, None);
    assert!(note.report.is_some(), "the retail policy has reports");
    write(&store, note).unwrap();
    assert_eq!(
        store
            .command_key_fingerprint(ORG_A, "U-3", "note-3")
            .unwrap(),
        Some("fp-3".into()),
        "from {version}"
    );
    let mut reported = Vec::new();
    let period = (at(0) - TimeDelta::days(1), at(0) + TimeDelta::days(1));
    store
        .report_facts(ORG_A, p.id(), period.0, period.1, &mut |f| reported.push(f))
        .unwrap();
    assert_eq!(reported.len(), 1, "from {version}: the report facts");
    store
        .save_tracking_link(&TrackingLink {
            token_sha256: "ab".repeat(32),
            org: ORG_A.into(),
            case: "U-3".into(),
            issued_at: at(22),
        })
        .unwrap();
}

#[test]
fn databases_of_every_earlier_schema_upgrade_with_their_rows() {
    let latest = MIGRATIONS.last().unwrap().0;
    assert!(latest > 1, "there is no earlier schema");
    for version in 1..latest {
        upgrade_from(version);
    }
}
