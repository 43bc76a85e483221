//! Loading policies and test files from disk (or from text), with every problem
//! reported at once.

use std::fmt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::parse::{self, Document};
use super::raw::RawStage;
use super::validate::{self, Validator};
use super::{Policy, Scenario};
use crate::diagnostic::{Code, Diagnostic, Sources, render_human};

/// Why a policy (or test file) could not be loaded: every problem found, and the
/// sources they point into, for rendering.
#[derive(Debug)]
pub struct LoadError {
    /// Every problem, errors and warnings, in the order found.
    pub diagnostics: Vec<Diagnostic>,
    /// The files read.
    pub sources: Sources,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&render_human(&self.diagnostics, &self.sources, false))
    }
}

impl std::error::Error for LoadError {}

/// The result of checking a policy: the policy when it is sound, and every
/// diagnostic (warnings too) either way.
#[derive(Debug)]
pub struct Report {
    /// The policy, when no error was found.
    pub policy: Option<Policy>,
    /// Errors and warnings.
    pub diagnostics: Vec<Diagnostic>,
    /// The files read.
    pub sources: Sources,
}

/// Loads and validates a policy file and everything it includes.
pub fn load_policy(path: &Path) -> Result<Policy, LoadError> {
    into_result(check_policy(path))
}

/// Loads a policy from text; includes are read relative to `dir`.
pub fn load_policy_str(name: &str, text: &str, dir: &Path) -> Result<Policy, LoadError> {
    into_result(check_policy_str(name, text, dir))
}

fn into_result(report: Report) -> Result<Policy, LoadError> {
    match report.policy {
        Some(policy) => Ok(policy),
        None => Err(LoadError {
            diagnostics: report.diagnostics,
            sources: report.sources,
        }),
    }
}

/// Checks a policy file, keeping warnings as well as errors.
pub fn check_policy(path: &Path) -> Report {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let dir = path.parent().unwrap_or(Path::new("."));
            check_policy_str(&path.display().to_string(), &text, dir)
        }
        Err(e) => unreadable(path, &e),
    }
}

fn unreadable(path: &Path, e: &std::io::Error) -> Report {
    let d = Diagnostic::error(
        Code::MissingInclude,
        format!("cannot read `{}`: {e}", path.display()),
    );
    Report {
        policy: None,
        diagnostics: vec![d],
        sources: Sources::new(),
    }
}

/// Checks a policy given as text.
pub fn check_policy_str(name: &str, text: &str, dir: &Path) -> Report {
    check(name, text, dir, None)
}

/// Loads a policy version from the files it was read from, as
/// [`Policy::sources`] gives them (the policy first, then its includes), without
/// touching the disk: how a server brings back the version a running case is pinned
/// to after the files on disk have changed. The hash is the same as the original's.
pub fn load_policy_sources(files: &[(String, String)]) -> Result<Policy, LoadError> {
    let Some((name, text)) = files.first() else {
        return Err(LoadError {
            diagnostics: vec![Diagnostic::error(
                Code::MissingInclude,
                "a stored policy version has no files",
            )],
            sources: Sources::new(),
        });
    };
    let bundle: std::collections::BTreeMap<String, String> = files[1..].iter().cloned().collect();
    let dir = Path::new(name).parent().unwrap_or(Path::new("."));
    into_result(check(name, text, dir, Some(&bundle)))
}

fn check(
    name: &str,
    text: &str,
    dir: &Path,
    bundle: Option<&std::collections::BTreeMap<String, String>>,
) -> Report {
    let mut sources = Sources::new();
    let source = sources.add(name, text);
    let mut diagnostics = Vec::new();
    let locator = parse::parse_toml(text, source, &sources, &mut diagnostics);
    let doc = parse::read_document(&locator, source, &sources, &mut diagnostics);
    let policy = validate::validate(
        &doc,
        &locator,
        source,
        &mut sources,
        &mut diagnostics,
        dir,
        bundle,
    );
    let policy = policy.map(|mut p| {
        p.hash = content_hash(&sources);
        let ids = (0..sources.len()).map(crate::diagnostic::SourceId);
        p.sources = ids
            .map(|id| (sources.name(id).to_string(), sources.text(id).to_string()))
            .collect();
        p.files = p.sources.iter().map(|(n, _)| PathBuf::from(n)).collect();
        p
    });
    Report {
        policy,
        diagnostics,
        sources,
    }
}

/// SHA-256 over every file read, in the order read, each prefixed by its length so
/// that moving text from one file to another changes the hash.
fn content_hash(sources: &Sources) -> String {
    let mut hasher = Sha256::new();
    for i in 0..sources.len() {
        let text = sources.text(crate::diagnostic::SourceId(i));
        hasher.update((text.len() as u64).to_le_bytes());
        hasher.update(text.as_bytes());
    }
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A test file kept beside a policy: the policy it tests, loaded, and its checked
/// scenarios.
#[derive(Debug)]
pub struct TestFile {
    /// The policy under test.
    pub policy: Policy,
    /// Its scenarios.
    pub scenarios: Vec<Scenario>,
}

/// Loads a file of scenario tests (`policy = "../bank.toml"` and `[[tests]]`) and
/// the policy it names.
pub fn load_test_file(path: &Path) -> Result<TestFile, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        let report = unreadable(path, &e);
        LoadError {
            diagnostics: report.diagnostics,
            sources: report.sources,
        }
    })?;
    let mut sources = Sources::new();
    let source = sources.add(path.display().to_string(), text.clone());
    let mut diagnostics = Vec::new();
    let locator = parse::parse_toml(&text, source, &sources, &mut diagnostics);
    let read = parse::read_test_document(&locator, source, &sources, &mut diagnostics);
    let dir = path.parent().unwrap_or(Path::new("."));
    let policy = read.policy.as_ref().and_then(|(p, span)| {
        let full = dir.join(p);
        match load_policy(&full) {
            Ok(policy) => Some(policy),
            Err(e) => {
                let d = Diagnostic::error(
                    Code::UnknownPolicy,
                    format!(
                        "the policy `{p}` under test does not load ({} problems)",
                        e.diagnostics.len()
                    ),
                )
                .at(sources.locate(source, span.clone()))
                .with_help(format!("run `redress validate {}`", full.display()));
                diagnostics.push(d);
                None
            }
        }
    });
    let Some(policy) = policy else {
        return Err(LoadError {
            diagnostics,
            sources,
        });
    };
    let doc = Document {
        stages: policy
            .stages
            .keys()
            .map(|s| (s.clone(), RawStage::default()))
            .collect(),
        roles: policy.roles.clone(),
        ..Document::default()
    };
    let scenarios = {
        let mut v = Validator::for_tests(
            &doc,
            &locator,
            source,
            &mut sources,
            &mut diagnostics,
            dir,
            &policy,
        );
        let tests: Vec<_> = read.tests.iter().map(|(i, t)| (*i, t)).collect();
        v.scenarios_in(&tests, &policy.fields, &policy.slas, &policy.transitions)
    };
    if diagnostics.iter().any(Diagnostic::is_error) {
        return Err(LoadError {
            diagnostics,
            sources,
        });
    }
    Ok(TestFile { policy, scenarios })
}

/// Checks a calendar data file on its own (as `redress validate` does for
/// `policies/calendars/*.toml`).
pub fn check_calendar_file(path: &Path) -> (Vec<Diagnostic>, Sources) {
    let mut sources = Sources::new();
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) => return (unreadable(path, &e).diagnostics, sources),
    };
    let id = sources.add(path.display().to_string(), text.clone());
    let diagnostics = match crate::calendar::data::parse_calendar_file(&text) {
        Ok(_) => Vec::new(),
        Err(errors) => errors
            .into_iter()
            .map(|e| {
                validate::data_diagnostic(e, sources.locate(id, 0..0), |span| {
                    sources.locate(id, span)
                })
            })
            .collect(),
    };
    (diagnostics, sources)
}
