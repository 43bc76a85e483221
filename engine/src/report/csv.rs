//! A [`Report`] as CSV: one row per group (one row in all when not grouped), the
//! dimensions' values first, then every figure in a fixed order; and CSV writing
//! shared with the regulators' returns.

use super::{Figures, Report};

/// The report as CSV text.
pub fn render(report: &Report) -> Result<String, csv::Error> {
    let slas: Vec<&String> = report.total.slas.keys().collect();
    let mut header: Vec<String> = report.by.iter().map(|d| d.to_string()).collect();
    header.extend(FIGURES.iter().map(|s| s.to_string()));
    for sla in &slas {
        for part in [
            "met",
            "breached",
            "running_past_deadline",
            "withdrawn",
            "compliance_rate",
        ] {
            header.push(format!("{sla}_{part}"));
        }
    }
    let mut rows = vec![header];
    let groups: Vec<(Vec<String>, &Figures)> = match report.groups.is_empty() {
        true => vec![(vec![], &report.total)],
        false => report
            .groups
            .iter()
            .map(|g| {
                let key = report
                    .by
                    .iter()
                    .map(|d| g.key.get(d).cloned().flatten().unwrap_or_default());
                (key.collect(), &g.figures)
            })
            .collect(),
    };
    for (key, f) in groups {
        let mut row = key;
        row.extend(values(f));
        for sla in &slas {
            let c = f.slas.get(*sla).cloned().unwrap_or_default();
            row.extend([
                c.met.to_string(),
                c.breached.to_string(),
                c.running_past_deadline.to_string(),
                c.withdrawn.to_string(),
                opt(c.compliance_rate),
            ]);
        }
        rows.push(row);
    }
    write(&rows)
}

/// The figures' columns, after the dimensions.
const FIGURES: &[&str] = &[
    "received",
    "closed",
    "withdrawn",
    "open_at_start",
    "open_at_end",
    "resolution_rate",
    "median_days",
    "p90_days",
    "median_business_days",
    "p90_business_days",
    "closed_within_3_business_days",
    "closed_within_8_weeks",
    "closed_within_15_days",
    "closed_within_30_days_extended",
    "closed_within_60_days_extended",
    "extensions",
    "reopened",
    "reopen_rate",
    "upheld",
    "partly_upheld",
    "not_upheld",
    "outcome_not_recorded",
    "upheld_rate",
    "redress_paid",
    "redress_cases",
    "satisfaction_responses",
    "satisfaction_response_rate",
    "satisfaction_mean",
    "repeat_complainants",
    "repeat_complaints",
];

fn values(f: &Figures) -> Vec<String> {
    let (h, w, o) = (&f.handling, &f.closed_within, &f.outcomes);
    let repeat = f.complainants.as_ref();
    vec![
        f.received.to_string(),
        f.closed.to_string(),
        f.withdrawn.to_string(),
        f.open_at_start.to_string(),
        f.open_at_end.to_string(),
        opt(f.resolution_rate),
        opt(h.median_days),
        opt(h.p90_days),
        opt(h.median_business_days),
        opt(h.p90_business_days),
        w.business_days_3.to_string(),
        w.weeks_8.to_string(),
        w.days_15.to_string(),
        w.days_30_extended.to_string(),
        w.days_60_extended.to_string(),
        f.extensions.to_string(),
        f.reopened.to_string(),
        opt(f.reopen_rate),
        o.upheld.to_string(),
        o.partly_upheld.to_string(),
        o.not_upheld.to_string(),
        o.not_recorded.to_string(),
        opt(f.upheld_rate),
        f.redress.paid.to_string(),
        f.redress.cases.to_string(),
        f.satisfaction.responses.to_string(),
        opt(f.satisfaction.response_rate),
        opt(f.satisfaction.mean),
        repeat.map_or(String::new(), |c| c.repeat.to_string()),
        repeat.map_or(String::new(), |c| c.repeat_complaints.to_string()),
    ]
}

fn opt(x: Option<f64>) -> String {
    x.map_or(String::new(), |x| x.to_string())
}

/// Rows as CSV (RFC 4180 quoting), with `\n` line ends.
pub(crate) fn write(rows: &[Vec<String>]) -> Result<String, csv::Error> {
    let mut out = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    for row in rows {
        out.write_record(row)?;
    }
    let bytes = out
        .into_inner()
        .map_err(|e| csv::Error::from(e.into_error()))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}
