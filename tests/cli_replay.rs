//! `redress replay` and `redress simulate` end to end.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use assert_cmd::Command;

fn redress() -> Command {
    Command::cargo_bin("redress").unwrap()
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn replay_skips_bad_lines_with_their_numbers_and_goes_on() {
    let out = redress()
        .arg("replay")
        .arg("--policy")
        .arg(root().join("policies/bank.toml"))
        .arg(root().join("examples/events/bank-sample.jsonl"))
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("line 7: skipped: unknown case `C-3`"),
        "{stderr}"
    );
    assert!(stderr.contains("line 8: skipped: cannot parse"), "{stderr}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["cases"], 2);
    assert_eq!(v["skipped"]["count"], 2);
    assert_eq!(v["skipped"]["lines"][0]["line"], 7);
    assert_eq!(v["skipped"]["lines"][1]["line"], 8);
    assert_eq!(v["events"]["refused"]["role-not-allowed"], 1);
    assert_eq!(v["by_stage"]["decided"], 1);
    assert_eq!(v["slas"]["decision"]["breached"], 1);
}

#[test]
fn simulate_is_deterministic_for_a_seed_and_replays_what_it_emits() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.jsonl"), dir.path().join("b.jsonl"));
    let policy = root().join("policies/bank.toml");
    let sim = |file: &Path, threads: &str| {
        let out = redress()
            .args([
                "simulate",
                "--cases",
                "300",
                "--seed",
                "42",
                "--threads",
                threads,
            ])
            .arg("--policy")
            .arg(&policy)
            .arg("--emit")
            .arg(file)
            .args(["--format", "json"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0));
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let (sa, sb) = (sim(&a, "1"), sim(&b, "2"));
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    for key in ["cases", "by_stage", "by_queue", "events", "slas"] {
        assert_eq!(sa[key], sb[key], "{key}");
    }
    let out = redress()
        .arg("replay")
        .arg("--policy")
        .arg(&policy)
        .arg(&a)
        .args(["--format", "json"])
        .output()
        .unwrap();
    let replayed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for key in ["cases", "by_stage", "events", "slas"] {
        assert_eq!(replayed[key], sa[key], "{key}");
    }
}
