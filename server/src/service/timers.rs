//! Timers: firing a case's due timers for the scheduler, and counting how late each
//! fired.

use std::sync::Arc;

use redress_engine::case::EventKind;
use redress_engine::runtime::{Fired, Timer, fire_due};

use super::write::Keyed;
use super::{Service, ServiceError, ServiceResult, Slot, raced, summarize};

fn timer_kind(timer: &Timer) -> &'static str {
    match timer {
        Timer::Warning { .. } => "warning",
        Timer::Breach { .. } => "breach",
        Timer::After { .. } => "after",
    }
}

impl Service {
    /// Counts the timers fired; `by_scheduler` also records how late each fired
    /// (timers a backdated intake or a command fires on the spot are not the
    /// scheduler's lateness).
    pub(super) fn observe(&self, fired: &Fired, org: &str, id: &str, by_scheduler: bool) {
        let now = self.now();
        for (at, timer) in &fired.timers {
            if by_scheduler {
                let lag = (now - *at).as_seconds_f64().max(0.0);
                self.metrics.timer_lag.observe(lag);
                self.metrics.timer_lag_last.set(lag);
            }
            self.metrics
                .timers
                .with_label_values(&[timer_kind(timer)])
                .inc();
        }
        for event in &fired.events {
            if let EventKind::TimerFailed { timer, error, .. } = &event.kind {
                tracing::warn!(
                    org,
                    case = id,
                    timer,
                    error,
                    "a due timer's condition failed; recorded on the case"
                );
                self.metrics.timers_failed.with_label_values(&[org]).inc();
            }
        }
        if let Some((timer, refusal)) = &fired.stuck {
            tracing::error!(org, case = id, %timer, %refusal, "a due timer cannot fire");
            self.metrics.timers_failed.with_label_values(&[org]).inc();
        }
    }

    /// Fires a case's due timers (the scheduler's job); returns how many fired. A
    /// case whose stored due instant was stale gets it corrected. A write that lost
    /// the version race (another node fired them, or a command did) reloads the
    /// case and fires what is still due, once.
    pub async fn fire(&self, org: &Arc<str>, id: &str) -> ServiceResult<usize> {
        match self.fire_once(org, id).await {
            Err(e) if raced(&e) => self.fire_once(org, id).await,
            other => other,
        }
    }

    async fn fire_once(&self, org: &Arc<str>, id: &str) -> ServiceResult<usize> {
        // The case was claimed because the store says it is due: look at it there.
        self.forget_if_shared(org, id).await;
        let (mut slot, current) = match self.locked(org, id).await {
            Ok(locked) => locked,
            Err(ServiceError::CaseNotFound(_)) => return Ok(0),
            Err(e) => return Err(e),
        };
        let now = self.now().max(current.case.updated_at);
        let mut case = current.case.clone();
        let fired = fire_due(&current.policy, &mut case, now);
        self.observe(&fired, org, id, true);
        let stuck = fired.stuck.is_some();
        let count = fired.timers.len();
        if fired.events.is_empty() {
            let summary = summarize(&current.policy, &case, now, stuck);
            if summary != current.summary {
                let (o, i, v, s) = (
                    org.to_string(),
                    id.to_string(),
                    case.version,
                    summary.clone(),
                );
                if self.read(move |st| st.set_summary(&o, &i, v, &s)).await?
                    && let Some(slot) = slot.as_mut()
                {
                    slot.summary = summary;
                }
            }
            return Ok(0);
        }
        match self
            .commit(
                org,
                &current.policy,
                &case,
                fired.events,
                Keyed::default(),
                stuck,
            )
            .await
        {
            Ok(summary) => {
                let closed = case.closed;
                *slot = Some(Slot {
                    case,
                    policy: current.policy.clone(),
                    summary,
                });
                if closed {
                    drop(slot);
                    self.forget(org, id);
                }
                Ok(count)
            }
            Err(e) => {
                *slot = None;
                Err(e.into())
            }
        }
    }
}
