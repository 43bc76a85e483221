//! `redress-server`: the service behind `redress serve`. Loads the policies and the
//! server configuration, opens the store, checks the stored due index (rebuilding
//! stale parts of it in the background) and starts the scheduler, then answers the
//! HTTP API until interrupted (Ctrl-C or SIGTERM), finishing the writes in flight
//! before it exits.
//!
//! Layers, each using only those before it: `clock` (the time, an input), `config`
//! (tokens, organisations),
//! `registry` (policy versions), `metrics`, `slot` (a case in use), `view` (JSON),
//! `service` (commands and timers on stored cases, answering domain outcomes),
//! `problem` (RFC 9457 errors, mapped from those outcomes), `scheduler`,
//! `webhooks` (outbox delivery), `http` (the router, one module per resource).

pub mod clock;
pub mod config;
pub mod console;
pub mod http;
pub mod listener;
pub mod metrics;
pub mod problem;
pub mod registry;
pub mod scheduler;
pub mod service;
pub mod slot;
pub mod view;
pub mod webhooks;

use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use redress_store::{PostgresStore, SqliteStore, Store};

use config::Config;
use registry::Registry;
use service::Service;

/// The configuration file used when none is given; written on first run.
pub const DEFAULT_CONFIG: &str = "redress-server.toml";

/// Where and how to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// The policies folder.
    pub policies: PathBuf,
    /// The address to listen on.
    pub listen: SocketAddr,
    /// The database URL (`sqlite://FILE`, a file path, or `postgres://...`).
    pub database: String,
    /// The server configuration file; `None` for the default, written on first run.
    pub config: Option<PathBuf>,
    /// How log lines are written.
    pub log_format: LogFormat,
}

/// How log lines on standard error are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// For people: one line per event, coloured on a terminal.
    #[default]
    Text,
    /// For log collectors: one JSON object per line.
    Json,
}

/// Installs the log subscriber: the level from `RUST_LOG` (default `info`), the
/// lines on standard error in `format`.
fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

/// Opens the store a database URL names.
pub fn open_store(url: &str) -> anyhow::Result<Arc<dyn Store>> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let store = PostgresStore::connect(url).context("cannot open the PostgreSQL store")?;
        return Ok(Arc::new(store));
    }
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    if path.is_empty() {
        bail!("the database URL `{url}` names no file");
    }
    let store =
        SqliteStore::open(path).with_context(|| format!("cannot open the database `{path}`"))?;
    Ok(Arc::new(store))
}

fn load_config(options: &Options) -> anyhow::Result<Config> {
    if let Some(path) = &options.config {
        return Config::read(path);
    }
    let path = PathBuf::from(DEFAULT_CONFIG);
    if path.exists() {
        return Config::read(&path);
    }
    let (config, tokens) = config::write_first_run(&path)?;
    println!("First run: wrote {DEFAULT_CONFIG} with development tokens for organisation `demo`:");
    for (role, token) in tokens {
        println!("  {role:<11} {token}");
    }
    println!("Use one as `Authorization: Bearer <token>`.");
    Ok(config)
}

/// Runs the service until interrupted.
pub fn run(options: Options) -> anyhow::Result<()> {
    init_logging(options.log_format);
    let config = load_config(&options)?;
    let registry = Registry::load(&options.policies, &config.organisations).map_err(|failure| {
        anyhow::anyhow!(
            "the policies in `{}` have errors:\n{}",
            options.policies.display(),
            failure.human
        )
    })?;
    for org in &config.organisations {
        if let Some(failure) = registry.refusal(&org.id) {
            tracing::error!(
                org = org.id,
                files = failure.files.join(", "),
                "the organisation's policies have errors and are not loaded; the others serve:\n{}",
                failure.human
            );
            continue;
        }
        let loaded = registry.current_of(&org.id);
        for id in org.policies.iter().flatten() {
            if !loaded.iter().any(|p| p.id() == id) {
                bail!(
                    "organisation `{}` runs policy `{id}`, which is not in `{}`",
                    org.id,
                    options.policies.display()
                );
            }
        }
    }
    let store = open_store(&options.database)?;
    let metrics = metrics::Metrics::new()?;
    let service = Arc::new(Service::new(store, registry, config, metrics));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(serve(service.clone(), options))?;
    drop(runtime);
    // The last reference: dropping it closes the store after its queued writes.
    drop(service);
    Ok(())
}

async fn serve(service: Arc<Service>, options: Options) -> anyhow::Result<()> {
    service.save_policy_versions().await?;
    service.check_calendars(chrono::Utc::now().date_naive());
    let index = scheduler::index::check(&service).await?;
    match index.stale_cases() {
        Some(0) => tracing::info!(open = index.fresh_cases(), "due index read as stored"),
        Some(stale) => tracing::info!(
            fresh = index.fresh_cases(),
            stale,
            "due index partly stale: rebuilding it in the background"
        ),
        None => tracing::info!(
            "this store keeps no index stamps: rebuilding the due index in the background"
        ),
    }
    let listener = tokio::net::TcpListener::bind(options.listen)
        .await
        .with_context(|| format!("cannot listen on {}", options.listen))?;
    let address = listener.local_addr()?;
    println!("Redress listening on http://{address}");
    std::io::stdout().flush()?;
    let scheduler = tokio::spawn(scheduler::run(service.clone()));
    let deliveries = tokio::spawn(webhooks::run(service.clone()));
    let rebuild = tokio::spawn(scheduler::index::rebuild(service.clone(), index));
    let app = http::router(service.clone());
    listener::serve(listener, app, service.clone(), shutdown()).await;
    scheduler.abort();
    deliveries.abort();
    rebuild.abort();
    let _ = scheduler.await;
    let _ = deliveries.await;
    let _ = rebuild.await;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {}
        _ = terminate => {}
    }
}
