//! [`Refusal`]: why a command was refused, with a stable kebab-case code and the
//! detail a user needs. A refused command changes nothing.
//!
//! The code is derived from the variant's name ([`RefusalCode`], one variant per
//! kind of refusal), and it is the same word as the `kind` the refusal serialises
//! with, so the API's problem `code` and its `refusal.kind` never differ.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::policy::FieldError;

/// A command the case cannot take. A normal outcome, not a fault: it is returned,
/// recorded by replay and expected by scenario tests by its [`code`](Refusal::code).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, strum::EnumDiscriminants)]
#[serde(tag = "kind", rename_all = "kebab-case")]
#[strum_discriminants(
    name(RefusalCode),
    doc = "The stable code of a [`Refusal`], one per kind: `RefusalCode::CaseClosed` is `case-closed`.",
    derive(
        Hash,
        PartialOrd,
        Ord,
        Serialize,
        strum::IntoStaticStr,
        strum::EnumIter,
        strum::EnumString,
        strum::Display
    ),
    serde(rename_all = "kebab-case"),
    strum(serialize_all = "kebab-case")
)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Refusal {
    /// The policy has no transition with this event.
    #[error("`{event}` is not an event of this policy{}", hint(.help))]
    UnknownEvent {
        /// The event sent.
        event: String,
        /// "did you mean `x`?", when a name is close.
        help: Option<String>,
    },
    /// The event exists but not from the current stage.
    #[error("`{event}` is not allowed from stage `{stage}`; allowed: {}", list(.allowed))]
    NotAllowedFromStage {
        /// The event sent.
        event: String,
        /// The current stage.
        stage: String,
        /// The events allowed from it.
        allowed: Vec<String>,
    },
    /// The transition's (or extension's) condition was false.
    #[error("the condition `{condition}` of `{event}` is false")]
    GuardFailed {
        /// The event (or `extend <sla>`).
        event: String,
        /// The condition as written.
        condition: String,
    },
    /// Fields that must have a value have none.
    #[error("`{event}` requires {}", list(.fields))]
    MissingFields {
        /// The event (`intake`, or `extend <sla>`).
        event: String,
        /// The fields without a value.
        fields: Vec<String>,
    },
    /// The actor's role may not send this event.
    #[error("role `{}` may not send `{event}`; allowed: {}", .role.as_deref().unwrap_or("(none)"), list(.allowed))]
    RoleNotAllowed {
        /// The event.
        event: String,
        /// The actor's role.
        role: Option<String>,
        /// The roles that may.
        allowed: Vec<String>,
    },
    /// The case is closed.
    #[error("case is closed (stage `{stage}`)")]
    CaseClosed {
        /// Its stage.
        stage: String,
    },
    /// The command expected another case version.
    #[error("stale version: expected {expected}, the case is at {actual}")]
    StaleVersion {
        /// The version the command expected.
        expected: u64,
        /// The case's version.
        actual: u64,
    },
    /// A field value does not fit its declaration (type, allowed values, range).
    #[error("{error}")]
    InvalidValue {
        /// What is wrong.
        #[serde(serialize_with = "as_text")]
        #[cfg_attr(feature = "openapi", schema(value_type = String))]
        error: FieldError,
    },
    /// A field the policy does not declare.
    #[error("{error}")]
    UnknownField {
        /// What is wrong.
        #[serde(serialize_with = "as_text")]
        #[cfg_attr(feature = "openapi", schema(value_type = String))]
        error: FieldError,
    },
    /// Input (intake, `update`, an event's data) naming a field only actions may set.
    #[error("`{field}` is set by the policy's actions only; no command may set it")]
    SetByActions {
        /// The field.
        field: String,
    },
    /// A command other than intake for a case not taken in.
    #[error("case `{case}` has not been taken in")]
    NotReceived {
        /// The case.
        case: String,
    },
    /// An intake for a case already taken in.
    #[error("case `{case}` was already taken in")]
    AlreadyReceived {
        /// The case.
        case: String,
    },
    /// A receipt time later than now.
    #[error("received at {received_at}, which is after now ({now})")]
    ReceivedInFuture {
        /// The receipt time given.
        #[serde(serialize_with = "crate::instant::serialize")]
        received_at: DateTime<Utc>,
        /// Now.
        #[serde(serialize_with = "crate::instant::serialize")]
        now: DateTime<Utc>,
    },
    /// A command dated before the case's last event.
    #[error("{now} is before the case's last event at {last}")]
    BeforeLastEvent {
        /// The command's instant.
        #[serde(serialize_with = "crate::instant::serialize")]
        now: DateTime<Utc>,
        /// The last event's.
        #[serde(serialize_with = "crate::instant::serialize")]
        last: DateTime<Utc>,
    },
    /// The case runs on another policy version.
    #[error("case runs on policy {case_policy}, not {given}")]
    PolicyMismatch {
        /// The case's policy hash.
        case_policy: String,
        /// The hash given.
        given: String,
    },
    /// An SLA the policy does not declare.
    #[error("`{sla}` is not an SLA of this policy")]
    UnknownSla {
        /// The name given.
        sla: String,
    },
    /// An extension the SLA does not offer, or none left.
    #[error("SLA `{sla}` has no extension `{extension}` left to grant")]
    UnknownExtension {
        /// The SLA.
        sla: String,
        /// The extension asked for (`(next)` when unnamed).
        extension: String,
    },
    /// An extension of a clock that is not running or paused.
    #[error("clock `{sla}` is not running")]
    ClockNotRunning {
        /// The SLA.
        sla: String,
    },
    /// A timer fired before it is due, or one that is not pending.
    #[error("timer {timer} is not due")]
    TimerNotDue {
        /// The timer.
        timer: String,
    },
    /// A script (guard, routing, action, condition) failed.
    #[error("{message}")]
    ScriptFailed {
        /// The script error's code.
        script_code: &'static str,
        /// What went wrong.
        message: String,
    },
    /// The calendar could not compute a deadline (a date before its data begins).
    #[error("{message}")]
    CalendarFailed {
        /// What went wrong.
        message: String,
    },
}

impl Refusal {
    /// The stable code: the same word as the `kind` it serialises with.
    pub fn code(&self) -> RefusalCode {
        self.into()
    }
}

impl RefusalCode {
    /// The code as written: `case-closed`.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Every refusal code.
    pub fn iter() -> impl Iterator<Item = RefusalCode> + Clone {
        <RefusalCode as strum::IntoEnumIterator>::iter()
    }
}

impl PartialEq<&str> for RefusalCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl From<FieldError> for Refusal {
    fn from(error: FieldError) -> Self {
        match error {
            FieldError::Unknown { .. } => Refusal::UnknownField { error },
            _ => Refusal::InvalidValue { error },
        }
    }
}

impl From<crate::script::ScriptError> for Refusal {
    fn from(e: crate::script::ScriptError) -> Self {
        Refusal::ScriptFailed {
            script_code: e.code(),
            message: e.to_string(),
        }
    }
}

impl From<crate::calendar::CalendarError> for Refusal {
    fn from(e: crate::calendar::CalendarError) -> Self {
        Refusal::CalendarFailed {
            message: e.to_string(),
        }
    }
}

fn as_text<S: serde::Serializer>(e: &FieldError, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&e.to_string())
}

fn list(items: &[String]) -> String {
    match items.is_empty() {
        true => "none".to_string(),
        false => items
            .iter()
            .map(|i| format!("`{i}`"))
            .collect::<Vec<_>>()
            .join(", "),
    }
}

fn hint(help: &Option<String>) -> String {
    help.as_ref().map(|h| format!("; {h}")).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_kebab_case_and_messages_name_the_detail() {
        let r = Refusal::MissingFields {
            event: "decide".into(),
            fields: vec!["decision".into()],
        };
        assert_eq!(r.code(), "missing-fields");
        assert_eq!(r.to_string(), "`decide` requires `decision`");
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["kind"], "missing-fields");
    }

    #[test]
    fn the_kind_is_the_code_for_every_refusal() {
        for code in RefusalCode::iter() {
            let text = code.as_str();
            assert_eq!(serde_json::to_value(code).ok(), Some(text.into()));
            assert_eq!(text.parse::<RefusalCode>().ok(), Some(code));
            assert!(text.chars().all(|c| c.is_ascii_lowercase() || c == '-'));
        }
        let unknown = Refusal::from(FieldError::Unknown {
            field: "colour".into(),
        });
        let json = serde_json::to_value(&unknown).unwrap();
        assert_eq!(json["kind"], unknown.code().as_str());
        assert_eq!(unknown.code(), "unknown-field");
    }
}
