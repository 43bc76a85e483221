//! `redress`: the command-line interface and (later) the HTTP service over the
//! Redress engine. No business rule lives here: each subcommand in `command/` parses
//! its arguments, calls the engine, and prints.

mod command;
mod serve;

use std::process::ExitCode;

use clap::Parser;

/// mimalloc rather than the system allocator: replay and simulation allocate many
/// small, short-lived values on several threads, where glibc's malloc costs about a
/// quarter of the time.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
