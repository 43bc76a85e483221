//! `redress graph POLICY`: draw the stage graph.

use std::path::PathBuf;

use clap::ValueEnum;

use super::output::{Stdout, load_or_report};
use super::{Context, Format};
use crate::exit_status::ExitStatus;

/// Arguments of `redress graph`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The policy file.
    policy: PathBuf,
    /// Output format: Mermaid (renders in GitHub and most wikis) or Graphviz DOT.
    #[arg(long, value_enum, default_value_t = GraphFormat::Mermaid)]
    format: GraphFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum GraphFormat {
    Mermaid,
    Dot,
}

pub fn run(args: Args, context: Context) -> anyhow::Result<ExitStatus> {
    let Some(policy) = load_or_report(&args.policy, Format::Human, context)? else {
        return Ok(ExitStatus::Problems);
    };
    let graph = policy.graph();
    Stdout::print(&match args.format {
        GraphFormat::Mermaid => graph.to_mermaid(),
        GraphFormat::Dot => graph.to_dot(),
    })?;
    Ok(ExitStatus::Success)
}
