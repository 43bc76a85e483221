//! The functional core: [`decide`] turns a [`Command`] on a [`Case`] into the
//! [`Event`]s it produces, or a typed [`Refusal`]; [`crate::case::apply`] folds them
//! in; [`next_due`] tells a scheduler when the case next needs the runtime's own
//! attention (a warning, a breach, an `after` transition).
//!
//! No I/O and no system clock: `now` is an argument, notifications are events, and
//! the same events always give the same case. [`decide_and_apply`] is `decide`
//! followed by `apply` of each event, without folding them twice.
//!
//! On top of the core: [`VirtualCase`] (a case on a virtual clock that fires due
//! timers in time order), [`scenario`] (the `[[tests]]` runner), [`replay`] (event
//! files over worker threads) and [`simulate`] (generated complaints).
//!
//! Semantics, documented once:
//!
//! - A case keeps the policy version (hash) it was taken in on; a command decided
//!   with another version is refused (`policy-mismatch`).
//! - A command may carry an idempotency key: repeating a key the case has seen adds
//!   nothing and returns the versions of the events the first command produced
//!   ([`Decision::repeat_of`]). A refused command records nothing, so repeating it
//!   decides again. A command may carry the version it expects; a stale one is
//!   refused (`stale-version`) and changes nothing.
//! - Clocks: leaving a stage that pauses a clock resumes it; an event in `resume`
//!   resumes, in `pause` pauses, in `stop` stops; entering a stage in `stop` stops the
//!   clock, in `start` starts one never started (if `applies_when` holds then), in
//!   `pause` pauses it. Entering a terminal stage (or a withdrawal) stops every clock
//!   still running. Intake enters the start stage at `received_at`, so clocks start
//!   at receipt.
//! - A `reopens = true` transition adds one to the reopen count and applies each
//!   stopped clock's `on_reopen`: `restart` and `resume` start a new run with the full
//!   target (a run cannot yet be continued), `keep` leaves it stopped.
//! - After every command the runtime takes `automatic` transitions whose condition
//!   holds (at most [`MAX_AUTOMATIC`] in a row). Their conditions are checked when
//!   something happens to the case, not as time passes.

mod calendar_days;
mod clocks;
mod draft;
mod due;
mod refusal;
mod timers;
mod transition;
mod virtual_case;

pub mod migrate;
pub mod replay;
pub mod scenario;
pub mod simulate;

/// What the runtime's tests share.
#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod test_support {
    use crate::policy::{Policy, load_policy};

    /// The shipped bank policy, `policies/bank.toml`.
    pub(crate) fn bank() -> Policy {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies/bank.toml");
        load_policy(&path).unwrap()
    }
}

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::case::{Actor, Case, Event};
use crate::policy::Policy;

pub use calendar_days::CalendarDays;
pub use due::{Fired, fire_due};
pub use refusal::{Refusal, RefusalCode};
pub use timers::next_due;
pub use virtual_case::{Counts, VirtualCase};

use draft::{Draft, Record};

/// Automatic transitions taken in a row after one command, at most.
pub const MAX_AUTOMATIC: usize = 8;

/// Field input as users send it (JSON), checked against the policy's field types.
pub type Data = serde_json::Map<String, serde_json::Value>;

/// Something asked of a case.
#[derive(Debug, Clone, PartialEq)]
pub struct Command {
    /// What is asked.
    pub kind: CommandKind,
    /// Who asks; `None` for the runtime's own timers.
    pub actor: Option<Actor>,
    /// An idempotency key: the same key twice adds nothing the second time.
    pub key: Option<String>,
    /// The case version the sender saw; a different one is refused.
    pub expected_version: Option<u64>,
}

/// The kinds of command.
#[derive(Debug, Clone, PartialEq)]
pub enum CommandKind {
    /// Take a complaint in.
    Intake {
        /// When it was received (may be before now).
        received_at: DateTime<Utc>,
        /// Its fields.
        data: Data,
    },
    /// A named transition event, with field values.
    Event {
        /// The event.
        name: String,
        /// Field values sent with it.
        data: Data,
    },
    /// Update fields.
    Update {
        /// The new values.
        data: Data,
    },
    /// Assign or reassign.
    Assign {
        /// The new assignee.
        assignee: String,
    },
    /// Add a note.
    Note {
        /// Its text.
        text: String,
    },
    /// Grant an SLA extension.
    Extend {
        /// The SLA.
        sla: String,
        /// The extension by name or target; default the next one not yet granted.
        extension: Option<String>,
    },
    /// The complainant withdraws (the policy's `withdraw` transition if it has one).
    Withdraw,
    /// A timer the runtime scheduled fires.
    Fire(Timer),
}

/// What the runtime schedules on a case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "timer", rename_all = "kebab-case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Timer {
    /// An SLA warning threshold.
    Warning {
        /// The SLA.
        sla: String,
        /// Percent of the target.
        percent: u8,
    },
    /// An SLA deadline.
    Breach {
        /// The SLA.
        sla: String,
    },
    /// A transition with `after`.
    After {
        /// Its position among the policy's transitions.
        transition: usize,
    },
}

impl std::fmt::Display for Timer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Timer::Warning { sla, percent } => write!(f, "`{sla}` warning at {percent}%"),
            Timer::Breach { sla } => write!(f, "`{sla}` breach"),
            Timer::After { transition } => write!(f, "`after` of transition {}", transition + 1),
        }
    }
}

/// What a command produced.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// The new events, to append and apply in order.
    pub events: Vec<Event>,
    /// For a repeated idempotency key: the versions of the first and last event the
    /// first command produced (then `events` is empty).
    pub repeat_of: Option<(u64, u64)>,
}

impl Command {
    /// A command with no actor, key or expected version.
    pub fn new(kind: CommandKind) -> Self {
        Command {
            kind,
            actor: None,
            key: None,
            expected_version: None,
        }
    }

    /// The same command sent by `actor`.
    pub fn by(mut self, actor: Actor) -> Self {
        self.actor = Some(actor);
        self
    }
}

/// Decides what `command` does to `case` at `now`: the events, or why not. Reads
/// nothing but its arguments.
pub fn decide(
    policy: &Policy,
    case: &Case,
    command: &Command,
    now: DateTime<Utc>,
) -> Result<Decision, Refusal> {
    let mut scratch = case.clone();
    drafted(policy, &mut scratch, command, now, How::default())
}

/// How `drafted` runs a command on the case it is given.
#[derive(Clone, Copy, Default)]
pub(crate) struct How<'c> {
    /// On the case itself, put back on a refusal (else on a copy).
    pub(crate) in_place: bool,
    /// A warning or breach timer taken from [`next_due`] of this very case at or
    /// before `now`: it need not be checked again.
    pub(crate) due_known: bool,
    /// The policy's default calendar as scripts see it, when the caller keeps one
    /// (else each command makes its own).
    pub(crate) calendar: Option<&'c Arc<CalendarDays>>,
}

/// What a command did to a case it was only folded into ([`folded`]): how many
/// events it folded in. The events themselves are not kept, so they may leave out
/// what folding does not read (who acted, why a clock moved, what a notification
/// said); none of them leaves the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Folded {
    /// Events folded into the case (none for a repeated idempotency key).
    pub(crate) events: usize,
}

/// What `decide` and `decide_and_apply` share: the repeat check, the preconditions,
/// and running the command on `case`, its events folded in as they are decided.
pub(crate) fn drafted(
    policy: &Policy,
    case: &mut Case,
    command: &Command,
    now: DateTime<Utc>,
    how: How<'_>,
) -> Result<Decision, Refusal> {
    if let Some(repeat) = command.key.as_ref().and_then(|k| case.keys.get(k)) {
        return Ok(Decision {
            events: Vec::new(),
            repeat_of: Some(*repeat),
        });
    }
    let events = match run_draft(policy, case, command, now, how, Record::Kept(Vec::new()))? {
        Record::Kept(events) => events,
        Record::Folded(_) => Vec::new(),
    };
    Ok(Decision {
        events,
        repeat_of: None,
    })
}

/// [`drafted`] for a caller that only folds the events into `case` and counts them
/// (replay, simulation): the fast path, which builds less of each event.
pub(crate) fn folded(
    policy: &Policy,
    case: &mut Case,
    command: &Command,
    now: DateTime<Utc>,
    how: How<'_>,
) -> Result<Folded, Refusal> {
    if command
        .key
        .as_ref()
        .is_some_and(|k| case.keys.contains_key(k))
    {
        return Ok(Folded { events: 0 });
    }
    let events = match run_draft(policy, case, command, now, how, Record::Folded(0))? {
        Record::Kept(events) => events.len(),
        Record::Folded(n) => n,
    };
    Ok(Folded { events })
}

/// The preconditions, then the command run on `case` in a draft recording as
/// `record` says; on a refusal the case is put back.
fn run_draft(
    policy: &Policy,
    case: &mut Case,
    command: &Command,
    now: DateTime<Utc>,
    how: How<'_>,
    record: Record,
) -> Result<Record, Refusal> {
    check_preconditions(policy, case, command, now)?;
    let mut draft = Draft::new(policy, case, command, now, how, record);
    match draft.run(&command.kind) {
        Ok(()) => Ok(draft.into_record()),
        Err(refusal) => {
            draft.undo();
            Err(refusal)
        }
    }
}

/// [`decide`], then applies the events to `case`: the same result as applying each
/// event in turn, without folding them twice (the decision folds them into the case
/// as it is made, and puts the case back on a refusal). A refusal leaves `case` as
/// it was.
pub fn decide_and_apply(
    policy: &Policy,
    case: &mut Case,
    command: &Command,
    now: DateTime<Utc>,
) -> Result<Decision, Refusal> {
    let how = How {
        in_place: true,
        ..How::default()
    };
    drafted(policy, case, command, now, how)
}

fn check_preconditions(
    policy: &Policy,
    case: &Case,
    command: &Command,
    now: DateTime<Utc>,
) -> Result<(), Refusal> {
    if let Some(expected) = command.expected_version
        && expected != case.version
    {
        return Err(Refusal::StaleVersion {
            expected,
            actual: case.version,
        });
    }
    let intake = matches!(command.kind, CommandKind::Intake { .. });
    if case.is_received() == intake {
        return Err(match intake {
            true => Refusal::AlreadyReceived {
                case: case.id.clone(),
            },
            false => Refusal::NotReceived {
                case: case.id.clone(),
            },
        });
    }
    if intake {
        return Ok(());
    }
    if &*case.policy != policy.hash() {
        return Err(Refusal::PolicyMismatch {
            case_policy: case.policy.to_string(),
            given: policy.hash().to_string(),
        });
    }
    if now < case.updated_at {
        return Err(Refusal::BeforeLastEvent {
            now,
            last: case.updated_at,
        });
    }
    Ok(())
}
