//! The HTTP API under `/v1`, `/healthz` and `/metrics`. Handlers parse, call the
//! service and render; every error is a problem document (RFC 9457). One module per
//! resource: `cases`, `policies`, `reports`, `tracking` (a case's tracking link),
//! `operations`, over the shared `extract`ors.

mod cases;
mod extract;
mod operations;
mod policies;
mod reports;
mod tracking;

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::middleware;
use axum::response::Response;
use axum::routing::{get, post};

use crate::problem::Problem;
use crate::service::Service;

use cases::{get_case, history, intake, list_cases, post_event};
use operations::{admit, healthz, method_not_allowed, metrics, not_found, observe, openapi};
use policies::{get_policy, list_policies, migrate_policy, policy_graph, reload_policies};
use reports::get_report;
use tracking::{issue_link, revoke_links};

/// The OpenAPI description of this API.
pub const OPENAPI: &str = include_str!("../../docs/openapi.json");

type App = State<Arc<Service>>;
type ApiResult = Result<Response, Problem>;

/// Every route.
pub fn router(service: Arc<Service>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/v1/openapi.json", get(openapi))
        .route("/v1/policies", get(list_policies))
        .route("/v1/policies/reload", post(reload_policies))
        .route("/v1/policies/{id}", get(get_policy))
        .route("/v1/policies/{id}/graph", get(policy_graph))
        .route("/v1/policies/{id}/migrate", post(migrate_policy))
        .route("/v1/cases", post(intake).get(list_cases))
        .route("/v1/cases/{id}", get(get_case))
        .route("/v1/cases/{id}/events", post(post_event))
        .route("/v1/cases/{id}/history", get(history))
        .route(
            "/v1/cases/{id}/tracking-link",
            post(issue_link).delete(revoke_links),
        )
        .route("/v1/reports", get(get_report))
        .merge(crate::console::router(service.clone()))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(service.clone(), admit))
        .layer(middleware::from_fn_with_state(service.clone(), observe))
        .with_state(service)
}
