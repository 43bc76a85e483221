//! The service's clock, an input as the engine's `now` is: the system clock when
//! serving, a virtual one in tests, so that the scheduler and webhook delivery run
//! on virtual time instead of sleeping.

use chrono::{DateTime, SubsecRound, Utc};

/// Tells the time.
pub trait Clock: Send + Sync + 'static {
    /// Now.
    fn now(&self) -> DateTime<Utc>;
}

/// The system's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    /// To the microsecond: the grain the store keeps and the API shows
    /// (`redress_engine::instant`), so a case and its events read the same before
    /// and after they are stored.
    fn now(&self) -> DateTime<Utc> {
        Utc::now().trunc_subsecs(6)
    }
}

/// A clock that follows tokio's time from a fixed instant: under
/// `tokio::time::pause` (tests), every sleep moves it on at once, so the scheduler
/// and webhooks wait for virtual time, not real time.
#[derive(Debug, Clone, Copy)]
pub struct TokioClock {
    start: DateTime<Utc>,
    origin: tokio::time::Instant,
}

impl TokioClock {
    /// A clock that reads `start` now, and moves on with tokio's time.
    pub fn starting_at(start: DateTime<Utc>) -> Self {
        TokioClock {
            start,
            origin: tokio::time::Instant::now(),
        }
    }
}

impl Clock for TokioClock {
    fn now(&self) -> DateTime<Utc> {
        let elapsed = tokio::time::Instant::now() - self.origin;
        self.start + chrono::TimeDelta::from_std(elapsed).unwrap_or_default()
    }
}
