//! Policies: the organisation's policies, one policy's detail and graph, reload.

use axum::body::Body;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use redress_engine::runtime::migrate::MigrationReport;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::extract::{json_response, parse_body, path_of, query_of};
use super::{ApiResult, App};
use crate::config::Caller;
use crate::problem::{Problem, ProblemBody, ProblemCode};
use crate::view::{self, PolicyChange, PolicyDetail, PolicyList, ReloadResult};

/// The organisation's current policies.
#[utoipa::path(
    get,
    path = "/v1/policies",
    tag = "policies",
    operation_id = "list_policies",
    security(("bearerAuth" = [])),
    responses((status = 200, description = "The policies", body = PolicyList))
)]
pub(super) async fn list_policies(State(app): App, caller: Caller) -> ApiResult {
    let policies = app
        .policies_of(&caller.org)
        .iter()
        .map(|p| view::policy_summary(p))
        .collect();
    Ok(json_response(StatusCode::OK, &PolicyList { policies }))
}

/// A policy in full: fields, stages, transitions, SLAs.
#[utoipa::path(
    get,
    path = "/v1/policies/{id}",
    tag = "policies",
    operation_id = "get_policy",
    security(("bearerAuth" = [])),
    params(("id" = String, Path, description = "The policy's id")),
    responses(
        (status = 200, description = "The policy", body = PolicyDetail),
        (status = 404, description = "No such policy", body = ProblemBody, content_type = "application/problem+json"),
    )
)]
pub(super) async fn get_policy(
    State(app): App,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
) -> ApiResult {
    let id = path_of(id)?;
    let policy = app.policy_of(&caller.org, &id)?;
    Ok(json_response(StatusCode::OK, &view::policy_detail(&policy)))
}

/// How to draw a policy's stage graph.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct GraphQuery {
    /// `mermaid` (the default) or `dot`.
    format: Option<String>,
}

/// A policy's stage graph, as Mermaid or Graphviz text.
#[utoipa::path(
    get,
    path = "/v1/policies/{id}/graph",
    tag = "policies",
    operation_id = "policy_graph",
    security(("bearerAuth" = [])),
    params(("id" = String, Path, description = "The policy's id"), GraphQuery),
    responses(
        (status = 200, description = "The graph", content((String = "text/vnd.mermaid"), (String = "text/vnd.graphviz"))),
        (status = 400, description = "An unknown format", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No such policy", body = ProblemBody, content_type = "application/problem+json"),
    )
)]
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

/// Reads the organisation's policy files again; running cases keep the version
/// they are pinned to.
#[utoipa::path(
    post,
    path = "/v1/policies/reload",
    tag = "policies",
    operation_id = "reload_policies",
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Reloaded", body = ReloadResult),
        (status = 403, description = "A token without reload rights", body = ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "The files have errors; nothing was changed", body = ProblemBody, content_type = "application/problem+json"),
    )
)]
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
        .with(|x| {
            x.diagnostics = Some(failure.diagnostics);
            x.files = Some(failure.files);
            x.report = Some(failure.human);
        })
    })?;
    app.save_policy_versions().await?;
    app.check_calendars(chrono::Utc::now().date_naive());
    tracing::info!(
        by = caller.name,
        org = %caller.org,
        changes = changes.len(),
        "policies reloaded"
    );
    let policies = app
        .policies_of(&caller.org)
        .iter()
        .map(|p| view::policy_summary(p))
        .collect();
    let changes = changes
        .into_iter()
        .map(|c| PolicyChange {
            policy: c.policy,
            from: c.from,
            to: c.to,
        })
        .collect();
    Ok(json_response(
        StatusCode::OK,
        &ReloadResult { changes, policies },
    ))
}

/// The body of `POST /v1/policies/{id}/migrate`.
#[derive(Debug, Default, Deserialize, ToSchema)]
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

/// Moves the policy's running cases onto a version (a dry run unless `apply`),
/// reporting every deadline that moves.
#[utoipa::path(
    post,
    path = "/v1/policies/{id}/migrate",
    tag = "policies",
    operation_id = "migrate_policy",
    security(("bearerAuth" = [])),
    params(("id" = String, Path, description = "The policy's id")),
    request_body = MigrateBody,
    responses(
        (status = 200, description = "Every case's plan", body = MigrationReport),
        (status = 400, description = "Invalid request or malformed JSON", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "Only the `compliance` role may migrate", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No such policy or version", body = ProblemBody, content_type = "application/problem+json"),
    )
)]
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
    Ok(json_response(StatusCode::OK, &report))
}
