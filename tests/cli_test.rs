//! `redress test` end to end: output shape and exit codes.
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
fn passing_tests_exit_0_with_a_closing_count_line() {
    let out = redress()
        .arg("test")
        .arg(root().join("policies"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let last = stdout.lines().last().unwrap();
    assert!(is_count_line(last), "closing line: {last}");
    assert!(last.ends_with(" passed, 0 failed"), "{last}");
    assert!(stdout.contains("a fraud complaint on the eve of Spring Festival ... ok"));
}

fn is_count_line(line: &str) -> bool {
    let parts: Vec<&str> = line.split(' ').collect();
    parts.len() == 4
        && parts[0].parse::<u32>().is_ok()
        && parts[1] == "passed,"
        && parts[2].parse::<u32>().is_ok()
        && parts[3] == "failed"
}

const FAILING: &str = r#"policy = "POLICY"

[[tests]]
name = "wrong stage on purpose"
received_at = "2026-03-02T09:15:00+08:00"
data = { category = "fees", summary = "x" }
steps = [
  { event = "acknowledge", role = "agent", expect = { stage = "closed" } },
]

[[tests]]
name = "right"
received_at = "2026-03-02T09:15:00+08:00"
data = { category = "fees", summary = "x" }
expect = { stage = "received" }
"#;

#[test]
fn a_failing_test_exits_1_with_a_diff_pointing_at_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let policy = root().join("policies/bank.toml");
    let file = dir.path().join("failing.toml");
    std::fs::write(
        &file,
        FAILING.replace("POLICY", &policy.display().to_string()),
    )
    .unwrap();
    let out = redress().arg("test").arg(&file).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("wrong stage on purpose ... FAILED"),
        "{stdout}"
    );
    assert!(
        stdout.contains("failing.toml:8: step 1: `stage` differs"),
        "{stdout}"
    );
    assert!(stdout.contains("- expected: closed"), "{stdout}");
    assert!(stdout.contains("+ actual:   acknowledged"), "{stdout}");
    assert_eq!(stdout.lines().last(), Some("1 passed, 1 failed"));
}

#[test]
fn json_output_lists_results_and_counts() {
    let out = redress()
        .args(["test", "--format", "json"])
        .arg(root().join("policies/bank.toml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["failed"], 0);
    assert!(v["passed"].as_u64().unwrap() >= 2);
    assert!(
        v["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["passed"] == true)
    );
}

#[test]
fn explain_shows_the_route_and_the_clocks() {
    let out = redress()
        .args(["test", "--explain"])
        .arg(root().join("policies/bank.toml"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("route: routed to queue `fraud` because routing rule 1 matched"),
        "{stdout}"
    );
    assert!(stdout.contains("clock `decision`: deadline"), "{stdout}");
}
