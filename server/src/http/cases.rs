//! Cases: intake, lists, one case, commands on it, its history.

use axum::body::Body;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use chrono::{DateTime, FixedOffset, Utc};
use redress_engine::runtime::{CommandKind, Data, Refusal};
use redress_store::{CaseFilter, ClockSummary};
use serde::Deserialize;
use serde_json::{Value, json};

use super::extract::{
    etag, idempotency_key, if_match, json_response, minimal, parse_body, path_of, query_of,
};
use super::{ApiResult, App};
use crate::config::Caller;
use crate::problem::{Problem, ProblemCode};
use crate::service::{Intake, Outcome, ServiceError};
use crate::view;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct IntakeBody {
    policy: String,
    #[serde(default)]
    data: Data,
    received_at: Option<DateTime<FixedOffset>>,
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
pub(super) struct ListQuery {
    queue: Option<String>,
    stage: Option<String>,
    clock: Option<String>,
    policy: Option<String>,
    status: Option<String>,
    assignee: Option<String>,
    limit: Option<usize>,
    after: Option<String>,
}

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
    Ok(json_response(
        StatusCode::OK,
        json!({ "cases": page.rows, "next": page.next }),
    ))
}

pub(super) async fn get_case(
    State(app): App,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
) -> ApiResult {
    let id = path_of(id)?;
    let slot = app.get(&caller.org, &id).await?;
    let mut response = json_response(StatusCode::OK, view::case(&slot, &caller, Utc::now()));
    response
        .headers_mut()
        .insert(header::ETAG, etag(slot.case.version));
    Ok(response)
}

/// A command on a case: exactly one of `event`, `note`, `assign`, `update`,
/// `extend`, `withdraw`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CommandBody {
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
                .with("current_etag", json!(format!("\"{actual}\"")))
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct HistoryQuery {
    after: Option<u64>,
    limit: Option<usize>,
}

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
    let events: Vec<Value> = events
        .iter()
        .map(|e| view::stored_event(&slot.policy, e, &caller))
        .collect();
    Ok(json_response(
        StatusCode::OK,
        json!({ "case": id, "events": events, "next": next }),
    ))
}
