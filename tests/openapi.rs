//! `docs/openapi.json` is the OpenAPI description the service generates from its
//! routes and response types (`redress_server::http::openapi_json`, served at
//! `GET /v1/openapi.json`), committed so that a change to the API shows in review.
//! `cargo test --test openapi` fails when the two differ; `UPDATE_OPENAPI=1 cargo
//! test --test openapi` rewrites the file. The live responses of every operation
//! are validated against it in `tests/serve/openapi_live.rs`.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use serde_json::{Value, json};

fn committed_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/openapi.json")
}

fn generated() -> String {
    redress_server::http::openapi_json().expect("the description serialises")
}

fn spec() -> Value {
    serde_json::from_str(&generated()).unwrap()
}

#[test]
fn the_committed_description_is_the_generated_one() {
    let generated = generated();
    let path = committed_path();
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, &generated).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run `UPDATE_OPENAPI=1 cargo test --test openapi`",
            path.display()
        )
    });
    if committed != generated {
        let line = committed
            .lines()
            .zip(generated.lines())
            .position(|(a, b)| a != b)
            .map_or(
                committed.lines().count().min(generated.lines().count()),
                |i| i,
            )
            + 1;
        panic!(
            "docs/openapi.json differs from the generated description from line {line} on; \
             run `UPDATE_OPENAPI=1 cargo test --test openapi` and review the diff"
        );
    }
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

/// A validator for `components/schemas/{name}`, with the components beside it so
/// that the document's `#/components/schemas/...` references resolve.
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
fn it_is_openapi_3_1_with_the_bearer_scheme() {
    let spec = spec();
    let version = spec["openapi"].as_str().unwrap_or_default();
    assert!(version.starts_with("3.1."), "openapi is `{version}`");
    assert_eq!(spec["info"]["title"], "Redress API");
    assert_eq!(
        spec["components"]["securitySchemes"]["bearerAuth"]["scheme"],
        "bearer"
    );
}

#[test]
fn every_ref_resolves_and_every_schema_compiles() {
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
    for name in spec["components"]["schemas"].as_object().unwrap().keys() {
        validator(&spec, name);
    }
}

/// `/v1` needs a token, except the description itself; `/healthz` and `/metrics`
/// (whose token is optional) do not.
#[test]
fn v1_needs_a_token_and_operators_do_not() {
    let spec = spec();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let needs_token = op["security"] == json!([{ "bearerAuth": [] }]);
            let should = path.starts_with("/v1/") && path != "/v1/openapi.json";
            assert_eq!(needs_token, should, "{method} {path}: security");
            assert_eq!(
                op["responses"].get("401").is_some(),
                should || path == "/metrics",
                "{method} {path}: 401"
            );
        }
    }
}

/// Every error response is a problem document, and nothing else is one.
#[test]
fn every_error_response_is_a_problem() {
    let spec = spec();
    let problem = json!({ "$ref": "#/components/schemas/Problem" });
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            for (status, response) in op["responses"].as_object().unwrap() {
                let response = match response["$ref"].as_str() {
                    Some(r) => spec.pointer(r.trim_start_matches('#')).unwrap(),
                    None => response,
                };
                let content = response["content"].as_object().unwrap();
                let is_problem = content.contains_key("application/problem+json");
                assert_eq!(
                    is_problem,
                    status.parse::<u16>().unwrap() >= 400,
                    "{method} {path} {status}"
                );
                if is_problem {
                    assert_eq!(content.len(), 1, "{method} {path} {status}");
                    assert_eq!(
                        content["application/problem+json"]["schema"], problem,
                        "{method} {path} {status}"
                    );
                }
            }
        }
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
    // No `code`; a status that is no error; a code the API does not have; a member
    // the API never sends; a refusal of no known kind.
    for bad in [
        json!({ "type": "https://redress.dev/problems/x", "title": "X", "status": 404, "detail": "x" }),
        json!({ "type": "https://redress.dev/problems/not-found", "title": "X", "status": 200, "detail": "x", "code": "not-found" }),
        json!({ "type": "https://redress.dev/problems/x", "title": "X", "status": 404, "detail": "x", "code": "x" }),
        json!({ "type": "https://redress.dev/problems/not-found", "title": "X", "status": 404, "detail": "x", "code": "not-found", "colour": "red" }),
        json!({
            "type": "https://redress.dev/problems/case-closed", "title": "Refused", "status": 409,
            "detail": "x", "code": "case-closed", "refusal": { "kind": "no-such-refusal" }
        }),
    ] {
        assert_invalid(&spec, "Problem", &bad);
    }
}

#[test]
fn the_problem_shown_in_the_api_docs_fits() {
    let docs =
        std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/api.md"))
            .unwrap();
    let start = docs
        .find("{\"type\": \"https://redress.dev/problems/")
        .expect("docs/api.md shows no problem document");
    let end = start + docs[start..].find("\n```").expect("end of the block");
    let example: Value = serde_json::from_str(&docs[start..end]).unwrap();
    assert_valid(&spec(), "Problem", &example);
}
