//! The policy format, version 1: serde structs that mirror the TOML one to one.
//!
//! Nothing here is checked beyond its TOML type: these structs are what a file
//! *says*. Validation turns them into a [`super::Policy`] that is known to
//! be sound. The JSON Schema that `redress schema` prints is derived from them, so
//! the doc comments below are what editors show as hover help.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::Deserialize;

/// A whole policy file.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(
    title = "Redress policy",
    description = "A complaint-handling procedure, enforced by Redress"
)]
pub struct RawPolicy {
    /// Who the policy is for, its version and its default time zone and calendar.
    pub policy: RawHeader,
    /// Roles that may perform transitions or grant extensions, with a description.
    #[serde(default)]
    pub roles: IndexMap<String, String>,
    /// Queues complaints can be routed to, with a description. Optional: queues named
    /// by routing rules are known anyway.
    #[serde(default)]
    pub queues: IndexMap<String, String>,
    /// Business calendars by name.
    #[serde(default)]
    pub calendars: IndexMap<String, RawCalendar>,
    /// The complaint's fields, typed.
    #[serde(default)]
    pub fields: IndexMap<String, RawField>,
    /// The stages a complaint goes through: one start, one or more terminal.
    #[serde(default)]
    pub stages: IndexMap<String, RawStage>,
    /// The moves between stages, each triggered by an event.
    #[serde(default)]
    pub transitions: Vec<RawTransition>,
    /// Service-level agreements: deadlines, each a clock on every case.
    #[serde(default)]
    pub slas: IndexMap<String, RawSla>,
    /// Where a complaint goes: ordered rules, first match wins.
    pub routing: Option<RawRouting>,
    /// What the complainant is told on their status page: each stage in plain
    /// words, what happens next, the deadline, how to escalate.
    pub complainant: Option<RawComplainant>,
    /// Scenario tests, run by `redress test`.
    #[serde(default)]
    pub tests: Vec<RawScenario>,
}

/// The `[policy]` table.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawHeader {
    /// A short, stable identifier (`bank-cn`).
    pub id: String,
    /// A name people read.
    pub name: String,
    /// The policy's own version label (`2026.1`). The engine also identifies every
    /// version by a content hash.
    pub version: String,
    /// IANA time zone (`Asia/Shanghai`): the zone in which days are counted.
    pub timezone: String,
    /// The calendar SLAs use unless they name another.
    pub calendar: Option<String>,
    /// The regulation(s) this procedure implements.
    pub regulation: Option<OneOrMany>,
    /// A longer description.
    pub description: Option<String>,
}

/// One string or a list of strings.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum OneOrMany {
    /// A single name.
    One(String),
    /// Several names.
    Many(Vec<String>),
}

impl OneOrMany {
    /// The names, however they were written.
    pub fn as_slice(&self) -> &[String] {
        match self {
            OneOrMany::One(s) => std::slice::from_ref(s),
            OneOrMany::Many(v) => v,
        }
    }
}

/// A business calendar: working week, business hours, holidays, make-up days.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawCalendar {
    /// Calendar data files (holidays, make-up working days), relative to the policy.
    pub include: Option<OneOrMany>,
    /// IANA time zone; default: the included data's, then the policy's.
    pub timezone: Option<String>,
    /// Working weekdays (`["mon", "tue", "wed", "thu", "fri"]`).
    pub week: Option<Vec<String>>,
    /// Business hours, possibly split (`["09:00-12:00", "13:30-17:30"]`); none = all day.
    #[serde(default)]
    pub hours: Vec<String>,
    /// Extra holidays on top of the included data.
    #[serde(default)]
    pub holidays: Vec<RawDateEntry>,
    /// Extra make-up working days (a weekend day that is worked).
    #[serde(default)]
    pub working_days: Vec<RawDateEntry>,
    /// Work on holidays that are only observed in lieu (US Federal Reserve Banks).
    #[serde(default)]
    pub open_on_observed: bool,
    /// A longer description.
    pub description: Option<String>,
}

/// A named date or date range.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawDateEntry {
    /// What the day is (`National Day`).
    pub name: Option<String>,
    /// A single day (`2026-10-01`).
    pub date: Option<String>,
    /// First day of a range.
    pub from: Option<String>,
    /// Last day of a range, inclusive.
    pub to: Option<String>,
    /// Observed in lieu of a holiday that fell on a weekend.
    #[serde(default)]
    pub observed: bool,
}

/// The type of a case field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RawFieldType {
    /// Free text.
    Text,
    /// One of `values`.
    Enum,
    /// Yes or no.
    Bool,
    /// A whole number.
    Integer,
    /// An exact decimal amount.
    Money,
    /// A calendar date (`2026-03-02`).
    Date,
    /// An instant with its offset (`2026-03-02T09:15:00+08:00`).
    Datetime,
}

/// A case field.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawField {
    /// The field's type.
    #[serde(rename = "type")]
    pub kind: RawFieldType,
    /// Intake is refused without it.
    #[serde(default)]
    pub required: bool,
    /// The value when intake gives none.
    #[schemars(with = "Option<serde_json::Value>")]
    pub default: Option<toml::Value>,
    /// Smallest allowed value (integer, money, date, datetime) or length (text).
    #[schemars(with = "Option<serde_json::Value>")]
    pub min: Option<toml::Value>,
    /// Largest allowed value (integer, money, date, datetime) or length (text).
    #[schemars(with = "Option<serde_json::Value>")]
    pub max: Option<toml::Value>,
    /// The allowed values of an `enum`.
    pub values: Option<Vec<String>>,
    /// Personal data (names, phone numbers, ID numbers): masked for roles that may not
    /// see it and never logged.
    #[serde(default)]
    pub personal: bool,
    /// A label people read.
    pub label: Option<String>,
    /// A longer description.
    pub description: Option<String>,
}

/// A stage of the procedure.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawStage {
    /// Every case starts here. Exactly one stage has it.
    #[serde(default)]
    pub start: bool,
    /// A case here is finished.
    #[serde(default)]
    pub terminal: bool,
    /// A label people read.
    pub label: Option<String>,
    /// A longer description.
    pub description: Option<String>,
}

/// A move from one or more stages to another, triggered by an event.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawTransition {
    /// The event's name (`acknowledge`).
    pub on: String,
    /// The stage(s) it may leave; `"*"` for every non-terminal stage.
    pub from: OneOrMany,
    /// The stage it enters.
    pub to: String,
    /// A condition that must hold (`amount > 50000 && category == "fraud"`).
    pub when: Option<String>,
    /// Fields that must have a value first.
    #[serde(default)]
    pub requires: Vec<String>,
    /// Roles allowed to send the event; none listed = every role.
    #[serde(default)]
    pub roles: Vec<String>,
    /// What happens when it is taken.
    #[serde(default)]
    pub actions: Vec<RawAction>,
    /// Taken automatically this long after the case entered a `from` stage.
    pub after: Option<String>,
    /// Taken automatically as soon as `when` holds.
    #[serde(default)]
    pub automatic: bool,
    /// The case's reopen count goes up by one (a dispute re-opens the case).
    #[serde(default)]
    pub reopens: bool,
    /// A longer description.
    pub description: Option<String>,
}

/// One action of a transition: exactly one of `set`, `notify`, `tag`, `script`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawAction {
    /// Field values to set (`{ outcome = "upheld" }`).
    #[schemars(with = "Option<serde_json::Map<String, serde_json::Value>>")]
    pub set: Option<toml::Table>,
    /// Who to notify (`complainant`, a queue, a role).
    pub notify: Option<String>,
    /// The notification's template or text.
    pub message: Option<String>,
    /// A tag to add to the case.
    pub tag: Option<String>,
    /// A Rhai script returning `#{ set: #{...}, notify: [...] }`.
    pub script: Option<String>,
}

/// A service-level agreement: a deadline clock.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSla {
    /// How long: `24 hours`, `4 business hours`, `15 days`, `8 weeks`, `6 months`,
    /// `3 business days`.
    pub target: String,
    /// Stage(s) entered or event(s) that start the clock (`received`, `event:acknowledge`).
    pub start: OneOrMany,
    /// Stage(s) entered or event(s) that stop it.
    pub stop: OneOrMany,
    /// Stages in which the clock is paused, or events that pause it.
    #[serde(default)]
    pub pause: Vec<String>,
    /// Events that resume a clock paused by an event.
    #[serde(default)]
    pub resume: Vec<String>,
    /// Warnings at percentages of the target (`["50%", "80%"]`).
    #[serde(default)]
    pub warn: Vec<String>,
    /// The calendar days are counted on; default: the policy's.
    pub calendar: Option<String>,
    /// A deadline whose last day is not a working day rolls to the end of the next one.
    #[serde(default)]
    pub roll: bool,
    /// A complaint received outside business hours is counted from the next working day.
    #[serde(default)]
    pub after_hours_from_next_working_day: bool,
    /// The clock applies only to cases for which this condition holds.
    pub applies_when: Option<String>,
    /// What happens to the clock when a case is reopened.
    pub on_reopen: Option<RawReopen>,
    /// Longer targets that may be granted.
    #[serde(default)]
    pub extensions: Vec<RawExtension>,
    /// What happens when the deadline passes.
    pub on_breach: Option<RawBreach>,
    /// The article or rule this deadline comes from.
    pub regulation: Option<String>,
    /// A longer description.
    pub description: Option<String>,
}

/// What a reopen does to a clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RawReopen {
    /// Start again with the full target.
    Restart,
    /// Go on from where it stopped.
    Resume,
    /// Stay stopped.
    Keep,
}

/// A longer target that may be granted.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawExtension {
    /// The extension's name, used to request it; default `to` itself.
    pub name: Option<String>,
    /// The new target.
    pub to: String,
    /// A condition that must hold to grant it.
    pub when: Option<String>,
    /// Fields that must have a value to grant it (the reason).
    #[serde(default)]
    pub requires: Vec<String>,
    /// The role that may grant it; none = any role.
    pub role: Option<String>,
    /// Who is told of it.
    pub notify: Option<OneOrMany>,
    /// A longer description.
    pub description: Option<String>,
}

/// What a breach does.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawBreach {
    /// Move the case to this queue.
    pub escalate_to: Option<String>,
    /// Set this priority.
    pub priority: Option<i64>,
    /// Who is told.
    pub notify: Option<OneOrMany>,
}

/// The `[routing]` table.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRouting {
    /// Ordered rules: the first whose `when` holds decides; end with `otherwise = true`.
    #[serde(default)]
    pub rules: Vec<RawRouteRule>,
    /// An integrator's Rhai file defining `fn route(c)`; it decides before the rules.
    pub script: Option<String>,
    /// Route again when one of these fields changes.
    #[serde(default)]
    pub reroute_on: Vec<String>,
}

/// One routing rule.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRouteRule {
    /// The condition (`category == "fraud"`).
    pub when: Option<String>,
    /// The default rule: matches every complaint.
    #[serde(default)]
    pub otherwise: bool,
    /// The queue to route to.
    pub queue: String,
    /// The priority to set (1 is the most urgent).
    pub priority: Option<i64>,
    /// A person to assign.
    pub assignee: Option<String>,
    /// Tags to add.
    #[serde(default)]
    pub tags: Vec<String>,
    /// A longer description.
    pub description: Option<String>,
}

/// Text for the complainant: one string, or the same text in several languages
/// keyed by language tag (`{ en = "Received", zh = "已受理" }`).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum RawText {
    /// One text, in whatever language it is written.
    One(String),
    /// The text by language tag (`en`, `zh`).
    Languages(IndexMap<String, String>),
}

/// The `[complainant]` table: what the complainant's status page says.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawComplainant {
    /// The SLAs whose deadlines are the dates by which the organisation must
    /// answer, in order: the page shows the first one running.
    #[serde(default)]
    pub deadlines: Vec<String>,
    /// How to escalate if the complainant is not satisfied (an ombudsman, a review,
    /// a regulator's hotline), in the policy's words.
    pub escalation: Option<RawText>,
    /// Each stage in plain words, and what happens next.
    #[serde(default)]
    pub stages: IndexMap<String, RawComplainantStage>,
}

/// What the complainant is told about one stage.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawComplainantStage {
    /// The stage in plain words (`We are looking into your complaint`).
    pub status: RawText,
    /// What happens next.
    pub next: Option<RawText>,
}

/// A scenario test, run on a virtual clock by `redress test`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawScenario {
    /// What the test shows.
    pub name: String,
    /// When the complaint was received (`2026-02-13T16:00:00+08:00`).
    pub received_at: String,
    /// The complaint's fields at intake.
    #[serde(default)]
    #[schemars(with = "serde_json::Map<String, serde_json::Value>")]
    pub data: toml::Table,
    /// What happens next, in order.
    #[serde(default)]
    pub steps: Vec<RawStep>,
    /// What must hold after the last step.
    pub expect: Option<RawExpect>,
}

/// One step of a scenario: exactly one of `event`, `advance`, `until`, `set`, `extend`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawStep {
    /// Send this event.
    pub event: Option<String>,
    /// Move the virtual clock forward (`3 business days`, `2 hours`).
    pub advance: Option<String>,
    /// Move the virtual clock to this instant.
    pub until: Option<String>,
    /// Update fields.
    #[schemars(with = "Option<serde_json::Map<String, serde_json::Value>>")]
    pub set: Option<toml::Table>,
    /// Grant an extension of an SLA (`decision`) by its name.
    pub extend: Option<String>,
    /// Which extension (its `name` or `to`).
    pub extension: Option<String>,
    /// When the step happens; default: the virtual clock's current instant.
    pub at: Option<String>,
    /// Who acts.
    pub actor: Option<String>,
    /// The actor's role.
    pub role: Option<String>,
    /// Field values sent with the event.
    #[schemars(with = "Option<serde_json::Map<String, serde_json::Value>>")]
    pub data: Option<toml::Table>,
    /// What must hold after this step.
    pub expect: Option<RawExpect>,
}

/// Expectations about a case.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawExpect {
    /// The stage the case is in.
    pub stage: Option<String>,
    /// The queue it is routed to.
    pub queue: Option<String>,
    /// Its priority.
    pub priority: Option<i64>,
    /// Tags it carries.
    pub tags: Option<Vec<String>>,
    /// Each named clock's state: `not-started`, `running`, `paused`, `met`, `missed`,
    /// `breached`, `withdrawn`, or `error` (its calendar cannot count its deadline).
    #[serde(default)]
    pub clock: IndexMap<String, String>,
    /// Whether each named clock's deadline is provisional (it counts days beyond the
    /// calendar's data, or of data marked provisional).
    #[serde(default)]
    pub provisional: IndexMap<String, bool>,
    /// Each named clock's exact deadline.
    #[serde(default)]
    pub deadline: IndexMap<String, String>,
    /// The step was refused with this code.
    pub refused: Option<String>,
    /// Notifications sent, by recipient.
    pub notified: Option<Vec<String>>,
    /// Warnings fired so far, as `sla@percent` (`decision@50`).
    pub warnings: Option<Vec<String>>,
    /// Breaches fired so far, by SLA.
    pub breaches: Option<Vec<String>>,
}

/// A file of scenario tests kept beside a policy.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawTestFile {
    /// The policy under test, relative to this file.
    pub policy: String,
    /// The tests.
    #[serde(default)]
    pub tests: Vec<RawScenario>,
}
