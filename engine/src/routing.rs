//! Routing: which queue, priority, assignee and tags a complaint gets, and why.
//!
//! A [`Router`] holds ordered rules and, optionally, an integrator's
//! [`RoutingScript`]. The script runs first; if it returns a route, that decides. If it
//! returns `()` (or there is none), the rules are tried in order and the first whose
//! condition holds decides; a rule without a condition (`otherwise`) always holds, and
//! every router must have one. Every [`RouteDecision`] records what decided it, so
//! [`RouteDecision::explain`] can say why a complaint went where it went.

use std::fmt;
use std::sync::{Arc, OnceLock};

use rhai::Scope;
use serde::Serialize;

use crate::script::{
    CaseView, Condition, ConditionChain, EvalContext, Memo, MemoPlan, RoutingScript, ScriptEngine,
    ScriptError,
};

/// One routing rule.
#[derive(Debug, Clone)]
pub struct RouteRule {
    /// When the rule applies; `None` is `otherwise` (always).
    pub condition: Option<Condition>,
    /// The queue it routes to.
    pub queue: String,
    /// The priority it sets.
    pub priority: Option<i64>,
    /// The assignee it names.
    pub assignee: Option<String>,
    /// Tags it adds.
    pub tags: Vec<String>,
}

/// Ordered rules plus an optional script that may decide first. Built once per policy
/// version by [`Router::new`]; its fields are private because it also keeps the rules'
/// conditions compiled together (see [`Router::prepare`]).
#[derive(Clone)]
pub struct Router {
    rules: Vec<RouteRule>,
    script: Option<RoutingScript>,
    /// The conditions before the first `otherwise`, as one program (`None` inside if
    /// they do not compile together); built by [`Router::prepare`] or the first route.
    chain: OnceLock<Option<ConditionChain>>,
    /// The rules before the first that is `otherwise` or not native, evaluated
    /// natively; where a decision keeps the variables they read, and which fields it
    /// reads from a case in one pass.
    memo_plan: MemoPlan,
}

/// Where a complaint goes, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RouteDecision {
    /// The queue.
    pub queue: String,
    /// The priority, if one was set.
    pub priority: Option<i64>,
    /// The assignee, if one was named.
    pub assignee: Option<String>,
    /// Tags to add.
    pub tags: Vec<String>,
    /// What decided.
    pub reason: RouteReason,
}

/// What decided a route.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum RouteReason {
    /// Rule `index` (0-based) matched; `condition` is its source text.
    Rule {
        /// 0-based position among the rules.
        index: usize,
        /// The condition as written.
        condition: Arc<str>,
    },
    /// No conditional rule matched; the `otherwise` rule at `index` applied.
    Otherwise {
        /// 0-based position among the rules.
        index: usize,
    },
    /// The routing script decided.
    Script {
        /// The script file.
        origin: String,
        /// The line where the script built the route (see [`crate::script::ScriptRoute::line`]).
        line: Option<usize>,
        /// The script's own explanation (`reason` in its result), if any.
        note: Option<String>,
    },
}

/// Routing failed: names the rule (and its condition) or the script.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RouteError {
    /// A rule's condition failed to evaluate.
    #[error("routing rule {} (`{condition}`) failed: {source}", .index + 1)]
    Rule {
        /// 0-based position among the rules.
        index: usize,
        /// The condition as written.
        condition: String,
        /// What went wrong.
        source: Box<ScriptError>,
    },
    /// The routing script failed.
    #[error("routing script `{origin}` failed: {source}")]
    Script {
        /// The script file.
        origin: String,
        /// What went wrong.
        source: Box<ScriptError>,
    },
    /// The router has no `otherwise` rule.
    #[error("routing rules need an `otherwise` rule")]
    NoOtherwise,
}

impl RouteError {
    /// A stable code: the script error's, or `routing-no-otherwise`.
    pub fn code(&self) -> &'static str {
        match self {
            RouteError::Rule { source, .. } | RouteError::Script { source, .. } => source.code(),
            RouteError::NoOtherwise => "routing-no-otherwise",
        }
    }
}

impl Router {
    /// A router over `rules` (first match wins) and an optional `script` consulted
    /// first; fails unless some rule is `otherwise` (has no condition).
    pub fn new(rules: Vec<RouteRule>, script: Option<RoutingScript>) -> Result<Router, RouteError> {
        if !rules.iter().any(|r| r.condition.is_none()) {
            return Err(RouteError::NoOtherwise);
        }
        // Only the rules a native decision can reach: it stops at the first rule
        // without a native form (or at `otherwise`).
        let mut memo_plan = MemoPlan::default();
        let native = rules
            .iter()
            .map_while(|r| r.condition.as_ref().filter(|c| c.is_native()));
        for condition in native {
            condition.native_plan(&mut memo_plan);
        }
        Ok(Router {
            rules,
            script,
            chain: OnceLock::new(),
            memo_plan: memo_plan.finish(),
        })
    }

    /// Compiles the rules' conditions into one program, so that a decision pays
    /// Rhai's per-evaluation cost once instead of once per rule. Call it when the
    /// policy loads, with the engine the conditions were compiled with; otherwise the
    /// first [`route`](Router::route) does it.
    pub fn prepare(&self, engine: &ScriptEngine) {
        self.chain(engine);
    }

    fn chain(&self, engine: &ScriptEngine) -> Option<&ConditionChain> {
        self.chain
            .get_or_init(|| {
                ConditionChain::compile(
                    engine,
                    self.rules.iter().map_while(|r| r.condition.as_ref()),
                )
            })
            .as_ref()
    }

    /// The rules, in order.
    pub fn rules(&self) -> &[RouteRule] {
        &self.rules
    }

    /// The routing script, if any.
    pub fn script(&self) -> Option<&RoutingScript> {
        self.script.as_ref()
    }

    /// Decides where `case` goes. The case is only read.
    pub fn route(
        &self,
        engine: &ScriptEngine,
        case: &CaseView,
        ctx: &EvalContext,
    ) -> Result<RouteDecision, RouteError> {
        if let Some(script) = &self.script {
            let routed = script
                .route(engine, case, ctx)
                .map_err(|source| RouteError::Script {
                    origin: script.origin().to_string(),
                    source: Box::new(source),
                })?;
            if let Some(route) = routed {
                let reason = RouteReason::Script {
                    origin: script.origin().to_string(),
                    line: route.line,
                    note: route.reason,
                };
                let (queue, priority, assignee, tags) =
                    (route.queue, route.priority, route.assignee, route.tags);
                return Ok(RouteDecision {
                    queue,
                    priority,
                    assignee,
                    tags,
                    reason,
                });
            }
        }
        self.route_by_rules(engine, case, ctx)
    }

    /// The first rule that holds. The chained conditions answer in one evaluation; if
    /// they cannot answer exactly, the rules are evaluated one by one.
    fn route_by_rules(
        &self,
        engine: &ScriptEngine,
        case: &CaseView,
        ctx: &EvalContext,
    ) -> Result<RouteDecision, RouteError> {
        if let Some(index) = self.route_natively(case, ctx) {
            return self.decision_at(index);
        }
        let fast = self
            .chain(engine)
            .and_then(|chain| chain.first_match(engine, case, ctx));
        match fast {
            Some(Some(index)) => self.decision_at(index),
            Some(None) => self.otherwise_decision(),
            None => self.route_one_by_one(engine, case, ctx),
        }
    }

    /// The index of the first rule that holds, if every rule up to it has a native
    /// form that answers; `None` to ask Rhai (conditions have no effects, so starting
    /// over there gives the same result).
    fn route_natively(&self, case: &CaseView, ctx: &EvalContext) -> Option<usize> {
        // Each variable is read from the case once for all rules, the fields in one
        // pass.
        let mut memo = Memo::new(&self.memo_plan);
        memo.read_fields(case.fields, &self.memo_plan);
        if let Some(index) = self.memo_plan.first_match(&mut memo, case, ctx)? {
            return Some(index);
        }
        // No native rule held: the next rule decides if it is `otherwise`.
        let next = self.memo_plan.rules();
        let otherwise = self.rules.get(next)?.condition.is_none();
        otherwise.then_some(next)
    }

    /// The decision of rule `index`, which held (a rule or `otherwise`).
    #[inline]
    fn decision_at(&self, index: usize) -> Result<RouteDecision, RouteError> {
        let Some(rule) = self.rules.get(index) else {
            return Err(RouteError::NoOtherwise);
        };
        let reason = match &rule.condition {
            Some(condition) => RouteReason::Rule {
                index,
                condition: condition.shared_source(),
            },
            None => RouteReason::Otherwise { index },
        };
        Ok(rule.decision(reason))
    }

    fn otherwise_decision(&self) -> Result<RouteDecision, RouteError> {
        let otherwise = self
            .rules
            .iter()
            .enumerate()
            .find(|(_, r)| r.condition.is_none());
        let (index, rule) = otherwise.ok_or(RouteError::NoOtherwise)?;
        Ok(rule.decision(RouteReason::Otherwise { index }))
    }

    fn route_one_by_one(
        &self,
        engine: &ScriptEngine,
        case: &CaseView,
        ctx: &EvalContext,
    ) -> Result<RouteDecision, RouteError> {
        // One scope for all rules: each variable is converted once per decision.
        let mut scope = Scope::new();
        for (index, rule) in self.rules.iter().enumerate() {
            let Some(condition) = &rule.condition else {
                return Ok(rule.decision(RouteReason::Otherwise { index }));
            };
            let holds = condition
                .eval_in(engine, &mut scope, case, ctx)
                .map_err(|source| RouteError::Rule {
                    index,
                    condition: condition.source().to_string(),
                    source: Box::new(source),
                })?;
            if holds {
                let condition = condition.shared_source();
                return Ok(rule.decision(RouteReason::Rule { index, condition }));
            }
        }
        Err(RouteError::NoOtherwise)
    }
}

impl fmt::Debug for Router {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Router")
            .field("rules", &self.rules)
            .field("script", &self.script)
            .field("chained", &self.chain.get().map(Option::is_some))
            .finish()
    }
}

impl RouteRule {
    #[inline]
    fn decision(&self, reason: RouteReason) -> RouteDecision {
        RouteDecision {
            queue: self.queue.clone(),
            priority: self.priority,
            assignee: self.assignee.clone(),
            // Most rules add no tags: an empty list without a call.
            tags: match self.tags.is_empty() {
                true => Vec::new(),
                false => self.tags.clone(),
            },
            reason,
        }
    }
}

impl RouteDecision {
    /// Why the complaint went where it went, in one sentence.
    pub fn explain(&self) -> String {
        format!("routed to queue `{}` because {}", self.queue, self.reason)
    }
}

impl fmt::Display for RouteReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RouteReason::Rule { index, condition } => {
                write!(f, "routing rule {} matched: `{condition}`", index + 1)
            }
            RouteReason::Otherwise { index } => {
                write!(
                    f,
                    "no routing rule matched, so the default (rule {}) applied",
                    index + 1
                )
            }
            RouteReason::Script { origin, line, note } => {
                write!(f, "the routing script `{origin}` decided")?;
                if let Some(line) = line {
                    write!(f, " at line {line}")?;
                }
                if let Some(note) = note {
                    write!(f, ": {note}")?;
                }
                Ok(())
            }
        }
    }
}
