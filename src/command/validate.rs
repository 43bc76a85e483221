//! `redress validate PATH...`: check policies, test files and calendar data.

use std::fmt::Write as _;
use std::path::PathBuf;

use redress_engine::diagnostic::{Diagnostic, Sources, render_human};
use redress_engine::policy::discover as files;
use redress_engine::policy::{CheckOptions, FileReport, check_file};
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
    /// "Today" for the warning about calendar data that runs out
    /// (`calendar-data-ends`), as `YYYY-MM-DD`; default: the current date (UTC).
    #[arg(long, value_name = "DATE")]
    as_of: Option<chrono::NaiveDate>,
    /// Fail (exit 1) on warnings too.
    #[arg(long)]
    deny_warnings: bool,
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
    let options = CheckOptions {
        as_of: Some(
            args.as_of
                .unwrap_or_else(|| chrono::Utc::now().date_naive()),
        ),
    };
    let mut results: Vec<FileResult> = files.iter().map(|f| check(f, options)).collect();
    if args.deny_warnings {
        for r in &mut results {
            r.ok &= r.diagnostics.iter().all(Diagnostic::is_error);
        }
    }
    let failed = results.iter().filter(|r| !r.ok).count();
    match args.format {
        Format::Json => Stdout::json(&results)?,
        Format::Human => Stdout::print(&human(&results, failed, context.colors.stdout))?,
    }
    Ok(ExitStatus::problems_if(failed > 0))
}

fn check(path: &std::path::Path, options: CheckOptions) -> FileResult {
    let file = path.display().to_string();
    match check_file(path, options) {
        FileReport::Policy(report) => {
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
        FileReport::Tests(tests) => match tests {
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
        FileReport::Calendar {
            diagnostics,
            sources,
        } => {
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
        // With `--deny-warnings` a file can fail on warnings alone: count those then.
        let errors = match r.diagnostics.iter().filter(|d| d.is_error()).count() {
            0 => r.diagnostics.len(),
            n => n,
        };
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
