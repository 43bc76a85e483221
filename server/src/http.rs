//! The HTTP API under `/v1`, `/healthz` and `/metrics`. Handlers parse, call the
//! service and render; every error is a problem document (RFC 9457). One module per
//! resource: `cases`, `policies`, `reports`, `tracking` (a case's tracking link),
//! `operations`, over the shared `extract`ors.
//!
//! The OpenAPI description is generated from the handlers' `#[utoipa::path]`
//! attributes and the view types' schemas: `api` is the one list of routes, and
//! both the router and the description come from it, so no route exists without
//! its description. `docs/openapi.json` is that description, committed (a test
//! fails when it differs; `UPDATE_OPENAPI=1` rewrites it).

mod cases;
mod extract;
mod operations;
mod policies;
mod reports;
mod tracking;

use std::sync::{Arc, LazyLock};

use axum::Router;
use axum::extract::State;
use axum::middleware;
use axum::response::Response;
use utoipa::openapi::path::Operation;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, OpenApi as Document, PathItem, Ref, RefOr};
use utoipa::{Modify, OpenApi, PartialSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::problem::{Problem, ProblemBody};
use crate::service::Service;

use operations::{admit, method_not_allowed, not_found, observe};

type App = State<Arc<Service>>;
type ApiResult = Result<Response, Problem>;

/// The description's frame: title, the bearer scheme, tags; the operations come
/// from [`api`].
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Redress API",
        description = "Complaint handling: cases under policies, SLA clocks on business calendars, an audit trail. Every error is a problem document (RFC 9457) with a stable `code`; every instant is RFC 3339 in UTC with six fractional digits (`2026-11-20T01:15:00.000000Z`).",
    ),
    modifiers(&Frame),
    tags(
        (name = "cases", description = "Intake, lists, one case, commands, history, tracking links"),
        (name = "policies", description = "The organisation's policies, their graphs, reload, migration"),
        (name = "reports", description = "Reports over a period"),
        (name = "operations", description = "Health, metrics, this description"),
    )
)]
struct Frame;

/// The problems any operation may answer with, whatever it does: the admission
/// middleware's (`431`, `503`), a fault (`500`), and for operations that need a
/// token, `401`.
const COMMON: [(&str, &str); 4] = [
    ("401", "No bearer token, or one this server does not know"),
    ("431", "The request head is over the limits"),
    (
        "500",
        "A fault, logged; safe to retry with the same idempotency key",
    ),
    (
        "503",
        "The service is stopping, a limit is reached, or no answer in time; retry",
    ),
];

impl Modify for Frame {
    fn modify(&self, doc: &mut Document) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearerAuth",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "metricsToken",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        for (status, description) in COMMON {
            let response = ResponseBuilder::new()
                .description(description)
                .content(
                    "application/problem+json",
                    Content::new(Some(Ref::from_schema_name("Problem"))),
                )
                .build();
            components
                .responses
                .insert(format!("Problem{status}"), RefOr::T(response));
        }
        let (name, schema) = ("Problem".to_string(), ProblemBody::schema());
        components.schemas.insert(name, schema);
        let mut nested = Vec::new();
        <ProblemBody as utoipa::ToSchema>::schemas(&mut nested);
        components.schemas.extend(nested);
    }
}

/// The operations of a path item.
fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.patch,
    ]
    .into_iter()
    .flatten()
}

/// Adds the [`COMMON`] problems to every operation (`401` only where a token is
/// needed).
fn add_common_problems(doc: &mut Document) {
    for item in doc.paths.paths.values_mut() {
        for operation in operations(item) {
            let secured = operation.security.as_ref().is_some_and(|s| !s.is_empty());
            for (status, _) in COMMON {
                if status == "401" && !secured {
                    continue;
                }
                operation
                    .responses
                    .responses
                    .entry(status.to_string())
                    .or_insert_with(|| {
                        RefOr::Ref(Ref::from_response_name(format!("Problem{status}")))
                    });
            }
        }
    }
}

/// Every route with its description: the one list.
fn api() -> OpenApiRouter<Arc<Service>> {
    OpenApiRouter::with_openapi(Frame::openapi())
        .routes(routes!(operations::healthz))
        .routes(routes!(operations::metrics))
        .routes(routes!(operations::openapi))
        .routes(routes!(policies::list_policies))
        .routes(routes!(policies::reload_policies))
        .routes(routes!(policies::get_policy))
        .routes(routes!(policies::policy_graph))
        .routes(routes!(policies::migrate_policy))
        .routes(routes!(cases::intake, cases::list_cases))
        .routes(routes!(cases::get_case))
        .routes(routes!(cases::post_event))
        .routes(routes!(cases::history))
        .routes(routes!(tracking::issue_link, tracking::revoke_links))
        .routes(routes!(reports::get_report))
}

/// The OpenAPI description of this API.
pub fn openapi_document() -> Document {
    let (_, mut doc) = api().split_for_parts();
    add_common_problems(&mut doc);
    doc
}

/// The description as served at `/v1/openapi.json` and kept in `docs/openapi.json`:
/// pretty JSON with a final newline.
pub fn openapi_json() -> Result<String, serde_json::Error> {
    let mut text = openapi_document().to_pretty_json()?;
    text.push('\n');
    Ok(text)
}

/// The description, made once; the error as text, should it fail.
static OPENAPI: LazyLock<Result<String, String>> =
    LazyLock::new(|| openapi_json().map_err(|e| e.to_string()));

/// Every route.
pub fn router(service: Arc<Service>) -> Router {
    let (api, _) = api().split_for_parts();
    api.merge(crate::console::router(service.clone()))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(service.clone(), admit))
        .layer(middleware::from_fn_with_state(service.clone(), observe))
        .with_state(service)
}
