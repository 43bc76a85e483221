//! How cases, events and policies look in the API: JSON, with personal fields
//! masked for callers who may not see them.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use redress_engine::case::{Case, Event, EventKind};
use redress_engine::policy::Policy;
use redress_engine::runtime::{CalendarDays, next_due};
use redress_engine::script::EvalContext;
use redress_engine::value::Fields;
use redress_store::StoredEvent;
use serde_json::{Map, Value, json};

use crate::config::Caller;
use crate::slot::Slot;

/// What a masked personal field shows.
pub const MASK: &str = "***";

/// Field values as JSON; personal ones masked unless the caller may see them.
pub fn fields(policy: &Policy, fields: &Fields, caller: &Caller) -> Value {
    let mut out = Map::new();
    for (name, value) in fields {
        let personal = policy.fields().get(name).is_some_and(|f| f.personal);
        let shown = match personal && !caller.personal_data {
            true => json!(MASK),
            false => serde_json::to_value(value).unwrap_or(Value::Null),
        };
        out.insert(name.clone(), shown);
    }
    Value::Object(out)
}

/// A duration for people: `3d 4h 5m`, negative with a leading `-`.
fn human(seconds: i64) -> String {
    let sign = if seconds < 0 { "-" } else { "" };
    let s = seconds.unsigned_abs();
    let (d, h, m) = (s / 86_400, s % 86_400 / 3_600, s % 3_600 / 60);
    match (d, h) {
        (0, 0) => format!("{sign}{m}m"),
        (0, _) => format!("{sign}{h}h {m}m"),
        _ => format!("{sign}{d}d {h}h {m}m"),
    }
}

/// Every SLA of the policy, in its order: state, deadline, time left, warnings and
/// breach fired, and the explanation of the deadline.
fn clocks(policy: &Policy, case: &Case, now: DateTime<Utc>) -> Value {
    let mut out = Vec::new();
    for (name, sla) in policy.slas() {
        let calendar = policy.calendar_of(sla);
        let Some(clock) = case.clocks.get(name) else {
            out.push(json!({
                "sla": name,
                "target": sla.rule.target.to_string(),
                "state": "not-started",
            }));
            continue;
        };
        let state = clock.state(&sla.rule, calendar, now).ok();
        let deadline = clock.deadline(&sla.rule, calendar).ok().flatten();
        let remaining = clock
            .remaining(&sla.rule, calendar, now)
            .ok()
            .flatten()
            .map(|d| d.num_seconds());
        let fired = clock
            .runs()
            .last()
            .map(|r| r.fired.clone())
            .unwrap_or_default();
        let explanation = clock.explain(&sla.rule, calendar).ok();
        out.push(json!({
            "sla": name,
            "target": clock.target(&sla.rule, calendar).map(|t| t.to_string()).ok(),
            "state": state,
            "deadline": deadline,
            "remaining_seconds": remaining,
            "remaining": remaining.map(human),
            "fired": fired,
            "calendar": sla.calendar,
            "regulation": sla.regulation,
            "explanation": explanation,
        }));
    }
    Value::Array(out)
}

/// The events the case may take next from its stage, and for each whether the
/// caller may send it now: its role, and its condition evaluated on the case.
fn next_events(policy: &Policy, case: &Case, caller: &Caller, now: DateTime<Utc>) -> Value {
    if case.closed {
        return json!([]);
    }
    let ctx = EvalContext {
        now,
        calendar: Arc::new(CalendarDays(policy.default_calendar().clone())),
    };
    let mut out = Vec::new();
    for t in policy.transitions() {
        if !t.from.contains(&case.stage) || t.automatic || t.after.is_some() {
            continue;
        }
        let role_ok = t.roles.is_empty() || t.roles.contains(&caller.role);
        let guard = t.guard.as_ref().map(|g| {
            let holds = g
                .eval(policy.scripts(), &case.view(), &ctx)
                .unwrap_or(false);
            json!({ "condition": g.source(), "holds": holds })
        });
        let guard_ok = guard
            .as_ref()
            .is_none_or(|g| g["holds"].as_bool().unwrap_or(false));
        let missing: Vec<&str> = t
            .requires
            .iter()
            .filter(|f| !case.fields.contains_key(*f))
            .map(String::as_str)
            .collect();
        out.push(json!({
            "event": t.event,
            "to": t.to,
            "roles": t.roles,
            "guard": guard,
            "requires": t.requires,
            "missing": missing,
            "allowed": role_ok && guard_ok && !caller.read_only,
        }));
    }
    Value::Array(out)
}

/// A case in short, for `Prefer: return=minimal`: no field data, no clocks.
pub fn case_summary(slot: &Slot) -> Value {
    let case = &slot.case;
    json!({
        "id": case.id,
        "version": case.version,
        "stage": case.stage,
        "closed": case.closed,
        "queue": case.queue,
        "priority": case.priority,
        "clock_state": slot.summary.clock_state,
        "next_due": slot.summary.next_due,
    })
}

/// A case for a caller.
pub fn case(slot: &Slot, caller: &Caller, now: DateTime<Utc>) -> Value {
    let (case, policy) = (&slot.case, &slot.policy);
    let due = next_due(case, policy).map(|(at, timer)| json!({ "at": at, "timer": timer }));
    json!({
        "id": case.id,
        "version": case.version,
        "policy": {
            "id": policy.id(),
            "name": policy.name(),
            "version": policy.version(),
            "hash": policy.hash(),
        },
        "stage": case.stage,
        "stage_label": policy.stages().get(&case.stage).and_then(|s| s.label.clone()),
        "stage_since": case.stage_since,
        "closed": case.closed,
        "queue": case.queue,
        "priority": case.priority,
        "assignee": case.assignee,
        "tags": case.tags,
        "reopen_count": case.reopen_count,
        "received_at": case.received_at,
        "updated_at": case.updated_at,
        "clock_state": slot.summary.clock_state,
        "data": fields(policy, &case.fields, caller),
        "clocks": clocks(policy, case, now),
        "next_due": due,
        "next_events": next_events(policy, case, caller, now),
    })
}

/// An event for a caller: personal field values masked.
pub fn event(policy: &Policy, event: &Event, caller: &Caller) -> Value {
    let mut value = serde_json::to_value(event).unwrap_or(Value::Null);
    let masked = match &event.kind {
        EventKind::Received { fields: f, .. } | EventKind::FieldsSet { fields: f, .. } => {
            Some(fields(policy, f, caller))
        }
        _ => None,
    };
    if let (Some(masked), Some(kind)) = (masked, value.get_mut("kind")) {
        kind["fields"] = masked;
    }
    value
}

/// A stored event for a caller, with when it was written.
pub fn stored_event(policy: &Policy, stored: &StoredEvent, caller: &Caller) -> Value {
    let mut value = event(policy, &stored.event, caller);
    value["recorded_at"] = json!(stored.recorded_at);
    value
}

/// A policy in a list.
pub fn policy_summary(policy: &Policy) -> Value {
    json!({
        "id": policy.id(),
        "name": policy.name(),
        "version": policy.version(),
        "hash": policy.hash(),
        "timezone": policy.timezone().name(),
        "regulation": policy.regulation(),
    })
}

/// A policy in full: what a client needs to build a form and show a procedure.
pub fn policy_detail(policy: &Policy) -> Value {
    let mut out = policy_summary(policy);
    out["description"] = json!(policy.description());
    out["roles"] = json!(policy.roles());
    out["queues"] = json!(policy.queues());
    out["fields"] = Value::Array(
        policy
            .fields()
            .values()
            .map(|f| {
                json!({
                    "name": f.name,
                    "type": f.kind,
                    "required": f.required,
                    "values": f.values,
                    "personal": f.personal,
                    "label": f.label,
                })
            })
            .collect(),
    );
    out["stages"] = Value::Array(
        policy
            .stages()
            .values()
            .map(|s| json!({ "name": s.name, "label": s.label, "start": s.start, "terminal": s.terminal }))
            .collect(),
    );
    out["transitions"] = Value::Array(
        policy
            .transitions()
            .iter()
            .map(|t| {
                json!({
                    "event": t.event,
                    "from": t.from,
                    "to": t.to,
                    "roles": t.roles,
                    "guard": t.guard.as_ref().map(|g| g.source()),
                    "requires": t.requires,
                    "after": t.after.as_ref().map(|a| a.to_string()),
                    "automatic": t.automatic,
                })
            })
            .collect(),
    );
    out["slas"] = Value::Array(
        policy
            .slas()
            .values()
            .map(|s| {
                json!({
                    "name": s.name,
                    "target": s.rule.target.to_string(),
                    "warn": s.rule.warn,
                    "calendar": s.calendar,
                    "regulation": s.regulation,
                })
            })
            .collect(),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::human;

    #[test]
    fn durations_read_as_people_write_them() {
        for (seconds, text) in [
            (59, "0m"),
            (60, "1m"),
            (3_660, "1h 1m"),
            (90_061, "1d 1h 1m"),
            (-3_600, "-1h 0m"),
        ] {
            assert_eq!(human(seconds), text);
        }
    }
}
