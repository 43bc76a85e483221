//! [`Figures`]: the numbers a report gives for one group of cases over a period,
//! and the [`Tally`] that counts them one case at a time. The counting rules are
//! documented, figure by figure, in `docs/reporting.md`.

use std::collections::{BTreeMap, HashMap};

use chrono::TimeDelta;
use rust_decimal::Decimal;
use serde::Serialize;

use super::case_facts::{CaseFacts, ClockEnd};
use super::period::Period;
use crate::policy::Outcome;

/// The numbers for one group of cases over a period.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Figures {
    /// Complaints received in the period.
    pub received: u64,
    /// Complaints closed in the period (withdrawals included).
    pub closed: u64,
    /// Of those, withdrawn by the complainant.
    pub withdrawn: u64,
    /// Open at the period's first instant.
    pub open_at_start: u64,
    /// Open at its end.
    pub open_at_end: u64,
    /// `closed / (open_at_start + received)`; `None` when both are 0.
    pub resolution_rate: Option<f64>,
    /// How long the complaints closed in the period took.
    pub handling: Handling,
    /// Complaints closed in the period within regulators' limits.
    pub closed_within: ClosedWithin,
    /// Each SLA's compliance in the period.
    pub slas: BTreeMap<String, Compliance>,
    /// Extensions granted on the clocks of complaints closed in the period.
    pub extensions: u64,
    /// Complaints closed in the period that had been reopened.
    pub reopened: u64,
    /// `reopened / closed`.
    pub reopen_rate: Option<f64>,
    /// Outcomes of the complaints closed in the period.
    pub outcomes: Outcomes,
    /// `(upheld + partly_upheld) / ` complaints closed with an outcome recorded.
    pub upheld_rate: Option<f64>,
    /// Redress paid on complaints closed in the period.
    pub redress: Redress,
    /// Satisfaction scores of complaints closed in the period.
    pub satisfaction: Satisfaction,
    /// Repeat complainants among complaints received in the period; `None` when the
    /// report has no key to recognise them by.
    pub complainants: Option<Complainants>,
}

/// Handling time, median and 90th percentile, from receipt to closing.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Handling {
    /// In calendar days (fractional, to two decimals).
    pub median_days: Option<f64>,
    /// In calendar days, 90th percentile.
    pub p90_days: Option<f64>,
    /// In working days on the policy's calendar.
    pub median_business_days: Option<f64>,
    /// In working days, 90th percentile.
    pub p90_business_days: Option<f64>,
}

/// Complaints closed in the period within a limit.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClosedWithin {
    /// By the end of the third business day after the day of receipt (DISP 1.5).
    pub business_days_3: u64,
    /// Within eight weeks of receipt (DISP 1.6.2).
    pub weeks_8: u64,
    /// Within 15 days after the day of receipt (CBIRC Order 2020 No. 3, Art. 18).
    pub days_15: u64,
    /// After 15 days and within 30, with the resolution clock extended.
    pub days_30_extended: u64,
    /// After 30 days and within 60, with the resolution clock extended.
    pub days_60_extended: u64,
}

/// One SLA's compliance in a period.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Compliance {
    /// Stopped in the period before the deadline.
    pub met: u64,
    /// Stopped in the period at or after the deadline.
    pub breached: u64,
    /// Still running at the period's end, past the deadline.
    pub running_past_deadline: u64,
    /// Still running at the end, before the deadline (or paused).
    pub running: u64,
    /// Stopped in the period by a withdrawal.
    pub withdrawn: u64,
    /// `met / (met + breached + running_past_deadline)`.
    pub compliance_rate: Option<f64>,
}

/// Outcomes recorded at closing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Outcomes {
    /// Upheld.
    pub upheld: u64,
    /// Partly upheld.
    pub partly_upheld: u64,
    /// Not upheld.
    pub not_upheld: u64,
    /// Closed with no outcome recorded (withdrawals, mostly).
    pub not_recorded: u64,
}

/// Redress paid.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Redress {
    /// The total, exact.
    #[serde(with = "rust_decimal::serde::str")]
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub paid: Decimal,
    /// Complaints with redress recorded above zero.
    pub cases: u64,
}

/// Satisfaction scores.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Satisfaction {
    /// Complaints closed with a score.
    pub responses: u64,
    /// `responses / closed`.
    pub response_rate: Option<f64>,
    /// The mean score, to two decimals.
    pub mean: Option<f64>,
    /// How many gave each score, every score of the scale listed.
    pub distribution: BTreeMap<i64, u64>,
}

/// Repeat complainants, recognised by the keyed hash of their identity.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Complainants {
    /// Complaints received whose complainant could be identified.
    pub identified: u64,
    /// Distinct complainants among them.
    pub distinct: u64,
    /// Complainants with two complaints or more.
    pub repeat: u64,
    /// The complaints of those.
    pub repeat_complaints: u64,
}

/// Counts one group's cases, one at a time.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    figures: Figures,
    days: Vec<f64>,
    business_days: Vec<f64>,
    score_sum: i64,
    complainants: HashMap<String, u64>,
}

/// What the tally needs to know besides the facts.
pub(crate) struct Rules<'a> {
    pub period: Period,
    pub slas: Vec<String>,
    pub resolution: Option<&'a str>,
    pub scale: Option<(i64, i64)>,
    pub identify: bool,
}

impl Tally {
    pub(crate) fn add(&mut self, facts: &CaseFacts, rules: &Rules<'_>) {
        let (p, f) = (&rules.period, &mut self.figures);
        f.received += u64::from(p.contains(facts.received_at));
        f.open_at_start += u64::from(facts.open_at(p.from));
        f.open_at_end += u64::from(facts.open_at(p.to));
        for sla in &rules.slas {
            // Looked up before it is named anew: a case adds to every SLA's counts.
            if !f.slas.contains_key(sla) {
                f.slas.insert(sla.clone(), Compliance::default());
            }
            let (Some(compliance), Some(clock)) = (f.slas.get_mut(sla), facts.clocks.get(sla))
            else {
                continue;
            };
            count_clock(compliance, clock, p);
        }
        if p.contains(facts.received_at) && rules.identify {
            self.identify(facts);
        }
        if facts.closed_at.is_some_and(|c| p.contains(c)) {
            self.add_closed(facts, rules);
        }
    }

    fn identify(&mut self, facts: &CaseFacts) {
        let Some(who) = &facts.complainant else {
            return;
        };
        match self.complainants.get_mut(who) {
            Some(n) => *n += 1,
            None => {
                self.complainants.insert(who.clone(), 1);
            }
        }
    }

    fn add_closed(&mut self, facts: &CaseFacts, rules: &Rules<'_>) {
        let f = &mut self.figures;
        f.closed += 1;
        f.withdrawn += u64::from(facts.withdrawn);
        f.reopened += u64::from(facts.reopened > 0);
        f.extensions += facts
            .clocks
            .values()
            .map(|c| u64::from(c.extensions))
            .sum::<u64>();
        let elapsed = facts
            .closed_at
            .map(|c| c - facts.received_at)
            .unwrap_or_default();
        self.days.push(elapsed.num_seconds() as f64 / 86_400.0);
        if let Some(b) = facts.business_days {
            self.business_days.push(b as f64);
        }
        let extended = rules
            .resolution
            .and_then(|r| facts.clocks.get(r))
            .is_some_and(|c| c.extensions > 0);
        within(&mut f.closed_within, facts, elapsed, extended);
        *match facts.outcome {
            Some(Outcome::Upheld) => &mut f.outcomes.upheld,
            Some(Outcome::PartlyUpheld) => &mut f.outcomes.partly_upheld,
            Some(Outcome::NotUpheld) => &mut f.outcomes.not_upheld,
            None => &mut f.outcomes.not_recorded,
        } += 1;
        if let Some(r) = facts.redress.filter(|r| !r.is_zero()) {
            f.redress.paid += r;
            f.redress.cases += 1;
        }
        if let Some(score) = facts.satisfaction {
            f.satisfaction.responses += 1;
            *f.satisfaction.distribution.entry(score).or_default() += 1;
            self.score_sum += score;
        }
    }

    /// The figures, rates and percentiles worked out.
    pub(crate) fn finish(mut self, rules: &Rules<'_>) -> Figures {
        let f = &mut self.figures;
        f.resolution_rate = ratio(f.closed, f.open_at_start + f.received);
        f.reopen_rate = ratio(f.reopened, f.closed);
        let o = &f.outcomes;
        f.upheld_rate = ratio(
            o.upheld + o.partly_upheld,
            o.upheld + o.partly_upheld + o.not_upheld,
        );
        for c in f.slas.values_mut() {
            c.compliance_rate = ratio(c.met, c.met + c.breached + c.running_past_deadline);
        }
        let s = &mut f.satisfaction;
        s.response_rate = ratio(s.responses, f.closed);
        s.mean = (s.responses > 0).then(|| round2(self.score_sum as f64 / s.responses as f64));
        if let Some((lo, hi)) = rules.scale {
            (lo..=hi).for_each(|score| {
                s.distribution.entry(score).or_default();
            });
        }
        f.handling = Handling {
            median_days: median(&mut self.days).map(round2),
            p90_days: percentile(&mut self.days, 90).map(round2),
            median_business_days: median(&mut self.business_days),
            p90_business_days: percentile(&mut self.business_days, 90),
        };
        f.complainants = rules.identify.then(|| {
            let counts = self.complainants.values();
            Complainants {
                identified: counts.clone().sum(),
                distinct: counts.len() as u64,
                repeat: counts.clone().filter(|n| **n > 1).count() as u64,
                repeat_complaints: counts.filter(|n| **n > 1).sum(),
            }
        });
        self.figures
    }
}

fn count_clock(c: &mut Compliance, clock: &super::case_facts::ClockFacts, p: &Period) {
    match clock.stopped_at {
        Some(at) if p.contains(at) => {
            *match clock.end {
                ClockEnd::Met => &mut c.met,
                ClockEnd::Withdrawn => &mut c.withdrawn,
                _ => &mut c.breached,
            } += 1
        }
        // Stopped before the period: not the period's business.
        Some(at) if at < p.from => {}
        // Running at the period's end (stopped later, or not yet).
        _ => match clock.deadline {
            Some(d) if d <= p.to => c.running_past_deadline += 1,
            _ => c.running += 1,
        },
    }
}

fn within(w: &mut ClosedWithin, facts: &CaseFacts, elapsed: TimeDelta, extended: bool) {
    w.business_days_3 += u64::from(facts.business_days.is_some_and(|b| b <= 3));
    w.weeks_8 += u64::from(elapsed <= TimeDelta::weeks(8));
    let days = facts.days.unwrap_or(i64::MAX);
    w.days_15 += u64::from(days <= 15);
    w.days_30_extended += u64::from(extended && (16..=30).contains(&days));
    w.days_60_extended += u64::from(extended && (31..=60).contains(&days));
}

fn ratio(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| round4(part as f64 / whole as f64))
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// The middle value; the mean of the two middle ones for an even count.
fn median(values: &mut [f64]) -> Option<f64> {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(values[n / 2]),
        _ => Some((values[n / 2 - 1] + values[n / 2]) / 2.0),
    }
}

/// The nearest-rank percentile: the smallest value with at least `p` % of the
/// values at or below it.
fn percentile(values: &mut [f64], p: usize) -> Option<f64> {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    let rank = (p * n).div_ceil(100).max(1);
    values.get(rank - 1).copied()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn medians_and_nearest_rank_percentiles() {
        let cases: [(&[f64], Option<f64>, Option<f64>); 4] = [
            (&[], None, None),
            (&[4.0], Some(4.0), Some(4.0)),
            (&[3.0, 1.0, 2.0, 10.0], Some(2.5), Some(10.0)),
            (
                &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0],
                Some(5.5),
                Some(9.0),
            ),
        ];
        for (values, m, p90) in cases {
            let mut v = values.to_vec();
            assert_eq!(median(&mut v), m, "{values:?}");
            assert_eq!(percentile(&mut v, 90), p90, "{values:?}");
        }
    }
}
