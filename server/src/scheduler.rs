//! The scheduler: one loop that wakes for the earliest due instant in the store (a
//! warning, a breach, a delayed transition), fires every case due, and sleeps again.
//! The store's due index is rebuilt from the cases at start-up, so what fell due
//! while the service was down fires when it comes back, earliest first, in batches.
//!
//! Several nodes on one database: each batch is claimed for this node under a
//! lease (`FOR UPDATE SKIP LOCKED` on PostgreSQL), so each due case is fired by one
//! node; a node that dies holding a batch delays it until its lease ends, when
//! another takes it. The store's version check makes a timer that two nodes fire
//! anyway (a command on another node fires what is due too) land once. A write
//! that sets an earlier due instant wakes the other nodes (LISTEN/NOTIFY).
//!
//! The clock is the service's (an input): the loop's waits are computed from it,
//! and never shorter than a minimum re-check interval, as Zeebe's `DueDateChecker`,
//! so a case that cannot be claimed yet is not asked for in a busy loop.
//!
//! It reads the store's due index, so what fell due while the service was down fires
//! when it comes back; [`index`] checks at start-up that the stored index is this
//! build's, and rebuilds the parts that are not, in the background.

pub mod index;

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Duration;

use redress_store::Lease;
use tokio::task::JoinSet;

use crate::service::Service;

/// Cases fired together, at most; their writes share group commits.
const BATCH: usize = 256;

/// The longest the loop sleeps without looking at the store.
const MAX_SLEEP: Duration = Duration::from_secs(60);

/// The shortest wait between two looks at the store that found nothing to claim.
pub const MIN_RECHECK: Duration = Duration::from_millis(50);

/// Fires due timers until the service stops.
pub async fn run(service: Arc<Service>) {
    let weak: Weak<Service> = Arc::downgrade(&service);
    let listening = service
        .read(move |s| {
            s.listen_due(Box::new(move || {
                if let Some(service) = weak.upgrade() {
                    service.wake.notify_one();
                }
            }))
        })
        .await;
    if let Err(error) = listening {
        tracing::error!(%error, "cannot listen for other nodes' timers");
    }
    loop {
        let now = service.now();
        let lease = Lease {
            node: service.node.clone(),
            now,
            until: now + service.config.lease,
        };
        let due = match service.read(move |s| s.claim_due(&lease, BATCH)).await {
            Ok(due) => due,
            Err(error) => {
                tracing::error!(%error, "scheduler cannot read the store");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if !due.is_empty() {
            tracing::debug!(claimed = due.len(), node = service.node, "firing due cases");
            fire_batch(&service, due).await;
            continue;
        }
        let next = service.read(|s| s.next_due()).await.ok().flatten();
        let wait = next
            .map(|at| (at - service.now()).to_std().unwrap_or(Duration::ZERO))
            .unwrap_or(MAX_SLEEP)
            .clamp(MIN_RECHECK, MAX_SLEEP);
        let planned = next.map_or(i64::MAX, |at| at.timestamp_micros());
        service.planned_wake.store(planned, Ordering::Relaxed);
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = service.wake.notified() => {}
        }
    }
}

/// Fires each claimed case, all at once (their writes share commits).
async fn fire_batch(service: &Arc<Service>, due: Vec<redress_store::Due>) {
    let mut batch = JoinSet::new();
    for d in due {
        let service = service.clone();
        batch.spawn(async move {
            let org: Arc<str> = Arc::from(d.org.as_str());
            if let Err(error) = service.fire(&org, &d.case).await {
                tracing::error!(org = d.org, case = d.case, %error, "timer firing failed");
            }
        });
    }
    while batch.join_next().await.is_some() {}
}

#[cfg(test)]
mod tests {
    //! The scheduler on virtual time: tokio's clock paused, the service's clock
    //! following it, so a minute of deadlines passes in no time at all.
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use std::path::Path;

    use chrono::{DateTime, TimeDelta, Utc};
    use redress_store::SqliteStore;
    use serde_json::json;

    use super::*;
    use crate::clock::TokioClock;
    use crate::config::Config;
    use crate::metrics::Metrics;
    use crate::registry::Registry;
    use crate::service::Intake;

    const CONFIG: &str = r#"
[[organisations]]
id = "bank"
policies = ["quick"]

[[tokens]]
name = "ann"
organisation = "bank"
role = "agent"
token = "agent-token-0000001"
"#;

    fn start() -> DateTime<Utc> {
        "2026-03-02T09:00:00Z".parse().unwrap()
    }

    /// A service on a fresh SQLite file with the end-to-end tests' `quick` policy
    /// (a one-minute clock, warned at 30 s, escalated at its breach).
    fn service(dir: &Path) -> Arc<Service> {
        let policies = dir.join("policies");
        std::fs::create_dir_all(&policies).unwrap();
        let quick = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/serve/quick.toml");
        std::fs::copy(quick, policies.join("quick.toml")).unwrap();
        let config = Config::parse(CONFIG).unwrap();
        let registry = Registry::load(&policies, &config.organisations)
            .unwrap_or_else(|f| panic!("{}", f.human));
        let store = Arc::new(SqliteStore::open(dir.join("cases.db")).unwrap());
        let service = Service::new(store, registry, config, Metrics::new().unwrap());
        Arc::new(service.with_clock(Arc::new(TokioClock::starting_at(start()))))
    }

    /// The timer events of a case, with their due instants.
    async fn timers(service: &Service, id: &str) -> Vec<(String, DateTime<Utc>)> {
        let id = id.to_string();
        let events = service
            .read(move |s| s.events("bank", &id, 0, 100))
            .await
            .unwrap();
        events
            .into_iter()
            .map(|e| (e.event.kind.type_name().to_string(), e.event.at))
            .filter(|(kind, _)| matches!(kind.as_str(), "warned" | "breached"))
            .collect()
    }

    /// Files a `quick` complaint received now; returns its id. On a blocking
    /// thread, which keeps tokio's paused clock from jumping ahead while the
    /// store's writer thread commits (real time, not tokio's).
    async fn file(service: &Arc<Service>) -> String {
        let service = service.clone();
        tokio::task::spawn_blocking(move || {
            let caller = service
                .config
                .caller("agent-token-0000001")
                .unwrap()
                .clone();
            let data = json!({"category": "fees", "amount": "120.50"});
            let intake = Intake {
                policy: "quick".into(),
                data: data.as_object().unwrap().clone(),
                received_at: None,
                id: None,
            };
            let filed =
                tokio::runtime::Handle::current().block_on(service.intake(&caller, intake, None));
            filed.unwrap().slot.case.id
        })
        .await
        .unwrap()
    }

    /// Waits on virtual time until `check` holds or `until` (virtual) passes.
    async fn until<F: std::future::Future<Output = bool>>(
        service: &Service,
        until: DateTime<Utc>,
        mut check: impl FnMut() -> F,
    ) -> bool {
        while service.now() < until {
            if check().await {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        check().await
    }

    #[tokio::test(start_paused = true)]
    async fn timers_fire_once_at_their_due_instants_on_virtual_time() {
        let dir = tempfile::tempdir().unwrap();
        let service = service(dir.path());
        let id = file(&service).await;
        tokio::spawn(run(service.clone()));

        tokio::time::sleep(Duration::from_secs(29)).await;
        assert_eq!(
            timers(&service, &id).await,
            [],
            "nothing is due before 30 s"
        );
        let warning = start() + TimeDelta::seconds(30);
        let warned = until(&service, start() + TimeDelta::seconds(50), || async {
            !timers(&service, &id).await.is_empty()
        });
        assert!(warned.await, "no warning by 50 s");
        assert_eq!(
            timers(&service, &id).await,
            [("warned".to_string(), warning)]
        );

        let breach = start() + TimeDelta::seconds(60);
        let breached = until(&service, start() + TimeDelta::seconds(90), || async {
            timers(&service, &id).await.len() == 2
        });
        assert!(breached.await, "no breach by 90 s");
        tokio::time::sleep(Duration::from_secs(600)).await;
        assert_eq!(
            timers(&service, &id).await,
            [
                ("warned".to_string(), warning),
                ("breached".to_string(), breach)
            ],
            "each timer fired once, at its due instant"
        );
        let case = service.get(&Arc::from("bank"), &id).await.unwrap();
        assert_eq!(case.case.queue.as_deref(), Some("escalations"));
    }

    /// A write that sets a case due earlier than the scheduler planned to look
    /// wakes it: with nothing else due, the scheduler sleeps its longest (60 s), yet
    /// a new case's warning fires at its 30 s.
    #[tokio::test(start_paused = true)]
    async fn a_write_due_earlier_than_planned_wakes_the_scheduler() {
        let dir = tempfile::tempdir().unwrap();
        let service = service(dir.path());
        tokio::spawn(run(service.clone()));
        tokio::time::sleep(Duration::from_secs(5)).await; // asleep, nothing due
        let filed = service.now();
        let id = file(&service).await;
        let warned = until(&service, filed + TimeDelta::seconds(40), || async {
            !timers(&service, &id).await.is_empty()
        });
        assert!(
            warned.await,
            "the warning waited for the scheduler's longest sleep"
        );
        let fired = timers(&service, &id).await;
        assert_eq!(fired[0].1, filed + TimeDelta::seconds(30));
    }
}
