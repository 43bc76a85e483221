//! `redress simulate --policy P --cases N --seed S`: generate realistic complaints,
//! replay them, and print the same summary as `redress replay`.

use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use redress_engine::policy::Policy;
use redress_engine::runtime::replay::{ReplayOptions, last_lines_in, replay, replay_marked};
use redress_engine::runtime::simulate::{Profile, generate, generate_each_marked, numbered};

use super::output::{eprint, load_or_report};
use super::progress::Progress;
use super::replay::print_summary;
use super::{Context, Format};
use crate::exit_status::ExitStatus;

/// Arguments of `redress simulate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The policy to simulate.
    #[arg(long)]
    policy: PathBuf,
    /// How many complaints.
    #[arg(long, default_value_t = 1000)]
    cases: usize,
    /// The seed: the same seed gives the same complaints.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// A TOML profile of the distributions to draw from (see the engine's
    /// `runtime::simulate::Profile`); default: built-in.
    #[arg(long)]
    profile: Option<PathBuf>,
    /// Write the generated events to this file as JSON lines (for `redress replay`).
    #[arg(long)]
    emit: Option<PathBuf>,
    /// Only generate (with `--emit`): do not replay.
    #[arg(long, requires = "emit")]
    no_replay: bool,
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
    let profile = match &args.profile {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read `{}`", path.display()))?;
            Profile::from_toml(&text).with_context(|| format!("in `{}`", path.display()))?
        }
        None => Profile::default(),
    };
    let mut options = ReplayOptions::default();
    options.threads = args.threads.unwrap_or(options.threads);
    options.until = args.until;
    if args.emit.is_none() {
        return simulate_streaming(&args, &policy, &profile, &options);
    }
    let started = Instant::now();
    let progress = Progress::new("generating", Some(args.cases as u64));
    let lines = generate(
        &policy,
        &profile,
        args.cases,
        args.seed,
        options.threads,
        &|n| progress.set(n),
    );
    progress.finish();
    eprint(&format!(
        "generated {} complaints, {} events (seed {}) in {:.2}s\n",
        args.cases,
        lines.len(),
        args.seed,
        started.elapsed().as_secs_f64()
    ));
    if let Some(path) = &args.emit {
        emit(path, &lines)?;
    }
    if args.no_replay {
        return Ok(ExitStatus::Success);
    }
    let progress = Progress::new("replaying", Some(lines.len() as u64));
    options.last_lines = Some(std::sync::Arc::new(last_lines_in(&lines)));
    let summary = replay(&policy, numbered(lines), &options, &|n| progress.set(n));
    progress.finish();
    print_summary(&summary, args.format)?;
    Ok(ExitStatus::Success)
}

/// Without `--emit`, each complaint is generated as the replay reaches it and its
/// lines dropped once played, so memory holds the open cases only; the summary's
/// timing then covers generating and replaying.
fn simulate_streaming(
    args: &Args,
    policy: &Policy,
    profile: &Profile,
    options: &ReplayOptions,
) -> anyhow::Result<ExitStatus> {
    let started = Instant::now();
    let lines = generate_each_marked(policy, profile, args.cases, args.seed)
        .enumerate()
        .map(|(i, (l, last))| ((i + 1, Ok(l)), last));
    let progress = Progress::new("generating and replaying", None);
    let summary = replay_marked(policy, lines, options, &|n| progress.set(n));
    progress.finish();
    eprint(&format!(
        "generated and replayed {} complaints (seed {}) in {:.2}s; the summary's timing includes generating\n",
        args.cases,
        args.seed,
        started.elapsed().as_secs_f64()
    ));
    print_summary(&summary, args.format)?;
    Ok(ExitStatus::Success)
}

fn emit(path: &PathBuf, lines: &[redress_engine::runtime::replay::Line]) -> anyhow::Result<()> {
    let file = std::fs::File::create(path)
        .with_context(|| format!("cannot write `{}`", path.display()))?;
    let mut out = BufWriter::new(file);
    for line in lines {
        serde_json::to_writer(&mut out, line)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}
