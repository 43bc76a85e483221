//! Complainants' tracking links (`/track/{token}`): issued and revoked for the
//! console, the API and the notifications that carry them. A token is 32 random
//! bytes in hex, handed out once; the store keeps only its SHA-256, so neither a
//! copy of the database nor a log opens anyone's status page.

use chrono::{DateTime, Utc};
use redress_store::TrackingLink;

use super::{Service, ServiceError, ServiceResult};
use crate::config::{Caller, random_hex, token_hash};

/// The path of a tracking link's status page.
pub fn link_path(token: &str) -> String {
    format!("/track/{token}")
}

/// A link just issued: its token (shown once) and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedLink {
    /// The token, 64 hex digits.
    pub token: String,
    /// The status page's path, `/track/{token}`.
    pub path: String,
    /// When it was issued.
    pub issued_at: DateTime<Utc>,
    /// How many older links of the case stopped working.
    pub revoked: u64,
}

/// A new token and what the store keeps of it.
pub(super) fn new_link(
    org: &str,
    case: &str,
    now: DateTime<Utc>,
) -> ServiceResult<(String, TrackingLink)> {
    let token = random_hex(32).map_err(ServiceError::internal)?;
    let link = TrackingLink {
        token_sha256: token_hash(&token),
        org: org.to_string(),
        case: case.to_string(),
        issued_at: now,
    };
    Ok((token, link))
}

impl Service {
    /// A read-only caller may neither issue nor revoke links; another
    /// organisation's case is not found.
    async fn may_change_links(&self, caller: &Caller, case: &str) -> ServiceResult<()> {
        if caller.read_only {
            return Err(ServiceError::ReadOnly {
                name: caller.name.clone(),
                role: caller.role.clone(),
            });
        }
        self.get(&caller.org, case).await.map(|_| ())
    }

    /// Issues a new tracking link for a case, revoking its older ones. Durable on
    /// return.
    pub async fn issue_tracking_link(
        &self,
        caller: &Caller,
        case: &str,
    ) -> ServiceResult<IssuedLink> {
        self.may_change_links(caller, case).await?;
        let (token, link) = new_link(&caller.org, case, Utc::now())?;
        let issued_at = link.issued_at;
        let (org, id) = (link.org.clone(), link.case.clone());
        let revoked = self
            .read(move |s| {
                let revoked = s.revoke_tracking_links(&org, &id, link.issued_at)?;
                s.save_tracking_link(&link)?;
                Ok(revoked)
            })
            .await?;
        tracing::info!(by = caller.name, case, revoked, "tracking link issued");
        Ok(IssuedLink {
            path: link_path(&token),
            token,
            issued_at,
            revoked,
        })
    }

    /// Revokes every working tracking link of a case; returns how many. Durable
    /// on return.
    pub async fn revoke_tracking_links(&self, caller: &Caller, case: &str) -> ServiceResult<u64> {
        self.may_change_links(caller, case).await?;
        let (org, id) = (caller.org.to_string(), case.to_string());
        let revoked = self
            .read(move |s| s.revoke_tracking_links(&org, &id, Utc::now()))
            .await?;
        tracing::info!(by = caller.name, case, revoked, "tracking links revoked");
        Ok(revoked)
    }
}
