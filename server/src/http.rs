//! The HTTP API under `/v1`, `/healthz` and `/metrics`. Handlers parse, call the
//! service and render; every error is a problem document (RFC 9457).

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{FromRequestParts, MatchedPath, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, FixedOffset, Utc};
use redress_engine::runtime::{CommandKind, Data};
use redress_store::{CaseFilter, ClockSummary};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::config::Caller;
use crate::problem::Problem;
use crate::service::{Intake, Outcome, Service};
use crate::view;

/// The OpenAPI description of this API.
pub const OPENAPI: &str = include_str!("../../docs/openapi.json");

/// Idempotency keys longer than this are refused.
const MAX_KEY: usize = 200;

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
        .route("/v1/cases", post(intake).get(list_cases))
        .route("/v1/cases/{id}", get(get_case))
        .route("/v1/cases/{id}/events", post(post_event))
        .route("/v1/cases/{id}/history", get(history))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(service.clone(), observe))
        .with_state(service)
}

impl FromRequestParts<Arc<Service>> for Caller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<Service>) -> Result<Self, Problem> {
        let unauthorized = |detail: &str| {
            Problem::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "Unauthorized",
                detail,
            )
        };
        let header = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let Some(header) = header else {
            return Err(unauthorized("send `Authorization: Bearer <token>`"));
        };
        let Some(token) = header.strip_prefix("Bearer ") else {
            return Err(unauthorized(
                "the Authorization header must be `Bearer <token>`",
            ));
        };
        app.config
            .caller(token.trim())
            .cloned()
            .ok_or_else(|| unauthorized("the token is not known to this server"))
    }
}

/// Counts and times every request, and logs it (never its body).
async fn observe(State(app): App, request: Request, next: Next) -> Response {
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

async fn not_found() -> Problem {
    Problem::new(
        StatusCode::NOT_FOUND,
        "not-found",
        "Not found",
        "no such endpoint; see /v1/openapi.json",
    )
}

async fn method_not_allowed(method: Method) -> Problem {
    Problem::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        "Method not allowed",
        format!("{method} is not allowed here; see /v1/openapi.json"),
    )
}

fn json_response(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

/// Reads a JSON body: the right media type, within the size limit, well formed,
/// and of the right shape, each its own problem.
async fn parse_body<T: DeserializeOwned>(
    max: usize,
    headers: &HeaderMap,
    body: Body,
) -> Result<T, Problem> {
    let media = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = media.split(';').next().unwrap_or("").trim();
    if essence != "application/json" && !essence.ends_with("+json") {
        return Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "Unsupported media type",
            format!("send `Content-Type: application/json` (got `{media}`)"),
        ));
    }
    let too_large = || {
        Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body-too-large",
            "Body too large",
            format!("the request body is larger than {max} bytes"),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > max) {
        return Err(too_large());
    }
    let bytes = axum::body::to_bytes(body, max)
        .await
        .map_err(|_| too_large())?;
    serde_json::from_slice(&bytes).map_err(|e| {
        use serde_json::error::Category;
        match e.classify() {
            Category::Syntax | Category::Eof | Category::Io => Problem::new(
                StatusCode::BAD_REQUEST,
                "malformed-json",
                "Malformed JSON",
                format!("the body is not valid JSON: {e}"),
            )
            .with("line", json!(e.line()))
            .with("column", json!(e.column())),
            Category::Data => Problem::invalid(format!("the body does not fit this endpoint: {e}")),
        }
    })
}

/// The path parameter, or a problem naming what is wrong with it.
fn path_of(path: Result<Path<String>, PathRejection>) -> Result<String, Problem> {
    path.map(|Path(id)| id)
        .map_err(|e| Problem::invalid(format!("bad path: {}", e.body_text())))
}

/// The query string, or a problem naming what is wrong with it.
fn query_of<T>(query: Result<Query<T>, QueryRejection>) -> Result<T, Problem> {
    query
        .map(|Query(q)| q)
        .map_err(|e| Problem::invalid(format!("bad query string: {}", e.body_text())))
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, Problem> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    match value.to_str() {
        Ok(key)
            if !key.is_empty()
                && key.len() <= MAX_KEY
                && key.bytes().all(|b| b.is_ascii_graphic()) =>
        {
            Ok(Some(key.to_string()))
        }
        _ => Err(Problem::invalid(format!(
            "the Idempotency-Key header must be 1 to {MAX_KEY} visible ASCII characters"
        ))),
    }
}

async fn healthz(State(app): App) -> ApiResult {
    app.read(|s| s.next_due()).await?;
    Ok(json_response(StatusCode::OK, json!({ "status": "ok" })))
}

async fn metrics(State(app): App) -> ApiResult {
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

async fn openapi() -> Response {
    let mut response = OPENAPI.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

async fn list_policies(State(app): App, caller: Caller) -> ApiResult {
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

async fn get_policy(
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
struct GraphQuery {
    format: Option<String>,
}

async fn policy_graph(
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

async fn reload_policies(State(app): App, caller: Caller) -> ApiResult {
    if !caller.reload_policies {
        return Err(Problem::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "Forbidden",
            format!("role `{}` may not reload policies", caller.role),
        ));
    }
    let service = app.clone();
    let reloaded = tokio::task::spawn_blocking(move || service.registry.reload())
        .await
        .map_err(Problem::internal)?;
    let changes = reloaded.map_err(|failure| {
        Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-policies",
            "Invalid policies",
            "the policies on disk have errors; nothing was changed",
        )
        .with("diagnostics", json!(failure.diagnostics))
        .with("report", json!(failure.human))
    })?;
    app.save_policy_versions().await?;
    tracing::info!(
        by = caller.name,
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct IntakeBody {
    policy: String,
    #[serde(default)]
    data: Data,
    received_at: Option<DateTime<FixedOffset>>,
    id: Option<String>,
}

/// Whether the client asked for a short answer (`Prefer: return=minimal`, RFC 7240).
fn minimal(headers: &HeaderMap) -> bool {
    headers
        .get_all("prefer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim().eq_ignore_ascii_case("return=minimal"))
}

/// The answer to a command: the case after it (in full, or in short for
/// `Prefer: return=minimal`) and the events it recorded.
fn outcome_response(
    status: StatusCode,
    outcome: &Outcome,
    caller: &Caller,
    headers: &HeaderMap,
) -> Response {
    let events: Vec<Value> = outcome
        .events
        .iter()
        .map(|e| view::event(&outcome.slot.policy, e, caller))
        .collect();
    let short = minimal(headers);
    let case = match short {
        true => view::case_summary(&outcome.slot),
        false => view::case(&outcome.slot, caller, Utc::now()),
    };
    let mut body = json!({ "case": case, "events": events });
    if let Some((first, last)) = outcome.repeat_of {
        body["repeat_of"] = json!({ "first": first, "last": last });
    }
    let mut response = json_response(status, body);
    if short {
        response.headers_mut().insert(
            "preference-applied",
            HeaderValue::from_static("return=minimal"),
        );
    }
    response
}

fn valid_case_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

async fn intake(State(app): App, caller: Caller, headers: HeaderMap, body: Body) -> ApiResult {
    let key = idempotency_key(&headers)?;
    let body: IntakeBody = parse_body(app.config.max_body, &headers, body).await?;
    if let Some(id) = &body.id
        && !valid_case_id(id)
    {
        return Err(Problem::invalid(format!(
            "case id `{id}`: use 1 to 64 letters, digits, `-`, `_` or `.`"
        )));
    }
    let request = Intake {
        policy: body.policy,
        data: body.data,
        received_at: body.received_at.map(|t| t.with_timezone(&Utc)),
        id: body.id,
    };
    let outcome = app.intake(&caller, request, key).await?;
    let status = match outcome.created {
        true => StatusCode::CREATED,
        false => StatusCode::OK,
    };
    let mut response = outcome_response(status, &outcome, &caller, &headers);
    if let Ok(location) = HeaderValue::from_str(&format!("/v1/cases/{}", outcome.slot.case.id)) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    queue: Option<String>,
    stage: Option<String>,
    clock: Option<String>,
    policy: Option<String>,
    status: Option<String>,
    assignee: Option<String>,
    limit: Option<usize>,
    after: Option<String>,
}

async fn list_cases(
    State(app): App,
    caller: Caller,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> ApiResult {
    let q = query_of(q)?;
    let clock_state = match q.clock.as_deref() {
        None => None,
        Some(name) => Some(ClockSummary::parse(name).ok_or_else(|| {
            let names: Vec<_> = ClockSummary::ALL.iter().map(|s| s.as_str()).collect();
            Problem::invalid(format!(
                "unknown clock state `{name}`; use one of {}",
                names.join(", ")
            ))
        })?),
    };
    let closed = match q.status.as_deref() {
        None | Some("all") => None,
        Some("open") => Some(false),
        Some("closed") => Some(true),
        Some(other) => {
            return Err(Problem::invalid(format!(
                "unknown status `{other}`; use `open`, `closed` or `all`"
            )));
        }
    };
    if let Some(after) = &q.after
        && after.parse::<u64>().is_err()
    {
        return Err(Problem::invalid(format!(
            "`after={after}` is not a cursor from `next`"
        )));
    }
    let limit = q.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(Problem::invalid("`limit` must be 1 to 500"));
    }
    let filter = CaseFilter {
        queue: q.queue,
        stage: q.stage,
        clock_state,
        policy: q.policy,
        closed,
        assignee: q.assignee,
    };
    let org = caller.org.to_string();
    let after = q.after;
    let page = app
        .read(move |s| s.list(&org, &filter, after.as_deref(), limit))
        .await?;
    Ok(json_response(
        StatusCode::OK,
        json!({ "cases": page.rows, "next": page.next }),
    ))
}

async fn get_case(
    State(app): App,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
) -> ApiResult {
    let id = path_of(id)?;
    let slot = app.get(&caller.org, &id).await?;
    Ok(json_response(
        StatusCode::OK,
        view::case(&slot, &caller, Utc::now()),
    ))
}

/// A command on a case: exactly one of `event`, `note`, `assign`, `update`,
/// `extend`, `withdraw`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CommandBody {
    event: Option<String>,
    data: Option<Data>,
    note: Option<String>,
    assign: Option<String>,
    update: Option<Data>,
    extend: Option<String>,
    extension: Option<String>,
    withdraw: Option<bool>,
    expected_version: Option<u64>,
}

impl CommandBody {
    fn into_kind(self) -> Result<CommandKind, Problem> {
        let given = [
            self.event.is_some(),
            self.note.is_some(),
            self.assign.is_some(),
            self.update.is_some(),
            self.extend.is_some(),
            self.withdraw.is_some(),
        ];
        if given.iter().filter(|g| **g).count() != 1 {
            return Err(Problem::invalid(
                "give exactly one of `event`, `note`, `assign`, `update`, `extend`, `withdraw`",
            ));
        }
        if self.data.is_some() && self.event.is_none() {
            return Err(Problem::invalid("`data` goes with `event`"));
        }
        if self.extension.is_some() && self.extend.is_none() {
            return Err(Problem::invalid("`extension` goes with `extend`"));
        }
        Ok(if let Some(name) = self.event {
            CommandKind::Event {
                name,
                data: self.data.unwrap_or_default(),
            }
        } else if let Some(text) = self.note {
            CommandKind::Note { text }
        } else if let Some(assignee) = self.assign {
            CommandKind::Assign { assignee }
        } else if let Some(data) = self.update {
            CommandKind::Update { data }
        } else if let Some(sla) = self.extend {
            CommandKind::Extend {
                sla,
                extension: self.extension,
            }
        } else if self.withdraw == Some(true) {
            CommandKind::Withdraw
        } else {
            return Err(Problem::invalid("`withdraw` must be `true`"));
        })
    }
}

async fn post_event(
    State(app): App,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult {
    let id = path_of(id)?;
    let key = idempotency_key(&headers)?;
    let body: CommandBody = parse_body(app.config.max_body, &headers, body).await?;
    let expected = body.expected_version;
    let kind = body.into_kind()?;
    let outcome = app.command(&caller, &id, kind, key, expected).await?;
    Ok(outcome_response(
        StatusCode::OK,
        &outcome,
        &caller,
        &headers,
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HistoryQuery {
    after: Option<u64>,
    limit: Option<usize>,
}

async fn history(
    State(app): App,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
    q: Result<Query<HistoryQuery>, QueryRejection>,
) -> ApiResult {
    let id = path_of(id)?;
    let q = query_of(q)?;
    let slot = app.get(&caller.org, &id).await?;
    let limit = q.limit.unwrap_or(500);
    if !(1..=5000).contains(&limit) {
        return Err(Problem::invalid("`limit` must be 1 to 5000"));
    }
    let (org, case, after) = (caller.org.to_string(), id.clone(), q.after.unwrap_or(0));
    let events = app
        .read(move |s| s.events(&org, &case, after, limit))
        .await?;
    let next = match events.len() == limit {
        true => events.last().map(|e| e.event.seq),
        false => None,
    };
    let events: Vec<Value> = events
        .iter()
        .map(|e| view::stored_event(&slot.policy, e, &caller))
        .collect();
    Ok(json_response(
        StatusCode::OK,
        json!({ "case": id, "events": events, "next": next }),
    ))
}
