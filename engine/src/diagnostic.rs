//! Diagnostics: every problem found in a policy, with a stable code, the place it
//! came from, and advice.
//!
//! Loading and validation collect diagnostics instead of stopping at the first
//! problem, so a compliance officer sees everything wrong with a file in one run.
//! Codes are stable (tests and tools match on them, never on the prose); every code
//! is listed in [`CODES`] and documented in `docs/diagnostics.md`.

mod render;
mod sources;

use std::fmt;
use std::ops::Range;

use serde::Serialize;

pub use render::{render_human, render_json};
pub use sources::{SourceId, Sources};

/// How bad a diagnostic is: errors make a policy unusable, warnings do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The policy cannot be used until this is fixed.
    Error,
    /// The policy loads, but probably not as its author meant.
    Warning,
}

/// Where a diagnostic points: a file, a byte span in it, and the 1-based line and
/// column (in characters) of the span's start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Location {
    /// The file as the user named it (relative paths stay relative).
    pub file: String,
    /// 1-based line of the start of the span.
    pub line: usize,
    /// 1-based column, in characters, of the start of the span.
    pub column: usize,
    /// Byte range of the offending text.
    #[serde(skip)]
    pub span: Range<usize>,
    #[serde(skip)]
    pub(crate) source: Option<SourceId>,
}

/// One problem found in a policy or one of the files it includes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// Stable kebab-case code, one of [`CODES`].
    pub code: &'static str,
    /// Error or warning.
    pub severity: Severity,
    /// What is wrong, lowercase, user input in backticks, no final period.
    pub message: String,
    /// Where it is, when it is somewhere.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    /// A short text shown under the underlined source.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Advice: how to fix it ("did you mean `investigating`?").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
}

impl Diagnostic {
    /// An error with a code and a message, not yet placed anywhere.
    pub fn error(code: &'static str, message: impl Into<String>) -> Self {
        debug_assert!(
            CODES.iter().any(|(c, _)| *c == code),
            "undocumented code {code}"
        );
        Diagnostic {
            code,
            severity: Severity::Error,
            message: message.into(),
            location: None,
            label: None,
            help: None,
        }
    }

    /// A warning with a code and a message.
    pub fn warning(code: &'static str, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, message)
        }
    }

    /// Places the diagnostic.
    pub fn at(mut self, location: Location) -> Self {
        self.location = Some(location);
        self
    }

    /// Places the diagnostic when a location is known.
    pub fn at_opt(mut self, location: Option<Location>) -> Self {
        self.location = location;
        self
    }

    /// Adds the text shown under the underline.
    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    /// Adds advice.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Adds advice when there is some.
    pub fn with_help_opt(mut self, help: Option<String>) -> Self {
        self.help = help.or(self.help);
        self
    }

    /// True for errors, false for warnings.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(loc) = &self.location {
            write!(f, "{}:{}:{}: ", loc.file, loc.line, loc.column)?;
        }
        write!(
            f,
            "{}[{}]: {}",
            severity_word(self.severity),
            self.code,
            self.message
        )
    }
}

fn severity_word(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}

/// "did you mean `x`?" for a misspelt name, when one candidate is close enough.
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    let best = candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(name, c), c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))?;
    Some(format!("did you mean `{}`?", best.1))
}

/// Every diagnostic code, with a one-line description. `docs/diagnostics.md` is
/// the long form; a test keeps the two in step.
pub const CODES: &[(&str, &str)] = &[
    ("toml-syntax", "the file is not valid TOML"),
    (
        "unknown-key",
        "a key the policy format does not have (often a typo)",
    ),
    (
        "wrong-type",
        "a value of the wrong type, or not one of the allowed words",
    ),
    ("missing-key", "a key the policy format requires is absent"),
    (
        "duplicate-name",
        "two things share a name that must be unique",
    ),
    ("no-start-stage", "no stage is marked `start = true`"),
    (
        "several-start-stages",
        "more than one stage is marked `start = true`",
    ),
    ("no-terminal-stage", "no stage is marked `terminal = true`"),
    ("start-stage-terminal", "the start stage is also terminal"),
    (
        "unknown-stage",
        "a name used as a stage is not declared under `[stages]`",
    ),
    (
        "unknown-event",
        "a name used as an event is not the `on` of any transition",
    ),
    (
        "unknown-field",
        "a name used as a field is not declared under `[fields]`",
    ),
    (
        "unknown-calendar",
        "a calendar name that is not declared under `[calendars]`",
    ),
    (
        "unknown-role",
        "a role that is not declared under `[roles]`",
    ),
    (
        "unknown-sla",
        "a name used as an SLA is not declared under `[slas]`",
    ),
    (
        "unknown-queue",
        "a queue that no routing rule or `[queues]` entry names",
    ),
    ("unknown-timezone", "a time zone that is not an IANA name"),
    (
        "unreachable-stage",
        "no sequence of transitions leads from the start to this stage",
    ),
    (
        "dead-end-stage",
        "a stage that is not terminal has no transition out of it",
    ),
    (
        "no-way-to-finish",
        "no terminal stage can be reached from this stage",
    ),
    (
        "transition-from-terminal",
        "a transition leaves a terminal stage",
    ),
    (
        "ambiguous-transition",
        "two unguarded transitions on one event leave the same stage",
    ),
    (
        "sla-never-stops",
        "an SLA's stop can never follow its start",
    ),
    (
        "warning-out-of-range",
        "an SLA warning at or beyond 100 % (or at 0 %)",
    ),
    (
        "extension-not-longer",
        "an SLA extension whose target is not longer than what it extends",
    ),
    (
        "no-default-route",
        "routing has no `otherwise` rule, so a complaint could go nowhere",
    ),
    (
        "unreachable-route",
        "a routing rule after the `otherwise` rule can never match",
    ),
    (
        "invalid-duration",
        "a duration that cannot be read (`15 days`, `3 business days` ...)",
    ),
    (
        "invalid-date",
        "a date or time that cannot be read or does not exist",
    ),
    (
        "invalid-hours",
        "business hours that cannot be read (`09:00-12:00`)",
    ),
    (
        "inverted-hours",
        "business hours that end before they start",
    ),
    ("overlapping-hours", "business-hour ranges that overlap"),
    ("inverted-range", "a date range that ends before it starts"),
    (
        "calendar-conflict",
        "a date that is both a holiday and a make-up working day",
    ),
    ("no-working-days", "a calendar with no working day at all"),
    (
        "date-outside-calendar",
        "a date outside the range a calendar's data covers",
    ),
    (
        "invalid-value",
        "a value that does not fit its field (type, range, allowed values)",
    ),
    (
        "reserved-field-name",
        "a field named like a built-in a condition already uses",
    ),
    ("missing-include", "an included file that cannot be read"),
    ("condition-syntax", "a condition that does not compile"),
    ("script-syntax", "a script file that does not compile"),
    (
        "reporting-field-type",
        "a `[reporting]` key names a field of a type it cannot read",
    ),
    (
        "reporting-value-twice",
        "a value listed under two outcomes or two groups in `[reporting]`",
    ),
    (
        "script-unknown-variable",
        "a condition or script names something that does not exist",
    ),
    (
        "script-error",
        "a condition or script was refused by the sandbox",
    ),
    (
        "invalid-action",
        "a transition action that is not exactly one of `set`, `notify`, `tag`, `script`",
    ),
    (
        "invalid-step",
        "a test step that is not exactly one of its kinds",
    ),
    (
        "unknown-policy",
        "a test file whose `policy` cannot be found",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_the_closest_name() {
        let stages = ["received", "investigating", "closed"];
        assert_eq!(
            did_you_mean("investigatng", stages).as_deref(),
            Some("did you mean `investigating`?")
        );
        assert_eq!(did_you_mean("zzz", stages), None);
    }

    #[test]
    fn codes_are_unique_kebab_case() {
        let mut seen = std::collections::BTreeSet::new();
        for (code, _) in CODES {
            assert!(seen.insert(*code), "duplicate code {code}");
            assert!(
                code.chars().all(|c| c.is_ascii_lowercase() || c == '-'),
                "{code}"
            );
        }
    }
}
