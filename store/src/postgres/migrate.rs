//! Schema migrations for PostgreSQL, versioned in the repository
//! (`store/migrations/postgres/`), applied at start-up. Several nodes may start at
//! once: each takes a session advisory lock first, so one applies what is missing
//! while the others wait, then find nothing left to do. Each migration runs in its
//! own transaction and is recorded in `schema_migrations`.

use std::time::Duration;

use tokio_postgres::{Client, NoTls};

use super::{Connector, db};
use crate::StoreError;

/// Every PostgreSQL migration, in order: its version, name and SQL.
/// The versions and names are SQLite's ([`crate::MIGRATIONS`]): a schema version
/// means the same tables on both.
pub const POSTGRES_MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "initial",
        include_str!("../../migrations/postgres/0001_initial.sql"),
    ),
    (
        2,
        "tracking_links",
        include_str!("../../migrations/postgres/0002_tracking_links.sql"),
    ),
    (
        3,
        "request_fingerprints",
        include_str!("../../migrations/postgres/0003_request_fingerprints.sql"),
    ),
    (
        4,
        "case_reports",
        include_str!("../../migrations/postgres/0004_case_reports.sql"),
    ),
    (
        5,
        "case_reports_rowid",
        include_str!("../../migrations/postgres/0005_case_reports_rowid.sql"),
    ),
    (
        6,
        "due_index_stamps",
        include_str!("../../migrations/postgres/0006_due_index_stamps.sql"),
    ),
];

/// The advisory lock that serialises migrations (`"redress"` in ASCII).
const MIGRATION_LOCK: i64 = 0x0072_6564_7265_7373;

/// Opens one connection outside the pool, its connection task on this runtime.
pub(super) async fn connect_one(
    config: &tokio_postgres::Config,
    connector: &Connector,
) -> Result<Client, tokio_postgres::Error> {
    match connector {
        Connector::Plain => {
            let (client, connection) = config.connect(NoTls).await?;
            tokio::spawn(connection);
            Ok(client)
        }
        Connector::Rustls(tls) => {
            let (client, connection) = config.connect(tls.clone()).await?;
            tokio::spawn(connection);
            Ok(client)
        }
    }
}

/// Connects, retrying with back-off for up to `retry`.
async fn connect_retrying(
    config: &tokio_postgres::Config,
    connector: &Connector,
    retry: Duration,
) -> Result<Client, StoreError> {
    let until = tokio::time::Instant::now() + retry;
    let mut wait = Duration::from_millis(100);
    loop {
        match connect_one(config, connector).await {
            Ok(client) => return Ok(client),
            Err(e) if tokio::time::Instant::now() + wait < until => {
                tracing::warn!(error = %e, "cannot reach the database yet; retrying");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(5));
            }
            Err(e) => {
                let hosts = config
                    .get_hosts()
                    .iter()
                    .map(|h| format!("{h:?}"))
                    .collect::<Vec<_>>()
                    .join(", ");
                let tried = match retry.is_zero() {
                    true => String::new(),
                    false => format!(" (tried for {} s)", retry.as_secs()),
                };
                return Err(StoreError::Connect(format!(
                    "database `{}` on {hosts}{tried}: {}",
                    config.get_dbname().unwrap_or(""),
                    source_of(&e)
                )));
            }
        }
    }
}

/// The innermost cause of a driver error: "connection refused", not "error
/// connecting to server".
fn source_of(e: &tokio_postgres::Error) -> String {
    if let Some(d) = e.as_db_error() {
        return d.message().to_string();
    }
    let mut inner: &dyn std::error::Error = e;
    while let Some(next) = inner.source() {
        inner = next;
    }
    inner.to_string()
}

/// Connects (with retries) and brings the schema up to date.
pub(super) async fn migrate(
    config: &tokio_postgres::Config,
    connector: &Connector,
    retry: Duration,
) -> Result<(), StoreError> {
    let mut client = connect_retrying(config, connector, retry).await?;
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(db)?;
    let outcome = apply(&mut client).await;
    // Dropping the connection would release the lock too; say so explicitly.
    let _ = client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
        .await;
    outcome
}

async fn apply(client: &mut Client) -> Result<(), StoreError> {
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                 version BIGINT PRIMARY KEY, name TEXT NOT NULL,
                 applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
        )
        .await
        .map_err(db)?;
    let found: i64 = client
        .query_one(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            &[],
        )
        .await
        .map_err(db)?
        .get(0);
    let known = POSTGRES_MIGRATIONS.last().map_or(0, |m| m.0);
    if found > known {
        return Err(StoreError::NewerSchema { found, known });
    }
    for (version, name, sql) in POSTGRES_MIGRATIONS {
        if *version <= found {
            continue;
        }
        let tx = client.transaction().await.map_err(db)?;
        tx.batch_execute(sql).await.map_err(db)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
            &[version, name],
        )
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
        tracing::info!(version, name, "applied PostgreSQL schema migration");
    }
    Ok(())
}
