//! Diagnostics: every problem found in a policy, with a stable code, the place it
//! came from, and advice.
//!
//! Loading and validation collect diagnostics instead of stopping at the first
//! problem, so a compliance officer sees everything wrong with a file in one run.
//! Codes are stable (tests and tools match on them, never on the prose); every code
//! is a [`Code`] and documented in `docs/diagnostics.md`.

mod code;
mod fuzzy;
mod render;
mod sources;

use std::fmt;
use std::ops::Range;

use serde::Serialize;

pub use code::Code;
pub use fuzzy::{closest, did_you_mean};
pub use render::render_human;
pub use sources::{SourceId, Sources};

/// How bad a diagnostic is: errors make a policy unusable, warnings do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Severity {
    /// The policy cannot be used until this is fixed.
    Error,
    /// The policy loads, but probably not as its author meant.
    Warning,
}

/// Where a diagnostic points: a file, a byte span in it, and the 1-based line and
/// column (in characters) of the span's start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Diagnostic {
    /// Stable kebab-case code.
    pub code: Code,
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
    pub fn error(code: Code, message: impl Into<String>) -> Self {
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
    pub fn warning(code: Code, message: impl Into<String>) -> Self {
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
