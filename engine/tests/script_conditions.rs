//! Conditions over every field type, missing values, helpers and compile-time errors.
#![allow(clippy::panic)] // tests fail by panicking

#[path = "script_support.rs"]
mod support;

use redress_engine::script::{Condition, ScriptEngine};
use support::{ctx, fraud_case, schema};

/// Evaluates `source` on the fraud case with its `channel` and `complex` fields absent.
fn eval(engine: &ScriptEngine, source: &str) -> Result<bool, String> {
    let mut case = fraud_case();
    case.fields.remove("channel");
    let condition =
        Condition::compile(engine, source, &schema()).map_err(|e| format!("compile: {e}"))?;
    condition
        .eval(engine, &case.view(), &ctx())
        .map_err(|e| format!("eval: {e}"))
}

#[test]
fn conditions_over_every_field_type() {
    let engine = ScriptEngine::default();
    #[rustfmt::skip]
    let table: &[(&str, &str, bool)] = &[
        ("text equality", r#"summary == "信用卡被盗刷 card skimmed""#, true),
        ("enum as text", r#"category == "fraud""#, true),
        ("enum as text, other value", r#"category == "fees""#, false),
        ("enum membership", r#"category in ["fraud", "cards"]"#, true),
        ("bool false field", "vulnerable", false),
        ("bool negated", "!vulnerable", true),
        ("integer comparison", "items >= 3 && items < 4", true),
        ("money above an integer", "amount > 100", true),
        ("money not above 10000", "amount > 10000", false),
        ("money against a decimal literal", "amount >= 120.5", true),
        ("money exact equality", "amount == 120.50", true),
        ("money just below", "amount < 120.51", true),
        ("money arithmetic is exact", "amount + 0.1 + 0.2 == 120.8", true),
        ("date against a literal", r#"incident_date < date("2026-02-11")"#, true),
        ("date equality", r#"incident_date == date("2026-02-10")"#, true),
        ("datetime against a literal", r#"promised_at > datetime("2026-02-20T16:00:00+08:00")"#, true),
        ("datetime at the same instant in another offset", r#"promised_at == datetime("2026-02-20T17:00:00+08:00")"#, true),
        ("datetime against received_at", "promised_at > received_at", true),
        ("stage entry time", "decided_at > received_at", true),
        ("stage", r#"stage == "decided""#, true),
        ("queue", r#"queue == "fraud""#, true),
        ("priority", "priority == 1", true),
        ("tags", r#""vip" in tags"#, true),
        ("reopen count", "reopen_count == 0", true),
        ("now", "now > decided_at", true),
        ("missing text is ()", "channel == ()", true),
        ("missing text is not equal to a value", r#"channel == "phone""#, false),
        ("missing text differs from a value", r#"channel != "phone""#, true),
        ("missing bool as a condition is false", "complex", false),
        ("missing compared with > is false", "channel > 5", false),
        ("missing compared with <= is false", "channel <= 5", false),
        ("missing money is false both ways", "name > 0 || name <= 0", false),
        ("stage never entered: days_since is ()", "days_since(review_at) <= 30", false),
        ("stage never entered is ()", "review_at == ()", true),
        ("contains_any on missing text is false", r#"contains_any(channel, ["phone"])"#, false),
        ("matches on missing text is false", r#"matches(channel, "ph.*")"#, false),
    ];
    for (name, source, expected) in table {
        assert_eq!(
            eval(&engine, source),
            Ok(*expected),
            "row `{name}`: `{source}`"
        );
    }
}

#[test]
fn keyword_matching_in_chinese_and_english() {
    let engine = ScriptEngine::default();
    #[rustfmt::skip]
    let table: &[(&str, &str, bool)] = &[
        ("chinese keyword", r#"contains_any(summary, ["盗刷", "诈骗"])"#, true),
        ("chinese absent", r#"contains_any(summary, ["诈骗", "退款"])"#, false),
        ("english keyword", r#"contains_any(summary, ["scam", "skimmed"])"#, true),
        ("english, keyword in capitals", r#"contains_any(summary, ["SKIMMED"])"#, true),
        ("contains_all mixed", r#"contains_all(summary, ["盗刷", "Card"])"#, true),
        ("contains_all one missing", r#"contains_all(summary, ["盗刷", "scam"])"#, false),
        ("empty list", "contains_any(summary, [])", false),
        ("regex", r#"matches(summary, "(?i)CARD\\s+skim")"#, true),
        ("regex on chinese", r#"matches(summary, "被.刷")"#, true),
    ];
    for (name, source, expected) in table {
        assert_eq!(
            eval(&engine, source),
            Ok(*expected),
            "row `{name}`: `{source}`"
        );
    }
}

#[test]
fn clock_helpers_use_the_runtime_now_and_the_calendar() {
    let engine = ScriptEngine::default();
    #[rustfmt::skip]
    let table: &[(&str, &str, bool)] = &[
        ("days since the decision", "days_since(decided_at) == 7", true),
        ("policy sketch: review within 30 days", "days_since(decided_at) <= 30", true),
        ("hours since receipt", "hours_since(received_at) == 17 * 24 + 4", true),
        ("days since a date", "days_since(incident_date) == 20", true),
        ("business days from receipt to now", "business_days_between(received_at, now) == 11", true),
        ("business days, missing end", "business_days_between(received_at, review_at) > 0", false),
    ];
    for (name, source, expected) in table {
        assert_eq!(
            eval(&engine, source),
            Ok(*expected),
            "row `{name}`: `{source}`"
        );
    }
}

fn compile_error(source: &str) -> (String, Option<usize>, Option<usize>, Option<String>) {
    let engine = ScriptEngine::default();
    match Condition::compile_named(&engine, source, &schema(), "routing rule 2") {
        Ok(_) => ("compiled".into(), None, None, None),
        Err(e) => {
            assert_eq!(e.origin.as_deref(), Some("routing rule 2"), "{e}");
            (e.code().to_string(), e.line, e.column, e.help)
        }
    }
}

#[test]
fn a_misspelt_field_fails_at_compile_time_with_a_suggestion() {
    let (code, line, column, help) = compile_error("category == \"fraud\" &&\n  amuont > 5");
    assert_eq!(code, "script-unknown-variable");
    assert_eq!((line, column), (Some(2), Some(3)));
    assert_eq!(help.as_deref(), Some("did you mean `amount`?"));
}

#[test]
fn compile_errors_have_stable_codes() {
    #[rustfmt::skip]
    let table: &[(&str, &str, &str)] = &[
        ("syntax", "amount >", "script-syntax"),
        ("eval", r#"eval("1") == 1"#, "script-forbidden"),
        ("statement in a condition", "let x = 1", "script-syntax"),
        ("unknown stage time", "approved_at > now", "script-unknown-variable"),
    ];
    for (name, source, expected) in table {
        assert_eq!(
            compile_error(source).0,
            *expected,
            "row `{name}`: `{source}`"
        );
    }
}

#[test]
fn run_time_errors_name_the_condition_and_line() {
    let engine = ScriptEngine::default();
    let condition = Condition::compile_named(
        &engine,
        "amount > 0 &&\n  missing_fn(amount)",
        &schema(),
        "guard of `decide`",
    );
    let err = condition
        .and_then(|c| c.eval(&engine, &fraud_case().view(), &ctx()))
        .err();
    let err = err.map(|e| (e.code(), e.line, e.origin));
    assert_eq!(
        err,
        Some((
            "script-unknown-function",
            Some(2),
            Some("guard of `decide`".to_string())
        ))
    );
}

#[test]
fn arithmetic_on_a_missing_value_is_a_type_error() {
    let engine = ScriptEngine::default();
    let result = eval(&engine, "name - 3 > 0");
    assert!(
        result
            .as_ref()
            .is_err_and(|e| e.contains("script-type-mismatch")),
        "{result:?}"
    );
}

#[test]
fn non_boolean_results_are_type_errors() {
    let engine = ScriptEngine::default();
    let result = eval(&engine, "amount + 1");
    assert!(
        result
            .as_ref()
            .is_err_and(|e| e.contains("script-type-mismatch")),
        "{result:?}"
    );
}

#[test]
fn bad_and_huge_patterns_are_errors() {
    let engine = ScriptEngine::default();
    let bad = eval(&engine, r#"matches(summary, "(")"#);
    assert!(
        bad.as_ref()
            .is_err_and(|e| e.contains("script-runtime-error")),
        "{bad:?}"
    );
    let huge = eval(
        &engine,
        r#"matches(summary, "\\w{1000}\\w{1000}\\w{1000}")"#,
    );
    assert!(
        huge.as_ref()
            .is_err_and(|e| e.contains("script-data-too-large")),
        "{huge:?}"
    );
}

#[test]
fn a_compiled_condition_is_reusable_across_threads() {
    let engine = ScriptEngine::default();
    let condition = Condition::compile(&engine, "amount > 100", &schema());
    let Ok(condition) = condition else {
        panic!("compile failed: {condition:?}")
    };
    let case = fraud_case();
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| assert_eq!(condition.eval(&engine, &case.view(), &ctx()), Ok(true)));
        }
    });
    assert_eq!(condition.source(), "amount > 100");
}
