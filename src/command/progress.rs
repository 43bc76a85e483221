//! A progress line on standard error, drawn only when it is a terminal.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// A progress bar (with a known total) or counter.
pub struct Progress {
    label: &'static str,
    total: Option<u64>,
    shown: bool,
    last_draw: AtomicU64,
    started: Instant,
}

impl Progress {
    /// A progress line; drawn only when standard error is a terminal.
    pub fn new(label: &'static str, total: Option<u64>) -> Self {
        Progress {
            label,
            total,
            shown: std::io::stderr().is_terminal(),
            last_draw: AtomicU64::new(0),
            started: Instant::now(),
        }
    }

    /// Shows `done` items, at most ten times a second.
    pub fn set(&self, done: u64) {
        if !self.shown {
            return;
        }
        let now = self.started.elapsed().as_millis() as u64;
        if now.saturating_sub(self.last_draw.swap(now, Ordering::Relaxed)) < 100 && done > 0 {
            return;
        }
        let line = match self.total {
            Some(total) if total > 0 => {
                let filled = (done.min(total) * 30 / total) as usize;
                format!(
                    "{} [{}{}] {done}/{total}",
                    self.label,
                    "#".repeat(filled),
                    " ".repeat(30 - filled)
                )
            }
            _ => format!("{} {done}", self.label),
        };
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r{line}");
        let _ = err.flush();
    }

    /// Clears the line.
    pub fn finish(&self) {
        if self.shown {
            eprint!("\r{}\r", " ".repeat(70));
        }
    }
}
