//! The database URL: `postgres://USER@HOST:PORT/DB?OPTIONS`. The options this store
//! reads itself (pool size, statement timeout, connect retry, TLS, synchronous
//! commit) are taken out; the rest (`application_name`, `connect_timeout`,
//! `options`, ...) go to the driver as they are.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use crate::StoreError;

/// How the connection to the database is encrypted (`sslmode=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tls {
    /// Never (`disable`, the default: a database on loopback or a private network).
    Disable,
    /// When the server offers it (`prefer`), the certificate verified.
    Prefer,
    /// Always (`require`, `verify-ca`, `verify-full`): the certificate is verified
    /// against `sslrootcert` (a PEM file) or the system's roots, and its name
    /// against the host, whichever of the three is named.
    Require,
}

/// What this store reads from the URL, beside the driver's own settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostgresOptions {
    /// Connections kept open to the database, at most (`pool_size=16`).
    pub pool_size: usize,
    /// The longest one statement may run (`statement_timeout=30s`; `0s` for no
    /// limit).
    pub statement_timeout: Duration,
    /// How long start-up keeps trying to reach the database before giving up
    /// (`connect_retry=30s`; `0s` to try once).
    pub connect_retry: Duration,
    /// TLS (`sslmode=`).
    pub tls: Tls,
    /// The certificate authorities to trust, a PEM file (`sslrootcert=PATH`);
    /// the system's roots when not given.
    pub root_cert: Option<PathBuf>,
    /// `synchronous_commit` for the store's sessions (`on`, the default, or
    /// `remote_write`, `remote_apply`, `local`; never `off`: a write is answered
    /// only once it is durable).
    pub synchronous_commit: String,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        PostgresOptions {
            pool_size: 16,
            statement_timeout: Duration::from_secs(30),
            connect_retry: Duration::from_secs(30),
            tls: Tls::Disable,
            root_cert: None,
            synchronous_commit: "on".into(),
        }
    }
}

fn bad(key: &str, value: &str, help: &str) -> StoreError {
    StoreError::Url(format!("`{key}={value}`: {help}"))
}

/// A duration with its unit: `500ms`, `30s`, `2m`.
fn duration(key: &str, value: &str) -> Result<Duration, StoreError> {
    let split = value
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(value.len());
    let (number, unit) = value.split_at(split);
    let help = "give a whole number with a unit: `500ms`, `30s`, `2m`";
    let n: u64 = number.parse().map_err(|_| bad(key, value, help))?;
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "s" => Ok(Duration::from_secs(n)),
        "m" | "min" => Ok(Duration::from_secs(n * 60)),
        _ => Err(bad(key, value, help)),
    }
}

/// Splits a URL into the driver's configuration and this store's options.
pub(crate) fn parse(url: &str) -> Result<(tokio_postgres::Config, PostgresOptions), StoreError> {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut options = PostgresOptions::default();
    let mut rest = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "pool_size" => {
                options.pool_size = match value.parse::<usize>() {
                    Ok(n) if n > 0 => n,
                    _ => return Err(bad(key, value, "give a number of connections, 1 or more")),
                }
            }
            "statement_timeout" => options.statement_timeout = duration(key, value)?,
            "connect_retry" => options.connect_retry = duration(key, value)?,
            "sslmode" => {
                options.tls = match value {
                    "disable" => Tls::Disable,
                    "prefer" => Tls::Prefer,
                    "require" | "verify-ca" | "verify-full" => Tls::Require,
                    _ => {
                        return Err(bad(
                            key,
                            value,
                            "use `disable`, `prefer`, `require`, `verify-ca` or `verify-full`",
                        ));
                    }
                }
            }
            "sslrootcert" => options.root_cert = Some(PathBuf::from(value)),
            "synchronous_commit" => match value {
                "on" | "remote_write" | "remote_apply" | "local" => {
                    options.synchronous_commit = value.to_string()
                }
                _ => {
                    return Err(bad(
                        key,
                        value,
                        "use `on`, `remote_write`, `remote_apply` or `local`: a write is answered only once durable",
                    ));
                }
            },
            _ => rest.push(pair),
        }
    }
    let driver_url = match rest.is_empty() {
        true => base.to_string(),
        false => format!("{base}?{}", rest.join("&")),
    };
    let mut config = tokio_postgres::Config::from_str(&driver_url)
        .map_err(|e| StoreError::Url(format!("`{}`: {e}", redact(base))))?;
    if config.get_dbname().is_none() {
        return Err(StoreError::Url(format!(
            "`{}` names no database: add `/DB` after the host",
            redact(base)
        )));
    }
    if config.get_application_name().is_none() {
        config.application_name("redress");
    }
    let mut session = format!("-c synchronous_commit={}", options.synchronous_commit);
    session.push_str(&format!(
        " -c statement_timeout={}",
        options.statement_timeout.as_millis()
    ));
    if let Some(more) = config.get_options() {
        session = format!("{more} {session}");
    }
    config.options(&session);
    config.ssl_mode(match options.tls {
        Tls::Disable => tokio_postgres::config::SslMode::Disable,
        Tls::Prefer => tokio_postgres::config::SslMode::Prefer,
        Tls::Require => tokio_postgres::config::SslMode::Require,
    });
    Ok((config, options))
}

/// The URL without its password, for messages.
pub(crate) fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    match rest.split_once('@') {
        Some((user, host)) => {
            let user = user.split(':').next().unwrap_or("");
            format!("{scheme}://{user}@{host}")
        }
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_store_takes_its_options_and_leaves_the_drivers() {
        let (config, options) = parse(
            "postgres://app:secret@db.internal:6432/redress?pool_size=4&statement_timeout=500ms&connect_retry=2m&sslmode=verify-full&sslrootcert=/etc/ca.pem&application_name=node-1&connect_timeout=5",
        )
        .unwrap();
        assert_eq!(
            options,
            PostgresOptions {
                pool_size: 4,
                statement_timeout: Duration::from_millis(500),
                connect_retry: Duration::from_secs(120),
                tls: Tls::Require,
                root_cert: Some(PathBuf::from("/etc/ca.pem")),
                synchronous_commit: "on".into(),
            }
        );
        assert_eq!(config.get_dbname(), Some("redress"));
        assert_eq!(config.get_user(), Some("app"));
        assert_eq!(config.get_application_name(), Some("node-1"));
        assert_eq!(config.get_connect_timeout(), Some(&Duration::from_secs(5)));
        assert_eq!(
            config.get_options(),
            Some("-c synchronous_commit=on -c statement_timeout=500")
        );
    }

    #[test]
    fn bad_options_are_refused_naming_the_option() {
        let table = [
            ("pool_size=0", "`pool_size=0`"),
            (
                "statement_timeout=30",
                "`statement_timeout=30`: give a whole number with a unit",
            ),
            ("connect_retry=soon", "`connect_retry=soon`"),
            ("sslmode=allow", "`sslmode=allow`: use `disable`"),
            ("synchronous_commit=off", "`synchronous_commit=off`"),
        ];
        for (query, expected) in table {
            let url = format!("postgres://u:pw@h/db?{query}");
            let error = parse(&url).unwrap_err().to_string();
            assert!(error.contains(expected), "{query}: {error}");
        }
        let error = parse("postgres://u:pw@h").unwrap_err().to_string();
        assert!(error.contains("names no database"), "{error}");
        assert!(
            !error.contains("pw"),
            "the password is never shown: {error}"
        );
    }
}
