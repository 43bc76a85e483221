//! `redress replay --policy P EVENTS.jsonl`: back-test recorded events on a policy.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::BufReader;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use redress_engine::runtime::replay::{
    LastLines, ReplayOptions, Summary, last_lines, replay_reader,
};

use super::output::{Stdout, eprint, load_or_report};
use super::progress::Progress;
use super::{Context, Format};
use crate::exit_status::ExitStatus;

/// Arguments of `redress replay`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The policy to replay on.
    #[arg(long)]
    policy: PathBuf,
    /// Events as JSON lines (`-` for standard input).
    events: PathBuf,
    /// Worker threads (default: every core).
    #[arg(long)]
    threads: Option<usize>,
    /// Run the clocks to this instant at the end (default: the last event's).
    #[arg(long)]
    until: Option<DateTime<Utc>>,
    /// Output format (`json`: the summary as one JSON document).
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

pub fn run(args: Args, context: Context) -> anyhow::Result<ExitStatus> {
    let Some(policy) = load_or_report(&args.policy, args.format, context)? else {
        return Ok(ExitStatus::Problems);
    };
    let mut options = ReplayOptions::default();
    if let Some(threads) = args.threads {
        options.threads = threads;
    }
    options.until = args.until;
    let progress = Progress::new("replaying", None);
    let summary = if args.events.as_os_str() == "-" {
        let stdin = std::io::stdin().lock();
        replay_reader(&policy, stdin, &options, &|n| progress.set(n))
    } else {
        options.last_lines = Some(last_lines_of(&args.events)?);
        let file = std::fs::File::open(&args.events)
            .with_context(|| format!("cannot read `{}`", args.events.display()))?;
        let reader = BufReader::with_capacity(1 << 20, file);
        replay_reader(&policy, reader, &options, &|n| progress.set(n))
    };
    progress.finish();
    let mut warnings = String::new();
    for skipped in &summary.skipped.lines {
        let _ = writeln!(
            warnings,
            "warning: line {}: skipped: {}",
            skipped.line, skipped.reason
        );
    }
    eprint(&warnings);
    print_summary(&summary, args.format)?;
    Ok(ExitStatus::Success)
}

/// Prints a replay's (or simulation's) summary in the chosen format.
pub fn print_summary(summary: &Summary, format: Format) -> anyhow::Result<()> {
    match format {
        Format::Json => Stdout::json(summary),
        Format::Human => Ok(Stdout::print(&summary_text(summary))?),
    }
}

/// The summary for people: one line per kind of count.
fn summary_text(s: &Summary) -> String {
    let p = &s.policy;
    let e = &s.events;
    let mut out = format!(
        "policy `{}` version {} (hash {})\n",
        p.id,
        p.version,
        &p.hash[..12.min(p.hash.len())]
    );
    let refused: u64 = e.refused.values().sum();
    let _ = writeln!(out, "cases:    {}", s.cases);
    let _ = writeln!(
        out,
        "events:   {} read, {} accepted, {refused} refused, {} timers fired, {} recorded",
        e.read, e.accepted, e.timers, e.recorded
    );
    let _ = writeln!(out, "stages:   {}", counts(&s.by_stage));
    let _ = writeln!(out, "queues:   {}", counts(&s.by_queue));
    if refused > 0 {
        let _ = writeln!(out, "refused:  {}", counts(&e.refused));
    }
    for (name, c) in &s.slas {
        let _ = writeln!(
            out,
            "sla `{name}`: {} met, {} missed, {} breached, {} running, {} paused, {} not started",
            c.met, c.missed, c.breached, c.running, c.paused, c.not_started
        );
    }
    if s.skipped.count > 0 {
        let _ = writeln!(out, "skipped:  {} lines", s.skipped.count);
    }
    if let Some(until) = s.until {
        let _ = writeln!(out, "until:    {}", until.to_rfc3339());
    }
    let _ = writeln!(
        out,
        "took:     {:.2}s ({} lines/s, {} µs per line)",
        s.elapsed_seconds, s.lines_per_second, s.microseconds_per_line
    );
    out
}

/// `a 3, b 1`, or `(none)`.
fn counts(counts: &BTreeMap<String, u64>) -> String {
    if counts.is_empty() {
        return "(none)".to_string();
    }
    let items: Vec<String> = counts.iter().map(|(k, n)| format!("{k} {n}")).collect();
    items.join(", ")
}

/// Each case's last line in the event file at `path`, read ahead of its replay so
/// that cases closed by a timer after their last line are dropped as they close
/// (standard input cannot be read twice, so its cases are held to the end).
pub(crate) fn last_lines_of(path: &std::path::Path) -> anyhow::Result<Arc<LastLines>> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot read `{}`", path.display()))?;
    Ok(Arc::new(last_lines(BufReader::with_capacity(
        1 << 20,
        file,
    ))))
}
