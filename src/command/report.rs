//! `redress report`: the figures of a period over an event file (`--events FILE
//! --policy P`) or a store (`--database URL`), as JSON, CSV, an HTML bulletin, or a
//! regulator's return. The figures are the engine's ([`redress_engine::report`]);
//! this file only reads arguments and facts and prints.

use std::io::BufReader;
use std::path::PathBuf;

use anyhow::{Context, bail};
use chrono::NaiveDate;
use clap::ValueEnum;
use redress_engine::policy::{Dimension, Policy, load_policy};
use redress_engine::report::{
    self, CaseFacts, ComplainantKey, Period, Report, ReportBuilder, bulletin, returns::Return,
};
use redress_engine::runtime::replay::ReplayOptions;
use redress_store::Store;

use crate::exit_status::{ExitStatus, UsageError};

/// Arguments of `redress report`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The policy reported on (with `--events`: the file to replay on; with
    /// `--database`: the policy file whose id selects the cases and whose labels the
    /// report uses).
    #[arg(long)]
    policy: PathBuf,
    /// Events as JSON lines (as `redress replay` reads them, `simulate --emit` writes them).
    #[arg(long, conflicts_with = "database")]
    events: Option<PathBuf>,
    /// A store: `sqlite://FILE` or `postgres://USER@HOST:PORT/DB` (as `serve` takes).
    #[arg(long, required_unless_present = "events")]
    database: Option<String>,
    /// The organisation whose cases a store report covers.
    #[arg(long, default_value = "demo")]
    org: String,
    /// A named period in the policy's time zone: `2026-11`, `2026-Q4`, `2026-H2`, `2026`.
    #[arg(long, conflicts_with_all = ["from", "to"], required_unless_present_all = ["from", "to"])]
    period: Option<String>,
    /// The first day of the period (`2026-10-01`), with `--to`.
    #[arg(long, requires = "to")]
    from: Option<NaiveDate>,
    /// The last day of the period, included.
    #[arg(long, requires = "from")]
    to: Option<NaiveDate>,
    /// Group by these dimensions: `queue`, `category`, `product`, `channel`,
    /// `department`, `root_cause`, `outcome` (comma-separated).
    #[arg(long, value_delimiter = ',')]
    by: Vec<Dimension>,
    /// How to print the report.
    #[arg(long, value_enum, default_value_t = ReportFormat::Json)]
    format: ReportFormat,
    /// Print a regulator's return instead (CSV): `fca-disp1`, `cn-consumer`.
    #[arg(long = "return", conflicts_with_all = ["by", "format"])]
    regulator_return: Option<Return>,
    /// The secret complainants' identities are hashed with, to count repeat
    /// complainants (never printed); without it they are not counted.
    #[arg(long, env = "REDRESS_COMPLAINANT_KEY", hide_env_values = true)]
    complainant_key: Option<String>,
    /// Worker threads replaying `--events` (default: every core).
    #[arg(long)]
    threads: Option<usize>,
}

/// The shapes a report is printed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ReportFormat {
    /// The documented JSON shape (`docs/reporting.md`).
    Json,
    /// One row per group.
    Csv,
    /// A self-contained, printable bulletin with charts.
    Html,
}

pub fn run(args: Args) -> anyhow::Result<ExitStatus> {
    let policy = load_policy(&args.policy).map_err(|e| anyhow::anyhow!("{e}"))?;
    let usage = |e: report::ReportError| UsageError(e.to_string());
    let period = period(&args, &policy)?;
    let by = match args.regulator_return {
        Some(r) => r.by(&policy).map_err(usage)?,
        None => args.by.clone(),
    };
    let key = args
        .complainant_key
        .as_deref()
        .map(|k| ComplainantKey::new(k.as_bytes()));
    let mut builder = ReportBuilder::new(&policy, period, by, key.is_some()).map_err(usage)?;
    match (&args.events, &args.database) {
        (Some(events), _) => from_events(&args, events, key.as_ref(), &mut builder)?,
        (None, Some(url)) => from_store(url, &args.org, policy.id(), &mut builder)?,
        (None, None) => bail!(UsageError(
            "give `--events FILE` or `--database URL`".into()
        )),
    }
    let report = builder.finish();
    print(&args, &policy, &report)?;
    Ok(ExitStatus::Success)
}

fn period(args: &Args, policy: &Policy) -> anyhow::Result<Period> {
    let tz = policy.timezone();
    let period = match (&args.period, args.from, args.to) {
        (Some(name), _, _) => Period::named(name, tz),
        (None, Some(from), Some(to)) => Period::dates(from, to, tz),
        _ => bail!(UsageError(
            "give `--period 2026-Q4` or `--from DATE --to DATE`".into()
        )),
    };
    Ok(period.map_err(|e| UsageError(e.to_string()))?)
}

fn from_events(
    args: &Args,
    events: &PathBuf,
    key: Option<&ComplainantKey>,
    builder: &mut ReportBuilder<'_>,
) -> anyhow::Result<()> {
    let mut options = ReplayOptions::default();
    if let Some(threads) = args.threads {
        options.threads = threads;
    }
    options.last_lines = Some(super::replay::last_lines_of(events)?);
    let file = std::fs::File::open(events)
        .with_context(|| format!("cannot read `{}`", events.display()))?;
    let reader = BufReader::with_capacity(1 << 20, file);
    let summary = report::report_events(builder, reader, &options, key);
    for skipped in &summary.skipped.lines {
        eprintln!(
            "warning: line {}: skipped: {}",
            skipped.line, skipped.reason
        );
    }
    Ok(())
}

fn from_store(
    url: &str,
    org: &str,
    policy_id: &str,
    builder: &mut ReportBuilder<'_>,
) -> anyhow::Result<()> {
    let store: std::sync::Arc<dyn Store> =
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            redress_server::open_store(url)?
        } else {
            let path = url.strip_prefix("sqlite://").with_context(|| {
                format!("`{url}` is not a `sqlite://FILE` or `postgres://...` URL")
            })?;
            if !std::path::Path::new(path).exists() {
                bail!("no database at `{path}`");
            }
            std::sync::Arc::new(redress_store::SqliteStore::open(path)?)
        };
    let (from, to) = builder.window();
    let mut add = |facts: CaseFacts| builder.add(&facts);
    store.report_facts(org, policy_id, from, to, &mut add)?;
    Ok(())
}

fn print(args: &Args, policy: &Policy, report: &Report) -> anyhow::Result<()> {
    let text = match (args.regulator_return, args.format) {
        (Some(r), _) => r.render(report)?,
        (None, ReportFormat::Json) => serde_json::to_string_pretty(report)? + "\n",
        (None, ReportFormat::Csv) => report::csv::render(report)?,
        (None, ReportFormat::Html) => bulletin::render(policy, report),
    };
    print!("{text}");
    Ok(())
}
