//! Progress on long work (replay, simulation), drawn with `indicatif` on standard
//! error only when it is a terminal; indicatif limits how often it redraws.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A progress bar (with a known total) or a counter (without one).
pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    /// A bar labelled `label`, hidden when standard error is not a terminal.
    pub fn new(label: &'static str, total: Option<u64>) -> Self {
        let template = match total {
            Some(_) => "{msg} [{bar:30}] {human_pos}/{human_len} ({per_sec}, {eta} left)",
            None => "{msg} {human_pos} ({per_sec})",
        };
        let style = ProgressStyle::with_template(template)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("#>-");
        let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::stderr())
            .with_style(style)
            .with_message(label);
        Progress { bar }
    }

    /// Shows that `done` items are done.
    pub fn set(&self, done: u64) {
        self.bar.set_position(done);
    }

    /// Clears the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
