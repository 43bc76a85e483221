//! The Reports page: the bulletin's figures and charts for a chosen period and
//! grouping, for the roles that may read reports. The request is checked and the
//! report counted by the service exactly as for `GET /v1/reports`
//! (`service::reports`); the charts are the bulletin's own (`report::bulletin`),
//! shown with the policy's labels and the interface's words.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{Datelike, NaiveDate, Utc};
use redress_engine::policy::{Dimension, Policy};
use redress_engine::report::bulletin::{self, Chart};
use redress_engine::report::{Figures, Report};

use super::i18n::Texts;
use super::{Chrome, Ctx, Signed, html, message, service_error};
use crate::service::reports::{ReportFailure, ReportRequest, ReportRequestError};

/// A query's values, as sent (a grouping may repeat `by`).
type Inputs = Vec<(String, String)>;

fn input<'a>(inputs: &'a Inputs, name: &str) -> Option<&'a str> {
    inputs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

/// How the period is chosen on the form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Month,
    Quarter,
    Dates,
}

/// What the form shows: the choices made (or the defaults).
struct Form {
    policy: String,
    kind: Kind,
    month: String,
    quarter: String,
    from: String,
    to: String,
    by: Vec<String>,
}

impl Form {
    /// The form's choices from the query; the current month (in the policy's zone)
    /// when nothing is chosen.
    fn of(inputs: &Inputs, policy: &Policy) -> Form {
        let today = Utc::now().with_timezone(&policy.timezone()).date_naive();
        let kind = match input(inputs, "kind") {
            Some("quarter") => Kind::Quarter,
            Some("dates") => Kind::Dates,
            _ => Kind::Month,
        };
        let first = today.with_day(1).unwrap_or(today);
        Form {
            policy: policy.id().to_string(),
            kind,
            month: input(inputs, "month")
                .map_or_else(|| today.format("%Y-%m").to_string(), str::to_string),
            quarter: input(inputs, "quarter").map_or_else(|| quarter_of(today), str::to_string),
            from: input(inputs, "from").map_or_else(|| first.to_string(), str::to_string),
            to: input(inputs, "to").map_or_else(|| today.to_string(), str::to_string),
            by: inputs
                .iter()
                .filter(|(k, v)| k == "by" && !v.is_empty())
                .map(|(_, v)| v.clone())
                .collect(),
        }
    }

    /// The service's request for these choices; a date that is not one is said so.
    fn request(&self, t: &'static Texts) -> Result<ReportRequest, String> {
        let date = |text: &str| {
            NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .map_err(|_| Texts::fill(t.reports_bad_date, text))
        };
        let mut request = ReportRequest {
            policy: Some(self.policy.clone()),
            by: self.by.clone(),
            ..ReportRequest::default()
        };
        match self.kind {
            Kind::Month => request.period = Some(self.month.clone()),
            Kind::Quarter => request.period = Some(self.quarter.clone()),
            Kind::Dates => {
                request.from = Some(date(&self.from)?);
                request.to = Some(date(&self.to)?);
            }
        }
        Ok(request)
    }
}

/// `2026-Q4` for a day in October to December 2026.
fn quarter_of(day: NaiveDate) -> String {
    format!("{}-Q{}", day.year(), day.month0() / 3 + 1)
}

/// The eight quarters up to the one of `day`, newest first.
fn recent_quarters(day: NaiveDate) -> Vec<String> {
    let index = day.year() * 4 + day.month0() as i32 / 3;
    (0..8)
        .map(|back| {
            let q = index - back;
            format!("{}-Q{}", q.div_euclid(4), q.rem_euclid(4) + 1)
        })
        .collect()
}

/// A chart with its legend in the interface's words.
pub struct ChartView {
    /// The chart's SVG (drawn by the engine from numbers only).
    pub svg: String,
    /// Legend entries: colour as `rgb(..)` and the words.
    pub legend: Vec<(String, &'static str)>,
}

fn chart_view(chart: Chart, t: &'static Texts) -> ChartView {
    let legend = chart
        .legend
        .iter()
        .map(|l| {
            let (r, g, b) = l.colour;
            (format!("rgb({r},{g},{b})"), series_name(t, l.key))
        })
        .collect();
    ChartView {
        svg: chart.svg,
        legend,
    }
}

fn series_name(t: &'static Texts, key: &str) -> &'static str {
    match key {
        "received" => t.r_received,
        "closed" => t.r_closed,
        "met" => t.r_met,
        "breached" => t.r_breached,
        "running-past-deadline" => t.r_running_past,
        "withdrawn" => t.r_withdrawn_series,
        "this-period" => t.r_this_period,
        "previous-period" => t.r_previous_period,
        _ => t.r_responses,
    }
}

/// One group's row.
pub struct GroupRow {
    /// The group's values, labelled as the policy labels them.
    pub key: Vec<String>,
    /// Its figures, formatted, in the columns' order.
    pub cells: Vec<String>,
}

/// One SLA's compliance row.
pub struct SlaRow {
    /// The SLA's name.
    pub name: String,
    /// Its compliance figures, formatted, in the columns' order.
    pub cells: Vec<String>,
}

/// One root cause's row.
pub struct CauseRow {
    /// The root cause.
    pub cause: String,
    /// Complaints closed in the period with it.
    pub count: u64,
    /// In the period before.
    pub previous: u64,
    /// The change, as `+3 (+25%)`.
    pub change: String,
}

/// A report as the page shows it.
pub struct Shown {
    /// The period's name (`2026-Q4`).
    pub period: String,
    /// Its first and last day.
    pub span: String,
    /// The period it is compared with.
    pub previous: String,
    /// The headline figures: label and value.
    pub overview: Vec<(&'static str, String)>,
    /// Received and closed over the period.
    pub trend: ChartView,
    /// The dimensions grouped by, labelled.
    pub dimensions: Vec<String>,
    /// One row per group.
    pub groups: Vec<GroupRow>,
    /// The resolution SLA's name and its compliance chart.
    pub compliance: Option<(String, ChartView)>,
    /// Each SLA's compliance.
    pub slas: Vec<SlaRow>,
    /// The root causes' chart, when any were recorded.
    pub causes: Option<ChartView>,
    /// The root causes as a table.
    pub cause_rows: Vec<CauseRow>,
    /// The satisfaction scores' chart, when any were given.
    pub satisfaction: Option<ChartView>,
}

#[derive(Template)]
#[template(path = "reports.html")]
struct ReportsPage {
    chrome: Chrome,
    policies: Vec<(String, String, bool)>,
    month: bool,
    quarter: bool,
    dates: bool,
    form_month: String,
    form_quarter: String,
    quarters: Vec<String>,
    form_from: String,
    form_to: String,
    dimensions: Vec<(String, String, bool)>,
    error: String,
    report: Option<Shown>,
}

fn overview(t: &'static Texts, f: &Figures) -> Vec<(&'static str, String)> {
    let p = bulletin::percent;
    let n = bulletin::number;
    vec![
        (t.r_received, f.received.to_string()),
        (
            t.r_closed,
            format!("{} ({} {})", f.closed, t.r_withdrawn, f.withdrawn),
        ),
        (t.r_open_at_start, f.open_at_start.to_string()),
        (t.r_open_at_end, f.open_at_end.to_string()),
        (t.r_resolution_rate, p(f.resolution_rate)),
        (
            t.r_handling_days,
            format!("{} / {}", n(f.handling.median_days), n(f.handling.p90_days)),
        ),
        (
            t.r_handling_business_days,
            format!(
                "{} / {}",
                n(f.handling.median_business_days),
                n(f.handling.p90_business_days)
            ),
        ),
        (t.r_extensions, f.extensions.to_string()),
        (
            t.r_reopen_rate,
            format!("{} ({})", p(f.reopen_rate), f.reopened),
        ),
        (
            t.r_upheld_rate,
            format!(
                "{} ({} {}, {} {}, {} {})",
                p(f.upheld_rate),
                t.r_upheld,
                f.outcomes.upheld,
                t.r_partly_upheld,
                f.outcomes.partly_upheld,
                t.r_not_upheld,
                f.outcomes.not_upheld
            ),
        ),
        (
            t.r_redress,
            format!(
                "{} ({})",
                f.redress.paid,
                Texts::count(t.r_cases, f.redress.cases as i64)
            ),
        ),
        (
            t.r_satisfaction,
            format!(
                "{} ({} {})",
                n(f.satisfaction.mean),
                t.r_response_rate,
                p(f.satisfaction.response_rate)
            ),
        ),
        (
            t.r_repeat,
            match &f.complainants {
                Some(c) => Texts::fill(
                    &Texts::count(t.r_repeat_of, c.repeat as i64),
                    &c.distinct.to_string(),
                ),
                None => t.r_repeat_not_counted.to_string(),
            },
        ),
    ]
}

fn group_cells(f: &Figures) -> Vec<String> {
    vec![
        f.received.to_string(),
        f.closed.to_string(),
        f.open_at_end.to_string(),
        bulletin::percent(f.resolution_rate),
        bulletin::number(f.handling.median_days),
        bulletin::percent(f.upheld_rate),
        f.redress.paid.to_string(),
        bulletin::number(f.satisfaction.mean),
    ]
}

fn shown(policy: &Policy, report: Report, t: &'static Texts) -> Shown {
    let tz = policy.timezone();
    let day = |at: chrono::DateTime<Utc>| at.with_timezone(&tz).format("%Y-%m-%d").to_string();
    // The period's end is the first instant after it; the last day is the one before.
    let last = report.period.to - chrono::TimeDelta::seconds(1);
    let groups = report
        .groups
        .iter()
        .map(|g| GroupRow {
            key: report
                .by
                .iter()
                .map(|d| {
                    bulletin::value_label(policy, *d, g.key.get(d).cloned().flatten().as_deref())
                })
                .collect(),
            cells: group_cells(&g.figures),
        })
        .collect();
    let slas = report
        .total
        .slas
        .iter()
        .map(|(name, c)| SlaRow {
            name: name.clone(),
            cells: vec![
                c.met.to_string(),
                c.breached.to_string(),
                c.running_past_deadline.to_string(),
                c.withdrawn.to_string(),
                bulletin::percent(c.compliance_rate),
            ],
        })
        .collect();
    let cause_rows = report
        .root_causes
        .iter()
        .map(|c| CauseRow {
            cause: c.cause.clone(),
            count: c.count,
            previous: c.previous,
            change: format!("{:+} ({})", c.change, bulletin::percent(c.change_rate)),
        })
        .collect();
    Shown {
        period: report.period.label.clone(),
        span: format!(
            "{} – {} ({})",
            day(report.period.from),
            day(last),
            tz.name()
        ),
        previous: report.previous.label.clone(),
        overview: overview(t, &report.total),
        trend: chart_view(bulletin::trend_chart(&report), t),
        dimensions: report
            .by
            .iter()
            .map(|d| dimension_name(policy, *d, t))
            .collect(),
        groups,
        compliance: bulletin::compliance_sla(policy, &report).map(|sla| {
            let chart = bulletin::compliance_chart(&report, &sla);
            (sla, chart_view(chart, t))
        }),
        slas,
        causes: bulletin::root_cause_chart(&report).map(|c| chart_view(c, t)),
        cause_rows,
        satisfaction: bulletin::satisfaction_chart(&report).map(|c| chart_view(c, t)),
    }
}

/// The refusal page of a role that may not read reports: 403, as the API.
fn forbidden(signed: &Signed, role: &str) -> Response {
    let t = signed.lang.texts();
    message(
        Chrome::signed(signed, t.reports_title),
        StatusCode::FORBIDDEN,
        &Texts::fill(t.reports_forbidden, role),
    )
}

/// A dimension as the page names it: the label of the policy's field for it, else
/// the interface's word.
fn dimension_name(policy: &Policy, d: Dimension, t: &'static Texts) -> String {
    let label = bulletin::dimension_label(policy, d);
    if label != d.as_str() {
        return label;
    }
    match d {
        Dimension::Category => t.dim_category,
        Dimension::Product => t.dim_product,
        Dimension::Channel => t.dim_channel,
        Dimension::Department => t.dim_department,
        Dimension::Queue => t.dim_queue,
        Dimension::RootCause => t.dim_root_cause,
        Dimension::Outcome => t.dim_outcome,
    }
    .to_string()
}

fn dimension_choices(
    policy: &Policy,
    chosen: &[String],
    t: &'static Texts,
) -> Vec<(String, String, bool)> {
    policy
        .reporting()
        .dimensions()
        .map(|d: Dimension| {
            let name = d.as_str().to_string();
            let on = chosen.contains(&name);
            (name, dimension_name(policy, d, t), on)
        })
        .collect()
}

/// `GET /reports`: the form, and the report of the period chosen (this month
/// when none is).
pub async fn page(State(app): Ctx, signed: Signed, Query(inputs): Query<Inputs>) -> Response {
    let t = signed.lang.texts();
    let caller = signed.caller().clone();
    if !crate::service::reports::may_read_reports(&caller) {
        return forbidden(&signed, &caller.role);
    }
    let policies = app.service.policies_of(&caller.org);
    let chosen: Option<Arc<Policy>> = match input(&inputs, "policy") {
        Some(id) => match app.service.policy_of(&caller.org, id) {
            Ok(p) => Some(p),
            Err(e) => return service_error(&signed, e),
        },
        None => policies.first().cloned(),
    };
    let Some(policy) = chosen else {
        return message(
            Chrome::signed(&signed, t.reports_title),
            StatusCode::NOT_FOUND,
            t.not_found,
        );
    };
    let form = Form::of(&inputs, &policy);
    let outcome = match form.request(t) {
        Err(text) => Err(text),
        Ok(request) => match app.service.plan_report(&caller, &request) {
            Ok(plan) => app
                .service
                .report(&caller, plan)
                .await
                .map_err(ReportFailure::Service)
                .map_err(|e| e.to_string()),
            Err(ReportFailure::Request(ReportRequestError::Forbidden { role })) => {
                return forbidden(&signed, &role);
            }
            Err(ReportFailure::Service(e)) => return service_error(&signed, e),
            Err(ReportFailure::Request(ReportRequestError::Invalid(text))) => Err(text),
        },
    };
    let (status, error, report) = match outcome {
        Ok(report) => (
            StatusCode::OK,
            String::new(),
            Some(shown(&policy, report, t)),
        ),
        Err(text) => (StatusCode::BAD_REQUEST, text, None),
    };
    let today = Utc::now().with_timezone(&policy.timezone()).date_naive();
    let mut quarters = recent_quarters(today);
    if !quarters.contains(&form.quarter) {
        quarters.insert(0, form.quarter.clone());
    }
    let page = ReportsPage {
        chrome: Chrome::signed(&signed, t.reports_title),
        policies: super::pages::policy_choices(&policies, &policy),
        month: form.kind == Kind::Month,
        quarter: form.kind == Kind::Quarter,
        dates: form.kind == Kind::Dates,
        quarters,
        dimensions: dimension_choices(&policy, &form.by, t),
        form_month: form.month,
        form_quarter: form.quarter,
        form_from: form.from,
        form_to: form.to,
        error,
        report,
    };
    html(status, &page)
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::{quarter_of, recent_quarters};

    #[test]
    fn quarters_are_named_and_listed_newest_first() {
        let day = NaiveDate::from_ymd_opt(2026, 2, 14).unwrap();
        assert_eq!(quarter_of(day), "2026-Q1");
        let listed = recent_quarters(day);
        assert_eq!(listed.len(), 8);
        assert_eq!(&listed[..3], ["2026-Q1", "2025-Q4", "2025-Q3"]);
        assert_eq!(listed[7], "2024-Q2");
    }
}
