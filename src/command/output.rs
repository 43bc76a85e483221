//! Printing: every write to standard output goes through here and returns its I/O
//! error, so that a closed pipe ends the command quietly (see
//! [`ExitStatus::of_error`](crate::exit_status::ExitStatus::of_error)) instead of
//! panicking as `println!` does. Also the report of a policy that does not load,
//! shared by the commands that need one.

use std::io::Write;
use std::path::Path;

use anyhow::Context as _;
use redress_engine::diagnostic::{Diagnostic, render_human};
use redress_engine::policy::{LoadError, Policy, load_policy};
use serde::Serialize;

use super::{Context, Format};

/// Standard output.
pub struct Stdout;

impl Stdout {
    /// Writes bytes and flushes.
    pub fn write_bytes(bytes: &[u8]) -> std::io::Result<()> {
        let mut out = std::io::stdout().lock();
        out.write_all(bytes)?;
        out.flush()
    }

    /// Writes text as it is.
    pub fn print(text: &str) -> std::io::Result<()> {
        Stdout::write_bytes(text.as_bytes())
    }

    /// Writes a value as pretty JSON and a newline.
    pub fn json(value: &impl Serialize) -> anyhow::Result<()> {
        let mut text = serde_json::to_string_pretty(value)?;
        text.push('\n');
        Ok(Stdout::print(&text)?)
    }
}

/// Writes text to standard error; a closed standard error is ignored.
pub fn eprint(text: &str) {
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

/// A file that did not load, as `--format json` prints it.
#[derive(Debug, Serialize)]
pub struct Broken<'a> {
    /// The file as named.
    pub file: String,
    /// Always false.
    pub ok: bool,
    /// Its problems.
    pub diagnostics: &'a [Diagnostic],
}

/// Loads the policy a command works on. A file that cannot be read is an error (exit
/// status 3); a policy with errors is reported (diagnostics on standard error, or as
/// JSON on standard output) and gives `None` (exit status 1).
pub fn load_or_report(
    path: &Path,
    format: Format,
    context: Context,
) -> anyhow::Result<Option<Policy>> {
    std::fs::metadata(path).with_context(|| format!("cannot read `{}`", path.display()))?;
    match load_policy(path) {
        Ok(policy) => Ok(Some(policy)),
        Err(e) => {
            report_broken(path, &e, format, context)?;
            Ok(None)
        }
    }
}

/// Reports a file that did not load.
pub fn report_broken(
    path: &Path,
    e: &LoadError,
    format: Format,
    context: Context,
) -> anyhow::Result<()> {
    match format {
        Format::Human => eprint(&render_human(
            &e.diagnostics,
            &e.sources,
            context.colors.stderr,
        )),
        Format::Json => Stdout::json(&Broken {
            file: path.display().to_string(),
            ok: false,
            diagnostics: &e.diagnostics,
        })?,
    }
    Ok(())
}
