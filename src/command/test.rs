//! `redress test PATH...`: run policy scenario tests on a virtual clock.

mod junit;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use redress_engine::diagnostic::{Diagnostic, render_human};
use redress_engine::policy::discover as files;
use redress_engine::policy::{CheckOptions, FileReport, LoadError, Policy, Scenario, check_file};
use redress_engine::runtime::scenario::{CaseExplanation, ScenarioResult, run_scenario};
use serde::Serialize;

use super::Context;
use super::output::Stdout;
use crate::exit_status::ExitStatus;
use crate::terminal::{Style, paint};

/// Arguments of `redress test`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Policy files (their own `[[tests]]` and the test files in `tests/` beside
    /// them), test files, or folders holding them.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Output format (`junit`: JUnit XML for CI systems).
    #[arg(long, value_enum, default_value_t)]
    format: TestFormat,
    /// Run only the tests whose name contains PATTERN.
    #[arg(long, value_name = "PATTERN")]
    run: Option<String>,
    /// Succeed when no test is found (or none matches `--run`); by default that is
    /// a failure, since it usually means a wrong path or pattern.
    #[arg(long)]
    allow_empty: bool,
    /// After each step, print why the case is where it is: the routing decision and
    /// each clock's counted, paused and skipped intervals.
    #[arg(long)]
    explain: bool,
}

/// `redress test --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
enum TestFormat {
    /// For people.
    #[default]
    Human,
    /// For machines: results, and broken files with their diagnostics.
    Json,
    /// JUnit XML.
    Junit,
}

/// A file that could not be loaded, with its problems.
#[derive(Debug, Serialize)]
struct BrokenFile {
    file: String,
    diagnostics: Vec<Diagnostic>,
}

#[derive(Debug, Serialize)]
struct Summary {
    results: Vec<ScenarioResult>,
    broken: Vec<BrokenFile>,
    passed: usize,
    failed: usize,
    /// Tests left out by `--run`.
    filtered_out: usize,
}

pub fn run(args: Args, context: Context) -> anyhow::Result<ExitStatus> {
    let color = context.colors.stdout && args.format == TestFormat::Human;
    let files = with_test_files_beside(files::expand(&args.paths)?, CheckOptions::default());
    let mut summary = Summary {
        results: Vec::new(),
        broken: Vec::new(),
        passed: 0,
        failed: 0,
        filtered_out: 0,
    };
    for (file, report) in files {
        let file = &file;
        match scenarios_of(report) {
            Ok(None) => {}
            Ok(Some((policy, scenarios))) => {
                for s in &scenarios {
                    if !args
                        .run
                        .as_ref()
                        .is_none_or(|p| s.name.contains(p.as_str()))
                    {
                        summary.filtered_out += 1;
                        continue;
                    }
                    let result = run_scenario(&policy, s, args.explain);
                    if args.format == TestFormat::Human {
                        Stdout::print(&result_text(&result, color))?;
                    }
                    summary.results.push(result);
                }
            }
            Err(e) => {
                if args.format == TestFormat::Human {
                    Stdout::print(&format!(
                        "{}: cannot load {}\n{}",
                        paint("error", Style::Bad, color),
                        file.display(),
                        render_human(&e.diagnostics, &e.sources, color)
                    ))?;
                }
                summary.broken.push(BrokenFile {
                    file: file.display().to_string(),
                    diagnostics: e.diagnostics,
                });
            }
        }
    }
    summary.passed = summary.results.iter().filter(|r| r.passed).count();
    summary.failed = summary.results.len() - summary.passed + summary.broken.len();
    let empty = summary.results.is_empty() && summary.broken.is_empty();
    match args.format {
        TestFormat::Json => Stdout::json(&summary)?,
        TestFormat::Junit => Stdout::print(&junit::render(&summary))?,
        TestFormat::Human => Stdout::print(&failures_text(&summary, color))?,
    }
    if empty && !args.allow_empty {
        super::output::eprint(&match &args.run {
            Some(p) => {
                format!("error: no test name contains `{p}` (`--allow-empty` accepts that)\n")
            }
            None => "error: no tests found (`--allow-empty` accepts that)\n".to_string(),
        });
        return Ok(ExitStatus::Problems);
    }
    Ok(ExitStatus::problems_if(summary.failed > 0))
}

/// Each file checked (read and parsed once), and after each policy file the test
/// files in the `tests/` folder beside it.
fn with_test_files_beside(
    files: Vec<PathBuf>,
    options: CheckOptions,
) -> Vec<(PathBuf, FileReport)> {
    let mut out: Vec<(PathBuf, FileReport)> = Vec::new();
    let seen = |out: &[(PathBuf, FileReport)], file: &Path| out.iter().any(|(f, _)| f == file);
    for file in files {
        if seen(&out, &file) {
            continue;
        }
        let report = check_file(&file, options);
        let beside = file
            .parent()
            .map(|d| d.join("tests"))
            .filter(|d| d.is_dir() && matches!(report, FileReport::Policy(_)));
        out.push((file, report));
        for extra in beside
            .and_then(|d| files::expand(&[d]).ok())
            .unwrap_or_default()
        {
            if seen(&out, &extra) {
                continue;
            }
            if let report @ FileReport::Tests(_) = check_file(&extra, options) {
                out.push((extra, report));
            }
        }
    }
    out
}

/// The policy and scenarios a checked file holds; `None` for calendar data.
fn scenarios_of(report: FileReport) -> Result<Option<(Policy, Vec<Scenario>)>, LoadError> {
    match report {
        FileReport::Calendar { .. } => Ok(None),
        FileReport::Policy(report) => {
            let policy = report.into_policy()?;
            let scenarios = policy.scenarios().to_vec();
            Ok(Some((policy, scenarios)))
        }
        FileReport::Tests(tests) => {
            let t = tests?;
            Ok(Some((t.policy, t.scenarios)))
        }
    }
}

fn result_text(r: &ScenarioResult, color: bool) -> String {
    let status = match r.passed {
        true => paint("ok", Style::Good, color),
        false => paint("FAILED", Style::Bad, color),
    };
    let mut out = format!("test {}:{} {} ... {status}\n", r.file, r.line, r.name);
    for e in &r.explanations {
        explanation_text(&mut out, e);
    }
    out
}

fn explanation_text(out: &mut String, e: &CaseExplanation) {
    let _ = writeln!(
        out,
        "    after {}: stage `{}` at {}",
        e.after, e.stage, e.at
    );
    if let Some(route) = &e.route {
        let _ = writeln!(out, "      route: {route}");
    }
    for clock in &e.clocks {
        let deadline = clock
            .deadline
            .map_or("(none)".to_string(), |d| d.to_rfc3339());
        let _ = writeln!(out, "      clock `{}`: deadline {deadline}", clock.rule);
        for rule in &clock.rules {
            let _ = writeln!(out, "        rule: {rule}");
        }
        for i in &clock.intervals {
            let _ = writeln!(
                out,
                "        {}",
                serde_json::to_string(i).unwrap_or_default()
            );
        }
    }
}

fn failures_text(s: &Summary, color: bool) -> String {
    let mut out = String::new();
    let failed: Vec<&ScenarioResult> = s.results.iter().filter(|r| !r.passed).collect();
    if !failed.is_empty() {
        out.push_str("\nfailures:\n");
    }
    for r in failed {
        let _ = writeln!(out, "\n---- {} ({}:{}) ----", r.name, r.file, r.line);
        for m in &r.failures {
            let place = match m.step {
                Some(n) => format!("step {n}"),
                None => "expect".to_string(),
            };
            let _ = writeln!(
                out,
                "  {}:{}: {place}: `{}` differs",
                r.file, m.line, m.what
            );
            let _ = writeln!(out, "    - expected: {}", m.expected);
            let _ = writeln!(out, "    + actual:   {}", m.actual);
        }
    }
    let failed = match s.failed {
        0 => "0 failed".to_string(),
        n => paint(&format!("{n} failed"), Style::Bad, color),
    };
    let _ = write!(out, "\n{} passed, {failed}", s.passed);
    if s.filtered_out > 0 {
        let _ = write!(out, ", {} filtered out", s.filtered_out);
    }
    out.push('\n');
    out
}
