//! Policies: the file format, loading with includes, diagnostics, and validation
//! into a [`Policy`] that is known to be sound.
//!
//! Two representations, as in ripgrep's low-level and high-level arguments: the
//! [`raw`] structs mirror the TOML; [`Policy`] and the types beside it can only be
//! built by validation, so everything after loading may assume the policy is sound.

pub mod complainant;
pub mod data_reach;
pub mod discover;
pub mod field;
pub mod raw;
pub mod reporting;
pub mod stage_graph;

mod files;
mod load;
pub(crate) mod locate;
pub(crate) mod parse;
mod validate;

use std::path::PathBuf;
use std::sync::Arc;

use chrono_tz::Tz;
use indexmap::IndexMap;

pub use field::{FieldDef, FieldError, FieldType, Input, SetBy};
pub use files::{Given, OnDisk, PolicyFiles, Stored};
pub use load::{
    CheckOptions, FileReport, LoadError, Report, TZDB_VERSION, TestFile, check, check_file,
    load_policy, load_test_file,
};
pub use reporting::{Dimension, Outcome, Reporting};
pub use stage_graph::StageGraph;

use crate::calendar::{Calendar, SlaDuration};
use crate::routing::Router;
use crate::script::{ActionScript, Condition, ScriptEngine};
use crate::sla::SlaRule;
use crate::value::Fields;

/// A policy's fields, stages or SLAs by name, in the order the policy gives them.
/// Hashed with FxHash, not SipHash: the engine looks names up on every event (a
/// field of every value given, a clock's SLA, a stage), and the keys are the
/// policy's own few names, so a flood of colliding keys cannot be inserted.
pub type Names<V> = IndexMap<String, V, rustc_hash::FxBuildHasher>;

/// A policy known to be sound: every name it uses exists, every stage can be
/// reached and left, every condition compiles.
#[derive(Debug)]
pub struct Policy {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) version: String,
    pub(crate) regulation: Vec<String>,
    pub(crate) description: Option<String>,
    pub(crate) timezone: Tz,
    pub(crate) hash: String,
    pub(crate) files: Vec<PathBuf>,
    pub(crate) sources: Arc<[(String, String)]>,
    pub(crate) roles: IndexMap<String, String>,
    pub(crate) queues: IndexMap<String, String>,
    pub(crate) calendars: IndexMap<String, Arc<Calendar>>,
    pub(crate) default_calendar: String,
    pub(crate) fields: Names<FieldDef>,
    pub(crate) stages: Names<Stage>,
    pub(crate) transitions: Vec<Transition>,
    pub(crate) slas: Names<Sla>,
    pub(crate) routing: Routing,
    pub(crate) complainant: Option<complainant::Complainant>,
    pub(crate) scenarios: Vec<Scenario>,
    pub(crate) graph: StageGraph,
    pub(crate) scripts: Arc<ScriptEngine>,
    /// `[migration] stages`: an earlier version's stage name → its name here.
    pub(crate) migration_stages: IndexMap<String, String>,
    pub(crate) reporting: Reporting,
}

impl Policy {
    /// The policy's identifier (`bank-cn`).
    pub fn id(&self) -> &str {
        &self.id
    }
    /// Its name people read.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// Its own version label (`2026.1`).
    pub fn version(&self) -> &str {
        &self.version
    }
    /// The regulations it cites.
    pub fn regulation(&self) -> &[String] {
        &self.regulation
    }
    /// Its description.
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }
    /// The time zone days are counted in.
    pub fn timezone(&self) -> Tz {
        self.timezone
    }
    /// SHA-256 over the policy file and every file it includes: the version identity
    /// recorded on every event.
    pub fn hash(&self) -> &str {
        &self.hash
    }
    /// The files the policy was read from (the policy first, then includes).
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    /// Each file the policy was read from, with its text: what a store keeps so that
    /// [`check`] of [`Stored`] can bring this exact version back.
    pub fn sources(&self) -> &[(String, String)] {
        &self.sources
    }
    /// Declared roles with their descriptions.
    pub fn roles(&self) -> &IndexMap<String, String> {
        &self.roles
    }
    /// Declared queues with their descriptions.
    pub fn queues(&self) -> &IndexMap<String, String> {
        &self.queues
    }
    /// Calendars by name.
    pub fn calendars(&self) -> &IndexMap<String, Arc<Calendar>> {
        &self.calendars
    }
    /// The calendar SLAs use unless they name another.
    pub fn default_calendar(&self) -> &Arc<Calendar> {
        // INVARIANT: validation always puts the default calendar into `calendars`.
        &self.calendars[&self.default_calendar]
    }
    /// The calendar an SLA counts on: the one it names, else the default.
    pub fn calendar_of(&self, sla: &Sla) -> &Calendar {
        self.calendar(&sla.calendar)
            .unwrap_or_else(|| self.default_calendar())
    }
    /// A calendar by name.
    pub fn calendar(&self, name: &str) -> Option<&Arc<Calendar>> {
        self.calendars.get(name)
    }
    /// Fields by name.
    pub fn fields(&self) -> &Names<FieldDef> {
        &self.fields
    }
    /// Stages, in the order the file declares them.
    pub fn stages(&self) -> &Names<Stage> {
        &self.stages
    }
    /// The start stage.
    pub fn start_stage(&self) -> &Stage {
        // INVARIANT: validation refuses a policy without exactly one start stage.
        self.stages
            .values()
            .find(|s| s.start)
            .unwrap_or_else(|| &self.stages[0])
    }
    /// Transitions, in file order.
    pub fn transitions(&self) -> &[Transition] {
        &self.transitions
    }
    /// SLAs by name.
    pub fn slas(&self) -> &Names<Sla> {
        &self.slas
    }
    /// Routing.
    pub fn routing(&self) -> &Routing {
        &self.routing
    }
    /// What the complainant's status page says, when the policy says it.
    pub fn complainant(&self) -> Option<&complainant::Complainant> {
        self.complainant.as_ref()
    }
    /// The scenario tests declared in the policy file.
    pub fn scenarios(&self) -> &[Scenario] {
        &self.scenarios
    }
    /// The stage graph.
    pub fn graph(&self) -> &StageGraph {
        &self.graph
    }

    /// The stage here that an earlier version's stage `old` maps to: its entry in
    /// `[migration] stages`, else a stage of the same name.
    pub fn stage_for(&self, old: &str) -> Option<&str> {
        match self.migration_stages.get(old) {
            Some(new) => Some(new.as_str()),
            None => self.stages.get_key_value(old).map(|(k, _)| k.as_str()),
        }
    }

    /// What its fields and clocks mean for reports.
    pub fn reporting(&self) -> &Reporting {
        &self.reporting
    }

    /// The sandboxed script engine its conditions were compiled for.
    pub fn scripts(&self) -> &Arc<ScriptEngine> {
        &self.scripts
    }
}

/// A stage of the procedure.
#[derive(Debug, Clone)]
pub struct Stage {
    /// Its name.
    pub name: String,
    /// A label people read.
    pub label: Option<String>,
    /// A longer description.
    pub description: Option<String>,
    /// Cases start here.
    pub start: bool,
    /// Cases end here.
    pub terminal: bool,
}

/// A move between stages.
#[derive(Debug, Clone)]
pub struct Transition {
    /// Its position among the policy's `[[transitions]]`, from 0.
    pub index: usize,
    /// The event that triggers it.
    pub event: String,
    /// The stages it may leave (`"*"` already expanded).
    pub from: Vec<String>,
    /// Written as `from = "*"`.
    pub from_any: bool,
    /// The stage it enters.
    pub to: String,
    /// The stage it enters is terminal: taking it closes the case (known once, so
    /// that taking it need not look the stage up).
    pub closes: bool,
    /// A condition that must hold.
    pub guard: Option<Condition>,
    /// Fields that must have a value.
    pub requires: Vec<String>,
    /// Roles allowed to send the event; empty = every role.
    pub roles: Vec<String>,
    /// What happens when it is taken.
    pub actions: Vec<Action>,
    /// Taken on its own this long after the case entered a `from` stage.
    pub after: Option<SlaDuration>,
    /// Taken on its own as soon as the guard holds.
    pub automatic: bool,
    /// Counts as a reopening of the case.
    pub reopens: bool,
    /// A longer description.
    pub description: Option<String>,
}

/// What a transition does besides moving the case.
#[derive(Debug, Clone)]
pub enum Action {
    /// Set field values.
    Set(Fields),
    /// Notify someone.
    Notify {
        /// Who.
        to: String,
        /// The template or text.
        message: Option<String>,
    },
    /// Add a tag.
    Tag(String),
    /// Run a script that returns updates and notifications.
    Script(ActionScript),
}

/// What starts, stops, pauses or resumes a clock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    /// Entering a stage (and, for pauses, staying in it).
    Enter(String),
    /// An event.
    Event(String),
}

/// What a reopen does to a clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reopen {
    /// Start again with the full target.
    Restart,
    /// Go on from where it stopped.
    Resume,
    /// Stay stopped.
    Keep,
}

/// An SLA as the policy declares it; each case runs a clock for it.
#[derive(Debug, Clone)]
pub struct Sla {
    /// Its name.
    pub name: String,
    /// Target, warnings and counting rules.
    pub rule: SlaRule,
    /// The calendar it counts on.
    pub calendar: String,
    /// What starts it.
    pub start: Vec<Trigger>,
    /// What stops it.
    pub stop: Vec<Trigger>,
    /// What pauses it.
    pub pause: Vec<Trigger>,
    /// What resumes it after an event pause.
    pub resume: Vec<Trigger>,
    /// The cases it applies to; none = all.
    pub applies_when: Option<Condition>,
    /// What a reopen does.
    pub on_reopen: Reopen,
    /// Longer targets that may be granted, in order.
    pub extensions: Vec<Extension>,
    /// What a breach does.
    pub on_breach: Breach,
    /// The rule it comes from.
    pub regulation: Option<String>,
    /// A longer description.
    pub description: Option<String>,
}

/// A longer target that may be granted.
#[derive(Debug, Clone)]
pub struct Extension {
    /// Its name.
    pub name: String,
    /// The new target.
    pub to: SlaDuration,
    /// A condition that must hold.
    pub when: Option<Condition>,
    /// Fields that must have a value.
    pub requires: Vec<String>,
    /// The role that may grant it; none = any.
    pub role: Option<String>,
    /// Who is told.
    pub notify: Vec<String>,
    /// A longer description.
    pub description: Option<String>,
}

/// What a breach does.
#[derive(Debug, Clone, Default)]
pub struct Breach {
    /// The queue the case moves to.
    pub escalate_to: Option<String>,
    /// The priority it gets.
    pub priority: Option<i64>,
    /// Who is told.
    pub notify: Vec<String>,
}

/// Routing: the router and when to route again.
#[derive(Debug, Clone)]
pub struct Routing {
    /// Rules and the optional script.
    pub router: Router,
    /// Fields whose change routes the case again.
    pub reroute_on: Vec<String>,
}

/// A scenario test as declared; `redress test` runs it.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// What it shows.
    pub name: String,
    /// The file it is declared in.
    pub file: String,
    /// The line of its `[[tests]]` header.
    pub line: usize,
    /// Its content, checked against the policy.
    pub spec: scenario::ScenarioSpec,
}

pub mod scenario;
