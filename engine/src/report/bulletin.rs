//! The complaint bulletin (投诉通报): a [`Report`] as one self-contained HTML page,
//! readable on screen and on paper, with its charts inlined as SVG. Headings are
//! in Chinese and English; dimensions and groups carry the policy's own labels
//! (field labels, queue descriptions). No script, no style sheet or font from
//! elsewhere: the page shows the same offline.

use std::fmt::Write;

use super::chart::{self, AMBER, BLUE, GREEN, GREY, RED, Series, TEAL};
use super::{Figures, Report};
use crate::policy::reporting::Source;
use crate::policy::{Dimension, Policy};

const STYLE: &str = "body{font-family:system-ui,'Noto Sans CJK SC','Microsoft YaHei',sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
h1{margin-bottom:0}h2{border-bottom:2px solid #1565c0;padding-bottom:.2rem;margin-top:2rem;break-after:avoid}
table{border-collapse:collapse;width:100%;font-size:.9rem}th,td{border:1px solid #ccc;padding:.25rem .4rem;text-align:right}
th:first-child,td:first-child,th.k,td.k{text-align:left}thead th{background:#eef3fb}
.meta{color:#555}.note{color:#666;font-size:.85rem}.legend span{display:inline-block;margin-right:1rem}
.legend i{display:inline-block;width:.8rem;height:.8rem;margin-right:.3rem;vertical-align:middle}
figure{margin:1rem 0;break-inside:avoid}svg{max-width:100%;height:auto}
@media print{body{margin:0;max-width:none}h2{margin-top:1rem}}";

/// The bulletin of `report` on `policy`, as a whole HTML document.
pub fn render(policy: &Policy, report: &Report) -> String {
    let mut page = String::with_capacity(64 * 1024);
    let title = policy
        .reporting()
        .title()
        .unwrap_or("投诉通报 Complaint bulletin");
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"zh-Hans\">\n<head>\n<meta charset=\"utf-8\">\n<title>{t} · {p}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{t}</h1>\n<p class=\"meta\">{name} ({id} {version}) · 报告期 Period <b>{label}</b>: {from} – {to} · 上期 Previous: {prev}</p>\n",
        t = escape(title),
        p = escape(&report.period.label),
        name = escape(&report.policy.name),
        id = escape(&report.policy.id),
        version = escape(&report.policy.version),
        label = escape(&report.period.label),
        from = report.period.from.to_rfc3339(),
        to = report.period.to.to_rfc3339(),
        prev = escape(&report.previous.label),
    );
    overview(&mut page, report);
    trend(&mut page, report);
    groups(&mut page, policy, report);
    compliance(&mut page, policy, report);
    root_causes(&mut page, report);
    satisfaction(&mut page, report);
    notes(&mut page, policy);
    page.push_str("</body>\n</html>\n");
    page
}

fn overview(page: &mut String, report: &Report) {
    let t = &report.total;
    section(page, "overview", "概况 Overview");
    page.push_str("<table><tbody>\n");
    let rows: Vec<(&str, String)> = vec![
        ("受理 Received", t.received.to_string()),
        (
            "办结 Closed",
            format!("{} (撤诉 withdrawn {})", t.closed, t.withdrawn),
        ),
        ("期初未结 Open at start", t.open_at_start.to_string()),
        ("期末未结 Open at end", t.open_at_end.to_string()),
        ("投诉解决率 Resolution rate", percent(t.resolution_rate)),
        (
            "处理时效 Handling time, median / p90 (days)",
            pair(t.handling.median_days, t.handling.p90_days),
        ),
        (
            "处理时效 Handling time, median / p90 (business days)",
            pair(
                t.handling.median_business_days,
                t.handling.p90_business_days,
            ),
        ),
        ("延期 Extensions granted", t.extensions.to_string()),
        (
            "重开率 Reopen rate",
            format!("{} ({})", percent(t.reopen_rate), t.reopened),
        ),
        (
            "支持率 Upheld rate",
            format!(
                "{} (upheld {}, partly {}, not upheld {})",
                percent(t.upheld_rate),
                t.outcomes.upheld,
                t.outcomes.partly_upheld,
                t.outcomes.not_upheld
            ),
        ),
        (
            "赔付 Redress paid",
            format!("{} ({} cases)", t.redress.paid, t.redress.cases),
        ),
        (
            "满意度 Satisfaction, mean",
            format!(
                "{} (response rate {})",
                number(t.satisfaction.mean),
                percent(t.satisfaction.response_rate)
            ),
        ),
        ("重复投诉 Repeat complainants", repeat(t)),
    ];
    for (k, v) in rows {
        let _ = writeln!(
            page,
            "<tr><th class=\"k\">{}</th><td>{}</td></tr>",
            escape(k),
            escape(&v)
        );
    }
    page.push_str("</tbody></table>\n");
}

fn trend(page: &mut String, report: &Report) {
    section(page, "trend", "投诉量趋势 Volume trend");
    figure(page, "trend", &trend_chart(report));
}

/// One chart of the bulletin: its SVG and its legend, for a page that shows the
/// charts with words of its own (the console's Reports page).
#[derive(Debug, Clone)]
pub struct Chart {
    /// The chart, one `<svg>` element drawn with presentation attributes only (no
    /// script, no style sheet).
    pub svg: String,
    /// Its series, in the order they are drawn.
    pub legend: Vec<Legend>,
}

/// A series of a chart as its legend shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Legend {
    /// A stable key: `received`, `closed`, `met`, `breached`,
    /// `running-past-deadline`, `withdrawn`, `this-period`, `previous-period`,
    /// `responses`.
    pub key: &'static str,
    /// The bulletin's own name of it, in Chinese and English.
    pub name: &'static str,
    /// Its colour (red, green, blue).
    pub colour: (u8, u8, u8),
}

fn chart_of(svg: String, series: &[(&'static str, &Series<'static>)]) -> Chart {
    let legend = series
        .iter()
        .map(|(key, s)| Legend {
            key,
            name: s.name,
            colour: (s.colour.0, s.colour.1, s.colour.2),
        })
        .collect();
    Chart { svg, legend }
}

/// Received (bars) and closed (a line) per month, or per day for a period of a
/// month or less.
pub fn trend_chart(report: &Report) -> Chart {
    let labels: Vec<String> = report
        .trend
        .iter()
        .map(|p| match report.period.by_month() {
            true => p.from.format("%Y-%m").to_string(),
            false => p.from.format("%m-%d").to_string(),
        })
        .collect();
    let received = Series {
        name: "受理 received",
        colour: BLUE,
        values: report.trend.iter().map(|p| p.received).collect(),
    };
    let closed = Series {
        name: "办结 closed",
        colour: TEAL,
        values: report.trend.iter().map(|p| p.closed).collect(),
    };
    let svg = chart::columns(&labels, &received, Some(&closed));
    chart_of(svg, &[("received", &received), ("closed", &closed)])
}

fn groups(page: &mut String, policy: &Policy, report: &Report) {
    if report.by.is_empty() {
        return;
    }
    section(page, "groups", "分组情况 By group");
    page.push_str("<table><thead><tr>");
    for d in &report.by {
        let _ = write!(
            page,
            "<th class=\"k\">{}</th>",
            escape(&dimension_label(policy, *d))
        );
    }
    page.push_str("<th>受理<br>Received</th><th>办结<br>Closed</th><th>期末未结<br>Open at end</th><th>解决率<br>Resolution</th><th>时效中位数<br>Median days</th><th>支持率<br>Upheld</th><th>赔付<br>Redress</th><th>满意度<br>Satisfaction</th></tr></thead><tbody>\n");
    for g in &report.groups {
        page.push_str("<tr>");
        for d in &report.by {
            let v = g.key.get(d).cloned().flatten();
            let _ = write!(
                page,
                "<td class=\"k\">{}</td>",
                escape(&value_label(policy, *d, v.as_deref()))
            );
        }
        let f = &g.figures;
        let _ = writeln!(
            page,
            "<td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            f.received,
            f.closed,
            f.open_at_end,
            percent(f.resolution_rate),
            number(f.handling.median_days),
            percent(f.upheld_rate),
            f.redress.paid,
            number(f.satisfaction.mean)
        );
    }
    page.push_str("</tbody></table>\n");
}

/// The SLA whose compliance the bulletin charts: the report's resolution SLA,
/// else the policy's first.
pub fn compliance_sla(policy: &Policy, report: &Report) -> Option<String> {
    report
        .resolution_sla
        .clone()
        .or_else(|| policy.slas().keys().next().cloned())
}

/// Met, breached, running past the deadline and withdrawn, for `sla`: one bar
/// for every case, or one per group when the report is grouped.
pub fn compliance_chart(report: &Report, sla: &str) -> Chart {
    let rows: Vec<(String, &Figures)> = match report.groups.is_empty() {
        true => vec![("全部 All".to_string(), &report.total)],
        false => report
            .groups
            .iter()
            .map(|g| (group_label(report, g), &g.figures))
            .collect(),
    };
    let labels: Vec<String> = rows.iter().map(|(l, _)| l.clone()).collect();
    let of = |pick: fn(&super::Compliance) -> u64| -> Vec<u64> {
        rows.iter()
            .map(|(_, f)| f.slas.get(sla).map_or(0, pick))
            .collect()
    };
    let met = Series {
        name: "按时 met",
        colour: GREEN,
        values: of(|c| c.met),
    };
    let breached = Series {
        name: "超时 breached",
        colour: RED,
        values: of(|c| c.breached),
    };
    let past = Series {
        name: "逾期未结 running past deadline",
        colour: AMBER,
        values: of(|c| c.running_past_deadline),
    };
    let withdrawn = Series {
        name: "撤诉 withdrawn",
        colour: GREY,
        values: of(|c| c.withdrawn),
    };
    let series = [met, breached, past, withdrawn];
    let svg = chart::stacked_rows(&labels, &series, None);
    let keys = ["met", "breached", "running-past-deadline", "withdrawn"];
    let keyed: Vec<_> = keys.into_iter().zip(series.iter()).collect();
    chart_of(svg, &keyed)
}

fn compliance(page: &mut String, policy: &Policy, report: &Report) {
    let Some(sla) = compliance_sla(policy, report) else {
        return;
    };
    section(
        page,
        "compliance",
        &format!("时限达标 SLA compliance: {}", escape(&sla)),
    );
    figure(page, "compliance", &compliance_chart(report, &sla));
    page.push_str("<table><thead><tr><th class=\"k\">SLA</th><th>按时<br>Met</th><th>超时<br>Breached</th><th>逾期未结<br>Running past deadline</th><th>撤诉<br>Withdrawn</th><th>达标率<br>Compliance</th></tr></thead><tbody>\n");
    for (name, c) in &report.total.slas {
        let _ = writeln!(
            page,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(name),
            c.met,
            c.breached,
            c.running_past_deadline,
            c.withdrawn,
            percent(c.compliance_rate)
        );
    }
    page.push_str("</tbody></table>\n");
}

/// The top root causes of the period (bars) with the previous period's counts
/// (dots); `None` when none was recorded.
pub fn root_cause_chart(report: &Report) -> Option<Chart> {
    if report.root_causes.is_empty() {
        return None;
    }
    let labels: Vec<String> = report.root_causes.iter().map(|c| c.cause.clone()).collect();
    let now = Series {
        name: "本期 this period",
        colour: BLUE,
        values: report.root_causes.iter().map(|c| c.count).collect(),
    };
    let before = Series {
        name: "上期 previous period",
        colour: AMBER,
        values: report.root_causes.iter().map(|c| c.previous).collect(),
    };
    let svg = chart::stacked_rows(&labels, std::slice::from_ref(&now), Some(&before));
    Some(chart_of(
        svg,
        &[("this-period", &now), ("previous-period", &before)],
    ))
}

fn root_causes(page: &mut String, report: &Report) {
    section(page, "root-causes", "投诉原因 Root causes");
    let Some(chart) = root_cause_chart(report) else {
        page.push_str("<p class=\"note\">没有记录原因 No root cause recorded in the period.</p>\n");
        return;
    };
    figure(page, "root-causes", &chart);
    page.push_str("<table><thead><tr><th class=\"k\">原因 Cause</th><th>本期<br>This period</th><th>上期<br>Previous</th><th>变化<br>Change</th></tr></thead><tbody>\n");
    for c in &report.root_causes {
        let _ = writeln!(
            page,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{:+} ({})</td></tr>",
            escape(&c.cause),
            c.count,
            c.previous,
            c.change,
            percent(c.change_rate)
        );
    }
    page.push_str("</tbody></table>\n");
}

/// Responses per satisfaction score; `None` when the policy records no score.
pub fn satisfaction_chart(report: &Report) -> Option<Chart> {
    let s = &report.total.satisfaction;
    if s.distribution.is_empty() {
        return None;
    }
    let labels: Vec<String> = s.distribution.keys().map(|k| k.to_string()).collect();
    let scores = Series {
        name: "评分 responses per score",
        colour: TEAL,
        values: s.distribution.values().copied().collect(),
    };
    let svg = chart::columns(&labels, &scores, None);
    Some(chart_of(svg, &[("responses", &scores)]))
}

fn satisfaction(page: &mut String, report: &Report) {
    let Some(chart) = satisfaction_chart(report) else {
        return;
    };
    let s = &report.total.satisfaction;
    section(page, "satisfaction", "满意度 Satisfaction");
    figure(page, "satisfaction", &chart);
    let _ = writeln!(
        page,
        "<p>均值 Mean <b>{}</b> · 回复 Responses {} · 回复率 Response rate {}</p>",
        number(s.mean),
        s.responses,
        percent(s.response_rate)
    );
}

fn notes(page: &mut String, policy: &Policy) {
    section(page, "notes", "说明 Notes");
    let _ = writeln!(
        page,
        "<p class=\"note\">Received: received in the period. Closed: closed in the period (a reopened case counts at its last closing). Resolution rate: closed ÷ (open at start + received). Handling time: receipt to closing; business days are working days on the policy's calendar after the day of receipt. An SLA is met or breached when its clock stopped in the period; running past deadline: still running at the period's end with its deadline passed. Repeat complainants are matched by a keyed hash of `{}`; no personal data is in this page. Counting rules: docs/reporting.md.</p>",
        escape(policy.reporting().complainant_field().unwrap_or("-"))
    );
}

fn section(page: &mut String, id: &str, heading: &str) {
    let _ = writeln!(page, "<section id=\"{id}\">\n<h2>{}</h2>", escape(heading));
    // Sections are closed by the next one's heading; HTML allows the implied end.
}

fn figure(page: &mut String, id: &str, chart: &Chart) {
    let _ = write!(
        page,
        "<figure class=\"chart\" id=\"chart-{id}\">\n{}\n<figcaption class=\"legend\">",
        chart.svg
    );
    for s in &chart.legend {
        let (r, g, b) = s.colour;
        let _ = write!(
            page,
            "<span><i style=\"background:rgb({r},{g},{b})\"></i>{}</span>",
            escape(s.name)
        );
    }
    page.push_str("</figcaption>\n</figure>\n");
}

/// A dimension's name as the policy labels it: the field's label, else its name.
pub fn dimension_label(policy: &Policy, d: Dimension) -> String {
    match policy.reporting().source(d) {
        Some(Source::Field(f)) => policy
            .fields()
            .get(f)
            .and_then(|f| f.label.clone())
            .unwrap_or_else(|| d.to_string()),
        _ => d.to_string(),
    }
}

/// A group's value as people read it: a queue with its description; `(none)`
/// for cases without one.
pub fn value_label(policy: &Policy, d: Dimension, value: Option<&str>) -> String {
    let Some(value) = value else {
        return "(none)".to_string();
    };
    let queue = matches!(policy.reporting().source(d), Some(Source::Queue));
    match policy.queues().get(value).filter(|_| queue) {
        Some(description) => format!("{value} · {description}"),
        None => value.to_string(),
    }
}

fn group_label(report: &Report, g: &super::Group) -> String {
    let parts: Vec<String> = report
        .by
        .iter()
        .map(|d| {
            g.key
                .get(d)
                .cloned()
                .flatten()
                .unwrap_or_else(|| "(none)".into())
        })
        .collect();
    parts.join(" / ")
}

fn repeat(t: &Figures) -> String {
    match &t.complainants {
        Some(c) => format!(
            "{} of {} complainants ({} complaints)",
            c.repeat, c.distinct, c.repeat_complaints
        ),
        None => "not counted (no complainant key)".to_string(),
    }
}

/// A rate as a percentage to one decimal; `–` when there is none.
pub fn percent(rate: Option<f64>) -> String {
    rate.map_or("–".into(), |r| format!("{:.1}%", r * 100.0))
}

/// A number to two decimals; `–` when there is none.
pub fn number(x: Option<f64>) -> String {
    x.map_or("–".into(), |x| format!("{x:.2}"))
}

fn pair(a: Option<f64>, b: Option<f64>) -> String {
    format!("{} / {}", number(a), number(b))
}

pub(crate) use crate::markup::escape;
