//! [`VirtualCase`]: one case on a virtual clock. Moving the clock fires the timers
//! that fall due on the way, in time order; sending a command first moves the clock
//! to the command's instant. Used by scenario tests, replay and simulation.

use std::collections::BTreeMap;
use std::sync::{Arc, Weak};

use chrono::{DateTime, Utc};

use super::timers::{after_guarded, earliest, next_after_timer, next_clock_timer_with};
use super::{CalendarDays, Command, CommandKind, How, Refusal, Timer, drafted, folded};
use crate::case::{Case, Event};
use crate::policy::Policy;
use crate::sla::{Extension, Pause, RunningSpan, SlaClock};

/// Timers fired in a row without the clock moving, at most: a guard against a
/// policy whose timers keep each other due.
const MAX_TIMERS_PER_MOVE: usize = 10_000;

/// Counts of what happened to a case.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    /// Commands accepted (timers excluded).
    pub accepted: u64,
    /// Commands refused, by code.
    pub refused: BTreeMap<&'static str, u64>,
    /// Timers fired.
    pub timers: u64,
    /// Events recorded.
    pub events: u64,
}

/// A case, its virtual clock, and (optionally) its events.
#[derive(Debug, Clone)]
pub struct VirtualCase<'p> {
    policy: &'p Policy,
    /// The case as its events made it.
    pub case: Case,
    /// The virtual clock.
    pub now: DateTime<Utc>,
    /// Every event, when kept.
    pub events: Vec<Event>,
    /// What happened so far.
    pub counts: Counts,
    keep_events: bool,
    /// `next_due` of the case at a version, once computed (it changes only with
    /// events).
    next: Option<(u64, Due)>,
    /// The policy's default calendar as scripts see it, for every command.
    calendar: Arc<CalendarDays>,
    /// What `next_due` kept for an open case (boxed: most cases a replay holds are
    /// closed, and it is dropped then).
    kept: Option<Box<Kept>>,
}

#[derive(Debug, Clone, Default)]
struct Kept {
    /// The earliest clock timer, for the clocks map it was computed on. Clocks are
    /// copied on write, so the same map means the same clocks; the weak pointer keeps
    /// the address from being reused (not the map: a case holds one map only).
    clock_timer: Option<ClockTimer>,
    /// The earliest `after` timer for a stage entered at an instant (kept only when
    /// no `after` transition has a guard, so that nothing else matters).
    after_timer: Option<AfterTimer>,
    /// Per SLA (by position in the policy), the running span of its clock's current
    /// run, for the run's start, pauses and extensions it was computed on.
    spans: Vec<Option<Span>>,
}

#[derive(Debug, Clone)]
struct Span {
    started_at: DateTime<Utc>,
    pauses: Vec<Pause>,
    extensions: Vec<Extension>,
    span: Option<RunningSpan>,
}

type Due = Option<(DateTime<Utc>, Timer)>;

#[derive(Debug, Clone)]
struct ClockTimer {
    clocks: Weak<BTreeMap<String, SlaClock>>,
    due: Due,
}

#[derive(Debug, Clone)]
struct AfterTimer {
    stage: String,
    since: DateTime<Utc>,
    due: Due,
}

impl<'p> VirtualCase<'p> {
    /// A case not yet taken in; `keep_events` keeps its events in [`Self::events`].
    pub fn new(policy: &'p Policy, id: &str, keep_events: bool) -> Self {
        VirtualCase {
            policy,
            case: Case::new(id),
            now: DateTime::<Utc>::MIN_UTC,
            events: Vec::new(),
            counts: Counts::default(),
            keep_events,
            next: None,
            kept: None,
            calendar: Arc::new(CalendarDays(policy.default_calendar().clone())),
        }
    }

    /// The policy it runs on.
    pub fn policy(&self) -> &'p Policy {
        self.policy
    }

    /// When the case's next timer falls due, if it has one.
    pub fn next_due_at(&mut self) -> Option<DateTime<Utc>> {
        let next = match self.next.take() {
            Some((version, next)) if version == self.case.version => next,
            _ => self.next_due(),
        };
        let at = next.as_ref().map(|(at, _)| *at);
        self.next = Some((self.case.version, next));
        at
    }

    /// Moves the clock to `until`, firing every timer due on the way in time order.
    /// A clock already past `until` stays where it is.
    pub fn advance_to(&mut self, until: DateTime<Utc>) {
        self.fire_due_by(until);
        self.now = self.now.max(until);
    }

    /// Fires every timer due by `until` in time order, the clock moving only to each
    /// one's instant (not on to `until`, which a later [`Self::advance_to`] may reach:
    /// the timers fired are the same either way).
    pub fn fire_due_by(&mut self, until: DateTime<Utc>) {
        for _ in 0..MAX_TIMERS_PER_MOVE {
            let next = match self.next.take() {
                Some((version, next)) if version == self.case.version => next,
                _ => self.next_due(),
            };
            let Some((at, timer)) = next else {
                self.next = Some((self.case.version, None));
                break;
            };
            if at > until {
                self.next = Some((self.case.version, Some((at, timer))));
                break;
            }
            let now = at.max(self.now);
            let command = Command::new(CommandKind::Fire(timer));
            if self.run(&command, now, true).is_err() {
                break;
            }
            self.now = now;
            self.counts.timers += 1;
        }
    }

    /// Moves the clock to `at` (firing timers), then decides and applies `command`;
    /// returns how many events it recorded (none for a repeated idempotency key).
    pub fn send(&mut self, command: &Command, at: DateTime<Utc>) -> Result<usize, Refusal> {
        if self.case.is_received() {
            self.advance_to(at);
        } else {
            self.now = self.now.max(at);
        }
        match self.run(command, self.now, false) {
            Ok(n) => {
                self.counts.accepted += 1;
                Ok(n)
            }
            Err(refusal) => {
                *self
                    .counts
                    .refused
                    .entry(refusal.code().as_str())
                    .or_default() += 1;
                Err(refusal)
            }
        }
    }

    /// [`super::next_due`] of the case, reusing what its clocks or stage did not
    /// change.
    fn next_due(&mut self) -> Due {
        let (case, policy) = (&self.case, self.policy);
        if !case.is_received() || case.closed {
            self.forget_timers();
            return None;
        }
        let kept = self.kept.get_or_insert_with(Box::default);
        let same_clocks =
            |c: &ClockTimer| std::ptr::eq(c.clocks.as_ptr(), Arc::as_ptr(&case.clocks));
        if !kept.clock_timer.as_ref().is_some_and(same_clocks) {
            let spans = &mut kept.spans;
            let due = next_clock_timer_with(case, policy, |i, clock, sla| {
                let Some(run) = clock.runs().last().filter(|r| r.stopped_at.is_none()) else {
                    return Ok(None);
                };
                if spans.len() <= i {
                    // One slot per SLA, allocated once at its size (growing
                    // slot by slot would double it).
                    let slots = policy.slas().len().max(i + 1);
                    spans.reserve_exact(slots - spans.len());
                    spans.resize(slots, None);
                }
                let kept = spans[i].as_ref().filter(|s| {
                    s.started_at == run.started_at
                        && s.pauses == run.pauses
                        && s.extensions == run.extensions
                });
                if let Some(kept) = kept {
                    return Ok(kept.span);
                }
                let span = clock.running_span(&sla.rule, policy.calendar_of(sla))?;
                spans[i] = Some(Span {
                    started_at: run.started_at,
                    pauses: run.pauses.clone(),
                    extensions: run.extensions.clone(),
                    span,
                });
                Ok(span)
            });
            kept.clock_timer = Some(ClockTimer {
                clocks: Arc::downgrade(&case.clocks),
                due,
            });
        }
        let same_stage = |a: &AfterTimer| a.since == case.stage_since && a.stage == case.stage;
        let unkept;
        let after = match &kept.after_timer {
            Some(a) if same_stage(a) => &a.due,
            _ if after_guarded(policy) => {
                unkept = next_after_timer(case, policy);
                &unkept
            }
            _ => {
                let due = next_after_timer(case, policy);
                let after = kept.after_timer.insert(AfterTimer {
                    stage: case.stage.clone(),
                    since: case.stage_since,
                    due,
                });
                &after.due
            }
        };
        let clock = kept.clock_timer.as_ref().and_then(|c| c.due.as_ref());
        // Only the timer that is due first is copied out of what is kept.
        earliest(clock, after.as_ref()).cloned()
    }

    /// Runs `command` on the case itself at `now` (`due_known` as in [`How`]),
    /// decided and kept when events are kept, else only folded in; records and
    /// returns how many events it made.
    fn run(
        &mut self,
        command: &Command,
        now: DateTime<Utc>,
        due_known: bool,
    ) -> Result<usize, Refusal> {
        let how = How {
            in_place: true,
            due_known,
            calendar: Some(&self.calendar),
        };
        let n = match self.keep_events {
            true => {
                let events = drafted(self.policy, &mut self.case, command, now, how)?.events;
                let n = events.len();
                self.events.extend(events);
                n
            }
            false => folded(self.policy, &mut self.case, command, now, how)?.events,
        };
        self.record(n);
        Ok(n)
    }

    fn forget_timers(&mut self) {
        self.kept = None;
    }

    /// Counts `n` events already folded into the case.
    fn record(&mut self, n: usize) {
        self.next = None;
        if self.case.closed {
            // Nothing is due on a closed case: what was kept for its timers can go.
            self.forget_timers();
        }
        self.counts.events += n as u64;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::runtime::simulate::{Profile, generate};

    /// A case whose events are only counted ends as one whose events are kept, with
    /// the same counts, and its next timer is always `next_due` of the case.
    #[test]
    fn counted_events_make_the_same_case_as_kept_ones() {
        let policy = crate::runtime::test_support::bank();
        let lines = generate(&policy, &Profile::default(), 300, 5, 1, &|_| {});
        let mut by_case: BTreeMap<String, Vec<_>> = BTreeMap::new();
        for line in lines {
            by_case.entry(line.case.clone()).or_default().push(line);
        }
        let mut last = DateTime::<Utc>::MIN_UTC;
        for (id, lines) in &by_case {
            let mut counted = VirtualCase::new(&policy, id, false);
            let mut kept = VirtualCase::new(&policy, id, true);
            for line in lines {
                let at = line.instant();
                last = last.max(at);
                let a = counted.send(&line.command(), at);
                let b = kept.send(&line.command(), at);
                assert_eq!(a, b);
                assert_eq!(counted.case, kept.case);
                assert_eq!(
                    counted.next_due(),
                    super::super::next_due(&counted.case, &policy)
                );
            }
            counted.advance_to(last);
            kept.advance_to(last);
            assert_eq!(counted.case, kept.case);
            assert_eq!(counted.counts, kept.counts);
            assert_eq!(kept.counts.events, kept.events.len() as u64);
            assert_eq!(kept.case, Case::from_events(id, &kept.events));
        }
    }
}
