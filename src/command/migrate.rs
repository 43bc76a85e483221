//! `redress migrate`: move a policy's running cases in a store onto one of its
//! versions (`--to current` after a calendar update). A dry run unless `--apply`:
//! it lists, case by case, each deadline that would move and why, and the cases that
//! cannot move. The rules are the engine's (`runtime::migrate`); this file only opens
//! the store and prints. Run it while `redress serve` is stopped, or use
//! `POST /v1/policies/{id}/migrate` on the running service.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use redress_server::config::{Caller, Config};
use redress_server::metrics::Metrics;
use redress_server::registry::Registry;
use redress_server::service::Service;

use super::Format;
use super::output::Stdout;
use crate::exit_status::ExitStatus;

/// Arguments of `redress migrate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The policy whose running cases move (`[policy] id`).
    #[arg(long)]
    policy: String,
    /// The version to move them to: `current` (the policy in `--policies`) or a
    /// version's hash, as `redress validate` and the API show it.
    #[arg(long, default_value = "current")]
    to: String,
    /// Write the migration. Without it, a dry run: nothing is written.
    #[arg(long)]
    apply: bool,
    /// The database: `sqlite://FILE` or a file path.
    #[arg(long, env = "REDRESS_DATABASE", default_value = "sqlite://redress.db")]
    database: String,
    /// The policies folder.
    #[arg(long, env = "REDRESS_POLICIES", default_value = "policies")]
    policies: PathBuf,
    /// The organisation whose cases move.
    #[arg(long, default_value = "demo")]
    org: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

pub fn run(args: Args) -> anyhow::Result<ExitStatus> {
    let store = redress_server::open_store(&args.database)?;
    let config = Config::for_organisation(&args.org)?;
    let registry = Registry::load(&args.policies, &config.organisations).map_err(|failure| {
        anyhow::anyhow!(
            "the policies in `{}` have errors:\n{}",
            args.policies.display(),
            failure.human
        )
    })?;
    let metrics = Metrics::new().context("metrics")?;
    let service = Service::new(store, registry, config, metrics);
    let caller = Caller {
        name: "redress migrate".to_string(),
        org: Arc::from(args.org.as_str()),
        role: "compliance".to_string(),
        read_only: !args.apply,
        personal_data: false,
        reload_policies: false,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    let report = runtime.block_on(async {
        if args.apply {
            service.save_policy_versions().await?;
        }
        service
            .migrate(&caller, &args.policy, Some(&args.to), args.apply)
            .await
    })?;
    match args.format {
        Format::Json => Stdout::json(&report)?,
        Format::Human => Stdout::print(&report.to_string())?,
    }
    Ok(ExitStatus::problems_if(report.refused > 0))
}
