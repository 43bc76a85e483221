//! What the operational endpoints answer (health) and a case's tracking links.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

/// Whether the service serves every organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum HealthStatus {
    /// Every organisation's policies are loaded.
    Ok,
    /// Some organisation's policies did not load; the others serve.
    Degraded,
}

/// Why one organisation's policies are not loaded.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NotLoadedView {
    /// The organisation.
    pub organisation: String,
    /// The policy files in the way, relative to the policies folder.
    pub files: Vec<String>,
    /// Their diagnostic codes.
    pub codes: Vec<String>,
}

/// The service's health: the store answers, and which organisations' policies did
/// not load.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Health {
    /// `ok`, or `degraded` while some organisation's policies did not load.
    pub status: HealthStatus,
    /// The organisations whose policies did not load (only when degraded).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_loaded: Vec<NotLoadedView>,
}

/// A new tracking link for the complainant; its token is shown only here.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = TrackingLink)]
pub struct IssuedLinkView {
    /// The case.
    pub case: String,
    /// The token, 64 hex digits; the store keeps only its SHA-256.
    pub token: String,
    /// The status page's path, `/track/{token}`.
    pub path: String,
    /// When it was issued.
    #[serde(serialize_with = "redress_engine::instant::serialize")]
    pub issued_at: DateTime<Utc>,
    /// How many older links of the case stopped working.
    pub revoked: u64,
}

/// What revoking a case's tracking links answers.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokedLinks {
    /// The case.
    pub case: String,
    /// How many links stopped working.
    pub revoked: u64,
}
