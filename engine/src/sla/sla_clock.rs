//! [`SlaClock`]: one SLA's clock on one case, as plain data that lives in the case
//! snapshot, with the arithmetic that reads it.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use super::{Attention, ClockState, ExplainedExtension, Explanation, SlaError, SlaRule};
use crate::calendar::{Calendar, CalendarError, Deadline, SlaDuration};

/// A pause of a run; `to` is `None` while it lasts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pause {
    /// When the clock paused.
    pub from: DateTime<Utc>,
    /// When it resumed (or stopped).
    pub to: Option<DateTime<Utc>>,
}

/// An extension of a run's target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Extension {
    /// When it was granted.
    pub at: DateTime<Utc>,
    /// The new, longer target.
    pub target: SlaDuration,
    /// Why (the complainant must be told).
    pub reason: String,
    /// Who granted it.
    pub granted_by: Option<String>,
}

/// One run of a clock, from a start to a stop. A reopened case starts a new run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Run {
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// Its pauses, in order; only the last may be open.
    pub pauses: Vec<Pause>,
    /// When it stopped.
    pub stopped_at: Option<DateTime<Utc>>,
    /// Its extensions, in order.
    pub extensions: Vec<Extension>,
    /// Warnings and breaches already fired.
    pub fired: Vec<Attention>,
}

impl Run {
    fn open_pause(&self) -> Option<DateTime<Utc>> {
        self.pauses
            .last()
            .filter(|p| p.to.is_none())
            .map(|p| p.from)
    }

    /// Closed pauses, and the open one closed at `open_until` when given.
    fn closed_pauses(
        &self,
        open_until: Option<DateTime<Utc>>,
    ) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
        self.pauses
            .iter()
            .filter_map(|p| p.to.or(open_until).map(|to| (p.from, to)))
            .collect()
    }

    fn last_event(&self) -> DateTime<Utc> {
        let pause = self.pauses.last().map(|p| p.to.unwrap_or(p.from));
        let extension = self.extensions.last().map(|e| e.at);
        [Some(self.started_at), pause, extension, self.stopped_at]
            .into_iter()
            .flatten()
            .max()
            .unwrap_or(self.started_at)
    }
}

/// A run's deadline and the pauses that moved it.
struct Planned {
    deadline: Deadline,
    /// The pauses that counted.
    pauses: Vec<(DateTime<Utc>, DateTime<Utc>)>,
    /// The start of the first pause that began at or after the deadline, if any.
    late_pause: Option<DateTime<Utc>>,
}

impl Planned {
    /// True when the run is paused now by a pause that counts.
    fn paused_now(&self, run: &Run) -> bool {
        run.open_pause().is_some() && self.late_pause.is_none()
    }
}

/// One SLA's clock on one case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlaClock {
    rule: String,
    runs: Vec<Run>,
}

impl SlaClock {
    /// A clock for the named rule, not started.
    pub fn new(rule_name: impl Into<String>) -> Self {
        SlaClock {
            rule: rule_name.into(),
            runs: Vec::new(),
        }
    }

    /// The rule's name.
    pub fn rule_name(&self) -> &str {
        &self.rule
    }

    /// Every run, oldest first.
    pub fn runs(&self) -> &[Run] {
        &self.runs
    }

    fn current(&self) -> Option<&Run> {
        self.runs.last()
    }

    /// The current run if it is running or paused, checking that `at` is not before
    /// its last event.
    fn live(&mut self, at: DateTime<Utc>) -> Result<&mut Run, SlaError> {
        let rule = self.rule.clone();
        let run = self.runs.last_mut().filter(|r| r.stopped_at.is_none());
        let run = run.ok_or_else(|| SlaError::NotRunning(rule.clone()))?;
        let last = run.last_event();
        match at < last {
            true => Err(SlaError::BeforeLastEvent { rule, at, last }),
            false => Ok(run),
        }
    }

    /// Starts the clock, or re-starts a stopped one (a reopened case) as a new run.
    pub fn start(&mut self, at: DateTime<Utc>) -> Result<(), SlaError> {
        if let Some(run) = self.current() {
            let last = run.last_event();
            if run.stopped_at.is_none() {
                return Err(SlaError::AlreadyRunning(self.rule.clone()));
            }
            if at < last {
                return Err(SlaError::BeforeLastEvent {
                    rule: self.rule.clone(),
                    at,
                    last,
                });
            }
        }
        let run = Run {
            started_at: at,
            pauses: vec![],
            stopped_at: None,
            extensions: vec![],
            fired: vec![],
        };
        // Exact growth: a clock lives in a case for as long as the case is kept, and
        // most never get a second run (nor a second pause, extension or warning).
        self.runs.reserve_exact(1);
        self.runs.push(run);
        Ok(())
    }

    /// Pauses a running clock.
    pub fn pause(&mut self, at: DateTime<Utc>) -> Result<(), SlaError> {
        let rule = self.rule.clone();
        let run = self.live(at)?;
        if run.open_pause().is_some() {
            return Err(SlaError::NotRunning(rule));
        }
        run.pauses.reserve_exact(1);
        run.pauses.push(Pause { from: at, to: None });
        Ok(())
    }

    /// Resumes a paused clock.
    pub fn resume(&mut self, at: DateTime<Utc>) -> Result<(), SlaError> {
        let rule = self.rule.clone();
        let pause = self.live(at)?.pauses.last_mut().filter(|p| p.to.is_none());
        let pause = pause.ok_or(SlaError::NotPaused(rule))?;
        pause.to = Some(at);
        Ok(())
    }

    /// Stops a running or paused clock (a paused one's pause ends at `at`).
    pub fn stop(&mut self, at: DateTime<Utc>) -> Result<(), SlaError> {
        let run = self.live(at)?;
        if let Some(pause) = run.pauses.last_mut().filter(|p| p.to.is_none()) {
            pause.to = Some(at);
        }
        run.stopped_at = Some(at);
        Ok(())
    }

    /// Records an extension of a running or paused clock to a longer target.
    pub fn extend(
        &mut self,
        to: SlaDuration,
        at: DateTime<Utc>,
        reason: String,
        granted_by: Option<String>,
    ) -> Result<(), SlaError> {
        let run = self.live(at)?;
        run.extensions.reserve_exact(1);
        run.extensions.push(Extension {
            at,
            target: to,
            reason,
            granted_by,
        });
        Ok(())
    }

    /// Records that an attention was fired, so that it is not fired twice.
    pub fn mark_fired(&mut self, attention: Attention) {
        if let Some(run) = self.runs.last_mut() {
            if !run.fired.contains(&attention) {
                run.fired.reserve_exact(1);
                run.fired.push(attention);
            }
        }
    }

    /// The target in force: the rule's, or the last extension that gave a later
    /// deadline than the target before it (compared from the run's start, without
    /// pauses). An extension can never bring a deadline forward.
    pub fn target(&self, rule: &SlaRule, cal: &Calendar) -> Result<SlaDuration, CalendarError> {
        Ok(self.explained_extensions(rule, cal)?.1)
    }

    fn explained_extensions(
        &self,
        rule: &SlaRule,
        cal: &Calendar,
    ) -> Result<(Vec<ExplainedExtension>, SlaDuration), CalendarError> {
        let mut target = rule.target;
        let mut out = Vec::new();
        let Some(run) = self.current().filter(|r| !r.extensions.is_empty()) else {
            return Ok((out, target));
        };
        let ends = |t: &SlaDuration| cal.deadline_with(run.started_at, t, rule.options(), &[]);
        let mut end = ends(&target)?.at;
        for e in &run.extensions {
            let extended = ends(&e.target)?.at;
            let applied = extended > end;
            if applied {
                (target, end) = (e.target, extended);
            }
            let (reason, granted_by) = (e.reason.clone(), e.granted_by.clone());
            let at = e.at;
            out.push(ExplainedExtension {
                at,
                target: e.target,
                reason,
                granted_by,
                applied,
            });
        }
        Ok((out, target))
    }

    /// The current run's deadline with its open pause (if any) closed at `open_until`.
    ///
    /// A pause that begins at or after the deadline in force does not move it (a
    /// breach stays a breach); neither do the pauses after it.
    fn plan(
        &self,
        run: &Run,
        rule: &SlaRule,
        cal: &Calendar,
        open_until: Option<DateTime<Utc>>,
    ) -> Result<Planned, CalendarError> {
        let mut pauses = run.closed_pauses(open_until);
        let (target, options) = (self.target(rule, cal)?, rule.options());
        let mut deadline = cal.deadline_with(run.started_at, &target, options, &[])?;
        for counted in 0..pauses.len() {
            if pauses[counted].0 >= deadline.at {
                let late = pauses.split_off(counted).first().map(|p| p.0);
                return Ok(Planned {
                    deadline,
                    pauses,
                    late_pause: late,
                });
            }
            deadline = cal.deadline_with(run.started_at, &target, options, &pauses[..=counted])?;
        }
        Ok(Planned {
            deadline,
            pauses,
            late_pause: None,
        })
    }

    /// The deadline; `None` when not started, or paused now by a pause that counts
    /// (the deadline moves until the clock resumes).
    pub fn deadline(
        &self,
        rule: &SlaRule,
        cal: &Calendar,
    ) -> Result<Option<DateTime<Utc>>, CalendarError> {
        let Some(run) = self.current() else {
            return Ok(None);
        };
        let planned = self.plan(run, rule, cal, run.open_pause())?;
        match planned.paused_now(run) {
            true => Ok(None),
            false => Ok(Some(planned.deadline.at)),
        }
    }

    /// Where the clock stands at `now`.
    pub fn state(
        &self,
        rule: &SlaRule,
        cal: &Calendar,
        now: DateTime<Utc>,
    ) -> Result<ClockState, CalendarError> {
        let Some(run) = self.current() else {
            return Ok(ClockState::NotStarted);
        };
        let planned = self.plan(run, rule, cal, run.open_pause())?;
        let deadline = planned.deadline.at;
        Ok(match run.stopped_at {
            Some(stop) if stop < deadline => ClockState::Met,
            Some(_) => ClockState::Missed,
            None if planned.paused_now(run) => ClockState::Paused,
            None if now < deadline => ClockState::Running,
            None => ClockState::Breached,
        })
    }

    /// The time left at `now` (negative once breached); `None` when not started or
    /// stopped. While paused it is frozen at its value when the pause began.
    pub fn remaining(
        &self,
        rule: &SlaRule,
        cal: &Calendar,
        now: DateTime<Utc>,
    ) -> Result<Option<TimeDelta>, CalendarError> {
        let Some(run) = self.current().filter(|r| r.stopped_at.is_none()) else {
            return Ok(None);
        };
        let planned = self.plan(run, rule, cal, run.open_pause())?;
        let at = match planned.paused_now(run) {
            true => run.open_pause().unwrap_or(now),
            false => now,
        };
        Ok(Some(planned.deadline.at - at))
    }

    /// The next instant at which a running clock needs attention: the earliest
    /// unfired warning, else the breach if not fired. `None` when not started,
    /// stopped, or paused by a pause that counts.
    pub fn next_attention(
        &self,
        rule: &SlaRule,
        cal: &Calendar,
    ) -> Result<Option<(DateTime<Utc>, Attention)>, CalendarError> {
        let Some(run) = self.current().filter(|r| r.stopped_at.is_none()) else {
            return Ok(None);
        };
        let planned = self.plan(run, rule, cal, run.open_pause())?;
        if planned.paused_now(run) {
            return Ok(None);
        }
        let plan = planned.deadline;
        let span = plan.at - plan.effective_start;
        let mut warnings: Vec<u8> = rule
            .warn
            .iter()
            .copied()
            .filter(|p| (1..=99).contains(p))
            .collect();
        warnings.sort_unstable();
        let next = warnings
            .into_iter()
            .map(Attention::Warning)
            .chain([Attention::Breach])
            .find(|a| !run.fired.contains(a));
        Ok(next.map(|attention| match attention {
            Attention::Warning(p) => (plan.effective_start + span * i32::from(p) / 100, attention),
            Attention::Breach => (plan.at, attention),
        }))
    }

    /// Why the deadline is what it is: the rules applied, the extensions, and the
    /// intervals of the current run that counted, were paused or were skipped.
    pub fn explain(&self, rule: &SlaRule, cal: &Calendar) -> Result<Explanation, CalendarError> {
        let (extensions, target) = self.explained_extensions(rule, cal)?;
        let mut out = Explanation {
            rule: rule.name.clone(),
            calendar: cal.name().to_owned(),
            timezone: cal.timezone().name().to_owned(),
            target: None,
            started_at: None,
            stopped_at: None,
            paused_since: None,
            deadline: None,
            rules: Vec::new(),
            extensions,
            intervals: Vec::new(),
            earlier_runs: self
                .runs
                .iter()
                .rev()
                .skip(1)
                .rev()
                .map(|r| (r.started_at, r.stopped_at))
                .collect(),
        };
        let Some(run) = self.current() else {
            return Ok(out);
        };
        let planned = self.plan(run, rule, cal, run.open_pause())?;
        let open = run.open_pause().filter(|_| planned.paused_now(run));
        let plan = &planned.deadline;
        let until = open.or(run.stopped_at).unwrap_or(plan.at);
        out.intervals = cal.timeline(plan, until, &planned.pauses)?;
        out.rules = cal.rules(plan);
        if let Some(late) = planned.late_pause {
            let line = format!(
                "the pause from {late} began at or after the deadline: it does not move it"
            );
            out.rules.push(line);
        }
        if let Some(since) = open {
            let line = format!("paused since {since}: the deadline moves when the clock resumes");
            out.rules.push(line);
        }
        (out.target, out.started_at, out.stopped_at) =
            (Some(target), Some(run.started_at), run.stopped_at);
        (out.paused_since, out.deadline) = (open, Some(plan.at));
        Ok(out)
    }
}
