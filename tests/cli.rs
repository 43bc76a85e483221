//! The CLI's conventions, the same in every command: exit statuses, a closed pipe,
//! `--color`, completions and the man page, `redress test`'s selection and formats,
//! `serve --log-format json`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command as Process, Stdio};

use assert_cmd::Command;

fn redress() -> Command {
    Command::cargo_bin("redress").unwrap()
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A folder with a broken policy, `broken.toml`: the example broadband policy with
/// a transition to a stage that does not exist.
fn broken_site() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let example = root().join("examples/custom-routing");
    let text = std::fs::read_to_string(example.join("broadband.toml"))
        .unwrap_or_else(|e| panic!("examples/custom-routing/broadband.toml: {e}"));
    let calendars = root().join("policies/calendars");
    let broken = text
        .replace("../../policies/calendars", calendars.to_str().unwrap())
        .replacen("to = \"", "to = \"nowhere-", 1);
    assert!(
        broken.contains("nowhere-"),
        "the example has no transition to break"
    );
    std::fs::write(dir.path().join("broken.toml"), broken).unwrap();
    std::fs::copy(
        example.join("routing.rhai"),
        dir.path().join("routing.rhai"),
    )
    .unwrap();
    dir
}

#[test]
fn the_same_condition_gets_the_same_exit_status_in_every_command() {
    let site = broken_site();
    let broken = site.path().join("broken.toml");
    let broken = broken.to_str().unwrap();
    let bank = root().join("policies/bank.toml");
    let bank = bank.to_str().unwrap();
    let events = root().join("examples/events/bank-sample.jsonl");
    let events = events.to_str().unwrap();
    let cases: &[(&[&str], i32)] = &[
        (&["validate", bank], 0),
        (&["graph", bank], 0),
        (&["replay", "--policy", bank, events], 0),
        (&["simulate", "--policy", bank, "--cases", "5"], 0),
        // 1: problems found.
        (&["validate", broken], 1),
        (&["graph", broken], 1),
        (&["test", broken], 1),
        (&["replay", "--policy", broken, events], 1),
        (&["simulate", "--policy", broken, "--cases", "5"], 1),
        // 2: bad usage.
        (&["validate"], 2),
        (&["graph", "--format", "png", bank], 2),
        (&["replay", "--policy", bank], 2),
        (&["simulate", "--policy", bank, "--cases", "many"], 2),
        (&["test", "--frobnicate", bank], 2),
        (&["completions", "tcsh"], 2),
        // 3: a file that cannot be read.
        (&["validate", "no/such.toml"], 3),
        (&["graph", "no/such.toml"], 3),
        (&["test", "no/such.toml"], 3),
        (&["replay", "--policy", "no/such.toml", events], 3),
        (&["replay", "--policy", bank, "no/such.jsonl"], 3),
        (&["simulate", "--policy", "no/such.toml"], 3),
    ];
    for (args, code) in cases {
        let out = redress().args(*args).output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(*code),
            "`redress {}`:\n{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn a_port_in_use_is_exit_status_3() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = redress()
        .args(["serve", "--listen"])
        .arg(taken.local_addr().unwrap().to_string())
        .arg("--policies")
        .arg(root().join("policies"))
        .args(["--database", "sqlite://cases.db"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot listen on"));
}

#[test]
fn a_closed_pipe_ends_quietly_with_0() {
    let bank = root().join("policies/bank.toml");
    let commands: &[&[&str]] = &[
        &["schema"],
        &["validate", "policies/"],
        &["test", "policies/"],
        &["graph", "policies/bank.toml"],
        &["completions", "zsh"],
        &["man"],
        &["--help"],
    ];
    for args in commands {
        let mut child = Process::new(env!("CARGO_BIN_EXE_redress"))
            .args(*args)
            .current_dir(root())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Close the reading end before the command writes: every write fails.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "`redress {}`", args.join(" "));
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            "",
            "`redress {}`",
            args.join(" ")
        );
    }
    assert!(bank.exists());
}

#[test]
fn color_is_chosen_by_the_flag_and_no_color_is_honoured() {
    let site = broken_site();
    let colored = |extra: &[&str], no_color: Option<&str>| {
        let mut command = redress();
        command
            .args(extra)
            .arg("validate")
            .arg(site.path().join("broken.toml"));
        command.env_remove("NO_COLOR");
        if let Some(value) = no_color {
            command.env("NO_COLOR", value);
        }
        let out = command.output().unwrap();
        String::from_utf8_lossy(&out.stdout).contains("\x1b[")
    };
    assert!(colored(&["--color", "always"], None));
    assert!(
        colored(&["--color=always"], Some("1")),
        "`always` is stronger than NO_COLOR"
    );
    assert!(!colored(&["--color", "never"], None));
    assert!(!colored(&[], None), "`auto` never colours a pipe");
    assert!(!colored(&["--color", "auto"], Some("1")));
}

#[test]
fn completions_and_the_man_page_come_from_the_argument_definitions() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = redress().args(["completions", shell]).output().unwrap();
        assert!(out.status.success(), "{shell}");
        let script = String::from_utf8_lossy(&out.stdout);
        for word in ["validate", "simulate", "allow-empty", "log-format"] {
            assert!(script.contains(word), "{shell} completion lacks `{word}`");
        }
    }
    let out = redress().arg("man").output().unwrap();
    let page = String::from_utf8_lossy(&out.stdout);
    assert!(page.contains(".TH redress 1"), "{page}");
    assert!(
        page.contains("Exit status"),
        "the man page lists the exit statuses"
    );
    let dir = tempfile::tempdir().unwrap();
    redress()
        .args(["man", "--dir"])
        .arg(dir.path())
        .assert()
        .success();
    for page in [
        "redress.1",
        "redress-validate.1",
        "redress-test.1",
        "redress-serve.1",
    ] {
        let text = std::fs::read_to_string(dir.path().join(page)).unwrap_or_default();
        assert!(text.contains(".TH"), "`{page}` was not written");
    }
}

fn test_json(args: &[&str]) -> (i32, serde_json::Value) {
    let out = redress()
        .arg("test")
        .args(args)
        .args(["--format", "json"])
        .current_dir(root())
        .output()
        .unwrap();
    let json = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    (out.status.code().unwrap_or(-1), json)
}

#[test]
fn test_run_selects_by_name_and_an_empty_selection_fails_unless_allowed() {
    let (code, all) = test_json(&["policies/bank.toml"]);
    assert_eq!(code, 0);
    let total = all["results"].as_array().unwrap().len();
    let (code, some) = test_json(&["policies/bank.toml", "--run", "Spring Festival"]);
    assert_eq!(code, 0);
    let names: Vec<&str> = some["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert!(!names.is_empty() && names.iter().all(|n| n.contains("Spring Festival")));
    assert_eq!(some["filtered_out"], total - names.len());
    let (code, none) = test_json(&["policies/bank.toml", "--run", "no such test"]);
    assert_eq!((code, none["passed"].as_u64()), (1, Some(0)));
    let (code, _) = test_json(&[
        "policies/bank.toml",
        "--run",
        "no such test",
        "--allow-empty",
    ]);
    assert_eq!(code, 0);
    let calendars_only = root().join("policies/calendars");
    let (code, _) = test_json(&[calendars_only.to_str().unwrap()]);
    assert_eq!(code, 1, "a folder without tests is a failure");
}

#[test]
fn test_reports_broken_files_as_json_diagnostics() {
    let site = broken_site();
    let (code, json) = test_json(&[site.path().join("broken.toml").to_str().unwrap()]);
    assert_eq!(code, 1);
    let broken = &json["broken"][0];
    assert!(broken["file"].as_str().unwrap().ends_with("broken.toml"));
    let diagnostic = &broken["diagnostics"][0];
    assert_eq!(diagnostic["code"], "unknown-stage");
    assert!(diagnostic["location"]["line"].as_u64().unwrap() > 0);
}

#[test]
fn test_junit_has_one_testcase_per_scenario_and_marks_failures() {
    let out = redress()
        .args(["test", "policies/bank.toml", "--format", "junit"])
        .current_dir(root())
        .output()
        .unwrap();
    assert!(out.status.success());
    let xml = String::from_utf8_lossy(&out.stdout);
    let (_, json) = test_json(&["policies/bank.toml"]);
    let total = json["results"].as_array().unwrap().len();
    assert!(xml.starts_with("<?xml"));
    assert!(xml.contains(&format!(
        "<testsuites name=\"redress\" tests=\"{total}\" failures=\"0\""
    )));
    assert_eq!(xml.matches("<testcase ").count(), total);
    let site = broken_site();
    let out = redress()
        .args(["test", "--format", "junit"])
        .arg(site.path().join("broken.toml"))
        .output()
        .unwrap();
    let xml = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        xml.contains("errors=\"1\"") && xml.contains("unknown-stage"),
        "{xml}"
    );
}

#[test]
fn replay_reports_a_broken_policy_as_json_with_format_json() {
    let site = broken_site();
    let out = redress()
        .args(["replay", "--format", "json", "--policy"])
        .arg(site.path().join("broken.toml"))
        .arg(root().join("examples/events/bank-sample.jsonl"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["ok"], false);
    assert_eq!(json["diagnostics"][0]["code"], "unknown-stage");
}

#[test]
fn serve_writes_json_log_lines_with_log_format_json() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Process::new(env!("CARGO_BIN_EXE_redress"))
        .args(["serve", "--listen", "127.0.0.1:0", "--log-format", "json"])
        .arg("--policies")
        .arg(root().join("policies"))
        .args(["--database", "sqlite://cases.db"])
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let listening = stdout
        .lines()
        .map_while(Result::ok)
        .any(|l| l.starts_with("Redress listening on "));
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    assert!(listening, "{}", String::from_utf8_lossy(&out.stderr));
    let log = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = log.lines().collect();
    assert!(!lines.is_empty());
    for line in lines {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: `{line}`"));
        assert!(
            v["level"].is_string() && v["timestamp"].is_string(),
            "{line}"
        );
    }
    assert!(
        log.contains("\"message\":\"due index read as stored\""),
        "{log}"
    );
}
