//! [`SqliteStore`]: the embedded default. One file in WAL mode with
//! `synchronous = FULL`, so a commit is on disk before it is acknowledged.
//!
//! One writer thread owns the write connection. It takes every write queued while
//! the previous commit was syncing, runs each in its own savepoint (a write that
//! fails rolls back alone), and commits them together: group commit. Reads use a
//! small pool of their own connections, which WAL lets run beside the writer.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OpenFlags};

mod checkpointer;
mod reads;
mod rows;
mod writer;

use crate::codec::{from_json, instant, micros, to_json};
use crate::migrations::{check_version, migrate};
use crate::{DatabaseError, Receipt, StoreError};
use checkpointer::{TRUNCATE_AT, WalStats, run_checkpoints};
use writer::run_writer;

/// Writes committed in one transaction, at most.
const MAX_BATCH: usize = 1024;

/// Rows in one page of a list, at most.
const MAX_PAGE: usize = 10_000;

/// Idle read connections kept, at most.
const MAX_IDLE_READERS: usize = 8;

type Work = Box<dyn FnOnce(&Connection) -> Result<(), StoreError> + Send>;

struct Job {
    work: Work,
    reply: tokio::sync::oneshot::Sender<Result<(), StoreError>>,
}

/// The embedded SQLite store.
pub struct SqliteStore {
    path: PathBuf,
    jobs: Option<mpsc::Sender<Job>>,
    writer: Option<JoinHandle<()>>,
    stop: Option<mpsc::Sender<()>>,
    checkpoints: Option<JoinHandle<()>>,
    wal: Arc<WalStats>,
    /// The write-ahead log's file, `<path>-wal`.
    wal_path: PathBuf,
    readers: Mutex<Vec<Connection>>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// A rusqlite error as a store error, busy when SQLite's code says another
/// connection holds the database (`SQLITE_BUSY`, `SQLITE_LOCKED`).
pub(crate) fn db(e: rusqlite::Error) -> StoreError {
    let busy = matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    );
    StoreError::Database(match busy {
        true => DatabaseError::busy(e),
        false => DatabaseError::other(e),
    })
}

/// A thread the store could not start.
fn no_thread(what: &str, e: std::io::Error) -> StoreError {
    let e = std::io::Error::new(e.kind(), format!("cannot start the {what}: {e}"));
    StoreError::Database(DatabaseError::other(e))
}

/// How long a connection waits for a lock another holds before answering busy.
pub(super) const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

fn is_constraint(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::ConstraintViolation)
    )
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and brings its schema up to
    /// date.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        let conn = open_writer(&path)?;
        // A cache that holds the pages a write touches, and checkpoints moved off the
        // commit path to a thread of their own.
        conn.pragma_update(None, "cache_size", -65_536)
            .map_err(db)?;
        conn.pragma_update(None, "wal_autocheckpoint", 0)
            .map_err(db)?;
        // Room for every statement the writer runs, a case update's few shapes (one
        // per set of changed indexed columns) included, so none is prepared again.
        conn.set_prepared_statement_cache_capacity(64);
        conn.pragma_update(None, "journal_size_limit", TRUNCATE_AT as i64)
            .map_err(db)?;
        let (stop, stopped) = mpsc::channel::<()>();
        let wal = Arc::new(WalStats::default());
        let (stats, mut wal_path) = (wal.clone(), path.clone().into_os_string());
        wal_path.push("-wal");
        let checkpointer = Connection::open(&path).map_err(db)?;
        checkpointer
            .busy_timeout(checkpointer::TRUNCATE_WAIT)
            .map_err(db)?;
        let checkpoints = std::thread::Builder::new()
            .name("redress-store-checkpoint".into())
            .spawn({
                let wal_path = PathBuf::from(wal_path.clone());
                move || run_checkpoints(checkpointer, wal_path, stats, stopped)
            })
            .map_err(|e| no_thread("checkpointer", e))?;
        let (jobs, queue) = mpsc::channel::<Job>();
        let writer_wal = wal.clone();
        let writer = std::thread::Builder::new()
            .name("redress-store-writer".into())
            .spawn(move || run_writer(conn, queue, writer_wal))
            .map_err(|e| no_thread("writer", e))?;
        Ok(SqliteStore {
            path,
            jobs: Some(jobs),
            writer: Some(writer),
            stop: Some(stop),
            checkpoints: Some(checkpoints),
            wal,
            wal_path: wal_path.into(),
            readers: Mutex::new(Vec::new()),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The write-ahead log file's size now, in bytes (read from the file, not
    /// remembered from the last checkpoint, which may be waiting on a reader), and
    /// how many checkpoints truncated it.
    pub fn wal(&self) -> (u64, u64) {
        (
            std::fs::metadata(&self.wal_path).map_or(0, |m| m.len()),
            self.wal.truncations.load(Ordering::Relaxed),
        )
    }

    fn submit(&self, work: Work) -> Receipt {
        let (reply, receipt) = tokio::sync::oneshot::channel();
        let job = Job { work, reply };
        if let Some(jobs) = &self.jobs
            && let Err(mpsc::SendError(job)) = jobs.send(job)
        {
            let _ = job.reply.send(Err(StoreError::Closed));
        }
        receipt
    }

    fn write_now(&self, work: Work) -> Result<(), StoreError> {
        self.submit(work)
            .blocking_recv()
            .unwrap_or(Err(StoreError::Closed))
    }

    fn read<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let pooled = self.readers.lock().ok().and_then(|mut r| r.pop());
        let conn = match pooled {
            Some(conn) => conn,
            None => {
                let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
                let conn = Connection::open_with_flags(&self.path, flags).map_err(db)?;
                conn.busy_timeout(BUSY_TIMEOUT).map_err(db)?;
                conn
            }
        };
        let out = f(&conn);
        if let Ok(mut idle) = self.readers.lock()
            && idle.len() < MAX_IDLE_READERS
        {
            idle.push(conn);
        }
        out
    }
}

impl SqliteStore {
    /// The instant a `SELECT MIN(...)` query gives.
    fn earliest(&self, sql: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        let at: Option<i64> =
            self.read(|conn| conn.query_row(sql, [], |r| r.get(0)).map_err(db))?;
        at.map(instant).transpose()
    }
}

impl Drop for SqliteStore {
    /// Closes the queue and waits for the writer to commit what was queued.
    fn drop(&mut self) {
        self.jobs.take();
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
        self.stop.take();
        if let Some(checkpoints) = self.checkpoints.take() {
            let _ = checkpoints.join();
        }
    }
}

/// Opens the write connection: WAL, `synchronous = FULL`, the schema up to date.
/// Switching a database to WAL can meet a lock that SQLite does not wait for (another
/// process opening or checkpointing it at that moment): that is retried.
fn open_writer(path: &Path) -> Result<Connection, StoreError> {
    let setup = || -> Result<Connection, StoreError> {
        let mut conn = Connection::open(path).map_err(db)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(db)?;
        check_version(&conn)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(db)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(db)?;
        migrate(&mut conn)?;
        Ok(conn)
    };
    retry_while_busy(50, std::time::Duration::from_millis(20), setup)
}

/// Runs `work` until it does not fail with a busy database, trying again up to
/// `retries` times with `pause` between tries.
fn retry_while_busy<T>(
    retries: u32,
    pause: std::time::Duration,
    mut work: impl FnMut() -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let mut attempt = 0;
    loop {
        match work() {
            Err(StoreError::Database(e)) if e.is_busy() && attempt < retries => {
                attempt += 1;
                std::thread::sleep(pause);
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::error::Error;
    use std::time::Duration;

    use rusqlite::{Connection, ErrorCode};

    use super::{db, retry_while_busy};
    use crate::{DatabaseError, StoreError};

    /// A database held by an exclusive transaction of another connection, and a
    /// second connection that does not wait for it.
    fn held() -> (tempfile::TempDir, Connection, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("held.db");
        let holder = Connection::open(&path).unwrap();
        holder
            .execute_batch("CREATE TABLE t (x INTEGER); BEGIN EXCLUSIVE;")
            .unwrap();
        let other = Connection::open(&path).unwrap();
        other.busy_timeout(Duration::ZERO).unwrap();
        (dir, holder, other)
    }

    fn code_of(error: &StoreError) -> Option<ErrorCode> {
        error
            .source()
            .and_then(|s| s.downcast_ref::<rusqlite::Error>())
            .and_then(|e| e.sqlite_error_code())
    }

    #[test]
    fn a_held_database_is_busy_and_keeps_rusqlite_error_as_its_source() {
        let (_dir, _holder, other) = held();
        let error = db(other.execute("INSERT INTO t VALUES (1)", []).unwrap_err());
        let StoreError::Database(e) = &error else {
            panic!("not a database error: {error:?}");
        };
        assert!(e.is_busy(), "{error:?}");
        assert_eq!(code_of(&error), Some(ErrorCode::DatabaseBusy));
    }

    #[test]
    fn a_bad_statement_is_not_busy_and_keeps_its_source() {
        let conn = Connection::open_in_memory().unwrap();
        let error = db(conn
            .execute("INSERT INTO missing VALUES (1)", [])
            .unwrap_err());
        let StoreError::Database(e) = &error else {
            panic!("not a database error: {error:?}");
        };
        assert!(!e.is_busy(), "{error:?}");
        assert_eq!(code_of(&error), Some(ErrorCode::Unknown));
        let message = error.source().unwrap().to_string();
        assert!(message.contains("no such table: missing"), "{message}");
    }

    /// The decision is the error's kind: a busy error whose message says nothing of
    /// locks is retried, a non-busy one saying "locked" is not.
    #[test]
    fn only_busy_errors_are_retried() {
        let busy = || StoreError::Database(DatabaseError::busy(std::io::Error::other("held")));
        let other = || {
            StoreError::Database(DatabaseError::other(std::io::Error::other(
                "database is locked",
            )))
        };
        let tries = Cell::new(0);
        let outcome = retry_while_busy(5, Duration::ZERO, || {
            tries.set(tries.get() + 1);
            match tries.get() {
                1..=3 => Err(busy()),
                _ => Ok(tries.get()),
            }
        });
        assert_eq!(outcome, Ok(4));

        tries.set(0);
        let outcome = retry_while_busy(5, Duration::ZERO, || -> Result<(), _> {
            tries.set(tries.get() + 1);
            Err(other())
        });
        assert_eq!((outcome, tries.get()), (Err(other()), 1));

        tries.set(0);
        let outcome = retry_while_busy(5, Duration::ZERO, || -> Result<(), _> {
            tries.set(tries.get() + 1);
            Err(busy())
        });
        assert_eq!(
            (outcome, tries.get()),
            (Err(busy()), 6),
            "gives up after 5 retries"
        );
    }
}
