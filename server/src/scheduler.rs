//! The scheduler: one loop that wakes for the earliest due instant in the store (a
//! warning, a breach, a delayed transition), fires every case due, and sleeps again.
//! It reads the store's due index, so what fell due while the service was down fires
//! when it comes back, earliest first, in batches; [`index`] checks at start-up that
//! the stored index is this build's, and rebuilds the parts that are not.

pub mod index;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use chrono::Utc;
use tokio::task::JoinSet;

use crate::service::Service;

/// Cases fired together, at most; their writes share group commits.
const BATCH: usize = 256;

/// The longest the loop sleeps without looking at the store.
const MAX_SLEEP: Duration = Duration::from_secs(60);

/// Fires due timers until the service stops.
pub async fn run(service: Arc<Service>) {
    loop {
        let now = Utc::now();
        let due = match service.read(move |s| s.due(now, BATCH)).await {
            Ok(due) => due,
            Err(error) => {
                tracing::error!(%error, "scheduler cannot read the store");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if !due.is_empty() {
            let mut batch = JoinSet::new();
            for d in due {
                let service = service.clone();
                batch.spawn(async move {
                    let org: Arc<str> = Arc::from(d.org.as_str());
                    if let Err(error) = service.fire(&org, &d.case).await {
                        tracing::error!(
                            org = d.org,
                            case = d.case,
                            %error,
                            "timer firing failed"
                        );
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                });
            }
            while batch.join_next().await.is_some() {}
            continue;
        }
        let next = service.read(|s| s.next_due()).await.ok().flatten();
        let wait = next
            .map(|at| (at - Utc::now()).to_std().unwrap_or(Duration::ZERO))
            .unwrap_or(MAX_SLEEP)
            .min(MAX_SLEEP);
        let planned = next.map_or(i64::MAX, |at| at.timestamp_micros());
        service.planned_wake.store(planned, Ordering::Relaxed);
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = service.wake.notified() => {}
        }
    }
}
