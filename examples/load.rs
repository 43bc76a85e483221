//! A load generator for `redress serve` (issue #7): acknowledged durable events per
//! second over HTTP, with the latency of each request.
//!
//! It files `--cases` complaints on `--policy` (the required fields are read from
//! `GET /v1/policies/{id}` and filled with valid values), then for `--seconds` runs
//! `--concurrency` workers, each sending `{"note": "..."}` commands to the cases in
//! turn, every one with its own `Idempotency-Key`. A note is a real event: decided,
//! applied and written durably before the server answers `200`, so only `200`
//! answers count. At the end it prints one JSON summary (requests, errors by
//! status, events per second, latency percentiles, the server's own figures from
//! `/metrics`) and one human line.
//!
//! On a fresh database, from the repository (the server runs in a scratch folder, so
//! that the `redress-server.toml` it writes on first run, with one development token
//! per role, lands there and not in the checkout; the notes use the `agent` token):
//!
//! ```console
//! cargo build --release --bin redress --example load
//! REPO=$PWD; mkdir -p /tmp/redress-load && cd /tmp/redress-load && rm -f load.db* redress-server.toml
//! $REPO/target/release/redress serve --policies $REPO/policies \
//!     --database sqlite:///tmp/redress-load/load.db --listen 127.0.0.1:8181 &
//! sleep 1; TOKEN=$(grep -o 'dev-agent-[0-9a-f]*' redress-server.toml); cd $REPO
//! ./target/release/examples/load --url http://127.0.0.1:8181 --token "$TOKEN" \
//!     --cases 200 --concurrency 32 --seconds 20 --policy retail
//! kill %1
//! ```
//!
//! Each note asks for a short answer (`Prefer: return=minimal`), as an integrator
//! sending at volume would; `--full` asks for the whole case view instead.
//! `--no-keys` sends the notes without an `Idempotency-Key`, to see what the keys
//! cost the server (each case keeps every key it has seen).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use chrono::{SecondsFormat, Utc};
use clap::Parser;
use serde_json::{Map, Value, json};

/// Load generator for `redress serve`: durable note events per second over HTTP.
#[derive(Debug, Parser)]
#[command(name = "load")]
struct Args {
    /// The server's base address; several, comma-separated, share the notes out
    /// (nodes on one PostgreSQL): complaints are filed and metrics read on the first.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// A bearer token allowed to file complaints and write notes (the `agent` one).
    #[arg(long)]
    token: String,
    /// Complaints to file before the run; the notes go to them in turn.
    #[arg(long, default_value_t = 200)]
    cases: usize,
    /// Requests in flight at once (one worker each).
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// How long to send notes for, in seconds.
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// The policy to file the complaints on.
    #[arg(long, default_value = "retail")]
    policy: String,
    /// Send the notes without an `Idempotency-Key` header.
    #[arg(long)]
    no_keys: bool,
    /// Ask for the full case in each answer instead of `Prefer: return=minimal`.
    #[arg(long)]
    full: bool,
}

/// What one worker saw.
#[derive(Default)]
struct Tally {
    /// Latency of each `200` answer, in microseconds.
    ok: Vec<u32>,
    /// Other answers by status (`transport` for no answer at all).
    errors: BTreeMap<String, u64>,
    /// The first few error bodies, to say why.
    samples: Vec<String>,
}

impl Tally {
    fn error(&mut self, status: String, body: String) {
        *self.errors.entry(status.clone()).or_default() += 1;
        if self.samples.len() < 3 {
            self.samples.push(format!(
                "{status}: {}",
                body.chars().take(300).collect::<String>()
            ));
        }
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    if args.cases == 0 || args.concurrency == 0 || args.seconds == 0 {
        bail!("--cases, --concurrency and --seconds must be at least 1");
    }
    let bases: Vec<String> = args
        .url
        .split(',')
        .map(|u| u.trim().trim_end_matches('/').to_string())
        .collect();
    let base = bases[0].clone();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency * 2)
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(30))
        .build()?;
    let auth = format!("Bearer {}", args.token);
    let run = Utc::now().timestamp_micros();

    let data = intake_data(&client, &base, &auth, &args.policy).await?;
    let filing = Instant::now();
    let cases = file_cases(&client, &base, &auth, &args, &data, run).await?;
    eprintln!(
        "filed {} `{}` complaints in {:.1} s; sending notes for {} s with {} in flight",
        cases.len(),
        args.policy,
        filing.elapsed().as_secs_f64(),
        args.seconds,
        args.concurrency
    );

    let before = metrics(&client, &base).await;
    let cpu_before = cpu_seconds();
    let cases = Arc::new(cases);
    let turn = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.seconds);
    let mut workers = Vec::with_capacity(args.concurrency);
    for worker in 0..args.concurrency {
        let base = bases[worker % bases.len()].clone();
        let (client, auth) = (client.clone(), auth.clone());
        let (cases, turn, keys) = (cases.clone(), turn.clone(), !args.no_keys);
        let full = args.full;
        workers.push(tokio::spawn(async move {
            let mut tally = Tally::default();
            let mut n = 0u64;
            while Instant::now() < deadline {
                let i = turn.fetch_add(1, Ordering::Relaxed);
                let case = &cases[i % cases.len()];
                let mut request = client
                    .post(format!("{base}/v1/cases/{case}/events"))
                    .header("authorization", &auth)
                    .json(&json!({ "note": format!("load note {i} from worker {worker}") }));
                if keys {
                    request = request.header("idempotency-key", format!("load-{run}-{worker}-{n}"));
                }
                if !full {
                    request = request.header("prefer", "return=minimal");
                }
                n += 1;
                let sent = Instant::now();
                match request.send().await {
                    Ok(response) => {
                        let status = response.status();
                        let body = response.text().await;
                        let micros = sent.elapsed().as_micros().min(u32::MAX as u128) as u32;
                        match (status.as_u16(), body) {
                            (200, Ok(_)) => tally.ok.push(micros),
                            (_, Ok(body)) => tally.error(status.as_u16().to_string(), body),
                            (_, Err(e)) => tally.error("transport".into(), e.to_string()),
                        }
                    }
                    Err(e) => tally.error("transport".into(), e.to_string()),
                }
            }
            tally
        }));
    }
    let mut total = Tally::default();
    for worker in workers {
        let tally = worker.await?;
        total.ok.extend(tally.ok);
        for (status, count) in tally.errors {
            *total.errors.entry(status).or_default() += count;
        }
        total.samples.extend(
            tally
                .samples
                .into_iter()
                .take(3 - total.samples.len().min(3)),
        );
    }
    let elapsed = started.elapsed().as_secs_f64();
    let client_cpu = cpu_before
        .zip(cpu_seconds())
        .map(|(before, after)| after - before);
    let after = metrics(&client, &base).await;

    let summary = summarize(&args, total, elapsed, client_cpu, before, after);
    println!("{}", serde_json::to_string_pretty(&summary)?);
    println!("{}", human(&summary));
    Ok(())
}

/// Valid intake data for the policy: each required field with a value of its type.
async fn intake_data(
    client: &reqwest::Client,
    base: &str,
    auth: &str,
    policy: &str,
) -> Result<Value> {
    let response = client
        .get(format!("{base}/v1/policies/{policy}"))
        .header("authorization", auth)
        .send()
        .await
        .with_context(|| format!("cannot reach the server at {base}"))?;
    let status = response.status();
    let body: Value = response.json().await.context("the policy is not JSON")?;
    if !status.is_success() {
        bail!("GET /v1/policies/{policy} answered {status}: {body}");
    }
    let now = Utc::now();
    let mut data = Map::new();
    let fields = body["fields"].as_array().cloned().unwrap_or_default();
    for field in fields.iter().filter(|f| f["required"] == json!(true)) {
        let name = field["name"].as_str().unwrap_or_default().to_string();
        let value = match field["type"].as_str().unwrap_or_default() {
            "enum" => match field["values"].get(0) {
                Some(first) => first.clone(),
                None => bail!("required enum field `{name}` has no values"),
            },
            "text" => json!("Load test complaint"),
            "money" => json!("10.00"),
            "bool" => json!(false),
            "integer" => json!(1),
            "date" => json!(now.date_naive().to_string()),
            "datetime" => json!(now.to_rfc3339_opts(SecondsFormat::Secs, true)),
            other => bail!("required field `{name}` has a type this tool does not know: {other}"),
        };
        data.insert(name, value);
    }
    Ok(Value::Object(data))
}

/// Files the complaints, `--concurrency` at a time; answers their ids.
async fn file_cases(
    client: &reqwest::Client,
    base: &str,
    auth: &str,
    args: &Args,
    data: &Value,
    run: i64,
) -> Result<Vec<String>> {
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..args.concurrency.min(args.cases) {
        let (client, next) = (client.clone(), next.clone());
        let (base, auth, count) = (base.to_string(), auth.to_string(), args.cases);
        let body = json!({ "policy": args.policy, "data": data });
        tasks.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count {
                    return Ok::<_, anyhow::Error>(ids);
                }
                let response = client
                    .post(format!("{base}/v1/cases"))
                    .header("authorization", &auth)
                    .header("idempotency-key", format!("load-{run}-intake-{i}"))
                    .json(&body)
                    .send()
                    .await?;
                let status = response.status();
                let answer: Value = response.json().await?;
                match answer["case"]["id"].as_str() {
                    Some(id) if status.is_success() => ids.push(id.to_string()),
                    _ => bail!("POST /v1/cases answered {status}: {answer}"),
                }
            }
        }));
    }
    let mut ids = Vec::with_capacity(args.cases);
    for task in tasks {
        ids.extend(task.await??);
    }
    ids.sort();
    Ok(ids)
}

/// The server's `/metrics`, or nothing when it does not answer.
async fn metrics(client: &reqwest::Client, base: &str) -> Option<String> {
    let response = client.get(format!("{base}/metrics")).send().await.ok()?;
    response.text().await.ok()
}

/// The sum of the samples named `name` whose labels contain each of `labels`.
fn sample(text: &str, name: &str, labels: &[&str]) -> Option<f64> {
    let mut found = None;
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let (metric, rest) = series.split_once('{').unwrap_or((series, ""));
        if metric != name || !labels.iter().all(|l| rest.contains(l)) {
            continue;
        }
        if let Ok(v) = value.trim().parse::<f64>() {
            *found.get_or_insert(0.0) += v;
        }
    }
    found
}

/// A histogram's change between two scrapes: count, mean and the bucket bound that
/// holds each quantile, in milliseconds.
fn histogram(before: &str, after: &str, name: &str, labels: &[&str]) -> Option<Value> {
    let delta = |suffix: &str, extra: &[&str]| -> Option<f64> {
        let all: Vec<&str> = labels.iter().chain(extra).copied().collect();
        let metric = format!("{name}{suffix}");
        let a = sample(after, &metric, &all)?;
        Some(a - sample(before, &metric, &all).unwrap_or(0.0))
    };
    let count = delta("_count", &[])?;
    let sum = delta("_sum", &[])?;
    if count <= 0.0 {
        return None;
    }
    let mut bounds: Vec<(f64, String)> = after
        .lines()
        .filter(|l| l.starts_with(&format!("{name}_bucket{{")))
        .filter(|l| labels.iter().all(|x| l.contains(x)))
        .filter_map(|l| {
            let le = l.split("le=\"").nth(1)?.split('"').next()?;
            Some((le.parse::<f64>().unwrap_or(f64::INFINITY), le.to_string()))
        })
        .collect();
    bounds.sort_by(|a, b| a.0.total_cmp(&b.0));
    bounds.dedup_by(|a, b| a.1 == b.1);
    let at_most = |q: f64| -> Value {
        for (bound, le) in &bounds {
            let le_label = format!("le=\"{le}\"");
            if delta("_bucket", &[le_label.as_str()]).is_some_and(|n| n >= q * count) {
                return match bound.is_finite() {
                    true => json!(bound * 1000.0),
                    false => json!("+Inf"),
                };
            }
        }
        Value::Null
    };
    Some(json!({
        "count": count,
        "mean_ms": round(sum / count * 1000.0),
        "p50_at_most_ms": at_most(0.5),
        "p99_at_most_ms": at_most(0.99),
    }))
}

/// This process's CPU time (user and system, every thread), from `/proc` on Linux.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after_name = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // Fields 14 and 15 of the file (utime, stime) in ticks of 1/100 s.
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

fn round(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn percentile(sorted: &[u32], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    round(f64::from(sorted[rank - 1]) / 1000.0)
}

fn summarize(
    args: &Args,
    mut tally: Tally,
    elapsed: f64,
    client_cpu: Option<f64>,
    before: Option<String>,
    after: Option<String>,
) -> Value {
    tally.ok.sort_unstable();
    let ok = tally.ok.len();
    let errors: u64 = tally.errors.values().sum();
    let server = match (&before, &after) {
        (Some(before), Some(after)) => {
            let events = sample(after, "redress_events_written_total", &[])
                .map(|a| a - sample(before, "redress_events_written_total", &[]).unwrap_or(0.0));
            json!({
                "events_written": events,
                "store_write": histogram(before, after, "redress_store_write_seconds", &[]),
                "note_request": histogram(
                    before,
                    after,
                    "redress_http_request_duration_seconds",
                    &["method=\"POST\"", "route=\"/v1/cases/{id}/events\""],
                ),
                "write_conflicts": sample(after, "redress_write_conflicts_total", &[]),
            })
        }
        _ => Value::Null,
    };
    json!({
        "url": args.url,
        "policy": args.policy,
        "cases": args.cases,
        "concurrency": args.concurrency,
        "idempotency_keys": !args.no_keys,
        "full_answers": args.full,
        "seconds": round(elapsed),
        "requests_ok": ok,
        "errors": tally.errors,
        "error_samples": tally.samples,
        "requests_total": ok as u64 + errors,
        "events_per_second": round(ok as f64 / elapsed),
        "latency_ms": {
            "p50": percentile(&tally.ok, 0.50),
            "p90": percentile(&tally.ok, 0.90),
            "p99": percentile(&tally.ok, 0.99),
            "max": percentile(&tally.ok, 1.0),
        },
        "client_cpu_seconds": client_cpu.map(round),
        "server": server,
    })
}

fn human(s: &Value) -> String {
    let l = &s["latency_ms"];
    let mut line = format!(
        "{} events/s ({} ok, {} errors, {} s, {} in flight); latency ms p50 {} p90 {} p99 {} max {}",
        s["events_per_second"],
        s["requests_ok"],
        s["requests_total"].as_u64().unwrap_or(0) - s["requests_ok"].as_u64().unwrap_or(0),
        s["seconds"],
        s["concurrency"],
        l["p50"],
        l["p90"],
        l["p99"],
        l["max"],
    );
    let write = &s["server"]["store_write"];
    if !write.is_null() {
        line.push_str(&format!(
            "; server: durable write mean {} ms (p99 <= {} ms), note request mean {} ms",
            write["mean_ms"], write["p99_at_most_ms"], s["server"]["note_request"]["mean_ms"]
        ));
    }
    let target = s["events_per_second"].as_f64().unwrap_or(0.0) > 5000.0
        && l["p99"].as_f64().unwrap_or(f64::MAX) < 20.0;
    line.push_str(match target {
        true => "; target (>5000 events/s, p99 <20 ms) met",
        false => "; target (>5000 events/s, p99 <20 ms) NOT met",
    });
    line
}
