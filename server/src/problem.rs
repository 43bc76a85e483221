//! Errors as RFC 9457 problem details (`application/problem+json`), each with a
//! stable [`ProblemCode`] that decides its status and title. Every code the API can
//! answer with is listed in `docs/api.md` with its status (a test keeps the two in
//! step).

mod problem_code;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use redress_engine::diagnostic::Diagnostic;
use redress_engine::runtime::Refusal;
use redress_store::StoreError;
use serde::Serialize;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, Schema, Type};
use utoipa::{PartialSchema, ToSchema};

use crate::service::ServiceError;
pub use problem_code::{ProblemCode, refusal_status};

/// A problem: its stable code (which gives the status and title), the detail, and
/// extension members.
#[derive(Debug, Clone)]
pub struct Problem {
    /// The HTTP status, [`ProblemCode::status`] of the code.
    pub status: StatusCode,
    /// The stable code.
    pub code: ProblemCode,
    /// What went wrong this time.
    pub detail: String,
    /// Extension members; every one a problem may carry is a field here.
    pub extensions: Box<Extensions>,
}

/// The extension members a problem may carry beside the RFC 9457 ones, each only
/// where its code says.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct Extensions {
    /// A refused command (a refusal's code): why, as the engine said.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refusal: Option<Refusal>,
    /// `unknown-policy`: the organisation's policies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub known: Option<Vec<String>>,
    /// `invalid-policies`: every problem found in the policy files.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diagnostics: Option<Vec<Diagnostic>>,
    /// `invalid-policies`: the files with errors.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub files: Option<Vec<String>>,
    /// `invalid-policies`: the diagnostics rendered for people.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<String>,
    /// `malformed-json`: the line of the error in the body, from 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// `malformed-json`: its column, from 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
    /// `precondition-failed`: the case's `ETag` now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_etag: Option<String>,
}

/// [`ProblemDocument`] as the OpenAPI attributes name it.
pub type ProblemBody = ProblemDocument<'static>;

/// A problem's JSON body (RFC 9457), `application/problem+json`.
#[derive(Debug, Clone, Serialize)]
pub struct ProblemDocument<'a> {
    /// `https://redress.dev/problems/{code}`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The code's title.
    pub title: &'static str,
    /// The HTTP status.
    pub status: u16,
    /// What went wrong this time.
    pub detail: &'a str,
    /// The stable code.
    pub code: &'static str,
    /// Extension members.
    #[serde(flatten)]
    pub extensions: &'a Extensions,
}

/// The document's schema: the RFC 9457 members, `code` one of [`ProblemCode::all`],
/// and the [`Extensions`], no other member.
impl PartialSchema for ProblemDocument<'_> {
    fn schema() -> RefOr<Schema> {
        let codes: Vec<&str> = ProblemCode::all().map(ProblemCode::as_str).collect();
        let text = |description: &str| {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .description(Some(description))
        };
        let mut object = ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some(
                "A problem document (RFC 9457): every error the API answers with",
            ))
            .property(
                "type",
                text("`https://redress.dev/problems/{code}`")
                    .format(Some(utoipa::openapi::SchemaFormat::Custom("uri".into()))),
            )
            .property("title", text("The code's title"))
            .property(
                "status",
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(400))
                    .maximum(Some(599)),
            )
            .property("detail", text("What went wrong this time"))
            .property(
                "code",
                text("The stable code; a refused command's is the refusal's `kind`")
                    .enum_values(Some(codes)),
            )
            .required("type")
            .required("title")
            .required("status")
            .required("detail")
            .required("code")
            .additional_properties(Some(AdditionalProperties::FreeForm(false)));
        if let RefOr::T(Schema::Object(extensions)) = Extensions::schema() {
            for (name, property) in extensions.properties {
                object = object.property(name, property);
            }
        }
        object.into()
    }
}

impl ToSchema for ProblemDocument<'_> {
    fn name() -> std::borrow::Cow<'static, str> {
        "Problem".into()
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        <Extensions as ToSchema>::schemas(schemas);
    }
}

impl Problem {
    /// A problem with no extension members.
    pub fn new(code: ProblemCode, detail: impl Into<String>) -> Self {
        Problem {
            status: code.status(),
            code,
            detail: detail.into(),
            extensions: Box::default(),
        }
    }

    /// Sets extension members.
    pub fn with(mut self, set: impl FnOnce(&mut Extensions)) -> Self {
        set(&mut self.extensions);
        self
    }

    /// 404 for a case that does not exist or belongs to another organisation: the
    /// two are not told apart.
    pub fn case_not_found(id: &str) -> Self {
        Problem::new(
            ProblemCode::CaseNotFound,
            format!("there is no case `{id}`"),
        )
    }

    /// 400 for a request that does not say what it must.
    pub fn invalid(detail: impl Into<String>) -> Self {
        Problem::new(ProblemCode::InvalidRequest, detail)
    }

    /// 503 with `Retry-After`: a limit is reached, or the service is stopping.
    pub fn unavailable(detail: impl Into<String>) -> Self {
        Problem::new(ProblemCode::Unavailable, detail)
    }

    /// 500, logged; the caller learns nothing of the internals.
    pub fn internal(error: impl std::fmt::Display) -> Self {
        tracing::error!(%error, "internal error");
        Problem::new(
            ProblemCode::Internal,
            "the server failed; the request may not have been applied, and is safe to retry with the same idempotency key",
        )
    }

    /// The JSON body.
    pub fn body(&self) -> ProblemDocument<'_> {
        ProblemDocument {
            kind: format!("https://redress.dev/problems/{}", self.code),
            title: self.code.title(),
            status: self.status.as_u16(),
            detail: &self.detail,
            code: self.code.as_str(),
            extensions: &self.extensions,
        }
    }

    /// The JSON body as text.
    pub fn body_text(&self) -> String {
        serde_json::to_string(&self.body()).unwrap_or_default()
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let mut response = (self.status, self.body_text()).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl From<Refusal> for Problem {
    fn from(refusal: Refusal) -> Self {
        Problem::new(ProblemCode::Refused(refusal.code()), refusal.to_string())
            .with(|x| x.refusal = Some(refusal))
    }
}

/// An error and every source under it, `a: b: c`, for the log.
fn with_sources(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}

impl From<StoreError> for Problem {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Conflict { case, reason, .. } => Problem::new(
                ProblemCode::Conflict,
                format!("case `{case}`: {reason}; read it again and retry"),
            ),
            StoreError::Closed => Problem::unavailable("the service is shutting down"),
            other => Problem::internal(with_sources(&other)),
        }
    }
}

impl From<ServiceError> for Problem {
    fn from(error: ServiceError) -> Self {
        match error {
            ServiceError::CaseNotFound(id) => Problem::case_not_found(&id),
            e @ ServiceError::UnknownPolicy { .. } => {
                let known = match &e {
                    ServiceError::UnknownPolicy { known, .. } => known.clone(),
                    _ => Vec::new(),
                };
                Problem::new(ProblemCode::UnknownPolicy, e.to_string())
                    .with(|x| x.known = Some(known))
            }
            e @ ServiceError::PoliciesNotLoaded { .. } => {
                Problem::new(ProblemCode::PoliciesNotLoaded, e.to_string())
            }
            e @ ServiceError::ReadOnly { .. } => Problem::new(ProblemCode::ReadOnly, e.to_string()),
            e @ ServiceError::UnknownVersion { .. } => {
                Problem::new(ProblemCode::UnknownVersion, e.to_string())
            }
            e @ ServiceError::KeyReused(_) => {
                Problem::new(ProblemCode::IdempotencyKeyReused, e.to_string())
            }
            e @ ServiceError::CaseExists(_) => Problem::new(ProblemCode::CaseExists, e.to_string()),
            ServiceError::Refused(refusal) => refusal.into(),
            ServiceError::Store(error) => error.into(),
            ServiceError::Internal(error) => Problem::internal(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    /// The codes `docs/api.md`'s table of errors lists, with their status.
    fn documented() -> BTreeMap<String, u16> {
        let docs = include_str!("../../docs/api.md");
        let table = docs
            .split("\n| code | status | when |\n")
            .nth(1)
            .expect("docs/api.md has the table of error codes");
        let mut codes = BTreeMap::new();
        for row in table.lines().skip(1).take_while(|l| l.starts_with('|')) {
            let cells: Vec<&str> = row.split('|').map(str::trim).collect();
            let status: u16 = cells[2].parse().expect("a status");
            for code in cells[1].split(',') {
                let code = code.trim().trim_matches('`').to_string();
                assert!(
                    codes.insert(code.clone(), status).is_none(),
                    "`{code}` twice"
                );
            }
        }
        codes
    }

    /// The docs' table follows from the code: every code with its status, no other.
    #[test]
    fn the_docs_list_every_code_with_its_status() {
        let ours: BTreeMap<String, u16> = ProblemCode::all()
            .map(|c| (c.as_str().to_string(), c.status().as_u16()))
            .collect();
        assert_eq!(documented(), ours, "docs/api.md's table of errors");
    }

    #[test]
    fn codes_are_distinct_kebab_case_words() {
        let mut seen = std::collections::BTreeSet::new();
        for code in ProblemCode::all() {
            let word = code.as_str();
            assert!(
                word.chars().all(|c| c.is_ascii_lowercase() || c == '-'),
                "{word}"
            );
            assert!(seen.insert(word), "`{word}` twice");
        }
    }

    /// A refused command's problem has the refusal's code, the same word as its
    /// `refusal.kind`, for every kind.
    #[test]
    fn a_refusal_problem_code_is_its_kind() {
        let refusal = Refusal::CaseClosed {
            stage: "closed".into(),
        };
        let body = serde_json::to_value(Problem::from(refusal).body()).unwrap();
        assert_eq!(body["code"], "case-closed");
        assert_eq!(body["refusal"]["kind"], body["code"]);
        assert_eq!(body["status"], 409);
        assert_eq!(body["title"], "Refused");
        assert_eq!(body["type"], "https://redress.dev/problems/case-closed");
    }
}
