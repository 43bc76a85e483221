//! Helpers for the store tests: real cases and events, made by the engine from the
//! shipped policies, wrapped into the store's `Append`s.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use chrono::{DateTime, TimeDelta, Utc};
use redress_engine::case::{Actor, Case, Event};
use redress_engine::policy::{Policy, load_policy};
use redress_engine::runtime::{Command, CommandKind, Data, decide_and_apply, next_due};
use redress_store::{Append, ClockSummary, SqliteStore, Store, StoreError, StoredEvent, Summary};
use serde_json::json;
use tempfile::TempDir;

pub const ORG_A: &str = "org-a";
pub const ORG_B: &str = "org-b";

fn load(name: &str) -> Policy {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../policies")
        .join(name);
    load_policy(&path).unwrap_or_else(|e| panic!("{name} loads: {e:?}"))
}

/// The shipped retail policy, loaded once.
pub fn retail() -> &'static Policy {
    static POLICY: OnceLock<Policy> = OnceLock::new();
    POLICY.get_or_init(|| load("retail.toml"))
}

/// The shipped bank policy, loaded once.
pub fn bank() -> &'static Policy {
    static POLICY: OnceLock<Policy> = OnceLock::new();
    POLICY.get_or_init(|| load("bank.toml"))
}

/// A fixed instant, Monday 2 March 2026 09:00 in Shanghai, plus `minutes`.
pub fn at(minutes: i64) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-03-02T09:00:00+08:00")
        .expect("valid instant")
        .with_timezone(&Utc)
        + TimeDelta::minutes(minutes)
}

/// A fresh database in its own temporary directory.
pub struct Db {
    pub dir: TempDir,
}

impl Db {
    pub fn new() -> Self {
        Db {
            dir: TempDir::new().expect("temporary directory"),
        }
    }

    pub fn path(&self) -> PathBuf {
        self.dir.path().join("redress.db")
    }

    pub fn open(&self) -> SqliteStore {
        SqliteStore::open(self.path()).expect("the store opens")
    }
}

pub fn agent() -> Actor {
    Actor {
        id: Some("u7".into()),
        role: Some("agent".into()),
    }
}

/// Retail intake data: a complaint in `market` of `category`.
pub fn retail_data(market: &str, category: &str) -> Data {
    let v =
        json!({"market": market, "category": category, "summary": "the kettle stopped working"});
    v.as_object().expect("an object").clone()
}

/// Bank intake data.
pub fn bank_data() -> Data {
    let v = json!({"category": "fees", "summary": "charged twice", "amount": 120.5});
    v.as_object().expect("an object").clone()
}

/// Runs `command` on `case` at `now`; returns the new events. Panics on a refusal.
pub fn run(policy: &Policy, case: &mut Case, command: Command, now: DateTime<Utc>) -> Vec<Event> {
    decide_and_apply(policy, case, &command, now)
        .unwrap_or_else(|r| panic!("{command:?} on {} refused: {r:?}", case.id))
        .events
}

/// Takes a complaint in as case `id`, received and decided at `now`.
pub fn intake(policy: &Policy, id: &str, data: Data, now: DateTime<Utc>) -> (Case, Vec<Event>) {
    let mut case = Case::new(id);
    let command = Command::new(CommandKind::Intake {
        received_at: now,
        data,
    });
    let events = run(policy, &mut case, command, now);
    (case, events)
}

/// A named transition event sent by an agent.
pub fn event(name: &str) -> Command {
    Command::new(CommandKind::Event {
        name: name.into(),
        data: Data::new(),
    })
    .by(agent())
}

pub fn note(text: &str) -> Command {
    Command::new(CommandKind::Note { text: text.into() }).by(agent())
}

pub fn assign(who: &str) -> Command {
    Command::new(CommandKind::Assign {
        assignee: who.into(),
    })
    .by(agent())
}

pub fn withdraw() -> Command {
    Command::new(CommandKind::Withdraw)
}

/// The summary the service would compute: the policy's id, running clocks while the
/// case is open, and the engine's next due timer.
pub fn summary(policy: &Policy, case: &Case) -> Summary {
    Summary {
        policy_id: policy.id().to_string(),
        clock_state: match case.closed {
            true => ClockSummary::None,
            false => ClockSummary::Running,
        },
        next_due: next_due(case, policy).map(|(at, _)| at),
    }
}

/// The write of `events` that brought `case` to where it is.
pub fn append(
    policy: &Policy,
    org: &str,
    case: &Case,
    events: &[Event],
    key: Option<&str>,
    recorded_at: DateTime<Utc>,
) -> Append {
    Append {
        org: org.to_string(),
        case: case.clone(),
        summary: summary(policy, case),
        events: events.to_vec(),
        fingerprint: None,
        intake_key: key.map(str::to_string),
        recorded_at,
        outbox: Vec::new(),
        report: None,
    }
}

/// Appends and waits for the receipt.
pub fn write(store: &SqliteStore, append: Append) -> Result<(), StoreError> {
    store
        .append(append)
        .blocking_recv()
        .expect("the writer answers every receipt")
}

/// A case with its summary and log, as the service tracks it.
#[derive(Debug, Clone)]
pub struct Tracked {
    pub org: String,
    pub case: Case,
    pub summary: Summary,
    pub log: Vec<StoredEvent>,
}

impl Tracked {
    /// Takes a complaint in and stores it (with `key`), recorded at `now`.
    pub fn intake(
        store: &SqliteStore,
        policy: &Policy,
        org: &str,
        id: &str,
        data: Data,
        key: Option<&str>,
        now: DateTime<Utc>,
    ) -> Self {
        Self::intake_with(store, policy, org, id, data, key, now, |_| {})
    }

    /// [`Self::intake`], with the summary changed by `tweak` before the write.
    #[allow(clippy::too_many_arguments)]
    pub fn intake_with(
        store: &SqliteStore,
        policy: &Policy,
        org: &str,
        id: &str,
        data: Data,
        key: Option<&str>,
        now: DateTime<Utc>,
        tweak: impl FnOnce(&mut Summary),
    ) -> Self {
        let (case, events) = intake(policy, id, data, now);
        let mut write_ = append(policy, org, &case, &events, key, now);
        tweak(&mut write_.summary);
        let summary = write_.summary.clone();
        write(store, write_).expect("intake stored");
        Tracked {
            org: org.to_string(),
            log: stored(&events, now),
            summary,
            case,
        }
    }

    /// Runs `command` and stores its events, recorded at `now`.
    pub fn run(
        &mut self,
        store: &SqliteStore,
        policy: &Policy,
        command: Command,
        now: DateTime<Utc>,
    ) {
        self.run_with(store, policy, command, now, |_| {});
    }

    /// [`Self::run`], with the summary changed by `tweak` before the write.
    pub fn run_with(
        &mut self,
        store: &SqliteStore,
        policy: &Policy,
        command: Command,
        now: DateTime<Utc>,
        tweak: impl FnOnce(&mut Summary),
    ) {
        let events = run(policy, &mut self.case, command, now);
        let mut write_ = append(policy, &self.org, &self.case, &events, None, now);
        tweak(&mut write_.summary);
        self.summary = write_.summary.clone();
        write(store, write_).expect("events stored");
        self.log.extend(stored(&events, now));
    }

    /// What the store should hold about it.
    pub fn observed(&self) -> Observed {
        Observed {
            case: Some((self.case.clone(), self.summary.clone())),
            events: self.log.clone(),
        }
    }
}

/// Events as the store should give them back.
pub fn stored(events: &[Event], recorded_at: DateTime<Utc>) -> Vec<StoredEvent> {
    events
        .iter()
        .map(|e| StoredEvent {
            event: e.clone(),
            recorded_at,
        })
        .collect()
}

/// Everything the store holds about one case, for before/after comparisons.
#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    pub case: Option<(Case, Summary)>,
    pub events: Vec<StoredEvent>,
}

pub fn observe(store: &SqliteStore, org: &str, id: &str) -> Observed {
    Observed {
        case: store
            .case(org, id)
            .expect("case reads")
            .map(|s| (s.case, s.summary)),
        events: store.events(org, id, 0, 10_000).expect("events read"),
    }
}
