//! `redress schema`: the JSON Schema of the policy format, for editors
//! (taplo / Even Better TOML complete and check policy files with it).

use std::process::ExitCode;

use redress_engine::policy::raw::{RawPolicy, RawTestFile};

/// Arguments of `redress schema`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print the schema of test files (`policies/tests/*.toml`) instead.
    #[arg(long)]
    tests: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let schema = if args.tests {
        schemars::schema_for!(RawTestFile)
    } else {
        schemars::schema_for!(RawPolicy)
    };
    println!("{}", serde_json::to_string_pretty(&schema)?);
    Ok(ExitCode::SUCCESS)
}
