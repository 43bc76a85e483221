//! [`Condition`]: a boolean expression compiled once (guards, SLA conditions, routing
//! rules) and evaluated against many cases.

use std::cell::RefCell;
use std::fmt;
use std::sync::Arc;

use rhai::{AST, Dynamic, Scope};

use super::convert::{compile_scope, push_new_variables, push_variables};
use super::lexical::Tokens;
use super::names::{Variable, referenced, variables};
use super::native::{MemoPlan, NativeCondition};
use super::{CaseView, EvalContext, Schema, ScriptEngine, ScriptError, ScriptErrorKind, run_state};

thread_local! {
    /// A scope reused by every evaluation on this thread, to save its allocations.
    static SCOPE: RefCell<Scope<'static>> = RefCell::new(Scope::new());
}

/// A compiled boolean expression and its source text. Cheap to clone (the compiled
/// form is shared); `Send + Sync`.
///
/// A condition in the native subset (comparisons of fields with literals, `&&`, `||`,
/// `!`, `in` lists, the keyword and clock helpers; see `script::native`) is also read
/// into a tree evaluated without Rhai, with the same results; where that evaluation
/// cannot answer exactly as Rhai would (an error, a type it does not handle), Rhai
/// evaluates the condition. [`Condition::is_native`] says which it is.
#[derive(Clone)]
pub struct Condition {
    inner: Arc<Compiled>,
}

struct Compiled {
    source: Arc<str>,
    origin: Option<String>,
    ast: AST,
    /// The variables the expression may read: only these are supplied per evaluation.
    reads: Vec<Variable>,
    /// The native form, when the expression is in the subset.
    native: Option<NativeCondition>,
}

impl Condition {
    /// Compiles `source` as one expression over the names `schema` declares. A name it
    /// does not declare is a `script-unknown-variable` error, with a suggestion.
    pub fn compile(
        engine: &ScriptEngine,
        source: &str,
        schema: &Schema,
    ) -> Result<Condition, ScriptError> {
        Condition::compile_inner(engine, source, schema, None)
    }

    /// Like [`Condition::compile`], naming where the condition comes from (e.g.
    /// `routing rule 3`) in every error it reports.
    pub fn compile_named(
        engine: &ScriptEngine,
        source: &str,
        schema: &Schema,
        origin: &str,
    ) -> Result<Condition, ScriptError> {
        Condition::compile_inner(engine, source, schema, Some(origin))
    }

    fn compile_inner(
        engine: &ScriptEngine,
        source: &str,
        schema: &Schema,
        origin: Option<&str>,
    ) -> Result<Condition, ScriptError> {
        let known = variables(schema);
        let scope = compile_scope(&known);
        let ast = engine
            .rhai()
            .compile_expression_with_scope(&scope, source)
            .map_err(|e| with_suggestion(ScriptError::from_parse(&e), &known))
            .map_err(|e| name(e, origin))?;
        Tokens::new(engine, source)
            .check_functions(engine)
            .map_err(|e| name(e, origin))?;
        let reads = referenced(&known, source);
        let origin = origin.map(str::to_string);
        let native = match engine.native_conditions() {
            true => NativeCondition::compile(source, &known, engine.limits()),
            false => None,
        };
        let inner = Compiled {
            source: Arc::from(source),
            origin,
            ast,
            reads,
            native,
        };
        Ok(Condition {
            inner: Arc::new(inner),
        })
    }

    /// Evaluates the condition on `case`. A result of `()` (a missing value) is
    /// `false`; any other non-boolean result is a `script-type-mismatch` error.
    pub fn eval(
        &self,
        engine: &ScriptEngine,
        case: &CaseView,
        ctx: &EvalContext,
    ) -> Result<bool, ScriptError> {
        if let Some(holds) = self.eval_native(case, ctx) {
            return Ok(holds);
        }
        SCOPE.with(|cell| match cell.try_borrow_mut() {
            Ok(mut scope) => {
                scope.clear();
                push_new_variables(&mut scope, &self.inner.reads, case, ctx);
                let result = self.eval_supplied(engine, &mut scope, ctx);
                scope.clear();
                result
            }
            // Only if an evaluation ever nests inside another on this thread.
            Err(_) => self.eval_in(engine, &mut Scope::new(), case, ctx),
        })
    }

    /// Evaluates in a scope shared by several conditions on the same case (a router's
    /// rules): variables already supplied are reused.
    pub(crate) fn eval_in(
        &self,
        engine: &ScriptEngine,
        scope: &mut Scope<'static>,
        case: &CaseView,
        ctx: &EvalContext,
    ) -> Result<bool, ScriptError> {
        if let Some(holds) = self.eval_native(case, ctx) {
            return Ok(holds);
        }
        push_variables(scope, &self.inner.reads, case, ctx);
        self.eval_supplied(engine, scope, ctx)
    }

    /// The native evaluation's answer, or `None` when there is no native form or it
    /// defers to Rhai.
    pub(crate) fn eval_native(&self, case: &CaseView, ctx: &EvalContext) -> Option<bool> {
        self.inner.native.as_ref()?.eval(case, ctx)
    }

    /// Adds the condition's native form (if it has one) to `plan`, as its next rule,
    /// with the variables it reads.
    pub(crate) fn native_plan(&self, plan: &mut MemoPlan) {
        if let Some(native) = &self.inner.native {
            native.plan(plan);
        }
    }

    /// Whether the condition has a native form (evaluated without Rhai unless that
    /// evaluation defers).
    pub fn is_native(&self) -> bool {
        self.inner.native.is_some()
    }

    /// Evaluates in a scope that already holds every variable the condition reads.
    fn eval_supplied(
        &self,
        engine: &ScriptEngine,
        scope: &mut Scope<'static>,
        ctx: &EvalContext,
    ) -> Result<bool, ScriptError> {
        let result = run_state::run(ctx, engine.limits().timeout, || {
            engine
                .rhai()
                .eval_ast_with_scope::<Dynamic>(scope, &self.inner.ast)
                .map_err(|e| ScriptError::from_eval(&e))
        });
        result
            .and_then(truth)
            .map_err(|e| name(e, self.inner.origin.as_deref()))
    }

    /// The source text, as written in the policy.
    pub fn source(&self) -> &str {
        &self.inner.source
    }

    /// The source text, shared (for a decision that names the condition).
    pub fn shared_source(&self) -> Arc<str> {
        Arc::clone(&self.inner.source)
    }

    /// The variables the expression may read.
    pub(crate) fn reads(&self) -> &[Variable] {
        &self.inner.reads
    }

    /// Where the condition comes from, if it was compiled with a name.
    pub fn origin(&self) -> Option<&str> {
        self.inner.origin.as_deref()
    }
}

/// A condition's value as a boolean: `()` is false, like SQL's `NULL`.
fn truth(value: Dynamic) -> Result<bool, ScriptError> {
    if value.is_unit() {
        return Ok(false);
    }
    value.as_bool().map_err(|found| {
        ScriptError::new(
            ScriptErrorKind::TypeMismatch,
            format!("a condition must be true or false, not `{found}`"),
        )
    })
}

fn name(err: ScriptError, origin: Option<&str>) -> ScriptError {
    match origin {
        Some(origin) => err.with_origin(origin),
        None => err,
    }
}

/// Adds "did you mean ...?" to an unknown-variable error.
pub(crate) fn with_suggestion(err: ScriptError, known: &[Variable]) -> ScriptError {
    if err.kind != ScriptErrorKind::UnknownVariable {
        return err;
    }
    let misspelt = err
        .message
        .split('`')
        .nth(1)
        .unwrap_or_default()
        .to_string();
    err.with_suggestion(&misspelt, known.iter().map(|v| v.name.as_str()))
}

impl fmt::Debug for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Condition")
            .field("source", &self.inner.source)
            .field("origin", &self.inner.origin)
            .field("native", &self.inner.native.is_some())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_is_false_and_other_values_are_errors() {
        assert_eq!(truth(Dynamic::UNIT), Ok(false));
        assert_eq!(truth(Dynamic::TRUE), Ok(true));
        let err = truth(Dynamic::from_int(1)).err().map(|e| e.code());
        assert_eq!(err, Some("script-type-mismatch"));
    }
}
