//! The server configuration file: organisations (which policies each runs) and API
//! tokens (each bound to one organisation and one role). On first run, when the
//! default file does not exist, a development configuration is written with one
//! token per role, and the tokens are printed.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};
use redress_engine::case::EventType;
use redress_engine::diagnostic::did_you_mean;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Request bodies larger than this are refused, by default.
pub const DEFAULT_MAX_BODY: usize = 64 * 1024;

/// The file as written.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// Organisations, each with its policies.
    #[serde(default)]
    pub organisations: Vec<OrgConfig>,
    /// API tokens.
    #[serde(default)]
    pub tokens: Vec<TokenConfig>,
    /// Request limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<Limits>,
    /// Webhooks: where events are sent as they are stored.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub webhooks: Vec<WebhookConfig>,
    /// Several nodes on one PostgreSQL: how long a node's claim on due work lasts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterConfig>,
    /// Who may read `/metrics` (anyone, when not given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<MetricsConfig>,
    /// The web console: session lifetime, the status page's rate limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub console: Option<ConsoleConfig>,
}

/// `/metrics`, which names organisations and policies, behind a token of its own.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// The token a scraper sends as `Authorization: Bearer <token>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Or its SHA-256, in hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_sha256: Option<String>,
}

/// The `[console]` table.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ConsoleConfig {
    /// How long a console session lasts after signing in, in seconds; default
    /// 28800 (8 hours).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_seconds: Option<u64>,
    /// Requests a client address may make to `/track/...` per minute; default 30.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub track_per_minute: Option<u32>,
}

/// The console's settings, checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConsoleSettings {
    /// How long a session lasts.
    pub session: std::time::Duration,
    /// Status-page requests a client address may make per minute.
    pub track_per_minute: u32,
}

impl Default for ConsoleSettings {
    fn default() -> Self {
        ConsoleSettings {
            session: std::time::Duration::from_secs(8 * 3600),
            track_per_minute: 30,
        }
    }
}

/// Several nodes sharing one database.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// How long a node holds the due timers and webhook messages it claimed, in
    /// seconds (default 30): a node that dies holding some delays them by up to
    /// this much. Longer than a webhook's answer may take (10 s).
    pub lease_seconds: u64,
}

/// How long a claim on due work lasts, by default.
pub const DEFAULT_LEASE: std::time::Duration = std::time::Duration::from_secs(30);

/// A webhook: each stored event of the chosen types is POSTed to its URL, from an
/// outbox written with the events, retried until it is accepted.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Its name, unique; sent as `Redress-Webhook`.
    pub name: String,
    /// The organisation whose events it receives.
    pub organisation: String,
    /// Where to POST (`http://` or `https://`).
    pub url: String,
    /// The event types it receives; default `["notified", "breached"]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<String>>,
    /// A shared secret: each message is signed per Standard Webhooks
    /// (`webhook-signature: v1,<base64 HMAC-SHA256 of id.timestamp.body>`); a
    /// `whsec_<base64>` secret is used as its decoded bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// Sends fields marked `personal` unmasked. Default false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub personal_data: Option<bool>,
    /// The messages to the complainant (`notify = "complainant"`, by `message`,
    /// e.g. `["acknowledgement"]`) whose `notified` webhook carries a new
    /// tracking link to the case's status page. Default none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracking_links: Option<Vec<String>>,
}

/// A webhook, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    /// Its name.
    pub name: String,
    /// The organisation.
    pub org: String,
    /// Its URL.
    pub url: String,
    /// The event types it receives.
    pub events: Vec<EventType>,
    /// The signing secret.
    pub secret: Option<String>,
    /// Sends personal fields unmasked.
    pub personal_data: bool,
    /// Complainant messages whose notification carries a new tracking link.
    pub tracking_links: Vec<String>,
}

/// One organisation.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OrgConfig {
    /// Its id, used in tokens (`acme-bank`).
    pub id: String,
    /// The ids of the policies (`[policy] id`) it runs; all policies when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policies: Option<Vec<String>>,
    /// The secret complainants' identities are hashed with for reports (repeat
    /// complainants); without it reports do not count them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub complainant_key: Option<String>,
}

/// One API token.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TokenConfig {
    /// Who holds it, for logs and the audit trail (`actor.id` of its events).
    pub name: String,
    /// The organisation it acts for.
    pub organisation: String,
    /// The role it acts in: a role of the organisation's policies (`agent`,
    /// `supervisor`, `compliance`, `integrator`, `auditor`).
    pub role: String,
    /// The token itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Or its SHA-256, in hex, so the file need not hold the secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_sha256: Option<String>,
    /// May only read. Default: true for `auditor`, false otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_only: Option<bool>,
    /// Sees fields marked `personal`. Default: false for `auditor` and
    /// `integrator`, true otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub personal_data: Option<bool>,
    /// May reload policies from disk. Default: true for `compliance` and
    /// `supervisor`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reload_policies: Option<bool>,
}

/// Request and connection limits; each has a default.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// The largest request body accepted, in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_body_bytes: Option<usize>,
    /// The largest request head (request line and headers), in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_header_bytes: Option<usize>,
    /// How long a client may take to send a request's head, and how long a
    /// keep-alive connection may wait idle for its next request, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header_timeout_seconds: Option<u64>,
    /// How long a request may take from its head to its answer, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_timeout_seconds: Option<u64>,
    /// Connections served at once; more are answered 503. Default: the
    /// file-descriptor limit less a reserve, at most 4096.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_connections: Option<usize>,
    /// How long a stop waits for the requests in flight, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drain_seconds: Option<u64>,
}

/// The limits, with their defaults filled in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limited {
    /// The largest request body, in bytes.
    pub max_body: usize,
    /// The largest request head, in bytes.
    pub max_header: usize,
    /// The header-read and keep-alive idle timeout.
    pub header_timeout: std::time::Duration,
    /// The timeout from a request's head to its answer.
    pub request_timeout: std::time::Duration,
    /// Connections served at once.
    pub max_connections: usize,
    /// How long a stop waits for requests in flight.
    pub drain: std::time::Duration,
}

/// Descriptors kept back from connections: the store's files and read connections,
/// the webhook client's sockets, refusals in progress, logs.
pub const DESCRIPTOR_RESERVE: usize = 512;

/// This process's soft limit on open files, where the system tells it (Linux).
pub fn descriptor_limit() -> Option<usize> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

impl Limits {
    /// The limits with defaults, the connection limit kept below the descriptor limit.
    pub fn resolve(&self) -> anyhow::Result<Limited> {
        let seconds = std::time::Duration::from_secs;
        let ceiling = descriptor_limit().map(|n| n.saturating_sub(DESCRIPTOR_RESERVE));
        let max_connections = match (self.max_connections, ceiling) {
            (Some(0), _) => bail!("`[limits] max_connections` must be at least 1"),
            (Some(n), Some(c)) if n > c => bail!(
                "`[limits] max_connections = {n}` is not below the open-file limit less \
                 {DESCRIPTOR_RESERVE} kept for the store ({c}); raise `ulimit -n` or lower it"
            ),
            (Some(n), _) => n,
            (None, Some(c)) => c.clamp(16, 4096),
            (None, None) => 1024,
        };
        Ok(Limited {
            max_body: self.max_body_bytes.unwrap_or(DEFAULT_MAX_BODY),
            max_header: self.max_header_bytes.unwrap_or(16 * 1024),
            header_timeout: seconds(self.header_timeout_seconds.unwrap_or(10).max(1)),
            request_timeout: seconds(self.request_timeout_seconds.unwrap_or(30).max(1)),
            max_connections,
            drain: seconds(self.drain_seconds.unwrap_or(30)),
        })
    }
}

/// Who a request comes from, as its token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The token's holder.
    pub name: String,
    /// The organisation.
    pub org: Arc<str>,
    /// The role.
    pub role: String,
    /// May only read.
    pub read_only: bool,
    /// Sees personal fields.
    pub personal_data: bool,
    /// May reload policies.
    pub reload_policies: bool,
}

/// The configuration, checked.
#[derive(Debug, Clone)]
pub struct Config {
    /// Organisations by id, with their policy ids (`None`: all).
    pub organisations: Vec<OrgConfig>,
    /// Callers by the SHA-256 of their token.
    tokens: HashMap<String, Caller>,
    /// The largest request body accepted.
    pub max_body: usize,
    /// Every limit, defaults filled in.
    pub limits: Limited,
    /// Webhooks.
    pub webhooks: Vec<Webhook>,
    /// How long a claim on due work lasts.
    pub lease: std::time::Duration,
    /// The SHA-256 of the token `/metrics` requires, if it requires one.
    pub metrics_token: Option<String>,
    /// The web console.
    pub console: ConsoleSettings,
}

/// The SHA-256 of a token, in hex.
pub fn token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Config {
    /// Reads and checks a configuration file.
    pub fn read(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| {
            format!("cannot read the server configuration `{}`", path.display())
        })?;
        Self::parse(&text).with_context(|| format!("in `{}`", path.display()))
    }

    /// Checks a configuration given as text.
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let file: ConfigFile = toml::from_str(text)?;
        Self::check(file)
    }

    fn check(file: ConfigFile) -> anyhow::Result<Self> {
        if file.organisations.is_empty() {
            bail!("no `[[organisations]]`: at least one is needed");
        }
        let mut tokens = HashMap::new();
        for (i, t) in file.tokens.iter().enumerate() {
            let at = format!("`[[tokens]]` number {} (`{}`)", i + 1, t.name);
            if !file.organisations.iter().any(|o| o.id == t.organisation) {
                let known: Vec<_> = file.organisations.iter().map(|o| o.id.as_str()).collect();
                bail!(
                    "{at}: unknown organisation `{}`; known: {}",
                    t.organisation,
                    known.join(", ")
                );
            }
            let hash = match (&t.token, &t.token_sha256) {
                (Some(token), None) if token.len() >= 16 => token_hash(token),
                (Some(_), None) => bail!("{at}: a token must be at least 16 characters"),
                (None, Some(hash)) if hash.len() == 64 => hash.to_ascii_lowercase(),
                (None, Some(_)) => bail!("{at}: `token_sha256` must be 64 hex digits"),
                _ => bail!("{at}: give exactly one of `token` and `token_sha256`"),
            };
            let role = t.role.as_str();
            let caller = Caller {
                name: t.name.clone(),
                org: Arc::from(t.organisation.as_str()),
                role: t.role.clone(),
                read_only: t.read_only.unwrap_or(role == "auditor"),
                personal_data: t
                    .personal_data
                    .unwrap_or(!matches!(role, "auditor" | "integrator")),
                reload_policies: t
                    .reload_policies
                    .unwrap_or(matches!(role, "compliance" | "supervisor")),
            };
            if tokens.insert(hash, caller).is_some() {
                bail!("{at}: the same token is given twice");
            }
        }
        let mut webhooks: Vec<Webhook> = Vec::new();
        for w in &file.webhooks {
            let at = format!("`[[webhooks]]` `{}`", w.name);
            if !file.organisations.iter().any(|o| o.id == w.organisation) {
                bail!("{at}: unknown organisation `{}`", w.organisation);
            }
            if !(w.url.starts_with("http://") || w.url.starts_with("https://")) {
                bail!("{at}: the url must start with `http://` or `https://`");
            }
            if webhooks.iter().any(|o| o.name == w.name) {
                bail!("{at}: two webhooks have this name");
            }
            let events = w
                .events
                .clone()
                .unwrap_or_else(|| vec!["notified".into(), "breached".into()]);
            let events = events
                .iter()
                .map(|e| event_type(e).with_context(|| at.clone()))
                .collect::<anyhow::Result<Vec<_>>>()?;
            webhooks.push(Webhook {
                name: w.name.clone(),
                org: w.organisation.clone(),
                url: w.url.clone(),
                events,
                secret: w.secret.clone(),
                personal_data: w.personal_data.unwrap_or(false),
                tracking_links: w.tracking_links.clone().unwrap_or_default(),
            });
        }
        let limits = file.limits.unwrap_or_default().resolve()?;
        let metrics_token = match &file.metrics {
            None => None,
            Some(m) => Some(match (&m.token, &m.token_sha256) {
                (Some(token), None) if token.len() >= 16 => token_hash(token),
                (Some(_), None) => bail!("`[metrics]`: a token must be at least 16 characters"),
                (None, Some(hash)) if hash.len() == 64 => hash.to_ascii_lowercase(),
                (None, Some(_)) => bail!("`[metrics]`: `token_sha256` must be 64 hex digits"),
                _ => bail!("`[metrics]`: give exactly one of `token` and `token_sha256`"),
            }),
        };
        let console = file.console.unwrap_or_default();
        let defaults = ConsoleSettings::default();
        let settings = ConsoleSettings {
            session: console
                .session_seconds
                .map_or(defaults.session, std::time::Duration::from_secs),
            track_per_minute: console
                .track_per_minute
                .unwrap_or(defaults.track_per_minute),
        };
        if settings.session.is_zero() {
            bail!("`[console] session_seconds` must be at least 1");
        }
        if settings.track_per_minute == 0 {
            bail!("`[console] track_per_minute` must be at least 1");
        }
        Ok(Config {
            organisations: file.organisations,
            tokens,
            max_body: limits.max_body,
            limits,
            webhooks,
            lease: match file.cluster {
                None => DEFAULT_LEASE,
                Some(ClusterConfig { lease_seconds: 0 }) => {
                    bail!("`[cluster]` `lease_seconds = 0`: a claim must last at least a second")
                }
                Some(c) => std::time::Duration::from_secs(c.lease_seconds),
            },
            metrics_token,
            console: settings,
        })
    }

    /// The caller a bearer token belongs to.
    pub fn caller(&self, token: &str) -> Option<&Caller> {
        self.tokens.get(&token_hash(token))
    }

    /// Whether an `Authorization` header value may read `/metrics`.
    pub fn may_scrape(&self, authorization: Option<&str>) -> bool {
        let Some(expected) = &self.metrics_token else {
            return true;
        };
        let token = authorization.and_then(|h| match h.trim_start().split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => Some(token.trim()),
            _ => None,
        });
        token.is_some_and(|t| token_hash(t) == *expected)
    }

    /// A configuration of one organisation running every policy, without tokens:
    /// for commands that use the service without serving (`redress migrate`).
    pub fn for_organisation(id: &str) -> anyhow::Result<Config> {
        let limits = Limits::default().resolve()?;
        Ok(Config {
            organisations: vec![OrgConfig {
                id: id.to_string(),
                policies: None,
                complainant_key: None,
            }],
            tokens: HashMap::new(),
            max_body: limits.max_body,
            limits,
            webhooks: Vec::new(),
            lease: DEFAULT_LEASE,
            metrics_token: None,
            console: ConsoleSettings::default(),
        })
    }

    /// The organisation's configuration.
    pub fn organisation(&self, id: &str) -> Option<&OrgConfig> {
        self.organisations.iter().find(|o| o.id == id)
    }
}

/// The roles given a development token on first run.
const DEV_ROLES: [&str; 5] = ["agent", "supervisor", "compliance", "integrator", "auditor"];

/// Writes a development configuration at `path`: organisation `demo` running every
/// policy, one token per role. Returns the file and the tokens by role.
pub fn write_first_run(path: &Path) -> anyhow::Result<(Config, Vec<(String, String)>)> {
    let mut tokens = Vec::new();
    let mut file = ConfigFile {
        organisations: vec![OrgConfig {
            id: "demo".into(),
            policies: None,
            complainant_key: Some(random_hex(32)?),
        }],
        tokens: Vec::new(),
        limits: None,
        webhooks: Vec::new(),
        cluster: None,
        metrics: None,
        console: None,
    };
    for role in DEV_ROLES {
        let token = format!("dev-{role}-{}", random_hex(16)?);
        tokens.push((role.to_string(), token.clone()));
        file.tokens.push(TokenConfig {
            name: format!("dev {role}"),
            organisation: "demo".into(),
            role: role.into(),
            token: Some(token),
            token_sha256: None,
            read_only: None,
            personal_data: None,
            reload_policies: None,
        });
    }
    let text = format!(
        "# Redress server configuration, written on first run for development.\n\
         # Each token acts for one organisation in one role. For production, replace\n\
         # `token` with `token_sha256` (the hex SHA-256 of the token) and keep the\n\
         # tokens themselves out of this file.\n\n{}",
        toml::to_string_pretty(&file)?
    );
    std::fs::write(path, text).with_context(|| format!("cannot write `{}`", path.display()))?;
    Ok((Config::check(file)?, tokens))
}

pub(crate) fn random_hex(bytes: usize) -> anyhow::Result<String> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).map_err(|e| anyhow::anyhow!("no randomness for a token: {e}"))?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

/// An event type named in a webhook's `events`.
fn event_type(name: &str) -> anyhow::Result<EventType> {
    name.parse().map_err(|_| {
        let names = EventType::iter().map(EventType::as_str);
        let known: Vec<&str> = names.clone().collect();
        let help = did_you_mean(name, names).map_or(String::new(), |h| format!("; {h}"));
        anyhow::anyhow!(
            "unknown event type `{name}`{help}; known: {}",
            known.join(", ")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"
[[organisations]]
id = "acme"

[[tokens]]
name = "ann"
organisation = "acme"
role = "auditor"
token = "0123456789abcdef"
"#;

    #[test]
    fn roles_get_their_defaults() {
        let config = Config::parse(BASE).unwrap();
        let ann = config.caller("0123456789abcdef").unwrap();
        assert!(ann.read_only);
        assert!(!ann.personal_data);
        assert!(!ann.reload_policies);
        assert!(config.caller("0123456789abcdeX").is_none());
    }

    #[test]
    fn a_hashed_token_works_like_the_token() {
        let hashed = BASE.replace(
            "token = \"0123456789abcdef\"",
            &format!("token_sha256 = \"{}\"", token_hash("0123456789abcdef")),
        );
        let config = Config::parse(&hashed).unwrap();
        assert_eq!(config.caller("0123456789abcdef").unwrap().name, "ann");
    }

    #[test]
    fn mistakes_are_named() {
        let cases = [
            (
                BASE.replace("organisation = \"acme\"", "organisation = \"acne\""),
                "unknown organisation `acne`",
            ),
            (
                BASE.replace("0123456789abcdef", "short"),
                "at least 16 characters",
            ),
            (format!("{BASE}colour = \"red\""), "unknown field `colour`"),
            ("".to_string(), "no `[[organisations]]`"),
            (
                format!(
                    "{BASE}[[webhooks]]\nname = \"crm\"\norganisation = \"acme\"\nurl = \"ftp://x\"\n"
                ),
                "the url must start with",
            ),
            (
                format!(
                    "{BASE}[[webhooks]]\nname = \"crm\"\norganisation = \"acme\"\nurl = \"http://x\"\nevents = [\"breach\"]\n"
                ),
                "unknown event type `breach`",
            ),
        ];
        for (text, expected) in cases {
            let error = format!("{:#}", Config::parse(&text).unwrap_err());
            assert!(
                error.contains(expected),
                "{error:?} should contain {expected:?}"
            );
        }
    }

    #[test]
    fn first_run_writes_a_file_that_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("redress-server.toml");
        let (_, tokens) = write_first_run(&path).unwrap();
        let config = Config::read(&path).unwrap();
        for (role, token) in tokens {
            assert_eq!(config.caller(&token).unwrap().role, role);
        }
    }
}
