//! `redress graph POLICY`: draw the stage graph.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::ValueEnum;
use redress_engine::diagnostic::render_human;
use redress_engine::policy::load_policy;

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

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match load_policy(&args.policy) {
        Ok(policy) => {
            let graph = policy.graph();
            match args.format {
                GraphFormat::Mermaid => print!("{}", graph.to_mermaid()),
                GraphFormat::Dot => print!("{}", graph.to_dot()),
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprint!("{}", render_human(&e.diagnostics, &e.sources, false));
            Ok(ExitCode::from(1))
        }
    }
}
