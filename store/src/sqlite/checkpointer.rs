//! The checkpointer thread: copies the write-ahead log back into the database off
//! the commit path, and keeps the log's file bounded.
//!
//! A passive checkpoint never blocks the writer, but under sustained writes it never
//! catches up with the end of the log either, so the log never starts over and its
//! file grows without limit. So, every [`CHECKPOINT_EVERY`]: a passive checkpoint
//! (which copies almost everything back while the writer keeps committing), then,
//! when the log file is past [`TRUNCATE_AT`] or everything in it is already copied
//! back (the writer is idle), a `TRUNCATE` checkpoint. That one waits for the
//! writer's current commit, copies the few frames written since the passive one, and
//! truncates the file, so it holds the writer up for milliseconds, not for the
//! whole log. The writer's `journal_size_limit` trims the file too should a
//! truncation ever be refused (a long read in the way).
//!
//! Under sustained writes the writer holds the write lock almost all the time, so a
//! `TRUNCATE` from this thread, waiting its turn for the lock, could wait seconds
//! while the log grew by hundreds of megabytes (measured: 2.4 s and 4.6 s waits, a
//! 0.9 GB log). So this thread tries it without waiting, and when the lock is taken
//! asks the writer ([`WalStats::truncate_wanted`]), which runs it between two
//! commits, holding the lock already.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;

use rusqlite::Connection;

/// How often the write-ahead log is copied back into the database.
pub(super) const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(250);

/// A log file larger than this is truncated by a blocking checkpoint.
pub(super) const TRUNCATE_AT: u64 = 64 * 1024 * 1024;

/// What the checkpointer has seen, for metrics.
#[derive(Debug, Default)]
pub(super) struct WalStats {
    /// Checkpoints that truncated the log.
    pub(super) truncations: AtomicU64,
    /// The log should be truncated and this thread could not take the lock: the
    /// writer does it after its next commit ([`truncate_in_writer`]).
    pub(super) truncate_wanted: AtomicBool,
}

/// How long a truncating checkpoint waits for readers to move to the newest
/// snapshot (reads take milliseconds); past it, it is tried again later.
pub(super) const TRUNCATE_WAIT: std::time::Duration = std::time::Duration::from_millis(5);

/// Run by the writer between commits when asked: truncates the log while holding
/// the write lock, waiting at most [`TRUNCATE_WAIT`] for readers.
pub(super) fn truncate_in_writer(conn: &Connection, stats: &WalStats) {
    if !stats.truncate_wanted.swap(false, Ordering::Relaxed) {
        return;
    }
    let _ = conn.busy_timeout(TRUNCATE_WAIT);
    // With readers in the way it fails, and the checkpointer asks again.
    if let Some((false, _, _)) = checkpoint(conn, "TRUNCATE") {
        stats.truncations.fetch_add(1, Ordering::Relaxed);
    }
    let _ = conn.busy_timeout(super::BUSY_TIMEOUT);
}

/// The outcome of `PRAGMA wal_checkpoint`: whether it was kept from finishing, the
/// frames in the log, and the frames copied back.
fn checkpoint(conn: &Connection, mode: &str) -> Option<(bool, i64, i64)> {
    let sql = format!("PRAGMA wal_checkpoint({mode})");
    match conn.query_row(&sql, [], |r| {
        Ok((r.get::<_, i64>(0)? != 0, r.get(1)?, r.get(2)?))
    }) {
        Ok(outcome) => Some(outcome),
        Err(e) => {
            tracing::warn!(error = %e, mode, "checkpoint failed");
            None
        }
    }
}

/// Copies the write-ahead log back into the database in the background until told
/// to stop, then truncates it once more.
pub(super) fn run_checkpoints(
    conn: Connection,
    wal: PathBuf,
    stats: Arc<WalStats>,
    stop: mpsc::Receiver<()>,
) {
    let size = || std::fs::metadata(&wal).map_or(0, |m| m.len());
    let truncate = || match checkpoint(&conn, "TRUNCATE") {
        Some((false, _, _)) => {
            stats.truncations.fetch_add(1, Ordering::Relaxed);
        }
        // The writer holds the lock (or a reader is in the way): once the file is
        // past the limit, let the writer do it between commits (below it, the
        // next interval tries again, sparing the writer the pause).
        _ if size() > TRUNCATE_AT => stats.truncate_wanted.store(true, Ordering::Relaxed),
        _ => {}
    };
    while let Err(mpsc::RecvTimeoutError::Timeout) = stop.recv_timeout(CHECKPOINT_EVERY) {
        let passive = checkpoint(&conn, "PASSIVE");
        let caught_up = passive.is_some_and(|(busy, log, done)| !busy && log > 0 && log == done);
        if caught_up || size() > TRUNCATE_AT {
            truncate();
        }
    }
    truncate();
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use rusqlite::Connection;

    use super::{WalStats, truncate_in_writer};

    /// A database in WAL mode without automatic checkpoints, its log grown by some
    /// writes, and the log's path.
    fn grown_log() -> (tempfile::TempDir, Connection, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.db");
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        conn.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
        conn.execute_batch("CREATE TABLE t (v BLOB)").unwrap();
        for _ in 0..50 {
            conn.execute("INSERT INTO t VALUES (zeroblob(8192))", [])
                .unwrap();
        }
        let wal = dir.path().join("log.db-wal");
        assert!(std::fs::metadata(&wal).unwrap().len() > 400_000);
        (dir, conn, wal)
    }

    fn size(wal: &std::path::Path) -> u64 {
        std::fs::metadata(wal).unwrap().len()
    }

    /// Asked by the checkpointer, the writer truncates the log between commits and
    /// counts it; not asked, it leaves the log alone (a commit pays no checkpoint).
    #[test]
    fn the_writer_truncates_the_log_when_asked_and_only_then() {
        let (_dir, conn, wal) = grown_log();
        let stats = WalStats::default();
        let before = size(&wal);
        truncate_in_writer(&conn, &stats);
        assert_eq!(size(&wal), before);
        assert_eq!(stats.truncations.load(Ordering::Relaxed), 0);

        stats.truncate_wanted.store(true, Ordering::Relaxed);
        truncate_in_writer(&conn, &stats);
        assert_eq!(size(&wal), 0);
        assert_eq!(stats.truncations.load(Ordering::Relaxed), 1);
        assert!(!stats.truncate_wanted.load(Ordering::Relaxed));
        let rows: i64 = conn
            .query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 50, "the truncated log's frames are in the database");
    }

    /// A reader in the way keeps the log from being truncated: the writer gives up
    /// without counting a truncation; once the reader is gone, the next request
    /// truncates.
    #[test]
    fn a_reader_in_the_way_makes_the_writer_give_up_until_the_next_request() {
        let (dir, conn, wal) = grown_log();
        let reader = Connection::open(dir.path().join("log.db")).unwrap();
        reader.execute_batch("BEGIN").unwrap();
        let _: i64 = reader
            .query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))
            .unwrap();
        conn.execute("INSERT INTO t VALUES (zeroblob(8192))", [])
            .unwrap();
        let stats = WalStats::default();
        stats.truncate_wanted.store(true, Ordering::Relaxed);
        truncate_in_writer(&conn, &stats);
        assert!(size(&wal) > 0);
        assert_eq!(stats.truncations.load(Ordering::Relaxed), 0);

        reader.execute_batch("COMMIT").unwrap();
        stats.truncate_wanted.store(true, Ordering::Relaxed);
        truncate_in_writer(&conn, &stats);
        assert_eq!(size(&wal), 0);
        assert_eq!(stats.truncations.load(Ordering::Relaxed), 1);
    }
}
