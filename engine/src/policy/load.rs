//! Loading policies and test files, with every problem reported at once. One entry
//! point, [`check`], reads a policy through [`PolicyFiles`] (disk, given text, or a
//! stored version); [`check_file`] reads a found file once and checks it as the
//! policy, test file or calendar data its parse says it is.

use std::fmt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::discover::{self, Kind};
use super::files::{Given, OnDisk, PolicyFiles};
use super::locate::Locator;
use super::parse::{self, Document};
use super::raw::RawStage;
use super::validate::{self, Validator};
use super::{Policy, Scenario};
use crate::diagnostic::{Code, Diagnostic, SourceId, Sources, render_human};

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

impl Report {
    /// The policy, or every problem that kept it from loading.
    pub fn into_policy(self) -> Result<Policy, LoadError> {
        match self.policy {
            Some(policy) => Ok(policy),
            None => Err(LoadError {
                diagnostics: self.diagnostics,
                sources: self.sources,
            }),
        }
    }

    /// The policy, checked to be the version stored under `hash`: its files give
    /// that hash, or (a version stored before the hash covered the time-zone
    /// database) the hash of its files alone. Either way the policy answers `hash`
    /// as its own, so cases pinned to it stay pinned.
    pub fn into_pinned(self, hash: &str) -> Result<Policy, LoadError> {
        let mut policy = self.into_policy()?;
        if policy.hash() == hash {
            return Ok(policy);
        }
        let texts = policy.sources().iter().map(|(_, text)| text.as_str());
        if files_only_hash(texts) == hash {
            policy.hash = hash.to_string();
            return Ok(policy);
        }
        let d = Diagnostic::error(
            Code::MissingInclude,
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
}

/// What a check looks at besides the policy itself.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CheckOptions {
    /// "Today": warn of calendar data that ends within reach of it
    /// (`calendar-data-ends`). `None` skips the check, so that a policy's
    /// diagnostics depend on its files alone.
    pub as_of: Option<chrono::NaiveDate>,
}

/// Checks a policy read from `files` and everything it includes, keeping warnings
/// as well as errors: the one way a policy is loaded, whether from disk
/// ([`OnDisk`]), from text ([`Given`]) or from a stored version ([`Stored`](super::Stored)).
pub fn check(files: &dyn PolicyFiles, options: CheckOptions) -> Report {
    match files.policy() {
        (name, Ok(text)) => check_parsed(parse(&name, &text), files, options),
        (name, Err(e)) => unreadable(&name, &e),
    }
}

/// Loads a policy file on disk: [`check`] of [`OnDisk`] with no options, as a
/// policy or its problems.
pub fn load_policy(path: &Path) -> Result<Policy, LoadError> {
    check(&OnDisk::new(path), CheckOptions::default()).into_policy()
}

/// A file found under a policies folder, read and parsed once, and checked as what
/// its top-level keys say it is.
#[derive(Debug)]
pub enum FileReport {
    /// A policy (`[policy]` table), or a file that could not be read or parsed as
    /// anything else, so its problems are reported as a policy's.
    Policy(Report),
    /// Scenario tests beside a policy (`policy = "..."`): the policy they test and
    /// their scenarios, or every problem found.
    Tests(Result<TestFile, LoadError>),
    /// Calendar data (`[calendar]` table): its problems, if any.
    Calendar {
        /// Every problem found.
        diagnostics: Vec<Diagnostic>,
        /// The file read.
        sources: Sources,
    },
}

/// Reads the file at `path` once, tells from its parse whether it is a policy, a
/// test file or calendar data, and checks it as that.
pub fn check_file(path: &Path, options: CheckOptions) -> FileReport {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) => return FileReport::Policy(unreadable(&path.display().to_string(), &e)),
    };
    let name = path.display().to_string();
    let parsed = parse(&name, &text);
    match discover::kind_of_root(parsed.locator.root()) {
        Kind::Policy => {
            let dir = path.parent().unwrap_or(Path::new("."));
            let given = Given {
                name: &name,
                text: &text,
                dir,
            };
            FileReport::Policy(check_parsed(parsed, &given, options))
        }
        Kind::Tests => FileReport::Tests(tests_parsed(parsed, path)),
        Kind::Calendar => {
            let (diagnostics, sources) = check_calendar(&name, &text);
            FileReport::Calendar {
                diagnostics,
                sources,
            }
        }
    }
}

fn unreadable(name: &str, e: &std::io::Error) -> Report {
    let d = Diagnostic::error(Code::MissingInclude, format!("cannot read `{name}`: {e}"));
    Report {
        policy: None,
        diagnostics: vec![d],
        sources: Sources::new(),
    }
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

/// A file parsed into its tree, with the syntax errors found.
struct Parsed<'i> {
    locator: Locator<'i>,
    source: SourceId,
    sources: Sources,
    diagnostics: Vec<Diagnostic>,
}

fn parse<'i>(name: &str, text: &'i str) -> Parsed<'i> {
    let mut sources = Sources::new();
    let source = sources.add(name, text);
    let mut diagnostics = Vec::new();
    let locator = parse::parse_toml(text, source, &sources, &mut diagnostics);
    Parsed {
        locator,
        source,
        sources,
        diagnostics,
    }
}

fn check_parsed(parsed: Parsed<'_>, files: &dyn PolicyFiles, options: CheckOptions) -> Report {
    let Parsed {
        locator,
        source,
        mut sources,
        mut diagnostics,
    } = parsed;
    let doc = parse::read_document(&locator, source, &sources, &mut diagnostics);
    let policy = validate::validate(
        &doc,
        &locator,
        source,
        &mut sources,
        &mut diagnostics,
        validate::Origin {
            files,
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
        let report = unreadable(&path.display().to_string(), &e);
        LoadError {
            diagnostics: report.diagnostics,
            sources: report.sources,
        }
    })?;
    tests_parsed(parse(&path.display().to_string(), &text), path)
}

fn tests_parsed(parsed: Parsed<'_>, path: &Path) -> Result<TestFile, LoadError> {
    let Parsed {
        locator,
        source,
        mut sources,
        mut diagnostics,
    } = parsed;
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
        let files = OnDisk::new(path);
        let mut v = Validator::for_tests(
            &doc,
            &locator,
            source,
            &mut sources,
            &mut diagnostics,
            &files,
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

/// Checks a calendar data file's text on its own (as `redress validate` does for
/// `policies/calendars/*.toml`), with the calendar data's own parser.
fn check_calendar(name: &str, text: &str) -> (Vec<Diagnostic>, Sources) {
    let mut sources = Sources::new();
    let id = sources.add(name, text);
    let diagnostics = match crate::calendar::data::parse_calendar_file(text) {
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
    use crate::policy::Stored;

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
        let pinned =
            |hash: &str| check(&Stored::new(&files), CheckOptions::default()).into_pinned(hash);
        assert_eq!(pinned(&legacy).unwrap().hash(), legacy);
        assert_eq!(pinned(policy.hash()).unwrap().hash(), policy.hash());
        assert!(pinned("0000").is_err());
    }
}
