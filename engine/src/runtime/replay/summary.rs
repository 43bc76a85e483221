//! [`Summary`]: what a replay (or simulation) did, as JSON for people and tools.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::policy::Policy;
use crate::runtime::VirtualCase;
use crate::sla::ClockState;

/// Skipped lines listed in a summary, at most.
pub const MAX_LISTED_SKIPS: usize = 100;

/// What a replay did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    /// The policy replayed on.
    pub policy: PolicyInfo,
    /// Cases taken in.
    pub cases: u64,
    /// Cases by final stage.
    pub by_stage: BTreeMap<String, u64>,
    /// Cases by final queue.
    pub by_queue: BTreeMap<String, u64>,
    /// Events read, accepted and refused.
    pub events: EventCounts,
    /// Per SLA, how its clocks ended.
    pub slas: BTreeMap<String, SlaCounts>,
    /// Lines that could not be used.
    pub skipped: Skipped,
    /// The instant the virtual clock ran to: due timers fired up to it.
    pub until: Option<DateTime<Utc>>,
    /// Wall-clock seconds.
    pub elapsed_seconds: f64,
    /// Event lines used (`events.read`: accepted or refused, intakes included) per
    /// second of wall-clock time; timers fired are not counted.
    pub lines_per_second: f64,
    /// Wall-clock microseconds per event line used.
    pub microseconds_per_line: f64,
}

/// The policy a summary is about.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PolicyInfo {
    /// Its id.
    pub id: String,
    /// Its version label.
    pub version: String,
    /// Its hash.
    pub hash: String,
}

/// Events read, accepted and refused.
#[derive(Debug, Clone, Default, Serialize)]
pub struct EventCounts {
    /// Event lines used (accepted or refused).
    pub read: u64,
    /// Accepted.
    pub accepted: u64,
    /// Refused, by code.
    pub refused: BTreeMap<String, u64>,
    /// Timers the runtime fired (warnings, breaches, `after` transitions).
    pub timers: u64,
    /// Events recorded on cases.
    pub recorded: u64,
}

/// How one SLA's clocks ended.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SlaCounts {
    /// Stopped before the deadline.
    pub met: u64,
    /// Stopped at or after it.
    pub missed: u64,
    /// Still running, past it.
    pub breached: u64,
    /// Still running, before it.
    pub running: u64,
    /// Paused.
    pub paused: u64,
    /// Never started.
    pub not_started: u64,
    /// Stopped by a withdrawal.
    pub withdrawn: u64,
}

/// Lines skipped, with the first few.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Skipped {
    /// How many.
    pub count: u64,
    /// The first [`MAX_LISTED_SKIPS`], by line number.
    pub lines: Vec<SkippedLine>,
}

/// A line that could not be used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkippedLine {
    /// Its number, from 1.
    pub line: usize,
    /// Why.
    pub reason: String,
}

impl Summary {
    /// An empty summary about `policy`.
    pub fn new(policy: &Policy) -> Self {
        Summary {
            policy: PolicyInfo {
                id: policy.id().to_string(),
                version: policy.version().to_string(),
                hash: policy.hash().to_string(),
            },
            ..Summary::default()
        }
    }

    /// Records a skipped line; only the first [`MAX_LISTED_SKIPS`] are listed. Each
    /// partial summary sees its lines in order, so the first of each, merged, hold the
    /// first of all.
    pub fn skip(&mut self, line: usize, reason: String) {
        self.skipped.count += 1;
        if self.skipped.lines.len() < MAX_LISTED_SKIPS {
            self.skipped.lines.push(SkippedLine { line, reason });
        }
    }

    /// Adds one finished case.
    pub fn add_case(&mut self, vc: &VirtualCase<'_>) {
        let (case, policy) = (&vc.case, vc.policy());
        self.add_counts(vc);
        if !case.is_received() {
            return;
        }
        self.cases += 1;
        count(&mut self.by_stage, &case.stage);
        count(
            &mut self.by_queue,
            case.queue.as_deref().unwrap_or("(none)"),
        );
        for (name, sla) in policy.slas() {
            let cal = policy.calendar_of(sla);
            let state = match case.clocks.get(name) {
                Some(c) => c
                    .state(&sla.rule, cal, vc.now)
                    .unwrap_or(ClockState::Running),
                None => ClockState::NotStarted,
            };
            if !self.slas.contains_key(name) {
                self.slas.insert(name.clone(), SlaCounts::default());
            }
            let Some(counts) = self.slas.get_mut(name) else {
                continue;
            };
            *match state {
                ClockState::Met => &mut counts.met,
                ClockState::Missed => &mut counts.missed,
                ClockState::Breached => &mut counts.breached,
                ClockState::Running => &mut counts.running,
                ClockState::Paused => &mut counts.paused,
                ClockState::NotStarted => &mut counts.not_started,
                ClockState::Withdrawn => &mut counts.withdrawn,
            } += 1;
        }
    }

    fn add_counts(&mut self, vc: &VirtualCase<'_>) {
        let c = &vc.counts;
        self.events.accepted += c.accepted;
        self.events.timers += c.timers;
        self.events.recorded += c.events;
        for (code, n) in &c.refused {
            *self.events.refused.entry((*code).to_string()).or_default() += n;
        }
    }

    /// Adds another (partial) summary's counts into this one.
    pub fn merge(&mut self, other: Summary) {
        self.cases += other.cases;
        add_all(&mut self.by_stage, other.by_stage);
        add_all(&mut self.by_queue, other.by_queue);
        self.events.read += other.events.read;
        self.events.accepted += other.events.accepted;
        self.events.timers += other.events.timers;
        self.events.recorded += other.events.recorded;
        add_all(&mut self.events.refused, other.events.refused);
        for (name, c) in other.slas {
            let s = self.slas.entry(name).or_default();
            s.met += c.met;
            s.missed += c.missed;
            s.breached += c.breached;
            s.running += c.running;
            s.paused += c.paused;
            s.not_started += c.not_started;
            s.withdrawn += c.withdrawn;
        }
        self.skipped.count += other.skipped.count;
        self.skipped.lines.extend(other.skipped.lines);
    }

    /// Sorts and trims the skipped lines and sets the timing figures.
    pub fn finish(&mut self, elapsed_seconds: f64) {
        self.skipped.lines.sort_by_key(|s| s.line);
        self.skipped.lines.truncate(MAX_LISTED_SKIPS);
        self.elapsed_seconds = elapsed_seconds;
        let n = self.events.read as f64;
        if elapsed_seconds > 0.0 && n > 0.0 {
            self.lines_per_second = (n / elapsed_seconds).round();
            self.microseconds_per_line = (elapsed_seconds * 1e6 / n * 100.0).round() / 100.0;
        }
    }
}

/// Adds one to `key`'s count, copying the key only the first time.
fn count(counts: &mut BTreeMap<String, u64>, key: &str) {
    match counts.get_mut(key) {
        Some(n) => *n += 1,
        None => {
            counts.insert(key.to_string(), 1);
        }
    }
}

fn add_all(into: &mut BTreeMap<String, u64>, from: BTreeMap<String, u64>) {
    for (k, v) in from {
        *into.entry(k).or_default() += v;
    }
}
