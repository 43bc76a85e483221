//! `redress`: the command-line interface over the Redress engine, and `redress serve`,
//! the HTTP service of the `redress-server` crate. No business rule lives here: each
//! subcommand in `command/` parses its arguments, calls the engine or the service,
//! and prints.

mod command;
mod exit_status;
mod terminal;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

use exit_status::ExitStatus;

/// mimalloc rather than the system allocator: replay and simulation allocate many
/// small, short-lived values on several threads, where glibc's malloc costs about a
/// quarter of the time.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = match command::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // `--help` and `--version` are not errors; a closed pipe under them is
            // nobody's problem either.
            let _ = e.print();
            let status = match e.use_stderr() {
                true => ExitStatus::Usage,
                false => ExitStatus::Success,
            };
            return status.into();
        }
    };
    match command::run(cli) {
        Ok(status) => status.into(),
        Err(e) => {
            let status = ExitStatus::of_error(&e);
            if status != ExitStatus::Success {
                let _ = writeln!(std::io::stderr(), "error: {e:#}");
            }
            status.into()
        }
    }
}
