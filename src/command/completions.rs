//! `redress completions SHELL`: a completion script generated from the argument
//! definitions, so it never lags behind them.

use clap::CommandFactory;
use clap_complete::Shell;

use super::Cli;
use super::output::Stdout;
use crate::exit_status::ExitStatus;

/// Arguments of `redress completions`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Install, for example:
  redress completions bash > ~/.local/share/bash-completion/completions/redress
  redress completions zsh > ~/.zfunc/_redress
  redress completions fish > ~/.config/fish/completions/redress.fish")]
pub struct Args {
    /// The shell.
    shell: Shell,
}

pub fn run(args: Args) -> anyhow::Result<ExitStatus> {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "redress", &mut script);
    Stdout::write_bytes(&script)?;
    Ok(ExitStatus::Success)
}
