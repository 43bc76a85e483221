//! A case's tracking link for the complainant: `POST /v1/cases/{id}/tracking-link`
//! issues a new one (the older ones stop working) and answers its token once;
//! `DELETE` revokes them all. For tokens that may write; the store keeps only the
//! token's SHA-256 (`service::tracking`).

use super::extract::{json_response, path_of};
use super::{ApiResult, App};
use crate::config::Caller;
use crate::problem::ProblemBody;
use crate::view::{IssuedLinkView, RevokedLinks};
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;

/// Issues a new tracking link for the complainant (older ones keep working until
/// revoked); its token is answered only here.
#[utoipa::path(
    post,
    path = "/v1/cases/{id}/tracking-link",
    tag = "cases",
    operation_id = "issue_link",
    security(("bearerAuth" = [])),
    params(("id" = String, Path, description = "The case's id")),
    responses(
        (status = 201, description = "A new link", body = IssuedLinkView),
        (status = 403, description = "A read-only token", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No such case", body = ProblemBody, content_type = "application/problem+json"),
    )
)]
pub(super) async fn issue_link(
    State(app): App,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
) -> ApiResult {
    let id = path_of(id)?;
    let link = app.issue_tracking_link(&caller, &id).await?;
    let body = IssuedLinkView {
        case: id,
        token: link.token,
        path: link.path,
        issued_at: link.issued_at,
        revoked: link.revoked,
    };
    Ok(json_response(StatusCode::CREATED, &body))
}

/// Revokes every tracking link of the case.
#[utoipa::path(
    delete,
    path = "/v1/cases/{id}/tracking-link",
    tag = "cases",
    operation_id = "revoke_links",
    security(("bearerAuth" = [])),
    params(("id" = String, Path, description = "The case's id")),
    responses(
        (status = 200, description = "Revoked", body = RevokedLinks),
        (status = 403, description = "A read-only token", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No such case", body = ProblemBody, content_type = "application/problem+json"),
    )
)]
pub(super) async fn revoke_links(
    State(app): App,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
) -> ApiResult {
    let id = path_of(id)?;
    let revoked = app.revoke_tracking_links(&caller, &id).await?;
    Ok(json_response(
        StatusCode::OK,
        &RevokedLinks { case: id, revoked },
    ))
}
