//! `redress`: the command-line interface over the Redress engine, and `redress serve`, the
//! HTTP service of the `redress-server` crate. No business rule lives here: each subcommand in `command/` parses
//! its arguments, calls the engine, and prints.

mod command;

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
