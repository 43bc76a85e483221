//! Costs of evaluating precompiled scripts against the same logic as plain Rust:
//! a guard (`amount > 10000 && category == "fraud"`) and a 15-rule routing decision
//! where only the last rule matches. `native` is a condition as a policy gets it
//! (evaluated natively: every condition here is in the native subset); `rhai` the same
//! compiled by an engine that evaluates every condition with Rhai.
//!
//! `cargo bench -p redress-engine --bench script -- --warm-up-time 1 --measurement-time 3`
#![allow(clippy::panic)] // a benchmark that cannot set up should stop loudly

#[path = "../tests/script_support.rs"]
mod support;

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use redress_engine::routing::{RouteRule, Router};
use redress_engine::script::{CaseView, Condition, EvalContext, ScriptEngine};
use redress_engine::value::Value;
use rust_decimal::Decimal;
use support::{Case, ctx, fraud_case, schema, text};

const GUARD: &str = r#"amount > 10000 && category == "fraud""#;

/// Fifteen conditions; on [`bench_case`] only the last holds.
const RULES: [&str; 15] = [
    r#"category == "fees""#,
    r#"channel == "regulator""#,
    "vulnerable",
    r#"contains_any(summary, ["盗刷", "诈骗", "scam"])"#,
    "amount > 50000",
    r#"category == "loans" && amount > 1000"#,
    r#"channel == "branch" && complex"#,
    "reopen_count > 2",
    r#""vip" in tags && amount > 20000"#,
    r#"matches(summary, "(?i)ombudsman|regulator")"#,
    "days_since(received_at) > 60",
    r#"category == "privacy""#,
    "items > 10",
    r#"stage == "review" && days_since(decided_at) > 30"#,
    r#"category == "cards" && amount >= 120.5"#,
];

fn bench_case() -> Case {
    let mut case = fraud_case();
    case.fields.insert("category".into(), text("cards"));
    case.fields
        .insert("summary".into(), text("the card was declined abroad twice"));
    case
}

fn field<'a>(case: &CaseView<'a>, name: &str) -> Option<&'a Value> {
    case.fields.get(name)
}

fn is_text(case: &CaseView, name: &str, expected: &str) -> bool {
    matches!(field(case, name), Some(Value::Text(t)) if t == expected)
}

fn money_above(case: &CaseView, limit: Decimal) -> bool {
    matches!(field(case, "amount"), Some(Value::Money(m)) if *m > limit)
}

type RustRule = Box<dyn Fn(&CaseView, &EvalContext) -> bool>;

/// The same fifteen rules as plain Rust closures.
fn rust_rules() -> Vec<RustRule> {
    let keywords = ["盗刷", "诈骗", "scam"];
    let ombudsman = regex::Regex::new("(?i)ombudsman|regulator").unwrap_or_else(|e| panic!("{e}"));
    vec![
        Box::new(|c, _| is_text(c, "category", "fees")),
        Box::new(|c, _| is_text(c, "channel", "regulator")),
        Box::new(|c, _| matches!(field(c, "vulnerable"), Some(Value::Bool(true)))),
        Box::new(
            move |c, _| matches!(field(c, "summary"), Some(Value::Text(t)) if { let t = t.to_lowercase(); keywords.iter().any(|k| t.contains(k)) }),
        ),
        Box::new(|c, _| money_above(c, Decimal::from(50000))),
        Box::new(|c, _| is_text(c, "category", "loans") && money_above(c, Decimal::from(1000))),
        Box::new(|c, _| {
            is_text(c, "channel", "branch")
                && matches!(field(c, "complex"), Some(Value::Bool(true)))
        }),
        Box::new(|c, _| c.reopen_count > 2),
        Box::new(|c, _| c.tags.iter().any(|t| t == "vip") && money_above(c, Decimal::from(20000))),
        Box::new(
            move |c, _| matches!(field(c, "summary"), Some(Value::Text(t)) if ombudsman.is_match(t)),
        ),
        Box::new(|c, x| (x.now - c.received_at).num_days() > 60),
        Box::new(|c, _| is_text(c, "category", "privacy")),
        Box::new(|c, _| matches!(field(c, "items"), Some(Value::Integer(i)) if *i > 10)),
        Box::new(|c, x| {
            c.stage == "review"
                && c.stage_entered_at
                    .get("decided")
                    .is_some_and(|t| (x.now - *t).num_days() > 30)
        }),
        Box::new(|c, _| {
            is_text(c, "category", "cards")
                && matches!(field(c, "amount"), Some(Value::Money(m)) if *m >= Decimal::new(1205, 1))
        }),
    ]
}

fn router(engine: &ScriptEngine, native: bool) -> Router {
    let mut rules: Vec<RouteRule> = RULES
        .iter()
        .enumerate()
        .map(|(i, source)| RouteRule {
            condition: Some({
                let c = Condition::compile(engine, source, &schema())
                    .unwrap_or_else(|e| panic!("rule {i}: {e}"));
                assert_eq!(c.is_native(), native, "rule {i}: `{source}`");
                c
            }),
            queue: format!("queue-{i}"),
            priority: Some(2),
            assignee: None,
            tags: Vec::new(),
        })
        .collect();
    rules.push(RouteRule {
        condition: None,
        queue: "general".into(),
        priority: Some(3),
        assignee: None,
        tags: Vec::new(),
    });
    Router::new(rules, None).unwrap_or_else(|e| panic!("{e}"))
}

fn guard(c: &mut Criterion) {
    let engine = ScriptEngine::default();
    let condition = Condition::compile(&engine, GUARD, &schema()).unwrap_or_else(|e| panic!("{e}"));
    assert!(condition.is_native());
    let scripted = ScriptEngine::default().scripted_only();
    let rhai_condition =
        Condition::compile(&scripted, GUARD, &schema()).unwrap_or_else(|e| panic!("{e}"));
    let mut case = fraud_case();
    case.fields.insert("amount".into(), support::money("20000"));
    let (view, ctx) = (case.view(), ctx());
    assert_eq!(condition.eval(&engine, &view, &ctx), Ok(true));
    let rust =
        |c: &CaseView| money_above(c, Decimal::from(10000)) && is_text(c, "category", "fraud");
    assert!(rust(&view));
    let mut group = c.benchmark_group("guard");
    group.bench_function("native", |b| {
        b.iter(|| condition.eval(&engine, black_box(&view), &ctx))
    });
    group.bench_function("rhai", |b| {
        b.iter(|| rhai_condition.eval(&scripted, black_box(&view), &ctx))
    });
    group.bench_function("rust", |b| b.iter(|| rust(black_box(&view))));
    group.bench_function("rhai-floor", |b| {
        // Plain Rhai, default engine, variables pushed once: the floor on this machine.
        let raw = rhai::Engine::new();
        let mut scope = rhai::Scope::new();
        scope.push("amount", Decimal::from(20000));
        scope.push("category", "fraud".to_string());
        let ast = raw
            .compile_expression_with_scope(&scope, GUARD)
            .unwrap_or_else(|e| panic!("{e}"));
        b.iter(|| raw.eval_ast_with_scope::<bool>(&mut scope, &ast))
    });
    group.finish();
}

fn routing(c: &mut Criterion) {
    let engine = ScriptEngine::default();
    let router = router(&engine, true);
    let scripted = ScriptEngine::default().scripted_only();
    let rhai_router = router_of(&scripted);
    let case = bench_case();
    let (view, ctx) = (case.view(), ctx());
    let decision = router
        .route(&engine, &view, &ctx)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        decision.queue,
        "queue-14",
        "only the last rule may match: {}",
        decision.explain()
    );
    let rules = rust_rules();
    let rust = |c: &CaseView| rules.iter().position(|r| r(c, &ctx));
    assert_eq!(rust(&view), Some(14));
    let mut group = c.benchmark_group("routing-15-rules");
    group.bench_function("native", |b| {
        b.iter(|| router.route(&engine, black_box(&view), &ctx))
    });
    group.bench_function("rhai", |b| {
        b.iter(|| rhai_router.route(&scripted, black_box(&view), &ctx))
    });
    group.bench_function("rust", |b| b.iter(|| rust(black_box(&view))));
    group.bench_function("rhai-simple-rules", |b| {
        // Fifteen plain comparisons (no helper calls): what the rules' helpers cost.
        let simple: Vec<String> = (0..14)
            .map(|i| format!("amount > {}", 100_000 + i))
            .collect();
        let simple_rules = simple
            .iter()
            .map(String::as_str)
            .chain([r#"category == "cards""#])
            .map(|source| RouteRule {
                condition: Some(
                    Condition::compile(&scripted, source, &schema())
                        .unwrap_or_else(|e| panic!("{e}")),
                ),
                queue: "q".into(),
                priority: None,
                assignee: None,
                tags: Vec::new(),
            })
            .chain([RouteRule {
                condition: None,
                queue: "general".into(),
                priority: None,
                assignee: None,
                tags: Vec::new(),
            }])
            .collect();
        let simple_router = Router::new(simple_rules, None).unwrap_or_else(|e| panic!("{e}"));
        b.iter(|| simple_router.route(&scripted, black_box(&view), &ctx))
    });
    group.finish();
}

fn router_of(scripted: &ScriptEngine) -> Router {
    let router = router(scripted, false);
    router.prepare(scripted);
    router
}

/// The benchmarks, as `criterion_main!` runs them.
mod group {
    // `criterion_group!` makes a `pub fn benches` that cannot carry a doc comment.
    #![allow(missing_docs)]
    use super::*;
    criterion_group!(benches, guard, routing);
}
criterion_main!(group::benches);
