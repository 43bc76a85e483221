//! `redress schema`: the JSON Schema of the policy format, for editors
//! (taplo / Even Better TOML complete and check policy files with it).

use redress_engine::policy::raw::{RawPolicy, RawTestFile};

use super::output::Stdout;
use crate::exit_status::ExitStatus;

/// Arguments of `redress schema`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print the schema of test files (`policies/tests/*.toml`) instead.
    #[arg(long)]
    tests: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitStatus> {
    let schema = if args.tests {
        schemars::schema_for!(RawTestFile)
    } else {
        schemars::schema_for!(RawPolicy)
    };
    Stdout::json(&schema)?;
    Ok(ExitStatus::Success)
}
