//! Routing: first match wins, the default, Chinese and English keyword rules, routing
//! scripts that decide or defer, and the explanations every decision carries.
#![allow(clippy::panic)] // tests fail by panicking

#[path = "script_support.rs"]
mod support;

use redress_engine::routing::{RouteDecision, RouteError, RouteReason, RouteRule, Router};
use redress_engine::script::{ActionScript, Condition, RoutingScript, ScriptEngine};
use redress_engine::value::Value;
use support::{Case, ctx, fraud_case, money, schema, text};

/// The bank policy's routing rules from the policy sketch.
fn bank_rules(engine: &ScriptEngine) -> Vec<RouteRule> {
    let rules: &[(Option<&str>, &str, i64)] = &[
        (Some(r#"category == "fraud""#), "fraud", 1),
        (Some(r#"channel == "regulator""#), "regulator-liaison", 1),
        (Some("vulnerable"), "care", 2),
        (
            Some(r#"contains_any(summary, ["盗刷", "诈骗", "scam"])"#),
            "fraud",
            1,
        ),
        (Some("amount > 50000"), "senior", 2),
        (None, "general", 3),
    ];
    rules
        .iter()
        .enumerate()
        .map(|(i, (when, queue, priority))| RouteRule {
            condition: when.map(|w| {
                Condition::compile_named(engine, w, &schema(), &format!("routing rule {}", i + 1))
                    .unwrap_or_else(|e| panic!("rule {i} `{w}`: {e}"))
            }),
            queue: queue.to_string(),
            priority: Some(*priority),
            assignee: None,
            tags: Vec::new(),
        })
        .collect()
}

fn router(engine: &ScriptEngine, script: Option<&str>) -> Router {
    let script = script.map(|s| {
        RoutingScript::compile(engine, s, "scripts/bank-routing.rhai", &schema())
            .unwrap_or_else(|e| panic!("script: {e}"))
    });
    Router::new(bank_rules(engine), script).unwrap_or_else(|e| panic!("router: {e}"))
}

/// A service complaint that no special rule catches.
fn plain_case() -> Case {
    let mut case = fraud_case();
    case.fields.insert("category".into(), text("service"));
    case.fields
        .insert("summary".into(), text("the branch was closed"));
    case
}

fn route(router: &Router, engine: &ScriptEngine, case: &Case) -> RouteDecision {
    let before = case.clone();
    let decision = router
        .route(engine, &case.view(), &ctx())
        .unwrap_or_else(|e| panic!("route: {e}"));
    assert_eq!(case, &before, "routing changed the case");
    decision
}

#[test]
fn keyword_rules_route_chinese_and_english_complaints() {
    let engine = ScriptEngine::default();
    let router = router(&engine, None);
    let table: &[(&str, &str, &str)] = &[
        ("chinese: card fraud", "我的信用卡被盗刷了", "fraud"),
        ("chinese: scam", "接到诈骗电话后转账", "fraud"),
        ("english, lowercase", "this was a scam", "fraud"),
        ("english, capitals", "SCAM CALL", "fraud"),
        (
            "english, mixed case inside a word",
            "Scammed twice",
            "fraud",
        ),
        ("no keyword", "the branch was closed", "general"),
    ];
    for (name, summary, queue) in table {
        let mut case = plain_case();
        case.fields.insert("summary".into(), text(summary));
        let decision = route(&router, &engine, &case);
        assert_eq!(
            decision.queue,
            *queue,
            "row `{name}`: {}",
            decision.explain()
        );
    }
}

#[test]
fn the_first_matching_rule_decides_and_says_so() {
    let engine = ScriptEngine::default();
    let router = router(&engine, None);
    let mut case = plain_case();
    case.fields.insert("amount".into(), money("80000"));
    case.fields.insert("vulnerable".into(), Value::Bool(true));
    let decision = route(&router, &engine, &case);
    assert_eq!(
        (decision.queue.as_str(), decision.priority),
        ("care", Some(2))
    );
    assert_eq!(
        decision.reason,
        RouteReason::Rule {
            index: 2,
            condition: "vulnerable".into()
        }
    );
    assert_eq!(
        decision.explain(),
        "routed to queue `care` because routing rule 3 matched: `vulnerable`"
    );
}

#[test]
fn the_rules_are_chained_into_one_program() {
    let engine = ScriptEngine::default();
    let router = router(&engine, None);
    assert!(
        format!("{router:?}").contains("chained: None"),
        "{router:?}"
    );
    router.prepare(&engine);
    assert!(
        format!("{router:?}").contains("chained: Some(true)"),
        "{router:?}"
    );
}

#[test]
fn the_default_applies_when_nothing_matches() {
    let engine = ScriptEngine::default();
    let decision = route(&router(&engine, None), &engine, &plain_case());
    assert_eq!(decision.reason, RouteReason::Otherwise { index: 5 });
    assert_eq!(
        decision.explain(),
        "routed to queue `general` because no routing rule matched, so the default (rule 6) applied"
    );
}

#[test]
fn missing_values_fall_through_to_later_rules() {
    let engine = ScriptEngine::default();
    let mut case = plain_case();
    for field in ["channel", "vulnerable", "amount"] {
        case.fields.remove(field);
    }
    let decision = route(&router(&engine, None), &engine, &case);
    assert_eq!(decision.queue, "general", "{}", decision.explain());
}

const SCRIPT: &str = r#"// Integrator routing for the retail bank.
fn route(c) {
    if c.vulnerable && c.amount > 100 {
        return #{ queue: "senior-care", priority: 1, assignee: "li.wei",
                  tags: ["vulnerable"], reason: "vulnerable and over 100" };
    }
    ()
}
"#;

#[test]
fn a_routing_script_decides_first_and_is_explained() {
    let engine = ScriptEngine::default();
    let router = router(&engine, Some(SCRIPT));
    let mut case = fraud_case();
    case.fields.insert("vulnerable".into(), Value::Bool(true));
    let decision = route(&router, &engine, &case);
    assert_eq!(decision.queue, "senior-care");
    assert_eq!(decision.assignee.as_deref(), Some("li.wei"));
    assert_eq!(decision.tags, vec!["vulnerable".to_string()]);
    assert_eq!(
        decision.reason,
        RouteReason::Script {
            origin: "scripts/bank-routing.rhai".into(),
            line: Some(4),
            note: Some("vulnerable and over 100".into()),
        }
    );
    assert_eq!(
        decision.explain(),
        "routed to queue `senior-care` because the routing script `scripts/bank-routing.rhai` decided at line 4: vulnerable and over 100"
    );
}

#[test]
fn a_script_returning_unit_lets_the_rules_decide() {
    let engine = ScriptEngine::default();
    let decision = route(&router(&engine, Some(SCRIPT)), &engine, &fraud_case());
    assert_eq!(
        decision.reason,
        RouteReason::Rule {
            index: 0,
            condition: r#"category == "fraud""#.into()
        }
    );
}

#[test]
fn decisions_serialize_with_their_reason() {
    let engine = ScriptEngine::default();
    let decision = route(&router(&engine, None), &engine, &fraud_case());
    let json = serde_json::to_value(&decision).unwrap_or_default();
    assert_eq!(json["reason"]["kind"], "rule");
    assert_eq!(json["reason"]["index"], 0);
    assert_eq!(json["queue"], "fraud");
}

#[test]
fn a_failing_rule_is_named_in_the_error() {
    let engine = ScriptEngine::default();
    let condition = Condition::compile(&engine, r#"matches(summary, "(")"#, &schema())
        .unwrap_or_else(|e| panic!("{e}"));
    let mut rules = bank_rules(&engine);
    rules.insert(
        0,
        RouteRule {
            condition: Some(condition),
            queue: "x".into(),
            priority: None,
            assignee: None,
            tags: vec![],
        },
    );
    let router = Router::new(rules, None).unwrap_or_else(|e| panic!("{e}"));
    let err = router.route(&engine, &fraud_case().view(), &ctx()).err();
    let Some(err @ RouteError::Rule { index: 0, .. }) = err else {
        panic!("expected a rule error, got {err:?}")
    };
    assert_eq!(err.code(), "script-runtime-error");
    assert!(
        err.to_string()
            .starts_with("routing rule 1 (`matches(summary, \"(\")`) failed"),
        "{err}"
    );
}

#[test]
fn a_failing_script_is_named_in_the_error() {
    let engine = ScriptEngine::default();
    let router = router(&engine, Some("fn route(c) {\n  throw \"down\";\n}"));
    let err = router.route(&engine, &fraud_case().view(), &ctx()).err();
    let Some(RouteError::Script { origin, source }) = err else {
        panic!("expected a script error, got {err:?}")
    };
    assert_eq!(
        (origin.as_str(), source.code(), source.line),
        ("scripts/bank-routing.rhai", "script-runtime-error", Some(2))
    );
}

#[test]
fn a_router_needs_a_default() {
    let engine = ScriptEngine::default();
    let mut rules = bank_rules(&engine);
    rules.pop();
    let err = Router::new(rules, None).err().map(|e| e.code());
    assert_eq!(err, Some("routing-no-otherwise"));
}

#[test]
fn actions_return_updates_and_notifications() {
    let engine = ScriptEngine::default();
    let source = r#"
        let note = if amount > 100 { "refund " + amount } else { "no refund" };
        #{ set: #{ complex: true, name: note, amount: amount * 2 },
           notify: [#{ to: "compliance", message: `fraud case at ${stage}` }] }
    "#;
    let action = ActionScript::compile(&engine, source, "transition decide", &schema())
        .unwrap_or_else(|e| panic!("{e}"));
    let case = fraud_case();
    let outcome = action
        .run(&engine, &case.view(), &ctx())
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(outcome.updates.get("complex"), Some(&Value::Bool(true)));
    assert_eq!(outcome.updates.get("name"), Some(&text("refund 120.50")));
    assert_eq!(outcome.updates.get("amount"), Some(&money("241.00")));
    assert_eq!(outcome.notifications.len(), 1);
    assert_eq!(outcome.notifications[0].message, "fraud case at decided");
}
