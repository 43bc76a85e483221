//! Schema migrations, versioned in the repository (`store/migrations/`). The
//! database's `user_version` is the number of the last one applied; each is applied
//! once, in its own transaction, and recorded in `schema_migrations`.

use rusqlite::Connection;

use crate::StoreError;
use crate::sqlite::db;

/// Every migration, in order: its version, name and SQL.
pub const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "initial", include_str!("../migrations/0001_initial.sql")),
    (
        2,
        "tracking_links",
        include_str!("../migrations/0002_tracking_links.sql"),
    ),
    (
        3,
        "request_fingerprints",
        include_str!("../migrations/0003_request_fingerprints.sql"),
    ),
    (
        4,
        "case_reports",
        include_str!("../migrations/0004_case_reports.sql"),
    ),
    (
        5,
        "case_reports_rowid",
        include_str!("../migrations/0005_case_reports_rowid.sql"),
    ),
    (
        6,
        "due_index_stamps",
        include_str!("../migrations/0006_due_index_stamps.sql"),
    ),
];

fn version_of(conn: &Connection) -> Result<i64, StoreError> {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(db)
}

/// Refuses, touching nothing, a database written by a newer Redress.
pub(crate) fn check_version(conn: &Connection) -> Result<(), StoreError> {
    let found = version_of(conn)?;
    let known = MIGRATIONS.last().map_or(0, |m| m.0);
    match found > known {
        true => Err(StoreError::NewerSchema { found, known }),
        false => Ok(()),
    }
}

/// Brings the schema up to date. Each migration runs in an immediate transaction
/// that reads the version again once it holds the write lock, so that several
/// processes opening a new database at once apply each migration once.
pub(crate) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    for (version, name, sql) in MIGRATIONS {
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(db)?;
        check_version(&tx)?;
        if *version <= version_of(&tx)? {
            continue;
        }
        tx.execute_batch(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                 version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)",
        )
        .map_err(db)?;
        tx.execute_batch(sql).map_err(db)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
            rusqlite::params![version, name, chrono::Utc::now().to_rfc3339()],
        )
        .map_err(db)?;
        tx.pragma_update(None, "user_version", version)
            .map_err(db)?;
        tx.commit().map_err(db)?;
        tracing::info!(version, name, "applied schema migration");
    }
    Ok(())
}
