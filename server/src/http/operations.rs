//! Operations: health, metrics, the OpenAPI description, the fallbacks for unknown
//! endpoints and methods, and the middleware that counts and times every request.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::extract::json_response;
use super::{ApiResult, App, OPENAPI};
use crate::problem::Problem;

/// Counts and times every request, and logs it (never its body).
pub(super) async fn observe(State(app): App, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched".to_string(), |m| m.as_str().to_string());
    let method = request.method().clone();
    let started = Instant::now();
    let response = next.run(request).await;
    let elapsed = started.elapsed().as_secs_f64();
    let status = response.status().as_u16().to_string();
    app.metrics
        .requests
        .with_label_values(&[method.as_str(), &route, &status])
        .inc();
    app.metrics
        .latency
        .with_label_values(&[method.as_str(), &route])
        .observe(elapsed);
    tracing::debug!(%method, route, status, ms = elapsed * 1000.0, "request");
    response
}

pub(super) async fn not_found() -> Problem {
    Problem::new(
        StatusCode::NOT_FOUND,
        "not-found",
        "Not found",
        "no such endpoint; see /v1/openapi.json",
    )
}

pub(super) async fn method_not_allowed(method: Method) -> Problem {
    Problem::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        "Method not allowed",
        format!("{method} is not allowed here; see /v1/openapi.json"),
    )
}

pub(super) async fn healthz(State(app): App) -> ApiResult {
    app.read(|s| s.next_due()).await?;
    Ok(json_response(StatusCode::OK, json!({ "status": "ok" })))
}

pub(super) async fn metrics(State(app): App) -> ApiResult {
    let counts = app.read(|s| s.counts()).await?;
    let outbox = app.read(|s| s.outbox_counts()).await?;
    let text = app.metrics.render(&counts, outbox);
    let mut response = text.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    Ok(response)
}

pub(super) async fn openapi() -> Response {
    let mut response = OPENAPI.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
