//! Rendering diagnostics: for people (the offending TOML underlined) and for
//! machines (JSON).

use codespan_reporting::diagnostic::{Diagnostic as Report, Label};
use codespan_reporting::term::{self, Config, termcolor::Buffer};

use super::{Diagnostic, Severity, Sources};

/// Renders diagnostics as a person reads them in a terminal, each with the
/// offending source underlined. `color` adds ANSI colours.
pub fn render_human(diagnostics: &[Diagnostic], sources: &Sources, color: bool) -> String {
    let mut buffer = if color {
        Buffer::ansi()
    } else {
        Buffer::no_color()
    };
    let config = Config::default();
    for diagnostic in diagnostics {
        let report = to_report(diagnostic);
        if term::emit(&mut buffer, &config, sources.files(), &report).is_err() {
            // The location no longer fits its file: fall back to one plain line.
            buffer.clear();
            return diagnostics.iter().map(|d| format!("{d}\n")).collect();
        }
    }
    String::from_utf8_lossy(buffer.as_slice()).into_owned()
}

fn to_report(d: &Diagnostic) -> Report<usize> {
    let report = match d.severity {
        Severity::Error => Report::error(),
        Severity::Warning => Report::warning(),
    }
    .with_code(d.code.as_str())
    .with_message(&d.message);
    let report = match d.location.as_ref().and_then(|l| Some((l.source?, l))) {
        Some((id, loc)) => {
            let label = Label::primary(id.0, loc.span.clone());
            let label = match &d.label {
                Some(text) => label.with_message(text),
                None => label,
            };
            report.with_labels(vec![label])
        }
        None => report,
    };
    match &d.help {
        Some(help) => report.with_notes(vec![format!("help: {help}")]),
        None => report,
    }
}
