//! [`Undo`]: what folding events into a case in place changed, so that the case can
//! be put back exactly as it was. The runtime decides a command on the case itself
//! and puts it back on a refusal, instead of deciding on a copy: copying the case's
//! maps for every command cost more than the rare refusal does.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::{Case, Event, EventKind};
use crate::sla::SlaClock;
use crate::value::{Fields, Value};

/// What events folded into a case changed, recorded before each is folded.
#[derive(Debug, Default)]
pub(crate) struct Undo {
    /// Everything but the maps, as before the first event.
    scalars: Option<Scalars>,
    /// Map entries as before each event, oldest first.
    entries: Vec<Entry>,
}

#[derive(Debug)]
struct Scalars {
    id: String,
    policy: Arc<str>,
    version: u64,
    stage: String,
    stage_since: DateTime<Utc>,
    received_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    queue: Option<String>,
    priority: Option<i64>,
    assignee: Option<String>,
    tags: Vec<String>,
    reopen_count: u32,
    closed: bool,
}

#[derive(Debug)]
enum Entry {
    Key(String, Option<(u64, u64)>),
    Entered(String, Option<DateTime<Utc>>),
    Clock(String, Option<SlaClock>),
    Field(String, Option<Value>),
    Fields(Arc<Fields>),
}

impl Undo {
    /// Records what folding `event` into `case` (with [`super::apply`]) changes.
    pub(crate) fn record(&mut self, case: &Case, event: &Event) {
        if self.scalars.is_none() {
            self.scalars = Some(Scalars::of(case));
        }
        if let Some(key) = &event.key {
            let before = case.keys.get(key).copied();
            self.entries.push(Entry::Key(key.clone(), before));
        }
        match &event.kind {
            EventKind::Received { stage, .. } => {
                self.entries.push(Entry::Fields(case.fields.clone()));
                self.entered(case, stage);
            }
            EventKind::Moved { to, .. } => self.entered(case, to),
            EventKind::FieldsSet { fields, .. } => {
                for name in fields.keys() {
                    let before = case.fields.get(name).cloned();
                    self.entries.push(Entry::Field(name.clone(), before));
                }
            }
            EventKind::Clock { sla, .. }
            | EventKind::Warned { sla, .. }
            | EventKind::Breached { sla, .. } => {
                // The oldest copy of a clock is the one to put back.
                let seen = self
                    .entries
                    .iter()
                    .any(|e| matches!(e, Entry::Clock(s, _) if s == sla));
                if !seen {
                    let before = case.clocks.get(sla).cloned();
                    self.entries.push(Entry::Clock(sla.clone(), before));
                }
            }
            EventKind::Routed { .. }
            | EventKind::Assigned { .. }
            | EventKind::Tagged { .. }
            | EventKind::Noted { .. }
            | EventKind::Notified { .. }
            | EventKind::Escalated { .. }
            | EventKind::Withdrawn => {}
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
                Entry::Clock(sla, before) => put(Arc::make_mut(&mut case.clocks), sla, before),
                Entry::Field(name, before) => put(Arc::make_mut(&mut case.fields), name, before),
                Entry::Fields(fields) => case.fields = fields,
            }
        }
        if let Some(s) = self.scalars {
            case.id = s.id;
            case.policy = s.policy;
            case.version = s.version;
            case.stage = s.stage;
            case.stage_since = s.stage_since;
            case.received_at = s.received_at;
            case.updated_at = s.updated_at;
            case.queue = s.queue;
            case.priority = s.priority;
            case.assignee = s.assignee;
            case.tags = s.tags;
            case.reopen_count = s.reopen_count;
            case.closed = s.closed;
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

impl Scalars {
    fn of(case: &Case) -> Self {
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
        Scalars {
            id: id.clone(),
            policy: policy.clone(),
            version: *version,
            stage: stage.clone(),
            stage_since: *stage_since,
            received_at: *received_at,
            updated_at: *updated_at,
            queue: queue.clone(),
            priority: *priority,
            assignee: assignee.clone(),
            tags: tags.clone(),
            reopen_count: *reopen_count,
            closed: *closed,
        }
    }
}
