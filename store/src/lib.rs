//! The Redress store: the event log (the truth), case snapshots (a cache) and the
//! due-time index of pending timers (derived from the snapshots, so it can always
//! be rebuilt), behind one trait, [`Store`].
//!
//! Every row is keyed by its organisation first: that is tenant isolation today and
//! the distribution key when the store is a PostgreSQL shared by several nodes.
//!
//! Writes go through [`Store::append`], which is atomic (the events, the snapshot
//! and an intake's idempotency key, or nothing) and durable before its [`Receipt`]
//! resolves. [`SqliteStore`] commits writes in groups: while one transaction is being
//! synced to disk, the next requests queue up and share the next sync, so throughput
//! does not hinge on one fsync per request. [`PostgresStore`] keeps the same
//! tables in a PostgreSQL that several nodes share: each write is one transaction
//! answered after its `COMMIT`, and due timers and webhook messages are claimed by
//! one node at a time under a [`Lease`].

mod codec;
mod database_error;
mod migrations;
mod postgres;
mod prepared;
mod sqlite;

use chrono::{DateTime, Utc};
use redress_engine::case::{Case, Event};
use redress_engine::report::CaseFacts;
use serde::{Deserialize, Serialize};

pub use database_error::DatabaseError;
pub use migrations::MIGRATIONS;
pub use postgres::{POSTGRES_MIGRATIONS, PostgresOptions, PostgresStore, Tls};
pub use sqlite::SqliteStore;

/// Resolves when a write is durable (or has failed). Await it in async code, or
/// call `blocking_recv` outside a runtime.
pub type Receipt = tokio::sync::oneshot::Receiver<Result<(), StoreError>>;

/// What went wrong in the store.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The write lost a race: the case moved on, already exists, or the intake
    /// idempotency key was taken. Nothing was written.
    #[error("conflict on case `{case}` of `{org}`: {reason}")]
    Conflict {
        /// The organisation.
        org: String,
        /// The case.
        case: String,
        /// What conflicted.
        reason: Conflict,
    },
    /// The database failed (disk, lock, corruption); the driver's error is its
    /// source.
    #[error(transparent)]
    Database(#[from] DatabaseError),
    /// A stored row could not be read back.
    #[error("unreadable stored {what}: {detail}")]
    Corrupt {
        /// What was being read.
        what: &'static str,
        /// Why it could not be read.
        detail: String,
    },
    /// The database cannot be reached or refused the connection.
    #[error("cannot connect to the database: {0}")]
    Connect(String),
    /// The database URL or one of its options is not one this store reads.
    #[error("invalid database URL: {0}")]
    Url(String),
    /// The database was written by a newer Redress.
    #[error("the database has schema version {found}; this build knows up to {known}")]
    NewerSchema {
        /// The database's schema version.
        found: i64,
        /// The newest this build knows.
        known: i64,
    },
    /// The store's writer has stopped (the service is shutting down).
    #[error("the store is closed")]
    Closed,
}

/// Which race a write lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Conflict {
    /// The case's stored version is not the one the write started from.
    Version,
    /// A new case's id is already taken.
    CaseExists,
    /// The intake idempotency key already names a case.
    KeyTaken,
}

impl std::fmt::Display for Conflict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Conflict::Version => "the case changed since it was read",
            Conflict::CaseExists => "a case with this id exists",
            Conflict::KeyTaken => "the idempotency key already names a case",
        })
    }
}

/// The worst state among a case's clocks, for lists and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ClockSummary {
    /// No clock is running or paused.
    None,
    /// Some clock is paused, none running.
    Paused,
    /// Some clock is running, none warned or breached.
    Running,
    /// A running clock has passed a warning threshold.
    AtRisk,
    /// A running clock has passed its deadline.
    Breached,
}

impl ClockSummary {
    /// Every state, in order of urgency.
    pub const ALL: [ClockSummary; 5] = [
        ClockSummary::None,
        ClockSummary::Paused,
        ClockSummary::Running,
        ClockSummary::AtRisk,
        ClockSummary::Breached,
    ];

    /// Its kebab-case name, as stored and as the API shows it.
    pub fn as_str(self) -> &'static str {
        match self {
            ClockSummary::None => "none",
            ClockSummary::Paused => "paused",
            ClockSummary::Running => "running",
            ClockSummary::AtRisk => "at-risk",
            ClockSummary::Breached => "breached",
        }
    }

    /// Reads a name written by [`Self::as_str`].
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

/// What the store keeps beside a case's snapshot, for queries: computed by the
/// caller, which knows the policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// The policy's id (`bank-cn`).
    pub policy_id: String,
    /// The worst clock state.
    pub clock_state: ClockSummary,
    /// When the case next needs the runtime (its earliest pending timer).
    pub next_due: Option<DateTime<Utc>>,
}

/// One atomic write: a case's new events and its snapshot after them.
#[derive(Debug, Clone)]
pub struct Append {
    /// The organisation.
    pub org: String,
    /// The case after the events; its version minus the number of events is the
    /// version the write started from (0 for a new case).
    pub case: Case,
    /// Its summary after the events.
    pub summary: Summary,
    /// The new events, in order (sequence numbers follow the stored version).
    pub events: Vec<Event>,
    /// For an intake: its idempotency key, recorded with the new case.
    pub intake_key: Option<String>,
    /// The fingerprint of the request whose idempotency key this write records
    /// (the intake key, or the key the command's events carry), kept with the key.
    pub fingerprint: Option<String>,
    /// The wall-clock instant of the write.
    pub recorded_at: DateTime<Utc>,
    /// Messages to deliver to webhooks, written in the same transaction (the
    /// outbox), so a delivery is never lost once the events are stored.
    pub outbox: Vec<Message>,
    /// What reports need of the case after the events, kept beside it for
    /// [`Store::report_facts`]; `None` leaves what was kept as it was.
    pub report: Option<CaseFacts>,
}

/// A message for a webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The webhook's name.
    pub webhook: String,
    /// The body to send (JSON).
    pub body: String,
}

/// A message in the outbox, due for (another) delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    /// Its number in the outbox.
    pub id: i64,
    /// The organisation.
    pub org: String,
    /// The webhook's name.
    pub webhook: String,
    /// The body.
    pub body: String,
    /// Attempts made so far.
    pub attempts: u32,
}

/// The state of the outbox, for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboxCounts {
    /// Messages waiting for delivery (including retries).
    pub waiting: u64,
    /// Messages given up on after the last attempt.
    pub dead: u64,
}

/// A case as stored: its snapshot and summary.
#[derive(Debug, Clone)]
pub struct StoredCase {
    /// The snapshot.
    pub case: Case,
    /// The summary.
    pub summary: Summary,
}

/// An event as stored, with when it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    /// The event.
    pub event: Event,
    /// The wall-clock instant it was written.
    pub recorded_at: DateTime<Utc>,
}

/// A case in a list: no field data, so lists never carry personal data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
// (No other member is ever written: the API's description says so.)
#[serde(deny_unknown_fields)]
pub struct CaseRow {
    /// Its id.
    pub id: String,
    /// The policy's id.
    pub policy: String,
    /// The policy version's hash.
    pub policy_hash: String,
    /// Its version.
    pub version: u64,
    /// Its stage.
    pub stage: String,
    /// Its queue.
    pub queue: Option<String>,
    /// Its priority.
    pub priority: Option<i64>,
    /// Its assignee.
    pub assignee: Option<String>,
    /// Whether it is closed.
    pub closed: bool,
    /// The worst clock state.
    pub clock_state: ClockSummary,
    /// When it was received.
    #[serde(serialize_with = "redress_engine::instant::serialize")]
    pub received_at: DateTime<Utc>,
    /// When it last changed.
    #[serde(serialize_with = "redress_engine::instant::serialize")]
    pub updated_at: DateTime<Utc>,
    /// When it next needs the runtime.
    #[serde(serialize_with = "redress_engine::instant::serialize_option")]
    pub next_due: Option<DateTime<Utc>>,
}

/// Which cases a list shows; `None` means any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CaseFilter {
    /// In this queue.
    pub queue: Option<String>,
    /// In this stage.
    pub stage: Option<String>,
    /// With this clock state.
    pub clock_state: Option<ClockSummary>,
    /// Under this policy.
    pub policy: Option<String>,
    /// Open (`false`) or closed (`true`).
    pub closed: Option<bool>,
    /// Assigned to this person.
    pub assignee: Option<String>,
}

/// A page of a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// The rows, oldest case first.
    pub rows: Vec<CaseRow>,
    /// Pass as `after` to get the next page; `None` on the last page.
    pub next: Option<String>,
}

/// A case whose earliest timer is due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    /// The organisation.
    pub org: String,
    /// The case.
    pub case: String,
    /// When its earliest timer is due.
    pub at: DateTime<Utc>,
}

/// A node's claim on due work (a case's timers, a webhook message): no other node
/// takes the same work until the lease ends, so a node that dies holding it only
/// delays that work until then.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The node claiming (unique among the nodes sharing the database).
    pub node: String,
    /// Now, for the node: work due at or before it is claimed.
    pub now: DateTime<Utc>,
    /// When the claim ends.
    pub until: DateTime<Utc>,
}

/// A policy version that open cases are pinned to, with the stamp of its due index:
/// what computed the summaries of its open cases (see [`Store::index_stamps`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexStamp {
    /// The organisation.
    pub org: String,
    /// The version's hash.
    pub policy_hash: String,
    /// How many open cases are pinned to it.
    pub open: u64,
    /// The stamp last written with [`Store::stamp_index`]; `None`: never stamped (a
    /// database from before stamps, or cases written by something else).
    pub stamp: Option<String>,
}

/// A case's summary to set when its stored version is still `version`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SummaryUpdate {
    /// The organisation.
    pub org: String,
    /// The case.
    pub id: String,
    /// The version the summary was computed on.
    pub version: u64,
    /// The summary.
    pub summary: Summary,
}

/// A policy version as stored: enough to load it again after its files changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyVersion {
    /// The content hash (the version's identity).
    pub hash: String,
    /// The policy's id.
    pub policy_id: String,
    /// Its declared version (`2026.1`).
    pub version: String,
    /// Each file it was read from, with its text, the policy first.
    pub sources: Vec<(String, String)>,
}

/// A count of cases, for metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseCount {
    /// The organisation.
    pub org: String,
    /// The policy's id.
    pub policy: String,
    /// The stage.
    pub stage: String,
    /// The worst clock state.
    pub clock_state: ClockSummary,
    /// How many.
    pub count: u64,
}

/// What a store tells of its own files, for metrics; `None` where a backend has no
/// such thing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StorageStats {
    /// The write-ahead log's size, in bytes.
    pub wal_bytes: Option<u64>,
    /// Checkpoints that truncated the write-ahead log.
    pub wal_truncations: Option<u64>,
}

/// The store the service runs on. Reads block (call them off the async runtime);
/// writes resolve a [`Receipt`] once durable.
pub trait Store: Send + Sync + 'static {
    /// Appends a case's events and its new snapshot, atomically. Refused with
    /// [`StoreError::Conflict`] when the stored version is not the one the events
    /// follow, the new case's id is taken, or the intake key names a case.
    fn append(&self, append: Append) -> Receipt;

    /// Keeps a policy version for an organisation (no-op when already kept);
    /// durable on return.
    fn save_policy_version(&self, org: &str, version: &PolicyVersion) -> Result<(), StoreError>;

    /// A kept policy version.
    fn policy_version(&self, org: &str, hash: &str) -> Result<Option<PolicyVersion>, StoreError>;

    /// A case's snapshot.
    fn case(&self, org: &str, id: &str) -> Result<Option<StoredCase>, StoreError>;

    /// The case an intake idempotency key created.
    fn case_by_key(&self, org: &str, key: &str) -> Result<Option<String>, StoreError>;

    /// A case's events after version `after`, at most `limit`, oldest first.
    fn events(
        &self,
        org: &str,
        id: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StoreError>;

    /// A page of an organisation's cases, oldest first, after the cursor `after`.
    fn list(
        &self,
        org: &str,
        filter: &CaseFilter,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page, StoreError>;

    /// Cases of every organisation whose earliest timer is due at or before `until`,
    /// earliest first, at most `limit`.
    fn due(&self, until: DateTime<Utc>, limit: usize) -> Result<Vec<Due>, StoreError>;

    /// The earliest due instant of any case. A case claimed by a node counts from
    /// the end of its claim, when another node may take it.
    fn next_due(&self) -> Result<Option<DateTime<Utc>>, StoreError>;

    /// Claims cases due at or before `lease.now` that no other node holds under a
    /// lease still running, earliest first, at most `limit`, for `lease.node` until
    /// `lease.until`. An append to the case ends its claim (a corrected summary
    /// does not: the node holding the claim may still be firing). Durable on
    /// return.
    fn claim_due(&self, lease: &Lease, limit: usize) -> Result<Vec<Due>, StoreError>;

    /// Whether other processes write the same database (several nodes), so that a
    /// case kept in memory may be stale and due work must be claimed.
    fn shared(&self) -> bool {
        false
    }

    /// Tells the other nodes that a write set a case due at `at`, earlier than
    /// they may have planned to look (PostgreSQL: `NOTIFY`). A no-op for a store
    /// only this process writes.
    fn announce_due(&self, at: DateTime<Utc>) -> Result<(), StoreError> {
        let _ = at;
        Ok(())
    }

    /// Calls `wake` whenever another node announces an earlier due instant (and
    /// after the store reconnected, when an announcement may have been missed).
    fn listen_due(&self, wake: Box<dyn Fn() + Send + Sync>) -> Result<(), StoreError> {
        drop(wake);
        Ok(())
    }

    /// Open cases of every organisation, after `(org, id)`, at most `limit`: for
    /// rebuilding the due index at start-up.
    fn open_cases(
        &self,
        after: Option<(&str, &str)>,
        limit: usize,
    ) -> Result<Vec<(String, StoredCase)>, StoreError>;

    /// Sets a case's summary (the due index) when its stored version is still
    /// `version`; durable on return. Returns whether it was set.
    fn set_summary(
        &self,
        org: &str,
        id: &str,
        version: u64,
        summary: &Summary,
    ) -> Result<bool, StoreError>;

    /// Sets several cases' summaries, each only when its stored version is still the
    /// one given, in one durable write; returns how many were set.
    fn set_summaries(&self, updates: Vec<SummaryUpdate>) -> Result<usize, StoreError> {
        let mut set = 0;
        for u in updates {
            set += usize::from(self.set_summary(&u.org, &u.id, u.version, &u.summary)?);
        }
        Ok(set)
    }

    /// Every policy version open cases are pinned to, with how many and the stamp of
    /// its due index. `None` from a store that keeps no stamps: its whole index is
    /// then rebuilt at every start.
    fn index_stamps(&self) -> Result<Option<Vec<IndexStamp>>, StoreError> {
        Ok(None)
    }

    /// Stamps the due index of an organisation's policy version; durable on return.
    /// With `only_without_open_cases`, only when no open case is pinned to it (the
    /// stamp then speaks for cases still to come); returns whether it was stamped.
    fn stamp_index(
        &self,
        _org: &str,
        _policy_hash: &str,
        _stamp: &str,
        _only_without_open_cases: bool,
    ) -> Result<bool, StoreError> {
        Ok(false)
    }

    /// Open cases of an organisation pinned to a policy version, by id, after the
    /// case `after`, at most `limit`: for rebuilding that version's due index.
    fn open_cases_pinned(
        &self,
        org: &str,
        policy_hash: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<StoredCase>, StoreError> {
        let mut out = Vec::new();
        let mut cursor = after.map(|id| (org.to_string(), id.to_string()));
        loop {
            let from = cursor.as_ref().map(|(o, i)| (o.as_str(), i.as_str()));
            let page = self.open_cases(from.or(Some((org, ""))), limit.max(1))?;
            let Some((last_org, last)) = page.last() else {
                return Ok(out);
            };
            cursor = Some((last_org.clone(), last.case.id.clone()));
            for (o, stored) in page {
                if o != org {
                    return Ok(out);
                }
                if &*stored.case.policy == policy_hash {
                    out.push(stored);
                    if out.len() == limit {
                        return Ok(out);
                    }
                }
            }
        }
    }

    /// Counts of cases by organisation, policy, stage and clock state.
    fn counts(&self) -> Result<Vec<CaseCount>, StoreError>;

    /// How many cases an organisation has.
    fn case_count(&self, org: &str) -> Result<u64, StoreError>;

    /// Outbox messages due for delivery at `now`, oldest first, at most `limit`.
    fn outbox_due(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<Pending>, StoreError>;

    /// Claims outbox messages due at `lease.now`, oldest first, at most `limit`:
    /// each is not due again for any node until `lease.until`, by when its attempt
    /// has been recorded (or the node died, and another node tries). Durable on
    /// return.
    fn claim_outbox(&self, lease: &Lease, limit: usize) -> Result<Vec<Pending>, StoreError>;

    /// When the next outbox message is due.
    fn outbox_next(&self) -> Result<Option<DateTime<Utc>>, StoreError>;

    /// Records a delivery attempt: delivered, or failed with the error and the next
    /// attempt (`None`: given up). Durable on return. A message that is done
    /// (delivered or given up on) loses its `tracking_link`: the link's token is
    /// kept in plain text only while a delivery may still need it.
    fn outbox_attempted(
        &self,
        org: &str,
        id: i64,
        delivered: bool,
        error: Option<String>,
        next_attempt: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError>;

    /// How many messages wait and how many were given up on.
    fn outbox_counts(&self) -> Result<OutboxCounts, StoreError>;

    /// The case an intake key created, and the fingerprint of the request kept with
    /// the key (`None` for keys recorded before fingerprints were kept).
    fn intake_key(
        &self,
        org: &str,
        key: &str,
    ) -> Result<Option<(String, Option<String>)>, StoreError> {
        Ok(self.case_by_key(org, key)?.map(|id| (id, None)))
    }

    /// The fingerprint of the request a case's command key was first used with.
    fn command_key_fingerprint(
        &self,
        _org: &str,
        _case: &str,
        _key: &str,
    ) -> Result<Option<String>, StoreError> {
        Ok(None)
    }
    /// Streams to `each` the report facts (written with [`Append::report`]) of an
    /// organisation's cases under policy `policy_id` that were open at some time in
    /// `[from, to)`: received before `to` and not closed before `from`. Returns how
    /// many. A report ([`redress_engine::report::ReportBuilder`]) counts them one at a
    /// time, so no case is loaded whole and no list of them is held.
    fn report_facts(
        &self,
        org: &str,
        policy_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        each: &mut dyn FnMut(CaseFacts),
    ) -> Result<u64, StoreError>;

    /// What the store tells of its files (none by default).
    fn storage(&self) -> StorageStats {
        StorageStats::default()
    }

    /// Keeps a complainant's tracking link to a case: the SHA-256 of its token
    /// (never the token). Durable on return.
    fn save_tracking_link(&self, link: &TrackingLink) -> Result<(), StoreError>;

    /// The case a tracking link opens, by the SHA-256 of its token; `None` for an
    /// unknown or revoked link (the two are not told apart).
    fn tracking_link(&self, token_sha256: &str) -> Result<Option<TrackingLink>, StoreError>;

    /// Revokes every working tracking link of a case; returns how many. Durable on
    /// return.
    fn revoke_tracking_links(
        &self,
        org: &str,
        case: &str,
        at: DateTime<Utc>,
    ) -> Result<u64, StoreError>;
}

/// A complainant's tracking link to a case, as kept: the SHA-256 of its token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackingLink {
    /// The hex SHA-256 of the token.
    pub token_sha256: String,
    /// The organisation.
    pub org: String,
    /// The case.
    pub case: String,
    /// When it was issued.
    pub issued_at: DateTime<Utc>,
}
