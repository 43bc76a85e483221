//! The service core: runs commands and timers on stored cases through the engine's
//! `decide`/`apply`, one at a time per case, and writes the events durably before
//! answering. No business rule lives here: the engine decides, the store keeps.
//!
//! Each case in use has a slot: its last stored state, behind an async lock, so
//! that commands and timer firings on one case are serialised while different cases
//! run in parallel. A command first fires the case's timers that have fallen due
//! (so a late scheduler never lets a command overtake a deadline), then decides.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use redress_engine::case::{Actor, Event};
use redress_engine::policy::Policy;
use redress_engine::runtime::Data;
use redress_store::{Store, StoreError};
use tokio::sync::Notify;

use crate::clock::{Clock, SystemClock};
use crate::config::{Caller, Config};
use crate::metrics::Metrics;
use crate::registry::{Registry, stored_version};
pub use crate::slot::Slot;

mod commands;
mod error;
pub mod fingerprint;
mod intake;
mod migrate;
pub mod reports;
mod timers;
pub mod tracking;
mod write;

pub use error::ServiceError;
pub use write::{INDEX_FORMAT, index_stamp, summarize};

/// What a service call answers.
pub type ServiceResult<T> = Result<T, ServiceError>;

/// Slots kept in memory before idle ones are dropped.
const MAX_SLOTS: usize = 100_000;

type Shared = Arc<tokio::sync::Mutex<Option<Slot>>>;
type Locked = tokio::sync::OwnedMutexGuard<Option<Slot>>;

/// What a command or intake did.
pub struct Outcome {
    /// The case after it.
    pub slot: Slot,
    /// The events the command recorded (timers it fired first excluded).
    pub events: Vec<Event>,
    /// For a repeated idempotency key: the first and last version the first
    /// command produced.
    pub repeat_of: Option<(u64, u64)>,
    /// A new case was taken in (intake only).
    pub created: bool,
}

/// A complaint to take in.
#[derive(Debug, Clone)]
pub struct Intake {
    /// The policy's id.
    pub policy: String,
    /// Its fields.
    pub data: Data,
    /// When it was received; now when not given.
    pub received_at: Option<DateTime<Utc>>,
    /// The case id to use; one is assigned when not given.
    pub id: Option<String>,
}

/// The service.
pub struct Service {
    /// Where cases are kept.
    pub store: Arc<dyn Store>,
    /// The policies.
    pub registry: Registry,
    /// Tokens and organisations.
    pub config: Config,
    /// Metrics.
    pub metrics: Metrics,
    /// Woken when a write makes a timer due earlier than the scheduler planned.
    pub wake: Notify,
    /// When the scheduler plans to wake next, in microseconds since the epoch.
    pub planned_wake: AtomicI64,
    /// Woken when a write puts messages in the outbox.
    pub outbox_wake: Notify,
    /// The time (an input: virtual in tests).
    pub clock: Arc<dyn Clock>,
    /// This node's name among the nodes sharing the database, for its claims.
    pub node: String,
    /// Set once a stop began: new requests are answered 503.
    pub draining: AtomicBool,
    slots: Mutex<HashMap<(Arc<str>, String), Shared>>,
    numbers: tokio::sync::Mutex<HashMap<Arc<str>, u64>>,
}

fn actor(caller: &Caller) -> Actor {
    Actor {
        id: Some(caller.name.clone()),
        role: Some(caller.role.clone()),
    }
}

impl Service {
    /// A service over a store, policies and configuration.
    pub fn new(
        store: Arc<dyn Store>,
        registry: Registry,
        config: Config,
        metrics: Metrics,
    ) -> Self {
        Service {
            store,
            registry,
            config,
            metrics,
            wake: Notify::new(),
            planned_wake: AtomicI64::new(i64::MAX),
            outbox_wake: Notify::new(),
            clock: Arc::new(SystemClock),
            node: node_name(),
            draining: AtomicBool::new(false),
            slots: Mutex::new(HashMap::new()),
            numbers: tokio::sync::Mutex::new(HashMap::new()),
        }
    }

    /// The same service on another clock (a virtual one, in tests).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Now, by the service's clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Runs a blocking store read off the async runtime.
    pub async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn Store) -> Result<T, StoreError> + Send + 'static,
    ) -> ServiceResult<T> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || f(store.as_ref()))
            .await
            .map_err(ServiceError::internal)?
            .map_err(ServiceError::from)
    }

    /// Keeps the current version of each organisation's policies in the store, so
    /// that cases pinned to them survive a change of the files, and stamps the due
    /// index of each that no open case is pinned to yet (its cases will all be
    /// summarised by this build; see [`index_stamp`]).
    pub async fn save_policy_versions(&self) -> ServiceResult<()> {
        for org in &self.config.organisations {
            for policy in self.policies_of(&org.id) {
                let (org, version) = (org.id.clone(), stored_version(&policy));
                self.read(move |s| {
                    s.save_policy_version(&org, &version)?;
                    s.stamp_index(&org, &version.hash, &index_stamp(&version.hash), true)
                })
                .await?;
            }
        }
        Ok(())
    }

    /// Logs every calendar whose firm data ends within reach of `today` (the
    /// `calendar-data-ends` warning of `redress validate`) and sets the
    /// `calendar_data_end_timestamp_seconds` gauge of each; at start-up and reload.
    pub fn check_calendars(&self, today: chrono::NaiveDate) {
        for policy in self.registry.all_current() {
            for (name, calendar) in policy.calendars() {
                let end = calendar
                    .firm_until()
                    .and_then(|d| d.succ_opt())
                    .and_then(|d| calendar.start_of_day(d).ok());
                if let Some(end) = end {
                    self.metrics
                        .calendar_data_end
                        .with_label_values(&[policy.id(), name])
                        .set(end.timestamp());
                }
            }
            for w in policy.data_runs_out(today) {
                tracing::warn!(policy = policy.id(), code = "calendar-data-ends", "{w}");
            }
        }
    }

    /// The current policies an organisation runs.
    pub fn policies_of(&self, org: &str) -> Vec<Arc<Policy>> {
        self.registry.current_of(org)
    }

    /// The current version of one of the organisation's policies.
    pub fn policy_of(&self, org: &str, id: &str) -> ServiceResult<Arc<Policy>> {
        let policies = self.policies_of(org);
        if let Some(p) = policies.iter().find(|p| p.id() == id) {
            return Ok(p.clone());
        }
        if let Some(failure) = self.registry.refusal(org) {
            return Err(ServiceError::PoliciesNotLoaded {
                org: org.to_string(),
                files: failure.files,
            });
        }
        Err(ServiceError::UnknownPolicy {
            id: id.to_string(),
            known: policies.iter().map(|p| p.id().to_string()).collect(),
        })
    }

    /// The policy version a stored case is pinned to, loaded back from the store if
    /// it is no longer on disk.
    pub async fn pinned(&self, org: &str, hash: &str) -> ServiceResult<Arc<Policy>> {
        if let Some(policy) = self.registry.version(hash) {
            return Ok(policy);
        }
        let (o, h) = (org.to_string(), hash.to_string());
        let stored = self
            .read(move |s| s.policy_version(&o, &h))
            .await?
            .ok_or_else(|| {
                ServiceError::internal(format!("case pinned to unknown policy {hash}"))
            })?;
        self.registry
            .restore(&stored)
            .map_err(ServiceError::internal)
    }

    fn shared(&self, org: &Arc<str>, id: &str) -> Shared {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        if slots.len() > MAX_SLOTS {
            slots.retain(|_, s| Arc::strong_count(s) > 1);
        }
        let slot = slots
            .entry((org.clone(), id.to_string()))
            .or_insert_with(|| Arc::new(tokio::sync::Mutex::new(None)))
            .clone();
        self.metrics.cached_cases.set(slots.len() as i64);
        slot
    }

    fn forget(&self, org: &Arc<str>, id: &str) {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        slots.remove(&(org.clone(), id.to_string()));
    }

    /// Fills the slot from the store; `Ok(false)` when there is no such case.
    async fn load(&self, org: &Arc<str>, id: &str, slot: &mut Option<Slot>) -> ServiceResult<bool> {
        if slot.is_some() {
            return Ok(true);
        }
        let (o, i) = (org.to_string(), id.to_string());
        let Some(stored) = self.read(move |s| s.case(&o, &i)).await? else {
            return Ok(false);
        };
        let policy = self.pinned(org, &stored.case.policy).await?;
        *slot = Some(Slot {
            case: stored.case,
            policy,
            summary: stored.summary,
        });
        Ok(true)
    }

    /// A case's slot, locked and filled; `CaseNotFound` when the case does not
    /// exist in the organisation.
    async fn locked(&self, org: &Arc<str>, id: &str) -> ServiceResult<(Locked, Slot)> {
        let mut slot = self.shared(org, id).lock_owned().await;
        if !self.load(org, id, &mut slot).await? {
            drop(slot);
            self.forget(org, id);
            return Err(ServiceError::CaseNotFound(id.to_string()));
        }
        let current = slot
            .clone()
            .ok_or_else(|| ServiceError::CaseNotFound(id.to_string()))?;
        Ok((slot, current))
    }

    /// A case as stored now; `CaseNotFound` when it does not exist in the caller's
    /// organisation. When other nodes write the same database, read from the
    /// store, not from this node's memory.
    pub async fn get(&self, org: &Arc<str>, id: &str) -> ServiceResult<Slot> {
        self.forget_if_shared(org, id).await;
        Ok(self.locked(org, id).await?.1)
    }

    /// Drops this node's copy of a case when other nodes may have written it, so
    /// that the next use reads it from the store.
    async fn forget_if_shared(&self, org: &Arc<str>, id: &str) {
        if self.store.shared() {
            *self.shared(org, id).lock_owned().await = None;
        }
    }
}

/// A name for this node, unique among those sharing a database: the process
/// id and a random suffix.
fn node_name() -> String {
    let mut bytes = [0u8; 4];
    let _ = getrandom::fill(&mut bytes);
    let suffix: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("node-{}-{suffix}", std::process::id())
}

/// Whether a write lost the version race (another node, or a timer, wrote the
/// case first): the case is reloaded and the command decided again.
fn raced(error: &ServiceError) -> bool {
    matches!(
        error,
        ServiceError::Store(StoreError::Conflict {
            reason: redress_store::Conflict::Version,
            ..
        })
    )
}

fn read_only(caller: &Caller) -> ServiceError {
    ServiceError::ReadOnly {
        name: caller.name.clone(),
        role: caller.role.clone(),
    }
}

fn case_exists(id: &str) -> ServiceError {
    ServiceError::CaseExists(id.to_string())
}
