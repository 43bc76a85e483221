//! Operations: health, metrics, the OpenAPI description, the fallbacks for unknown
//! endpoints and methods, and the middleware that counts and times every request.

use std::sync::atomic::Ordering;
use std::time::Instant;

use super::extract::json_response;
use super::{ApiResult, App};
use crate::problem::{Problem, ProblemBody, ProblemCode};
use crate::view::{Health, HealthStatus, NotLoadedView};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

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

/// Headers in one request, at most.
const MAX_HEADERS: usize = 100;

/// Admits a request, or answers it with a problem: `503` while the service stops,
/// `431` for a head over the limits, `503` `timeout` when the answer takes longer
/// than the request timeout. The handler runs in its own task, so a timeout never
/// cuts a write in half: it completes, and only its answer is lost (a retry with the
/// same idempotency key gets it).
pub(super) async fn admit(State(app): App, request: Request, next: Next) -> Response {
    if app.draining.load(Ordering::SeqCst) {
        app.metrics.shed.with_label_values(&["stopping"]).inc();
        return Problem::unavailable("the service is stopping; retry shortly").into_response();
    }
    let limits = app.config.limits;
    let headers = request.headers();
    let head = request.uri().to_string().len()
        + headers
            .iter()
            .map(|(name, value)| name.as_str().len() + value.len() + 4)
            .sum::<usize>();
    if headers.len() > MAX_HEADERS || head > limits.max_header {
        return Problem::new(ProblemCode::HeadersTooLarge, format!(
                "the request head is {head} bytes in {} headers; at most {} bytes in {MAX_HEADERS} headers are accepted",
                headers.len(),
                limits.max_header
            ),
        )
        .into_response();
    }
    let handler = tokio::spawn(next.run(request));
    match tokio::time::timeout(limits.request_timeout, handler).await {
        Ok(Ok(response)) => response,
        Ok(Err(error)) => Problem::internal(error).into_response(),
        Err(_) => {
            app.metrics.shed.with_label_values(&["timeout"]).inc();
            let mut response = Problem::new(ProblemCode::Timeout, format!(
                    "no answer within {} s; the request may have been applied, and is safe to retry with the same idempotency key",
                    limits.request_timeout.as_secs()
                ),
            )
            .into_response();
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            response
        }
    }
}

pub(super) async fn not_found() -> Problem {
    Problem::new(
        ProblemCode::NotFound,
        "no such endpoint; see /v1/openapi.json",
    )
}

pub(super) async fn method_not_allowed(method: Method) -> Problem {
    Problem::new(
        ProblemCode::MethodNotAllowed,
        format!("{method} is not allowed here; see /v1/openapi.json"),
    )
}

/// `ok`, or `degraded` with the organisations whose policies did not load (the
/// others serve, so the answer stays 200: restarting would not help).
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    operation_id = "healthz",
    responses((status = 200, description = "The store answers", body = Health))
)]
pub(super) async fn healthz(State(app): App) -> ApiResult {
    app.read(|s| s.next_due()).await?;
    let not_loaded: Vec<NotLoadedView> = app
        .registry
        .not_loaded()
        .into_iter()
        .map(|n| NotLoadedView {
            organisation: n.organisation,
            files: n.files,
            codes: n.codes,
        })
        .collect();
    let status = match not_loaded.is_empty() {
        true => HealthStatus::Ok,
        false => HealthStatus::Degraded,
    };
    Ok(json_response(
        StatusCode::OK,
        &Health { status, not_loaded },
    ))
}

/// Prometheus metrics; with `[metrics] token` configured, only for that token.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    operation_id = "metrics",
    security((), ("metricsToken" = [])),
    responses(
        (status = 200, description = "The metrics in Prometheus' text format", body = String, content_type = "text/plain"),
        (status = 401, description = "`[metrics] token` is configured and was not sent", body = ProblemBody, content_type = "application/problem+json"),
    )
)]
pub(super) async fn metrics(State(app): App, headers: axum::http::HeaderMap) -> ApiResult {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if !app.config.may_scrape(authorization) {
        return Err(Problem::new(
            ProblemCode::Unauthorized,
            "send the metrics token of `[metrics]` as `Authorization: Bearer <token>`",
        ));
    }
    let counts = app.read(|s| s.counts()).await?;
    let outbox = app.read(|s| s.outbox_counts()).await?;
    let text = app.metrics.render(&counts, outbox, app.store.storage());
    let mut response = text.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    Ok(response)
}

/// This description.
#[utoipa::path(
    get,
    path = "/v1/openapi.json",
    tag = "operations",
    operation_id = "openapi",
    responses((status = 200, description = "The OpenAPI description of this API", content_type = "application/json"))
)]
pub(super) async fn openapi() -> ApiResult {
    let text = super::OPENAPI.as_ref().map_err(Problem::internal)?;
    let mut response = text.as_str().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(response)
}
