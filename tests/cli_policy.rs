//! End-to-end tests of `redress validate`, `graph` and `schema`: the real binary,
//! run the way the README tells a user to run it.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use assert_cmd::Command;
use predicates::str::contains;

fn redress() -> Command {
    Command::cargo_bin("redress").unwrap_or_else(|e| panic!("binary not built: {e}"))
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A copy of the shipped bank policy (and the calendars it includes) with one
/// replacement made, in a fresh folder.
fn bank_with(from: &str, to: &str) -> (tempfile::TempDir, PathBuf, String) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let text = std::fs::read_to_string(root().join("policies/bank.toml")).unwrap_or_default();
    assert!(text.contains(from), "bank.toml no longer contains {from:?}");
    let text = text.replacen(from, to, 1);
    std::fs::create_dir(dir.path().join("calendars")).unwrap_or_default();
    for entry in std::fs::read_dir(root().join("policies/calendars"))
        .into_iter()
        .flatten()
        .flatten()
    {
        std::fs::copy(
            entry.path(),
            dir.path().join("calendars").join(entry.file_name()),
        )
        .unwrap_or_default();
    }
    let path = dir.path().join("bank.toml");
    std::fs::write(&path, &text).unwrap_or_default();
    (dir, path, text)
}

fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .map(|i| i + 1)
        .unwrap_or(0)
}

#[test]
fn the_shipped_policies_validate() {
    redress()
        .args(["validate", "policies"])
        .current_dir(root())
        .assert()
        .success()
        .stdout(contains(
            "ok: policies/bank.toml (policy `bank-cn` version 2026.1",
        ))
        .stdout(contains("0 with problems"));
}

#[test]
fn a_misspelt_stage_gets_one_error_at_its_line_with_a_suggestion() {
    let (_dir, path, text) = bank_with("to = \"decided\"", "to = \"decidd\"");
    let line = line_of(&text, "to = \"decidd\"");
    let out = redress()
        .arg("validate")
        .arg(&path)
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let out = String::from_utf8_lossy(&out);
    assert_eq!(
        out.matches("error[").count(),
        1,
        "exactly one error expected:\n{out}"
    );
    assert!(
        out.contains("error[unknown-stage]: unknown stage `decidd`"),
        "{out}"
    );
    assert!(
        out.contains(&format!("bank.toml:{line}:6")),
        "line {line} expected:\n{out}"
    );
    assert!(out.contains("help: did you mean `decided`?"), "{out}");
}

#[test]
fn json_output_carries_codes_and_locations() {
    let (_dir, path, text) = bank_with("target = \"15 days\"", "target = \"15 dais\"");
    let out = redress()
        .args(["validate", "--format", "json"])
        .arg(&path)
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let json: serde_json::Value = serde_json::from_slice(&out).unwrap_or_default();
    let d = &json[0]["diagnostics"][0];
    assert_eq!(d["code"], "invalid-duration");
    assert_eq!(d["location"]["line"], line_of(&text, "15 dais"));
    assert_eq!(json[0]["ok"], false);
}

#[test]
fn bad_usage_exits_2_and_a_missing_file_3() {
    redress().arg("validate").assert().code(2);
    redress()
        .args(["validate", "no/such/policy.toml"])
        .assert()
        .code(3)
        .stderr(contains("no such file or folder"));
    redress()
        .args(["graph", "--format", "png", "policies/bank.toml"])
        .current_dir(root())
        .assert()
        .code(2);
}

#[test]
fn graph_draws_stages_transitions_terminals_and_slas() {
    for format in ["mermaid", "dot"] {
        let out = redress()
            .args(["graph", "--format", format, "policies/bank.toml"])
            .current_dir(root())
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        insta::assert_snapshot!(
            format!("graph-bank-{format}"),
            String::from_utf8_lossy(&out)
        );
    }
}

#[test]
fn graph_of_a_broken_policy_shows_its_problems() {
    let (_dir, path, _) = bank_with("to = \"decided\"", "to = \"decidd\"");
    redress()
        .arg("graph")
        .arg(&path)
        .assert()
        .code(1)
        .stderr(contains("unknown-stage"));
}

/// The published schema accepts every shipped policy and rejects a misspelt key, so
/// editors that use it agree with `redress validate`.
#[test]
fn the_schema_accepts_shipped_policies_and_rejects_typos() {
    let out = redress()
        .arg("schema")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let schema: serde_json::Value = serde_json::from_slice(&out).unwrap_or_default();
    let validator = jsonschema::validator_for(&schema)
        .unwrap_or_else(|e| panic!("schema does not compile: {e}"));
    let policy = |text: &str| -> serde_json::Value {
        let table: toml::Table = text.parse().unwrap_or_else(|e| panic!("{e}"));
        serde_json::to_value(table).unwrap_or_default()
    };
    let bank = std::fs::read_to_string(root().join("policies/bank.toml")).unwrap_or_default();
    let errors: Vec<String> = validator
        .iter_errors(&policy(&bank))
        .map(|e| e.to_string())
        .collect();
    assert!(
        errors.is_empty(),
        "bank.toml does not fit the schema: {errors:?}"
    );
    let typo = bank.replacen("from = \"received\"", "form = \"received\"", 1);
    assert!(
        !validator.is_valid(&policy(&typo)),
        "a misspelt key must not fit the schema"
    );
}

#[test]
fn the_test_file_schema_is_published_too() {
    redress()
        .args(["schema", "--tests"])
        .assert()
        .success()
        .stdout(contains("\"policy\""));
}

#[test]
fn a_test_file_whose_policy_does_not_load_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tests.toml");
    std::fs::write(&path, "policy = \"../nowhere.toml\"\n").unwrap();
    redress()
        .arg("validate")
        .arg(&path)
        .assert()
        .code(1)
        .stdout(contains("error[unknown-policy]"));
}
