//! `redress man`: the manual page, generated from the argument definitions.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::CommandFactory;

use super::Cli;
use super::output::Stdout;
use crate::exit_status::ExitStatus;

/// Arguments of `redress man`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Write `redress.1` and one page per subcommand (`redress-validate.1`, ...)
    /// into this folder instead of printing the main page.
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<ExitStatus> {
    let command = Cli::command();
    match &args.dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create `{}`", dir.display()))?;
            clap_mangen::generate_to(command, dir)
                .with_context(|| format!("cannot write the pages into `{}`", dir.display()))?;
        }
        None => {
            let mut page = Vec::new();
            clap_mangen::Man::new(command).render(&mut page)?;
            Stdout::write_bytes(&page)?;
        }
    }
    Ok(ExitStatus::Success)
}
