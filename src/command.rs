//! The subcommands, one file each.

mod graph;
mod progress;
mod replay;
mod report;
mod schema;
mod serve;
mod simulate;
mod test;
mod validate;

use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// Redress: complaint-handling procedures as policy files, enforced.
#[derive(Debug, Parser)]
#[command(name = "redress", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check policy files (and the calendars, scripts and tests they use).
    Validate(validate::Args),
    /// Draw a policy's stage graph as Mermaid or Graphviz DOT.
    Graph(graph::Args),
    /// Print the JSON Schema of the policy format, for editors.
    Schema(schema::Args),
    /// Run policy scenario tests on a virtual clock.
    Test(test::Args),
    /// Replay recorded events (JSON lines) on a policy and summarise the outcome.
    Replay(replay::Args),
    /// Generate realistic complaints, replay them, and summarise (deterministic per seed).
    Simulate(simulate::Args),
    /// Run the service: the HTTP API, the deadline scheduler, the durable store.
    Serve(serve::Args),
    /// Report on a period: figures by group, a complaint bulletin, regulators' returns.
    Report(report::Args),
}

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Format {
    /// For people.
    #[default]
    Human,
    /// For machines.
    Json,
}

/// Runs a subcommand: `Ok` with the exit code (0 sound, 1 problems found), `Err`
/// for bad usage (exit 2).
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Validate(args) => validate::run(args),
        Command::Graph(args) => graph::run(args),
        Command::Schema(args) => schema::run(args),
        Command::Test(args) => test::run(args),
        Command::Replay(args) => replay::run(args),
        Command::Simulate(args) => simulate::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Report(args) => report::run(args),
    }
}
