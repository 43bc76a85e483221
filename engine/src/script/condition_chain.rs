//! [`ConditionChain`]: ordered conditions compiled into one program that returns the
//! index of the first that holds, so a router pays Rhai's per-evaluation cost once
//! instead of once per rule.
//!
//! It is only a fast path. Where a chain cannot answer exactly as evaluating the
//! conditions one by one would (a condition that is `()` or not a boolean, any error, a
//! limit reached by the chain as a whole), it reports failure and the caller evaluates
//! the conditions one by one, which gives the exact result or error and names the rule.

use rhai::{AST, CallFnOptions, Dynamic, Scope};

use super::convert::variable_value;
use super::names::Variable;
use super::{CaseView, Condition, EvalContext, ScriptEngine, run_state};

/// Conditions compiled as one function whose parameters are the variables they read:
/// `fn chain(amount, category, ..) { if (c0) { return 0; } if (c1) { return 1; } .. -1 }`.
/// Inside a function Rhai finds a parameter by its position, not by comparing names
/// through the scope as it must for variables pushed from outside; with a dozen
/// variables that halves the cost of a decision.
#[derive(Clone)]
pub(crate) struct ConditionChain {
    ast: AST,
    reads: Vec<Variable>,
}

/// The chain function's name: not an identifier a policy can use (`_`-prefixed names
/// are fine in Rhai, and no field or stage is called this).
const CHAIN_FN: &str = "__redress_rule_chain";

impl ConditionChain {
    /// Compiles the chain; `None` if it does not compile (each condition did alone, so
    /// only a limit on the whole, such as expression depth, can refuse it).
    pub(crate) fn compile<'a>(
        engine: &ScriptEngine,
        conditions: impl Iterator<Item = &'a Condition>,
    ) -> Option<ConditionChain> {
        let mut body = String::new();
        let mut reads: Vec<Variable> = Vec::new();
        for (index, condition) in conditions.enumerate() {
            // Newlines keep a trailing `//` comment from swallowing the rest.
            body.push_str(&format!(
                "if (\n{}\n) {{ return {index}; }}\n",
                condition.source()
            ));
            for v in condition.reads() {
                if !reads.iter().any(|r| r.name == v.name) {
                    reads.push(v.clone());
                }
            }
        }
        let params: Vec<&str> = reads.iter().map(|v| v.name.as_str()).collect();
        let source = format!("fn {CHAIN_FN}({}) {{\n{body}-1\n}}", params.join(", "));
        let ast = engine
            .rhai()
            .compile(&source)
            .map_err(|e| {
                tracing::debug!(
                    "routing rules evaluate one by one: the chain does not compile: {e}"
                )
            })
            .ok()?;
        Some(ConditionChain { ast, reads })
    }

    /// The index of the first condition that holds (`Some(None)` if none does), or
    /// `None` if the chain cannot answer exactly and the conditions must be evaluated
    /// one by one.
    pub(crate) fn first_match(
        &self,
        engine: &ScriptEngine,
        case: &CaseView,
        ctx: &EvalContext,
    ) -> Option<Option<usize>> {
        let args: Vec<Dynamic> = self
            .reads
            .iter()
            .map(|v| variable_value(&v.source, case, ctx))
            .collect();
        let result = run_state::run(ctx, engine.limits().timeout, || {
            let options = CallFnOptions::new().eval_ast(false).rewind_scope(true);
            let mut scope = Scope::new();
            let r = engine
                .rhai()
                .call_fn_with_options::<Dynamic>(options, &mut scope, &self.ast, CHAIN_FN, args);
            Ok(r.ok())
        });
        let index = result.ok()??.as_int().ok()?;
        Some(usize::try_from(index).ok())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use chrono::DateTime;

    use super::*;
    use crate::script::Schema;
    use crate::script::test_support::NoCalendar;
    use crate::value::{Fields, Value};

    fn first_match(sources: &[&str], fields: &Fields) -> Option<Option<usize>> {
        let engine = ScriptEngine::default();
        let schema = Schema {
            fields: vec!["amount".into(), "flag".into()],
            stages: vec![],
            personal: Vec::new(),
        };
        let conditions: Vec<Condition> = sources
            .iter()
            .filter_map(|s| Condition::compile(&engine, s, &schema).ok())
            .collect();
        assert_eq!(
            conditions.len(),
            sources.len(),
            "every condition must compile"
        );
        let chain = ConditionChain::compile(&engine, conditions.iter())?;
        let entered = BTreeMap::new();
        let case = CaseView {
            fields,
            stage: "received",
            queue: None,
            priority: None,
            received_at: DateTime::UNIX_EPOCH,
            tags: &[],
            reopen_count: 0,
            stage_entered_at: &entered,
        };
        let ctx = EvalContext {
            now: DateTime::UNIX_EPOCH,
            calendar: Arc::new(NoCalendar),
        };
        chain.first_match(&engine, &case, &ctx)
    }

    #[test]
    fn the_chain_finds_the_first_condition_that_holds() {
        let mut fields = Fields::new();
        fields.insert("amount".into(), Value::Integer(5));
        let sources = [
            "amount > 10 // a comment",
            "stage == \"closed\"",
            "amount == 5",
            "true",
        ];
        assert_eq!(first_match(&sources, &fields), Some(Some(2)));
        assert_eq!(first_match(&sources[..2], &fields), Some(None));
    }

    #[test]
    fn the_chain_defers_when_a_condition_is_not_a_boolean() {
        let fields = Fields::new();
        assert_eq!(
            first_match(&["flag", "true"], &fields),
            None,
            "`flag` is () here"
        );
        assert_eq!(
            first_match(&["amount > 1 || amount", "true"], &fields),
            None
        );
    }
}
