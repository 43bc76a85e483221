//! A [`Case`] is the fold of its [`Event`]s: [`apply`] folds one event in. Folding
//! needs no policy, no script and no clock, so the same events always give the same
//! case; deciding what events a command produces is [`crate::runtime`]'s job.

pub mod event;
pub(crate) mod tagged;
pub(crate) mod undo;

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::script::CaseView;
use crate::sla::{Attention, SlaClock};
use crate::value::Fields;

pub use event::{Actor, Cause, ClockOp, Event, EventKind, MoveReason};

/// One complaint's state, as its events made it.
///
/// The maps are shared (`Arc`) and copied on write, so that cloning a case (which
/// every decision does, to try its events on a scratch copy) copies only what the
/// decision changes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Case {
    /// Its identifier.
    pub id: String,
    /// The hash of the policy version it started on (empty before intake).
    pub policy: Arc<str>,
    /// How many events it has: the version a command may expect.
    pub version: u64,
    /// The current stage (empty before intake).
    pub stage: String,
    /// When the current stage was entered.
    pub stage_since: DateTime<Utc>,
    /// When the complaint was received.
    pub received_at: DateTime<Utc>,
    /// The instant of the last event.
    pub updated_at: DateTime<Utc>,
    /// Field values.
    #[serde(with = "tagged::shared")]
    pub fields: Arc<Fields>,
    /// The queue it is routed to.
    pub queue: Option<String>,
    /// Its priority (1 is the most urgent).
    pub priority: Option<i64>,
    /// Who it is assigned to.
    pub assignee: Option<String>,
    /// Its tags, in the order added.
    pub tags: Vec<String>,
    /// How many times it was reopened.
    pub reopen_count: u32,
    /// For each stage entered, when it was last entered.
    pub stage_entered_at: Arc<BTreeMap<String, DateTime<Utc>>>,
    /// One clock per SLA that was ever started.
    pub clocks: Arc<BTreeMap<String, SlaClock>>,
    /// In a terminal stage, or withdrawn: no more transitions.
    pub closed: bool,
    /// Idempotency keys seen, with the versions of the first and last event their
    /// command produced.
    pub keys: Arc<BTreeMap<String, (u64, u64)>>,
}

impl Case {
    /// A case not yet taken in: version 0, waiting for its intake.
    pub fn new(id: impl Into<String>) -> Self {
        Case {
            id: id.into(),
            policy: Arc::from(""),
            version: 0,
            stage: String::new(),
            stage_since: DateTime::<Utc>::MIN_UTC,
            received_at: DateTime::<Utc>::MIN_UTC,
            updated_at: DateTime::<Utc>::MIN_UTC,
            fields: Arc::default(),
            queue: None,
            priority: None,
            assignee: None,
            tags: Vec::new(),
            reopen_count: 0,
            stage_entered_at: Arc::default(),
            clocks: Arc::default(),
            closed: false,
            keys: Arc::default(),
        }
    }

    /// Rebuilds a case from its events, oldest first.
    pub fn from_events<'a>(id: &str, events: impl IntoIterator<Item = &'a Event>) -> Self {
        let mut case = Case::new(id);
        for event in events {
            apply(&mut case, event);
        }
        case
    }

    /// Whether it has been taken in.
    pub fn is_received(&self) -> bool {
        self.version > 0
    }

    /// The read-only view scripts see.
    pub fn view(&self) -> CaseView<'_> {
        CaseView {
            fields: &self.fields,
            stage: &self.stage,
            queue: self.queue.as_deref(),
            priority: self.priority,
            received_at: self.received_at,
            tags: &self.tags,
            reopen_count: self.reopen_count,
            stage_entered_at: &self.stage_entered_at,
        }
    }
}

/// Folds one event into the case. Infallible: [`crate::runtime::decide`] only emits
/// events that fit the case they were decided on.
pub fn apply(case: &mut Case, event: &Event) {
    case.version = event.seq;
    case.updated_at = case.updated_at.max(event.at);
    if let Some(key) = &event.key {
        let keys = Arc::make_mut(&mut case.keys);
        match keys.get_mut(key) {
            Some(entry) => entry.1 = event.seq,
            None => {
                keys.insert(key.clone(), (event.seq, event.seq));
            }
        }
    }
    apply_kind(case, event);
}

/// [`apply`], moving the field values of a `Received` or `FieldsSet` event into the
/// case instead of copying them: the same case, and an event left without them
/// (for callers that only count their events).
pub(crate) fn apply_taking(case: &mut Case, event: &mut Event) {
    match &mut event.kind {
        EventKind::Received { fields, .. } => {
            let fields = std::mem::take(fields);
            apply(case, event);
            case.fields = Arc::new(fields);
        }
        EventKind::FieldsSet { fields, .. } => {
            let fields = std::mem::take(fields);
            apply(case, event);
            Arc::make_mut(&mut case.fields).extend(fields);
        }
        _ => apply(case, event),
    }
}

fn apply_kind(case: &mut Case, event: &Event) {
    match &event.kind {
        EventKind::Received {
            case: id,
            received_at,
            fields,
            stage,
        } => {
            case.id.clone_from(id);
            case.policy = event.policy.clone();
            case.received_at = *received_at;
            case.fields = Arc::new(fields.clone());
            enter(case, stage, *received_at);
        }
        EventKind::Routed {
            queue,
            priority,
            assignee,
            tags,
            ..
        } => {
            case.queue = Some(queue.clone());
            case.priority = priority.or(case.priority);
            if assignee.is_some() {
                case.assignee.clone_from(assignee);
            }
            tags.iter().for_each(|t| add_tag(case, t));
        }
        EventKind::Moved {
            to,
            reopens,
            closes,
            ..
        } => {
            case.reopen_count += u32::from(*reopens);
            case.closed = *closes;
            enter(case, to, event.at);
        }
        EventKind::FieldsSet { fields, .. } => {
            let into = Arc::make_mut(&mut case.fields);
            fields.iter().for_each(|(k, v)| {
                into.insert(k.clone(), v.clone());
            });
        }
        EventKind::Assigned { assignee } => case.assignee = Some(assignee.clone()),
        EventKind::Tagged { tag, .. } => add_tag(case, tag),
        EventKind::Noted { .. } | EventKind::Notified { .. } => {}
        EventKind::Clock { sla, op, on, .. } => apply_clock(case, sla, op, *on),
        EventKind::Warned { sla, percent } => mark(case, sla, Attention::Warning(*percent)),
        EventKind::Breached { sla, .. } => mark(case, sla, Attention::Breach),
        EventKind::Escalated {
            queue, priority, ..
        } => {
            if queue.is_some() {
                case.queue.clone_from(queue);
            }
            case.priority = priority.or(case.priority);
        }
        EventKind::Withdrawn => case.closed = true,
    }
}

/// Puts the case in `stage` from `at`.
fn enter(case: &mut Case, stage: &str, at: DateTime<Utc>) {
    if case.stage != stage {
        case.stage.clear();
        case.stage.push_str(stage);
    }
    case.stage_since = at;
    let entered = Arc::make_mut(&mut case.stage_entered_at);
    match entered.get_mut(stage) {
        Some(since) => *since = at,
        None => {
            entered.insert(stage.to_string(), at);
        }
    }
}

fn add_tag(case: &mut Case, tag: &str) {
    if !case.tags.iter().any(|t| t == tag) {
        case.tags.reserve_exact(1);
        case.tags.push(tag.to_string());
    }
}

fn mark(case: &mut Case, sla: &str, attention: Attention) {
    if let Some(clock) = Arc::make_mut(&mut case.clocks).get_mut(sla) {
        clock.mark_fired(attention);
    }
}

fn apply_clock(case: &mut Case, sla: &str, op: &ClockOp, on: DateTime<Utc>) {
    let clocks = Arc::make_mut(&mut case.clocks);
    if !clocks.contains_key(sla) {
        clocks.insert(sla.to_string(), SlaClock::new(sla));
    }
    let Some(clock) = clocks.get_mut(sla) else {
        return;
    };
    // INVARIANT: `decide` emits only operations that fit the clock's state, so these
    // cannot fail on events it produced; a hand-made event that does not fit is ignored.
    let _ = match op {
        ClockOp::Start => clock.start(on),
        ClockOp::Pause => clock.pause(on),
        ClockOp::Resume => clock.resume(on),
        ClockOp::Stop => clock.stop(on),
        ClockOp::Withdraw => clock.withdraw(on),
        ClockOp::Extend {
            target,
            reason,
            granted_by,
            ..
        } => clock.extend(*target, on, reason.clone(), granted_by.clone()),
    };
}
