//! Case data turned into what the console's templates show: times in the policy's
//! zone, clock states as a class and a word, time left in business days, the audit
//! trail in lines, form inputs typed from the policy's fields. Everything is read
//! from the API's view (`crate::view`), so that masking is the API's.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use redress_engine::policy::{FieldDef, FieldType, Policy};
use serde_json::Value;

use super::i18n::Texts;

/// An instant in a time zone, as people read it.
pub fn local(at: DateTime<Utc>, tz: Tz) -> String {
    at.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string()
}

/// An instant from the view's JSON, in a time zone; empty when there is none.
pub fn local_json(value: &Value, tz: Tz) -> String {
    value
        .as_str()
        .and_then(|s| s.parse::<DateTime<Utc>>().ok())
        .map(|at| local(at, tz))
        .unwrap_or_default()
}

/// A clock state (as the view and the store name them) as a CSS class and a word.
pub fn state(t: &'static Texts, name: &str) -> (&'static str, &'static str) {
    match name {
        "running" => ("running", t.state_running),
        "at-risk" => ("at-risk", t.state_at_risk),
        "breached" => ("breached", t.state_breached),
        "paused" => ("paused", t.state_paused),
        "met" => ("met", t.state_met),
        "missed" => ("missed", t.state_missed),
        "not-started" => ("none", t.state_not_started),
        _ => ("none", t.state_none),
    }
}

/// Time left until a deadline in business terms on the SLA's calendar: whole
/// business days when there is at least one, else hours (or minutes); overdue
/// the same way.
pub fn time_left(
    policy: &Policy,
    sla: &str,
    deadline: DateTime<Utc>,
    now: DateTime<Utc>,
    t: &'static Texts,
) -> String {
    let calendar = match policy.slas().get(sla) {
        Some(s) => policy.calendar_of(s),
        None => policy.default_calendar(),
    };
    let (early, late, over) = match deadline >= now {
        true => (now, deadline, false),
        false => (deadline, now, true),
    };
    let days = calendar.business_days_between(early, late).unwrap_or(0);
    let hours = (late - early).num_hours();
    match (over, days >= 1, hours >= 1) {
        (false, true, _) => Texts::count(t.days_left, days),
        (false, false, true) => Texts::count(t.hours_left, hours),
        (false, false, false) => match (late - early).num_minutes() {
            0 => t.under_a_minute_left.to_string(),
            minutes => Texts::count(t.minutes_left, minutes),
        },
        (true, true, _) => Texts::count(t.days_over, days),
        (true, false, _) => Texts::count(t.hours_over, hours.max(1)),
    }
}

/// One line of a clock's explanation.
pub struct Interval {
    /// CSS class: `counted`, `paused`, `skipped`.
    pub class: &'static str,
    /// The word for it.
    pub kind: &'static str,
    /// From, to, in the calendar's zone.
    pub from: String,
    /// The instant after its last, in the calendar's zone.
    pub to: String,
    /// Why (a holiday's name, `weekend`).
    pub reason: String,
}

/// A clock as the case page shows it.
pub struct ClockRow {
    /// The SLA's name.
    pub sla: String,
    /// The regulation it implements.
    pub regulation: String,
    /// The CSS class of its state.
    pub class: &'static str,
    /// Its state, in words.
    pub state: &'static str,
    /// The target in force.
    pub target: String,
    /// The deadline, in the policy's zone (`provisional` noted).
    pub deadline: String,
    /// Time left to the deadline, or past it.
    pub left: String,
    /// The rules that made the deadline, one line each.
    pub rules: Vec<String>,
    /// The current run's timeline.
    pub intervals: Vec<Interval>,
    /// The extensions granted, one line each.
    pub extensions: Vec<String>,
    /// Extensions this SLA offers: name and target.
    pub offers: Vec<(String, String)>,
    /// Whether it runs now (an extension may be asked for).
    pub running: bool,
}

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The clocks of the view's case, in the policy's order.
pub fn clocks(
    policy: &Policy,
    view: &Value,
    now: DateTime<Utc>,
    t: &'static Texts,
) -> Vec<ClockRow> {
    let tz = policy.timezone();
    let mut out = Vec::new();
    for clock in view["clocks"].as_array().into_iter().flatten() {
        let sla = text(&clock["sla"]);
        let fired_warning = clock["fired"]
            .as_array()
            .is_some_and(|f| f.iter().any(|a| a.get("warning").is_some()));
        let raw_state = text(&clock["state"]);
        let shown = match (raw_state.as_str(), fired_warning) {
            ("running", true) => "at-risk",
            (s, _) => s,
        };
        let (class, word) = state(t, shown);
        let deadline = clock["deadline"]
            .as_str()
            .and_then(|s| s.parse::<DateTime<Utc>>().ok());
        let live = matches!(raw_state.as_str(), "running" | "breached" | "paused");
        let explanation = &clock["explanation"];
        let calendar_tz: Tz = explanation["timezone"]
            .as_str()
            .and_then(|z| z.parse().ok())
            .unwrap_or(tz);
        let intervals = explanation["intervals"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|i| {
                let (class, kind) = match i["kind"].as_str().unwrap_or("") {
                    "counted" => ("counted", t.counted),
                    "paused" => ("paused", t.paused),
                    _ => ("skipped", t.skipped),
                };
                Interval {
                    class,
                    kind,
                    from: local_json(&i["from"], calendar_tz),
                    to: local_json(&i["to"], calendar_tz),
                    reason: text(&i["reason"]),
                }
            })
            .collect();
        let offers = policy
            .slas()
            .get(&sla)
            .map(|s| {
                s.extensions
                    .iter()
                    .map(|e| (e.name.clone(), e.to.to_string()))
                    .collect()
            })
            .unwrap_or_default();
        out.push(ClockRow {
            regulation: text(&clock["regulation"]),
            class,
            state: word,
            target: text(&clock["target"]),
            deadline: deadline
                .map(|d| format!("{} ({})", local(d, calendar_tz), calendar_tz.name()))
                .unwrap_or_default(),
            left: match (deadline, live) {
                (Some(d), true) => time_left(policy, &sla, d, now, t),
                _ => String::new(),
            },
            rules: explanation["rules"]
                .as_array()
                .into_iter()
                .flatten()
                .map(text)
                .collect(),
            intervals,
            extensions: explanation["extensions"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|e| format!("{} — {}", text(&e["target"]), text(&e["reason"])))
                .collect(),
            offers,
            running: matches!(raw_state.as_str(), "running" | "breached" | "paused"),
            sla,
        });
    }
    out
}

/// A field value as a form input holds it: text, `true`/`false`, a number as
/// written; empty for none.
pub fn input_text(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::Bool(b) => b.to_string(),
        other => text(other),
    }
}

/// A field of the case as shown.
pub struct FieldRow {
    /// The field's label (its name without one).
    pub label: String,
    /// The field's name.
    pub name: String,
    /// Its value as shown (`✓`/`✗` for flags).
    pub value: String,
    /// Whether it is a masked personal value.
    pub masked: bool,
}

/// The case's field values from the view (masked as the API masks them).
pub fn fields(policy: &Policy, view: &Value) -> Vec<FieldRow> {
    let data = view["data"].as_object();
    policy
        .fields()
        .values()
        .filter_map(|f| {
            let value = data?.get(&f.name)?;
            Some(FieldRow {
                label: f.label.clone().unwrap_or_else(|| f.name.clone()),
                name: f.name.clone(),
                masked: value.as_str() == Some(crate::view::MASK),
                value: match value {
                    Value::Bool(true) => "✓".into(),
                    Value::Bool(false) => "✗".into(),
                    other => text(other),
                },
            })
        })
        .collect()
}

/// One line of the audit trail.
pub struct TrailRow {
    /// When it happened, in the policy's zone.
    pub when: String,
    /// Who caused it (the runtime for timers).
    pub who: String,
    /// What happened, in words.
    pub what: String,
    /// What changed (fields, queue, stages).
    pub detail: String,
    /// Why (the rule, condition or clock behind it).
    pub why: String,
}

fn join_fields(fields: &Value) -> String {
    fields
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k} = {}", text(v)))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

/// An event from the view (personal fields masked) as a line of the trail.
pub fn trail_row(policy: &Policy, event: &Value) -> TrailRow {
    let kind = &event["kind"];
    let what = text(&kind["type"]);
    let (detail, why) = match what.as_str() {
        "received" => (join_fields(&kind["fields"]), String::new()),
        "routed" => (format!("→ {}", text(&kind["queue"])), text(&kind["reason"])),
        "moved" => {
            let label = |s: &Value| {
                let name = text(s);
                policy
                    .stages()
                    .get(&name)
                    .and_then(|st| st.label.clone())
                    .unwrap_or(name)
            };
            let reason = &kind["reason"];
            let why = match reason["by"].as_str() {
                Some("after") => format!("after {}", text(&reason["delay"])),
                Some("automatic") => text(&reason["condition"]),
                _ => text(&reason["guard"]),
            };
            (
                format!(
                    "{}: {} → {}",
                    text(&kind["event"]),
                    label(&kind["from"]),
                    label(&kind["to"])
                ),
                why,
            )
        }
        "fields-set" => (join_fields(&kind["fields"]), cause(&kind["cause"])),
        "assigned" => (text(&kind["assignee"]), String::new()),
        "noted" => (text(&kind["text"]), String::new()),
        "tagged" => (text(&kind["tag"]), cause(&kind["cause"])),
        "notified" => (
            format!("{} ({})", text(&kind["to"]), text(&kind["message"])),
            cause(&kind["cause"]),
        ),
        "clock" => {
            let op = &kind["op"];
            let mut detail = format!("{} {}", text(&kind["sla"]), text(&op["op"]));
            if op["op"] == "extend" {
                detail.push_str(&format!(
                    " → {} ({})",
                    text(&op["target"]),
                    text(&op["reason"])
                ));
            }
            (detail, text(&kind["trigger"]))
        }
        "warned" => (
            format!("{} {}%", text(&kind["sla"]), text(&kind["percent"])),
            String::new(),
        ),
        "breached" => (text(&kind["sla"]), String::new()),
        "escalated" => (
            format!("{} → {}", text(&kind["sla"]), text(&kind["queue"])),
            String::new(),
        ),
        _ => (String::new(), String::new()),
    };
    let actor = &event["actor"];
    let who = match (actor["id"].as_str(), actor["role"].as_str()) {
        (Some(id), Some(role)) => format!("{id} ({role})"),
        (Some(id), None) => id.to_string(),
        _ => "Redress".to_string(),
    };
    TrailRow {
        when: local_json(&event["at"], policy.timezone()),
        who,
        what,
        detail,
        why,
    }
}

fn cause(cause: &Value) -> String {
    match cause["by"].as_str() {
        Some("action") => format!("{} #{}", text(&cause["event"]), text(&cause["transition"])),
        Some("sla") => text(&cause["sla"]),
        _ => String::new(),
    }
}

/// One input of a form, typed from the policy's field.
pub struct FormField {
    /// The form field's name: `f.<field>`.
    pub input_name: String,
    /// The input's HTML id.
    pub id: String,
    /// The field's label.
    pub label: String,
    /// The field's description, shown under it.
    pub help: String,
    /// `text`, `textarea`, `select`, `checkbox`, `date`, `datetime-local`,
    /// `number`, `money`.
    pub kind: &'static str,
    /// An enum field's words, and which is chosen.
    pub options: Vec<(String, bool)>,
    /// What the input holds (as typed before a refusal).
    pub value: String,
    /// Whether the form needs it.
    pub required: bool,
    /// Why the value was refused, when it was.
    pub error: String,
}

/// A form input for a field, holding `value` (as typed before) and an error.
pub fn form_field(form: &str, def: &FieldDef, value: &str, error: &str) -> FormField {
    let kind = match def.kind {
        FieldType::Text if def.max.as_ref().is_some_and(|m| m.to_string().len() > 3) => "textarea",
        FieldType::Text => "text",
        FieldType::Enum => "select",
        FieldType::Bool => "checkbox",
        FieldType::Integer => "number",
        FieldType::Money => "money",
        FieldType::Date => "date",
        FieldType::Datetime => "datetime-local",
    };
    FormField {
        input_name: format!("f.{}", def.name),
        id: format!("{form}-{}", def.name),
        label: def.label.clone().unwrap_or_else(|| def.name.clone()),
        help: def.description.clone().unwrap_or_default(),
        kind,
        options: def.values.iter().map(|v| (v.clone(), v == value)).collect(),
        value: value.to_string(),
        required: def.required,
        error: error.to_string(),
    }
}

/// Turns a form's `f.<field>` inputs into command data: each typed as its field
/// says (a checkbox is `true` when sent; a `datetime-local` is read in the
/// policy's zone); empty inputs are left out. A value that does not parse is sent
/// as written, so that the engine refuses it with its own message.
pub fn form_data(policy: &Policy, inputs: &[(String, String)]) -> redress_engine::runtime::Data {
    let mut data = redress_engine::runtime::Data::new();
    for (name, raw) in inputs {
        let Some(field) = name.strip_prefix("f.") else {
            continue;
        };
        let raw = raw.trim();
        if raw.is_empty() {
            continue;
        }
        let kind = policy.fields().get(field).map(|f| f.kind);
        let value = match kind {
            Some(FieldType::Bool) => Value::Bool(matches!(raw, "true" | "on" | "yes")),
            Some(FieldType::Integer) => raw
                .parse::<i64>()
                .map(Value::from)
                .unwrap_or_else(|_| Value::from(raw)),
            Some(FieldType::Datetime) => Value::from(local_to_rfc3339(raw, policy.timezone())),
            _ => Value::from(raw),
        };
        data.insert(field.to_string(), value);
    }
    data
}

/// A `datetime-local` value (`2026-03-02T09:15`) in a zone, as RFC 3339; the text
/// itself when it is not one.
pub fn local_to_rfc3339(raw: &str, tz: Tz) -> String {
    use chrono::TimeZone;
    let parsed = chrono::NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M")
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M:%S"));
    match parsed
        .ok()
        .and_then(|n| tz.from_local_datetime(&n).earliest())
    {
        Some(at) => at.to_rfc3339(),
        None => raw.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::local_to_rfc3339;

    #[test]
    fn a_local_time_is_read_in_the_policys_zone() {
        let tz: chrono_tz::Tz = "Asia/Shanghai".parse().unwrap();
        assert_eq!(
            local_to_rfc3339("2026-09-30T16:00", tz),
            "2026-09-30T16:00:00+08:00"
        );
        assert_eq!(local_to_rfc3339("yesterday", tz), "yesterday");
    }
}
