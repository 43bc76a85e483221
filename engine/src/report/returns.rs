//! Regulators' complaint returns, read off a [`Report`] so that a return and the
//! report it comes from can never disagree:
//!
//! - [`Return::FcaDisp1`]: the UK FCA complaints return (DISP 1.10, DISP 1 Annex
//!   1R), one row per product grouping;
//! - [`Return::CnConsumer`]: consumer complaints of a bank or insurer in mainland
//!   China, by business category and cause, with the counts closed within the time
//!   limits of CBIRC Order 2020 No. 3 (15 days; 30 and 60 with extensions).
//!
//! The counting rules, and the DISP provisions they follow, are in
//! `docs/reporting.md`.

use std::str::FromStr;

use super::{Figures, Report, ReportError};
use crate::policy::{Dimension, Policy};

/// A regulator's return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Return {
    /// FCA DISP 1 Annex 1R.
    FcaDisp1,
    /// China: consumer complaints by business category and cause.
    CnConsumer,
}

impl FromStr for Return {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "fca-disp1" => Ok(Return::FcaDisp1),
            "cn-consumer" => Ok(Return::CnConsumer),
            other => Err(format!(
                "unknown return `{other}`; expected `fca-disp1` or `cn-consumer`"
            )),
        }
    }
}

impl Return {
    /// The dimensions the report must be grouped by for this return on `policy`.
    pub fn by(self, policy: &Policy) -> Result<Vec<Dimension>, ReportError> {
        let has = |d| policy.reporting().dimensions().any(|k| k == d);
        match self {
            Return::FcaDisp1 if has(Dimension::Product) => Ok(vec![Dimension::Product]),
            Return::FcaDisp1 => Err(ReportError::Return(format!(
                "policy `{}` has no `product` in `[reporting]`: the FCA return is by product grouping",
                policy.id()
            ))),
            Return::CnConsumer => {
                let business = if has(Dimension::Product) {
                    Dimension::Product
                } else {
                    Dimension::Category
                };
                match has(business) && has(Dimension::RootCause) {
                    true => Ok(vec![business, Dimension::RootCause]),
                    false => Err(ReportError::Return(format!(
                        "policy `{}` needs `category` (or `product`) and `root_cause` in `[reporting]` for the consumer-complaints return",
                        policy.id()
                    ))),
                }
            }
        }
    }

    /// The return's rows (a header first), read off `report`, which must be
    /// grouped by [`Self::by`].
    pub fn rows(self, report: &Report) -> Vec<Vec<String>> {
        let mut rows = vec![self.header()];
        for g in &report.groups {
            let key = report.by.iter().map(|d| {
                g.key
                    .get(d)
                    .cloned()
                    .flatten()
                    .unwrap_or_else(|| "(none)".into())
            });
            let mut row: Vec<String> = key.collect();
            row.extend(self.figures(&g.figures));
            rows.push(row);
        }
        let mut total: Vec<String> = report
            .by
            .iter()
            .enumerate()
            .map(|(i, _)| {
                if i == 0 {
                    "Total".into()
                } else {
                    String::new()
                }
            })
            .collect();
        total.extend(self.figures(&report.total));
        rows.push(total);
        rows
    }

    /// The return as CSV.
    pub fn render(self, report: &Report) -> Result<String, csv::Error> {
        super::csv::write(&self.rows(report))
    }

    fn header(self) -> Vec<String> {
        let names: &[&str] = match self {
            Return::FcaDisp1 => &[
                "product_grouping",
                "outstanding_at_start",
                "opened",
                "closed",
                "closed_within_3_business_days",
                "closed_after_3_business_days_within_8_weeks",
                "closed_after_8_weeks",
                "upheld",
                "upheld_rate",
                "redress_paid",
            ],
            Return::CnConsumer => &[
                "业务类别 business_category",
                "投诉原因 cause",
                "受理 received",
                "办结 closed",
                "15日内办结 closed_within_15_days",
                "延期30日内办结 closed_within_30_days_extended",
                "延期60日内办结 closed_within_60_days_extended",
                "超期办结 closed_later",
                "期末未结 open_at_end",
            ],
        };
        names.iter().map(|s| s.to_string()).collect()
    }

    fn figures(self, f: &Figures) -> Vec<String> {
        let w = &f.closed_within;
        let n = |x: u64| x.to_string();
        match self {
            Return::FcaDisp1 => {
                let upheld = f.outcomes.upheld + f.outcomes.partly_upheld;
                let rate = match f.closed {
                    0 => String::new(),
                    c => format!("{:.4}", upheld as f64 / c as f64),
                };
                vec![
                    n(f.open_at_start),
                    n(f.received),
                    n(f.closed),
                    n(w.business_days_3),
                    n(w.weeks_8.saturating_sub(w.business_days_3)),
                    n(f.closed.saturating_sub(w.weeks_8)),
                    n(upheld),
                    rate,
                    f.redress.paid.to_string(),
                ]
            }
            Return::CnConsumer => {
                let within = w.days_15 + w.days_30_extended + w.days_60_extended;
                vec![
                    n(f.received),
                    n(f.closed),
                    n(w.days_15),
                    n(w.days_30_extended),
                    n(w.days_60_extended),
                    n(f.closed.saturating_sub(within)),
                    n(f.open_at_end),
                ]
            }
        }
    }
}
