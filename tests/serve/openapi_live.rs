//! Every operation of the OpenAPI description, called on a live server: each answer
//! (successes and problems) is validated with `jsonschema` against the schema the
//! description gives for its operation, status and media type (`$ref`s resolved
//! into `#/components/schemas`). A status or media type the description does not
//! give fails, and so does an operation left without a success and a problem: a
//! new route without a call here fails the test.

use std::collections::{BTreeMap, BTreeSet};

use regex::Regex;
use serde_json::{Value, json};

use super::harness::*;

const COMPLIANCE: &str = "live-compliance-token-0001";

/// What a walk saw: for each `(method, path template)`, the statuses answered.
type Seen = BTreeMap<(String, String), BTreeSet<u16>>;

struct Walk<'a> {
    server: &'a Server,
    spec: Value,
    seen: Seen,
    /// Every answer's body, with what it answered, for further checks.
    bodies: Vec<(String, Value)>,
}

impl<'a> Walk<'a> {
    fn new(server: &'a Server) -> Self {
        let served = server.send(server.request("GET", "/v1/openapi.json", None));
        assert_eq!(served.status, 200, "{served:?}");
        Walk {
            server,
            spec: served.body,
            seen: Seen::new(),
            bodies: Vec::new(),
        }
    }

    /// The response object the description gives for an answer, `$ref` resolved.
    fn response(&self, method: &str, template: &str, status: u16) -> &Value {
        let op = &self.spec["paths"][template][method.to_lowercase()];
        assert!(
            op.is_object(),
            "the description has no `{method} {template}`"
        );
        let response = &op["responses"][status.to_string()];
        let response = match response["$ref"].as_str() {
            Some(r) => self.spec.pointer(r.trim_start_matches('#')).unwrap(),
            None => response,
        };
        assert!(
            response.is_object(),
            "`{method} {template}` answered {status}, which the description does not give"
        );
        response
    }

    /// Sends a request and validates its answer against the description.
    fn call(
        &mut self,
        method: &str,
        template: &str,
        builder: reqwest::blocking::RequestBuilder,
    ) -> Answer {
        let answer = self.server.send(builder);
        let what = format!("{method} {template} → {}", answer.status);
        let response = self.response(method, template, answer.status);
        let media = answer.content_type.split(';').next().unwrap().trim();
        let content = &response["content"];
        let Some(described) = content.get(media) else {
            panic!("{what}: media type `{media}` is not among {content}");
        };
        if let Some(schema) = described.get("schema") {
            let errors = self.misfits(schema, &answer.body);
            assert!(
                errors.is_empty(),
                "{what}: the answer does not fit its schema:\n{}\n{:#}",
                errors.join("\n"),
                answer.body
            );
        } else {
            // Only the description itself is answered without a schema.
            assert_eq!(template, "/v1/openapi.json", "{what}: no schema");
            assert_eq!(answer.body, self.spec, "{what}");
        }
        self.seen
            .entry((method.to_lowercase(), template.to_string()))
            .or_default()
            .insert(answer.status);
        self.bodies.push((what, answer.body.clone()));
        answer
    }

    /// Why `body` does not fit `schema` (a schema of the description); empty when
    /// it fits.
    fn misfits(&self, schema: &Value, body: &Value) -> Vec<String> {
        let root = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "components": self.spec["components"],
            "allOf": [schema],
        });
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .should_validate_formats(true)
            .build(&root)
            .unwrap_or_else(|e| panic!("{schema}: the schema does not compile: {e}"));
        validator
            .iter_errors(body)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect()
    }

    fn get(&mut self, template: &str, path: &str, token: Option<&str>) -> Answer {
        let builder = self.server.request("GET", path, token);
        self.call("GET", template, builder)
    }

    /// The description's request body schema of `POST {template}` accepts `body`
    /// (which the server took).
    fn assert_request_fits(&self, template: &str, body: &Value) {
        let request = &self.spec["paths"][template]["post"]["requestBody"];
        let schema = &request["content"]["application/json"]["schema"];
        assert!(
            schema.is_object(),
            "POST {template}: no request body schema"
        );
        let errors = self.misfits(schema, body);
        assert!(
            errors.is_empty(),
            "POST {template}: the server took {body}, its described body refuses it:\n{}",
            errors.join("\n")
        );
    }

    /// Posts `body`; when the server takes it, so must the description.
    fn post(&mut self, template: &str, path: &str, token: Option<&str>, body: Value) -> Answer {
        let builder = self.server.request("POST", path, token).json(&body);
        let answer = self.call("POST", template, builder);
        let described = self.spec["paths"][template]["post"]
            .get("requestBody")
            .is_some();
        if answer.status < 300 && described {
            self.assert_request_fits(template, &body);
        }
        answer
    }

    /// A request whose head is over the limits: the admission middleware's `431`.
    fn oversized(&mut self, method: &str, template: &str, path: &str) -> Answer {
        let builder = self
            .server
            .request(method, path, None)
            .header("x-filler", "a".repeat(20_000));
        self.call(method, template, builder)
    }

    /// Every operation of the description with a success and a problem.
    fn assert_covered(&self) {
        let mut missing = Vec::new();
        for (path, item) in self.spec["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                let statuses = self.seen.get(&(method.clone(), path.clone()));
                let statuses = statuses.cloned().unwrap_or_default();
                if !statuses.iter().any(|s| *s < 400) || !statuses.iter().any(|s| *s >= 400) {
                    missing.push(format!("{method} {path} (seen {statuses:?})"));
                }
            }
        }
        assert!(
            missing.is_empty(),
            "operations without a validated success and problem: {missing:#?}"
        );
    }
}

/// Calls every operation; answers are validated as they come.
fn walk(server: &Server) -> Walk<'_> {
    let mut w = Walk::new(server);
    let agent = Some(BANK_AGENT);
    let auditor = Some(BANK_AUDITOR);
    let compliance = Some(COMPLIANCE);

    w.get("/healthz", "/healthz", None);
    w.oversized("GET", "/healthz", "/healthz");
    w.get("/metrics", "/metrics", None);
    w.oversized("GET", "/metrics", "/metrics");
    w.get("/v1/openapi.json", "/v1/openapi.json", None);
    w.oversized("GET", "/v1/openapi.json", "/v1/openapi.json");

    let t = "/v1/policies";
    assert_eq!(w.get(t, t, agent).status, 200);
    assert_eq!(w.get(t, t, None).status, 401);
    let t = "/v1/policies/reload";
    assert_eq!(w.post(t, t, compliance, json!({})).status, 200);
    assert_eq!(w.post(t, t, agent, json!({})).status, 403);
    let t = "/v1/policies/{id}";
    assert_eq!(w.get(t, "/v1/policies/bank-cn", agent).status, 200);
    assert_eq!(w.get(t, "/v1/policies/nope", agent).status, 404);
    let t = "/v1/policies/{id}/graph";
    assert_eq!(w.get(t, "/v1/policies/quick/graph", agent).status, 200);
    let dot = w.get(t, "/v1/policies/quick/graph?format=dot", agent);
    assert_eq!(dot.content_type, "text/vnd.graphviz; charset=utf-8");
    assert_eq!(
        w.get(t, "/v1/policies/quick/graph?format=png", agent)
            .status,
        400
    );

    let t = "/v1/cases";
    let letter = quick("fees", 10);
    let filed = w.call(
        "POST",
        t,
        server
            .request("POST", t, agent)
            .header("Idempotency-Key", "live-1")
            .json(&letter),
    );
    assert_eq!(filed.status, 201, "{filed:?}");
    w.assert_request_fits(t, &letter);
    let id = filed.body["case"]["id"].as_str().unwrap().to_string();
    let again = w.call(
        "POST",
        t,
        server
            .request("POST", t, agent)
            .header("Idempotency-Key", "live-1")
            .json(&letter),
    );
    assert_eq!(again.status, 200, "{again:?}");
    let minimal = w.call(
        "POST",
        t,
        server
            .request("POST", t, agent)
            .header("Prefer", "return=minimal")
            .json(&quick("fraud", 5)),
    );
    assert_eq!(minimal.status, 201, "{minimal:?}");
    assert!(minimal.body["case"].get("data").is_none());
    let bank =
        json!({"policy": "bank-cn", "data": {"category": "fees", "summary": "Charged twice"}});
    let bank = w.post(t, t, agent, bank);
    assert_eq!(bank.status, 201, "{bank:?}");
    assert_eq!(w.post(t, t, agent, json!({"policy": "nope"})).status, 404);
    assert_eq!(w.post(t, t, agent, json!({"colour": "red"})).status, 400);
    let broken = server
        .request("POST", t, agent)
        .header("content-type", "application/json")
        .body("{\"policy\": ");
    let broken = w.call("POST", t, broken);
    assert_eq!(broken.code(), "malformed-json");
    let text = server.request("POST", t, agent).body("hello");
    assert_eq!(w.call("POST", t, text).status, 415);
    assert_eq!(w.get(t, "/v1/cases", agent).status, 200);
    assert_eq!(w.get(t, "/v1/cases?limit=0", agent).status, 400);

    let one = format!("/v1/cases/{id}");
    let t = "/v1/cases/{id}";
    assert_eq!(w.get(t, &one, agent).status, 200);
    assert_eq!(w.get(t, "/v1/cases/C-999999", agent).status, 404);

    let t = "/v1/cases/{id}/events";
    let events = format!("{one}/events");
    assert_eq!(
        w.post(t, &events, agent, json!({"note": "called"})).status,
        200
    );
    let refused = w.post(t, &events, agent, json!({"event": "close"}));
    assert_eq!(refused.status, 409, "{refused:?}");
    assert!(refused.body["refusal"].is_object(), "{refused:?}");
    let stale = server
        .request("POST", &events, agent)
        .header("If-Match", "\"1\"")
        .json(&json!({"note": "late"}));
    assert_eq!(w.call("POST", t, stale).status, 412);
    let moved = w.post(t, &events, agent, json!({"event": "investigate"}));
    assert_eq!(moved.status, 200, "{moved:?}");

    let t = "/v1/cases/{id}/history";
    assert_eq!(w.get(t, &format!("{one}/history"), agent).status, 200);
    assert_eq!(
        w.get(t, &format!("{one}/history?limit=0"), agent).status,
        400
    );

    let t = "/v1/cases/{id}/tracking-link";
    let link = format!("{one}/tracking-link");
    assert_eq!(w.post(t, &link, agent, json!({})).status, 201);
    assert_eq!(w.post(t, &link, auditor, json!({})).status, 403);
    let revoke = server.request("DELETE", &link, agent);
    assert_eq!(w.call("DELETE", t, revoke).status, 200);
    let unknown = server.request("DELETE", "/v1/cases/C-999999/tracking-link", agent);
    assert_eq!(w.call("DELETE", t, unknown).status, 404);

    let t = "/v1/policies/{id}/migrate";
    let migrate = w.post(t, "/v1/policies/quick/migrate", compliance, json!({}));
    assert_eq!(migrate.status, 200, "{migrate:?}");
    assert_eq!(
        w.post(t, "/v1/policies/quick/migrate", agent, json!({}))
            .status,
        403
    );

    let t = "/v1/reports";
    let year = chrono::Utc::now().format("%Y").to_string();
    let report = w.get(
        t,
        &format!("/v1/reports?policy=quick&period={year}"),
        compliance,
    );
    assert_eq!(report.status, 200, "{report:?}");
    assert_eq!(
        w.get(t, "/v1/reports?policy=quick&period=2026", agent)
            .status,
        403
    );
    w
}

fn site() -> Site {
    Site::with_config(&format!(
        "\n[[tokens]]\nname = \"cora\"\norganisation = \"bank\"\nrole = \"compliance\"\ntoken = \"{COMPLIANCE}\"\n"
    ))
}

#[test]
fn every_operation_answers_as_the_description_says() {
    let site = site();
    let server = site.start();
    let walk = walk(&server);
    walk.assert_covered();
    // The validation refuses what the description does not allow: a case without
    // its id, a clock in no known state, an instant that is not one, a problem
    // with a member the API never sends.
    let schema = |template: &str, status: u16, media: &str| {
        walk.response("GET", template, status)["content"][media]["schema"].clone()
    };
    let case = walk.server.get("/v1/cases/C-000001", BANK_AGENT).body;
    let mut no_id = case.clone();
    no_id.as_object_mut().unwrap().remove("id");
    let mut bad_clock = case.clone();
    bad_clock["clocks"][0]["state"] = json!("late");
    let mut bad_instant = case.clone();
    bad_instant["updated_at"] = json!("yesterday");
    let case_schema = schema("/v1/cases/{id}", 200, "application/json");
    for misfit in [no_id, bad_clock, bad_instant] {
        assert!(
            !walk.misfits(&case_schema, &misfit).is_empty(),
            "{misfit:#}"
        );
    }
    let mut problem = walk.server.get("/v1/cases/C-999999", BANK_AGENT).body;
    problem["colour"] = json!("red");
    let problem_schema = schema("/v1/cases/{id}", 404, "application/problem+json");
    assert!(!walk.misfits(&problem_schema, &problem).is_empty());
}

/// Every string in `value` that begins like an instant, outside field data (a
/// `datetime` field keeps the offset it was given in), with where it is.
fn instants<'v>(value: &'v Value, at: &str, out: &mut Vec<(String, &'v str)>) {
    let looks = Regex::new(r"^\d{4}-\d{2}-\d{2}T").unwrap();
    match value {
        Value::String(s) if looks.is_match(s) => out.push((at.to_string(), s)),
        Value::Object(map) => {
            for (key, v) in map {
                if key != "data" && key != "fields" {
                    instants(v, &format!("{at}/{key}"), out);
                }
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                instants(v, &format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// One rule for instants in every answer (`docs/api.md`): RFC 3339, UTC, `Z`, six
/// fractional digits.
#[test]
fn instants_are_written_the_same_way_in_every_endpoint() {
    let site = site();
    let server = site.start();
    let walk = walk(&server);
    let rule = Regex::new(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$").unwrap();
    let mut endpoints = BTreeSet::new();
    let mut count = 0;
    for (what, body) in &walk.bodies {
        let mut found = Vec::new();
        instants(body, "", &mut found);
        for (at, instant) in found {
            assert!(rule.is_match(instant), "{what}: `{instant}` at {at}");
            endpoints.insert(what.split(" → ").next().unwrap().to_string());
            count += 1;
        }
    }
    // Cases, outcomes, lists, history, explanations, tracking links, reports.
    assert!(endpoints.len() >= 7, "instants only in {endpoints:?}");
    assert!(count >= 50, "only {count} instants");
}
