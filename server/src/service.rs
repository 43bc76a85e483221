//! The service core: runs commands and timers on stored cases through the engine's
//! `decide`/`apply`, one at a time per case, and writes the events durably before
//! answering. No business rule lives here: the engine decides, the store keeps.
//!
//! Each case in use has a slot: its last stored state, behind an async lock, so
//! that commands and timer firings on one case are serialised while different cases
//! run in parallel. A command first fires the case's timers that have fallen due
//! (so a late scheduler never lets a command overtake a deadline), then decides.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use redress_engine::case::{Actor, Case, Event, EventKind};
use redress_engine::policy::Policy;
use redress_engine::runtime::{
    Command, CommandKind, Data, Fired, Refusal, Timer, decide_and_apply, fire_due, next_due,
};
use redress_engine::sla::{Attention, ClockState};
use redress_store::{Append, ClockSummary, Conflict, Message, Store, StoreError, Summary};
use tokio::sync::Notify;

use crate::config::{Caller, Config};
use crate::metrics::Metrics;
use crate::problem::Problem;
use crate::registry::{Registry, stored_version};

/// Slots kept in memory before idle ones are dropped.
const MAX_SLOTS: usize = 100_000;

/// A case as last stored, with its policy version and summary.
#[derive(Clone)]
pub struct Slot {
    /// The case.
    pub case: Case,
    /// The policy version it is pinned to.
    pub policy: Arc<Policy>,
    /// Its summary as stored.
    pub summary: Summary,
}

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
    slots: Mutex<HashMap<(Arc<str>, String), Shared>>,
    numbers: tokio::sync::Mutex<HashMap<Arc<str>, u64>>,
}

/// The summary of a case for the store: policy, worst clock state, next due.
pub fn summarize(policy: &Policy, case: &Case, now: DateTime<Utc>, stuck: bool) -> Summary {
    let mut worst = ClockSummary::None;
    for (name, clock) in case.clocks.iter() {
        let Some(sla) = policy.slas().get(name) else {
            continue;
        };
        let calendar = policy.calendar_of(sla);
        let warned = clock
            .runs()
            .last()
            .is_some_and(|r| r.fired.iter().any(|a| matches!(a, Attention::Warning(_))));
        let state = match clock.state(&sla.rule, calendar, now) {
            Ok(ClockState::Breached) => ClockSummary::Breached,
            Ok(ClockState::Running) if warned => ClockSummary::AtRisk,
            Ok(ClockState::Running) => ClockSummary::Running,
            Ok(ClockState::Paused) => ClockSummary::Paused,
            _ => ClockSummary::None,
        };
        worst = worst.max(state);
    }
    Summary {
        policy_id: policy.id().to_string(),
        clock_state: worst,
        next_due: match stuck {
            true => None,
            false => next_due(case, policy).map(|(at, _)| at),
        },
    }
}

fn actor(caller: &Caller) -> Actor {
    Actor {
        id: Some(caller.name.clone()),
        role: Some(caller.role.clone()),
    }
}

fn timer_kind(timer: &Timer) -> &'static str {
    match timer {
        Timer::Warning { .. } => "warning",
        Timer::Breach { .. } => "breach",
        Timer::After { .. } => "after",
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
            slots: Mutex::new(HashMap::new()),
            numbers: tokio::sync::Mutex::new(HashMap::new()),
        }
    }

    /// Runs a blocking store read off the async runtime.
    pub async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, Problem> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || f(store.as_ref()))
            .await
            .map_err(Problem::internal)?
            .map_err(Problem::from)
    }

    /// Keeps the current version of each organisation's policies in the store, so
    /// that cases pinned to them survive a change of the files.
    pub async fn save_policy_versions(&self) -> Result<(), Problem> {
        for org in &self.config.organisations {
            for policy in self.policies_of(&org.id) {
                let (org, version) = (org.id.clone(), stored_version(&policy));
                self.read(move |s| s.save_policy_version(&org, &version))
                    .await?;
            }
        }
        Ok(())
    }

    /// The current policies an organisation runs.
    pub fn policies_of(&self, org: &str) -> Vec<Arc<Policy>> {
        let Some(config) = self.config.organisation(org) else {
            return Vec::new();
        };
        self.registry
            .all_current()
            .into_iter()
            .filter(|p| {
                config
                    .policies
                    .as_ref()
                    .is_none_or(|ids| ids.iter().any(|id| id == p.id()))
            })
            .collect()
    }

    /// The current version of one of the organisation's policies; 404 otherwise.
    pub fn policy_of(&self, org: &str, id: &str) -> Result<Arc<Policy>, Problem> {
        let policies = self.policies_of(org);
        if let Some(p) = policies.iter().find(|p| p.id() == id) {
            return Ok(p.clone());
        }
        let known: Vec<&str> = policies.iter().map(|p| p.id()).collect();
        Err(Problem::new(
            StatusCode::NOT_FOUND,
            "unknown-policy",
            "No such policy",
            format!("there is no policy `{id}`; known: {}", known.join(", ")),
        )
        .with("known", serde_json::json!(known)))
    }

    /// The policy version a stored case is pinned to, loaded back from the store if
    /// it is no longer on disk.
    pub async fn pinned(&self, org: &str, hash: &str) -> Result<Arc<Policy>, Problem> {
        if let Some(policy) = self.registry.version(hash) {
            return Ok(policy);
        }
        let (o, h) = (org.to_string(), hash.to_string());
        let stored = self
            .read(move |s| s.policy_version(&o, &h))
            .await?
            .ok_or_else(|| Problem::internal(format!("case pinned to unknown policy {hash}")))?;
        self.registry.restore(&stored).map_err(Problem::internal)
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
    async fn load(
        &self,
        org: &Arc<str>,
        id: &str,
        slot: &mut Option<Slot>,
    ) -> Result<bool, Problem> {
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

    /// A case's slot, locked and filled; 404 when the case does not exist in the
    /// organisation.
    async fn locked(&self, org: &Arc<str>, id: &str) -> Result<(Locked, Slot), Problem> {
        let mut slot = self.shared(org, id).lock_owned().await;
        if !self.load(org, id, &mut slot).await? {
            drop(slot);
            self.forget(org, id);
            return Err(Problem::case_not_found(id));
        }
        let current = slot.clone().ok_or_else(|| Problem::case_not_found(id))?;
        Ok((slot, current))
    }

    /// A case as stored now; 404 when it does not exist in the caller's organisation.
    pub async fn get(&self, org: &Arc<str>, id: &str) -> Result<Slot, Problem> {
        Ok(self.locked(org, id).await?.1)
    }

    /// Writes events and the case after them, durably; keeps count of what they did.
    async fn commit(
        &self,
        org: &Arc<str>,
        policy: &Policy,
        case: &Case,
        events: Vec<Event>,
        intake_key: Option<String>,
        stuck: bool,
    ) -> Result<Summary, StoreError> {
        let now = Utc::now();
        let summary = summarize(policy, case, now, stuck);
        let breaches: Vec<String> = events
            .iter()
            .filter_map(|e| match &e.kind {
                EventKind::Breached { sla, .. } => Some(sla.clone()),
                _ => None,
            })
            .collect();
        let count = events.len() as u64;
        let outbox = self.messages(org, policy, &case.id, &events);
        let has_messages = !outbox.is_empty();
        let append = Append {
            org: org.to_string(),
            case: case.clone(),
            summary: summary.clone(),
            events,
            intake_key,
            recorded_at: now,
            outbox,
        };
        let started = Instant::now();
        let written = self
            .store
            .append(append)
            .await
            .unwrap_or(Err(StoreError::Closed));
        self.metrics
            .store_write
            .observe(started.elapsed().as_secs_f64());
        if let Err(StoreError::Conflict { .. }) = &written {
            self.metrics.conflicts.with_label_values(&[org]).inc();
        }
        written?;
        if has_messages {
            self.outbox_wake.notify_one();
        }
        self.metrics.events.with_label_values(&[org]).inc_by(count);
        for sla in breaches {
            self.metrics
                .breaches
                .with_label_values(&[org, policy.id(), &sla])
                .inc();
        }
        if let Some(due) = summary.next_due
            && due.timestamp_micros() < self.planned_wake.load(Ordering::Relaxed)
        {
            self.wake.notify_one();
        }
        Ok(summary)
    }

    /// Counts the timers fired; `by_scheduler` also records how late each fired
    /// (timers a backdated intake or a command fires on the spot are not the
    /// scheduler's lateness).
    /// The webhook messages for events just decided: one per event of a type each
    /// of the organisation's webhooks receives, personal fields masked unless the
    /// webhook may see them.
    fn messages(&self, org: &str, policy: &Policy, case: &str, events: &[Event]) -> Vec<Message> {
        let mut out = Vec::new();
        for hook in self.config.webhooks.iter().filter(|w| w.org == org) {
            let reader = Caller {
                name: hook.name.clone(),
                org: Arc::from(org),
                role: "webhook".into(),
                read_only: true,
                personal_data: hook.personal_data,
                reload_policies: false,
            };
            let wanted = events
                .iter()
                .filter(|e| hook.events.iter().any(|t| t == e.kind.type_name()));
            for event in wanted {
                let body = serde_json::json!({
                    "webhook": hook.name,
                    "organisation": org,
                    "case": case,
                    "policy": { "id": policy.id(), "hash": policy.hash() },
                    "event": crate::view::event(policy, event, &reader),
                });
                out.push(Message {
                    webhook: hook.name.clone(),
                    body: body.to_string(),
                });
            }
        }
        out
    }

    fn observe(&self, fired: &Fired, org: &str, id: &str, by_scheduler: bool) {
        let now = Utc::now();
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
        if let Some((timer, refusal)) = &fired.stuck {
            tracing::error!(org, case = id, %timer, %refusal, "a due timer cannot fire");
        }
    }

    /// The next case number of an organisation, from its count of cases.
    async fn next_id(&self, org: &Arc<str>) -> Result<String, Problem> {
        let mut numbers = self.numbers.lock().await;
        let next = match numbers.get(org) {
            Some(n) => n + 1,
            None => {
                let o = org.to_string();
                self.read(move |s| s.case_count(&o)).await? + 1
            }
        };
        numbers.insert(org.clone(), next);
        Ok(format!("C-{next:06}"))
    }

    /// Takes a complaint in. With an idempotency key already used, returns the case
    /// it created and adds nothing.
    pub async fn intake(
        &self,
        caller: &Caller,
        intake: Intake,
        key: Option<String>,
    ) -> Result<Outcome, Problem> {
        if caller.read_only {
            return Err(read_only(caller));
        }
        let org = &caller.org;
        if let Some(existing) = self.case_of_key(org, key.as_deref()).await? {
            return Ok(existing);
        }
        let policy = self.policy_of(org, &intake.policy)?;
        let received_at = intake.received_at.unwrap_or_else(Utc::now);
        let command = |now| Command {
            kind: CommandKind::Intake {
                received_at: intake.received_at.unwrap_or(now),
                data: intake.data.clone(),
            },
            actor: Some(actor(caller)),
            key: key.clone(),
            expected_version: None,
        };
        // Decided once on a scratch case first, so that a refused complaint does not
        // use up a case number.
        decide_and_apply(
            &policy,
            &mut Case::new(""),
            &command(received_at),
            Utc::now(),
        )?;
        for _ in 0..16 {
            let id = match &intake.id {
                Some(id) => id.clone(),
                None => self.next_id(org).await?,
            };
            let shared = self.shared(org, &id);
            let mut slot = shared.lock().await;
            if slot.is_some() {
                match intake.id {
                    Some(_) => return Err(case_exists(&id)),
                    None => continue,
                }
            }
            let now = Utc::now();
            let mut case = Case::new(&id);
            let decision = decide_and_apply(&policy, &mut case, &command(now), now)?;
            let fired = fire_due(&policy, &mut case, now);
            self.observe(&fired, org, &id, false);
            let mut events = decision.events.clone();
            events.extend(fired.events);
            let stuck = fired.stuck.is_some();
            match self
                .commit(org, &policy, &case, events, key.clone(), stuck)
                .await
            {
                Ok(summary) => {
                    let new = Slot {
                        case,
                        policy: policy.clone(),
                        summary,
                    };
                    *slot = Some(new.clone());
                    return Ok(Outcome {
                        slot: new,
                        events: decision.events,
                        repeat_of: None,
                        created: true,
                    });
                }
                Err(StoreError::Conflict { reason, .. }) => {
                    drop(slot);
                    self.forget(org, &id);
                    match (reason, &intake.id) {
                        (Conflict::CaseExists, None) => continue,
                        (Conflict::CaseExists, Some(_)) => return Err(case_exists(&id)),
                        _ => {
                            if let Some(existing) = self.case_of_key(org, key.as_deref()).await? {
                                return Ok(existing);
                            }
                            return Err(StoreError::Conflict {
                                org: org.to_string(),
                                case: id,
                                reason,
                            }
                            .into());
                        }
                    }
                }
                Err(e) => {
                    drop(slot);
                    self.forget(org, &id);
                    return Err(e.into());
                }
            }
        }
        Err(Problem::internal("no free case number after 16 tries"))
    }

    async fn case_of_key(
        &self,
        org: &Arc<str>,
        key: Option<&str>,
    ) -> Result<Option<Outcome>, Problem> {
        let Some(key) = key else { return Ok(None) };
        let (o, k) = (org.to_string(), key.to_string());
        let Some(id) = self.read(move |s| s.case_by_key(&o, &k)).await? else {
            return Ok(None);
        };
        let slot = self.get(org, &id).await?;
        let first = slot.case.keys.get(key).copied();
        Ok(Some(Outcome {
            slot,
            events: Vec::new(),
            repeat_of: first,
            created: false,
        }))
    }

    /// Runs a command on a case: fires its due timers, decides, writes. A refused
    /// command writes nothing of its own (the timers that fell due are kept).
    pub async fn command(
        &self,
        caller: &Caller,
        id: &str,
        kind: CommandKind,
        key: Option<String>,
        expected_version: Option<u64>,
    ) -> Result<Outcome, Problem> {
        if caller.read_only {
            return Err(read_only(caller));
        }
        let org = &caller.org;
        let (mut slot, current) = self.locked(org, id).await?;
        if let Some(expected) = expected_version
            && expected != current.case.version
        {
            return Err(Refusal::StaleVersion {
                expected,
                actual: current.case.version,
            }
            .into());
        }
        let now = Utc::now().max(current.case.updated_at);
        let mut case = current.case.clone();
        let fired = fire_due(&current.policy, &mut case, now);
        self.observe(&fired, org, id, false);
        let stuck = fired.stuck.is_some();
        let command = Command {
            kind,
            actor: Some(actor(caller)),
            key,
            expected_version: None,
        };
        let decided = decide_and_apply(&current.policy, &mut case, &command, now);
        let mut events = fired.events;
        let (own, repeat_of) = match &decided {
            Ok(decision) => (decision.events.clone(), decision.repeat_of),
            Err(_) => (Vec::new(), None),
        };
        events.extend(own.iter().cloned());
        let mut after = current.clone();
        if !events.is_empty() {
            match self
                .commit(org, &current.policy, &case, events, None, stuck)
                .await
            {
                Ok(summary) => {
                    after = Slot {
                        case,
                        policy: current.policy.clone(),
                        summary,
                    };
                    *slot = Some(after.clone());
                }
                Err(e) => {
                    *slot = None;
                    return Err(e.into());
                }
            }
        }
        if after.case.closed {
            drop(slot);
            self.forget(org, id);
        }
        decided?;
        Ok(Outcome {
            slot: after,
            events: own,
            repeat_of,
            created: false,
        })
    }

    /// Fires a case's due timers (the scheduler's job); returns how many fired. A
    /// case whose stored due instant was stale gets it corrected.
    pub async fn fire(&self, org: &Arc<str>, id: &str) -> Result<usize, Problem> {
        let (mut slot, current) = match self.locked(org, id).await {
            Ok(locked) => locked,
            Err(p) if p.status == StatusCode::NOT_FOUND => return Ok(0),
            Err(p) => return Err(p),
        };
        let now = Utc::now().max(current.case.updated_at);
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
            .commit(org, &current.policy, &case, fired.events, None, stuck)
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

fn read_only(caller: &Caller) -> Problem {
    Problem::new(
        StatusCode::FORBIDDEN,
        "read-only",
        "Read-only token",
        format!(
            "the token of `{}` ({}) may only read",
            caller.name, caller.role
        ),
    )
}

fn case_exists(id: &str) -> Problem {
    Problem::new(
        StatusCode::CONFLICT,
        "case-exists",
        "Case exists",
        format!("a case `{id}` already exists"),
    )
}
