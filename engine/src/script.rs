//! The sandboxed Rhai layer: transition guards, SLA and routing conditions, actions, and
//! integrators' routing scripts.
//!
//! Everything here is compiled once, when a policy loads, into values ([`Condition`],
//! [`RoutingScript`], [`ActionScript`]) kept with the policy version; evaluation never
//! compiles. One [`ScriptEngine`] (a configured `rhai::Engine`, about 0.25 ms to build) is
//! built per policy and shared by every evaluation on every thread.
//!
//! # What a script sees
//!
//! A condition or action sees the case as read-only variables: every declared field by
//! name, and the built-ins in [`RESERVED_NAMES`] (`stage`, `queue`, `priority`,
//! `received_at`, `tags`, `reopen_count`, `now`), plus `<stage>_at` for every stage: the
//! instant the case last entered it (except that `received_at` is always the receipt
//! time, which may precede entry into a stage called `received`; that stage gives no
//! variable). `now` is the instant the runtime passes in
//! ([`EvalContext::now`]), never the system clock. A routing script's `fn route(c)`
//! receives the same names as the keys of the map `c`.
//!
//! Values: text and enum values are strings, flags are `bool`, whole numbers are `i64`,
//! money is an exact decimal (float literals such as `120.5` are decimals too: Rhai runs
//! with `no_float`, so `amount >= 120.5` is exact), dates are `date` and instants are
//! `datetime` values comparable with `<`, `==`, ... among themselves (`date("2026-01-31")`
//! and `datetime("2026-01-31T09:00:00+08:00")` build them).
//!
//! # Missing values
//!
//! A declared field with no value, a stage never entered (`decided_at`) and an unset
//! queue or priority are `()`. Like SQL `NULL`, an ordering comparison with `()` (`<`,
//! `<=`, `>`, `>=`) is `false`, `==` is true only against `()` (so `channel == ()` tests
//! for absence) and `!=` is its negation; `days_since(())`, `hours_since(())` and
//! `business_days_between` with a `()` give `()`, so `days_since(decided_at) <= 30` is
//! `false` for a case never decided; `contains_any(())` and `matches(())` are `false`. A
//! condition whose value is `()` is `false`. Arithmetic on `()` is an error.
//!
//! # Helpers
//!
//! - `contains_any(text, ["盗刷", "scam"])`, `contains_all(text, [...])`: substring
//!   keyword matching that works on Chinese and English; Latin text is compared
//!   case-insensitively.
//! - `matches(text, pattern)`: a regular expression (Rust `regex` syntax, linear time),
//!   with limits on pattern length and compiled size; compiled patterns are cached.
//! - `days_since(t)`, `hours_since(t)`: whole days / hours from `t` to `now`.
//! - `business_days_between(a, b)`: on the policy's calendar ([`BusinessDays`]).
//!
//! # Sandbox
//!
//! No file, network, process or module access (Rhai has none of these built in and the
//! crate is built with `no_module`); `eval` is disabled; `print` and `debug` go nowhere.
//! [`ScriptLimits`] bounds operations, call depth, expression depth, string, array and map
//! sizes and wall-clock time per evaluation. Every failure is a [`ScriptError`] with a
//! stable [`code`](ScriptError::code) (listed on [`ScriptErrorKind`]); a panic inside
//! Rhai is caught and reported as `script-internal`. The case is only ever borrowed, so
//! a failed script leaves it as it was. Scripts return data; the runtime applies it.
//!
//! Lines and columns are 1-based positions in the source given to `compile`. Rhai 1.27
//! reports a limit reached inside a function (too many operations, stack overflow, data
//! too large, timeout) at the outermost call, so such errors from a routing script's
//! `fn route` carry no line; errors raised by the script itself (`throw`, a bad
//! operation) and every error in conditions and actions carry one.
//!
//! # Money
//!
//! The crate enables Rhai's `decimal` and `no_float` features: a literal such as `120.5`
//! is an exact decimal, money fields are decimals, and `amount > 10000` compares a
//! decimal with an integer exactly. There are no floats in policy scripts.

mod action_script;
mod condition;
mod condition_chain;
mod convert;
mod error;
mod helpers;
mod lexical;
mod names;
mod native;
mod routing_script;
mod run_state;

/// What the script layer's unit tests share.
#[cfg(test)]
pub(crate) mod test_support {
    use chrono::{DateTime, Utc};

    use super::BusinessDays;

    /// A calendar that counts no business days: an evaluation that asks for one fails.
    pub(crate) struct NoCalendar;

    impl BusinessDays for NoCalendar {
        fn business_days_between(&self, _: DateTime<Utc>, _: DateTime<Utc>) -> Result<i64, String> {
            Err("no calendar".into())
        }
    }

    /// Decimals at the edges of `Decimal` and of `i64` (both zeros, scales, the
    /// largest and smallest), for comparisons held to `Decimal`'s own ordering.
    pub(crate) const EDGE_DECIMALS: [&str; 14] = [
        "0",
        "-0",
        "0.00",
        "120.5",
        "120.50",
        "-120.5",
        "50000",
        "0.0000000000000000000000000001",
        "79228162514264337593543950335",
        "-79228162514264337593543950335",
        "7922816251426433759354395033.5",
        "9223372036854775807",
        "9223372036854775808",
        "-9223372036854775808.1",
    ];
}

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::value::Fields;

pub use action_script::{ActionOutcome, ActionScript, Notification};
pub use condition::Condition;
pub(crate) use condition_chain::ConditionChain;
pub use error::{ScriptError, ScriptErrorKind};
pub use names::{BUILTIN_VARIABLES, RESERVED_NAMES, is_valid_name};
pub(crate) use native::{Memo, MemoPlan};
pub use routing_script::{RoutingScript, ScriptRoute};

/// Limits that stop a runaway script. [`Default`] gives values that suit policy
/// conditions and routing scripts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptLimits {
    /// Rhai operations per evaluation (default 100 000; a 15-rule routing uses ~100).
    pub max_operations: u64,
    /// Nested function calls (default 32).
    pub max_call_levels: usize,
    /// Expression nesting at top level (default 64).
    pub max_expr_depth: usize,
    /// Expression nesting inside functions (default 32).
    pub max_function_expr_depth: usize,
    /// Bytes in one string (default 64 KiB).
    pub max_string_size: usize,
    /// Elements in one array (default 10 000).
    pub max_array_size: usize,
    /// Entries in one object map (default 1 000).
    pub max_map_size: usize,
    /// Functions one script may define (default 64).
    pub max_functions: usize,
    /// Characters in a `matches` pattern (default 1 000).
    pub max_pattern_len: usize,
    /// Bytes a compiled `matches` pattern may take (default 256 KiB).
    pub max_regex_size: usize,
    /// Wall-clock time per evaluation (default 50 ms).
    pub timeout: Duration,
}

impl Default for ScriptLimits {
    fn default() -> Self {
        ScriptLimits {
            max_operations: 100_000,
            max_call_levels: 32,
            max_expr_depth: 64,
            max_function_expr_depth: 32,
            max_string_size: 64 * 1024,
            max_array_size: 10_000,
            max_map_size: 1_000,
            max_functions: 64,
            max_pattern_len: 1_000,
            max_regex_size: 256 * 1024,
            timeout: Duration::from_millis(50),
        }
    }
}

/// The sandboxed `rhai::Engine` with Redress's helpers: built once per policy, shared
/// by every evaluation (it is `Send + Sync`).
pub struct ScriptEngine {
    engine: rhai::Engine,
    limits: ScriptLimits,
    /// The name of every function a script may call (registered helpers and Rhai's
    /// standard library), for the compile-time check of calls.
    functions: BTreeSet<String>,
    /// Conditions in the native subset are evaluated without Rhai (see
    /// [`Condition`]); off only to compare the two paths.
    native: bool,
}

impl ScriptEngine {
    /// Builds the engine (about 0.25 ms: do it once per policy, not per evaluation).
    pub fn new(limits: ScriptLimits) -> Self {
        let engine = helpers::build_engine(&limits);
        let functions = engine
            .collect_fn_metadata(None, |f| Some(f.metadata.name.to_string()), true)
            .into_iter()
            .collect();
        ScriptEngine {
            engine,
            limits,
            functions,
            native: true,
        }
    }

    /// Whether a script may call a function of this name.
    pub(crate) fn has_function(&self, name: &str) -> bool {
        self.functions.contains(name)
    }

    /// Every function a script may call.
    pub(crate) fn function_names(&self) -> impl Iterator<Item = &str> {
        self.functions.iter().map(String::as_str)
    }

    /// The same engine, but conditions it compiles are always evaluated by Rhai,
    /// never natively: for differential tests and benchmarks of the two paths.
    pub fn scripted_only(mut self) -> Self {
        self.native = false;
        self
    }

    /// Whether conditions compiled by this engine may be evaluated natively.
    pub fn native_conditions(&self) -> bool {
        self.native
    }

    /// The limits this engine enforces.
    pub fn limits(&self) -> &ScriptLimits {
        &self.limits
    }

    pub(crate) fn rhai(&self) -> &rhai::Engine {
        &self.engine
    }
}

impl Default for ScriptEngine {
    fn default() -> Self {
        ScriptEngine::new(ScriptLimits::default())
    }
}

impl fmt::Debug for ScriptEngine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScriptEngine")
            .field("limits", &self.limits)
            .field("native", &self.native)
            .finish()
    }
}

/// The names a script may use beyond the built-ins: the policy's fields and stages
/// (each stage gives `<stage>_at`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Schema {
    /// Declared field names.
    pub fields: Vec<String>,
    /// Stage names.
    pub stages: Vec<String>,
    /// The fields marked `personal`: a script may read them, but not into what every
    /// role sees (a route's `reason` and `tags`, notifications).
    pub personal: Vec<String>,
}

/// What the runtime passes in: a read-only view of one case.
#[derive(Debug, Clone, Copy)]
pub struct CaseView<'a> {
    /// Field values; a declared field absent here is `()` in scripts.
    pub fields: &'a Fields,
    /// The current stage.
    pub stage: &'a str,
    /// The queue, if routed.
    pub queue: Option<&'a str>,
    /// The priority, if set.
    pub priority: Option<i64>,
    /// When the complaint was received (may precede its registration).
    pub received_at: DateTime<Utc>,
    /// Tags on the case.
    pub tags: &'a [String],
    /// How many times the case was reopened.
    pub reopen_count: u32,
    /// For each stage entered, the instant it was last entered (`<stage>_at`).
    pub stage_entered_at: &'a BTreeMap<String, DateTime<Utc>>,
}

/// The per-evaluation context: the runtime's clock reading and the policy's calendar.
///
/// The calendar is an `Arc` (the contract sketched `&dyn BusinessDays`): native helpers
/// reach it through per-evaluation thread-local state, which cannot hold a borrow
/// without `unsafe`.
#[derive(Clone)]
pub struct EvalContext {
    /// The instant the runtime considers current; scripts never read the system clock.
    pub now: DateTime<Utc>,
    /// The policy's business calendar.
    pub calendar: Arc<dyn BusinessDays>,
}

impl fmt::Debug for EvalContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EvalContext")
            .field("now", &self.now)
            .finish_non_exhaustive()
    }
}

/// Counting business days: implemented by the calendar layer.
pub trait BusinessDays: Send + Sync {
    /// Business days from `a` to `b` (negative if `b` is before `a`); an error message
    /// if the calendar cannot answer (e.g. a date outside its data).
    fn business_days_between(&self, a: DateTime<Utc>, b: DateTime<Utc>) -> Result<i64, String>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared_across_threads<T: Send + Sync>() {}

    #[test]
    fn compiled_scripts_and_the_engine_are_send_and_sync() {
        shared_across_threads::<ScriptEngine>();
        shared_across_threads::<Condition>();
        shared_across_threads::<RoutingScript>();
        shared_across_threads::<ActionScript>();
        shared_across_threads::<ScriptError>();
        shared_across_threads::<crate::routing::Router>();
    }
}
