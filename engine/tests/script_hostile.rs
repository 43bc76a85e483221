//! Hostile scripts: each is stopped within its limit, reported with the right code and
//! the line in the script, leaves the case unchanged, and the engine keeps serving.
#![allow(clippy::panic)] // tests fail by panicking

#[path = "script_support.rs"]
mod support;

use std::time::{Duration, Instant};

use redress_engine::script::{
    ActionScript, Condition, RoutingScript, ScriptEngine, ScriptError, ScriptLimits,
};
use support::{ctx, fraud_case, schema};

/// Compiles and runs `source` as a routing script on the fraud case; checks the case is
/// unchanged and the run took less than `budget`.
fn run_route(engine: &ScriptEngine, source: &str, budget: Duration) -> ScriptError {
    let case = fraud_case();
    let before = case.clone();
    let started = Instant::now();
    let result = RoutingScript::compile(engine, source, "scripts/hostile.rhai", &schema())
        .and_then(|script| script.route(engine, &case.view(), &ctx()));
    let took = started.elapsed();
    assert_eq!(case, before, "the case changed running `{source}`");
    assert!(took < budget, "`{source}` ran {took:?}, over {budget:?}");
    match result {
        Ok(route) => panic!("`{source}` was not stopped: {route:?}"),
        Err(e) => {
            assert_eq!(e.origin.as_deref(), Some("scripts/hostile.rhai"), "{e}");
            e
        }
    }
}

/// Default limits but a generous clock, so that in slow debug builds the operation and
/// size limits, not the timeout, are what stop these scripts.
fn patient_engine() -> ScriptEngine {
    ScriptEngine::new(ScriptLimits {
        timeout: Duration::from_secs(2),
        ..ScriptLimits::default()
    })
}

fn assert_serving(engine: &ScriptEngine) {
    let ok = Condition::compile(engine, "amount > 100", &schema())
        .and_then(|c| c.eval(engine, &fraud_case().view(), &ctx()));
    assert_eq!(ok, Ok(true), "the engine stopped serving");
}

#[test]
fn hostile_scripts_are_stopped_with_their_codes() {
    let engine = patient_engine();
    #[rustfmt::skip]
    let table: &[(&str, &str, &str, Option<usize>)] = &[
        ("endless loop", "fn route(c) {\n  loop { }\n}", "script-too-many-operations", None),
        ("endless while", "fn route(c) {\n  let i = 0;\n  while true { i += 1; }\n}", "script-too-many-operations", None),
        ("endless recursion", "fn f(n) { f(n + 1) }\nfn route(c) {\n  f(0)\n}", "script-stack-overflow", None),
        ("huge string", "fn route(c) {\n  let s = \"x\";\n  loop { s += s; }\n}", "script-data-too-large", None),
        ("huge array", "fn route(c) {\n  let a = [];\n  loop { a.push(1); }\n}", "script-data-too-large", None),
        ("huge map", "fn route(c) {\n  let m = #{};\n  for i in 0..5000 { m[i.to_string()] = i; }\n  m\n}", "script-data-too-large", None),
        ("string repeat", "fn route(c) {\n  \"x\".pad(100000000, \"y\")\n}", "script-data-too-large", None),
        ("huge blob", "fn route(c) {\n  blob(100000000)\n}", "script-data-too-large", None),
        ("array pad", "fn route(c) {\n  let a = [1];\n  a.pad(100000000, 0);\n  a\n}", "script-data-too-large", None),
        ("string concatenation in one go", "fn route(c) {\n  let s = \"x\";\n  s.pad(60000, \"y\");\n  s + s\n}", "script-data-too-large", None),
        ("throw", "fn route(c) {\n  throw \"no route for you\";\n}", "script-runtime-error", Some(2)),
        ("division by zero", "fn route(c) {\n  #{queue: \"q\", priority: 1 / 0}\n}", "script-runtime-error", Some(2)),
        ("eval", "fn route(c) {\n  eval(\"1\")\n}", "script-forbidden", Some(2)),
        ("import", "import \"std\" as s;\nfn route(c) { () }", "script-forbidden", Some(1)),
        ("eval through a function pointer", "fn route(c) {\n  Fn(\"eval\").call(\"1\")\n}", "script-forbidden", None),
        ("misspelt case property", "fn route(c) {\n  if c.amuont > 5 { () }\n}", "script-unknown-variable", Some(2)),
        ("no route function", "fn rout(c) { () }", "script-no-route", None),
        ("syntax", "fn route(c) {\n  #{queue: }\n}", "script-syntax", Some(2)),
        ("bad result", "fn route(c) { 42 }", "script-type-mismatch", None),
    ];
    for (name, source, code, line) in table {
        let err = run_route(&engine, source, Duration::from_secs(3));
        assert_eq!(
            (err.code(), err.line),
            (*code, *line),
            "row `{name}`: {err}"
        );
    }
    assert_serving(&engine);
}

#[test]
fn a_slow_script_is_stopped_by_the_wall_clock() {
    let limits = ScriptLimits {
        max_operations: 0,
        timeout: Duration::from_millis(20),
        ..ScriptLimits::default()
    };
    let engine = ScriptEngine::new(limits);
    let err = run_route(
        &engine,
        "fn route(c) {\n  loop { }\n}",
        Duration::from_millis(500),
    );
    assert_eq!(err.code(), "script-timeout", "{err}");
    assert_serving(&engine);
}

#[test]
fn hostile_actions_are_stopped_and_report_the_line() {
    let engine = patient_engine();
    #[rustfmt::skip]
    let table: &[(&str, &str, &str, Option<usize>)] = &[
        ("endless loop", "let n = 0;\nloop { n += 1; }", "script-too-many-operations", Some(2)),
        ("huge string", "let s = summary;\nloop { s += s; }", "script-data-too-large", Some(2)),
        ("throw", "if amount > 0 {\n  throw `refused ${amount}`;\n}", "script-runtime-error", Some(2)),
        ("assigning a case variable", "amount = 0;\n#{ set: #{ amount: amount } }", "ok", None),
        ("unknown field in set", "#{ set: #{ amuont: 1 } }", "script-unknown-variable", None),
        ("misspelt variable", "let x = 1;\nif catgory == \"fraud\" { () }", "script-unknown-variable", Some(2)),
    ];
    for (name, source, code, line) in table {
        let case = fraud_case();
        let before = case.clone();
        let result = ActionScript::compile(&engine, source, "transition decide", &schema())
            .and_then(|a| a.run(&engine, &case.view(), &ctx()));
        assert_eq!(case, before, "row `{name}` changed the case");
        let got = match &result {
            Ok(_) => ("ok", None),
            Err(e) => (e.code(), e.line),
        };
        assert_eq!(got, (*code, *line), "row `{name}`: {result:?}");
    }
    assert_serving(&engine);
}

#[test]
fn deeply_nested_expressions_are_refused() {
    let engine = ScriptEngine::default();
    let source = format!("{}1{} > 0", "(".repeat(200), ")".repeat(200));
    let err = Condition::compile(&engine, &source, &schema())
        .err()
        .map(|e| e.code());
    assert_eq!(err, Some("script-stack-overflow"));
}
