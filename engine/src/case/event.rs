//! [`Event`]: one recorded change to a case. Events carry every effect explicitly
//! (the clock operations, the route chosen, the notification sent), so folding them
//! needs no policy and no script: the same events always give the same case.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::calendar::SlaDuration;
use crate::value::Fields;

/// Who did something.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Actor {
    /// The person or system (`u7`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Their role (`agent`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
}

/// One change to a case, with the policy version, actor and instant that made it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// The case version after this event: 1 for the intake, then one more per event.
    pub seq: u64,
    /// When it was recorded (a timer's event: when the timer was due).
    #[serde(serialize_with = "crate::instant::serialize")]
    pub at: DateTime<Utc>,
    /// The hash of the policy version that produced it (shared with the case).
    pub policy: std::sync::Arc<str>,
    /// Who caused it; `None` for the runtime's own timers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<Actor>,
    /// The idempotency key of the command that produced it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// What happened.
    pub kind: EventKind,
}

/// Why a stage changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "by", rename_all = "kebab-case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum MoveReason {
    /// A user sent the event.
    Command {
        /// The transition's condition, which held.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        guard: Option<String>,
    },
    /// The transition's `after` delay passed.
    After {
        /// The delay as written.
        delay: SlaDuration,
    },
    /// The transition's condition became true.
    Automatic {
        /// The condition's text.
        condition: String,
    },
}

/// What caused a field change, notification or tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "by", rename_all = "kebab-case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Cause {
    /// Data sent by a user with an event or an update.
    Input,
    /// An action of the transition at this index.
    Action {
        /// The event of the transition.
        event: String,
        /// Its position among the policy's transitions.
        transition: usize,
    },
    /// An SLA's breach (escalation) or extension.
    Sla {
        /// The SLA.
        sla: String,
    },
}

/// The kinds of event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, strum::EnumDiscriminants)]
#[serde(tag = "type", rename_all = "kebab-case")]
#[strum_discriminants(
    name(EventType),
    doc = "The type of an [`EventKind`], as events name themselves in JSON (`received`, `fields-set`, ...).",
    derive(
        Hash,
        PartialOrd,
        Ord,
        Serialize,
        Deserialize,
        strum::IntoStaticStr,
        strum::EnumIter,
        strum::EnumString,
        strum::Display
    ),
    serde(rename_all = "kebab-case"),
    strum(serialize_all = "kebab-case")
)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum EventKind {
    /// The complaint was taken in.
    Received {
        /// The case's identifier.
        case: String,
        /// When it was received (may precede `at`).
        #[serde(serialize_with = "crate::instant::serialize")]
        received_at: DateTime<Utc>,
        /// Its fields, defaults applied.
        #[serde(with = "super::tagged")]
        #[cfg_attr(feature = "openapi", schema(value_type = crate::value::FieldValues))]
        fields: Fields,
        /// The start stage.
        stage: String,
    },
    /// Routed (or re-routed) to a queue.
    Routed {
        /// The queue.
        queue: String,
        /// The priority.
        priority: Option<i64>,
        /// The assignee named by routing.
        assignee: Option<String>,
        /// Tags added.
        tags: Vec<String>,
        /// The rule that decided (0-based), if a rule did.
        rule: Option<usize>,
        /// Why, in one sentence.
        reason: String,
    },
    /// Moved between stages by a transition.
    Moved {
        /// The event of the transition.
        event: String,
        /// Its position among the policy's transitions.
        transition: usize,
        /// The stage left.
        from: String,
        /// The stage entered.
        to: String,
        /// Counts as a reopening.
        reopens: bool,
        /// The stage entered is terminal: the case is closed.
        closes: bool,
        /// Why it moved.
        reason: MoveReason,
    },
    /// Field values changed.
    FieldsSet {
        /// The new values.
        #[serde(with = "super::tagged")]
        #[cfg_attr(feature = "openapi", schema(value_type = crate::value::FieldValues))]
        fields: Fields,
        /// Why.
        cause: Cause,
    },
    /// Assigned to someone.
    Assigned {
        /// The new assignee.
        assignee: String,
    },
    /// A note was added.
    Noted {
        /// Its text.
        text: String,
    },
    /// A tag was added.
    Tagged {
        /// The tag.
        tag: String,
        /// Why.
        cause: Cause,
    },
    /// A notification was emitted (the runtime never sends it itself).
    Notified {
        /// The recipient: a role, a queue or `complainant`.
        to: String,
        /// The message or template.
        message: Option<String>,
        /// Why.
        cause: Cause,
    },
    /// A clock operation.
    Clock {
        /// The SLA.
        sla: String,
        /// What happened to it.
        op: ClockOp,
        /// The instant of the operation (a clock starts at receipt, not at intake).
        #[serde(serialize_with = "crate::instant::serialize")]
        on: DateTime<Utc>,
        /// The stage or event that caused it.
        trigger: String,
    },
    /// A clock's warning threshold was reached.
    Warned {
        /// The SLA.
        sla: String,
        /// The threshold, percent of the target.
        percent: u8,
    },
    /// A clock's deadline passed while it ran.
    Breached {
        /// The SLA.
        sla: String,
        /// The deadline.
        #[serde(serialize_with = "crate::instant::serialize")]
        deadline: DateTime<Utc>,
    },
    /// Escalated by a breach: new queue and priority.
    Escalated {
        /// The SLA that breached.
        sla: String,
        /// The new queue, if the policy names one.
        queue: Option<String>,
        /// The new priority, if the policy names one.
        priority: Option<i64>,
    },
    /// The complainant withdrew (a policy without a `withdraw` transition).
    Withdrawn,
    /// Moved onto another version of its policy (`redress migrate`): the audit
    /// trail's account of every deadline that moved.
    Migrated {
        /// The version's hash it was on.
        from: String,
        /// The version's hash it is on now (also the event's `policy`).
        to: String,
        /// Its stage, when the new version names it differently: `(old, new)`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        stage: Option<(String, String)>,
        /// Each clock whose deadline was looked at: old and new deadline.
        clocks: Vec<MigratedClock>,
    },
    /// A delayed transition fell due but its condition could not be evaluated (a
    /// script error): recorded, so that it is never silently lost; it does not
    /// fire again until the case enters a stage anew.
    TimerFailed {
        /// The timer, as people read it.
        timer: String,
        /// The transition's position among the policy's transitions.
        transition: usize,
        /// The script error.
        error: String,
    },
}

/// One clock in a [`EventKind::Migrated`] event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MigratedClock {
    /// The SLA.
    pub sla: String,
    /// Its deadline under the old version (`None` while paused).
    #[serde(serialize_with = "crate::instant::serialize_option")]
    pub old: Option<DateTime<Utc>>,
    /// Its deadline under the new one; equal to `old` when `kept`.
    #[serde(serialize_with = "crate::instant::serialize_option")]
    pub new: Option<DateTime<Utc>>,
    /// Its outcome was settled (met, missed, breached, withdrawn): its deadline is
    /// kept as it was, so the outcome stays.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub kept: bool,
    /// Why the deadline moved (`2027-02-09 is now a working day`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub why: Vec<String>,
}

impl EventKind {
    /// Its type.
    pub fn event_type(&self) -> EventType {
        self.into()
    }

    /// Its `type` as written in JSON (`received`, `moved`, ...).
    pub fn type_name(&self) -> &'static str {
        self.event_type().as_str()
    }
}

impl EventType {
    /// The type as written in JSON: `fields-set`.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Every event type.
    pub fn iter() -> impl Iterator<Item = EventType> + Clone {
        <EventType as strum::IntoEnumIterator>::iter()
    }
}

/// What happened to a clock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ClockOp {
    /// Started (or re-started after a reopen).
    Start,
    /// Paused.
    Pause,
    /// Resumed.
    Resume,
    /// Stopped.
    Stop,
    /// Stopped because the complainant withdrew.
    Withdraw,
    /// Extended to a longer target.
    Extend {
        /// The extension's name.
        extension: String,
        /// The new target.
        target: SlaDuration,
        /// Why (the complainant is told).
        reason: String,
        /// Who granted it.
        granted_by: Option<String>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_are_the_json_tags() {
        let kinds = [
            EventKind::Withdrawn,
            EventKind::Noted { text: "x".into() },
            EventKind::Assigned {
                assignee: "u".into(),
            },
            EventKind::FieldsSet {
                fields: Fields::new(),
                cause: Cause::Input,
            },
        ];
        for kind in kinds {
            let json = serde_json::to_value(&kind).unwrap();
            assert_eq!(json["type"], kind.type_name());
        }
        for t in EventType::iter() {
            assert_eq!(serde_json::to_value(t).ok(), Some(t.as_str().into()));
            assert_eq!(t.as_str().parse::<EventType>().ok(), Some(t));
        }
    }
}
