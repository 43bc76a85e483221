//! Differential tests of native conditions: every condition of every shipped policy
//! and example, and generated conditions, evaluated natively and by Rhai alone on
//! generated cases, must give identical results, errors included.
#![allow(clippy::panic)] // tests fail by panicking

#[path = "script_support.rs"]
mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{Duration, NaiveDate};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};
use redress_engine::policy::{FieldType, Policy, load_policy};
use redress_engine::script::{BUILTIN_VARIABLES, Condition, Schema, ScriptEngine, ScriptError};
use redress_engine::value::{Fields, Value};
use rust_decimal::Decimal;
use support::{Case, ctx_at, schema, utc};

/// Every policy this repository ships or shows: `policies/*.toml` and the examples'.
fn shipped_policies() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut found = Vec::new();
    for dir in ["policies", "examples/custom-routing"] {
        let entries = std::fs::read_dir(root.join(dir))
            .unwrap_or_else(|e| panic!("cannot read `{dir}`: {e}"));
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|x| x == "toml") {
                found.push(path);
            }
        }
    }
    found.sort();
    assert!(found.len() >= 6, "shipped policies not found: {found:?}");
    found
}

/// The source of every condition in `policy`, with where it is.
fn conditions_of(policy: &Policy) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut add = |place: String, condition: Option<&Condition>| {
        if let Some(c) = condition {
            found.push((place, c.source().to_string()));
        }
    };
    for t in policy.transitions() {
        add(format!("transition {}", t.index + 1), t.guard.as_ref());
    }
    for (name, sla) in policy.slas() {
        add(format!("sla `{name}`"), sla.applies_when.as_ref());
        for e in &sla.extensions {
            add(
                format!("sla `{name}` extension `{}`", e.name),
                e.when.as_ref(),
            );
        }
    }
    for (i, rule) in policy.routing().router.rules().iter().enumerate() {
        add(format!("routing rule {}", i + 1), rule.condition.as_ref());
    }
    found
}

fn schema_of(policy: &Policy) -> Schema {
    Schema {
        fields: policy.fields().keys().cloned().collect(),
        stages: policy.stages().keys().cloned().collect(),
        personal: policy
            .fields()
            .iter()
            .filter(|(_, f)| f.personal)
            .map(|(name, _)| name.clone())
            .collect(),
    }
}

/// The same condition compiled for both paths.
struct Pair {
    native: Condition,
    scripted: Condition,
}

struct Engines {
    native: ScriptEngine,
    scripted: ScriptEngine,
}

impl Engines {
    fn new() -> Self {
        Engines {
            native: ScriptEngine::default(),
            scripted: ScriptEngine::default().scripted_only(),
        }
    }

    /// Both compilations, which must agree (both paths compile through Rhai).
    fn compile(&self, source: &str, schema: &Schema) -> Result<Pair, ScriptError> {
        let native = Condition::compile_named(&self.native, source, schema, "rule");
        let scripted = Condition::compile_named(&self.scripted, source, schema, "rule");
        match (native, scripted) {
            (Ok(native), Ok(scripted)) => {
                assert!(!scripted.is_native());
                Ok(Pair { native, scripted })
            }
            (Err(a), Err(b)) => {
                assert_eq!(a, b, "`{source}`");
                Err(a)
            }
            (a, b) => panic!("`{source}` compiles on one path only: {a:?} / {b:?}"),
        }
    }

    fn eval(&self, pair: &Pair, case: &Case, now: chrono::DateTime<chrono::Utc>) {
        let ctx = ctx_at(now);
        let native = pair.native.eval(&self.native, &case.view(), &ctx);
        let scripted = pair.scripted.eval(&self.scripted, &case.view(), &ctx);
        assert_eq!(
            native,
            scripted,
            "`{}` on fields {:?}, stage `{}`, tags {:?}, entered {:?}",
            pair.native.source(),
            case.fields,
            case.stage,
            case.tags,
            case.stage_entered_at
        );
    }
}

fn texts() -> Vec<&'static str> {
    vec![
        "",
        "fraud",
        "fees",
        "cards",
        "CN",
        "EU",
        "vip",
        "platinum",
        "upheld",
        "Scam",
        "信用卡被盗刷 card skimmed",
        "a SCAM call",
        "空调坏了, no hot water",
        "regulator",
        // Case folding beyond ASCII: capitals that lower-case to other letters, a
        // Kelvin sign (lower case `k`), a long s (which `(?i)` relates to `s`), a
        // dotted capital I (lower case two characters), and a text past the length
        // searched in one pass.
        "ÉCHEC: SCAM ÜBER Straße",
        "\u{212A}ARD SKIMMED",
        "\u{17F}cam by the OMBUDSMAN",
        "İSTANBUL 盗刷",
        "Ombudsman, Regulator, SCAM",
        "a long summary of a complaint about a card, written out at length so that it runs past the two hundred and fifty six bytes a short text is searched in, and only then mentions the word that matters, which is scam, so the long path must find it too",
    ]
}

/// A value of `kind`, or now and then of another type (a value the policy would not
/// let in, which the evaluator must still treat as Rhai does).
fn value_of(kind: Option<FieldType>) -> BoxedStrategy<Value> {
    let text = prop::sample::select(texts()).prop_map(|t| Value::Text(t.into()));
    let integer = prop::sample::select(vec![-3_i64, 0, 1, 2, 3, 5, 30, 500, 10000, 50001])
        .prop_map(Value::Integer);
    let money = prop::sample::select(vec![
        "0",
        "0.1",
        "120.5",
        "120.50",
        "500",
        "10000.01",
        "-2",
        "-0.00",
        "0.0000000000000000000000000001",
        "79228162514264337593543950335",
        "-7922816251426433759354395.0335",
    ])
    .prop_map(|m| Value::Money(m.parse::<Decimal>().unwrap_or_default()));
    let date = (-40_i64..40).prop_map(|d| {
        let base = NaiveDate::from_ymd_opt(2026, 3, 2).unwrap_or_default();
        Value::Date(base + Duration::days(d))
    });
    let instant = (-1000_i64..1000)
        .prop_map(|h| Value::DateTime((utc(2026, 3, 2, 12) + Duration::hours(h)).fixed_offset()));
    let boolean = any::<bool>().prop_map(Value::Bool);
    let any_type = prop_oneof![
        text.clone(),
        integer.clone(),
        money.clone(),
        date.clone(),
        instant.clone(),
        boolean.clone()
    ];
    let typed = match kind {
        Some(FieldType::Text | FieldType::Enum) => text.boxed(),
        Some(FieldType::Bool) => boolean.boxed(),
        Some(FieldType::Integer) => integer.boxed(),
        Some(FieldType::Money) => money.boxed(),
        Some(FieldType::Date) => date.boxed(),
        Some(FieldType::Datetime) => instant.boxed(),
        None => return any_type.boxed(),
    };
    prop_oneof![6 => typed, 1 => any_type].boxed()
}

/// A case over `fields` (name, declared type) and `stages`, with any field missing,
/// and the instant to evaluate at.
fn arb_case(
    fields: Vec<(String, Option<FieldType>)>,
    stages: Vec<String>,
) -> impl Strategy<Value = (Case, chrono::DateTime<chrono::Utc>)> {
    let values: Vec<_> = fields
        .iter()
        .map(|(_, kind)| prop::option::weighted(0.75, value_of(*kind)))
        .collect();
    let names: Vec<String> = fields.into_iter().map(|(n, _)| n).collect();
    let entered: Vec<_> = stages
        .iter()
        .map(|_| prop::option::of(-1000_i64..1000))
        .collect();
    let tags = prop::collection::vec(prop::sample::select(vec!["vip", "safety", "Scam"]), 0..3);
    (
        values,
        prop::sample::select(stages.clone()),
        prop::option::of(prop::sample::select(vec!["fraud", "general", "care"])),
        prop::option::of(0_i64..4),
        tags,
        0_u32..4,
        entered,
        -2000_i64..2000,
    )
        .prop_map(
            move |(values, stage, queue, priority, tags, reopen_count, entered, now)| {
                let mut case_fields = Fields::new();
                for (name, value) in names.iter().zip(values) {
                    if let Some(v) = value {
                        case_fields.insert(name.clone(), v);
                    }
                }
                let received = utc(2026, 2, 13, 8);
                let mut stage_entered_at = BTreeMap::new();
                for (s, hours) in stages.iter().zip(entered) {
                    if let Some(h) = hours {
                        stage_entered_at.insert(s.clone(), received + Duration::hours(h));
                    }
                }
                let case = Case {
                    fields: case_fields,
                    stage,
                    queue: queue.map(str::to_string),
                    priority,
                    received_at: received,
                    tags: tags.into_iter().map(str::to_string).collect(),
                    reopen_count,
                    stage_entered_at,
                };
                (case, utc(2026, 3, 2, 12) + Duration::hours(now))
            },
        )
}

/// Runs `check` on `cases` generated cases.
fn for_cases(
    strategy: impl Strategy<Value = (Case, chrono::DateTime<chrono::Utc>)>,
    cases: u32,
    mut check: impl FnMut(&Case, chrono::DateTime<chrono::Utc>),
) {
    let mut runner = TestRunner::new(Config::with_cases(cases));
    for _ in 0..cases {
        let tree = strategy
            .new_tree(&mut runner)
            .unwrap_or_else(|e| panic!("{e}"));
        let (case, now) = tree.current();
        check(&case, now);
    }
}

#[test]
fn every_shipped_condition_evaluates_natively_as_rhai_does() {
    let engines = Engines::new();
    let mut native = 0;
    let mut total = 0;
    for path in shipped_policies() {
        let policy = load_policy(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let schema = schema_of(&policy);
        let fields: Vec<(String, Option<FieldType>)> = policy
            .fields()
            .values()
            .map(|f| (f.name.clone(), Some(f.kind)))
            .collect();
        let pairs: Vec<(String, Pair)> = conditions_of(&policy)
            .into_iter()
            .map(|(place, source)| {
                let pair = engines
                    .compile(&source, &schema)
                    .unwrap_or_else(|e| panic!("{} {place}: {e}", path.display()));
                (place, pair)
            })
            .collect();
        native += pairs.iter().filter(|(_, p)| p.native.is_native()).count();
        total += pairs.len();
        for (place, pair) in &pairs {
            assert!(
                pair.native.is_native(),
                "{} {place}: `{}` is not native",
                path.display(),
                pair.native.source()
            );
        }
        let stages = schema.stages.clone();
        for_cases(arb_case(fields, stages), 300, |case, now| {
            for (_, pair) in &pairs {
                engines.eval(pair, case, now);
            }
        });
    }
    assert!(total >= 50, "only {total} conditions found");
    assert_eq!(native, total);
}

/// A variable of the support schema: a field, a built-in or a stage's `_at`.
fn arb_variable() -> impl Strategy<Value = String> {
    let names = schema()
        .fields
        .into_iter()
        .chain(BUILTIN_VARIABLES.iter().map(|v| v.to_string()))
        .chain(["decided_at", "review_at"].map(String::from))
        .collect::<Vec<_>>();
    prop::sample::select(names)
}

fn arb_literal() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "0",
        "-3",
        "3",
        "10000",
        "120.5",
        "120.50",
        "-0.5",
        "0.0000000000000000001",
        "9223372036854775807",
        "79228162514264337593543950.335",
        "\"fraud\"",
        "\"\"",
        "\"Scam\"",
        "\"vip\"",
        "\"a\\\"b\"",
        "true",
        "false",
        "()",
        "date(\"2026-02-10\")",
        "datetime(\"2026-02-20T17:00:00+08:00\")",
    ])
    .prop_map(String::from)
}

fn arb_list() -> impl Strategy<Value = String> {
    prop::collection::vec(arb_literal(), 0..4).prop_map(|items| format!("[{}]", items.join(", ")))
}

fn arb_atom() -> impl Strategy<Value = String> {
    let keywords = prop::collection::vec(
        prop::sample::select(vec![
            "\"盗刷\"",
            "\"SCAM\"",
            "\"card\"",
            "\"\"",
            "1",
            "\"échec\"",
            "\"K\"",
            "\"i̇stanbul\"",
            "\"straße\"",
        ]),
        0..3,
    )
    .prop_map(|k| format!("[{}]", k.join(", ")));
    prop_oneof![
        3 => arb_variable(),
        3 => arb_literal(),
        1 => (prop::sample::select(vec!["contains_any", "contains_all"]), arb_variable(), keywords)
            .prop_map(|(f, v, k)| format!("{f}({v}, {k})")),
        1 => (arb_variable(), prop::sample::select(vec![
            "(?i)scam",
            "card|fraud",
            "^$",
            "被.刷",
            "(?i)ombudsman|Regulator",
            "(?i)card skimmed|k",
            "(?i)scam|",
        ]))
            .prop_map(|(v, p)| format!("matches({v}, \"{p}\")")),
        1 => (prop::sample::select(vec!["days_since", "hours_since"]), arb_variable())
            .prop_map(|(f, v)| format!("{f}({v})")),
        1 => (arb_variable(), arb_variable())
            .prop_map(|(a, b)| format!("business_days_between({a}, {b})")),
        // Outside the subset: Rhai alone.
        1 => arb_variable().prop_map(|v| format!("{v} + 1")),
    ]
}

fn arb_condition() -> impl Strategy<Value = String> {
    arb_atom().prop_recursive(4, 24, 2, |inner| {
        let ops = prop::sample::select(vec!["&&", "||", "==", "!=", "<", "<=", ">", ">="]);
        prop_oneof![
            3 => (inner.clone(), ops, inner.clone()).prop_map(|(a, op, b)| format!("{a} {op} {b}")),
            1 => inner.clone().prop_map(|e| format!("!{e}")),
            1 => inner.clone().prop_map(|e| format!("({e})")),
            1 => (inner.clone(), arb_list()).prop_map(|(e, l)| format!("{e} in {l}")),
            1 => inner.prop_map(|e| format!("{e} in tags")),
        ]
    })
}

fn support_fields() -> Vec<(String, Option<FieldType>)> {
    schema().fields.into_iter().map(|f| (f, None)).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    /// Generated conditions on generated cases (any field of any type or missing).
    #[test]
    fn generated_conditions_evaluate_natively_as_rhai_does(
        source in arb_condition(),
        cases in prop::collection::vec(arb_case(support_fields(), schema().stages), 8),
    ) {
        let engines = Engines::new();
        if let Ok(pair) = engines.compile(&source, &schema()) {
            for (case, now) in &cases {
                engines.eval(&pair, case, *now);
            }
        }
    }
}

#[test]
fn generated_conditions_are_mostly_native() {
    let engines = Engines::new();
    let (mut compiled, mut native) = (0, 0);
    let mut runner = TestRunner::deterministic();
    for _ in 0..500 {
        let tree = arb_condition()
            .new_tree(&mut runner)
            .unwrap_or_else(|e| panic!("{e}"));
        if let Ok(pair) = engines.compile(&tree.current(), &schema()) {
            compiled += 1;
            native += usize::from(pair.native.is_native());
        }
    }
    assert!(
        native * 2 > compiled,
        "{native} of {compiled} native: the differential test would test little"
    );
}

#[test]
fn which_conditions_are_native() {
    let engine = ScriptEngine::default();
    #[rustfmt::skip]
    let table: &[(&str, bool)] = &[
        (r#"amount > 10000 && category == "fraud""#, true),
        (r#"category in ["fraud", "cards"]"#, true),
        (r#"contains_any(summary, ["盗刷", "scam"]) || vulnerable"#, true),
        (r#"stage == "review" && days_since(decided_at) > 30"#, true),
        (r#""vip" in tags && amount > 20000"#, true),
        ("hours_since(received_at) == 17 * 24 + 4", false),
        ("items / (items - 3) > 1", false),
        (r#"summary.len() > 3"#, false),
    ];
    for (source, native) in table {
        let c = Condition::compile(&engine, source, &schema())
            .unwrap_or_else(|e| panic!("`{source}`: {e}"));
        assert_eq!(c.is_native(), *native, "`{source}`");
        let scripted =
            Condition::compile(&ScriptEngine::default().scripted_only(), source, &schema())
                .unwrap_or_else(|e| panic!("`{source}`: {e}"));
        assert!(!scripted.is_native(), "`{source}`");
    }
}
