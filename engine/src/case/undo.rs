//! [`Undo`]: what folding events into a case in place changed, so that the case can
//! be put back exactly as it was. The runtime decides a command on the case itself
//! and puts it back on a refusal, instead of deciding on a copy: copying the case's
//! maps for every command cost more than the rare refusal does.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::{Case, Event, EventKind};
use crate::sla::sla_clock::ClockMark;
use crate::value::{Fields, Value};

/// What events folded into a case changed, recorded before each is folded.
#[derive(Debug, Default)]
pub(crate) struct Undo {
    /// The fields other than maps, each as before the first event that changed it.
    scalars: Scalars,
    /// Map entries as before each event, oldest first.
    entries: Vec<Entry>,
}

#[derive(Debug, Default)]
struct Scalars {
    /// `version` and `updated_at`.
    version: Option<(u64, DateTime<Utc>)>,
    /// `id`, `policy` and `received_at`.
    received: Option<(String, Arc<str>, DateTime<Utc>)>,
    /// `stage` and `stage_since`.
    stage: Option<(String, DateTime<Utc>)>,
    /// `queue`, `priority` and `assignee`.
    route: Option<(Option<String>, Option<i64>, Option<String>)>,
    /// How many tags (events only add tags).
    tags: Option<usize>,
    reopen_count: Option<u32>,
    closed: Option<bool>,
}

#[derive(Debug)]
enum Entry {
    Key(String, Option<(u64, u64)>),
    Entered(String, Option<DateTime<Utc>>),
    Clock(String, Option<ClockMark>),
    Field(String, Option<Value>),
    Fields(Arc<Fields>),
}

impl Undo {
    /// Records what folding `event` into `case` (with [`super::apply`]) changes.
    pub(crate) fn record(&mut self, case: &Case, event: &Event) {
        let saved = &mut self.scalars;
        saved.version.get_or_insert((case.version, case.updated_at));
        if let Some(key) = &event.key {
            let before = case.keys.get(key).copied();
            self.entries.push(Entry::Key(key.clone(), before));
        }
        let route = |saved: &mut Scalars| {
            saved
                .route
                .get_or_insert_with(|| (case.queue.clone(), case.priority, case.assignee.clone()));
        };
        let stage = |saved: &mut Scalars| {
            saved
                .stage
                .get_or_insert_with(|| (case.stage.clone(), case.stage_since));
        };
        match &event.kind {
            EventKind::Received { stage: to, .. } => {
                saved.received.get_or_insert_with(|| {
                    (case.id.clone(), case.policy.clone(), case.received_at)
                });
                stage(saved);
                self.entries.push(Entry::Fields(case.fields.clone()));
                self.entered(case, to);
            }
            EventKind::Routed { .. } => {
                route(saved);
                saved.tags.get_or_insert(case.tags.len());
            }
            EventKind::Moved { to, .. } => {
                saved.reopen_count.get_or_insert(case.reopen_count);
                saved.closed.get_or_insert(case.closed);
                stage(saved);
                self.entered(case, to);
            }
            EventKind::FieldsSet { fields, .. } => {
                for name in fields.keys() {
                    let before = case.fields.get(name).cloned();
                    self.entries.push(Entry::Field(name.clone(), before));
                }
            }
            EventKind::Assigned { .. } | EventKind::Escalated { .. } => route(saved),
            EventKind::Tagged { .. } => {
                saved.tags.get_or_insert(case.tags.len());
            }
            EventKind::Withdrawn => {
                saved.closed.get_or_insert(case.closed);
            }
            EventKind::Clock { sla, .. }
            | EventKind::Warned { sla, .. }
            | EventKind::Breached { sla, .. } => {
                // The oldest mark of a clock is the one to put back.
                let seen = self
                    .entries
                    .iter()
                    .any(|e| matches!(e, Entry::Clock(s, _) if s == sla));
                if !seen {
                    let before = case.clocks.get(sla).map(|c| c.mark());
                    self.entries.push(Entry::Clock(sla.clone(), before));
                }
            }
            EventKind::Noted { .. } | EventKind::Notified { .. } => {}
            EventKind::Migrated { clocks, .. } => {
                saved.received.get_or_insert_with(|| {
                    (case.id.clone(), case.policy.clone(), case.received_at)
                });
                stage(saved);
                for c in clocks {
                    let before = case.clocks.get(&c.sla).map(|c| c.mark());
                    self.entries.push(Entry::Clock(c.sla.clone(), before));
                }
            }
        }
    }

    fn entered(&mut self, case: &Case, stage: &str) {
        let before = case.stage_entered_at.get(stage).copied();
        self.entries.push(Entry::Entered(stage.to_string(), before));
    }

    /// Puts `case` back as it was before the first event recorded.
    pub(crate) fn restore(self, case: &mut Case) {
        for entry in self.entries.into_iter().rev() {
            match entry {
                Entry::Key(key, before) => put(Arc::make_mut(&mut case.keys), key, before),
                Entry::Entered(stage, before) => {
                    put(Arc::make_mut(&mut case.stage_entered_at), stage, before);
                }
                Entry::Clock(sla, before) => {
                    let clocks = Arc::make_mut(&mut case.clocks);
                    match (before, clocks.get_mut(&sla)) {
                        (Some(mark), Some(clock)) => clock.reset(mark),
                        (None, _) => {
                            clocks.remove(&sla);
                        }
                        // A clock is never removed by an event: nothing to put back.
                        (Some(_), None) => {}
                    }
                }
                Entry::Field(name, before) => put(Arc::make_mut(&mut case.fields), name, before),
                Entry::Fields(fields) => case.fields = fields,
            }
        }
        // Destructured so that a new field of `Case` cannot be forgotten here.
        let Case {
            id,
            policy,
            version,
            stage,
            stage_since,
            received_at,
            updated_at,
            fields: _,
            queue,
            priority,
            assignee,
            tags,
            reopen_count,
            stage_entered_at: _,
            clocks: _,
            closed,
            keys: _,
        } = case;
        let saved = self.scalars;
        if let Some(before) = saved.version {
            (*version, *updated_at) = before;
        }
        if let Some(before) = saved.received {
            (*id, *policy, *received_at) = before;
        }
        if let Some(before) = saved.stage {
            (*stage, *stage_since) = before;
        }
        if let Some(before) = saved.route {
            (*queue, *priority, *assignee) = before;
        }
        if let Some(before) = saved.tags {
            tags.truncate(before);
        }
        if let Some(before) = saved.reopen_count {
            *reopen_count = before;
        }
        if let Some(before) = saved.closed {
            *closed = before;
        }
    }
}

fn put<V>(map: &mut std::collections::BTreeMap<String, V>, key: String, value: Option<V>) {
    match value {
        Some(v) => {
            map.insert(key, v);
        }
        None => {
            map.remove(&key);
        }
    }
}
