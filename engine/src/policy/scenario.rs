//! Scenario tests as a policy declares them: a complaint, the steps that follow,
//! and what must hold. Validation checks every name in them against the policy;
//! the runtime's test runner plays them on a virtual clock.

use chrono::{DateTime, FixedOffset};
use indexmap::IndexMap;

use crate::calendar::SlaDuration;
use crate::value::Fields;

/// A checked scenario.
#[derive(Debug, Clone)]
pub struct ScenarioSpec {
    /// When the complaint was received.
    pub received_at: DateTime<FixedOffset>,
    /// Its fields at intake.
    pub data: Fields,
    /// What happens next.
    pub steps: Vec<Step>,
    /// What must hold after the last step.
    pub expect: Option<Expect>,
}

/// Who does a step.
#[derive(Debug, Clone, Default)]
pub struct Actor {
    /// The person or system.
    pub id: Option<String>,
    /// Their role.
    pub role: Option<String>,
}

/// One step of a scenario.
#[derive(Debug, Clone)]
pub struct Step {
    /// What happens.
    pub action: StepAction,
    /// When; default the virtual clock's current instant.
    pub at: Option<DateTime<FixedOffset>>,
    /// Who.
    pub actor: Actor,
    /// What must hold after it.
    pub expect: Option<Expect>,
    /// The line of the step in its file.
    pub line: usize,
}

/// The kinds of step.
#[derive(Debug, Clone)]
pub enum StepAction {
    /// Send an event, with field values.
    Event {
        /// The event.
        name: String,
        /// Field values sent with it.
        data: Fields,
    },
    /// Move the virtual clock forward.
    Advance(SlaDuration),
    /// Move the virtual clock to an instant.
    Until(DateTime<FixedOffset>),
    /// Update fields.
    Set(Fields),
    /// Grant an SLA extension.
    Extend {
        /// The SLA.
        sla: String,
        /// The extension's name; default its first.
        extension: Option<String>,
    },
}

/// What must hold about a case.
#[derive(Debug, Clone, Default)]
pub struct Expect {
    /// Its stage.
    pub stage: Option<String>,
    /// Its queue.
    pub queue: Option<String>,
    /// Its priority.
    pub priority: Option<i64>,
    /// Its tags.
    pub tags: Option<Vec<String>>,
    /// Each named clock's state (`running`, `met` ...).
    pub clock: IndexMap<String, String>,
    /// Each named clock's deadline.
    pub deadline: IndexMap<String, DateTime<FixedOffset>>,
    /// Whether each named clock's deadline is provisional.
    pub provisional: IndexMap<String, bool>,
    /// The step was refused with this code.
    pub refused: Option<String>,
    /// Notifications sent, by recipient.
    pub notified: Option<Vec<String>>,
    /// Warnings fired, as `sla@percent`.
    pub warnings: Option<Vec<String>>,
    /// Breaches fired, by SLA.
    pub breaches: Option<Vec<String>>,
    /// The line of the expectation in its file.
    pub line: usize,
}

/// The clock states a scenario may expect.
pub const CLOCK_STATES: &[&str] = &[
    "not-started",
    "running",
    "paused",
    "met",
    "missed",
    "breached",
    "withdrawn",
    "error",
];
