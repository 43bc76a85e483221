//! Reports for the API (`GET /v1/reports`) and the console's Reports page: who may
//! read them, the request checked (policy, period, grouping), and the report
//! counted by the store, which streams each case's report facts to the engine's
//! [`ReportBuilder`] (no case is loaded whole). One implementation for both, so
//! that the page and the API never disagree.

use std::str::FromStr;
use std::sync::Arc;

use chrono::NaiveDate;
use redress_engine::policy::{Dimension, Policy};
use redress_engine::report::{Period, Report, ReportBuilder};

use super::{Service, ServiceError, ServiceResult};
use crate::config::Caller;

/// The roles that may read reports.
pub const REPORT_ROLES: [&str; 2] = ["compliance", "auditor"];

/// Whether the caller's role may read reports.
pub fn may_read_reports(caller: &Caller) -> bool {
    REPORT_ROLES.contains(&caller.role.as_str())
}

/// A report as asked for, before it is checked.
#[derive(Debug, Clone, Default)]
pub struct ReportRequest {
    /// The policy's id; may be left out when the organisation runs one policy.
    pub policy: Option<String>,
    /// A named period: `2026-11`, `2026-Q4`, `2026-H2`, `2026`.
    pub period: Option<String>,
    /// The first day, with `to`.
    pub from: Option<NaiveDate>,
    /// The last day, included.
    pub to: Option<NaiveDate>,
    /// The dimensions to group by, in order.
    pub by: Vec<String>,
}

/// A report request that was checked: what the store is asked to count.
#[derive(Debug, Clone)]
pub struct ReportPlan {
    /// The policy reported on.
    pub policy: Arc<Policy>,
    /// The period.
    pub period: Period,
    /// The dimensions grouped by.
    pub by: Vec<Dimension>,
    identify: bool,
}

/// Why a report request was not taken (besides the service's own errors).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReportRequestError {
    /// The caller's role may not read reports.
    #[error("role `{role}` may not read reports; `compliance` and `auditor` may")]
    Forbidden {
        /// The caller's role.
        role: String,
    },
    /// The request cannot be read: no policy named among several, a period that
    /// is not one, a dimension the policy does not report on.
    #[error("{0}")]
    Invalid(String),
}

/// A report request refused, or the service failing to count it.
#[derive(Debug, thiserror::Error)]
pub enum ReportFailure {
    /// The request was refused.
    #[error(transparent)]
    Request(#[from] ReportRequestError),
    /// The service (a policy, the store) failed.
    #[error(transparent)]
    Service(#[from] ServiceError),
}

impl Service {
    /// Checks a report request of the caller: the role, the policy, the period
    /// and the grouping. Nothing is read from the store.
    pub fn plan_report(
        &self,
        caller: &Caller,
        request: &ReportRequest,
    ) -> Result<ReportPlan, ReportFailure> {
        if !may_read_reports(caller) {
            return Err(ReportRequestError::Forbidden {
                role: caller.role.clone(),
            }
            .into());
        }
        let invalid = |text: String| ReportRequestError::Invalid(text);
        let policy = match &request.policy {
            Some(id) => self.policy_of(&caller.org, id)?,
            None => {
                let all = self.policies_of(&caller.org);
                match all.as_slice() {
                    [one] => one.clone(),
                    _ => {
                        let ids: Vec<String> =
                            all.iter().map(|p| format!("`{}`", p.id())).collect();
                        let text = format!("name the policy: `policy=` one of {}", ids.join(", "));
                        return Err(invalid(text).into());
                    }
                }
            }
        };
        let tz = policy.timezone();
        let period = match (&request.period, request.from, request.to) {
            (Some(name), None, None) => Period::named(name, tz),
            (None, Some(from), Some(to)) => Period::dates(from, to, tz),
            _ => {
                let text = "give `period=2026-Q4`, or `from=` and `to=` (dates, both included)";
                return Err(invalid(text.to_string()).into());
            }
        }
        .map_err(|e| invalid(e.to_string()))?;
        let by = request
            .by
            .iter()
            .map(|d| Dimension::from_str(d))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| invalid(e.to_string()))?;
        let identify = self.complainant_key(&caller.org).is_some();
        // Built once here only to check the grouping against the policy.
        ReportBuilder::new(&policy, period.clone(), by.clone(), identify)
            .map_err(|e| invalid(e.to_string()))?;
        Ok(ReportPlan {
            policy,
            period,
            by,
            identify,
        })
    }

    /// The report of a checked request over the caller's organisation's cases,
    /// counted from the facts the store keeps of each case.
    pub async fn report(&self, caller: &Caller, plan: ReportPlan) -> ServiceResult<Report> {
        let org = caller.org.to_string();
        self.read(move |store| {
            let ReportPlan {
                policy,
                period,
                by,
                identify,
            } = plan;
            let mut builder = ReportBuilder::new(&policy, period, by, identify).map_err(|e| {
                redress_store::StoreError::Database(redress_store::DatabaseError::other(e))
            })?;
            let (from, to) = builder.window();
            store.report_facts(&org, policy.id(), from, to, &mut |f| builder.add(&f))?;
            Ok(builder.finish())
        })
        .await
    }
}
