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

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
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
    let truncate = || {
        if let Some((false, _, _)) = checkpoint(&conn, "TRUNCATE") {
            stats.truncations.fetch_add(1, Ordering::Relaxed);
        }
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
