//! [`Code`]: the stable code of every diagnostic, one variant each. The string a
//! code is written as (`unknown-stage`) is derived from the variant's name, its
//! description is an exhaustive match, and `docs/diagnostics.md` is checked against
//! [`Code::iter`], so none of the three can drift from the others.
//!
//! A new code is a new variant (kept in the order of the docs) and a new arm in
//! [`Code::description`]; the compiler points at everything else.

use serde::Serialize;

/// The stable kebab-case code of a diagnostic. Tests and tools match on codes,
/// never on the prose.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    strum::IntoStaticStr,
    strum::EnumIter,
    strum::EnumString,
    strum::Display,
)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Code {
    /// The file is not valid TOML.
    TomlSyntax,
    /// A key the policy format does not have (often a typo).
    UnknownKey,
    /// A value of the wrong type, or not one of the allowed words.
    WrongType,
    /// A key the policy format requires is absent.
    MissingKey,
    /// Two things share a name that must be unique.
    DuplicateName,
    /// No stage is marked `start = true`.
    NoStartStage,
    /// More than one stage is marked `start = true`.
    SeveralStartStages,
    /// No stage is marked `terminal = true`.
    NoTerminalStage,
    /// The start stage is also terminal.
    StartStageTerminal,
    /// A name used as a stage is not declared under `[stages]`.
    UnknownStage,
    /// A name used as an event is not the `on` of any transition.
    UnknownEvent,
    /// A name used as a field is not declared under `[fields]`.
    UnknownField,
    /// A calendar name that is not declared under `[calendars]`.
    UnknownCalendar,
    /// A role that is not declared under `[roles]`.
    UnknownRole,
    /// A name used as an SLA is not declared under `[slas]`.
    UnknownSla,
    /// A queue that no routing rule or `[queues]` entry names.
    UnknownQueue,
    /// A time zone that is not an IANA name.
    UnknownTimezone,
    /// No sequence of transitions leads from the start to this stage.
    UnreachableStage,
    /// A stage that is not terminal has no transition out of it.
    DeadEndStage,
    /// No terminal stage can be reached from this stage.
    NoWayToFinish,
    /// A transition leaves a terminal stage.
    TransitionFromTerminal,
    /// Two unguarded transitions on one event leave the same stage.
    AmbiguousTransition,
    /// An SLA's stop can never follow its start.
    SlaNeverStops,
    /// An SLA warning at or beyond 100 % (or at 0 %).
    WarningOutOfRange,
    /// An SLA extension whose target is not longer than what it extends.
    ExtensionNotLonger,
    /// Routing has no `otherwise` rule, so a complaint could go nowhere.
    NoDefaultRoute,
    /// A routing rule after the `otherwise` rule can never match.
    UnreachableRoute,
    /// A duration that cannot be read (`15 days`, `3 business days` ...).
    InvalidDuration,
    /// A date or time that cannot be read or does not exist.
    InvalidDate,
    /// Business hours that cannot be read (`09:00-12:00`).
    InvalidHours,
    /// Business hours that end before they start.
    InvertedHours,
    /// Business-hour ranges that overlap.
    OverlappingHours,
    /// A date range that ends before it starts.
    InvertedRange,
    /// A date that is both a holiday and a make-up working day.
    CalendarConflict,
    /// A calendar with no working day at all.
    NoWorkingDays,
    /// A date outside the range a calendar's data covers.
    DateOutsideCalendar,
    /// A `[reporting]` key names a field of a type it cannot read.
    ReportingFieldType,
    /// A value listed under two outcomes or two groups in `[reporting]`.
    ReportingValueTwice,
    /// Warning: a calendar's firm data ends within the policy's longest deadline plus 90 days.
    CalendarDataEnds,
    /// A value that does not fit its field (type, range, allowed values).
    InvalidValue,
    /// A field named like a built-in a condition already uses.
    ReservedFieldName,
    /// An included file that cannot be read.
    MissingInclude,
    /// A condition that does not compile.
    ConditionSyntax,
    /// A script file that does not compile.
    ScriptSyntax,
    /// A condition or script names something that does not exist.
    ScriptUnknownVariable,
    /// A condition or script calls a function that does not exist.
    ScriptUnknownFunction,
    /// A routing or action script reads a personal field into a reason, tag or notification.
    ScriptPersonalData,
    /// A condition or script was refused by the sandbox.
    ScriptError,
    /// A transition action that is not exactly one of `set`, `notify`, `tag`, `script`.
    InvalidAction,
    /// A test step that is not exactly one of its kinds.
    InvalidStep,
    /// A test file whose `policy` cannot be found.
    UnknownPolicy,
}

impl Code {
    /// The code as written: `unknown-stage`.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Every code, in the order `docs/diagnostics.md` lists them.
    pub fn iter() -> impl Iterator<Item = Code> + Clone {
        <Code as strum::IntoEnumIterator>::iter()
    }

    /// A one-line description; `docs/diagnostics.md` is the long form.
    pub fn description(self) -> &'static str {
        match self {
            Code::TomlSyntax => "the file is not valid TOML",
            Code::UnknownKey => "a key the policy format does not have (often a typo)",
            Code::WrongType => "a value of the wrong type, or not one of the allowed words",
            Code::MissingKey => "a key the policy format requires is absent",
            Code::DuplicateName => "two things share a name that must be unique",
            Code::NoStartStage => "no stage is marked `start = true`",
            Code::SeveralStartStages => "more than one stage is marked `start = true`",
            Code::NoTerminalStage => "no stage is marked `terminal = true`",
            Code::StartStageTerminal => "the start stage is also terminal",
            Code::UnknownStage => "a name used as a stage is not declared under `[stages]`",
            Code::UnknownEvent => "a name used as an event is not the `on` of any transition",
            Code::UnknownField => "a name used as a field is not declared under `[fields]`",
            Code::UnknownCalendar => "a calendar name that is not declared under `[calendars]`",
            Code::UnknownRole => "a role that is not declared under `[roles]`",
            Code::UnknownSla => "a name used as an SLA is not declared under `[slas]`",
            Code::UnknownQueue => "a queue that no routing rule or `[queues]` entry names",
            Code::UnknownTimezone => "a time zone that is not an IANA name",
            Code::UnreachableStage => {
                "no sequence of transitions leads from the start to this stage"
            }
            Code::DeadEndStage => "a stage that is not terminal has no transition out of it",
            Code::NoWayToFinish => "no terminal stage can be reached from this stage",
            Code::TransitionFromTerminal => "a transition leaves a terminal stage",
            Code::AmbiguousTransition => {
                "two unguarded transitions on one event leave the same stage"
            }
            Code::SlaNeverStops => "an SLA's stop can never follow its start",
            Code::WarningOutOfRange => "an SLA warning at or beyond 100 % (or at 0 %)",
            Code::ExtensionNotLonger => {
                "an SLA extension whose target is not longer than what it extends"
            }
            Code::NoDefaultRoute => {
                "routing has no `otherwise` rule, so a complaint could go nowhere"
            }
            Code::UnreachableRoute => "a routing rule after the `otherwise` rule can never match",
            Code::InvalidDuration => {
                "a duration that cannot be read (`15 days`, `3 business days` ...)"
            }
            Code::InvalidDate => "a date or time that cannot be read or does not exist",
            Code::InvalidHours => "business hours that cannot be read (`09:00-12:00`)",
            Code::InvertedHours => "business hours that end before they start",
            Code::OverlappingHours => "business-hour ranges that overlap",
            Code::InvertedRange => "a date range that ends before it starts",
            Code::CalendarConflict => "a date that is both a holiday and a make-up working day",
            Code::NoWorkingDays => "a calendar with no working day at all",
            Code::DateOutsideCalendar => "a date outside the range a calendar's data covers",
            Code::ReportingFieldType => {
                "a `[reporting]` key names a field of a type it cannot read"
            }
            Code::ReportingValueTwice => {
                "a value listed under two outcomes or two groups in `[reporting]`"
            }
            Code::CalendarDataEnds => {
                "warning: a calendar's firm data ends within the policy's longest deadline plus 90 days of today"
            }
            Code::InvalidValue => {
                "a value that does not fit its field (type, range, allowed values)"
            }
            Code::ReservedFieldName => "a field named like a built-in a condition already uses",
            Code::MissingInclude => "an included file that cannot be read",
            Code::ConditionSyntax => "a condition that does not compile",
            Code::ScriptSyntax => "a script file that does not compile",
            Code::ScriptUnknownFunction => {
                "a condition or script calls a function that does not exist"
            }
            Code::ScriptPersonalData => {
                "a routing or action script reads a personal field into a reason, tag or notification"
            }
            Code::ScriptUnknownVariable => {
                "a condition or script names something that does not exist"
            }
            Code::ScriptError => "a condition or script was refused by the sandbox",
            Code::InvalidAction => {
                "a transition action that is not exactly one of `set`, `notify`, `tag`, `script`"
            }
            Code::InvalidStep => "a test step that is not exactly one of its kinds",
            Code::UnknownPolicy => "a test file whose `policy` cannot be found",
        }
    }
}

impl PartialEq<&str> for Code {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_kebab_case_and_serialise_as_written() {
        let mut seen = std::collections::BTreeSet::new();
        for code in Code::iter() {
            let text = code.as_str();
            assert!(seen.insert(text), "duplicate code {text}");
            assert!(
                text.chars().all(|c| c.is_ascii_lowercase() || c == '-'),
                "{text}"
            );
            assert_eq!(serde_json::to_value(code).ok(), Some(text.into()));
            assert_eq!(text.parse::<Code>().ok(), Some(code));
            assert_eq!(code.to_string(), text);
            assert!(!code.description().is_empty());
        }
    }
}
