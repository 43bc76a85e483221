//! Hardening (#17, #16): limits on connections and request heads, timeouts, the
//! graceful stop, and the HTTP conventions clients rely on.

use std::io::{Read, Write};

use serde_json::{Value, json};

use super::harness::*;

/// Reads what the server sends until it closes the connection.
fn read_to_close(stream: &mut std::net::TcpStream) -> String {
    let mut out = Vec::new();
    let _ = stream.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// The JSON body of a raw HTTP/1.1 answer.
fn body_of(answer: &str) -> Value {
    let body = answer.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    serde_json::from_str(body).unwrap_or(Value::Null)
}

#[test]
fn connections_over_the_limit_are_answered_503_and_the_rest_keep_working() {
    let site = Site::with_limits("max_connections = 4\nheader_timeout_seconds = 60");
    let server = site.start();
    // Four idle connections hold every place (as a flood of idle clients would).
    let mut idle: Vec<_> = (0..4).map(|_| server.connect()).collect();
    // Hyper takes a connection on accept; make sure all four are served first.
    for stream in &mut idle {
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
            .unwrap();
        let mut buf = [0u8; 512];
        let n = stream.read(&mut buf).unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    }
    let over = server.get("/healthz", BANK_AGENT);
    assert_eq!(over.status, 503, "{over:?}");
    assert_eq!(over.content_type, "application/problem+json");
    assert_eq!(over.code(), "unavailable");
    let raw = {
        let mut s = server.connect();
        s.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
            .unwrap();
        read_to_close(&mut s)
    };
    assert!(raw.to_ascii_lowercase().contains("retry-after: 1"), "{raw}");
    drop(idle);
    assert!(eventually(10, || server.get("/healthz", BANK_AGENT).status == 200));
    let metrics = server.get("/metrics", BANK_AGENT);
    let text = metrics.body.as_str().unwrap().to_string();
    assert!(
        text.contains("redress_requests_shed_total{reason=\"connections\"}"),
        "{text}"
    );
}

#[test]
fn idle_and_half_sent_connections_are_closed_after_the_header_timeout() {
    let site = Site::with_limits("header_timeout_seconds = 1");
    let server = site.start();
    let mut silent = server.connect();
    let mut half = server.connect();
    half.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n")
        .unwrap();
    let mut kept_alive = server.connect();
    kept_alive
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        .unwrap();
    // Each is closed by the server (a read returns the end of the stream rather
    // than waiting out the client's 30 s read timeout).
    assert_eq!(read_to_close(&mut silent), "");
    assert_eq!(read_to_close(&mut half), "");
    let answered = read_to_close(&mut kept_alive);
    assert!(answered.starts_with("HTTP/1.1 200"), "{answered}");
    assert_eq!(server.get("/healthz", BANK_AGENT).status, 200);
}

#[test]
fn a_request_that_does_not_finish_in_time_gets_a_503_problem() {
    let site = Site::with_limits("request_timeout_seconds = 1");
    let server = site.start();
    let mut slow = server.connect();
    let head = format!(
        "POST /v1/cases HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {BANK_AGENT}\r\n\
         content-type: application/json\r\ncontent-length: 100\r\n\r\n{{\"policy\""
    );
    slow.write_all(head.as_bytes()).unwrap();
    let answer = read_to_close(&mut slow);
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert_eq!(body_of(&answer)["code"], "timeout", "{answer}");
}

#[test]
fn framework_level_errors_are_problem_documents() {
    let site = Site::new();
    let server = site.start();
    let mut many = server.request("GET", "/v1/cases", Some(BANK_AGENT));
    for i in 0..150 {
        many = many.header(format!("x-filler-{i}"), "1");
    }
    let answer = server.send(many);
    assert_eq!(answer.status, 431, "{answer:?}");
    assert_eq!(answer.content_type, "application/problem+json");
    assert_eq!(answer.code(), "headers-too-large");
    let long = server
        .request("GET", "/v1/cases", Some(BANK_AGENT))
        .header("x-long", "a".repeat(20_000));
    let answer = server.send(long);
    assert_eq!(answer.status, 431, "{answer:?}");
    assert_eq!(answer.code(), "headers-too-large");
}

#[test]
fn on_sigterm_requests_in_flight_are_answered_and_new_ones_get_503() {
    let site = Site::new();
    let server = site.start();
    // A request in flight: its head and half its body sent.
    let body =
        json!({"policy": "quick", "data": {"category": "fees", "amount": "1.00", "name": "Li"}})
            .to_string();
    let (first, rest) = body.split_at(body.len() / 2);
    let mut in_flight = server.connect();
    let head = format!(
        "POST /v1/cases HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {BANK_AGENT}\r\n\
         content-type: application/json\r\ncontent-length: {}\r\n\r\n{first}",
        body.len()
    );
    in_flight.write_all(head.as_bytes()).unwrap();
    // Once the server is handling it (a case number is only taken after the body,
    // so look for the connection instead: a later request on a fresh one answers).
    assert_eq!(server.get("/healthz", BANK_AGENT).status, 200);
    server.terminate();
    // New requests during the drain: 503 with Retry-After.
    let mut refused = None;
    assert!(eventually(20, || {
        let mut s = server.connect();
        let _ = s.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n");
        let answer = read_to_close(&mut s);
        let stopping = answer.starts_with("HTTP/1.1 503");
        if stopping {
            refused = Some(answer);
        }
        stopping
    }));
    let refused = refused.unwrap();
    assert!(
        refused.to_ascii_lowercase().contains("retry-after: 1"),
        "{refused}"
    );
    assert_eq!(body_of(&refused)["code"], "unavailable");
    // The request in flight is answered in full.
    in_flight.write_all(rest.as_bytes()).unwrap();
    let answer = read_to_close(&mut in_flight);
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    assert!(server.wait(), "the server did not stop cleanly");
    // And it was written: a new server finds the case.
    let again = site.start();
    let case = body_of(&answer)["case"]["id"].as_str().unwrap().to_string();
    assert_eq!(
        again.get(&format!("/v1/cases/{case}"), BANK_AGENT).status,
        200
    );
}

#[test]
fn the_bearer_scheme_is_case_insensitive() {
    let site = Site::new();
    let server = site.start();
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let answer = server.send(
            server
                .request("GET", "/v1/policies", None)
                .header("authorization", format!("{scheme} {BANK_AGENT}")),
        );
        assert_eq!(answer.status, 200, "{scheme}: {answer:?}");
    }
}

const RETAIL_SUPERVISOR: &str = "retail-supervisor-token-0001";

fn retail_supervisor() -> &'static str {
    "\n[[tokens]]\nname = \"rex\"\norganisation = \"retailer\"\nrole = \"supervisor\"\ntoken = \"retail-supervisor-token-0001\"\n"
}

#[test]
fn a_reload_changes_only_the_callers_organisation_and_a_broken_file_refuses_only_its_own() {
    let site = Site::with_config(retail_supervisor());
    let server = site.start();
    let before = server.get("/v1/policies/quick", BANK_AGENT);
    let quick_file = site.path("policies/quick.toml");
    let text = std::fs::read_to_string(&quick_file).unwrap();
    std::fs::write(
        &quick_file,
        text.replace("version = \"1\"", "version = \"2\""),
    )
    .unwrap();
    // The retailer's reload does not touch the bank's policies.
    let theirs = server.post("/v1/policies/reload", RETAIL_SUPERVISOR, json!({}));
    assert_eq!(theirs.status, 200, "{theirs:?}");
    assert_eq!(theirs.body["changes"], json!([]), "{theirs:?}");
    assert_eq!(
        server.get("/v1/policies/quick", BANK_AGENT).body,
        before.body
    );
    let ours = server.post("/v1/policies/reload", BANK_SUPERVISOR, json!({}));
    assert_eq!(ours.body["changes"][0]["policy"], "quick", "{ours:?}");

    // A broken retail file: the bank's reload still works, the retailer's is refused
    // with diagnostics that name the file relative to the policies folder.
    let retail_file = site.path("policies/retail.toml");
    let retail = std::fs::read_to_string(&retail_file).unwrap();
    std::fs::write(
        &retail_file,
        retail.replacen("[policy]", "[policy]\ncolour = 1", 1),
    )
    .unwrap();
    assert_eq!(
        server
            .post("/v1/policies/reload", BANK_SUPERVISOR, json!({}))
            .status,
        200
    );
    let refused = server.post("/v1/policies/reload", RETAIL_SUPERVISOR, json!({}));
    assert_eq!(
        (refused.status, refused.code()),
        (422, "invalid-policies"),
        "{refused:?}"
    );
    assert_eq!(refused.body["files"], json!(["retail.toml"]));
    let shown = refused.body.to_string();
    let root = site.dir.path().canonicalize().unwrap();
    assert!(!shown.contains(&*root.to_string_lossy()), "{shown}");
    assert!(
        !shown.contains(&*site.dir.path().to_string_lossy()),
        "{shown}"
    );
    server.stop();

    // At start-up the broken file refuses only the retailer; the bank serves, and
    // /healthz says who is not loaded.
    let server = site.start();
    let health = server.get("/healthz", BANK_AGENT);
    assert_eq!(health.status, 200);
    assert_eq!(health.body["status"], "degraded", "{health:?}");
    assert_eq!(health.body["not_loaded"][0]["organisation"], "retailer");
    assert_eq!(
        health.body["not_loaded"][0]["files"],
        json!(["retail.toml"])
    );
    server.file(BANK_AGENT, quick("fees", 0));
    let intake = server.post(
        "/v1/cases",
        RETAIL_AGENT,
        json!({"policy": "retail", "data": {}}),
    );
    assert_eq!(
        (intake.status, intake.code()),
        (503, "policies-not-loaded"),
        "{intake:?}"
    );
    // Fixed and reloaded, the retailer serves again.
    std::fs::write(&retail_file, retail).unwrap();
    let fixed = server.post("/v1/policies/reload", RETAIL_SUPERVISOR, json!({}));
    assert_eq!(fixed.status, 200, "{fixed:?}");
    assert_eq!(server.get("/healthz", BANK_AGENT).body["status"], "ok");
}

fn note(server: &Server, id: &str, key: &str, body: Value, if_match: Option<&str>) -> Answer {
    let mut request = server
        .request("POST", &format!("/v1/cases/{id}/events"), Some(BANK_AGENT))
        .header("Idempotency-Key", key)
        .json(&body);
    if let Some(tag) = if_match {
        request = request.header("If-Match", tag);
    }
    server.send(request)
}

fn etag_of(server: &Server, id: &str) -> String {
    let response = server
        .request("GET", &format!("/v1/cases/{id}"), Some(BANK_AGENT))
        .send()
        .unwrap();
    response.headers()["etag"].to_str().unwrap().to_string()
}

#[test]
fn a_case_has_an_etag_and_a_stale_if_match_is_refused_412_changing_nothing() {
    let site = Site::new();
    let server = site.start();
    let case = server.file(BANK_AGENT, quick("fees", 0));
    let id = case["id"].as_str().unwrap();
    let tag = etag_of(&server, id);
    assert_eq!(tag, format!("\"{}\"", case["version"]));
    let ok = note(&server, id, "n-1", json!({"note": "one"}), Some(&tag));
    assert_eq!(ok.status, 200, "{ok:?}");
    let after = etag_of(&server, id);
    assert_ne!(after, tag);
    let events = server.history(id, BANK_AGENT).len();
    // The old tag is stale now: 412, and nothing is written.
    let stale = note(&server, id, "n-2", json!({"note": "two"}), Some(&tag));
    assert_eq!(
        (stale.status, stale.code()),
        (412, "precondition-failed"),
        "{stale:?}"
    );
    assert_eq!(stale.body["current_etag"], after);
    assert_eq!(server.history(id, BANK_AGENT).len(), events);
    // `*` and the body's `expected_version` still work; a tag this API never gave
    // is a bad request.
    assert_eq!(
        note(&server, id, "n-3", json!({"note": "3"}), Some("*")).status,
        200
    );
    let version = server.case(id, BANK_AGENT)["version"].as_u64().unwrap();
    let body = json!({"note": "4", "expected_version": version - 1});
    let conflict = note(&server, id, "n-4", body, None);
    assert_eq!((conflict.status, conflict.code()), (409, "stale-version"));
    let odd = note(&server, id, "n-5", json!({"note": "5"}), Some("W/\"3\""));
    assert_eq!(
        (odd.status, odd.code()),
        (400, "invalid-request"),
        "{odd:?}"
    );
}

#[test]
fn an_idempotency_key_reused_with_a_different_request_is_refused_422_changing_nothing() {
    let site = Site::new();
    let server = site.start();
    let intake = |body: Value| {
        server.send(
            server
                .request("POST", "/v1/cases", Some(BANK_AGENT))
                .header("Idempotency-Key", "intake-1")
                .json(&body),
        )
    };
    let first = json!({"policy": "quick", "data": {"category": "fees", "amount": "1.00"}});
    let created = intake(first.clone());
    assert_eq!(created.status, 201, "{created:?}");
    // The same request (its fields in another order) is a repeat.
    let same = json!({"data": {"amount": "1.00", "category": "fees"}, "policy": "quick"});
    let repeat = intake(same);
    assert_eq!(repeat.status, 200, "{repeat:?}");
    assert_eq!(repeat.body["case"]["id"], created.body["case"]["id"]);
    let other = json!({"policy": "quick", "data": {"category": "fraud", "amount": "1.00"}});
    let refused = intake(other);
    assert_eq!(
        (refused.status, refused.code()),
        (422, "idempotency-key-reused"),
        "{refused:?}"
    );
    let listed = server.get("/v1/cases", BANK_AGENT);
    assert_eq!(listed.body["cases"].as_array().unwrap().len(), 1);

    // A command key first used for a note, then sent with `withdraw`.
    let id = created.body["case"]["id"].as_str().unwrap();
    assert_eq!(
        note(&server, id, "cmd-1", json!({"note": "x"}), None).status,
        200
    );
    let version = server.case(id, BANK_AGENT)["version"].clone();
    let withdraw = note(&server, id, "cmd-1", json!({"withdraw": true}), None);
    assert_eq!(
        (withdraw.status, withdraw.code()),
        (422, "idempotency-key-reused")
    );
    let case = server.case(id, BANK_AGENT);
    assert_eq!(
        (case["version"].clone(), case["closed"].clone()),
        (version, json!(false))
    );
    // After a restart too (the fingerprint is stored with the key).
    server.stop();
    let server = site.start();
    let withdraw = note(&server, id, "cmd-1", json!({"withdraw": true}), None);
    assert_eq!(withdraw.code(), "idempotency-key-reused");
    assert_eq!(
        note(&server, id, "cmd-1", json!({"note": "x"}), None).status,
        200
    );
}

#[test]
fn small_edges_each_get_their_answer() {
    let site = Site::new();
    let server = site.start();
    for id in [".", "..", "..."] {
        let body = json!({"policy": "quick", "id": id, "data": {"category": "fees"}});
        let answer = server.post("/v1/cases", BANK_AGENT, body);
        assert_eq!(
            (answer.status, answer.code()),
            (400, "invalid-request"),
            "{id}: {answer:?}"
        );
    }
    let unknown = server.get("/v1/cases?policy=nope", BANK_AGENT);
    assert_eq!(
        (unknown.status, unknown.code()),
        (404, "unknown-policy"),
        "{unknown:?}"
    );
    assert_eq!(unknown.body["known"], json!(["bank-cn", "quick"]));

    // A complaint received 5 minutes ago: its warning (at 30 s) and breach (at 60 s)
    // are already due, and are stamped with their due instants.
    let received = chrono::Utc::now() - chrono::Duration::seconds(300);
    let received = received.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let case = server.file(
        BANK_AGENT,
        json!({"policy": "quick", "data": {"category": "fees"}, "received_at": received}),
    );
    let history = server.history(case["id"].as_str().unwrap(), BANK_AGENT);
    let at = |kind: &str| -> chrono::DateTime<chrono::Utc> {
        of_type(&history, kind)[0]["at"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap()
    };
    let received: chrono::DateTime<chrono::Utc> = received.parse().unwrap();
    assert_eq!(at("warned"), received + chrono::Duration::seconds(30));
    assert_eq!(at("breached"), received + chrono::Duration::seconds(60));

    // A stale due index (here: no stamps, as a database from before them) is
    // rebuilt after start-up: nothing to correct, nothing rewritten.
    for _ in 0..3 {
        server.file(BANK_AGENT, quick("fees", 0));
    }
    server.stop();
    rusqlite::Connection::open(site.path("cases.db"))
        .unwrap()
        .execute_batch("DELETE FROM due_index_stamps")
        .unwrap();
    let server = site.start();
    assert_eq!(server.get("/healthz", BANK_AGENT).status, 200);
    let rebuilt = || -> Vec<String> {
        site.log()
            .lines()
            .filter(|l| l.contains("stale due index rebuilt"))
            .map(str::to_string)
            .collect()
    };
    assert!(eventually(15, || !rebuilt().is_empty()), "{}", site.log());
    let rebuilt = rebuilt();
    assert!(
        rebuilt.iter().all(|l| l.contains("corrected=0")),
        "{rebuilt:?}"
    );
}

#[test]
fn a_delayed_transition_whose_condition_fails_is_recorded_logged_counted_and_shown() {
    let site = Site::new();
    let quick_file = site.path("policies/quick.toml");
    let text = std::fs::read_to_string(&quick_file).unwrap();
    let lapse = "\n[[transitions]]\non = \"lapse\"\nfrom = \"received\"\nto = \"closed\"\n\
                 after = \"1 minutes\"\nwhen = '100 / (amount - 120.50) > 0'\n";
    std::fs::write(&quick_file, format!("{text}{lapse}")).unwrap();
    let server = site.start();
    // Received 5 minutes ago: the delayed transition is due at once, and its
    // condition divides by zero for this amount.
    let case = server.file(BANK_AGENT, quick("fees", 300));
    let id = case["id"].as_str().unwrap();
    let history = server.history(id, BANK_AGENT);
    let failed = of_type(&history, "timer-failed");
    assert_eq!(failed.len(), 1, "{history:?}");
    assert!(
        failed[0]["kind"]["error"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("zero"),
        "{failed:?}"
    );
    let view = server.case(id, BANK_AGENT);
    assert_eq!(view["stage"], "received");
    assert_eq!(view["failed_timers"][0]["event"], "lapse", "{view}");
    let metrics = server.get("/metrics", BANK_AGENT);
    let text = metrics.body.as_str().unwrap();
    assert!(
        text.contains("redress_timers_failed_total{org=\"bank\"} 1"),
        "{text}"
    );
    assert!(eventually(5, || site.log().contains("WARN")
        && site.log().contains("condition failed")));
    // Another amount: the condition holds, and the case moves.
    let other = server.file(
        BANK_AGENT,
        json!({"policy": "quick", "data": {"category": "fees", "amount": "200.00"},
               "received_at": (chrono::Utc::now() - chrono::Duration::seconds(300)).to_rfc3339()}),
    );
    assert_eq!(other["stage"], "closed", "{other}");
}

#[test]
fn metrics_can_require_a_token_of_their_own() {
    let site = Site::with_config("\n[metrics]\ntoken = \"metrics-token-000001\"\n");
    let server = site.start();
    let anonymous = server.send(server.request("GET", "/metrics", None));
    assert_eq!((anonymous.status, anonymous.code()), (401, "unauthorized"));
    let agent = server.get("/metrics", BANK_AGENT);
    assert_eq!(agent.status, 401, "an API token is not the metrics token");
    let scraper = server.get("/metrics", "metrics-token-000001");
    assert_eq!(scraper.status, 200);
    assert!(
        scraper
            .body
            .as_str()
            .unwrap()
            .contains("redress_store_wal_bytes")
    );
}
