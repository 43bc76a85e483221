//! `redress test PATH...`: run policy scenario tests on a virtual clock.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use redress_engine::diagnostic::render_human;
use redress_engine::policy::{LoadError, Policy, Scenario, load_policy, load_test_file};
use redress_engine::runtime::scenario::{CaseExplanation, ScenarioResult, run_scenario};
use serde::Serialize;

use super::Format;
use redress_engine::policy::discover::{self as files, Kind};

/// Arguments of `redress test`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Policy files (their own `[[tests]]` and the test files in `tests/` beside
    /// them), test files, or folders holding them.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    format: Format,
    /// After each step, print why the case is where it is: the routing decision and
    /// each clock's counted, paused and skipped intervals.
    #[arg(long)]
    explain: bool,
}

/// A file that could not be loaded.
#[derive(Debug, Serialize)]
struct Broken {
    file: String,
    problems: String,
}

#[derive(Debug, Serialize)]
struct Summary {
    results: Vec<ScenarioResult>,
    broken: Vec<Broken>,
    passed: usize,
    failed: usize,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let files = with_test_files_beside(files::expand(&args.paths)?);
    let mut summary = Summary {
        results: Vec::new(),
        broken: Vec::new(),
        passed: 0,
        failed: 0,
    };
    for file in &files {
        match load(file) {
            Ok(None) => {}
            Ok(Some((policy, scenarios))) => {
                for s in &scenarios {
                    let result = run_scenario(&policy, s, args.explain);
                    if args.format == Format::Human {
                        print_result(&result);
                    }
                    summary.results.push(result);
                }
            }
            Err(e) => {
                let problems = render_human(&e.diagnostics, &e.sources, false);
                if args.format == Format::Human {
                    println!("error: cannot load {}\n{problems}", file.display());
                }
                summary.broken.push(Broken {
                    file: file.display().to_string(),
                    problems,
                });
            }
        }
    }
    summary.passed = summary.results.iter().filter(|r| r.passed).count();
    summary.failed = summary.results.len() - summary.passed + summary.broken.len();
    match args.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&summary)?),
        Format::Human => print_failures(&summary),
    }
    Ok(match summary.failed {
        0 => ExitCode::SUCCESS,
        _ => ExitCode::from(1),
    })
}

/// Adds, for each policy file, the test files in the `tests/` folder beside it.
fn with_test_files_beside(files: Vec<PathBuf>) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for file in files {
        let beside = file
            .parent()
            .map(|d| d.join("tests"))
            .filter(|d| d.is_dir() && files::kind(&file) == Kind::Policy);
        if !out.contains(&file) {
            out.push(file);
        }
        for extra in beside
            .and_then(|d| files::expand(&[d]).ok())
            .unwrap_or_default()
        {
            if !out.contains(&extra) && files::kind(&extra) == Kind::Tests {
                out.push(extra);
            }
        }
    }
    out
}

/// The policy and scenarios a file holds; `None` for calendar data.
fn load(file: &Path) -> Result<Option<(Policy, Vec<Scenario>)>, LoadError> {
    match files::kind(file) {
        Kind::Calendar => Ok(None),
        Kind::Policy => {
            let policy = load_policy(file)?;
            let scenarios = policy.scenarios().to_vec();
            Ok(Some((policy, scenarios)))
        }
        Kind::Tests => {
            let t = load_test_file(file)?;
            Ok(Some((t.policy, t.scenarios)))
        }
    }
}

fn print_result(r: &ScenarioResult) {
    let status = if r.passed { "ok" } else { "FAILED" };
    println!("test {}:{} {} ... {status}", r.file, r.line, r.name);
    for e in &r.explanations {
        print_explanation(e);
    }
}

fn print_explanation(e: &CaseExplanation) {
    println!("    after {}: stage `{}` at {}", e.after, e.stage, e.at);
    if let Some(route) = &e.route {
        println!("      route: {route}");
    }
    for clock in &e.clocks {
        let deadline = clock
            .deadline
            .map_or("(none)".to_string(), |d| d.to_rfc3339());
        println!("      clock `{}`: deadline {deadline}", clock.rule);
        for rule in &clock.rules {
            println!("        rule: {rule}");
        }
        for i in &clock.intervals {
            println!("        {}", serde_json::to_string(i).unwrap_or_default());
        }
    }
}

fn print_failures(s: &Summary) {
    let failed: Vec<&ScenarioResult> = s.results.iter().filter(|r| !r.passed).collect();
    if !failed.is_empty() {
        println!("\nfailures:");
    }
    for r in failed {
        println!("\n---- {} ({}:{}) ----", r.name, r.file, r.line);
        for m in &r.failures {
            let place = match m.step {
                Some(n) => format!("step {n}"),
                None => "expect".to_string(),
            };
            println!("  {}:{}: {place}: `{}` differs", r.file, m.line, m.what);
            println!("    - expected: {}", m.expected);
            println!("    + actual:   {}", m.actual);
        }
    }
    println!();
    println!("{} passed, {} failed", s.passed, s.failed);
}
