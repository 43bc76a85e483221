//! `docs/openapi.json` (served verbatim at `GET /v1/openapi.json`) keeps up with the
//! router: every route of `router()` in `server/src/http.rs` is described and nothing
//! else is, every `$ref` resolves, every shared schema compiles, and the schemas
//! accept what the server sends and refuse what it would not.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde_json::{Value, json};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn spec() -> Value {
    let text = std::fs::read_to_string(root().join("docs/openapi.json")).unwrap();
    serde_json::from_str(&text).expect("docs/openapi.json is not valid JSON")
}

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// The text from an opening parenthesis at `open` to its match, exclusive.
fn balanced(text: &str, open: usize) -> &str {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for (i, c) in text[open..].char_indices() {
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return &text[open + 1..open + i];
                }
            }
            _ => {}
        }
    }
    panic!("unbalanced parentheses after byte {open}");
}

/// `(path, method)` of every `.route("PATH", get(..).post(..))` in `router()`.
fn router_routes() -> BTreeSet<(String, String)> {
    let source = std::fs::read_to_string(root().join("server/src/http.rs")).unwrap();
    let start = source
        .find("pub fn router(")
        .expect("no `pub fn router(` in server/src/http.rs");
    let body = &source[start..];
    let body = &body[..body.find("\n}\n").expect("end of router()")];
    let mut routes = BTreeSet::new();
    for (i, _) in body.match_indices(".route(") {
        let args = balanced(body, i + ".route".len());
        let path_start = args.find('"').expect("a route without a path literal") + 1;
        let path_len = args[path_start..].find('"').expect("unterminated path");
        let path = &args[path_start..path_start + path_len];
        let handlers = &args[path_start + path_len + 1..];
        let mut found = false;
        for method in METHODS {
            for (j, _) in handlers.match_indices(&format!("{method}(")) {
                let before = handlers[..j].chars().next_back();
                if before.is_none_or(|c| !(c.is_alphanumeric() || c == '_')) {
                    routes.insert((path.to_string(), method.to_string()));
                    found = true;
                }
            }
        }
        assert!(found, "no method found for route `{path}`: `{args}`");
    }
    routes
}

/// `(path, method)` of every operation in the spec.
fn spec_operations(spec: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if METHODS.contains(&method.as_str())
                || ["head", "options", "trace"].contains(&method.as_str())
            {
                out.insert((path.clone(), method.clone()));
            }
        }
    }
    out
}

/// Every `$ref` value in the document, with where it is.
fn refs(value: &Value, at: &str, out: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                match (key.as_str(), v) {
                    ("$ref", Value::String(target)) => out.push((at.to_string(), target.clone())),
                    _ => refs(v, &format!("{at}/{key}"), out),
                }
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                refs(v, &format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// A validator for `components/schemas/{name}`: a root schema that holds the
/// components, so the spec's own `#/components/schemas/...` references resolve.
fn validator(spec: &Value, name: &str) -> jsonschema::Validator {
    let schema = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$ref": format!("#/components/schemas/{name}"),
        "components": spec["components"],
    });
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .should_validate_formats(true)
        .build(&schema)
        .unwrap_or_else(|e| panic!("components/schemas/{name} does not compile: {e}"))
}

fn assert_valid(spec: &Value, name: &str, instance: &Value) {
    let v = validator(spec, name);
    let errors: Vec<String> = v.iter_errors(instance).map(|e| e.to_string()).collect();
    assert!(
        errors.is_empty(),
        "{name} refused {instance:#}:\n{}",
        errors.join("\n")
    );
}

fn assert_invalid(spec: &Value, name: &str, instance: &Value) {
    assert!(
        !validator(spec, name).is_valid(instance),
        "{name} accepted {instance:#}, which it must refuse"
    );
}

#[test]
fn it_is_openapi_3_1_with_info_paths_and_components() {
    let spec = spec();
    let version = spec["openapi"].as_str().unwrap_or_default();
    assert!(version.starts_with("3.1."), "openapi is `{version}`");
    assert!(spec["info"]["title"].is_string());
    assert!(spec["info"]["version"].is_string());
    assert!(!spec["paths"].as_object().unwrap().is_empty());
    assert!(
        !spec["components"]["schemas"]
            .as_object()
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        spec["components"]["securitySchemes"]["bearerAuth"]["scheme"],
        "bearer"
    );
}

#[test]
fn every_route_is_described_and_nothing_else() {
    let routes = router_routes();
    assert!(routes.len() >= 10, "only found {routes:?} in router()");
    let described = spec_operations(&spec());
    let missing: Vec<_> = routes.difference(&described).collect();
    let extra: Vec<_> = described.difference(&routes).collect();
    assert!(
        missing.is_empty(),
        "routes not in docs/openapi.json: {missing:?}"
    );
    assert!(
        extra.is_empty(),
        "docs/openapi.json describes no such route: {extra:?}"
    );
}

#[test]
fn the_route_parser_sees_chained_methods() {
    let routes = router_routes();
    assert!(routes.contains(&("/v1/cases".into(), "post".into())));
    assert!(routes.contains(&("/v1/cases".into(), "get".into())));
    assert!(routes.contains(&("/v1/cases/{id}/events".into(), "post".into())));
}

#[test]
fn every_ref_resolves() {
    let spec = spec();
    let mut found = Vec::new();
    refs(&spec, "#", &mut found);
    assert!(found.len() > 20, "only {} $refs", found.len());
    for (at, target) in found {
        let pointer = target
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("{at}: `{target}` is not a local reference"));
        assert!(
            spec.pointer(pointer).is_some(),
            "{at}: `{target}` resolves to nothing"
        );
    }
}

#[test]
fn v1_needs_a_token_and_operators_do_not() {
    let spec = spec();
    assert_eq!(spec["security"], json!([{ "bearerAuth": [] }]));
    for (path, method) in spec_operations(&spec) {
        let op = &spec["paths"][&path][&method];
        let open = op["security"] == json!([]);
        let should_be_open = !path.starts_with("/v1/") || path == "/v1/openapi.json";
        assert_eq!(open, should_be_open, "{method} {path}: security");
        // `/metrics` is open unless `[metrics] token` is configured.
        assert_eq!(
            op["responses"].get("401").is_some(),
            !should_be_open || path == "/metrics",
            "{method} {path}: 401"
        );
    }
}

#[test]
fn every_error_response_is_a_problem() {
    let spec = spec();
    let responses = &spec["components"]["responses"];
    let problem = json!({ "$ref": "#/components/schemas/Problem" });
    for (path, method) in spec_operations(&spec) {
        let op = &spec["paths"][&path][&method];
        for (status, response) in op["responses"].as_object().unwrap() {
            let code: u16 = status.parse().unwrap();
            let response = match response["$ref"].as_str() {
                Some(r) => &responses[r.trim_start_matches("#/components/responses/")],
                None => response,
            };
            let content = response["content"].as_object().unwrap();
            if code >= 400 {
                assert_eq!(
                    content.keys().collect::<Vec<_>>(),
                    ["application/problem+json"],
                    "{method} {path} {status}"
                );
                assert_eq!(
                    content["application/problem+json"]["schema"], problem,
                    "{method} {path} {status}"
                );
            }
        }
    }
}

#[test]
fn every_shared_schema_compiles() {
    let spec = spec();
    for name in spec["components"]["schemas"].as_object().unwrap().keys() {
        validator(&spec, name);
    }
}

#[test]
fn problems_fit_and_misfits_do_not() {
    let spec = spec();
    assert_valid(
        &spec,
        "Problem",
        &json!({
            "type": "https://redress.dev/problems/not-allowed-from-stage",
            "title": "Refused",
            "status": 409,
            "code": "not-allowed-from-stage",
            "detail": "`decide` is not allowed from stage `received`; allowed: `acknowledge`",
            "refusal": {
                "kind": "not-allowed-from-stage",
                "event": "decide",
                "stage": "received",
                "allowed": ["acknowledge", "withdraw"]
            }
        }),
    );
    assert_valid(
        &spec,
        "Problem",
        &json!({
            "type": "https://redress.dev/problems/malformed-json",
            "title": "Malformed JSON", "status": 400, "code": "malformed-json",
            "detail": "the body is not valid JSON: EOF while parsing", "line": 1, "column": 9
        }),
    );
    assert_valid(
        &spec,
        "Problem",
        &json!({
            "type": "https://redress.dev/problems/invalid-policies",
            "title": "Invalid policies", "status": 422, "code": "invalid-policies",
            "detail": "the policies on disk have errors; nothing was changed",
            "diagnostics": [{
                "code": "unknown-stage", "severity": "error", "message": "no stage `resolvd`",
                "location": { "file": "policies/bank.toml", "line": 12, "column": 7 },
                "help": "did you mean `resolved`?"
            }],
            "report": "error[unknown-stage]: no stage `resolvd`"
        }),
    );
    // No `code`; a status that is no error; a refusal of no known kind.
    assert_invalid(
        &spec,
        "Problem",
        &json!({ "type": "https://redress.dev/problems/x", "title": "X", "status": 404, "detail": "x" }),
    );
    assert_invalid(
        &spec,
        "Problem",
        &json!({ "type": "https://redress.dev/problems/x", "title": "X", "status": 200, "detail": "x", "code": "x" }),
    );
    assert_invalid(
        &spec,
        "Problem",
        &json!({
            "type": "https://redress.dev/problems/x", "title": "Refused", "status": 409,
            "detail": "x", "code": "x", "refusal": { "kind": "no-such-refusal" }
        }),
    );
}

#[test]
fn the_problem_shown_in_the_api_docs_fits() {
    let docs = std::fs::read_to_string(root().join("docs/api.md")).unwrap();
    let start = docs
        .find("{\"type\": \"https://redress.dev/problems/")
        .expect("docs/api.md shows no problem document");
    let end = start + docs[start..].find("\n```").expect("end of the block");
    let example: Value = serde_json::from_str(&docs[start..end]).unwrap();
    assert_valid(&spec(), "Problem", &example);
}

#[test]
fn lists_and_history_fit() {
    let spec = spec();
    let row = json!({
        "id": "C-000001", "policy": "bank-cn", "policy_hash": "9f86d081", "version": 3,
        "stage": "acknowledged", "queue": "fees", "priority": 2, "assignee": null,
        "closed": false, "clock_state": "at-risk",
        "received_at": "2026-11-20T01:15:00Z", "updated_at": "2026-11-21T02:00:00Z",
        "next_due": "2026-11-27T09:00:00Z"
    });
    assert_valid(
        &spec,
        "CaseList",
        &json!({ "cases": [row.clone()], "next": "1" }),
    );
    assert_valid(&spec, "CaseList", &json!({ "cases": [], "next": null }));

    let mut bad_state = row.clone();
    bad_state["clock_state"] = json!("late");
    assert_invalid(
        &spec,
        "CaseList",
        &json!({ "cases": [bad_state], "next": null }),
    );
    let mut no_id = row.clone();
    no_id.as_object_mut().unwrap().remove("id");
    assert_invalid(
        &spec,
        "CaseList",
        &json!({ "cases": [no_id], "next": null }),
    );
    assert_invalid(&spec, "CaseList", &json!({ "cases": [row] }));

    let history = json!({
        "case": "C-000001",
        "events": [
            {
                "seq": 1, "at": "2026-11-20T01:15:00Z", "policy": "9f86d081",
                "actor": { "id": "Wang Fang", "role": "agent" }, "key": "intake-7f3a",
                "kind": {
                    "type": "received", "case": "C-000001",
                    "received_at": "2026-11-20T01:15:00Z",
                    "fields": { "amount": "120.50", "name": "***", "urgent": false },
                    "stage": "received"
                },
                "recorded_at": "2026-11-20T01:15:00.120Z"
            },
            {
                "seq": 2, "at": "2026-11-20T01:15:00Z", "policy": "9f86d081",
                "kind": { "type": "clock", "sla": "decision", "op": { "op": "start" },
                          "on": "2026-11-20T01:15:00Z", "trigger": "intake" },
                "recorded_at": "2026-11-20T01:15:00.120Z"
            }
        ],
        "next": 2
    });
    assert_valid(&spec, "History", &history);
    let mut unrecorded = history.clone();
    unrecorded["events"][0]
        .as_object_mut()
        .unwrap()
        .remove("recorded_at");
    assert_invalid(&spec, "History", &unrecorded);
}

#[test]
fn request_bodies_are_closed_and_commands_come_one_at_a_time() {
    let spec = spec();
    assert_valid(
        &spec,
        "IntakeBody",
        &json!({
            "policy": "bank-cn",
            "data": { "category": "fees", "summary": "Charged twice", "amount": "120.50" },
            "received_at": "2026-11-20T09:15:00+08:00",
            "id": "CRM-4471"
        }),
    );
    assert_invalid(
        &spec,
        "IntakeBody",
        &json!({ "policy": "bank-cn", "colour": "red" }),
    );
    assert_invalid(
        &spec,
        "IntakeBody",
        &json!({ "policy": "bank-cn", "id": "has space" }),
    );
    assert_invalid(&spec, "IntakeBody", &json!({ "data": {} }));

    for ok in [
        json!({ "event": "acknowledge", "data": { "channel": "phone" } }),
        json!({ "note": "Called the complainant" }),
        json!({ "assign": "u7", "expected_version": 4 }),
        json!({ "update": { "amount": "99" } }),
        json!({ "extend": "decision", "extension": "complex" }),
        json!({ "withdraw": true }),
    ] {
        assert_valid(&spec, "CommandBody", &ok);
    }
    for bad in [
        json!({}),
        json!({ "note": "x", "assign": "u7" }),
        json!({ "note": "x", "data": {} }),
        json!({ "assign": "u7", "extension": "complex" }),
        json!({ "withdraw": false }),
        json!({ "note": "x", "urgent": true }),
    ] {
        assert_invalid(&spec, "CommandBody", &bad);
    }
}
