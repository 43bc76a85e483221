//! An event as the API (and a webhook) shows it: the engine's [`Event`], its field
//! values plain rather than tagged with their type as stored, and personal ones
//! masked for callers who may not see them.

use chrono::{DateTime, Utc};
use redress_engine::case::{Actor, Event, EventKind};
use redress_engine::policy::Policy;
use redress_store::StoredEvent;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::config::Caller;

/// One change to a case, as a caller may see it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Event)]
pub struct EventView {
    /// The case version after this event: 1 for the intake, then one more per event.
    pub seq: u64,
    /// When it happened (a timer's event: when the timer was due).
    #[serde(serialize_with = "redress_engine::instant::serialize")]
    pub at: DateTime<Utc>,
    /// The hash of the policy version that produced it.
    pub policy: String,
    /// Who caused it; absent for the runtime's own timers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor: Option<Actor>,
    /// The idempotency key of the command that produced it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// What happened: the engine's event kind, field values plain and masked.
    #[schema(value_type = EventKind)]
    pub kind: Value,
}

/// An event as stored, with when it was written.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = StoredEvent)]
pub struct StoredEventView {
    /// The case version after this event.
    pub seq: u64,
    /// When it happened.
    #[serde(serialize_with = "redress_engine::instant::serialize")]
    pub at: DateTime<Utc>,
    /// The hash of the policy version that produced it.
    pub policy: String,
    /// Who caused it; absent for the runtime's own timers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor: Option<Actor>,
    /// The idempotency key of the command that produced it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// What happened.
    #[schema(value_type = EventKind)]
    pub kind: Value,
    /// When the store wrote it (wall clock).
    #[serde(serialize_with = "redress_engine::instant::serialize")]
    pub recorded_at: DateTime<Utc>,
}

/// The kind's JSON with its field values plain and masked for the caller.
fn kind(policy: &Policy, event: &Event, caller: &Caller) -> Value {
    let mut value = serde_json::to_value(&event.kind).unwrap_or(Value::Null);
    let fields = match &event.kind {
        EventKind::Received { fields, .. } | EventKind::FieldsSet { fields, .. } => fields,
        _ => return value,
    };
    let shown = super::fields(policy, fields, caller);
    if let (Ok(shown), Some(slot)) = (serde_json::to_value(shown), value.get_mut("fields")) {
        *slot = shown;
    }
    value
}

/// An event for a caller: personal field values masked.
pub fn event(policy: &Policy, event: &Event, caller: &Caller) -> EventView {
    EventView {
        seq: event.seq,
        at: event.at,
        policy: event.policy.to_string(),
        actor: event.actor.clone(),
        key: event.key.clone(),
        kind: kind(policy, event, caller),
    }
}

/// A stored event for a caller, with when it was written.
pub fn stored_event(policy: &Policy, stored: &StoredEvent, caller: &Caller) -> StoredEventView {
    let e = &stored.event;
    StoredEventView {
        seq: e.seq,
        at: e.at,
        policy: e.policy.to_string(),
        actor: e.actor.clone(),
        key: e.key.clone(),
        kind: kind(policy, e, caller),
        recorded_at: stored.recorded_at,
    }
}
