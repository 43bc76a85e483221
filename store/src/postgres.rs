//! [`PostgresStore`]: the same tables as SQLite's in a PostgreSQL that several
//! `redress serve` nodes share.
//!
//! The store runs its own small async runtime with a pool of connections
//! (deadpool-postgres over tokio-postgres). An append is one transaction whose
//! statements are sent together without waiting for each answer (pipelined), and
//! is acknowledged only after its `COMMIT` returned: with `synchronous_commit = on`
//! (always set for the store's sessions) the write is then durable. Concurrent
//! appends run on the pool's connections at once, and PostgreSQL flushes their
//! commits together.
//!
//! Reads block the calling thread (call them off the async runtime) while the
//! store's runtime runs the query.

use std::future::Future;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod};
use tokio_postgres::NoTls;
use tokio_postgres::error::SqlState;

mod listen;
mod migrate;
mod options;
mod reads;
mod tls;
mod writer;

pub use migrate::POSTGRES_MIGRATIONS;
pub use options::{PostgresOptions, Tls};

use crate::{DatabaseError, StoreError};

/// Rows in one page of a list, at most.
const MAX_PAGE: usize = 10_000;

/// The channel on which nodes tell each other of an earlier due instant.
const DUE_CHANNEL: &str = "redress_due";

/// How to open connections: in the clear or over rustls.
#[derive(Clone)]
enum Connector {
    Plain,
    Rustls(tokio_postgres_rustls::MakeRustlsConnect),
}

/// Appends not yet answered: the store waits for them when it closes.
#[derive(Default)]
struct InFlight {
    count: Mutex<usize>,
    done: Condvar,
}

/// Holds one in-flight append; counts it down when dropped.
struct Flying(Arc<InFlight>);

impl Flying {
    fn new(in_flight: &Arc<InFlight>) -> Self {
        if let Ok(mut n) = in_flight.count.lock() {
            *n += 1;
        }
        Flying(in_flight.clone())
    }
}

impl Drop for Flying {
    fn drop(&mut self) {
        if let Ok(mut n) = self.0.count.lock() {
            *n = n.saturating_sub(1);
        }
        self.0.done.notify_all();
    }
}

/// The PostgreSQL store.
pub struct PostgresStore {
    runtime: Option<tokio::runtime::Runtime>,
    handle: tokio::runtime::Handle,
    pool: Pool,
    config: tokio_postgres::Config,
    connector: Connector,
    options: PostgresOptions,
    in_flight: Arc<InFlight>,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("database", &self.config.get_dbname())
            .field("hosts", &self.config.get_hosts())
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

fn db(e: tokio_postgres::Error) -> StoreError {
    match e.as_db_error() {
        Some(d) => StoreError::Database(DatabaseError::described(format!(
            "{}: {}",
            d.code().code(),
            d.message()
        ))),
        None => StoreError::Database(DatabaseError::other(e)),
    }
}

fn pool_error(e: deadpool_postgres::PoolError) -> StoreError {
    match e {
        deadpool_postgres::PoolError::Backend(e) => db(e),
        other => StoreError::Database(DatabaseError::other(other)),
    }
}

/// The constraint a unique violation broke, if that is what `e` is.
fn unique_violation(e: &tokio_postgres::Error) -> Option<&str> {
    let d = e.as_db_error()?;
    (d.code() == &SqlState::UNIQUE_VIOLATION).then(|| d.constraint().unwrap_or(""))
}

impl PostgresStore {
    /// Connects to the database a `postgres://` URL names (retrying for the
    /// URL's `connect_retry`), brings its schema up to date under an advisory lock
    /// (several nodes may start at once) and opens the pool.
    pub fn connect(url: &str) -> Result<Self, StoreError> {
        let (config, options) = options::parse(url)?;
        let connector = match options.tls {
            Tls::Disable => Connector::Plain,
            Tls::Prefer | Tls::Require => Connector::Rustls(tls::connector(&options)?),
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("redress-postgres")
            .enable_all()
            .build()
            .map_err(|e| {
                StoreError::Database(DatabaseError::described(format!(
                    "cannot start the store's runtime: {e}"
                )))
            })?;
        let handle = runtime.handle().clone();
        let manager_config = ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        };
        let manager = match &connector {
            Connector::Plain => Manager::from_config(config.clone(), NoTls, manager_config),
            Connector::Rustls(tls) => {
                Manager::from_config(config.clone(), tls.clone(), manager_config)
            }
        };
        let pool = Pool::builder(manager)
            .max_size(options.pool_size)
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(Some(options.statement_timeout.max(Duration::from_secs(5))))
            .create_timeout(Some(Duration::from_secs(10)))
            .build()
            .map_err(|e| {
                StoreError::Database(DatabaseError::described(format!(
                    "cannot make the pool: {e}"
                )))
            })?;
        let store = PostgresStore {
            runtime: Some(runtime),
            handle,
            pool,
            config,
            connector,
            options,
            in_flight: Arc::default(),
        };
        let (config, connector, retry) = (
            store.config.clone(),
            store.connector.clone(),
            store.options.connect_retry,
        );
        store.block(async move { migrate::migrate(&config, &connector, retry).await })?;
        Ok(store)
    }

    /// The options read from the URL.
    pub fn options(&self) -> &PostgresOptions {
        &self.options
    }

    /// Runs `work` on the store's runtime and waits for it, from any thread that
    /// is not one of the runtime's own.
    fn block<T: Send + 'static>(
        &self,
        work: impl Future<Output = Result<T, StoreError>> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.handle.spawn(async move {
            let _ = tx.send(work.await);
        });
        rx.recv().unwrap_or(Err(StoreError::Closed))
    }

    /// Runs `work` with a pooled connection and waits for it.
    fn with_client<T, F, Fut>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(Object) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, StoreError>> + Send,
    {
        let pool = self.pool.clone();
        self.block(async move {
            let client = pool.get().await.map_err(pool_error)?;
            work(client).await
        })
    }
}

impl Drop for PostgresStore {
    /// Waits (up to a minute) for the appends in flight to be answered, then stops
    /// the store's runtime.
    fn drop(&mut self) {
        if let Ok(mut n) = self.in_flight.count.lock() {
            let until = std::time::Instant::now() + Duration::from_secs(60);
            while *n > 0 && std::time::Instant::now() < until {
                match self
                    .in_flight
                    .done
                    .wait_timeout(n, Duration::from_millis(100))
                {
                    Ok((guard, _)) => n = guard,
                    Err(_) => break,
                }
            }
        }
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::reads::{CROSS_ORGANISATION, QUERIES};
    use super::writer::STATEMENTS;

    /// Whether a statement touches one organisation's rows only: an insert that
    /// binds `org` first, or a query whose conditions include `org = $n`.
    fn single_organisation(sql: &str) -> bool {
        let sql = sql.split_whitespace().collect::<Vec<_>>().join(" ");
        if sql.starts_with("INSERT INTO") {
            let columns = sql.split_once('(').map(|(_, c)| c).unwrap_or("");
            let binds_first = sql.contains("VALUES ($1,") || sql.contains("SELECT $1,");
            return columns.starts_with("org,") && binds_first;
        }
        let Some((_, conditions)) = sql.split_once(" WHERE ") else {
            return false;
        };
        conditions.starts_with("org = $") || conditions.contains(" AND org = $")
    }

    /// docs/scaling.md: on Citus, every query names the organisation (one shard)
    /// except the cross-organisation scans it lists, which every deployment must
    /// plan for.
    #[test]
    fn every_query_filters_on_the_organisation_or_is_a_named_scan() {
        let scaling = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/scaling.md"),
        )
        .unwrap_or_else(|e| panic!("docs/scaling.md: {e}"));
        let mut wrong = Vec::new();
        for (name, sql) in QUERIES.iter().chain(STATEMENTS) {
            let scan = CROSS_ORGANISATION.contains(name);
            match (scan, single_organisation(sql)) {
                (false, false) => wrong.push(format!("`{name}` does not filter on `org`")),
                (true, true) => wrong.push(format!("`{name}` is listed as a scan but names `org`")),
                (true, false) if !scaling.contains(&format!("`{name}`")) => {
                    wrong.push(format!("`{name}` is a scan docs/scaling.md does not name"))
                }
                _ => {}
            }
        }
        for name in CROSS_ORGANISATION {
            if !QUERIES.iter().any(|(n, _)| n == name) {
                wrong.push(format!("`{name}` is listed as a scan but is no query"));
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
        // the check itself tells the two apart
        assert!(single_organisation(
            "SELECT a FROM cases WHERE org = $1 AND id = $2"
        ));
        assert!(single_organisation(
            "UPDATE t SET a = 1 WHERE id = $2 AND org = $1"
        ));
        assert!(!single_organisation("SELECT a FROM cases WHERE id = $1"));
        assert!(!single_organisation(
            "INSERT INTO t (id, org) VALUES ($1, $2)"
        ));
    }
}
