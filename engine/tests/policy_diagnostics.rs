//! Data-driven policy tests, one test per file:
//!
//! - every file in `tests/policies/broken/` declares the diagnostic codes it must
//!   produce (`# expect: code`, one line each); the test asserts exactly those codes
//!   and snapshots the rendered diagnostics (`tests/snapshots/`), so a change in a
//!   message or a line number is reviewed like code. A file may set "today" for
//!   the checks that need one (`# as-of: 2026-12-01`); a file whose problems are all
//!   warnings must still load;
//! - every file in `tests/policies/valid/` and every shipped policy in `policies/`
//!   loads without a single diagnostic.

use std::path::{Path, PathBuf};

use libtest_mimic::{Arguments, Failed, Trial};
use redress_engine::diagnostic::render_human;
use redress_engine::policy::{CheckOptions, OnDisk, check};

fn main() {
    let args = Arguments::from_args();
    let mut trials = Vec::new();
    // A missing or empty fixture folder is a failure, never a green run of nothing.
    for dir in [
        "tests/policies/broken",
        "tests/policies/valid",
        "../policies",
    ] {
        if toml_files(dir).is_empty() {
            trials.push(Trial::test(format!("fixtures::{dir}"), move || {
                Err(
                    format!("the fixture folder `{dir}` is missing or holds no `.toml` file")
                        .into(),
                )
            }));
        }
    }
    for path in toml_files("tests/policies/broken") {
        trials.push(Trial::test(format!("broken::{}", stem(&path)), move || {
            broken(&path)
        }));
    }
    for path in toml_files("tests/policies/valid")
        .into_iter()
        .chain(toml_files("../policies"))
    {
        trials.push(Trial::test(format!("sound::{}", stem(&path)), move || {
            sound(&path)
        }));
    }
    trials.push(Trial::test(
        "docs::every-code-is-documented",
        every_code_is_documented,
    ));
    libtest_mimic::run(&args, trials).exit();
}

/// The `.toml` files of a folder (relative to this crate, where cargo runs its
/// tests, so that snapshots name files as users do); none when it is missing.
fn toml_files(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "toml"));
    files.sort();
    files
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn expected_codes(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("# expect:"))
        .map(|c| c.trim().to_string())
        .collect()
}

fn broken(path: &Path) -> Result<(), Failed> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut expected = expected_codes(&text);
    if expected.is_empty() {
        return Err(format!("{}: no `# expect: code` line", path.display()).into());
    }
    let as_of = text
        .lines()
        .find_map(|l| l.strip_prefix("# as-of:"))
        .map(|d| {
            d.trim()
                .parse()
                .map_err(|e| format!("{}: as-of: {e}", path.display()))
        })
        .transpose()?;
    let report = check(&OnDisk::new(path), CheckOptions { as_of });
    let rendered = render_human(&report.diagnostics, &report.sources, false);
    let mut got: Vec<String> = report
        .diagnostics
        .iter()
        .map(|d| d.code.to_string())
        .collect();
    expected.sort();
    got.sort();
    if got != expected {
        return Err(format!(
            "{}: expected codes {expected:?}, got {got:?}\n{rendered}",
            path.display()
        )
        .into());
    }
    let errors = report.diagnostics.iter().any(|d| d.is_error());
    if report.policy.is_some() && errors {
        return Err(format!("{}: a broken policy loaded", path.display()).into());
    }
    if report.policy.is_none() && !errors {
        return Err(format!(
            "{}: a policy with warnings only did not load",
            path.display()
        )
        .into());
    }
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("snapshots");
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| insta::assert_snapshot!(format!("broken-{}", stem(path)), rendered));
    Ok(())
}

fn sound(path: &Path) -> Result<(), Failed> {
    let report = check(&OnDisk::new(path), CheckOptions::default());
    if !report.diagnostics.is_empty() || report.policy.is_none() {
        let rendered = render_human(&report.diagnostics, &report.sources, false);
        return Err(format!("{} should load cleanly:\n{rendered}", path.display()).into());
    }
    Ok(())
}

/// `docs/diagnostics.md` lists every code the engine can report, and no other.
fn every_code_is_documented() -> Result<(), Failed> {
    let docs = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/diagnostics.md"
    ))
    .map_err(|e| format!("docs/diagnostics.md: {e}"))?;
    let documented: Vec<&str> = docs
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .collect();
    let codes: Vec<&str> = redress_engine::diagnostic::Code::iter()
        .map(|c| c.as_str())
        .collect();
    let missing: Vec<_> = codes.iter().filter(|c| !documented.contains(c)).collect();
    let stale: Vec<_> = documented.iter().filter(|c| !codes.contains(c)).collect();
    if missing.is_empty() && stale.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "docs/diagnostics.md: undocumented codes {missing:?}, documented but unknown {stale:?}"
        )
        .into())
    }
}
