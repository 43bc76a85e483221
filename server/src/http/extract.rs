//! What every handler shares: the caller from its bearer token, JSON bodies read
//! with located errors, path and query parameters, idempotency keys, preferences.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{FromRequestParts, Path, Query};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::config::Caller;
use crate::problem::{Problem, ProblemCode};
use crate::service::Service;

/// Idempotency keys longer than this are refused.
const MAX_KEY: usize = 200;

impl FromRequestParts<Arc<Service>> for Caller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<Service>) -> Result<Self, Problem> {
        let unauthorized = |detail: &str| Problem::new(ProblemCode::Unauthorized, detail);
        let header = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let Some(header) = header else {
            return Err(unauthorized("send `Authorization: Bearer <token>`"));
        };
        // The scheme is case-insensitive (RFC 9110, section 11.1).
        let token = match header.trim_start().split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token,
            _ => {
                return Err(unauthorized(
                    "the Authorization header must be `Bearer <token>`",
                ));
            }
        };
        app.config
            .caller(token.trim())
            .cloned()
            .ok_or_else(|| unauthorized("the token is not known to this server"))
    }
}

pub(super) fn json_response(status: StatusCode, body: &impl Serialize) -> Response {
    (status, axum::Json(body)).into_response()
}

/// Reads a JSON body: the right media type, within the size limit, well formed,
/// and of the right shape, each its own problem.
pub(super) async fn parse_body<T: DeserializeOwned>(
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
            ProblemCode::UnsupportedMediaType,
            format!("send `Content-Type: application/json` (got `{media}`)"),
        ));
    }
    let too_large = || {
        Problem::new(
            ProblemCode::BodyTooLarge,
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
                ProblemCode::MalformedJson,
                format!("the body is not valid JSON: {e}"),
            )
            .with(|x| {
                x.line = Some(e.line());
                x.column = Some(e.column());
            }),
            Category::Data => Problem::invalid(format!("the body does not fit this endpoint: {e}")),
        }
    })
}

/// The path parameter, or a problem naming what is wrong with it.
pub(super) fn path_of(path: Result<Path<String>, PathRejection>) -> Result<String, Problem> {
    path.map(|Path(id)| id)
        .map_err(|e| Problem::invalid(format!("bad path: {}", e.body_text())))
}

/// The query string, or a problem naming what is wrong with it.
pub(super) fn query_of<T>(query: Result<Query<T>, QueryRejection>) -> Result<T, Problem> {
    query
        .map(|Query(q)| q)
        .map_err(|e| Problem::invalid(format!("bad query string: {}", e.body_text())))
}

pub(super) fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, Problem> {
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

/// Whether the client asked for a short answer (`Prefer: return=minimal`, RFC 7240).
pub(super) fn minimal(headers: &HeaderMap) -> bool {
    headers
        .get_all("prefer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim().eq_ignore_ascii_case("return=minimal"))
}

/// The `ETag` of a case at a version: the version, quoted (a strong tag).
pub(super) fn etag(version: u64) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{version}\"")).unwrap_or(HeaderValue::from_static("\"0\""))
}

/// The version an `If-Match` header names: `None` without one (or with `*`); a
/// problem for anything but one strong tag this API gave.
pub(super) fn if_match(headers: &HeaderMap) -> Result<Option<u64>, Problem> {
    let Some(value) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or("").trim();
    if text == "*" {
        return Ok(None);
    }
    text.strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .and_then(|t| t.parse::<u64>().ok())
        .map(Some)
        .ok_or_else(|| {
            Problem::invalid(format!(
                "`If-Match: {text}` is not an entity tag of this API: send the case's `ETag` (one tag, such as `\"3\"`) or `*`"
            ))
        })
}
