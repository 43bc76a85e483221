//! Policies: the organisation's policies, one policy's detail and graph, reload.

use axum::body::Body;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::{Value, json};

use super::extract::{json_response, parse_body, path_of, query_of};
use super::{ApiResult, App};
use crate::config::Caller;
use crate::problem::{Problem, ProblemCode};
use crate::view;

pub(super) async fn list_policies(State(app): App, caller: Caller) -> ApiResult {
    let policies: Vec<Value> = app
        .policies_of(&caller.org)
        .iter()
        .map(|p| view::policy_summary(p))
        .collect();
    Ok(json_response(
        StatusCode::OK,
        json!({ "policies": policies }),
    ))
}

pub(super) async fn get_policy(
    State(app): App,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
) -> ApiResult {
    let id = path_of(id)?;
    let policy = app.policy_of(&caller.org, &id)?;
    Ok(json_response(StatusCode::OK, view::policy_detail(&policy)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct GraphQuery {
    format: Option<String>,
}

pub(super) async fn policy_graph(
    State(app): App,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
    query: Result<Query<GraphQuery>, QueryRejection>,
) -> ApiResult {
    let id = path_of(id)?;
    let query = query_of(query)?;
    let policy = app.policy_of(&caller.org, &id)?;
    let (text, media) = match query.format.as_deref().unwrap_or("mermaid") {
        "mermaid" => (
            policy.graph().to_mermaid(),
            "text/vnd.mermaid; charset=utf-8",
        ),
        "dot" => (policy.graph().to_dot(), "text/vnd.graphviz; charset=utf-8"),
        other => {
            return Err(Problem::invalid(format!(
                "unknown graph format `{other}`; use `mermaid` or `dot`"
            )));
        }
    };
    let mut response = text.into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(media));
    Ok(response)
}

pub(super) async fn reload_policies(State(app): App, caller: Caller) -> ApiResult {
    if !caller.reload_policies {
        return Err(Problem::new(
            ProblemCode::Forbidden,
            format!("role `{}` may not reload policies", caller.role),
        ));
    }
    let (service, org) = (app.clone(), caller.org.clone());
    let reloaded = tokio::task::spawn_blocking(move || service.registry.reload(&org))
        .await
        .map_err(Problem::internal)?;
    let changes = reloaded.map_err(|failure| {
        Problem::new(
            ProblemCode::InvalidPolicies,
            "the organisation's policies on disk have errors; nothing was changed",
        )
        .with("diagnostics", json!(failure.diagnostics))
        .with("files", json!(failure.files))
        .with("report", json!(failure.human))
    })?;
    app.save_policy_versions().await?;
    app.check_calendars(chrono::Utc::now().date_naive());
    tracing::info!(
        by = caller.name,
        org = %caller.org,
        changes = changes.len(),
        "policies reloaded"
    );
    let policies: Vec<Value> = app
        .policies_of(&caller.org)
        .iter()
        .map(|p| view::policy_summary(p))
        .collect();
    Ok(json_response(
        StatusCode::OK,
        json!({ "changes": changes, "policies": policies }),
    ))
}

/// The body of `POST /v1/policies/{id}/migrate`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct MigrateBody {
    /// `current` (the default) or a version's hash.
    to: Option<String>,
    /// Write the migration; without it, a dry run.
    #[serde(default)]
    apply: bool,
}

/// The role that may migrate running cases: a compliance officer's decision.
const MIGRATE_ROLE: &str = "compliance";

pub(super) async fn migrate_policy(
    State(app): App,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult {
    let id = path_of(id)?;
    if caller.role != MIGRATE_ROLE {
        return Err(Problem::new(
            ProblemCode::Forbidden,
            format!(
                "role `{}` may not migrate cases; the `{MIGRATE_ROLE}` role may",
                caller.role
            ),
        ));
    }
    let body: MigrateBody = parse_body(app.config.max_body, &headers, body).await?;
    let report = app
        .migrate(&caller, &id, body.to.as_deref(), body.apply)
        .await?;
    Ok(json_response(StatusCode::OK, json!(report)))
}
