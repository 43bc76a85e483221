//! [`ActionScript`]: a script run when a transition fires, returning the field updates
//! and notifications the runtime should apply. It never applies anything itself.
//!
//! An action sees the same variables as a condition and evaluates to `()` (nothing to
//! do) or a map:
//!
//! ```rhai
//! #{ set: #{ escalated: true, priority_reason: "amount over " + 50000 },
//!    notify: [#{ to: "compliance", message: "high-value complaint" }] }
//! ```
//!
//! Calls of unknown functions are refused when the action compiles, and so is a
//! personal field read into a notification or into a field that is not personal.
//!
//! `set` keys must be declared fields; values must be text, bool, integer, money
//! (decimal), date or datetime (checking them against each field's declared type is the
//! policy layer's job). Assigning to a case variable inside the script changes only the
//! script's copy.

use std::fmt;
use std::sync::Arc;

use rhai::{AST, Dynamic, Map, Scope};

use super::condition::with_suggestion;
use super::convert::{check_size, compile_scope, from_dynamic, mismatch, push_variables, text};
use super::lexical::Tokens;
use super::names::{Variable, referenced, variables};
use super::{CaseView, EvalContext, Schema, ScriptEngine, ScriptError, ScriptErrorKind, run_state};
use crate::value::Fields;

/// A compiled action. Cheap to clone; `Send + Sync`.
#[derive(Clone)]
pub struct ActionScript {
    inner: Arc<Compiled>,
}

struct Compiled {
    origin: String,
    ast: AST,
    reads: Vec<Variable>,
    fields: Vec<String>,
}

/// What an action asks the runtime to do.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct ActionOutcome {
    /// New values for declared fields.
    pub updates: Fields,
    /// Notifications to emit, in order.
    pub notifications: Vec<Notification>,
}

/// One notification an action asks for.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Notification {
    /// The recipient: a role, a queue or `complainant`; the runtime resolves it.
    pub to: String,
    /// The message text.
    pub message: String,
}

impl ActionScript {
    /// Compiles an action; `origin` (e.g. `transition decide, action 1`) names it in
    /// every error.
    pub fn compile(
        engine: &ScriptEngine,
        source: &str,
        origin: &str,
        schema: &Schema,
    ) -> Result<ActionScript, ScriptError> {
        let known = variables(schema);
        let ast = engine
            .rhai()
            .compile_with_scope(&compile_scope(&known), source)
            .map_err(|e| {
                with_suggestion(ScriptError::from_parse(&e), &known).with_origin(origin)
            })?;
        let tokens = Tokens::new(engine, source);
        tokens
            .check_functions(engine)
            .map_err(|e| e.with_origin(origin))?;
        // Where a personal value would be seen by every role: a notification, or a
        // field that is not itself personal.
        let mut sinks: Vec<&str> = (schema.fields.iter())
            .filter(|f| !schema.personal.contains(f))
            .map(String::as_str)
            .collect();
        sinks.push("message");
        tokens
            .check_personal(None, &schema.personal, &sinks)
            .map_err(|e| e.with_origin(origin))?;
        let reads = referenced(&known, source);
        let fields = schema.fields.clone();
        let inner = Compiled {
            origin: origin.to_string(),
            ast,
            reads,
            fields,
        };
        Ok(ActionScript {
            inner: Arc::new(inner),
        })
    }

    /// Runs the action on `case` and returns what it asks for.
    pub fn run(
        &self,
        engine: &ScriptEngine,
        case: &CaseView,
        ctx: &EvalContext,
    ) -> Result<ActionOutcome, ScriptError> {
        let mut scope = Scope::with_capacity(self.inner.reads.len());
        push_variables(&mut scope, &self.inner.reads, case, ctx);
        let result = run_state::run(ctx, engine.limits().timeout, || {
            engine
                .rhai()
                .eval_ast_with_scope::<Dynamic>(&mut scope, &self.inner.ast)
                .map_err(|e| ScriptError::from_eval(&e))
        });
        result
            .and_then(|value| check_size(&value, engine.limits()).map(|()| value))
            .and_then(|value| self.outcome(value))
            .map_err(|e| e.with_origin(&self.inner.origin))
    }

    /// Where the action comes from.
    pub fn origin(&self) -> &str {
        &self.inner.origin
    }

    fn outcome(&self, value: Dynamic) -> Result<ActionOutcome, ScriptError> {
        if value.is_unit() {
            return Ok(ActionOutcome::default());
        }
        let type_name = value.type_name();
        let map = value
            .try_cast::<Map>()
            .ok_or_else(|| mismatch("the action's result", "a map or `()`", type_name))?;
        if let Some(key) = map.keys().find(|k| !matches!(k.as_str(), "set" | "notify")) {
            return Err(mismatch(
                "the action's result",
                "a map of `set` and `notify`",
                key,
            ));
        }
        let updates = match map.get("set") {
            Some(set) if !set.is_unit() => self.updates(set)?,
            _ => Fields::new(),
        };
        let notifications = match map.get("notify") {
            Some(notify) if !notify.is_unit() => notifications(notify)?,
            _ => Vec::new(),
        };
        Ok(ActionOutcome {
            updates,
            notifications,
        })
    }

    fn updates(&self, set: &Dynamic) -> Result<Fields, ScriptError> {
        let map = set
            .read_lock::<Map>()
            .ok_or_else(|| mismatch("set", "a map of field values", set.type_name()))?;
        let mut updates = Fields::new();
        for (name, value) in map.iter() {
            self.check_field(name)?;
            let converted = from_dynamic(value).ok_or_else(|| {
                mismatch(&format!("set.{name}"), "a field value", value.type_name())
            })?;
            updates.insert(name.to_string(), converted);
        }
        Ok(updates)
    }

    fn check_field(&self, name: &str) -> Result<(), ScriptError> {
        if self.inner.fields.iter().any(|f| f == name) {
            return Ok(());
        }
        let err = ScriptError::new(
            ScriptErrorKind::UnknownVariable,
            format!("`set` names unknown field `{name}`"),
        );
        Err(err.with_suggestion(name, self.inner.fields.iter().map(String::as_str)))
    }
}

fn notifications(notify: &Dynamic) -> Result<Vec<Notification>, ScriptError> {
    let list = notify
        .as_array_ref()
        .map_err(|t| mismatch("notify", "an array of #{to, message} maps", t))?;
    list.iter()
        .map(|item| {
            let map = item.read_lock::<Map>().ok_or_else(|| {
                mismatch(
                    "notify",
                    "an array of #{to, message} maps",
                    item.type_name(),
                )
            })?;
            let field = |key: &str| match map.get(key) {
                Some(v) => text(v, &format!("notify.{key}")),
                None => Err(mismatch(&format!("notify.{key}"), "text", "()")),
            };
            Ok(Notification {
                to: field("to")?,
                message: field("message")?,
            })
        })
        .collect()
}

impl fmt::Debug for ActionScript {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ActionScript")
            .field("origin", &self.inner.origin)
            .finish_non_exhaustive()
    }
}
