//! `redress validate PATH...`: check policies, test files and calendar data.

use std::fmt::Write as _;
use std::path::PathBuf;

use redress_engine::diagnostic::{Diagnostic, Sources, render_human};
use redress_engine::policy::discover::{self as files, Kind};
use redress_engine::policy::{check_calendar_file, check_policy, load_test_file};
use serde::Serialize;

use super::output::Stdout;
use super::{Context, Format};
use crate::exit_status::ExitStatus;
use crate::terminal::{Style, paint};

/// Arguments of `redress validate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Policy files, test files, calendar data files, or folders holding them.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

/// What validation found in one file.
#[derive(Debug, Serialize)]
struct FileResult {
    file: String,
    kind: &'static str,
    ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    policy: Option<PolicySummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tests: Option<usize>,
    diagnostics: Vec<Diagnostic>,
    #[serde(skip)]
    sources: Sources,
}

#[derive(Debug, Serialize)]
struct PolicySummary {
    id: String,
    version: String,
    hash: String,
}

pub fn run(args: Args, context: Context) -> anyhow::Result<ExitStatus> {
    let files = files::expand(&args.paths)?;
    let results: Vec<FileResult> = files.iter().map(|f| check(f)).collect();
    let failed = results.iter().filter(|r| !r.ok).count();
    match args.format {
        Format::Json => Stdout::json(&results)?,
        Format::Human => Stdout::print(&human(&results, failed, context.colors.stdout))?,
    }
    Ok(ExitStatus::problems_if(failed > 0))
}

fn check(path: &std::path::Path) -> FileResult {
    let file = path.display().to_string();
    match files::kind(path) {
        Kind::Policy => {
            let report = check_policy(path);
            let policy = report.policy.as_ref().map(|p| PolicySummary {
                id: p.id().to_string(),
                version: p.version().to_string(),
                hash: p.hash().to_string(),
            });
            let ok = policy.is_some();
            FileResult {
                file,
                kind: "policy",
                ok,
                policy,
                tests: None,
                diagnostics: report.diagnostics,
                sources: report.sources,
            }
        }
        Kind::Tests => match load_test_file(path) {
            Ok(t) => FileResult {
                file,
                kind: "tests",
                ok: true,
                policy: None,
                tests: Some(t.scenarios.len()),
                diagnostics: Vec::new(),
                sources: Sources::new(),
            },
            Err(e) => FileResult {
                file,
                kind: "tests",
                ok: false,
                policy: None,
                tests: None,
                diagnostics: e.diagnostics,
                sources: e.sources,
            },
        },
        Kind::Calendar => {
            let (diagnostics, sources) = check_calendar_file(path);
            let ok = !diagnostics.iter().any(Diagnostic::is_error);
            FileResult {
                file,
                kind: "calendar",
                ok,
                policy: None,
                tests: None,
                diagnostics,
                sources,
            }
        }
    }
}

fn human(results: &[FileResult], failed: usize, color: bool) -> String {
    let mut out = String::new();
    for r in results {
        if !r.diagnostics.is_empty() {
            out.push_str(&render_human(&r.diagnostics, &r.sources, color));
        }
        let detail = match (&r.policy, r.tests) {
            (Some(p), _) => format!(
                " (policy `{}` version {}, hash {})",
                p.id,
                p.version,
                &p.hash[..12.min(p.hash.len())]
            ),
            (None, Some(n)) => format!(" ({n} tests)"),
            _ => String::new(),
        };
        let errors = r.diagnostics.iter().filter(|d| d.is_error()).count();
        if r.ok {
            let _ = writeln!(
                out,
                "{}: {}{detail}",
                paint("ok", Style::Good, color),
                r.file
            );
        } else {
            let _ = writeln!(
                out,
                "{}: {} ({errors} {})",
                paint("FAILED", Style::Bad, color),
                r.file,
                if errors == 1 { "problem" } else { "problems" }
            );
        }
    }
    let _ = writeln!(
        out,
        "{} files checked, {} sound, {failed} with problems",
        results.len(),
        results.len() - failed
    );
    out
}
