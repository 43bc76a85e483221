//! The README's examples are run, so they never rot: every `$ redress ...` line in
//! a `console` block succeeds, and the misspelt-stage error it shows is exactly what
//! `redress validate` prints.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn readme() -> String {
    std::fs::read_to_string(root().join("README.md")).unwrap()
}

/// The lines of every fenced block of the given language.
fn blocks(text: &str, lang: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut current: Option<Vec<String>> = None;
    for line in text.lines() {
        match (&mut current, line.trim_start().strip_prefix("```")) {
            (None, Some(l)) if l.trim() == lang => current = Some(Vec::new()),
            (Some(_), Some(_)) => out.extend(current.take()),
            (Some(block), None) => block.push(line.to_string()),
            _ => {}
        }
    }
    out
}

#[test]
fn every_command_in_the_readme_succeeds() {
    let commands: Vec<String> = blocks(&readme(), "console")
        .into_iter()
        .flatten()
        .filter_map(|l| l.strip_prefix("$ redress ").map(str::to_string))
        .collect();
    assert!(
        commands.len() >= 5,
        "expected the README's commands, found {commands:?}"
    );
    for command in commands {
        let args: Vec<&str> = command.split_whitespace().collect();
        let out = Command::cargo_bin("redress")
            .unwrap()
            .args(&args)
            .current_dir(root())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "`redress {command}` failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn the_readme_error_is_the_real_one() {
    let shown = blocks(&readme(), "text")
        .into_iter()
        .find(|b| b.iter().any(|l| l.contains("unknown-stage")))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    copy_policies(&dir.path().join("policies"));
    let bank = dir.path().join("policies/bank.toml");
    let text =
        std::fs::read_to_string(&bank)
            .unwrap()
            .replacen("to = \"decided\"", "to = \"decidd\"", 1);
    std::fs::write(&bank, text).unwrap();
    let out = Command::cargo_bin("redress")
        .unwrap()
        .args(["validate", "policies/bank.toml"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&out.stdout);
    let printed: Vec<&str> = printed.lines().take(shown.len()).collect();
    assert_eq!(
        printed, shown,
        "README.md shows an error the binary no longer prints"
    );
}

fn copy_policies(to: &Path) {
    std::fs::create_dir_all(to.join("calendars")).unwrap();
    std::fs::copy(root().join("policies/bank.toml"), to.join("bank.toml")).unwrap();
    for entry in std::fs::read_dir(root().join("policies/calendars"))
        .unwrap()
        .flatten()
    {
        std::fs::copy(entry.path(), to.join("calendars").join(entry.file_name())).unwrap();
    }
}
