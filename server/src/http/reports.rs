//! Reports: `GET /v1/reports`, the JSON report of a period for the caller's
//! organisation, for the compliance and auditor roles. The store streams each
//! case's report facts to the engine's [`ReportBuilder`]; no case is loaded whole.

use std::str::FromStr;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use chrono::NaiveDate;
use redress_engine::policy::Dimension;
use redress_engine::report::{Period, ReportBuilder};
use serde::Deserialize;

use super::extract::{json_response, query_of};
use super::{ApiResult, App};
use crate::config::Caller;
use crate::problem::Problem;

/// The roles that may read reports.
const REPORT_ROLES: [&str; 2] = ["compliance", "auditor"];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
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

pub(super) async fn get_report(
    State(app): App,
    caller: Caller,
    query: Result<Query<ReportQuery>, QueryRejection>,
) -> ApiResult {
    if !REPORT_ROLES.contains(&caller.role.as_str()) {
        return Err(Problem::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "Forbidden",
            format!(
                "role `{}` may not read reports; `compliance` and `auditor` may",
                caller.role
            ),
        ));
    }
    let query = query_of(query)?;
    let policy = match &query.policy {
        Some(id) => app.policy_of(&caller.org, id)?,
        None => {
            let all = app.policies_of(&caller.org);
            match all.as_slice() {
                [one] => one.clone(),
                _ => {
                    let ids: Vec<String> = all.iter().map(|p| format!("`{}`", p.id())).collect();
                    return Err(Problem::invalid(format!(
                        "name the policy: `policy=` one of {}",
                        ids.join(", ")
                    )));
                }
            }
        }
    };
    let tz = policy.timezone();
    let period = match (&query.period, query.from, query.to) {
        (Some(name), None, None) => Period::named(name, tz),
        (None, Some(from), Some(to)) => Period::dates(from, to, tz),
        _ => {
            return Err(Problem::invalid(
                "give `period=2026-Q4`, or `from=` and `to=` (dates, both included)",
            ));
        }
    }
    .map_err(|e| Problem::invalid(e.to_string()))?;
    let by = match query.by.as_deref().filter(|b| !b.is_empty()) {
        Some(list) => list
            .split(',')
            .map(Dimension::from_str)
            .collect::<Result<Vec<_>, _>>()
            .map_err(Problem::invalid)?,
        None => Vec::new(),
    };
    let identify = app.complainant_key(&caller.org).is_some();
    // Checked here, so that a bad `by` is a 400 before the store is read.
    ReportBuilder::new(&policy, period.clone(), by.clone(), identify)
        .map_err(|e| Problem::invalid(e.to_string()))?;
    let org = caller.org.to_string();
    let report = app
        .read(move |store| {
            let mut builder = ReportBuilder::new(&policy, period, by, identify)
                .map_err(|e| redress_store::StoreError::Database(e.to_string()))?;
            let (from, to) = builder.window();
            store.report_facts(&org, policy.id(), from, to, &mut |f| builder.add(&f))?;
            Ok(builder.finish())
        })
        .await?;
    let body = serde_json::to_value(&report).map_err(|e| Problem::invalid(e.to_string()))?;
    Ok(json_response(StatusCode::OK, body))
}
