//! [`RoutingScript`]: an integrator's `.rhai` file defining `fn route(c)`.
//!
//! # The contract
//!
//! The file defines `fn route(c)`. `c` is a map holding the case: every declared
//! field, the built-ins (`stage`, `queue`, `priority`, `received_at`, `tags`,
//! `reopen_count`, `now`) and `<stage>_at` for every stage, each `()` when the case has
//! no value. It is a copy: changing it changes nothing. `route` returns either `()`,
//! to let the policy's routing rules decide, or a map:
//!
//! ```rhai
//! fn route(c) {
//!     if c.amount > 50000 && c.vulnerable {
//!         return #{ queue: "senior-care", priority: 1, assignee: "li.wei",
//!                   tags: ["vulnerable", "high-value"], reason: "vulnerable, high value" };
//!     }
//!     ()
//! }
//! ```
//!
//! `queue` (text) is required; `priority` (integer), `assignee` (text), `tags` (array of
//! text) and `reason` (text, recorded in the routing explanation) are optional; any
//! other key is an error, so a misspelt `prority` does not pass silently. The
//! explanation records the script file and the line of the `queue: "..."` entry that
//! names the chosen queue when exactly one entry does (write each queue once, or give
//! a `reason`, for a precise explanation). Top-level
//! statements outside functions are never run.
//!
//! When the script compiles, its tokens are checked (strings and comments are not
//! code): `c.<name>` with a name the policy does not declare is refused (write
//! `c["name"]` to bypass it; reading a missing key then fails at run time), so is a
//! call of a function that does not exist, and so is a personal field read into a
//! route's `reason` or `tags` (directly or through a variable), which every role sees
//! unmasked in the `routed` event and the case's tags.

use std::fmt;
use std::sync::Arc;

use rhai::{AST, CallFnOptions, Dynamic, Map, Scope};

use super::convert::{case_map, check_size, mismatch, text, texts};
use super::lexical::Tokens;
use super::names::{Variable, variables};
use super::{CaseView, EvalContext, Schema, ScriptEngine, ScriptError, ScriptErrorKind, run_state};

/// The keys a route result may have.
const ROUTE_KEYS: &[&str] = &["queue", "priority", "assignee", "tags", "reason"];

/// A compiled routing script. Cheap to clone; `Send + Sync`.
#[derive(Clone)]
pub struct RoutingScript {
    inner: Arc<Compiled>,
}

struct Compiled {
    origin: String,
    ast: AST,
    known: Vec<Variable>,
    /// Each `queue: "..."` entry and its line.
    queue_lines: Vec<(usize, String)>,
}

/// What a routing script decided.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ScriptRoute {
    /// The queue to route to.
    pub queue: String,
    /// The priority, if the script set one.
    pub priority: Option<i64>,
    /// The assignee, if the script named one.
    pub assignee: Option<String>,
    /// Tags to add.
    pub tags: Vec<String>,
    /// The script's own explanation, if it gave one.
    pub reason: Option<String>,
    /// The line where the script built this route: the line of the only
    /// `queue: "<queue>"` entry naming the chosen queue, if exactly one does (a
    /// lexical match, since Rhai does not report which `return` ran).
    pub line: Option<usize>,
}

impl RoutingScript {
    /// Compiles a routing script; `origin` (its file path) names it in every error.
    pub fn compile(
        engine: &ScriptEngine,
        source: &str,
        origin: &str,
        schema: &Schema,
    ) -> Result<RoutingScript, ScriptError> {
        let known = variables(schema);
        let ast = engine
            .rhai()
            .compile_with_scope(&Scope::new(), source)
            .map_err(|e| ScriptError::from_parse(&e).with_origin(origin))?;
        let param = route_param(&ast).ok_or_else(|| {
            ScriptError::new(
                ScriptErrorKind::NoRoute,
                "the script does not define `fn route(c)`",
            )
            .with_help("define `fn route(c) { ... }` returning a route map or `()`")
            .with_origin(origin)
        })?;
        let tokens = Tokens::new(engine, source);
        tokens
            .check_properties(&param, &known)
            .and_then(|()| tokens.check_functions(engine))
            .and_then(|()| {
                tokens.check_personal(Some(&param), &schema.personal, &["reason", "tags"])
            })
            .map_err(|e| e.with_origin(origin))?;
        let queue_lines = tokens.queue_entries();
        let inner = Compiled {
            origin: origin.to_string(),
            ast,
            known,
            queue_lines,
        };
        Ok(RoutingScript {
            inner: Arc::new(inner),
        })
    }

    /// Runs `route(c)` on `case`: `None` when it returns `()`.
    pub fn route(
        &self,
        engine: &ScriptEngine,
        case: &CaseView,
        ctx: &EvalContext,
    ) -> Result<Option<ScriptRoute>, ScriptError> {
        let map = case_map(&self.inner.known, case, ctx);
        let result = run_state::run(ctx, engine.limits().timeout, || {
            let options = CallFnOptions::new().eval_ast(false).rewind_scope(true);
            engine
                .rhai()
                .call_fn_with_options::<Dynamic>(
                    options,
                    &mut Scope::new(),
                    &self.inner.ast,
                    "route",
                    (map,),
                )
                .map_err(|e| ScriptError::from_eval(&e))
        });
        result
            .and_then(|value| check_size(&value, engine.limits()).map(|()| value))
            .and_then(|value| self.to_route(value))
            .map_err(|e| e.with_origin(&self.inner.origin))
    }

    /// The file the script came from.
    pub fn origin(&self) -> &str {
        &self.inner.origin
    }

    fn to_route(&self, value: Dynamic) -> Result<Option<ScriptRoute>, ScriptError> {
        if value.is_unit() {
            return Ok(None);
        }
        let type_name = value.type_name();
        let map = value
            .try_cast::<Map>()
            .ok_or_else(|| mismatch("route(c)'s result", "a map or `()`", type_name))?;
        route_from_map(&map).map(|route| {
            let line = line_of_queue(&self.inner.queue_lines, &route.queue);
            Some(ScriptRoute { line, ..route })
        })
    }
}

/// The parameter name of `fn route(c)`, if the script defines it with one parameter.
fn route_param(ast: &AST) -> Option<String> {
    ast.iter_functions()
        .find(|f| f.name == "route" && f.params.len() == 1)
        .and_then(|f| f.params.first().map(|p| p.to_string()))
}

fn route_from_map(map: &Map) -> Result<ScriptRoute, ScriptError> {
    if let Some(key) = map.keys().find(|k| !ROUTE_KEYS.contains(&k.as_str())) {
        let err = mismatch(
            "route(c)'s result",
            "a map of queue, priority, assignee, tags, reason",
            key,
        );
        let err = ScriptError {
            message: format!("unknown key `{key}` in the route"),
            ..err
        };
        return Err(err.with_suggestion(key, ROUTE_KEYS.iter().copied()));
    }
    let queue = match map.get("queue") {
        Some(q) => text(q, "queue")?,
        None => return Err(mismatch("queue", "text", "()")),
    };
    if queue.is_empty() {
        return Err(mismatch("queue", "a non-empty text", "\"\""));
    }
    let priority = optional(map, "priority", |v| {
        v.as_int()
            .map_err(|t| mismatch("priority", "an integer", t))
    })?;
    let assignee = optional(map, "assignee", |v| text(v, "assignee"))?;
    let tags = optional(map, "tags", |v| texts(v, "tags"))?.unwrap_or_default();
    let reason = optional(map, "reason", |v| text(v, "reason"))?;
    Ok(ScriptRoute {
        queue,
        priority,
        assignee,
        tags,
        reason,
        line: None,
    })
}

fn optional<T>(
    map: &Map,
    key: &str,
    convert: impl Fn(&Dynamic) -> Result<T, ScriptError>,
) -> Result<Option<T>, ScriptError> {
    match map.get(key) {
        None => Ok(None),
        Some(v) if v.is_unit() => Ok(None),
        Some(v) => convert(v).map(Some),
    }
}

/// The line of the only `queue: "<queue>"` entry naming `queue`, if exactly one does.
fn line_of_queue(queue_lines: &[(usize, String)], queue: &str) -> Option<usize> {
    let mut lines = queue_lines
        .iter()
        .filter(|(_, q)| q == queue)
        .map(|(line, _)| *line);
    match (lines.next(), lines.next()) {
        (Some(line), None) => Some(line),
        _ => None,
    }
}

impl fmt::Debug for RoutingScript {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RoutingScript")
            .field("origin", &self.inner.origin)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_route_line_is_the_only_entry_naming_its_queue() {
        let source = "fn route(c) {\n  if c.vip { return #{queue: \"vip\"}; }\n  if c.x { return #{ queue : \"b\" }; }\n  #{queue: \"b\"} // queue: \"vip\"\n}";
        let lines = Tokens::new(&ScriptEngine::default(), source).queue_entries();
        assert_eq!(line_of_queue(&lines, "vip"), Some(2));
        assert_eq!(line_of_queue(&lines, "b"), None, "two entries name `b`");
        assert_eq!(line_of_queue(&lines, "computed"), None);
    }

    #[test]
    fn unknown_route_keys_are_errors_with_a_suggestion() {
        let mut map = Map::new();
        map.insert("queue".into(), Dynamic::from("fraud"));
        map.insert("prority".into(), Dynamic::from_int(1));
        let err = route_from_map(&map).err();
        assert_eq!(err.as_ref().map(|e| e.code()), Some("script-type-mismatch"));
        assert_eq!(
            err.and_then(|e| e.help),
            Some("did you mean `priority`?".to_string())
        );
    }
}
