//! Differential test: a router (which evaluates its rules natively where it can, else
//! as one chained program) must decide exactly as evaluating each rule's condition on
//! its own with Rhai, first match wins, including rules that fail and missing values.
#![allow(clippy::panic)] // tests fail by panicking

#[path = "script_support.rs"]
mod support;

use proptest::prelude::*;
use redress_engine::routing::{RouteError, RouteReason, RouteRule, Router};
use redress_engine::script::{Condition, ScriptEngine};
use redress_engine::value::Value;
use support::{Case, ctx, fraud_case, money, schema, text};

const RULES: &[&str] = &[
    r#"category == "fees" && amount > 100"#,
    "vulnerable",
    r#"contains_any(summary, ["盗刷", "scam"])"#,
    r#"channel == "regulator" || items > 5"#,
    "amount >= 120.5 && !complex",
    "items / (items - 3) > 1",
    r#"days_since(decided_at) <= 30 && category != "fraud""#,
    "amount > 50000",
];

fn rules(engine: &ScriptEngine) -> Vec<RouteRule> {
    let mut rules: Vec<RouteRule> = RULES
        .iter()
        .enumerate()
        .map(|(i, source)| RouteRule {
            condition: Some(
                Condition::compile(engine, source, &schema())
                    .unwrap_or_else(|e| panic!("rule {i}: {e}")),
            ),
            queue: format!("q{i}"),
            priority: None,
            assignee: None,
            tags: Vec::new(),
        })
        .collect();
    rules.push(RouteRule {
        condition: None,
        queue: "general".into(),
        priority: None,
        assignee: None,
        tags: Vec::new(),
    });
    rules
}

/// The reference: each condition evaluated alone, in order.
fn one_by_one(
    engine: &ScriptEngine,
    rules: &[RouteRule],
    case: &Case,
) -> Result<usize, (usize, &'static str)> {
    for (index, rule) in rules.iter().enumerate() {
        let Some(condition) = &rule.condition else {
            return Ok(index);
        };
        match condition.eval(engine, &case.view(), &ctx()) {
            Ok(true) => return Ok(index),
            Ok(false) => {}
            Err(e) => return Err((index, e.code())),
        }
    }
    panic!("no otherwise rule")
}

fn optional<T: std::fmt::Debug + Clone + 'static>(
    values: Vec<T>,
) -> impl Strategy<Value = Option<T>> {
    prop::option::of(prop::sample::select(values))
}

fn arb_case() -> impl Strategy<Value = Case> {
    (
        optional(vec!["fees", "fraud", "cards", "service"]),
        optional(vec!["0", "99.99", "120.5", "120.49", "50000.01"]),
        optional(vec!["phone", "regulator"]),
        optional(vec![true, false]),
        optional(vec![true, false]),
        optional(vec!["信用卡被盗刷", "a SCAM call", "slow service"]),
        optional(vec![0_i64, 3, 4, 9]),
    )
        .prop_map(
            |(category, amount, channel, vulnerable, complex, summary, items)| {
                let mut case = fraud_case();
                case.fields.clear();
                let mut set = |name: &str, value: Option<Value>| {
                    if let Some(v) = value {
                        case.fields.insert(name.into(), v);
                    }
                };
                set("category", category.map(text));
                set("amount", amount.map(money));
                set("channel", channel.map(text));
                set("vulnerable", vulnerable.map(Value::Bool));
                set("complex", complex.map(Value::Bool));
                set("summary", summary.map(text));
                set("items", items.map(Value::Integer));
                case
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn the_chained_router_decides_as_the_rules_one_by_one(case in arb_case()) {
        let engine = ScriptEngine::default();
        let rules = rules(&engine);
        // The reference evaluates every condition with Rhai, one by one.
        let scripted = ScriptEngine::default().scripted_only();
        let expected = one_by_one(&scripted, &self::rules(&scripted), &case);
        let router = Router::new(rules, None).unwrap_or_else(|e| panic!("{e}"));
        let got = match router.route(&engine, &case.view(), &ctx()) {
            Ok(decision) => match decision.reason {
                RouteReason::Rule { index, .. } | RouteReason::Otherwise { index } => Ok(index),
                RouteReason::Script { .. } => panic!("no script here"),
            },
            Err(RouteError::Rule { index, source, .. }) => Err((index, source.code())),
            Err(other) => panic!("unexpected {other}"),
        };
        prop_assert_eq!(got, expected, "case {:?}", case.fields);
    }
}
