//! Comparing a case with a scenario's expectation.

use chrono::{DateTime, FixedOffset, Utc};
use serde::Serialize;

use crate::case::EventKind;
use crate::policy::scenario::Expect;
use crate::runtime::{Refusal, VirtualCase};
use crate::sla::ClockState;

/// One expectation that did not hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mismatch {
    /// The line of the expectation (or step) in the test's file.
    pub line: usize,
    /// The step (from 1); `None` for the test's final `expect`.
    pub step: Option<usize>,
    /// What was compared: `stage`, `queue`, `clock.decision`, `refused` ...
    pub what: String,
    /// What the test expects.
    pub expected: String,
    /// What the case has.
    pub actual: String,
}

impl Mismatch {
    pub(super) fn new(
        line: usize,
        step: Option<usize>,
        what: &str,
        expected: &str,
        actual: &str,
    ) -> Self {
        Mismatch {
            line,
            step,
            what: what.to_string(),
            expected: expected.to_string(),
            actual: actual.to_string(),
        }
    }
}

struct Checker<'a> {
    line: usize,
    step: Option<usize>,
    out: &'a mut Vec<Mismatch>,
}

impl Checker<'_> {
    fn eq(&mut self, what: &str, expected: String, actual: String) {
        if expected != actual {
            let m = Mismatch::new(self.line, self.step, what, &expected, &actual);
            self.out.push(m);
        }
    }
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(|| "(none)".to_string(), |v| v.to_string())
}

fn list(items: &[String]) -> String {
    format!("[{}]", items.join(", "))
}

/// Every mismatch between the case and `expect`; `refusal` is the step's outcome.
pub(super) fn compare(
    vc: &VirtualCase<'_>,
    expect: &Expect,
    refusal: Option<&Refusal>,
    step: Option<usize>,
) -> Vec<Mismatch> {
    let mut out = Vec::new();
    let mut c = Checker {
        line: expect.line,
        step,
        out: &mut out,
    };
    let actual_refusal = refusal.map(|r| format!("refused `{}`: {r}", r.code()));
    match (&expect.refused, refusal) {
        (Some(code), Some(r)) => c.eq("refused", code.clone(), r.code().to_string()),
        (Some(code), None) => c.eq("refused", code.clone(), "accepted".into()),
        (None, Some(_)) => c.eq("outcome", "accepted".into(), opt(actual_refusal)),
        (None, None) => {}
    }
    let case = &vc.case;
    if let Some(stage) = &expect.stage {
        c.eq("stage", stage.clone(), case.stage.clone());
    }
    if let Some(queue) = &expect.queue {
        c.eq("queue", queue.clone(), opt(case.queue.as_ref()));
    }
    if let Some(p) = expect.priority {
        c.eq("priority", p.to_string(), opt(case.priority));
    }
    if let Some(tags) = &expect.tags {
        let (mut want, mut have) = (tags.clone(), case.tags.clone());
        want.sort();
        have.sort();
        c.eq("tags", list(&want), list(&have));
    }
    clocks(vc, expect, &mut c);
    fired(vc, expect, &mut c);
    out
}

fn clocks(vc: &VirtualCase<'_>, expect: &Expect, c: &mut Checker<'_>) {
    let policy = vc.policy();
    for (name, want) in &expect.clock {
        let state = clock_state(vc, name);
        // `error` expects the calendar to fail, whatever its message.
        let state = match (want.as_str(), state.starts_with("error: ")) {
            ("error", true) => "error".to_string(),
            _ => state,
        };
        c.eq(&format!("clock.{name}"), want.clone(), state);
    }
    for (name, want) in &expect.provisional {
        let actual = policy.slas().get(name).and_then(|sla| {
            let cal = policy.calendar_of(sla);
            vc.case.clocks.get(name)?.provisional(&sla.rule, cal).ok()
        });
        let shown = match actual {
            Some(Some(p)) => format!("true ({})", p.reason),
            Some(None) => "false".to_string(),
            None => "(no deadline)".to_string(),
        };
        let matches = match *want {
            true => shown.starts_with("true"),
            false => shown == "false",
        };
        if !matches {
            c.eq(&format!("provisional.{name}"), want.to_string(), shown);
        }
    }
    for (name, want) in &expect.deadline {
        let actual = policy.slas().get(name).and_then(|sla| {
            let cal = policy.calendar_of(sla);
            vc.case.clocks.get(name)?.deadline(&sla.rule, cal).ok()?
        });
        let shown = actual.map(|t| in_offset(t, want.offset()));
        c.eq(
            &format!("deadline.{name}"),
            want.to_rfc3339(),
            opt(shown.map(|t| t.to_rfc3339())),
        );
    }
}

fn clock_state(vc: &VirtualCase<'_>, name: &str) -> String {
    let policy = vc.policy();
    let state = match (policy.slas().get(name), vc.case.clocks.get(name)) {
        (Some(sla), Some(clock)) => {
            let cal = policy.calendar_of(sla);
            clock
                .state(&sla.rule, cal, vc.now)
                .map_err(|e| e.to_string())
        }
        _ => Ok(ClockState::NotStarted),
    };
    match state {
        Ok(s) => serde_json::to_value(s)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default(),
        Err(e) => format!("error: {e}"),
    }
}

fn in_offset(t: DateTime<Utc>, offset: &FixedOffset) -> DateTime<FixedOffset> {
    t.with_timezone(offset)
}

fn fired(vc: &VirtualCase<'_>, expect: &Expect, c: &mut Checker<'_>) {
    let (mut notified, mut warnings, mut breaches) = (Vec::new(), Vec::new(), Vec::new());
    for e in &vc.events {
        match &e.kind {
            EventKind::Notified { to, .. } => notified.push(to.clone()),
            EventKind::Warned { sla, percent } => warnings.push(format!("{sla}@{percent}")),
            EventKind::Breached { sla, .. } => breaches.push(sla.clone()),
            _ => {}
        }
    }
    if let Some(want) = &expect.notified {
        c.eq("notified", list(want), list(&notified));
    }
    if let Some(want) = &expect.warnings {
        let want: Vec<String> = want
            .iter()
            .map(|w| w.trim_end_matches('%').into())
            .collect();
        c.eq("warnings", list(&want), list(&warnings));
    }
    if let Some(want) = &expect.breaches {
        c.eq("breaches", list(want), list(&breaches));
    }
}
