//! The scenario test runner: plays a policy's `[[tests]]` on a virtual clock and
//! compares the case with each expectation. `redress test` prints the results.
//!
//! A scenario starts with the intake at `received_at` (the clock starts there). A
//! step moves the clock to its `at` (default: where the clock is), firing due timers
//! on the way, then sends its command. `advance` moves the clock by a duration on
//! the policy's default calendar: exact for minutes and hours, the same local time
//! `n` days (weeks, months) later, business time for business minutes and hours, and
//! the same local time on the `n`th working day for business days. `until` moves it
//! to an instant. Warnings, breaches and notifications are expected as everything
//! fired so far, in order.

mod expect;

use chrono::{DateTime, Days, Months, TimeDelta, Utc};
use serde::Serialize;

use super::{Command, CommandKind, Data, Refusal, VirtualCase};
use crate::calendar::{Calendar, CalendarError, SlaDuration};
use crate::case::{Actor, EventKind};
use crate::policy::scenario::{Expect, Step, StepAction};
use crate::policy::{Policy, Scenario};
use crate::sla::Explanation;
use crate::value::Fields;

pub use expect::Mismatch;

/// The result of one scenario.
#[derive(Debug, Clone, Serialize)]
pub struct ScenarioResult {
    /// The test's name.
    pub name: String,
    /// The file it is declared in.
    pub file: String,
    /// The line of its `[[tests]]` header.
    pub line: usize,
    /// No mismatch.
    pub passed: bool,
    /// What did not hold.
    pub failures: Vec<Mismatch>,
    /// Why the case was where it was after the intake and after each step (with
    /// `explain`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub explanations: Vec<CaseExplanation>,
}

/// Why a case is where it is, at one instant.
#[derive(Debug, Clone, Serialize)]
pub struct CaseExplanation {
    /// After what: `intake` or `step N (line L)`.
    pub after: String,
    /// The virtual clock.
    pub at: DateTime<Utc>,
    /// The stage.
    pub stage: String,
    /// The last routing decision, explained.
    pub route: Option<String>,
    /// Each clock, explained.
    pub clocks: Vec<Explanation>,
}

/// Runs one scenario; `explain` records a [`CaseExplanation`] after every step.
pub fn run_scenario(policy: &Policy, scenario: &Scenario, explain: bool) -> ScenarioResult {
    let mut run = Run {
        vc: VirtualCase::new(policy, "scenario", true),
        failures: Vec::new(),
        explanations: Vec::new(),
        explain,
    };
    let spec = &scenario.spec;
    let received_at = spec.received_at.with_timezone(&Utc);
    let intake = CommandKind::Intake {
        received_at,
        data: to_data(&spec.data),
    };
    let refusal = run.vc.send(&Command::new(intake), received_at).err();
    let final_refusal = match spec.steps.is_empty() {
        true => refusal,
        false => {
            run.unexpected(refusal, scenario.line, None);
            run.explain("intake".to_string());
            for (i, step) in spec.steps.iter().enumerate() {
                run.step(i + 1, step);
            }
            None
        }
    };
    if let Some(expect) = &spec.expect {
        run.check(expect, final_refusal.as_ref(), None);
    } else {
        run.unexpected(final_refusal, scenario.line, None);
    }
    if spec.steps.is_empty() {
        run.explain("intake".to_string());
    }
    ScenarioResult {
        name: scenario.name.clone(),
        file: scenario.file.clone(),
        line: scenario.line,
        passed: run.failures.is_empty(),
        failures: run.failures,
        explanations: run.explanations,
    }
}

struct Run<'p> {
    vc: VirtualCase<'p>,
    failures: Vec<Mismatch>,
    explanations: Vec<CaseExplanation>,
    explain: bool,
}

impl Run<'_> {
    fn step(&mut self, n: usize, step: &Step) {
        let at = step.at.map_or(self.vc.now, |t| t.with_timezone(&Utc));
        let actor = Actor {
            id: step.actor.id.clone(),
            role: step.actor.role.clone(),
        };
        let kind = match &step.action {
            StepAction::Event { name, data } => CommandKind::Event {
                name: name.clone(),
                data: to_data(data),
            },
            StepAction::Set(fields) => CommandKind::Update {
                data: to_data(fields),
            },
            StepAction::Extend { sla, extension } => CommandKind::Extend {
                sla: sla.clone(),
                extension: extension.clone(),
            },
            StepAction::Advance(d) => return self.move_clock(n, step, advance(&self.vc, d)),
            StepAction::Until(t) => return self.move_clock(n, step, Ok(t.with_timezone(&Utc))),
        };
        let refusal = self.vc.send(&Command::new(kind).by(actor), at).err();
        match &step.expect {
            Some(expect) => self.check(expect, refusal.as_ref(), Some(n)),
            None => self.unexpected(refusal, step.line, Some(n)),
        }
        self.explain(format!("step {n} (line {})", step.line));
    }

    fn move_clock(&mut self, n: usize, step: &Step, to: Result<DateTime<Utc>, CalendarError>) {
        match to {
            Ok(to) => self.vc.advance_to(to),
            Err(e) => self.failures.push(Mismatch::new(
                step.line,
                Some(n),
                "clock",
                "a move the calendar can compute",
                &e.to_string(),
            )),
        }
        if let Some(expect) = &step.expect {
            self.check(expect, None, Some(n));
        }
        self.explain(format!("step {n} (line {})", step.line));
    }

    fn unexpected(&mut self, refusal: Option<Refusal>, line: usize, step: Option<usize>) {
        if let Some(r) = refusal {
            let actual = format!("refused `{}`: {r}", r.code());
            let m = Mismatch::new(line, step, "outcome", "accepted", &actual);
            self.failures.push(m);
        }
    }

    fn check(&mut self, expect: &Expect, refusal: Option<&Refusal>, step: Option<usize>) {
        let found = expect::compare(&self.vc, expect, refusal, step);
        self.failures.extend(found);
    }

    fn explain(&mut self, after: String) {
        if !self.explain {
            return;
        }
        let (case, policy) = (&self.vc.case, self.vc.policy());
        let route = self.vc.events.iter().rev().find_map(|e| match &e.kind {
            EventKind::Routed { reason, .. } => Some(reason.clone()),
            _ => None,
        });
        let clocks = case
            .clocks
            .iter()
            .filter_map(|(name, clock)| {
                let sla = policy.slas().get(name)?;
                let cal = policy.calendar_of(sla);
                clock.explain(&sla.rule, cal).ok()
            })
            .collect();
        self.explanations.push(CaseExplanation {
            after,
            at: self.vc.now,
            stage: case.stage.clone(),
            route,
            clocks,
        });
    }
}

/// Field values as the JSON a command carries.
pub fn to_data(fields: &Fields) -> Data {
    fields
        .iter()
        .filter_map(|(k, v)| Some((k.clone(), serde_json::to_value(v).ok()?)))
        .collect()
}

/// Where `advance` by `d` moves the clock.
fn advance(vc: &VirtualCase<'_>, d: &SlaDuration) -> Result<DateTime<Utc>, CalendarError> {
    let cal: &Calendar = vc.policy().default_calendar();
    let now = vc.now;
    let local = now.with_timezone(&cal.timezone());
    let same_time_on = |date| cal.local_instant(date, local.time());
    let days = |n: u64| -> Result<DateTime<Utc>, CalendarError> {
        let date = local.date_naive().checked_add_days(Days::new(n));
        same_time_on(date.unwrap_or(local.date_naive()))
    };
    match *d {
        SlaDuration::Minutes(n) => Ok(now + TimeDelta::minutes(i64::from(n))),
        SlaDuration::Hours(n) => Ok(now + TimeDelta::hours(i64::from(n))),
        SlaDuration::Days(n) => days(u64::from(n)),
        SlaDuration::Weeks(n) => days(7 * u64::from(n)),
        SlaDuration::Months(n) => {
            let date = local.date_naive().checked_add_months(Months::new(n));
            same_time_on(date.unwrap_or(local.date_naive()))
        }
        SlaDuration::BusinessMinutes(n) => {
            cal.add_business_time(now, TimeDelta::minutes(i64::from(n)))
        }
        SlaDuration::BusinessHours(n) => cal.add_business_time(now, TimeDelta::hours(i64::from(n))),
        SlaDuration::BusinessDays(n) => same_time_on(cal.nth_working_day(local.date_naive(), n)?),
    }
}
