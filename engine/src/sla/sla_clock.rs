//! [`SlaClock`]: one SLA's clock on one case, as plain data that lives in the case
//! snapshot, with the arithmetic that reads it.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use super::{Attention, ClockState, ExplainedExtension, Explanation, SlaError, SlaRule};
use crate::calendar::explain::local;
use crate::calendar::{Calendar, CalendarError, Deadline, Provisional, SlaDuration};

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
    /// Stopped by the complainant's withdrawal ([`ClockState::Withdrawn`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub withdrawn: bool,
    /// A deadline kept by a migration to another policy version: the run's outcome
    /// was settled (met, missed, breached) before it, so it stays.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kept_deadline: Option<DateTime<Utc>>,
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

/// A running clock's (effective) start and deadline: see [`SlaClock::running_span`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunningSpan {
    /// The run's start after the after-hours option.
    pub start: DateTime<Utc>,
    /// Its deadline.
    pub deadline: DateTime<Utc>,
}

/// Where a clock stood: see [`SlaClock::mark`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ClockMark {
    runs: usize,
    last: Option<RunMark>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RunMark {
    pauses: usize,
    last_pause_to: Option<Option<DateTime<Utc>>>,
    stopped_at: Option<DateTime<Utc>>,
    extensions: usize,
    fired: usize,
    withdrawn: bool,
    kept_deadline: Option<DateTime<Utc>>,
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
        // The rule's name is copied only into an error: every clock operation of
        // every event passes here.
        let Some(run) = self.runs.last_mut().filter(|r| r.stopped_at.is_none()) else {
            return Err(SlaError::NotRunning(self.rule.clone()));
        };
        let last = run.last_event();
        match at < last {
            true => Err(SlaError::BeforeLastEvent {
                rule: self.rule.clone(),
                at,
                last,
            }),
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
            withdrawn: false,
            kept_deadline: None,
        };
        // Exact growth: a clock lives in a case for as long as the case is kept, and
        // most never get a second run (nor a second pause, extension or warning).
        self.runs.reserve_exact(1);
        self.runs.push(run);
        Ok(())
    }

    /// Pauses a running clock.
    pub fn pause(&mut self, at: DateTime<Utc>) -> Result<(), SlaError> {
        let run = self.live(at)?;
        if run.open_pause().is_some() {
            return Err(SlaError::NotRunning(self.rule.clone()));
        }
        run.pauses.reserve_exact(1);
        run.pauses.push(Pause { from: at, to: None });
        Ok(())
    }

    /// Resumes a paused clock.
    pub fn resume(&mut self, at: DateTime<Utc>) -> Result<(), SlaError> {
        let pause = self.live(at)?.pauses.last_mut().filter(|p| p.to.is_none());
        match pause {
            Some(pause) => {
                pause.to = Some(at);
                Ok(())
            }
            None => Err(SlaError::NotPaused(self.rule.clone())),
        }
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

    /// Stops a running or paused clock because the complainant withdrew: it ends in
    /// [`ClockState::Withdrawn`].
    pub fn withdraw(&mut self, at: DateTime<Utc>) -> Result<(), SlaError> {
        self.stop(at)?;
        if let Some(run) = self.runs.last_mut() {
            run.withdrawn = true;
        }
        Ok(())
    }

    /// Keeps the current run's deadline at `at` whatever a calendar says (a
    /// migration of a settled clock).
    pub fn keep_deadline(&mut self, at: DateTime<Utc>) {
        if let Some(run) = self.runs.last_mut() {
            run.kept_deadline = Some(at);
        }
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

    /// Where the clock stands, to put it back there with [`Self::reset`].
    pub(crate) fn mark(&self) -> ClockMark {
        ClockMark {
            runs: self.runs.len(),
            last: self.runs.last().map(|r| RunMark {
                pauses: r.pauses.len(),
                last_pause_to: r.pauses.last().map(|p| p.to),
                stopped_at: r.stopped_at,
                extensions: r.extensions.len(),
                fired: r.fired.len(),
                withdrawn: r.withdrawn,
                kept_deadline: r.kept_deadline,
            }),
        }
    }

    /// Puts the clock back where it stood at `mark`, taken from this clock before
    /// any operations since. Every operation only adds a run, or changes the last run
    /// by adding a pause, an extension or a fired attention, or by closing its last
    /// pause or the run itself; so lengths and those two instants are all it takes.
    pub(crate) fn reset(&mut self, mark: ClockMark) {
        self.runs.truncate(mark.runs);
        if let (Some(m), Some(run)) = (mark.last, self.runs.last_mut()) {
            run.pauses.truncate(m.pauses);
            if let (Some(to), Some(pause)) = (m.last_pause_to, run.pauses.last_mut()) {
                pause.to = to;
            }
            run.stopped_at = m.stopped_at;
            run.extensions.truncate(m.extensions);
            run.fired.truncate(m.fired);
            run.withdrawn = m.withdrawn;
            run.kept_deadline = m.kept_deadline;
        }
    }

    /// Records that an attention was fired, so that it is not fired twice.
    pub fn mark_fired(&mut self, attention: Attention) {
        if let Some(run) = self.runs.last_mut()
            && !run.fired.contains(&attention)
        {
            run.fired.reserve_exact(1);
            run.fired.push(attention);
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
        if let Some(kept) = run.kept_deadline {
            // A settled outcome: the deadline it was settled against, no pause moves it.
            (deadline.at, deadline.provisional) = (kept, None);
            return Ok(Planned {
                deadline,
                pauses: Vec::new(),
                late_pause: run.open_pause(),
            });
        }
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

    /// Why the current run's deadline is provisional, when it is: it counted a day
    /// beyond the calendar's data, or of data marked provisional.
    pub fn provisional(
        &self,
        rule: &SlaRule,
        cal: &Calendar,
    ) -> Result<Option<Provisional>, CalendarError> {
        let Some(run) = self.current() else {
            return Ok(None);
        };
        Ok(self
            .plan(run, rule, cal, run.open_pause())?
            .deadline
            .provisional)
    }

    /// Where the clock stands at `now`.
    pub fn state(
        &self,
        rule: &SlaRule,
        cal: &Calendar,
        now: DateTime<Utc>,
    ) -> Result<ClockState, CalendarError> {
        Ok(self.deadline_and_state(rule, cal, now)?.1)
    }

    /// [`Self::deadline`] and [`Self::state`] at `now` together, the deadline
    /// worked out once (as a report takes both of every clock).
    pub fn deadline_and_state(
        &self,
        rule: &SlaRule,
        cal: &Calendar,
        now: DateTime<Utc>,
    ) -> Result<(Option<DateTime<Utc>>, ClockState), CalendarError> {
        let Some(run) = self.current() else {
            return Ok((None, ClockState::NotStarted));
        };
        let planned = self.plan(run, rule, cal, run.open_pause())?;
        let deadline = planned.deadline.at;
        let paused = planned.paused_now(run);
        let state = match run.stopped_at {
            Some(_) if run.withdrawn => ClockState::Withdrawn,
            Some(stop) if stop < deadline => ClockState::Met,
            Some(_) => ClockState::Missed,
            None if paused => ClockState::Paused,
            None if now < deadline => ClockState::Running,
            None => ClockState::Breached,
        };
        Ok(((!paused).then_some(deadline), state))
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
        let span = self.running_span(rule, cal)?;
        Ok(span.and_then(|span| self.next_attention_in(rule, span)))
    }

    /// The part of [`Self::next_attention`] that needs the calendar: the current
    /// run's (effective) start and deadline, `None` when not started, stopped, or
    /// paused by a pause that counts. Depends on the rule, the calendar and the
    /// run's start, pauses and extensions alone (not on the warnings fired), so a
    /// caller may keep it while those stay the same.
    pub fn running_span(
        &self,
        rule: &SlaRule,
        cal: &Calendar,
    ) -> Result<Option<RunningSpan>, CalendarError> {
        let Some(run) = self.current().filter(|r| r.stopped_at.is_none()) else {
            return Ok(None);
        };
        let planned = self.plan(run, rule, cal, run.open_pause())?;
        if planned.paused_now(run) {
            return Ok(None);
        }
        Ok(Some(RunningSpan {
            start: planned.deadline.effective_start,
            deadline: planned.deadline.at,
        }))
    }

    /// [`Self::next_attention`] of a running clock, given its [`Self::running_span`].
    pub fn next_attention_in(
        &self,
        rule: &SlaRule,
        span: RunningSpan,
    ) -> Option<(DateTime<Utc>, Attention)> {
        let run = self.current()?;
        // The smallest warning not yet fired, else the breach if not fired.
        let warning = rule
            .warn
            .iter()
            .copied()
            .filter(|p| (1..=99).contains(p) && !run.fired.contains(&Attention::Warning(*p)))
            .min();
        let next = match warning {
            Some(p) => Attention::Warning(p),
            None if !run.fired.contains(&Attention::Breach) => Attention::Breach,
            None => return None,
        };
        Some(match next {
            Attention::Warning(p) => {
                let length = span.deadline - span.start;
                (span.start + length * i32::from(p) / 100, next)
            }
            Attention::Breach => (span.deadline, next),
        })
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
            provisional: None,
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
                "the pause from {} began at or after the deadline: it does not move it",
                local(cal, late)
            );
            out.rules.push(line);
        }
        if let Some(since) = open {
            let line = format!(
                "paused since {}: the deadline moves when the clock resumes",
                local(cal, since)
            );
            out.rules.push(line);
        }
        if let Some(p) = &plan.provisional {
            out.rules.push(format!("provisional: {}", p.reason));
            out.provisional = Some(p.reason.clone());
        }
        (out.target, out.started_at, out.stopped_at) =
            (Some(target), Some(run.started_at), run.stopped_at);
        (out.paused_since, out.deadline) = (open, Some(plan.at));
        Ok(out)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn t(hour: i64) -> DateTime<Utc> {
        DateTime::<Utc>::UNIX_EPOCH + TimeDelta::hours(hour)
    }

    /// Every operation after a mark is undone by a reset to it, whatever the clock's
    /// state at the mark.
    #[test]
    fn reset_puts_back_whatever_was_done_since_the_mark() {
        type Op = fn(&mut SlaClock, DateTime<Utc>);
        let ops: [(&str, Op); 7] = [
            ("start", |c, at| drop(c.start(at))),
            ("pause", |c, at| drop(c.pause(at))),
            ("resume", |c, at| drop(c.resume(at))),
            ("stop", |c, at| drop(c.stop(at))),
            ("extend", |c, at| {
                drop(c.extend(SlaDuration::Days(30), at, "why".into(), None))
            }),
            ("warn", |c, _| c.mark_fired(Attention::Warning(50))),
            ("breach", |c, _| c.mark_fired(Attention::Breach)),
        ];
        // Every sequence of up to 4 operations to reach a state, then up to 3 more.
        let n = ops.len();
        for before in 0..n.pow(4) {
            let mut clock = SlaClock::new("decision");
            let mut hour = 0;
            let mut k = before;
            for _ in 0..4 {
                hour += 1;
                ops[k % n].1(&mut clock, t(hour));
                k /= n;
            }
            let mark = clock.mark();
            let kept = clock.clone();
            for after in 0..n.pow(3) {
                let mut changed = clock.clone();
                let (mut k, mut h) = (after, hour);
                for _ in 0..3 {
                    h += 1;
                    ops[k % n].1(&mut changed, t(h));
                    k /= n;
                }
                changed.reset(mark);
                assert_eq!(changed, kept, "{before} then {after}");
            }
        }
    }
}
