//! `redress`: the command-line interface and (later) the HTTP service over the
//! Redress engine. No business rule lives here: each subcommand in `command/` parses
//! its arguments, calls the engine, and prints.

mod command;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = command::Cli::parse();
    match command::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
