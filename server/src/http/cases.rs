//! Cases: intake, lists, one case, commands on it, its history.

use axum::body::Body;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use chrono::{DateTime, FixedOffset, SubsecRound, Utc};
use redress_engine::runtime::{CommandKind, Data, Refusal};
use redress_store::{CaseFilter, ClockSummary};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::extract::{
    etag, idempotency_key, if_match, json_response, minimal, parse_body, path_of, query_of,
};
use super::{ApiResult, App};
use crate::config::Caller;
use crate::problem::{Problem, ProblemBody, ProblemCode};
use crate::service::{Intake, Outcome, ServiceError};
use crate::view::{self, CaseAnswer, CaseList, CaseView, History, RepeatOf};

/// A complaint to take in.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct IntakeBody {
    /// The policy's id (`bank-cn`).
    policy: String,
    /// The complaint's fields, as the policy declares them.
    #[serde(default)]
    #[schema(value_type = Object)]
    data: Data,
    /// When the complaint was received, when not now (any offset; kept in UTC).
    received_at: Option<DateTime<FixedOffset>>,
    /// The case's id, when the client names it: 1 to 64 letters, digits, `-`, `_`
    /// or `.`, not only dots; one is made up otherwise.
    #[schema(pattern = "^[A-Za-z0-9._-]{1,64}$")]
    id: Option<String>,
}

/// The answer to a command: the case after it (in full, or in short for
/// `Prefer: return=minimal`) and the events it recorded.
pub(super) fn outcome_response(
    status: StatusCode,
    outcome: &Outcome,
    caller: &Caller,
    headers: &HeaderMap,
) -> Response {
    let events = outcome
        .events
        .iter()
        .map(|e| view::event(&outcome.slot.policy, e, caller))
        .collect();
    let short = minimal(headers);
    let case = match short {
        true => CaseAnswer::Minimal(view::case_summary(&outcome.slot)),
        false => CaseAnswer::Full(Box::new(view::case(&outcome.slot, caller, Utc::now()))),
    };
    let body = view::Outcome {
        case,
        events,
        repeat_of: outcome
            .repeat_of
            .map(|(first, last)| RepeatOf { first, last }),
    };
    let mut response = json_response(status, &body);
    response
        .headers_mut()
        .insert(header::ETAG, etag(outcome.slot.case.version));
    if short {
        response.headers_mut().insert(
            "preference-applied",
            HeaderValue::from_static("return=minimal"),
        );
    }
    response
}

/// 1 to 64 letters, digits, `-`, `_` or `.`, at least one of them not a `.` (so
/// that `.` and `..` never name a case in a path).
pub(super) fn valid_case_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && id.chars().any(|c| c != '.')
}

/// Takes in a complaint: a new case on the policy's current version, routed, its
/// clocks started. With an `Idempotency-Key` used before for the same request, the
/// case it made (200).
#[utoipa::path(
    post,
    path = "/v1/cases",
    tag = "cases",
    operation_id = "intake",
    security(("bearerAuth" = [])),
    params(
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe: the same key with the same request answers the case it made"),
        ("Prefer" = Option<String>, Header, description = "`return=minimal` for the case in short"),
    ),
    request_body = IntakeBody,
    responses(
        (status = 201, description = "Taken in", body = view::Outcome,
            headers(("Location" = String, description = "The case's path"), ("ETag" = String, description = "The case's version, quoted"))),
        (status = 200, description = "Taken in before with this idempotency key", body = view::Outcome),
        (status = 400, description = "Invalid request or malformed JSON", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "A read-only token", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No such policy", body = ProblemBody, content_type = "application/problem+json"),
        (status = 409, description = "The case id is taken, or the engine refused the intake", body = ProblemBody, content_type = "application/problem+json"),
        (status = 413, description = "The body is too large", body = ProblemBody, content_type = "application/problem+json"),
        (status = 415, description = "Not `application/json`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "The idempotency key was used with another request, or a field value does not fit", body = ProblemBody, content_type = "application/problem+json"),
    )
)]
pub(super) async fn intake(
    State(app): App,
    caller: Caller,
    headers: HeaderMap,
    body: Body,
) -> ApiResult {
    let key = idempotency_key(&headers)?;
    let body: IntakeBody = parse_body(app.config.max_body, &headers, body).await?;
    if let Some(id) = &body.id
        && !valid_case_id(id)
    {
        return Err(Problem::invalid(format!(
            "case id `{id}`: use 1 to 64 letters, digits, `-`, `_` or `.`, not only dots"
        )));
    }
    let request = Intake {
        policy: body.policy,
        data: body.data,
        // Kept to the microsecond, as every instant is.
        received_at: body
            .received_at
            .map(|t| t.with_timezone(&Utc).trunc_subsecs(6)),
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

/// Which cases a list shows, and the page.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct ListQuery {
    /// In this queue.
    queue: Option<String>,
    /// In this stage.
    stage: Option<String>,
    /// With this worst clock state (`none`, `paused`, `running`, `at-risk`, `breached`).
    clock: Option<String>,
    /// Under this policy.
    policy: Option<String>,
    /// `open`, `closed` or `all` (the default).
    status: Option<String>,
    /// Assigned to this person.
    assignee: Option<String>,
    /// Cases per page, 1 to 500 (50 by default).
    limit: Option<usize>,
    /// The `next` of the page before.
    after: Option<String>,
}

/// The organisation's cases, oldest first, a page at a time; no field data.
#[utoipa::path(
    get,
    path = "/v1/cases",
    tag = "cases",
    operation_id = "list_cases",
    security(("bearerAuth" = [])),
    params(ListQuery),
    responses(
        (status = 200, description = "A page of cases", body = CaseList),
        (status = 400, description = "A bad filter, cursor or limit", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No such policy", body = ProblemBody, content_type = "application/problem+json"),
    )
)]
pub(super) async fn list_cases(
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
    if let Some(policy) = &q.policy {
        app.policy_of(&caller.org, policy)?;
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
    let list = CaseList {
        cases: page.rows,
        next: page.next,
    };
    Ok(json_response(StatusCode::OK, &list))
}

/// A case in full for the caller: personal fields masked unless the token may see
/// them, clocks with their explanation, the events the caller may send next.
#[utoipa::path(
    get,
    path = "/v1/cases/{id}",
    tag = "cases",
    operation_id = "get_case",
    security(("bearerAuth" = [])),
    params(("id" = String, Path, description = "The case's id")),
    responses(
        (status = 200, description = "The case", body = CaseView,
            headers(("ETag" = String, description = "The case's version, quoted"))),
        (status = 404, description = "No such case in the organisation", body = ProblemBody, content_type = "application/problem+json"),
    )
)]
pub(super) async fn get_case(
    State(app): App,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
) -> ApiResult {
    let id = path_of(id)?;
    let slot = app.get(&caller.org, &id).await?;
    let mut response = json_response(StatusCode::OK, &view::case(&slot, &caller, Utc::now()));
    response
        .headers_mut()
        .insert(header::ETAG, etag(slot.case.version));
    Ok(response)
}

/// A command on a case: exactly one of `event`, `note`, `assign`, `update`,
/// `extend`, `withdraw`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct CommandBody {
    /// Send this event of the policy.
    event: Option<String>,
    /// The event's data (with `event` only).
    #[schema(value_type = Option<Object>)]
    data: Option<Data>,
    /// Add a note.
    note: Option<String>,
    /// Assign the case to this person.
    assign: Option<String>,
    /// Change these fields.
    #[schema(value_type = Option<Object>)]
    update: Option<Data>,
    /// Extend this SLA's clock.
    extend: Option<String>,
    /// The extension to grant (with `extend` only; the next one when left out).
    extension: Option<String>,
    /// The complainant withdraws (`true` only).
    withdraw: Option<bool>,
    /// Apply only at this case version (as `If-Match` does).
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

/// A command on a case; its answer is the case after it and the events recorded.
#[utoipa::path(
    post,
    path = "/v1/cases/{id}/events",
    tag = "cases",
    operation_id = "post_event",
    security(("bearerAuth" = [])),
    params(
        ("id" = String, Path, description = "The case's id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe"),
        ("If-Match" = Option<String>, Header, description = "Apply only at this `ETag`"),
        ("Prefer" = Option<String>, Header, description = "`return=minimal` for the case in short"),
    ),
    request_body = CommandBody,
    responses(
        (status = 200, description = "Applied (or applied before with this idempotency key)", body = view::Outcome,
            headers(("ETag" = String, description = "The case's version, quoted"))),
        (status = 400, description = "Invalid request or malformed JSON", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "A read-only token, or a role that may not send the event", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No such case", body = ProblemBody, content_type = "application/problem+json"),
        (status = 409, description = "The engine refused the command, or the case changed meanwhile", body = ProblemBody, content_type = "application/problem+json"),
        (status = 412, description = "`If-Match` names another version; nothing was changed", body = ProblemBody, content_type = "application/problem+json"),
        (status = 413, description = "The body is too large", body = ProblemBody, content_type = "application/problem+json"),
        (status = 415, description = "Not `application/json`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "The idempotency key was used with another request, or a value does not fit", body = ProblemBody, content_type = "application/problem+json"),
    )
)]
pub(super) async fn post_event(
    State(app): App,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult {
    let id = path_of(id)?;
    let key = idempotency_key(&headers)?;
    let matched = if_match(&headers)?;
    let body: CommandBody = parse_body(app.config.max_body, &headers, body).await?;
    let expected = match (matched, body.expected_version) {
        (Some(a), Some(b)) if a != b => {
            return Err(Problem::invalid(format!(
                "`If-Match` names version {a} and `expected_version` {b}; send one"
            )));
        }
        (a, b) => a.or(b),
    };
    let kind = body.into_kind()?;
    let outcome = app
        .command(&caller, &id, kind, key, expected)
        .await
        .map_err(|e| match (e, matched) {
            // A stale `If-Match` is a failed precondition (RFC 9110), not a conflict.
            (ServiceError::Refused(Refusal::StaleVersion { expected, actual }), Some(_)) => {
                Problem::new(ProblemCode::PreconditionFailed, format!(
                        "`If-Match` names version {expected}, the case is at version {actual}; nothing was changed"
                    ),
                )
                .with(|x| x.current_etag = Some(format!("\"{actual}\"")))
            }
            (e, _) => e.into(),
        })?;
    Ok(outcome_response(
        StatusCode::OK,
        &outcome,
        &caller,
        &headers,
    ))
}

/// A page of a case's history.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct HistoryQuery {
    /// Events after this version (the `next` of the page before).
    after: Option<u64>,
    /// Events per page, 1 to 5000 (500 by default).
    limit: Option<usize>,
}

/// A case's events in order, each with when it was written: the audit trail.
#[utoipa::path(
    get,
    path = "/v1/cases/{id}/history",
    tag = "cases",
    operation_id = "history",
    security(("bearerAuth" = [])),
    params(("id" = String, Path, description = "The case's id"), HistoryQuery),
    responses(
        (status = 200, description = "A page of events", body = History),
        (status = 400, description = "A bad cursor or limit", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No such case", body = ProblemBody, content_type = "application/problem+json"),
    )
)]
pub(super) async fn history(
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
    let events = events
        .iter()
        .map(|e| view::stored_event(&slot.policy, e, &caller))
        .collect();
    let body = History {
        case: id,
        events,
        next,
    };
    Ok(json_response(StatusCode::OK, &body))
}
