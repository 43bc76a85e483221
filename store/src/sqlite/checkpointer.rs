//! The checkpointer thread: copies the write-ahead log back into the database off
//! the commit path.

use std::sync::mpsc;

use rusqlite::Connection;

/// How often the write-ahead log is copied back into the database.
pub(super) const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(500);

/// Copies the write-ahead log back into the database in the background (a passive
/// checkpoint never blocks the writer), and once more when the store
/// closes.
pub(super) fn run_checkpoints(conn: Connection, stop: mpsc::Receiver<()>) {
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
