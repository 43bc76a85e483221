//! Helpers for the store tests: a fresh database on either backend, and real cases
//! and events, made by the engine from the shipped policies, wrapped into the
//! store's `Append`s.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{DateTime, TimeDelta, Utc};
use redress_engine::case::{Actor, Case, Event};
use redress_engine::policy::{Policy, load_policy};
use redress_engine::runtime::{Command, CommandKind, Data, decide_and_apply, next_due};
use redress_store::{
    Append, ClockSummary, MIGRATIONS, POSTGRES_MIGRATIONS, PostgresStore, SqliteStore, Store,
    StoreError, StoredEvent, Summary,
};
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

/// Which store a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The PostgreSQL server the tests create their databases on.
pub const POSTGRES_ENV: &str = "REDRESS_TEST_POSTGRES";

/// Runs each named test (a `fn name(backend: Backend)`) once per backend, as
/// `sqlite::name` and `postgres::name`.
#[macro_export]
macro_rules! backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[test] fn $name() { super::$name($crate::common::Backend::Sqlite) } )*
        }
        mod postgres {
            $( #[test] fn $name() { super::$name($crate::common::Backend::Postgres) } )*
        }
    };
}

/// A fresh, empty database: a file in its own temporary directory, or a database
/// of its own on the PostgreSQL server (dropped with it).
pub struct Db {
    pub dir: TempDir,
    /// PostgreSQL: the server's URL (the database to connect to for admin work)
    /// and the test's own database.
    postgres: Option<(String, String)>,
}

/// Runs one statement with `psql`; returns what it printed (unaligned, no headers).
pub fn psql(url: &str, sql: &str) -> String {
    let out = std::process::Command::new("psql")
        .args([
            "-X",
            "-q",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
            url,
            "-c",
            sql,
        ])
        .output()
        .unwrap_or_else(|e| panic!("psql: {e}"));
    assert!(
        out.status.success(),
        "psql `{sql}`: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// `url` with its database replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let base = url.split('?').next().unwrap_or(url);
    let (scheme, rest) = base.split_once("://").expect("a URL");
    let server = rest.split('/').next().unwrap_or(rest);
    format!("{scheme}://{server}/{name}")
}

impl Db {
    /// A fresh database on `backend`; `None` (said loudly) when the backend is
    /// PostgreSQL and no server is configured.
    pub fn new(backend: Backend) -> Option<Self> {
        let dir = TempDir::new().expect("temporary directory");
        let postgres = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => {
                let Ok(server) = std::env::var(POSTGRES_ENV) else {
                    eprintln!(
                        "SKIPPED on PostgreSQL: {POSTGRES_ENV} is not set (e.g. \
                         {POSTGRES_ENV}=postgres://postgres@127.0.0.1:5432/test); CI sets it"
                    );
                    return None;
                };
                static N: AtomicUsize = AtomicUsize::new(0);
                let name = format!(
                    "pg_redress_test_{}_{}",
                    std::process::id(),
                    N.fetch_add(1, Ordering::Relaxed)
                );
                psql(
                    &server,
                    &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                );
                psql(&server, &format!("CREATE DATABASE {name}"));
                Some((server.clone(), with_database(&server, &name)))
            }
        };
        Some(Db { dir, postgres })
    }

    pub fn path(&self) -> PathBuf {
        self.dir.path().join("redress.db")
    }

    /// The database's URL, with `host` for the server's host (PostgreSQL).
    pub fn url_with_host(&self, host: &str) -> String {
        let (_, url) = self.postgres.as_ref().expect("a PostgreSQL database");
        let (scheme, rest) = url.split_once("://").expect("a URL");
        let (user, rest) = match rest.split_once('@') {
            Some((user, rest)) => (format!("{user}@"), rest),
            None => (String::new(), rest),
        };
        let (address, db) = rest.split_once('/').expect("a database");
        let port = address.rsplit_once(':').map_or("5432", |(_, p)| p);
        format!("{scheme}://{user}{host}:{port}/{db}")
    }

    pub fn try_open(&self) -> Result<Box<dyn Store>, StoreError> {
        match &self.postgres {
            None => Ok(Box::new(SqliteStore::open(self.path())?)),
            Some((_, url)) => Ok(Box::new(PostgresStore::connect(url)?)),
        }
    }

    pub fn open(&self) -> Box<dyn Store> {
        self.try_open().expect("the store opens")
    }

    /// The number a `SELECT COUNT(*) ...` gives on this database.
    pub fn count(&self, sql: &str) -> i64 {
        match &self.postgres {
            None => {
                let conn = rusqlite::Connection::open(self.path()).unwrap();
                conn.query_row(sql, [], |r| r.get(0)).unwrap()
            }
            Some((_, url)) => psql(url, sql).parse().unwrap(),
        }
    }

    /// The last schema version this Redress knows on `backend`.
    pub fn known_schema(backend: Backend) -> i64 {
        let migrations = match backend {
            Backend::Sqlite => MIGRATIONS,
            Backend::Postgres => POSTGRES_MIGRATIONS,
        };
        migrations.last().map(|m| m.0).expect("a migration")
    }

    /// The schema was migrated once, each migration recorded, in order.
    pub fn assert_migrated_once(&self) {
        let sql = "SELECT version || ' ' || name FROM schema_migrations ORDER BY version";
        let (rows, migrations): (Vec<String>, _) = match &self.postgres {
            None => {
                let conn = rusqlite::Connection::open(self.path()).unwrap();
                let user_version: i64 = conn
                    .query_row("PRAGMA user_version", [], |r| r.get(0))
                    .unwrap();
                assert_eq!(user_version, Self::known_schema(Backend::Sqlite));
                let mode: String = conn
                    .query_row("PRAGMA journal_mode", [], |r| r.get(0))
                    .unwrap();
                assert_eq!(mode, "wal");
                let mut s = conn.prepare(sql).unwrap();
                let rows = s
                    .query_map([], |r| r.get(0))
                    .unwrap()
                    .collect::<Result<_, _>>()
                    .unwrap();
                (rows, MIGRATIONS)
            }
            Some((_, url)) => (
                psql(url, sql).lines().map(str::to_string).collect(),
                POSTGRES_MIGRATIONS,
            ),
        };
        let expected: Vec<String> = migrations
            .iter()
            .map(|(version, name, _)| format!("{version} {name}"))
            .collect();
        assert_eq!(rows, expected);
        assert_eq!(expected[0], "1 initial");
    }

    /// Marks the database as written by a Redress whose schema is `version`.
    pub fn mark_schema_version(&self, version: i64) {
        match &self.postgres {
            None => {
                let conn = rusqlite::Connection::open(self.path()).unwrap();
                conn.pragma_update(None, "user_version", version).unwrap();
            }
            Some((_, url)) => {
                psql(
                    url,
                    &format!(
                        "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY,
                             name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now());
                         INSERT INTO schema_migrations (version, name) VALUES ({version}, 'later')"
                    ),
                );
            }
        }
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        if let Some((server, url)) = &self.postgres {
            let name = url.rsplit('/').next().unwrap_or_default();
            psql(
                server,
                &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            );
        }
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
pub fn write(store: &dyn Store, append: Append) -> Result<(), StoreError> {
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
        store: &dyn Store,
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
        store: &dyn Store,
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
        store: &dyn Store,
        policy: &Policy,
        command: Command,
        now: DateTime<Utc>,
    ) {
        self.run_with(store, policy, command, now, |_| {});
    }

    /// [`Self::run`], with the summary changed by `tweak` before the write.
    pub fn run_with(
        &mut self,
        store: &dyn Store,
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

pub fn observe(store: &dyn Store, org: &str, id: &str) -> Observed {
    Observed {
        case: store
            .case(org, id)
            .expect("case reads")
            .map(|s| (s.case, s.summary)),
        events: store.events(org, id, 0, 10_000).expect("events read"),
    }
}
