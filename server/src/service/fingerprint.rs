//! Request fingerprints: the SHA-256 of a request in a canonical form (object keys
//! sorted), kept with its idempotency key, so that a key reused with a different
//! request is refused rather than answered with the first request's outcome.

use redress_engine::runtime::CommandKind;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::Intake;

/// JSON text with every object's keys sorted, so that the same request sent with
/// its fields in another order has the same fingerprint.
fn canonical(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            let inner: Vec<String> = entries
                .into_iter()
                .map(|(k, v)| format!("{}:{}", Value::String(k.clone()), canonical(v)))
                .collect();
            format!("{{{}}}", inner.join(","))
        }
        Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(canonical).collect();
            format!("[{}]", inner.join(","))
        }
        other => other.to_string(),
    }
}

fn digest(value: &Value) -> String {
    Sha256::digest(canonical(value).as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The fingerprint of an intake: policy, data, receipt and case id as sent.
pub fn of_intake(intake: &Intake) -> String {
    digest(&json!({
        "intake": {
            "policy": intake.policy,
            "data": intake.data,
            "received_at": intake.received_at,
            "id": intake.id,
        }
    }))
}

/// The fingerprint of a command on a case.
pub fn of_command(case: &str, kind: &CommandKind) -> String {
    let command = match kind {
        CommandKind::Event { name, data } => json!({ "event": name, "data": data }),
        CommandKind::Note { text } => json!({ "note": text }),
        CommandKind::Assign { assignee } => json!({ "assign": assignee }),
        CommandKind::Update { data } => json!({ "update": data }),
        CommandKind::Extend { sla, extension } => json!({ "extend": sla, "extension": extension }),
        CommandKind::Withdraw => json!({ "withdraw": true }),
        CommandKind::Intake { received_at, data } => {
            json!({ "intake": { "received_at": received_at, "data": data } })
        }
        CommandKind::Fire(timer) => json!({ "fire": timer.to_string() }),
    };
    digest(&json!({ "case": case, "command": command }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_order_of_fields_does_not_change_a_fingerprint_and_their_values_do() {
        let data =
            |text: &str| -> redress_engine::runtime::Data { serde_json::from_str(text).unwrap() };
        let event = |text: &str| CommandKind::Event {
            name: "resolve".into(),
            data: data(text),
        };
        let a = of_command("C-1", &event(r#"{"a": 1, "b": {"x": 1, "y": 2}}"#));
        let b = of_command("C-1", &event(r#"{"b": {"y": 2, "x": 1}, "a": 1}"#));
        let c = of_command("C-1", &event(r#"{"a": 2, "b": {"x": 1, "y": 2}}"#));
        let d = of_command("C-2", &event(r#"{"a": 1, "b": {"x": 1, "y": 2}}"#));
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, d);
        let note = of_command("C-1", &CommandKind::Note { text: "x".into() });
        assert_ne!(note, of_command("C-1", &CommandKind::Withdraw));
    }
}
