//! Reports: `GET /v1/reports`, the JSON report of a period for the caller's
//! organisation, for the compliance and auditor roles. Checked and counted by the
//! service (`service::reports`), as the console's Reports page is.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use chrono::NaiveDate;
use redress_engine::report::Report;
use serde::Deserialize;
use utoipa::IntoParams;

use super::extract::{json_response, query_of};
use super::{ApiResult, App};
use crate::config::Caller;
use crate::problem::{Problem, ProblemBody, ProblemCode};
use crate::service::reports::{ReportFailure, ReportRequest, ReportRequestError, may_read_reports};

/// The policy, period and grouping of a report.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct ReportQuery {
    /// The policy's id; may be left out when the organisation runs one policy.
    policy: Option<String>,
    /// A named period: `2026-11`, `2026-Q4`, `2026-H2`, `2026`.
    period: Option<String>,
    /// The first day, with `to`.
    from: Option<NaiveDate>,
    /// The last day, included.
    to: Option<NaiveDate>,
    /// Dimensions, comma-separated.
    by: Option<String>,
}

impl From<ReportFailure> for Problem {
    fn from(failure: ReportFailure) -> Self {
        match failure {
            ReportFailure::Request(e @ ReportRequestError::Forbidden { .. }) => {
                Problem::new(ProblemCode::Forbidden, e.to_string())
            }
            ReportFailure::Request(ReportRequestError::Invalid(text)) => Problem::invalid(text),
            ReportFailure::Service(e) => e.into(),
        }
    }
}

/// The report of a period for the organisation: figures for every case and each
/// group, root causes, the trend; for the `compliance` and `auditor` roles.
#[utoipa::path(
    get,
    path = "/v1/reports",
    tag = "reports",
    operation_id = "get_report",
    security(("bearerAuth" = [])),
    params(ReportQuery),
    responses(
        (status = 200, description = "The report", body = Report),
        (status = 400, description = "A bad period or dimension", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "A role that may not read reports", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No such policy", body = ProblemBody, content_type = "application/problem+json"),
    )
)]
pub(super) async fn get_report(
    State(app): App,
    caller: Caller,
    query: Result<Query<ReportQuery>, QueryRejection>,
) -> ApiResult {
    // The role is checked before the query, so a refused role learns nothing more.
    if !may_read_reports(&caller) {
        let role = caller.role.clone();
        return Err(ReportFailure::from(ReportRequestError::Forbidden { role }).into());
    }
    let query = query_of(query)?;
    let request = ReportRequest {
        policy: query.policy,
        period: query.period,
        from: query.from,
        to: query.to,
        by: match query.by.as_deref().filter(|b| !b.is_empty()) {
            Some(list) => list.split(',').map(str::to_string).collect(),
            None => Vec::new(),
        },
    };
    let plan = app.plan_report(&caller, &request)?;
    let report = app.report(&caller, plan).await?;
    Ok(json_response(StatusCode::OK, &report))
}
