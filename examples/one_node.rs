//! One node holding a million open cases (issue #15): a generator that writes open
//! bank complaints into a SQLite store the way `redress serve` writes them, and a
//! measurement of `redress serve` on it: restart to ready, a burst of timers falling
//! due in the same minute, commands answered during the burst, memory.
//!
//! ```sh
//! cargo build --release --bin redress --example one_node
//! # 1,000,000 open cases; 10,000 of them due within one minute, 40 minutes from now
//! ./target/release/examples/one_node generate --dir /tmp/one-node --cases 1000000 \
//!     --burst 10000 --burst-in 40
//! # restart to ready only (run it as often as you like before the burst)
//! ./target/release/examples/one_node measure --dir /tmp/one-node \
//!     --redress target/release/redress --listen 127.0.0.1:18300 --ready-only
//! # the burst: starts the server, sends notes meanwhile, waits for every timer
//! ./target/release/examples/one_node measure --dir /tmp/one-node \
//!     --redress target/release/redress --listen 127.0.0.1:18300
//! ```
//!
//! `generate` takes complaints in on `policies/bank.toml` through the engine (intake,
//! then acknowledged, investigating or waiting for the complainant, by agents, hours
//! apart), runs each case's clock to now (so the warnings and breaches already due
//! have fired, as they would have on a live node), and writes its events, snapshot,
//! summary and report facts with `Store::append`, as the service does. The `--burst`
//! cases are investigating, their decision clock's 50% warning falling due at
//! evenly spread instants of the burst minute (`--spread 0` puts them all on one
//! instant); every other case's next timer falls due later than the measurement.
//! It writes `server.toml` (organisation `demo`, an agent token) and `burst.json`
//! beside the database, and prints the bytes a case takes.
//!
//! `measure` starts `redress serve` on the folder, times it from spawning to
//! answering `/healthz` (the scheduler runs from then on), and, unless
//! `--ready-only`, sends `--rate` notes a second to random other cases from 30 s
//! before the burst to 30 s after it, waits until every burst timer has fired, and
//! prints, as one JSON document: the readiness time, the timers' lag (the server's
//! `redress_timer_lag_seconds` histogram, and exactly, from each warning event's
//! instant and the instant it was written), the notes' latency during the burst and
//! outside it, and the server's peak resident memory.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use chrono::{DateTime, TimeDelta, Timelike, Utc};
use clap::{Parser, Subcommand};
use redress_engine::case::{Actor, EventKind};
use redress_engine::policy::{Policy, load_policy};
use redress_engine::report::{CaseFacts, ComplainantKey};
use redress_engine::runtime::simulate::Rng;
use redress_engine::runtime::{Command as EngineCommand, CommandKind, Data, VirtualCase, next_due};
use redress_server::registry::stored_version;
use redress_server::service::{index_stamp, summarize};
use redress_store::{Append, Receipt, SqliteStore, Store};
use serde_json::{Value, json};

const ORG: &str = "demo";
const AGENT_TOKEN: &str = "one-node-agent-token";
const COMPLAINANT_KEY: &str = "one-node-complainant-key";

/// Writes open cases into a store, or measures `redress serve` on them.
#[derive(Debug, Parser)]
#[command(name = "one_node")]
struct Args {
    #[command(subcommand)]
    step: Step,
}

#[derive(Debug, Subcommand)]
enum Step {
    /// Writes open cases, some of them due in one minute, into a new database.
    Generate(Generate),
    /// Runs `redress serve` on a generated folder and measures it.
    Measure(Measure),
}

#[derive(Debug, clap::Args)]
struct Generate {
    /// The folder to write (`cases.db`, `server.toml`, `burst.json`); must not hold a
    /// database yet.
    #[arg(long)]
    dir: PathBuf,
    /// Open cases to write.
    #[arg(long, default_value_t = 1_000_000)]
    cases: usize,
    /// Of them, cases whose next timer falls due in the burst minute.
    #[arg(long, default_value_t = 10_000)]
    burst: usize,
    /// Minutes from now to the burst.
    #[arg(long, default_value_t = 40)]
    burst_in: i64,
    /// Seconds the burst's due instants are spread over (0: all on one instant).
    #[arg(long, default_value_t = 60)]
    spread: i64,
    /// Threads deciding cases (the store has one writer).
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// The seed of the complaints drawn.
    #[arg(long, default_value_t = 15)]
    seed: u64,
}

#[derive(Debug, clap::Args)]
struct Measure {
    /// A folder `generate` wrote.
    #[arg(long)]
    dir: PathBuf,
    /// The `redress` binary to run (a release build).
    #[arg(long, default_value = "target/release/redress")]
    redress: PathBuf,
    /// Where the server listens.
    #[arg(long, default_value = "127.0.0.1:18300")]
    listen: String,
    /// Only time the start, then stop the server.
    #[arg(long)]
    ready_only: bool,
    /// Notes a second sent around the burst.
    #[arg(long, default_value_t = 100)]
    rate: u64,
}

/// What `generate` leaves for `measure`.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Burst {
    cases: usize,
    burst: usize,
    at: DateTime<Utc>,
    spread_seconds: i64,
}

fn main() -> Result<()> {
    match Args::parse().step {
        Step::Generate(g) => generate(&g),
        Step::Measure(m) => measure(&m),
    }
}

fn bank() -> Result<Policy> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/bank.toml");
    load_policy(&path).map_err(|e| anyhow::anyhow!("{}: {e:?}", path.display()))
}

// Generating ----------------------------------------------------------------------

fn generate(args: &Generate) -> Result<()> {
    let db = args.dir.join("cases.db");
    if db.exists() {
        bail!("`{}` exists: generate into a new folder", db.display());
    }
    if args.burst > args.cases {
        bail!("--burst {} is more than --cases {}", args.burst, args.cases);
    }
    std::fs::create_dir_all(&args.dir)?;
    let policy = bank()?;
    let store = SqliteStore::open(&db)?;
    // As `redress serve` does at start: keep the version, stamp its (empty) index.
    let version = stored_version(&policy);
    store.save_policy_version(ORG, &version)?;
    store.stamp_index(ORG, &version.hash, &index_stamp(&version.hash), true)?;
    write_config(&args.dir)?;
    let now = Utc::now();
    let at = (now + TimeDelta::minutes(args.burst_in))
        .with_second(0)
        .and_then(|t| t.with_nanosecond(0))
        .context("the burst minute")?;
    let burst = Burst {
        cases: args.cases,
        burst: args.burst,
        at,
        spread_seconds: args.spread,
    };
    std::fs::write(
        args.dir.join("burst.json"),
        serde_json::to_string_pretty(&burst)?,
    )?;
    let started = Instant::now();
    let maker = Maker {
        policy: &policy,
        now,
        burst: &burst,
        quiet_until: at + TimeDelta::seconds(args.spread) + TimeDelta::minutes(30),
        key: ComplainantKey::new(COMPLAINANT_KEY.as_bytes()),
        seed: args.seed,
    };
    let done = AtomicU64::new(0);
    std::thread::scope(|scope| {
        for t in 0..args.threads.max(1) {
            let (maker, store, done) = (&maker, &store, &done);
            scope.spawn(move || maker.write_share(store, t, args.threads.max(1), done, started));
        }
    });
    eprintln!(
        "wrote {} open cases ({} due from {at}) in {:.0} s",
        args.cases,
        args.burst,
        started.elapsed().as_secs_f64()
    );
    drop(store);
    print_sizes(&db, args.cases)
}

fn write_config(dir: &Path) -> Result<()> {
    let config = format!(
        "[[organisations]]\nid = \"{ORG}\"\npolicies = [\"bank-cn\"]\n\
         complainant_key = \"{COMPLAINANT_KEY}\"\n\n\
         [[tokens]]\nname = \"load\"\norganisation = \"{ORG}\"\nrole = \"agent\"\n\
         token = \"{AGENT_TOKEN}\"\n"
    );
    std::fs::write(dir.join("server.toml"), config)?;
    Ok(())
}

/// Decides cases and writes them.
struct Maker<'a> {
    policy: &'a Policy,
    now: DateTime<Utc>,
    burst: &'a Burst,
    /// No other case's next timer falls due before this.
    quiet_until: DateTime<Utc>,
    key: ComplainantKey,
    seed: u64,
}

/// The stages a generated case is left in, with their weights.
const STAGES: [(&str, f64); 4] = [
    ("received", 0.1),
    ("acknowledged", 0.2),
    ("investigating", 0.6),
    ("awaiting_info", 0.1),
];

impl Maker<'_> {
    /// Writes every `threads`-th case from `first`, keeping many writes in flight so
    /// that they share commits.
    fn write_share(
        &self,
        store: &SqliteStore,
        first: usize,
        threads: usize,
        done: &AtomicU64,
        started: Instant,
    ) {
        let mut receipts: std::collections::VecDeque<Receipt> = Default::default();
        for i in (first..self.burst.cases).step_by(threads) {
            let vc = self.case(i);
            receipts.push_back(store.append(self.append(vc)));
            while receipts.len() > 1000 {
                receipts
                    .pop_front()
                    .unwrap()
                    .blocking_recv()
                    .unwrap()
                    .unwrap();
            }
            let n = done.fetch_add(1, Ordering::Relaxed) + 1;
            if n.is_multiple_of(100_000) {
                eprintln!("{n} cases, {:.0} s", started.elapsed().as_secs_f64());
            }
        }
        for r in receipts {
            r.blocking_recv().unwrap().unwrap();
        }
    }

    fn append(&self, vc: VirtualCase<'_>) -> Append {
        let VirtualCase { case, events, .. } = vc;
        Append {
            org: ORG.to_string(),
            summary: summarize(self.policy, &case, self.now, false),
            report: CaseFacts::of(self.policy, &case, Some(&self.key)),
            case,
            events,
            intake_key: None,
            fingerprint: None,
            recorded_at: self.now,
            outbox: Vec::new(),
        }
    }

    /// Case `i`: one of the burst (spread evenly through the ids) or another.
    fn case(&self, i: usize) -> VirtualCase<'_> {
        let (n, k) = (self.burst.cases, self.burst.burst);
        let mut rng = Rng::for_item(self.seed, i as u64);
        let data = complaint(&mut rng);
        if k > 0 && i.is_multiple_of(n / k) && i / (n / k) < k {
            let j = (i / (n / k)) as i64;
            let due = self.burst.at
                + TimeDelta::milliseconds(self.burst.spread_seconds * 1000 * j / k as i64);
            return self.due_at(&format!("D-{i:07}"), data, due);
        }
        let stage = STAGES[rng.weighted(&STAGES.map(|s| s.1)).unwrap_or(2)].0;
        for _ in 0..50 {
            let ago = TimeDelta::seconds((1800.0 + rng.unit() * 13.0 * 86_400.0) as i64);
            let vc = self.walk(
                &format!("C-{i:07}"),
                data.clone(),
                self.now - ago,
                stage,
                self.now,
            );
            if next_due(&vc.case, self.policy).is_none_or(|(at, _)| at > self.quiet_until) {
                return vc;
            }
        }
        panic!("no receipt time keeps case {i}'s timers clear of the measurement")
    }

    /// An investigating case whose next timer (one of its decision clock's warnings)
    /// falls due at `due`, within a millisecond. A warning is not a fixed time after
    /// the receipt (the deadline is the end of a calendar day in Shanghai, so the 50%
    /// warning falls between 00:00 and 12:00 there and the 80% one between 19:12 and
    /// 24:00), but it is never earlier for a later receipt: the receipt is found by
    /// bisection, between one whose warning has fired by `due` and one whose has not,
    /// for the 50% warning and else the 80% one.
    fn due_at(&self, id: &str, data: Data, due: DateTime<Utc>) -> VirtualCase<'_> {
        for percent in [50, 80] {
            let warned_by_due = |received: DateTime<Utc>| {
                let vc = self.walk(id, data.clone(), received, "investigating", due);
                vc.events.iter().any(|e| {
                    matches!(&e.kind, EventKind::Warned { sla, percent: p }
                        if sla == "decision" && *p == percent)
                })
            };
            let (mut early, mut late) = (due - TimeDelta::days(15), due);
            while late - early > TimeDelta::microseconds(1) {
                let mid = early + (late - early) / 2;
                match warned_by_due(mid) {
                    true => early = mid,
                    false => late = mid,
                }
            }
            let vc = self.walk(id, data.clone(), early, "investigating", self.now);
            if let Some((at, _)) = next_due(&vc.case, self.policy)
                && (due - at).abs() <= TimeDelta::milliseconds(1)
            {
                return vc;
            }
        }
        panic!(
            "no bank case's decision warning falls at {due}: choose a burst minute \
             (--burst-in) between 16:00 and 04:00 UTC, or between 11:12 and 16:00 UTC"
        )
    }

    /// A complaint received at `received`, taken to `stage` by agents hours apart,
    /// its clock then run to `until` (now, but for the search in [`Self::due_at`]).
    fn walk(
        &self,
        id: &str,
        data: Data,
        received: DateTime<Utc>,
        stage: &str,
        until: DateTime<Utc>,
    ) -> VirtualCase<'_> {
        let mut vc = VirtualCase::new(self.policy, id, true);
        let intake = CommandKind::Intake {
            received_at: received,
            data,
        };
        vc.send(&EngineCommand::new(intake), received).unwrap();
        let steps: &[&str] = match stage {
            "received" => &[],
            "acknowledged" => &["acknowledge"],
            "investigating" => &["acknowledge", "start_investigation"],
            _ => &["acknowledge", "start_investigation", "request_info"],
        };
        for (n, step) in steps.iter().enumerate() {
            let at = received + TimeDelta::minutes(90 * (n as i64 + 1));
            let event = CommandKind::Event {
                name: step.to_string(),
                data: Data::new(),
            };
            let by = Actor {
                id: Some(format!("agent-{}", id.len() + n)),
                role: Some("agent".into()),
            };
            vc.send(&EngineCommand::new(event).by(by), at.min(until))
                .unwrap();
        }
        vc.advance_to(until);
        vc
    }
}

const SUMMARIES: &[&str] = &[
    "我的信用卡在境外被盗刷了三笔，银行没有及时通知我，请求退还款项",
    "Charged an annual fee on a card I cancelled last year; the branch said it would be refunded but nothing happened",
    "贷款利率在没有通知的情况下被调整，每月还款增加了两百元",
    "The app logged me out during a transfer and the money left my account twice",
    "理财产品的风险等级与销售人员介绍的不一致，亏损严重",
    "Possible scam call claiming to be the bank asked for my verification code",
];
const CATEGORIES: [&str; 8] = [
    "fees", "fraud", "cards", "loans", "deposits", "wealth", "service", "privacy",
];
const CHANNELS: [&str; 6] = ["phone", "email", "web", "branch", "letter", "regulator"];
const SURNAMES: [&str; 8] = ["王", "李", "张", "刘", "陈", "杨", "赵", "黄"];
const GIVEN: [&str; 8] = ["伟", "芳", "娜", "敏", "静", "强", "磊", "洋"];

/// A bank complaint's fields, as a contact centre keys them in.
fn complaint(rng: &mut Rng) -> Data {
    let digits = |rng: &mut Rng, n: usize| -> String {
        (0..n)
            .map(|_| char::from(b'0' + rng.below(10) as u8))
            .collect()
    };
    let mut data = json!({
        "category": CATEGORIES[rng.below(CATEGORIES.len())],
        "summary": SUMMARIES[rng.below(SUMMARIES.len())],
        "channel": CHANNELS[rng.below(CHANNELS.len())],
        "amount": format!("{:.2}", rng.log_normal(800.0, 1.5)),
        "name": format!("{}{}", SURNAMES[rng.below(8)], GIVEN[rng.below(8)]),
        "phone": format!("13{}", digits(rng, 9)),
        "id_number": format!("110105{}", digits(rng, 12)),
    });
    if rng.chance(0.05) {
        data["vulnerable"] = Value::Bool(true);
    }
    data.as_object().cloned().unwrap_or_default()
}

/// Prints the bytes a case takes in the database: its snapshot, its events, its
/// report facts, and the whole file.
fn print_sizes(db: &Path, cases: usize) -> Result<()> {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let one = |sql: &str| -> Result<f64> { Ok(conn.query_row(sql, [], |r| r.get(0))?) };
    let file: u64 = std::fs::metadata(db)?.len()
        + std::fs::metadata(db.with_extension("db-wal")).map_or(0, |m| m.len());
    let sizes = json!({
        "cases": cases,
        "snapshot_bytes_mean": one("SELECT AVG(LENGTH(snapshot)) FROM cases")?.round(),
        "snapshot_bytes_max": one("SELECT MAX(LENGTH(snapshot)) FROM cases")?,
        "event_bytes_per_case": (one("SELECT SUM(LENGTH(event)) FROM events")? / cases as f64).round(),
        "events_per_case": one("SELECT COUNT(*) * 1.0 FROM events")? / cases as f64,
        "report_bytes_per_case": (one("SELECT SUM(LENGTH(facts)) FROM case_reports")? / cases as f64).round(),
        "database_bytes_per_case": (file as f64 / cases as f64).round(),
    });
    println!("{}", serde_json::to_string_pretty(&sizes)?);
    Ok(())
}

// Measuring -----------------------------------------------------------------------

/// A running `redress serve`, stopped (SIGTERM, then waited for) when dropped.
struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let _ = self.child.wait();
    }
}

fn measure(args: &Measure) -> Result<()> {
    let burst: Burst = serde_json::from_str(
        &std::fs::read_to_string(args.dir.join("burst.json")).context("burst.json")?,
    )?;
    let start_notes = burst.at - TimeDelta::seconds(30);
    if !args.ready_only && Utc::now() > start_notes - TimeDelta::seconds(10) {
        bail!(
            "the burst at {} is too close or past: generate again",
            burst.at
        );
    }
    let http = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let (server, ready) = start(args, &http)?;
    let peak = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = watch_memory(server.child.id(), peak.clone(), stop.clone());
    let index = metrics(&http, &server.base)?;
    let mut report = json!({
        "ready_seconds": ready,
        "due_index_stale_versions": sample(&index, "redress_due_index_stale_versions"),
        "load_average_at_start": load_average(),
    });
    if !args.ready_only {
        wait_until(start_notes);
        let end = burst.at + TimeDelta::seconds(burst.spread_seconds + 30);
        let notes = send_notes(&http, &server.base, args.rate, &burst, end);
        wait_for_timers(
            &http,
            &server.base,
            burst.burst,
            end + TimeDelta::seconds(120),
        )?;
        let after = metrics(&http, &server.base)?;
        report["timers"] = lags(&args.dir.join("cases.db"), &after, start_notes)?;
        report["notes"] = split_notes(
            &notes,
            burst.at,
            burst.at + TimeDelta::seconds(burst.spread_seconds + 2),
        );
        report["cached_cases"] = json!(sample(&after, "redress_cached_cases"));
        report["load_average_at_end"] = json!(load_average());
    }
    stop.store(true, Ordering::Relaxed);
    let _ = watcher.join();
    report["peak_rss_mib"] = json!(peak.load(Ordering::Relaxed) / 1024);
    drop(server);
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

/// Spawns the server and times it until `/healthz` answers 200.
fn start(args: &Measure, http: &reqwest::blocking::Client) -> Result<(Server, f64)> {
    let log = std::fs::File::create(args.dir.join("server.log"))?;
    // The server runs in the folder: a relative path to the binary is made absolute.
    let redress = std::fs::canonicalize(&args.redress)
        .with_context(|| format!("no `{}`", args.redress.display()))?;
    let spawned = Instant::now();
    let child = Command::new(&redress)
        .args(["serve", "--listen", &args.listen, "--config", "server.toml"])
        .args(["--database", "sqlite://cases.db"])
        .arg("--policies")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("policies"))
        .env("RUST_LOG", "info")
        .current_dir(&args.dir)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .with_context(|| format!("cannot run `{}`", args.redress.display()))?;
    let server = Server {
        child,
        base: format!("http://{}", args.listen),
    };
    let health = format!("{}/healthz", server.base);
    while spawned.elapsed() < Duration::from_secs(120) {
        if http.get(&health).send().is_ok_and(|r| r.status() == 200) {
            return Ok((server, spawned.elapsed().as_secs_f64()));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    bail!("the server did not answer /healthz within 120 s (see server.log)")
}

/// Samples the process's peak resident set (`VmHWM`, KiB) until told to stop.
fn watch_memory(
    pid: u32,
    peak: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
            let hwm = status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok());
            if let Some(kib) = hwm {
                peak.fetch_max(kib, Ordering::Relaxed);
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    })
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .trim()
        .to_string()
}

fn wait_until(at: DateTime<Utc>) {
    if let Ok(wait) = (at - Utc::now()).to_std() {
        std::thread::sleep(wait);
    }
}

/// One note: when it was sent, how long until its answer, and whether it was 200.
type Note = (DateTime<Utc>, f64, bool);

/// Sends `rate` notes a second to random cases that are not in the burst, from four
/// threads, until `end`.
fn send_notes(
    http: &reqwest::blocking::Client,
    base: &str,
    rate: u64,
    burst: &Burst,
    end: DateTime<Utc>,
) -> Vec<Note> {
    let (cases, step) = (burst.cases, burst.cases / burst.burst.max(1));
    let notes = Mutex::new(Vec::new());
    let workers = 4;
    let gap = Duration::from_secs_f64(workers as f64 / rate.max(1) as f64);
    std::thread::scope(|scope| {
        for w in 0..workers {
            let notes = &notes;
            scope.spawn(move || {
                let mut rng = Rng::for_item(99, w as u64);
                let mut next = Instant::now() + gap.mul_f64(w as f64 / workers as f64);
                while Utc::now() < end {
                    std::thread::sleep(next.saturating_duration_since(Instant::now()));
                    next += gap;
                    let i = rng.below(cases);
                    // The burst's cases are every `step`-th; notes go to the others.
                    let id = format!(
                        "C-{:07}",
                        if i.is_multiple_of(step) {
                            (i + 1) % cases
                        } else {
                            i
                        }
                    );
                    let sent = Utc::now();
                    let clock = Instant::now();
                    let answer = http
                        .post(format!("{base}/v1/cases/{id}/events"))
                        .bearer_auth(AGENT_TOKEN)
                        .header("Prefer", "return=minimal")
                        .json(&json!({ "note": "called the complainant back" }))
                        .send();
                    let ok = answer.is_ok_and(|r| r.status() == 200);
                    let seconds = clock.elapsed().as_secs_f64();
                    notes.lock().unwrap().push((sent, seconds, ok));
                }
            });
        }
    });
    notes.into_inner().unwrap()
}

/// Waits until the server has fired `count` warnings, or `deadline`.
fn wait_for_timers(
    http: &reqwest::blocking::Client,
    base: &str,
    count: usize,
    deadline: DateTime<Utc>,
) -> Result<()> {
    while Utc::now() < deadline {
        let text = metrics(http, base)?;
        let fired = text
            .lines()
            .find_map(|l| l.strip_prefix(r#"redress_timers_fired_total{timer="warning"} "#))
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0);
        if fired >= count as f64 {
            return Ok(());
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    bail!("not every burst timer fired by {deadline}")
}

fn metrics(http: &reqwest::blocking::Client, base: &str) -> Result<String> {
    Ok(http.get(format!("{base}/metrics")).send()?.text()?)
}

/// A metric without labels.
fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

/// The timers' lag: the histogram's count, mean and the bucket holding its 99th
/// percentile; and exactly, from the warnings written since `since`.
fn lags(db: &Path, text: &str, since: DateTime<Utc>) -> Result<Value> {
    let count = sample(text, "redress_timer_lag_seconds_count").unwrap_or(0.0);
    let sum = sample(text, "redress_timer_lag_seconds_sum").unwrap_or(0.0);
    let p99_bucket = text
        .lines()
        .filter_map(|l| l.strip_prefix("redress_timer_lag_seconds_bucket{le=\""))
        .filter_map(|l| l.split_once("\"} "))
        .find(|(_, n)| n.parse::<f64>().is_ok_and(|n| n >= 0.99 * count))
        .map(|(le, _)| le.to_string());
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let mut statement = conn.prepare(
        "SELECT (recorded_at - at) / 1e6 FROM events WHERE kind = 'warned' AND recorded_at >= ?1",
    )?;
    let mut exact: Vec<f64> = statement
        .query_map([since.timestamp_micros()], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    exact.sort_by(f64::total_cmp);
    Ok(json!({
        "histogram": {"count": count, "mean_seconds": sum / count.max(1.0), "p99_at_most_seconds": p99_bucket},
        "written": {"count": exact.len(), "p50_seconds": quantile(&exact, 0.5),
                    "p99_seconds": quantile(&exact, 0.99), "max_seconds": exact.last()},
    }))
}

fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    let last = sorted.len().checked_sub(1)?;
    sorted.get(((last as f64) * q).round() as usize).copied()
}

/// The notes' latency in milliseconds, during `[from, to)` and outside it.
fn split_notes(notes: &[Note], from: DateTime<Utc>, to: DateTime<Utc>) -> Value {
    let summary = |during: bool| {
        let mut ms: Vec<f64> = notes
            .iter()
            .filter(|(sent, _, _)| (*sent >= from && *sent < to) == during)
            .map(|(_, s, _)| s * 1000.0)
            .collect();
        ms.sort_by(f64::total_cmp);
        let failed = notes
            .iter()
            .filter(|(sent, _, ok)| !ok && (*sent >= from && *sent < to) == during)
            .count();
        json!({"count": ms.len(), "failed": failed, "p50_ms": quantile(&ms, 0.5),
               "p99_ms": quantile(&ms, 0.99), "max_ms": ms.last()})
    };
    json!({"during_burst": summary(true), "outside_burst": summary(false)})
}
