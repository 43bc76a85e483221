//! Errors as RFC 9457 problem details (`application/problem+json`), each with a
//! stable `code`. Every code the API can answer with is listed in `docs/api.md` (a
//! test keeps the two in step).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use redress_engine::runtime::Refusal;
use redress_store::StoreError;
use serde_json::{Map, Value, json};

use crate::service::ServiceError;

/// A problem: status, stable code, a one-line title, the detail, and extra members.
#[derive(Debug, Clone)]
pub struct Problem {
    /// The HTTP status.
    pub status: StatusCode,
    /// The stable code.
    pub code: &'static str,
    /// What kind of problem, in a few words.
    pub title: &'static str,
    /// What went wrong this time.
    pub detail: String,
    /// Extension members (`refusal`, `diagnostics`, `known`, ...).
    pub extra: Box<Map<String, Value>>,
}

impl Problem {
    /// A problem with no extension members.
    pub fn new(
        status: StatusCode,
        code: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        Problem {
            status,
            code,
            title,
            detail: detail.into(),
            extra: Box::default(),
        }
    }

    /// Adds an extension member.
    pub fn with(mut self, key: &str, value: Value) -> Self {
        self.extra.insert(key.to_string(), value);
        self
    }

    /// 404 for a case that does not exist or belongs to another organisation: the
    /// two are not told apart.
    pub fn case_not_found(id: &str) -> Self {
        Problem::new(
            StatusCode::NOT_FOUND,
            "case-not-found",
            "No such case",
            format!("there is no case `{id}`"),
        )
    }

    /// 400 for a request that does not say what it must.
    pub fn invalid(detail: impl Into<String>) -> Self {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "invalid-request",
            "Invalid request",
            detail,
        )
    }

    /// 503 with `Retry-After`: a limit is reached, or the service is stopping.
    pub fn unavailable(detail: impl Into<String>) -> Self {
        Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Unavailable",
            detail,
        )
    }

    /// 500, logged; the caller learns nothing of the internals.
    pub fn internal(error: impl std::fmt::Display) -> Self {
        tracing::error!(%error, "internal error");
        Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
            "the server failed; the request may not have been applied, and is safe to retry with the same idempotency key",
        )
    }

    /// The JSON body.
    pub fn body(&self) -> Value {
        let mut body = json!({
            "type": format!("https://redress.dev/problems/{}", self.code),
            "title": self.title,
            "status": self.status.as_u16(),
            "detail": self.detail,
            "code": self.code,
        });
        if let Value::Object(map) = &mut body {
            map.extend(self.extra.as_ref().clone());
        }
        body
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let mut response = (self.status, self.body().to_string()).into_response();
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

/// The status a refusal is answered with: 409 when the case's state is in the
/// way (another stage, closed, changed meanwhile), 403 for a role, 422 for what
/// was sent.
pub fn refusal_status(refusal: &Refusal) -> StatusCode {
    match refusal.code() {
        "not-allowed-from-stage"
        | "case-closed"
        | "stale-version"
        | "already-received"
        | "clock-not-running"
        | "timer-not-due"
        | "before-last-event"
        | "policy-mismatch" => StatusCode::CONFLICT,
        "role-not-allowed" => StatusCode::FORBIDDEN,
        "script-failed" | "calendar-failed" => StatusCode::UNPROCESSABLE_ENTITY,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    }
}

impl From<Refusal> for Problem {
    fn from(refusal: Refusal) -> Self {
        let refusal_json = serde_json::to_value(&refusal).unwrap_or(Value::Null);
        Problem::new(
            refusal_status(&refusal),
            refusal.code(),
            "Refused",
            refusal.to_string(),
        )
        .with("refusal", refusal_json)
    }
}

impl From<StoreError> for Problem {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Conflict { case, reason, .. } => Problem::new(
                StatusCode::CONFLICT,
                "conflict",
                "Conflict",
                format!("case `{case}`: {reason}; read it again and retry"),
            ),
            StoreError::Closed => Problem::unavailable("the service is shutting down"),
            other => Problem::internal(other),
        }
    }
}

impl From<ServiceError> for Problem {
    fn from(error: ServiceError) -> Self {
        match error {
            ServiceError::CaseNotFound(id) => Problem::case_not_found(&id),
            e @ ServiceError::UnknownPolicy { .. } => {
                let known = match &e {
                    ServiceError::UnknownPolicy { known, .. } => json!(known),
                    _ => Value::Null,
                };
                Problem::new(
                    StatusCode::NOT_FOUND,
                    "unknown-policy",
                    "No such policy",
                    e.to_string(),
                )
                .with("known", known)
            }
            e @ ServiceError::PoliciesNotLoaded { .. } => Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "policies-not-loaded",
                "Policies not loaded",
                e.to_string(),
            ),
            e @ ServiceError::ReadOnly { .. } => Problem::new(
                StatusCode::FORBIDDEN,
                "read-only",
                "Read-only token",
                e.to_string(),
            ),
            e @ ServiceError::CaseExists(_) => Problem::new(
                StatusCode::CONFLICT,
                "case-exists",
                "Case exists",
                e.to_string(),
            ),
            ServiceError::Refused(refusal) => refusal.into(),
            ServiceError::Store(error) => error.into(),
            ServiceError::Internal(error) => Problem::internal(error),
        }
    }
}

#[cfg(test)]
mod tests {
    /// Every code a problem can carry, besides the engine's refusal codes.
    const PROBLEM_CODES: &[&str] = &[
        "unauthorized",
        "read-only",
        "forbidden",
        "not-found",
        "method-not-allowed",
        "case-not-found",
        "unknown-policy",
        "case-exists",
        "conflict",
        "malformed-json",
        "invalid-request",
        "unsupported-media-type",
        "body-too-large",
        "invalid-policies",
        "policies-not-loaded",
        "unavailable",
        "timeout",
        "headers-too-large",
        "internal",
    ];

    /// Every code in the source is documented, and the engine's refusal codes too.
    #[test]
    fn every_problem_code_is_documented() {
        let docs = include_str!("../../docs/api.md");
        let sources = [
            include_str!("problem.rs"),
            include_str!("http.rs"),
            include_str!("http/extract.rs"),
            include_str!("http/cases.rs"),
            include_str!("http/policies.rs"),
            include_str!("http/operations.rs"),
            include_str!("listener.rs"),
        ];
        let refusals = [
            "unknown-event",
            "not-allowed-from-stage",
            "guard-failed",
            "missing-fields",
            "role-not-allowed",
            "case-closed",
            "stale-version",
            "invalid-value",
            "unknown-field",
            "unknown-sla",
            "unknown-extension",
            "clock-not-running",
            "script-failed",
            "calendar-failed",
            "received-in-future",
            "not-received",
            "before-last-event",
            "policy-mismatch",
            "already-received",
            "timer-not-due",
        ];
        for code in PROBLEM_CODES.iter().chain(refusals.iter()) {
            assert!(
                docs.contains(&format!("`{code}`")),
                "docs/api.md does not list `{code}`"
            );
        }
        for source in sources {
            for (i, _) in source.match_indices("Problem::new(") {
                let after = &source[i..];
                let Some(start) = after.find('"') else {
                    continue;
                };
                let code: String = after[start + 1..]
                    .chars()
                    .take_while(|c| *c != '"')
                    .collect();
                let is_code = code.chars().all(|c| c.is_ascii_lowercase() || c == '-');
                assert!(
                    !is_code || PROBLEM_CODES.contains(&code.as_str()),
                    "`{code}` is not in PROBLEM_CODES"
                );
            }
        }
    }
}
