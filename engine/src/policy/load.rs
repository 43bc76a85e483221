//! Loading policies and test files from disk (or from text), with every problem
//! reported at once.

use std::fmt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::parse::{self, Document};
use super::raw::RawStage;
use super::validate::{self, Validator};
use super::{Policy, Scenario};
use crate::diagnostic::{Diagnostic, Sources, render_human};

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

/// What a check looks at besides the policy itself.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CheckOptions {
    /// "Today": warn of calendar data that ends within reach of it
    /// (`calendar-data-ends`). `None` skips the check, so that a policy's
    /// diagnostics depend on its files alone.
    pub as_of: Option<chrono::NaiveDate>,
}

/// Checks a policy file, keeping warnings as well as errors.
pub fn check_policy(path: &Path) -> Report {
    check_policy_with(path, CheckOptions::default())
}

/// [`check_policy`] with options.
pub fn check_policy_with(path: &Path, options: CheckOptions) -> Report {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let dir = path.parent().unwrap_or(Path::new("."));
            check(&path.display().to_string(), &text, dir, None, options)
        }
        Err(e) => unreadable(path, &e),
    }
}

fn unreadable(path: &Path, e: &std::io::Error) -> Report {
    let d = Diagnostic::error(
        "missing-include",
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
    check(name, text, dir, None, CheckOptions::default())
}

/// Loads a policy version from the files it was read from, as
/// [`Policy::sources`] gives them (the policy first, then its includes), without
/// touching the disk: how a server brings back the version a running case is pinned
/// to after the files on disk have changed. The hash is the same as the original's.
pub fn load_policy_sources(files: &[(String, String)]) -> Result<Policy, LoadError> {
    let Some((name, text)) = files.first() else {
        return Err(LoadError {
            diagnostics: vec![Diagnostic::error(
                "missing-include",
                "a stored policy version has no files",
            )],
            sources: Sources::new(),
        });
    };
    let bundle: std::collections::BTreeMap<String, String> = files[1..].iter().cloned().collect();
    let dir = Path::new(name).parent().unwrap_or(Path::new("."));
    into_result(check(
        name,
        text,
        dir,
        Some(&bundle),
        CheckOptions::default(),
    ))
}

/// Loads a stored policy version and checks it is the one stored under `hash`:
/// its files give that hash, or (a version stored before the hash covered the
/// time-zone database) the hash of its files alone. Either way the policy answers
/// `hash` as its own, so cases pinned to it stay pinned.
pub fn load_policy_version(files: &[(String, String)], hash: &str) -> Result<Policy, LoadError> {
    let mut policy = load_policy_sources(files)?;
    if policy.hash() == hash {
        return Ok(policy);
    }
    let texts = policy.sources().iter().map(|(_, text)| text.as_str());
    if files_only_hash(texts) == hash {
        policy.hash = hash.to_string();
        return Ok(policy);
    }
    let d = Diagnostic::error(
        "missing-include",
        format!(
            "the stored policy version {hash} loads with hash {}",
            policy.hash()
        ),
    );
    Err(LoadError {
        diagnostics: vec![d],
        sources: Sources::new(),
    })
}

/// The hash of the files alone, as versions were identified before the hash
/// covered the time-zone database.
fn files_only_hash<'t>(texts: impl Iterator<Item = &'t str>) -> String {
    let mut hasher = Sha256::new();
    for text in texts {
        hasher.update((text.len() as u64).to_le_bytes());
        hasher.update(text.as_bytes());
    }
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn check(
    name: &str,
    text: &str,
    dir: &Path,
    bundle: Option<&std::collections::BTreeMap<String, String>>,
    options: CheckOptions,
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
        validate::Origin {
            dir,
            bundle,
            as_of: options.as_of,
        },
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

/// SHA-256 over the time-zone database version the build uses, then every file
/// read, in the order read, each prefixed by its length so that moving text from one
/// file to another changes the hash. The time-zone data is part of what makes a
/// deadline (a country changing its offsets moves deadlines), so a build with other
/// time-zone data gives a policy a new version.
fn content_hash(sources: &Sources) -> String {
    let texts = (0..sources.len()).map(|i| sources.text(crate::diagnostic::SourceId(i)));
    hash_of(TZDB_VERSION, texts)
}

/// The version of the IANA time-zone database this build counts with (`2025b`),
/// part of every policy's hash.
pub const TZDB_VERSION: &str = chrono_tz::IANA_TZDB_VERSION;

fn hash_of<'t>(tzdb: &str, texts: impl Iterator<Item = &'t str>) -> String {
    let mut hasher = Sha256::new();
    let mut add = |text: &str| {
        hasher.update((text.len() as u64).to_le_bytes());
        hasher.update(text.as_bytes());
    };
    add(&format!("tzdb {tzdb}"));
    texts.for_each(add);
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
                    "unknown-policy",
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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_covers_the_time_zone_database() {
        let texts = ["[policy]\nid = \"x\"\n", "[calendar]\n"];
        let ours = hash_of(TZDB_VERSION, texts.into_iter());
        assert_ne!(
            ours,
            hash_of("2099z", texts.into_iter()),
            "another tzdb, another version"
        );
        assert_eq!(ours, hash_of(TZDB_VERSION, texts.into_iter()));
        let mut sources = Sources::new();
        for (i, t) in texts.iter().enumerate() {
            sources.add(format!("f{i}"), t.to_string());
        }
        assert_eq!(content_hash(&sources), ours);
        assert!(TZDB_VERSION.len() >= 5, "{TZDB_VERSION}");
    }

    #[test]
    fn a_version_stored_before_the_tzdb_was_hashed_loads_under_its_hash() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/policies/valid");
        let policy = load_policy(&dir.join("minimal.toml")).unwrap();
        let files = policy.sources().to_vec();
        let legacy = files_only_hash(files.iter().map(|(_, t)| t.as_str()));
        assert_ne!(legacy, policy.hash());
        assert_eq!(load_policy_version(&files, &legacy).unwrap().hash(), legacy);
        assert_eq!(
            load_policy_version(&files, policy.hash()).unwrap().hash(),
            policy.hash()
        );
        assert!(load_policy_version(&files, "0000").is_err());
    }
}
