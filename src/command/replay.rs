//! `redress replay --policy P EVENTS.jsonl`: back-test recorded events on a policy.

use std::io::BufReader;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use chrono::{DateTime, Utc};
use redress_engine::policy::load_policy;
use redress_engine::runtime::replay::{ReplayOptions, replay_reader};

use super::progress::Progress;

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
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let policy = load_policy(&args.policy).map_err(|e| anyhow::anyhow!("{e}"))?;
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
        let file = std::fs::File::open(&args.events)
            .with_context(|| format!("cannot read `{}`", args.events.display()))?;
        let reader = BufReader::with_capacity(1 << 20, file);
        replay_reader(&policy, reader, &options, &|n| progress.set(n))
    };
    progress.finish();
    for skipped in &summary.skipped.lines {
        eprintln!(
            "warning: line {}: skipped: {}",
            skipped.line, skipped.reason
        );
    }
    println!("{}", serde_json::to_string_pretty(&summary)?);
    Ok(ExitCode::SUCCESS)
}
