//! [`SqliteStore`]: the embedded default. One file in WAL mode with
//! `synchronous = FULL`, so a commit is on disk before it is acknowledged.
//!
//! One writer thread owns the write connection. It takes every write queued while
//! the previous commit was syncing, runs each in its own savepoint (a write that
//! fails rolls back alone), and commits them together: group commit. Reads use a
//! small pool of their own connections, which WAL lets run beside the writer.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::mpsc;
use std::thread::JoinHandle;

use chrono::{DateTime, Utc};
use redress_engine::case::Case;
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};

use crate::migrations::{check_version, migrate};
use crate::{
    Append, CaseCount, CaseFilter, CaseRow, ClockSummary, Conflict, Due, OutboxCounts, Page,
    Pending, PolicyVersion, Receipt, Store, StoreError, StoredCase, StoredEvent, Summary,
};

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
    readers: Mutex<Vec<Connection>>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

fn db(e: rusqlite::Error) -> StoreError {
    StoreError::Database(e.to_string())
}

fn micros(at: DateTime<Utc>) -> i64 {
    at.timestamp_micros()
}

fn instant(micros: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_micros(micros).ok_or_else(|| StoreError::Corrupt {
        what: "instant",
        detail: format!("{micros} is out of range"),
    })
}

fn to_json<T: serde::Serialize>(what: &'static str, value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt {
        what,
        detail: e.to_string(),
    })
}

fn from_json<T: serde::de::DeserializeOwned>(
    what: &'static str,
    text: &str,
) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt {
        what,
        detail: e.to_string(),
    })
}

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
        let (stop, stopped) = mpsc::channel::<()>();
        let checkpointer = Connection::open(&path).map_err(db)?;
        checkpointer
            .busy_timeout(std::time::Duration::from_secs(5))
            .map_err(db)?;
        let checkpoints = std::thread::Builder::new()
            .name("redress-store-checkpoint".into())
            .spawn(move || run_checkpoints(checkpointer, stopped))
            .map_err(|e| StoreError::Database(format!("cannot start the checkpointer: {e}")))?;
        let (jobs, queue) = mpsc::channel::<Job>();
        let writer = std::thread::Builder::new()
            .name("redress-store-writer".into())
            .spawn(move || run_writer(conn, queue))
            .map_err(|e| StoreError::Database(format!("cannot start the writer: {e}")))?;
        Ok(SqliteStore {
            path,
            jobs: Some(jobs),
            writer: Some(writer),
            stop: Some(stop),
            checkpoints: Some(checkpoints),
            readers: Mutex::new(Vec::new()),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
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
                conn.busy_timeout(std::time::Duration::from_secs(5))
                    .map_err(db)?;
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
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(db)?;
        check_version(&conn)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(db)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(db)?;
        migrate(&mut conn)?;
        Ok(conn)
    };
    let mut attempt = 0;
    loop {
        match setup() {
            Err(StoreError::Database(e)) if e.contains("locked") && attempt < 50 => {
                attempt += 1;
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => return other,
        }
    }
}

/// How often the write-ahead log is copied back into the database.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(500);

/// Copies the write-ahead log back into the database in the background (a passive
/// checkpoint never blocks the writer), and once more when the store
/// closes.
fn run_checkpoints(conn: Connection, stop: mpsc::Receiver<()>) {
    let checkpoint = |mode: &str| {
        let sql = format!("PRAGMA wal_checkpoint({mode})");
        if let Err(e) = conn.query_row(&sql, [], |_| Ok(())) {
            tracing::warn!(error = %e, "checkpoint failed");
        }
    };
    while let Err(mpsc::RecvTimeoutError::Timeout) = stop.recv_timeout(CHECKPOINT_EVERY) {
        checkpoint("PASSIVE");
    }
    checkpoint("PASSIVE");
}

fn run_writer(mut conn: Connection, queue: mpsc::Receiver<Job>) {
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        commit_batch(&mut conn, batch);
    }
}

/// Runs each job in its own savepoint inside one transaction, then commits once and
/// tells each job its outcome. A failed commit fails every job in the batch.
fn commit_batch(conn: &mut Connection, batch: Vec<Job>) {
    let size = batch.len();
    let mut tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => {
            let error = db(e);
            for job in batch {
                let _ = job.reply.send(Err(error.clone()));
            }
            return;
        }
    };
    let mut outcomes = Vec::with_capacity(size);
    for job in batch {
        let outcome = match tx.savepoint() {
            Ok(sp) => match (job.work)(&sp) {
                Ok(()) => sp.commit().map_err(db),
                Err(e) => Err(e), // dropping the savepoint rolls it back
            },
            Err(e) => Err(db(e)),
        };
        outcomes.push((outcome, job.reply));
    }
    let committed = tx.commit().map_err(db);
    tracing::trace!(size, "store batch committed");
    for (outcome, reply) in outcomes {
        let outcome = match &committed {
            Ok(()) => outcome,
            Err(e) => Err(e.clone()),
        };
        let _ = reply.send(outcome);
    }
}

/// An [`Append`] turned into what the writer binds: serialised on the caller's
/// thread, so the single writer spends its time writing.
struct Prepared {
    org: String,
    id: String,
    before: u64,
    version: i64,
    policy_id: String,
    policy_hash: String,
    stage: String,
    queue: Option<String>,
    priority: Option<i64>,
    assignee: Option<String>,
    closed: bool,
    clock_state: &'static str,
    received_at: i64,
    updated_at: i64,
    next_due: Option<i64>,
    snapshot: String,
    /// Sequence, instant, type and JSON of each event.
    events: Vec<(i64, i64, &'static str, String)>,
    /// Each command idempotency key the events carry: first and last version.
    keys: Vec<(String, i64, i64)>,
    intake_key: Option<String>,
    recorded_at: i64,
    outbox: Vec<crate::Message>,
}

impl Prepared {
    fn new(a: Append) -> Result<Self, StoreError> {
        let c = &a.case;
        let count = a.events.len() as u64;
        let conflict = |reason| StoreError::Conflict {
            org: a.org.clone(),
            case: c.id.clone(),
            reason,
        };
        let before = c
            .version
            .checked_sub(count)
            .ok_or(conflict(Conflict::Version))?;
        let mut keys: Vec<(String, i64, i64)> = Vec::new();
        let mut events = Vec::with_capacity(a.events.len());
        for (i, event) in a.events.iter().enumerate() {
            if event.seq != before + 1 + i as u64 {
                return Err(conflict(Conflict::Version));
            }
            let seq = event.seq as i64;
            if let Some(key) = &event.key {
                match keys.iter_mut().find(|(k, _, _)| k == key) {
                    Some(entry) => entry.2 = seq,
                    None => keys.push((key.clone(), seq, seq)),
                }
            }
            let json = to_json("event", event)?;
            events.push((seq, micros(event.at), event.kind.type_name(), json));
        }
        // The keys live in their own table: a snapshot does not grow with them.
        let mut snapshot = c.clone();
        snapshot.keys = Default::default();
        Ok(Prepared {
            snapshot: to_json("case", &snapshot)?,
            id: snapshot.id,
            before,
            version: c.version as i64,
            policy_id: a.summary.policy_id,
            policy_hash: c.policy.to_string(),
            stage: snapshot.stage,
            queue: snapshot.queue,
            priority: snapshot.priority,
            assignee: snapshot.assignee,
            closed: snapshot.closed,
            clock_state: a.summary.clock_state.as_str(),
            received_at: micros(snapshot.received_at),
            updated_at: micros(snapshot.updated_at),
            next_due: a.summary.next_due.map(micros),
            events,
            keys,
            intake_key: a.intake_key,
            recorded_at: micros(a.recorded_at),
            outbox: a.outbox,
            org: a.org,
        })
    }
}

fn write_append(conn: &Connection, a: &Prepared) -> Result<(), StoreError> {
    let conflict = |reason| StoreError::Conflict {
        org: a.org.clone(),
        case: a.id.clone(),
        reason,
    };
    if let Some(key) = &a.intake_key {
        conn.prepare_cached("INSERT INTO intake_keys (org, key, case_id) VALUES (?1, ?2, ?3)")
            .and_then(|mut s| s.execute(params![a.org, key, a.id]))
            .map_err(|e| match is_constraint(&e) {
                true => conflict(Conflict::KeyTaken),
                false => db(e),
            })?;
    }
    if a.before == 0 {
        conn.prepare_cached(
            "INSERT INTO cases (org, id, policy_id, policy_hash, version, stage, queue, priority,
                 assignee, closed, clock_state, received_at, updated_at, next_due, snapshot)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
        )
        .and_then(|mut s| {
            s.execute(params![
                a.org,
                a.id,
                a.policy_id,
                a.policy_hash,
                a.version,
                a.stage,
                a.queue,
                a.priority,
                a.assignee,
                a.closed,
                a.clock_state,
                a.received_at,
                a.updated_at,
                a.next_due,
                a.snapshot,
            ])
        })
        .map_err(|e| match is_constraint(&e) {
            true => conflict(Conflict::CaseExists),
            false => db(e),
        })?;
    } else {
        let changed = conn
            .prepare_cached(
                "UPDATE cases SET version = ?3, stage = ?4, queue = ?5, priority = ?6,
                     assignee = ?7, closed = ?8, clock_state = ?9, updated_at = ?10,
                     next_due = ?11, snapshot = ?12
                 WHERE org = ?1 AND id = ?2 AND version = ?13",
            )
            .and_then(|mut s| {
                s.execute(params![
                    a.org,
                    a.id,
                    a.version,
                    a.stage,
                    a.queue,
                    a.priority,
                    a.assignee,
                    a.closed,
                    a.clock_state,
                    a.updated_at,
                    a.next_due,
                    a.snapshot,
                    a.before as i64,
                ])
            })
            .map_err(db)?;
        if changed == 0 {
            return Err(conflict(Conflict::Version));
        }
    }
    let mut insert = conn
        .prepare_cached(
            "INSERT INTO events (org, case_id, seq, at, kind, event, recorded_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )
        .map_err(db)?;
    for (seq, at, kind, json) in &a.events {
        insert
            .execute(params![a.org, a.id, seq, at, kind, json, a.recorded_at])
            .map_err(|e| match is_constraint(&e) {
                true => conflict(Conflict::Version),
                false => db(e),
            })?;
    }
    let mut keys = conn
        .prepare_cached(
            "INSERT INTO case_keys (org, case_id, key, first, last) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (org, case_id, key) DO UPDATE SET last = excluded.last",
        )
        .map_err(db)?;
    for (key, first, last) in &a.keys {
        keys.execute(params![a.org, a.id, key, first, last])
            .map_err(db)?;
    }
    if !a.outbox.is_empty() {
        let mut outbox = conn
            .prepare_cached(
                "INSERT INTO outbox (org, webhook, body, created_at, next_attempt)
                 VALUES (?1, ?2, ?3, ?4, ?4)",
            )
            .map_err(db)?;
        for message in &a.outbox {
            outbox
                .execute(params![a.org, message.webhook, message.body, a.recorded_at])
                .map_err(db)?;
        }
    }
    Ok(())
}

type Keys = std::collections::BTreeMap<String, (u64, u64)>;

/// The command idempotency keys of the cases from `(org, id)` `first` to `last`
/// (inclusive, in key order), by case: one query for a whole page of cases.
fn keys_between(
    conn: &Connection,
    first: (&str, &str),
    last: (&str, &str),
) -> Result<std::collections::HashMap<(String, String), Keys>, StoreError> {
    let mut s = conn
        .prepare_cached(
            "SELECT org, case_id, key, first, last FROM case_keys
             WHERE (org, case_id) >= (?1, ?2) AND (org, case_id) <= (?3, ?4)",
        )
        .map_err(db)?;
    let rows = s
        .query_map(params![first.0, first.1, last.0, last.1], |r| {
            Ok((
                (r.get::<_, String>(0)?, r.get::<_, String>(1)?),
                r.get::<_, String>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, i64>(4)?,
            ))
        })
        .map_err(db)?;
    let mut out: std::collections::HashMap<(String, String), Keys> = Default::default();
    for row in rows {
        let (case, key, first, last) = row.map_err(db)?;
        out.entry(case)
            .or_default()
            .insert(key, (first as u64, last as u64));
    }
    Ok(out)
}

const ROW_COLUMNS: &str = "id, policy_id, policy_hash, version, stage, queue, priority, assignee,
     closed, clock_state, received_at, updated_at, next_due, row";

fn case_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(CaseRow, i64, String)> {
    let clock: String = r.get(9)?;
    let at = |i: usize| -> rusqlite::Result<DateTime<Utc>> {
        let m: i64 = r.get(i)?;
        Ok(DateTime::from_timestamp_micros(m).unwrap_or_default())
    };
    let next_due: Option<i64> = r.get(12)?;
    Ok((
        CaseRow {
            id: r.get(0)?,
            policy: r.get(1)?,
            policy_hash: r.get(2)?,
            version: r.get::<_, i64>(3)? as u64,
            stage: r.get(4)?,
            queue: r.get(5)?,
            priority: r.get(6)?,
            assignee: r.get(7)?,
            closed: r.get(8)?,
            clock_state: ClockSummary::parse(&clock).unwrap_or(ClockSummary::None),
            received_at: at(10)?,
            updated_at: at(11)?,
            next_due: next_due.and_then(DateTime::from_timestamp_micros),
        },
        r.get(13)?,
        clock,
    ))
}

fn stored_case(
    snapshot: &str,
    policy_id: String,
    clock: &str,
    next_due: Option<i64>,
) -> Result<StoredCase, StoreError> {
    Ok(StoredCase {
        case: from_json::<Case>("case", snapshot)?,
        summary: Summary {
            policy_id,
            clock_state: ClockSummary::parse(clock).unwrap_or(ClockSummary::None),
            next_due: next_due.map(instant).transpose()?,
        },
    })
}

impl Store for SqliteStore {
    fn append(&self, append: Append) -> Receipt {
        match Prepared::new(append) {
            Ok(prepared) => self.submit(Box::new(move |conn| write_append(conn, &prepared))),
            Err(e) => {
                let (reply, receipt) = tokio::sync::oneshot::channel();
                let _ = reply.send(Err(e));
                receipt
            }
        }
    }

    fn save_policy_version(&self, org: &str, version: &PolicyVersion) -> Result<(), StoreError> {
        let sources = to_json("policy sources", &version.sources)?;
        let (org, v) = (org.to_string(), version.clone());
        self.write_now(Box::new(move |conn| {
            conn.execute(
                "INSERT OR IGNORE INTO policy_versions
                     (org, hash, policy_id, version, sources, saved_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    org,
                    v.hash,
                    v.policy_id,
                    v.version,
                    sources,
                    micros(Utc::now())
                ],
            )
            .map(|_| ())
            .map_err(db)
        }))
    }

    fn policy_version(&self, org: &str, hash: &str) -> Result<Option<PolicyVersion>, StoreError> {
        let row = self.read(|conn| {
            conn.query_row(
                "SELECT policy_id, version, sources FROM policy_versions
                 WHERE org = ?1 AND hash = ?2",
                params![org, hash],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                    ))
                },
            )
            .optional()
            .map_err(db)
        })?;
        row.map(|(policy_id, version, sources)| {
            Ok(PolicyVersion {
                hash: hash.to_string(),
                policy_id,
                version,
                sources: from_json("policy sources", &sources)?,
            })
        })
        .transpose()
    }

    fn case(&self, org: &str, id: &str) -> Result<Option<StoredCase>, StoreError> {
        self.read(|conn| {
            let row = conn
                .prepare_cached(
                    "SELECT snapshot, policy_id, clock_state, next_due FROM cases
                     WHERE org = ?1 AND id = ?2",
                )
                .and_then(|mut s| {
                    s.query_row(params![org, id], |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, String>(2)?,
                            r.get::<_, Option<i64>>(3)?,
                        ))
                    })
                    .optional()
                })
                .map_err(db)?;
            let Some((snapshot, policy, clock, due)) = row else {
                return Ok(None);
            };
            let mut stored = stored_case(&snapshot, policy, &clock, due)?;
            let mut keys = keys_between(conn, (org, id), (org, id))?;
            let key = (org.to_string(), id.to_string());
            stored.case.keys = std::sync::Arc::new(keys.remove(&key).unwrap_or_default());
            Ok(Some(stored))
        })
    }

    fn case_by_key(&self, org: &str, key: &str) -> Result<Option<String>, StoreError> {
        self.read(|conn| {
            conn.query_row(
                "SELECT case_id FROM intake_keys WHERE org = ?1 AND key = ?2",
                params![org, key],
                |r| r.get(0),
            )
            .optional()
            .map_err(db)
        })
    }

    fn events(
        &self,
        org: &str,
        id: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let rows: Vec<(String, i64)> = self.read(|conn| {
            let mut s = conn
                .prepare_cached(
                    "SELECT event, recorded_at FROM events
                     WHERE org = ?1 AND case_id = ?2 AND seq > ?3 ORDER BY seq LIMIT ?4",
                )
                .map_err(db)?;
            let rows = s
                .query_map(params![org, id, after as i64, limit as i64], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .map_err(db)?;
            rows.collect::<Result<_, _>>().map_err(db)
        })?;
        rows.into_iter()
            .map(|(json, recorded)| {
                Ok(StoredEvent {
                    event: from_json("event", &json)?,
                    recorded_at: instant(recorded)?,
                })
            })
            .collect()
    }

    fn list(
        &self,
        org: &str,
        filter: &CaseFilter,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page, StoreError> {
        let after: i64 = match after {
            None => 0,
            Some(cursor) => cursor.parse().map_err(|_| StoreError::Corrupt {
                what: "page cursor",
                detail: format!("`{cursor}` is not a cursor this store gave"),
            })?,
        };
        let clock = filter.clock_state.map(ClockSummary::as_str);
        let sql = format!(
            "SELECT {ROW_COLUMNS} FROM cases
             WHERE org = ?1 AND row > ?2
               AND (?3 IS NULL OR queue = ?3) AND (?4 IS NULL OR stage = ?4)
               AND (?5 IS NULL OR clock_state = ?5) AND (?6 IS NULL OR policy_id = ?6)
               AND (?7 IS NULL OR closed = ?7) AND (?8 IS NULL OR assignee = ?8)
             ORDER BY row LIMIT ?9"
        );
        let limit = limit.min(MAX_PAGE);
        let rows = self.read(|conn| {
            let mut s = conn.prepare_cached(&sql).map_err(db)?;
            let rows = s
                .query_map(
                    params![
                        org,
                        after,
                        filter.queue,
                        filter.stage,
                        clock,
                        filter.policy,
                        filter.closed,
                        filter.assignee,
                        limit as i64 + 1,
                    ],
                    case_row,
                )
                .map_err(db)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(db)
        })?;
        let more = rows.len() > limit;
        let mut page: Vec<(CaseRow, i64)> = rows
            .into_iter()
            .take(limit)
            .map(|(row, id, _)| (row, id))
            .collect();
        let next = match more {
            true => page.last().map(|(_, rowid)| rowid.to_string()),
            false => None,
        };
        Ok(Page {
            rows: page.drain(..).map(|(row, _)| row).collect(),
            next,
        })
    }

    fn due(&self, until: DateTime<Utc>, limit: usize) -> Result<Vec<Due>, StoreError> {
        let rows: Vec<(String, String, i64)> = self.read(|conn| {
            let mut s = conn
                .prepare_cached(
                    "SELECT org, id, next_due FROM cases
                     WHERE next_due IS NOT NULL AND next_due <= ?1
                     ORDER BY next_due LIMIT ?2",
                )
                .map_err(db)?;
            let rows = s
                .query_map(params![micros(until), limit as i64], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })
                .map_err(db)?;
            rows.collect::<Result<_, _>>().map_err(db)
        })?;
        rows.into_iter()
            .map(|(org, case, at)| {
                Ok(Due {
                    org,
                    case,
                    at: instant(at)?,
                })
            })
            .collect()
    }

    fn next_due(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.earliest("SELECT MIN(next_due) FROM cases WHERE next_due IS NOT NULL")
    }

    fn open_cases(
        &self,
        after: Option<(&str, &str)>,
        limit: usize,
    ) -> Result<Vec<(String, StoredCase)>, StoreError> {
        let (org, id) = after.unwrap_or(("", ""));
        type Row = (String, String, String, String, Option<i64>);
        self.read(|conn| {
            let mut s = conn
                .prepare_cached(
                    "SELECT org, snapshot, policy_id, clock_state, next_due FROM cases
                     WHERE closed = 0 AND (org, id) > (?1, ?2) ORDER BY org, id LIMIT ?3",
                )
                .map_err(db)?;
            let rows: Vec<Row> = s
                .query_map(params![org, id, limit as i64], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                })
                .map_err(db)?
                .collect::<Result<_, _>>()
                .map_err(db)?;
            let mut out = Vec::with_capacity(rows.len());
            for (org, snapshot, policy, clock, due) in rows {
                out.push((org, stored_case(&snapshot, policy, &clock, due)?));
            }
            let (Some((o1, c1)), Some((o2, c2))) = (out.first(), out.last()) else {
                return Ok(out);
            };
            let mut keys = keys_between(conn, (o1, &c1.case.id), (o2, &c2.case.id))?;
            for (org, stored) in &mut out {
                let key = (org.clone(), stored.case.id.clone());
                stored.case.keys = std::sync::Arc::new(keys.remove(&key).unwrap_or_default());
            }
            Ok(out)
        })
    }

    fn set_summary(
        &self,
        org: &str,
        id: &str,
        version: u64,
        summary: &Summary,
    ) -> Result<bool, StoreError> {
        let (org, id, s) = (org.to_string(), id.to_string(), summary.clone());
        let outcome = self.write_now(Box::new(move |conn| {
            let changed = conn
                .execute(
                    "UPDATE cases SET clock_state = ?3, next_due = ?4
                     WHERE org = ?1 AND id = ?2 AND version = ?5",
                    params![
                        org,
                        id,
                        s.clock_state.as_str(),
                        s.next_due.map(micros),
                        version as i64
                    ],
                )
                .map_err(db)?;
            match changed {
                0 => Err(StoreError::Conflict {
                    org,
                    case: id,
                    reason: Conflict::Version,
                }),
                _ => Ok(()),
            }
        }));
        match outcome {
            Ok(()) => Ok(true),
            Err(StoreError::Conflict { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn counts(&self) -> Result<Vec<CaseCount>, StoreError> {
        self.read(|conn| {
            let mut s = conn
                .prepare_cached(
                    "SELECT org, policy_id, stage, clock_state, COUNT(*) FROM cases
                     GROUP BY org, policy_id, stage, clock_state",
                )
                .map_err(db)?;
            let rows = s
                .query_map([], |r| {
                    let clock: String = r.get(3)?;
                    Ok(CaseCount {
                        org: r.get(0)?,
                        policy: r.get(1)?,
                        stage: r.get(2)?,
                        clock_state: ClockSummary::parse(&clock).unwrap_or(ClockSummary::None),
                        count: r.get::<_, i64>(4)? as u64,
                    })
                })
                .map_err(db)?;
            rows.collect::<Result<_, _>>().map_err(db)
        })
    }

    fn outbox_due(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<Pending>, StoreError> {
        self.read(|conn| {
            let mut s = conn
                .prepare_cached(
                    "SELECT id, org, webhook, body, attempts FROM outbox
                     WHERE next_attempt IS NOT NULL AND next_attempt <= ?1
                     ORDER BY next_attempt, id LIMIT ?2",
                )
                .map_err(db)?;
            let rows = s
                .query_map(params![micros(now), limit.min(MAX_PAGE) as i64], |r| {
                    Ok(Pending {
                        id: r.get(0)?,
                        org: r.get(1)?,
                        webhook: r.get(2)?,
                        body: r.get(3)?,
                        attempts: r.get(4)?,
                    })
                })
                .map_err(db)?;
            rows.collect::<Result<_, _>>().map_err(db)
        })
    }

    fn outbox_next(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.earliest("SELECT MIN(next_attempt) FROM outbox WHERE next_attempt IS NOT NULL")
    }

    fn outbox_attempted(
        &self,
        id: i64,
        delivered: bool,
        error: Option<String>,
        next_attempt: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        let now = micros(Utc::now());
        let next = next_attempt.map(micros);
        self.write_now(Box::new(move |conn| {
            conn.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ?2,
                     delivered_at = CASE WHEN ?3 THEN ?4 ELSE NULL END,
                     next_attempt = CASE WHEN ?3 THEN NULL ELSE ?5 END
                 WHERE id = ?1",
                params![id, error, delivered, now, next],
            )
            .map(|_| ())
            .map_err(db)
        }))
    }

    fn outbox_counts(&self) -> Result<OutboxCounts, StoreError> {
        self.read(|conn| {
            conn.query_row(
                "SELECT COUNT(*) FILTER (WHERE next_attempt IS NOT NULL),
                        COUNT(*) FILTER (WHERE next_attempt IS NULL AND delivered_at IS NULL)
                 FROM outbox",
                [],
                |r| {
                    Ok(OutboxCounts {
                        waiting: r.get::<_, i64>(0)? as u64,
                        dead: r.get::<_, i64>(1)? as u64,
                    })
                },
            )
            .map_err(db)
        })
    }

    fn case_count(&self, org: &str) -> Result<u64, StoreError> {
        self.read(|conn| {
            conn.query_row("SELECT COUNT(*) FROM cases WHERE org = ?1", [org], |r| {
                r.get::<_, i64>(0)
            })
            .map(|n| n as u64)
            .map_err(db)
        })
    }
}
