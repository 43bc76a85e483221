//! The subcommands, one file each, and what they share: the global options, the
//! output formats, printing that ends quietly on a closed pipe.

mod completions;
mod graph;
mod man;
mod output;
mod progress;
mod replay;
mod schema;
mod serve;
mod simulate;
mod test;
mod validate;

use clap::{Parser, Subcommand, ValueEnum};

use crate::exit_status::{EXIT_STATUS_HELP, ExitStatus};
use crate::terminal::{ColorChoice, Colors};

/// Redress: complaint-handling procedures as policy files, enforced.
#[derive(Debug, Parser)]
#[command(name = "redress", version, about, long_about = None, after_help = EXIT_STATUS_HELP)]
pub struct Cli {
    /// When to colour the output (`auto` honours `NO_COLOR`).
    #[arg(long, global = true, value_enum, default_value_t, value_name = "WHEN")]
    color: ColorChoice,
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
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(completions::Args),
    /// Print the manual page (roff), or write one per subcommand into a folder.
    Man(man::Args),
}

/// What every subcommand is given besides its own arguments.
#[derive(Debug, Clone, Copy)]
pub struct Context {
    /// Whether standard output and standard error are coloured.
    pub colors: Colors,
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

/// Runs a subcommand: `Ok` with its exit status, `Err` when it could not do its
/// work (see [`ExitStatus::of_error`]).
pub fn run(cli: Cli) -> anyhow::Result<ExitStatus> {
    let context = Context {
        colors: Colors::new(cli.color),
    };
    match cli.command {
        Command::Validate(args) => validate::run(args, context),
        Command::Graph(args) => graph::run(args, context),
        Command::Schema(args) => schema::run(args),
        Command::Test(args) => test::run(args, context),
        Command::Replay(args) => replay::run(args, context),
        Command::Simulate(args) => simulate::run(args, context),
        Command::Serve(args) => serve::run(args),
        Command::Completions(args) => completions::run(args),
        Command::Man(args) => man::run(args),
    }
}
