//! A case's tracking link for the complainant: `POST /v1/cases/{id}/tracking-link`
//! issues a new one (the older ones stop working) and answers its token once;
//! `DELETE` revokes them all. For tokens that may write; the store keeps only the
//! token's SHA-256 (`service::tracking`).

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::json;

use super::extract::{json_response, path_of};
use super::{ApiResult, App};
use crate::config::Caller;

pub(super) async fn issue_link(
    State(app): App,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
) -> ApiResult {
    let id = path_of(id)?;
    let link = app.issue_tracking_link(&caller, &id).await?;
    let body = json!({
        "case": id,
        "token": link.token,
        "path": link.path,
        "issued_at": link.issued_at,
        "revoked": link.revoked,
    });
    Ok(json_response(StatusCode::CREATED, body))
}

pub(super) async fn revoke_links(
    State(app): App,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
) -> ApiResult {
    let id = path_of(id)?;
    let revoked = app.revoke_tracking_links(&caller, &id).await?;
    Ok(json_response(
        StatusCode::OK,
        json!({ "case": id, "revoked": revoked }),
    ))
}
