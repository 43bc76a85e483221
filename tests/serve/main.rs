//! End-to-end tests of `redress serve`: real processes, real HTTP on loopback, a
//! real SQLite file; restarts, crashes (kill -9), and the scheduler on the clock.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

mod due_index;
mod hardening;
mod harness;
mod nodes;
mod openapi_live;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use harness::*;
use serde_json::{Value, json};

/// What, method, path, token, content type, body; the status and code expected.
type BadRequest<'a> = (
    &'a str,
    &'a str,
    String,
    Option<&'a str>,
    &'a str,
    String,
    u16,
    &'a str,
);

/// Arguments, environment, and what the error must say.
type Misconfiguration<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);

fn at(value: &Value) -> DateTime<Utc> {
    value.as_str().unwrap().parse().unwrap()
}

#[test]
fn a_complaint_is_filed_routed_and_moved_and_its_history_kept() {
    let site = Site::new();
    let server = site.start();
    let letter = quick("fees", 0);
    let answer = server.send(
        server
            .request("POST", "/v1/cases", Some(BANK_AGENT))
            .header("Idempotency-Key", "letter-1")
            .json(&letter),
    );
    assert_eq!(answer.status, 201, "{answer:?}");
    let case = &answer.body["case"];
    let id = case["id"].as_str().unwrap();
    assert_eq!(id, "C-000001");
    assert_eq!(case["stage"], "received");
    assert_eq!(case["queue"], "general");
    let respond = clock(case, "respond");
    assert_eq!(respond["state"], "running");
    assert_eq!(
        at(&respond["deadline"]),
        at(&case["received_at"]) + chrono::Duration::minutes(1)
    );
    assert_eq!(case["next_due"]["timer"]["timer"], "warning");
    let next: Vec<(&str, bool)> = case["next_events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["event"].as_str().unwrap(),
                e["allowed"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(next, [("investigate", true), ("fast-track", false)]);

    // The same idempotency key with the same request: the same case, nothing added
    // (with a different request it is refused: see `hardening`).
    let again = server.send(
        server
            .request("POST", "/v1/cases", Some(BANK_AGENT))
            .header("Idempotency-Key", "letter-1")
            .json(&letter),
    );
    assert_eq!(again.status, 200, "{again:?}");
    assert_eq!(again.body["case"]["id"], id);
    assert_eq!(again.body["case"]["version"], case["version"]);

    let moved = server.post(
        &format!("/v1/cases/{id}/events"),
        BANK_AGENT,
        json!({"event": "investigate", "expected_version": case["version"]}),
    );
    assert_eq!(moved.status, 200, "{moved:?}");
    assert_eq!(moved.body["case"]["stage"], "investigating");
    assert_eq!(clock(&moved.body["case"], "respond")["state"], "met");
    let kinds: Vec<&str> = moved.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"]["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["moved", "clock"]);

    let history = server.history(id, BANK_AGENT);
    let seqs: Vec<u64> = history.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>());
    assert_eq!(history[0]["kind"]["type"], "received");
    assert_eq!(history[0]["actor"]["id"], "ann");
    assert_eq!(of_type(&history, "routed")[0]["kind"]["queue"], "general");
    assert!(history.iter().all(|e| e["recorded_at"].is_string()));

    let listed = server.get("/v1/cases?stage=investigating&queue=general", BANK_AGENT);
    assert_eq!(listed.body["cases"][0]["id"], id);
    let none = server.get("/v1/cases?stage=received", BANK_AGENT);
    assert_eq!(none.body["cases"], json!([]));
}

#[test]
fn the_scheduler_fires_a_breach_at_its_deadline_and_escalates() {
    let site = Site::new();
    let server = site.start();
    // Received 55 s ago: the warning (30 s) is already due and fires at intake; the
    // breach falls due about 5 s from now, for the scheduler.
    let case = server.file(BANK_AGENT, quick("fees", 55));
    let id = case["id"].as_str().unwrap();
    assert_eq!(case["clock_state"], "at-risk");
    assert_eq!(case["queue"], "general");
    let deadline = at(&clock(&case, "respond")["deadline"]);
    assert!(deadline > Utc::now(), "the breach must still be ahead");

    let breached = eventually(20, || {
        server.case(id, BANK_AGENT)["clock_state"] == "breached"
    });
    assert!(breached, "no breach fired:\n{}", site.log());
    let case = server.case(id, BANK_AGENT);
    assert_eq!(case["queue"], "escalations");
    assert_eq!(case["priority"], 1);
    let history = server.history(id, BANK_AGENT);
    let breaches = of_type(&history, "breached");
    assert_eq!(breaches.len(), 1);
    assert_eq!(
        at(&breaches[0]["at"]),
        deadline,
        "a timer's event is at its due instant"
    );
    assert!(
        breaches[0].get("actor").is_none(),
        "the runtime's own timer has no actor"
    );

    let listed = server.get("/v1/cases?clock=breached", BANK_AGENT);
    assert_eq!(listed.body["cases"][0]["id"], id);
    let metrics = server.send(server.request("GET", "/metrics", None));
    let text = metrics.body.as_str().unwrap();
    assert!(
        text.contains(r#"redress_breaches_total{org="bank",policy="quick",sla="respond"} 1"#),
        "{text}"
    );
    assert!(text.contains("redress_timer_lag_seconds_count"), "{text}");
    assert!(
        text.contains(
            r#"redress_cases_by_clock_state{org="bank",policy="quick",state="breached"} 1"#
        ),
        "{text}"
    );
}

#[test]
fn deadlines_that_fell_due_while_down_fire_once_after_restart() {
    let site = Site::new();
    let server = site.start();
    let case = server.file(BANK_AGENT, quick("fees", 57));
    let id = case["id"].as_str().unwrap().to_string();
    let deadline = at(&clock(&case, "respond")["deadline"]);
    server.kill9();
    // Down past the deadline.
    while Utc::now() < deadline + chrono::Duration::milliseconds(500) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let server = site.start();
    assert!(
        eventually(10, || server.case(&id, BANK_AGENT)["clock_state"]
            == "breached"),
        "the overdue breach did not fire after restart:\n{}",
        site.log()
    );
    server.stop();
    // A second restart fires nothing again.
    let server = site.start();
    std::thread::sleep(Duration::from_millis(500));
    let history = server.history(&id, BANK_AGENT);
    let breaches = of_type(&history, "breached");
    assert_eq!(breaches.len(), 1, "{history:#?}");
    assert_eq!(at(&breaches[0]["at"]), deadline);
    assert_eq!(of_type(&history, "warned").len(), 1);
    assert_eq!(of_type(&history, "escalated").len(), 1);
}

#[test]
fn a_crash_during_a_burst_loses_no_acknowledged_write_and_doubles_none() {
    let site = Site::new();
    let server = site.start();
    let ids: Vec<String> = (0..8)
        .map(|_| {
            server.file(BANK_AGENT, quick("fees", 0))["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let acknowledged: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let url = server.url.clone();
    let writers: Vec<_> = (0..8)
        .map(|w| {
            let (ids, acknowledged, url) = (ids.clone(), acknowledged.clone(), url.clone());
            std::thread::spawn(move || {
                let client = reqwest::blocking::Client::new();
                for n in 0.. {
                    let id = &ids[(w + n) % ids.len()];
                    let key = format!("w{w}-n{n}");
                    let sent = client
                        .post(format!("{url}/v1/cases/{id}/events"))
                        .bearer_auth(BANK_AGENT)
                        .header("Idempotency-Key", &key)
                        .json(&json!({"note": format!("note {key}")}))
                        .send();
                    match sent {
                        Ok(r) if r.status() == 200 => {
                            acknowledged.lock().unwrap().push((id.clone(), key));
                        }
                        Ok(r) => panic!("unexpected answer {}", r.status()),
                        Err(_) => return, // the server is gone
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(1500));
    server.kill9();
    for w in writers {
        w.join().unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        acknowledged.len() > 50,
        "too few writes before the crash: {}",
        acknowledged.len()
    );

    let server = site.start();
    let mut stored: BTreeMap<String, usize> = BTreeMap::new();
    for id in &ids {
        let history = server.history(id, BANK_AGENT);
        let seqs: Vec<u64> = history.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
        assert_eq!(
            seqs,
            (1..=seqs.len() as u64).collect::<Vec<_>>(),
            "gaps in {id}"
        );
        for note in of_type(&history, "noted") {
            *stored
                .entry(note["key"].as_str().unwrap().to_string())
                .or_default() += 1;
        }
    }
    for (_, key) in &acknowledged {
        assert_eq!(
            stored.get(key),
            Some(&1),
            "acknowledged write {key} is not stored once"
        );
    }
    let doubled: BTreeSet<_> = stored.iter().filter(|(_, n)| **n > 1).collect();
    assert!(doubled.is_empty(), "doubled: {doubled:?}");
}

#[test]
fn an_organisation_never_sees_another_ones_cases_or_policies() {
    let site = Site::new();
    let server = site.start();
    let case = server.file(BANK_AGENT, quick("fees", 0));
    let id = case["id"].as_str().unwrap();
    for (method, path) in [
        ("GET", format!("/v1/cases/{id}")),
        ("GET", format!("/v1/cases/{id}/history")),
        ("POST", format!("/v1/cases/{id}/events")),
        ("GET", "/v1/policies/quick".to_string()),
        ("GET", "/v1/policies/quick/graph".to_string()),
    ] {
        let answer = server.send(
            server
                .request(method, &path, Some(RETAIL_AGENT))
                .json(&json!({"note": "hello"})),
        );
        assert_eq!(answer.status, 404, "{method} {path}: {answer:?}");
    }
    let listed = server.get("/v1/cases", RETAIL_AGENT);
    assert_eq!(listed.body["cases"], json!([]));
    let policies = server.get("/v1/policies", RETAIL_AGENT);
    let ids: Vec<&str> = policies.body["policies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["retail"]);
    // The bank's case is untouched.
    assert_eq!(server.case(id, BANK_AGENT)["version"], case["version"]);
}

#[test]
fn each_bad_request_gets_its_own_error_and_changes_nothing() {
    let site = Site::new();
    let server = site.start();
    let case = server.file(BANK_AGENT, quick("fees", 0));
    let id = case["id"].as_str().unwrap().to_string();
    let events = format!("/v1/cases/{id}/events");
    let big = "x".repeat(5000);
    // (what, method, path, token, content type, body, status, code)
    let table: Vec<BadRequest> = vec![
        (
            "malformed JSON",
            "POST",
            events.clone(),
            Some(BANK_AGENT),
            "application/json",
            r#"{"event": "investigate""#.into(),
            400,
            "malformed-json",
        ),
        (
            "unknown member",
            "POST",
            events.clone(),
            Some(BANK_AGENT),
            "application/json",
            r#"{"event": "investigate", "colour": 1}"#.into(),
            400,
            "invalid-request",
        ),
        (
            "two commands",
            "POST",
            events.clone(),
            Some(BANK_AGENT),
            "application/json",
            r#"{"event": "investigate", "note": "x"}"#.into(),
            400,
            "invalid-request",
        ),
        (
            "unknown event",
            "POST",
            events.clone(),
            Some(BANK_AGENT),
            "application/json",
            r#"{"event": "investigat"}"#.into(),
            422,
            "unknown-event",
        ),
        (
            "event not allowed from the stage",
            "POST",
            events.clone(),
            Some(BANK_AGENT),
            "application/json",
            r#"{"event": "close"}"#.into(),
            409,
            "not-allowed-from-stage",
        ),
        (
            "role not allowed",
            "POST",
            events.clone(),
            Some(BANK_AGENT),
            "application/json",
            r#"{"event": "fast-track"}"#.into(),
            403,
            "role-not-allowed",
        ),
        (
            "stale version",
            "POST",
            events.clone(),
            Some(BANK_AGENT),
            "application/json",
            r#"{"event": "investigate", "expected_version": 1}"#.into(),
            409,
            "stale-version",
        ),
        (
            "oversize body",
            "POST",
            events.clone(),
            Some(BANK_AGENT),
            "application/json",
            format!(r#"{{"note": "{big}"}}"#),
            413,
            "body-too-large",
        ),
        (
            "not JSON",
            "POST",
            events.clone(),
            Some(BANK_AGENT),
            "text/plain",
            "investigate".into(),
            415,
            "unsupported-media-type",
        ),
        (
            "no token",
            "POST",
            events.clone(),
            None,
            "application/json",
            r#"{"event": "investigate"}"#.into(),
            401,
            "unauthorized",
        ),
        (
            "wrong token",
            "POST",
            events.clone(),
            Some("not-a-token-of-this-server"),
            "application/json",
            r#"{"event": "investigate"}"#.into(),
            401,
            "unauthorized",
        ),
        (
            "read-only token",
            "POST",
            events.clone(),
            Some(BANK_AUDITOR),
            "application/json",
            r#"{"event": "investigate"}"#.into(),
            403,
            "read-only",
        ),
        (
            "unknown case",
            "POST",
            "/v1/cases/C-999999/events".into(),
            Some(BANK_AGENT),
            "application/json",
            r#"{"event": "investigate"}"#.into(),
            404,
            "case-not-found",
        ),
        (
            "unknown policy",
            "POST",
            "/v1/cases".into(),
            Some(BANK_AGENT),
            "application/json",
            r#"{"policy": "quik", "data": {}}"#.into(),
            404,
            "unknown-policy",
        ),
        (
            "invalid field value",
            "POST",
            "/v1/cases".into(),
            Some(BANK_AGENT),
            "application/json",
            r#"{"policy": "quick", "data": {"category": "weather"}}"#.into(),
            422,
            "invalid-value",
        ),
        (
            "missing field",
            "POST",
            "/v1/cases".into(),
            Some(BANK_AGENT),
            "application/json",
            r#"{"policy": "quick", "data": {}}"#.into(),
            422,
            "missing-fields",
        ),
        (
            "case id taken",
            "POST",
            "/v1/cases".into(),
            Some(BANK_AGENT),
            "application/json",
            format!(r#"{{"policy": "quick", "id": "{id}", "data": {{"category": "fees"}}}}"#),
            409,
            "case-exists",
        ),
        (
            "bad list filter",
            "GET",
            "/v1/cases?clock=late".into(),
            Some(BANK_AGENT),
            "application/json",
            String::new(),
            400,
            "invalid-request",
        ),
        (
            "undecodable case id",
            "GET",
            "/v1/cases/%FF".into(),
            Some(BANK_AGENT),
            "application/json",
            String::new(),
            400,
            "invalid-request",
        ),
        (
            "idempotency key with a space",
            "POST",
            events.clone(),
            Some(BANK_AGENT),
            "application/json",
            r#"{"note": "x"}"#.into(),
            400,
            "invalid-request",
        ),
        (
            "unknown endpoint",
            "GET",
            "/v1/complaints".into(),
            Some(BANK_AGENT),
            "application/json",
            String::new(),
            404,
            "not-found",
        ),
        (
            "wrong method",
            "DELETE",
            format!("/v1/cases/{id}"),
            Some(BANK_AGENT),
            "application/json",
            String::new(),
            405,
            "method-not-allowed",
        ),
        (
            "reload by an agent",
            "POST",
            "/v1/policies/reload".into(),
            Some(BANK_AGENT),
            "application/json",
            String::new(),
            403,
            "forbidden",
        ),
    ];
    for (what, method, path, token, media, body, status, code) in table {
        let mut request = server
            .request(method, &path, token)
            .header("content-type", media);
        if !body.is_empty() {
            request = request.body(body);
        }
        if what.starts_with("idempotency key") {
            request = request.header("Idempotency-Key", "two words");
        }
        let answer = server.send(request);
        assert_eq!(
            (answer.status, answer.code()),
            (status, code),
            "{what}: {answer:?}"
        );
        assert!(
            answer.content_type.starts_with("application/problem+json"),
            "{what}: {answer:?}"
        );
        assert_eq!(answer.body["status"], status, "{what}");
    }
    let after = server.case(&id, BANK_AGENT);
    assert_eq!(
        after["version"], case["version"],
        "a refused request changed the case"
    );
    assert_eq!(after["stage"], "received");
    let listed = server.get("/v1/cases", BANK_AGENT);
    assert_eq!(
        listed.body["cases"].as_array().unwrap().len(),
        1,
        "a refused intake was stored"
    );
    // A refused intake used up no case number.
    assert_eq!(server.file(BANK_AGENT, quick("fees", 0))["id"], "C-000002");
}

#[test]
fn personal_fields_are_masked_for_roles_that_may_not_see_them_and_never_logged() {
    let site = Site::new();
    let server = site.start();
    let case = server.file(BANK_AGENT, quick("fees", 0));
    let id = case["id"].as_str().unwrap();
    assert_eq!(case["data"]["name"], "Li Wei");
    let audited = server.case(id, BANK_AUDITOR);
    assert_eq!(audited["data"]["name"], "***");
    assert_eq!(audited["data"]["amount"], "120.50");
    let history = server.history(id, BANK_AUDITOR);
    assert_eq!(history[0]["kind"]["fields"]["name"], "***");
    server.stop();
    assert!(
        !site.log().contains("Li Wei"),
        "a personal value reached the log"
    );
}

#[test]
fn a_reload_gives_new_cases_the_new_version_and_running_cases_keep_theirs() {
    let site = Site::new();
    let server = site.start();
    let old = server.file(BANK_AGENT, quick("fees", 0));
    let old_id = old["id"].as_str().unwrap().to_string();
    let policy_file = site.path("policies/quick.toml");
    let text = std::fs::read_to_string(&policy_file).unwrap();

    // A broken policy on disk: the reload is refused and nothing changes.
    std::fs::write(
        &policy_file,
        text.replace("to = \"closed\"", "to = \"closd\""),
    )
    .unwrap();
    let refused = server.post("/v1/policies/reload", BANK_SUPERVISOR, json!({}));
    assert_eq!(
        (refused.status, refused.code()),
        (422, "invalid-policies"),
        "{refused:?}"
    );
    assert_eq!(refused.body["diagnostics"][0]["code"], "unknown-stage");
    assert!(
        refused.body["report"]
            .as_str()
            .unwrap()
            .contains("quick.toml")
    );

    std::fs::write(
        &policy_file,
        text.replace("target = \"1 minute\"", "target = \"2 minutes\""),
    )
    .unwrap();
    let reloaded = server.post("/v1/policies/reload", BANK_SUPERVISOR, json!({}));
    assert_eq!(reloaded.status, 200, "{reloaded:?}");
    assert_eq!(reloaded.body["changes"][0]["policy"], "quick");
    let new = server.file(BANK_AGENT, quick("fees", 0));
    assert_ne!(new["policy"]["hash"], old["policy"]["hash"]);
    assert_eq!(clock(&new, "respond")["target"], "2 minutes");

    // After a restart the old version comes from the store, not the changed file.
    server.stop();
    let server = site.start();
    let kept = server.case(&old_id, BANK_AGENT);
    assert_eq!(kept["policy"]["hash"], old["policy"]["hash"]);
    assert_eq!(clock(&kept, "respond")["target"], "1 minute");
    let moved = server.send(
        server
            .request(
                "POST",
                &format!("/v1/cases/{old_id}/events"),
                Some(BANK_AGENT),
            )
            .header("Idempotency-Key", "move-1")
            .header("Prefer", "return=minimal")
            .json(&json!({"event": "investigate"})),
    );
    assert_eq!(moved.status, 200, "{moved:?}");
    // A short answer when asked for one.
    assert_eq!(moved.body["case"]["stage"], "investigating");
    assert!(moved.body["case"].get("clocks").is_none(), "{moved:?}");
    let version = moved.body["case"]["version"].clone();
    server.stop();
    // The idempotency key is remembered across a restart: the repeat adds nothing.
    let server = site.start();
    let repeat = server.send(
        server
            .request(
                "POST",
                &format!("/v1/cases/{old_id}/events"),
                Some(BANK_AGENT),
            )
            .header("Idempotency-Key", "move-1")
            .json(&json!({"event": "investigate"})),
    );
    assert_eq!(repeat.status, 200, "{repeat:?}");
    assert_eq!(repeat.body["case"]["version"], version);
    assert_eq!(repeat.body["repeat_of"]["last"], version);
    assert_eq!(repeat.body["events"], json!([]));
}

#[test]
fn operators_get_health_metrics_openapi_and_the_graph() {
    let site = Site::new();
    let server = site.start();
    server.file(BANK_AGENT, quick("fraud", 0));
    let health = server.send(server.request("GET", "/healthz", None));
    assert_eq!(
        (health.status, health.body.clone()),
        (200, json!({"status": "ok"}))
    );
    let metrics = server.send(server.request("GET", "/metrics", None));
    let text = metrics.body.as_str().unwrap();
    assert!(
        text.contains(r#"redress_cases{org="bank",policy="quick",stage="received"} 1"#),
        "{text}"
    );
    assert!(
        text.contains("redress_http_request_duration_seconds_bucket"),
        "{text}"
    );
    assert!(
        text.contains(r#"redress_events_written_total{org="bank"}"#),
        "{text}"
    );
    let openapi = server.send(server.request("GET", "/v1/openapi.json", None));
    assert_eq!(openapi.status, 200);
    assert!(openapi.body["paths"].is_object());
    let graph = server.get("/v1/policies/quick/graph", BANK_AGENT);
    assert_eq!(graph.status, 200);
    assert!(graph.content_type.starts_with("text/vnd.mermaid"));
    assert!(graph.body.as_str().unwrap().contains("investigating"));
    let detail = server.get("/v1/policies/quick", BANK_AGENT);
    assert_eq!(detail.body["slas"][0]["target"], "1 minute");
}

/// The commands of the README's walk-through, continuation lines joined.
fn walkthrough() -> Vec<String> {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme
        .find("export TOKEN=")
        .expect("the README's walk-through");
    let block = &readme[start..readme[start..].find("```").unwrap() + start];
    let mut commands = Vec::new();
    let mut current = String::new();
    for line in block.lines().skip(1) {
        let line = line.trim();
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        match line.strip_suffix('\\') {
            Some(part) => current.push_str(part),
            None => {
                current.push_str(line);
                commands.push(std::mem::take(&mut current));
            }
        }
    }
    commands
}

#[test]
fn the_readme_walkthrough_runs_against_a_live_server() {
    let site = Site::new();
    let server = site.start();
    let commands = walkthrough();
    assert!(commands.len() >= 6, "{commands:?}");
    for command in commands.iter().chain(commands.iter().take(1)) {
        let command = command.replace("http://127.0.0.1:8080", &server.url);
        let out = std::process::Command::new("bash")
            .args(["-o", "pipefail", "-c", &command])
            .env("TOKEN", BANK_AGENT)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{command}\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            !stdout.trim().is_empty() && !stdout.contains(": null"),
            "{command}\n{stdout}"
        );
    }
    let case = server.case("CRM-4471", BANK_AGENT);
    assert_eq!(case["stage"], "acknowledged");
    // The README's refusal is what the server says.
    let refused = server.post(
        "/v1/cases/CRM-4471/events",
        BANK_AGENT,
        json!({"event": "decide"}),
    );
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let detail = refused.body["detail"].as_str().unwrap();
    assert!(
        readme.contains(&format!("\"detail\": \"{detail}\"")),
        "the README should show: {detail}"
    );
}

#[test]
fn a_misconfigured_service_refuses_to_start_and_says_why() {
    let site = Site::new();
    std::fs::write(
        site.path("bad.toml"),
        "[[organisations]]\nid = \"bank\"\npolicies = [\"quik\"]\n",
    )
    .unwrap();
    std::fs::write(site.path("typo.toml"), "[[organisations]]\nid = \"bank\"\n\n[[tokens]]\nname = \"x\"\norganisation = \"bnak\"\nrole = \"agent\"\ntoken = \"0123456789abcdef\"\n").unwrap();
    let cases: [Misconfiguration; 5] = [
        (
            &["--config", "bad.toml"],
            &[],
            "organisation `bank` runs policy `quik`, which is not in `policies`",
        ),
        (
            &["--config", "typo.toml"],
            &[],
            "unknown organisation `bnak`",
        ),
        (
            &["--config", "missing.toml"],
            &[],
            "cannot read the server configuration `missing.toml`",
        ),
        (
            &[
                "--config",
                "server.toml",
                "--database",
                "postgres://localhost/test?pool_size=0",
            ],
            &[],
            "`pool_size=0`: give a number of connections",
        ),
        // Settings also come from the environment.
        (
            &[],
            &[
                ("REDRESS_CONFIG", "server.toml"),
                ("REDRESS_POLICIES", "nowhere"),
            ],
            "no such file or folder: `nowhere`",
        ),
    ];
    for (args, env, expected) in cases {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_redress"))
            .arg("serve")
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .env("REDRESS_DATABASE", "sqlite://cases.db")
            .envs(env.iter().copied())
            .current_dir(site.dir.path())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        // A service that cannot start is a failure (exit 3), whatever stops it.
        assert_eq!(out.status.code(), Some(3), "{args:?}: {stderr}");
        assert!(
            stderr.contains(expected),
            "{args:?}: {stderr:?} should say {expected:?}"
        );
    }
    // A broken policy in the folder, run by the only organisation: the service
    // does not start, and the diagnostics point at the line. (With other
    // organisations, only its own is refused: see `hardening`.)
    let quick = site.path("policies/quick.toml");
    let text = std::fs::read_to_string(&quick).unwrap();
    std::fs::write(&quick, text.replace("to = \"closed\"", "to = \"closd\"")).unwrap();
    std::fs::write(
        site.path("only-bank.toml"),
        "[[organisations]]\nid = \"bank\"\npolicies = [\"quick\"]\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_redress"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--config",
            "only-bank.toml",
        ])
        .current_dir(site.dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("error[unknown-stage]") && stderr.contains("quick.toml:"),
        "{stderr}"
    );
    assert!(
        !site.path("redress.db").exists(),
        "a refused start created a database"
    );
}

#[test]
fn webhooks_get_each_event_signed_and_are_retried_until_accepted() {
    use hmac::Mac;
    let receiver = Receiver::start(1);
    let site = Site::with_config(&format!(
        "\n[[webhooks]]\nname = \"crm\"\norganisation = \"bank\"\nurl = \"{}\"\nevents = [\"received\", \"breached\"]\nsecret = \"s3cret\"\n",
        receiver.url
    ));
    let server = site.start();
    // Received 57 s ago: the breach falls due in about 3 s.
    let case = server.file(BANK_AGENT, quick("fees", 57));
    let id = case["id"].as_str().unwrap();
    let delivered = || {
        receiver
            .received()
            .into_iter()
            .filter(|r| r.status == 200)
            .collect::<Vec<_>>()
    };
    assert!(
        eventually(20, || delivered().len() >= 2),
        "{:#?}\n{}",
        receiver.received(),
        site.log()
    );
    let all = receiver.received();
    assert_eq!(all[0].status, 503, "the first attempt is refused");
    let delivered = delivered();
    let types: Vec<Value> = delivered
        .iter()
        .map(|r| serde_json::from_str::<Value>(&r.body).unwrap()["event"]["kind"]["type"].clone())
        .collect();
    assert_eq!(
        types,
        [json!("received"), json!("breached")],
        "in order, each once"
    );
    for r in &delivered {
        let body: Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(
            (body["case"].as_str(), body["webhook"].as_str()),
            (Some(id), Some("crm"))
        );
        // Standard Webhooks: HMAC-SHA256 of `id.timestamp.body`, base64, `v1,`.
        let (id, timestamp) = (&r.headers["webhook-id"], &r.headers["webhook-timestamp"]);
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(b"s3cret").unwrap();
        mac.update(format!("{id}.{timestamp}.{}", r.body).as_bytes());
        use base64::Engine;
        let expected =
            base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        assert_eq!(r.headers["webhook-signature"], format!("v1,{expected}"));
        let age = chrono::Utc::now().timestamp() - timestamp.parse::<i64>().unwrap();
        assert!((0..600).contains(&age), "{timestamp}");
        assert_eq!(r.headers["redress-webhook"], "crm");
    }
    // The retry carries the same delivery id; personal fields are masked.
    assert_eq!(
        all[0].headers["redress-delivery"],
        all[1].headers["redress-delivery"]
    );
    assert_eq!(all[0].headers["webhook-id"], all[1].headers["webhook-id"]);
    let received: Value = serde_json::from_str(&delivered[0].body).unwrap();
    assert_eq!(received["event"]["kind"]["fields"]["name"], "***");
    // Instants as in every answer (docs/api.md): UTC, `Z`, six fractional digits.
    let instant = regex::Regex::new(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$").unwrap();
    let breached: Value = serde_json::from_str(&delivered[1].body).unwrap();
    for at in [
        &received["event"]["at"],
        &received["event"]["kind"]["received_at"],
        &breached["event"]["at"],
        &breached["event"]["kind"]["deadline"],
    ] {
        assert!(instant.is_match(at.as_str().unwrap()), "{at}");
    }
    let metrics = server.send(server.request("GET", "/metrics", None));
    let text = metrics.body.as_str().unwrap();
    assert!(
        text.contains(r#"redress_webhook_deliveries_total{outcome="failed",webhook="crm"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"redress_outbox_messages{state="waiting"} 0"#),
        "{text}"
    );
}

const BANK_COMPLIANCE: &str = "bank-compliance-token-0001";

/// Calendars over HTTP: a receipt before the data begins is refused, each
/// calendar's data end is a gauge (and a warning in the log when it is near), and a
/// compliance officer moves running cases onto a new version: a dry run first,
/// then for real, one `migrated` event in the history.
#[test]
fn calendar_data_ends_loudly_and_running_cases_migrate_with_a_dry_run() {
    let site = Site::with_config(&format!(
        "\n[[tokens]]\nname = \"cora\"\norganisation = \"bank\"\nrole = \"compliance\"\ntoken = \"{BANK_COMPLIANCE}\"\n"
    ));
    let server = site.start();
    let bank = |received: &str| json!({"policy": "bank-cn", "data": {"category": "fees", "summary": "charged twice"}, "received_at": received});
    let old = server.post("/v1/cases", BANK_AGENT, bank("1999-01-04T10:00:00+08:00"));
    assert_eq!(
        (old.status, old.code()),
        (422, "calendar-failed"),
        "{old:?}"
    );
    let metrics = server.send(server.request("GET", "/metrics", None));
    let text = metrics.body.as_str().unwrap();
    // The firm data ends with 2026: cn-2027.toml is provisional. 2027-01-01T00:00+08:00.
    assert!(
        text.contains(r#"redress_calendar_data_end_timestamp_seconds{calendar="cn-working-days",policy="bank-cn"} 1798732800"#),
        "{text}"
    );
    assert!(site.log().contains("calendar-data-ends"), "{}", site.log());

    let now = Utc::now().to_rfc3339();
    let filed = server.file(BANK_AGENT, bank(&now));
    let id = filed["id"].as_str().unwrap().to_string();
    let before = clock(&filed, "decision")["deadline"].clone();
    assert_eq!(clock(&filed, "decision")["provisional"], false, "{filed}");
    let policy_file = site.path("policies/bank.toml");
    let text = std::fs::read_to_string(&policy_file).unwrap();
    assert!(text.contains("target = \"15 days\""));
    std::fs::write(
        &policy_file,
        text.replacen("target = \"15 days\"", "target = \"16 days\"", 1),
    )
    .unwrap();
    let reloaded = server.post("/v1/policies/reload", BANK_SUPERVISOR, json!({}));
    assert_eq!(reloaded.status, 200, "{reloaded:?}");

    let path = "/v1/policies/bank-cn/migrate";
    let agent = server.post(path, BANK_AGENT, json!({}));
    assert_eq!(
        (agent.status, agent.code()),
        (403, "forbidden"),
        "{agent:?}"
    );
    let dry = server.post(path, BANK_COMPLIANCE, json!({}));
    assert_eq!(dry.status, 200, "{dry:?}");
    assert_eq!(
        (dry.body["applied"].as_bool(), dry.body["moves"].as_u64()),
        (Some(false), Some(1)),
        "{dry:?}"
    );
    let plan = &dry.body["cases"][0];
    assert_eq!(plan["case"], id.as_str());
    let decision = plan["clocks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["sla"] == "decision")
        .unwrap();
    assert_eq!(decision["old"], before);
    let (old_at, new_at) = (at(&decision["old"]), at(&decision["new"]));
    assert_eq!(new_at - old_at, chrono::Duration::days(1));
    assert_eq!(
        decision["why"][0],
        "the target is now 16 days (was 15 days)"
    );
    assert_eq!(
        of_type(&server.history(&id, BANK_AGENT), "migrated").len(),
        0,
        "a dry run writes nothing"
    );

    let applied = server.post(
        path,
        BANK_COMPLIANCE,
        json!({"to": "current", "apply": true}),
    );
    assert_eq!(
        (applied.status, applied.body["applied"].as_bool()),
        (200, Some(true)),
        "{applied:?}"
    );
    let history = server.history(&id, BANK_AGENT);
    let migrated = of_type(&history, "migrated");
    assert_eq!(migrated.len(), 1, "{history:?}");
    assert_eq!(migrated[0]["kind"]["to"], applied.body["to"]);
    let case = server.case(&id, BANK_AGENT);
    assert_eq!(case["policy"]["hash"], applied.body["to"]);
    assert_eq!(at(&clock(&case, "decision")["deadline"]), new_at);
    let again = server.post(path, BANK_COMPLIANCE, json!({}));
    assert_eq!(again.body["cases"], json!([]), "{again:?}");
    let unknown = server.post(path, BANK_COMPLIANCE, json!({"to": "abc"}));
    assert_eq!(
        (unknown.status, unknown.code()),
        (404, "unknown-version"),
        "{unknown:?}"
    );
}

/// `GET /v1/reports`: the report of the caller's organisation, from the facts the
/// store keeps with each case; auditors and compliance may read it, agents may not.
#[test]
fn reports_count_the_organisations_cases_for_auditors_only() {
    let site = Site::new();
    let server = site.start();
    let mut ids = Vec::new();
    for category in ["fees", "fees", "fraud"] {
        let case = server.file(BANK_AGENT, quick(category, 0));
        ids.push(case["id"].as_str().unwrap().to_string());
    }
    let events = format!("/v1/cases/{}/events", ids[0]);
    for event in ["investigate", "close"] {
        let answer = server.post(&events, BANK_AGENT, json!({ "event": event }));
        assert_eq!(answer.status, 200, "{answer:?}");
    }
    // The day before to the day after, in UTC: today in London, whatever the season.
    let today = chrono::Utc::now().date_naive();
    let (from, to) = (today.pred_opt().unwrap(), today.succ_opt().unwrap());
    let path = format!("/v1/reports?policy=quick&from={from}&to={to}&by=category");
    let answer = server.get(&path, BANK_AUDITOR);
    assert_eq!(answer.status, 200, "{answer:?}");
    let report = &answer.body;
    assert_eq!(report["total"]["received"], 3);
    assert_eq!(report["total"]["closed"], 1);
    assert_eq!(report["total"]["open_at_end"], 2);
    let groups: Vec<(&str, u64)> = report["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["key"]["category"].as_str().unwrap(),
                g["figures"]["received"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(groups, [("fees", 2), ("fraud", 1)]);
    let refused = server.get(&path, BANK_AGENT);
    assert_eq!((refused.status, refused.code()), (403, "forbidden"));
    let unnamed = server.get(
        &format!("/v1/reports?period={}", today.format("%Y-%m")),
        BANK_AUDITOR,
    );
    assert_eq!(
        (unnamed.status, unnamed.code()),
        (400, "invalid-request"),
        "{unnamed:?}"
    );
    let bad = server.get("/v1/reports?policy=quick&period=2026-13", BANK_AUDITOR);
    assert_eq!(bad.status, 400);
    // Another organisation's cases are not counted.
    let retailer = server.get(
        &format!("/v1/reports?period={}", today.format("%Y-%m")),
        RETAIL_AGENT,
    );
    assert_eq!(retailer.status, 403);
}
