//! Calendar data that runs out: whether a calendar's firm data reaches far enough
//! from "today" for the longest deadline the policy can set, plus a margin. Past
//! the data deadlines are still counted (on the working week alone, marked
//! provisional), but a compliance team needs to hear about it months ahead, from
//! `redress validate` (a warning) and `redress serve` (a log line and a gauge).

use crate::policy::Names;
use std::fmt;
use std::sync::Arc;

use chrono::{Days, NaiveDate};
use indexmap::IndexMap;
use serde::Serialize;

use super::{Policy, Sla};
use crate::calendar::{Calendar, SlaDuration};

/// How far past the longest deadline from today the firm data must reach.
pub const MARGIN_DAYS: u64 = 90;

/// A calendar whose firm data ends within reach of today.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DataRunsOut {
    /// The calendar's name in the policy.
    pub calendar: String,
    /// The last day of its firm (not provisional) data.
    pub firm_until: NaiveDate,
    /// The data files, in the calendar's order.
    pub files: Vec<String>,
    /// Some data after `firm_until` is marked provisional.
    pub provisional_after: bool,
    /// The longest target the policy sets on it.
    pub longest: SlaDuration,
    /// Today, as given.
    pub today: NaiveDate,
    /// How far the data must reach: the longest deadline from today plus the margin.
    pub reach: NaiveDate,
}

impl fmt::Display for DataRunsOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let files: Vec<String> = self.files.iter().map(|f| format!("`{f}`")).collect();
        let what = match self.provisional_after {
            true => "official data ends",
            false => "data ends",
        };
        write!(
            f,
            "calendar `{}`: its {what} {} ({}), within reach of the longest SLA target ({}) plus {MARGIN_DAYS} days from {} (to {}); deadlines that count later days are provisional",
            self.calendar,
            self.firm_until,
            files.join(", "),
            self.longest,
            self.today,
            self.reach
        )
    }
}

impl Policy {
    /// Every calendar whose firm data ends before the longest deadline from `today`
    /// plus [`MARGIN_DAYS`]; calendars without data files never run out.
    pub fn data_runs_out(&self, today: NaiveDate) -> Vec<DataRunsOut> {
        data_runs_out(&self.calendars, &self.slas, today)
    }
}

/// [`Policy::data_runs_out`] over validated calendars and SLAs.
pub(crate) fn data_runs_out(
    calendars: &IndexMap<String, Arc<Calendar>>,
    slas: &Names<Sla>,
    today: NaiveDate,
) -> Vec<DataRunsOut> {
    let mut out = Vec::new();
    for (name, cal) in calendars {
        let Some(firm_until) = cal.firm_until() else {
            continue;
        };
        // The SLAs on this calendar; the policy's all when none counts on it.
        let mut on: Vec<&Sla> = slas.values().filter(|s| &s.calendar == name).collect();
        if on.is_empty() {
            on = slas.values().collect();
        }
        let targets = on
            .iter()
            .flat_map(|s| std::iter::once(s.rule.target).chain(s.extensions.iter().map(|e| e.to)));
        let Some((longest, end)) = targets
            .map(|t| (t, reach_of(cal, today, &t)))
            .max_by_key(|(_, end)| *end)
        else {
            continue;
        };
        let reach = end.checked_add_days(Days::new(MARGIN_DAYS)).unwrap_or(end);
        if firm_until < reach {
            out.push(DataRunsOut {
                calendar: name.clone(),
                firm_until,
                files: cal.covers().iter().map(|c| c.source.clone()).collect(),
                provisional_after: cal
                    .covers()
                    .iter()
                    .any(|c| c.provisional && c.to > firm_until),
                longest,
                today,
                reach,
            });
        }
    }
    out
}

/// The local date of the deadline of `target` from the start of `today`; by the
/// target's approximate length when the calendar cannot count from today.
fn reach_of(cal: &Calendar, today: NaiveDate, target: &SlaDuration) -> NaiveDate {
    let counted = cal
        .start_of_day(today)
        .and_then(|start| cal.deadline(start, target))
        .map(|at| cal.local_date(at));
    counted.unwrap_or_else(|_| {
        let days = u64::try_from(target.approx_seconds() / 86_400 + 1).unwrap_or(0);
        today.checked_add_days(Days::new(days)).unwrap_or(today)
    })
}
