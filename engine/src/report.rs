//! Reports over many cases: the figures of a complaint bulletin (投诉通报) and of
//! regulators' complaint returns, for a period, grouped by any reporting dimension.
//!
//! The layer after [`crate::runtime`]: pure functions over [`CaseFacts`] (what a
//! report needs of each case, computed once from the case and its policy) and a
//! [`Period`] (time is an input). A [`ReportBuilder`] takes facts one at a time, so
//! a store can stream them without holding every case; [`Report`] is the result,
//! serialised as the documented JSON shape (`docs/reporting.md`), and rendered as
//! CSV ([`csv`]), an HTML bulletin with SVG charts ([`bulletin`]) or a regulator's
//! return ([`returns`]), all from the same numbers.

pub mod bulletin;
mod case_facts;
mod chart;
pub mod csv;
mod events;
mod figures;
mod period;
pub mod returns;

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::Serialize;
use thiserror::Error;

pub use case_facts::{CaseFacts, ClockEnd, ClockFacts, ComplainantKey};
pub use events::{facts_from_events, report_events};
pub use figures::{
    ClosedWithin, Complainants, Compliance, Figures, Handling, Outcomes, Redress, Satisfaction,
};
pub use period::Period;

use crate::policy::{Dimension, Policy};
use figures::{Rules, Tally};

/// The version of the JSON shape; it changes only when a figure changes meaning or
/// is taken away (new figures may be added without a new version).
pub const SHAPE_VERSION: u32 = 1;

/// Root causes listed, at most.
pub const TOP_ROOT_CAUSES: usize = 10;

/// What can go wrong making a report.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ReportError {
    /// A period that cannot be read.
    #[error("{0}")]
    Period(String),
    /// A dimension the policy does not report on.
    #[error("policy `{policy}` has no `{dimension}` to group by; it has {known}")]
    Dimension {
        /// The policy's id.
        policy: String,
        /// The dimension asked for.
        dimension: String,
        /// The ones it has, in backticks.
        known: String,
    },
    /// A return that needs something the policy does not record.
    #[error("{0}")]
    Return(String),
}

/// A report: the period, the figures of every case and of each group, the top root
/// causes with their change, and the trend.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Report {
    /// [`SHAPE_VERSION`].
    pub shape: u32,
    /// The policy reported on.
    pub policy: PolicyRef,
    /// The period.
    pub period: Period,
    /// The period before it, of the same length (root causes are compared with it).
    pub previous: Period,
    /// The dimensions grouped by, in order.
    pub by: Vec<Dimension>,
    /// The SLA that is the resolution deadline.
    pub resolution_sla: Option<String>,
    /// Every case's figures.
    pub total: Figures,
    /// Each group's, ordered by their values (cases without a value last).
    pub groups: Vec<Group>,
    /// The most frequent root causes of complaints closed in the period.
    pub root_causes: Vec<RootCause>,
    /// Received and closed per month (or per day, for a period of a month or less).
    pub trend: Vec<TrendPoint>,
}

/// The policy a report is about.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PolicyRef {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its version label.
    pub version: String,
}

/// One group's values and figures.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Group {
    /// The group's value of each dimension of `by` (`null`: the case has none).
    pub key: BTreeMap<Dimension, Option<String>>,
    /// Its figures.
    pub figures: Figures,
}

/// A root cause's count in the period and the one before.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RootCause {
    /// The cause.
    pub cause: String,
    /// Complaints closed in the period with it.
    pub count: u64,
    /// In the previous period.
    pub previous: u64,
    /// `count - previous`.
    pub change: i64,
    /// The change as a fraction of `previous`; `None` when it was 0.
    pub change_rate: Option<f64>,
}

/// Complaints received and closed in one part of the period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TrendPoint {
    /// Its first local day.
    pub from: NaiveDate,
    /// Received then.
    pub received: u64,
    /// Closed then.
    pub closed: u64,
}

/// Builds a [`Report`] from facts given one at a time.
pub struct ReportBuilder<'p> {
    policy: &'p Policy,
    period: Period,
    previous: Period,
    by: Vec<Dimension>,
    rules: Rules<'p>,
    total: Tally,
    groups: BTreeMap<Vec<Option<String>>, Tally>,
    causes: BTreeMap<String, (u64, u64)>,
    trend: BTreeMap<NaiveDate, (u64, u64)>,
}

impl<'p> ReportBuilder<'p> {
    /// A report on `policy` over `period`, grouped `by` those dimensions;
    /// `identify`: complainants' hashes are known, so repeat complainants count.
    pub fn new(
        policy: &'p Policy,
        period: Period,
        by: Vec<Dimension>,
        identify: bool,
    ) -> Result<Self, ReportError> {
        let reporting = policy.reporting();
        for d in &by {
            if !reporting.dimensions().any(|k| k == *d) {
                let known: Vec<String> = reporting.dimensions().map(|k| format!("`{k}`")).collect();
                return Err(ReportError::Dimension {
                    policy: policy.id().to_string(),
                    dimension: d.to_string(),
                    known: known.join(", "),
                });
            }
        }
        let trend = trend_buckets(policy, &period);
        Ok(ReportBuilder {
            policy,
            previous: period.previous(),
            rules: rules(policy, &period, identify && reporting.complainant.is_some()),
            period,
            by,
            total: Tally::default(),
            groups: BTreeMap::new(),
            causes: BTreeMap::new(),
            trend,
        })
    }

    /// The earliest instant a case may have closed at and still count: facts of
    /// cases closed before it, or received at or after the period's end, may be
    /// left out (a store selects on these two instants).
    pub fn window(&self) -> (DateTime<Utc>, DateTime<Utc>) {
        (self.previous.from.min(self.period.from), self.period.to)
    }

    /// The policy reported on.
    pub fn policy(&self) -> &'p Policy {
        self.policy
    }

    /// Whether a case can count in the report: received before the period's end
    /// and not closed before the [`Self::window`] opens. The rule a store selects
    /// on, so that a report over an event file, which sees every case, counts the
    /// same cases as one over a store.
    pub fn wants(&self, facts: &CaseFacts) -> bool {
        let (from, to) = self.window();
        facts.received_at < to && facts.closed_at.is_none_or(|c| c >= from)
    }

    /// Counts one case (facts of another policy, and those [`Self::wants`] turns
    /// away, are left out).
    pub fn add(&mut self, facts: &CaseFacts) {
        if facts.policy != self.policy.id() || !self.wants(facts) {
            return;
        }
        let rules = &self.rules;
        self.total.add(facts, rules);
        let key: Vec<Option<String>> = self
            .by
            .iter()
            .map(|d| facts.values.get(d).cloned())
            .collect();
        match self.groups.get_mut(&key) {
            Some(t) => t.add(facts, rules),
            None => {
                let mut t = Tally::default();
                t.add(facts, rules);
                self.groups.insert(key, t);
            }
        }
        self.count_cause(facts);
        self.count_trend(facts);
    }

    fn count_cause(&mut self, facts: &CaseFacts) {
        let (Some(cause), Some(closed)) =
            (facts.values.get(&Dimension::RootCause), facts.closed_at)
        else {
            return;
        };
        let now = self.period.contains(closed);
        let before = self.previous.contains(closed);
        if now || before {
            let entry = self.causes.entry(cause.clone()).or_default();
            entry.0 += u64::from(now);
            entry.1 += u64::from(before);
        }
    }

    fn count_trend(&mut self, facts: &CaseFacts) {
        let cal = self.policy.default_calendar();
        let month = self.period.by_month();
        let bucket = |at: DateTime<Utc>| {
            let d = cal.local_date(at);
            if month { d.with_day(1).unwrap_or(d) } else { d }
        };
        if self.period.contains(facts.received_at)
            && let Some(b) = self.trend.get_mut(&bucket(facts.received_at))
        {
            b.0 += 1;
        }
        if let Some(c) = facts.closed_at.filter(|c| self.period.contains(*c))
            && let Some(b) = self.trend.get_mut(&bucket(c))
        {
            b.1 += 1;
        }
    }

    /// The report.
    pub fn finish(self) -> Report {
        let rules = self.rules;
        let by = self.by.clone();
        let groups = match by.is_empty() {
            true => Vec::new(),
            false => {
                let mut groups: Vec<(Vec<Option<String>>, Tally)> =
                    self.groups.into_iter().collect();
                // Values first, in order; cases without a value after them.
                groups.sort_by(|a, b| none_last(&a.0).cmp(&none_last(&b.0)));
                groups
                    .into_iter()
                    .map(|(key, t)| Group {
                        key: by.iter().copied().zip(key).collect(),
                        figures: t.finish(&rules),
                    })
                    .collect()
            }
        };
        let policy = self.policy;
        Report {
            shape: SHAPE_VERSION,
            policy: PolicyRef {
                id: policy.id().to_string(),
                name: policy.name().to_string(),
                version: policy.version().to_string(),
            },
            by: self.by.clone(),
            resolution_sla: policy.reporting().resolution().map(str::to_string),
            total: self.total.finish(&rules),
            groups,
            root_causes: top_causes(self.causes),
            trend: self
                .trend
                .into_iter()
                .map(|(from, (received, closed))| TrendPoint {
                    from,
                    received,
                    closed,
                })
                .collect(),
            period: self.period.clone(),
            previous: self.previous.clone(),
        }
    }
}

fn rules<'a>(policy: &'a Policy, period: &Period, identify: bool) -> Rules<'a> {
    let reporting = policy.reporting();
    Rules {
        period: period.clone(),
        slas: policy.slas().keys().cloned().collect(),
        resolution: reporting.resolution(),
        scale: reporting.satisfaction_scale(),
        identify,
    }
}

fn none_last(key: &[Option<String>]) -> Vec<(bool, &str)> {
    key.iter()
        .map(|v| (v.is_none(), v.as_deref().unwrap_or("")))
        .collect()
}

fn top_causes(causes: BTreeMap<String, (u64, u64)>) -> Vec<RootCause> {
    let mut out: Vec<RootCause> = causes
        .into_iter()
        .filter(|(_, (now, _))| *now > 0)
        .map(|(cause, (count, previous))| RootCause {
            cause,
            count,
            previous,
            change: count as i64 - previous as i64,
            change_rate: (previous > 0).then(|| {
                ((count as f64 - previous as f64) / previous as f64 * 10_000.0).round() / 10_000.0
            }),
        })
        .collect();
    out.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.cause.cmp(&b.cause)));
    out.truncate(TOP_ROOT_CAUSES);
    out
}

/// Every month (or day) of the period, each starting at zero.
fn trend_buckets(policy: &Policy, period: &Period) -> BTreeMap<NaiveDate, (u64, u64)> {
    let cal = policy.default_calendar();
    let first = cal.local_date(period.from);
    let last = cal.local_date(period.to - chrono::TimeDelta::seconds(1));
    let mut out = BTreeMap::new();
    let mut day = match period.by_month() {
        true => first.with_day(1).unwrap_or(first),
        false => first,
    };
    while day <= last && out.len() < 400 {
        out.insert(day, (0, 0));
        let next = match period.by_month() {
            true => day.checked_add_months(chrono::Months::new(1)),
            false => day.succ_opt(),
        };
        let Some(next) = next else { break };
        day = next;
    }
    out
}

/// A report on `policy` over `period` from every case's facts.
pub fn report<'a>(
    policy: &Policy,
    period: Period,
    by: Vec<Dimension>,
    identify: bool,
    facts: impl IntoIterator<Item = &'a CaseFacts>,
) -> Result<Report, ReportError> {
    let mut builder = ReportBuilder::new(policy, period, by, identify)?;
    facts.into_iter().for_each(|f| builder.add(f));
    Ok(builder.finish())
}
