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
