//! [`ConditionChain`]: ordered conditions compiled into one program that returns the
//! index of the first that holds, so a router pays Rhai's per-evaluation cost once
//! instead of once per rule.
//!
//! It is only a fast path. Where a chain cannot answer exactly as evaluating the
//! conditions one by one would (a condition that is `()` or not a boolean, any error, a
//! limit reached by the chain as a whole), it reports failure and the caller evaluates
//! the conditions one by one, which gives the exact result or error and names the rule.

use rhai::{AST, Dynamic, Scope};

use super::convert::{compile_scope, push_new_variables};
use super::names::Variable;
use super::{CaseView, Condition, EvalContext, ScriptEngine, run_state};

/// Conditions compiled as `if (c0) { return 0; } if (c1) { return 1; } ... -1`.
#[derive(Clone)]
pub(crate) struct ConditionChain {
    ast: AST,
    reads: Vec<Variable>,
}

impl ConditionChain {
    /// Compiles the chain; `None` if it does not compile (each condition did alone, so
    /// only a limit on the whole, such as the number of functions, can refuse it).
    pub(crate) fn compile<'a>(
        engine: &ScriptEngine,
        conditions: impl Iterator<Item = &'a Condition>,
    ) -> Option<ConditionChain> {
        let mut source = String::new();
        let mut reads: Vec<Variable> = Vec::new();
        for (index, condition) in conditions.enumerate() {
            // Newlines keep a trailing `//` comment from swallowing the rest.
            source.push_str(&format!(
                "if (\n{}\n) {{ return {index}; }}\n",
                condition.source()
            ));
            for v in condition.reads() {
                if !reads.contains(v) {
                    reads.push(v.clone());
                }
            }
        }
        source.push_str("-1");
        let ast = engine
            .rhai()
            .compile_with_scope(&compile_scope(&reads), &source)
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
        let mut scope = Scope::with_capacity(self.reads.len());
        push_new_variables(&mut scope, &self.reads, case, ctx);
        let result = run_state::run(ctx, engine.limits().timeout, || {
            Ok(engine
                .rhai()
                .eval_ast_with_scope::<Dynamic>(&mut scope, &self.ast)
                .ok())
        });
        let index = result.ok()??.as_int().ok()?;
        Some(usize::try_from(index).ok())
    }
}
