//! `redress serve`: run the service (HTTP API, scheduler, durable store).

use std::net::SocketAddr;
use std::path::PathBuf;

use redress_server::{LogFormat, Options, run as serve};

use crate::exit_status::ExitStatus;

/// Arguments of `redress serve`; each may also come from the environment.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The policies folder (policy files; calendars, scripts and tests beside them).
    #[arg(long, env = "REDRESS_POLICIES", default_value = "policies")]
    policies: PathBuf,
    /// The address to listen on (port 0 picks a free one).
    #[arg(long, env = "REDRESS_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// The database: `sqlite://FILE` (created if missing) or a file path.
    #[arg(long, env = "REDRESS_DATABASE", default_value = "sqlite://redress.db")]
    database: String,
    /// The server configuration (tokens, organisations). Default: `redress-server.toml`,
    /// written with development tokens on first run.
    #[arg(long, env = "REDRESS_CONFIG")]
    config: Option<PathBuf>,
    /// How log lines on standard error are written: `text` for people, `json` (one
    /// object a line) for log collectors. `RUST_LOG` sets the level (default `info`).
    #[arg(long, env = "REDRESS_LOG_FORMAT", value_enum, default_value_t)]
    log_format: LogChoice,
}

/// `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
enum LogChoice {
    #[default]
    Text,
    Json,
}

pub fn run(args: Args) -> anyhow::Result<ExitStatus> {
    serve(Options {
        policies: args.policies,
        listen: args.listen,
        database: args.database,
        config: args.config,
        log_format: match args.log_format {
            LogChoice::Text => LogFormat::Text,
            LogChoice::Json => LogFormat::Json,
        },
    })?;
    Ok(ExitStatus::Success)
}
