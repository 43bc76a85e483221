//! [`NativeCondition`]: a condition evaluated in Rust, without a Rhai call, where it is
//! simple enough to answer exactly as Rhai would.
//!
//! Most guards, routing rules and SLA conditions compare fields with literals, join
//! comparisons with `&&`, `||` and `!`, test membership in a list, or call a keyword
//! helper. Those are read at policy load ([`parse`]) into a tree evaluated here in
//! tens of nanoseconds; every other condition is evaluated by Rhai alone.
//!
//! Exactness comes first. The evaluator follows Rhai's rules for what it covers:
//! values of different types are never equal (`!=` holds) and never ordered (`<`, `>`,
//! ... are false), except whole numbers against decimals, which compare by value; `()`
//! equals only `()`; `&&` and `||` stop at the first operand that decides; a helper
//! given `()` gives what the helper gives for `()`. Wherever Rhai would fail (an
//! operand of `&&` that is not a boolean, a helper given a value of the wrong type, a
//! calendar that cannot answer, a result that is neither a boolean nor `()`), or where
//! exactness would need a rule of Rhai's that this evaluator does not copy (lists
//! compared with lists, whole numbers looked up among decimals), evaluation *defers*:
//! it gives `None`, and the caller asks Rhai, which gives the exact result or error
//! with its message and position. A differential test holds the two paths to the same
//! results on every condition of every shipped policy and on generated ones.

mod parse;

use std::cmp::Ordering;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;

use self::parse::{Comparison, Constant, Expr, Helper};
use super::names::{Source, Variable};
use super::{CaseView, EvalContext, ScriptLimits};
use crate::value::Value;

/// A condition in the native subset, read once at policy load.
#[derive(Debug, Clone)]
pub(crate) struct NativeCondition {
    expr: Expr,
}

impl NativeCondition {
    /// The native form of `source`, if it is in the subset, uses only `known` names,
    /// and is small enough that Rhai could not reach `limits` evaluating it (so a limit
    /// error Rhai would give cannot be missed).
    pub(crate) fn compile(
        source: &str,
        known: &[Variable],
        limits: &ScriptLimits,
    ) -> Option<NativeCondition> {
        let expr = parse::parse(source, known, limits)?;
        let bounded = (expr.size() as u64).saturating_mul(4).saturating_add(16);
        (bounded <= limits.max_operations).then_some(NativeCondition { expr })
    }

    /// The condition's value on `case` (`()` is false), or `None` to defer to Rhai.
    pub(crate) fn eval(&self, case: &CaseView<'_>, ctx: &EvalContext) -> Option<bool> {
        match eval(&self.expr, case, ctx)? {
            Operand::Bool(b) => Some(b),
            Operand::Unit => Some(false),
            _ => None,
        }
    }
}

/// A value while evaluating: what Rhai would hold, borrowed from the case or the tree.
#[derive(Debug, Clone, Copy)]
enum Operand<'v> {
    Unit,
    Bool(bool),
    Int(i64),
    Decimal(Decimal),
    Text(&'v str),
    Date(NaiveDate),
    Instant(DateTime<Utc>),
    /// The case's tags (an array in Rhai).
    Tags(&'v [String]),
}

fn eval<'v>(expr: &'v Expr, case: &CaseView<'v>, ctx: &EvalContext) -> Option<Operand<'v>> {
    Some(match expr {
        Expr::Constant(c) => constant(c),
        Expr::Variable(source) => variable(source, case, ctx),
        Expr::Not(e) => Operand::Bool(!boolean(eval(e, case, ctx)?)?),
        Expr::And(a, b) => {
            Operand::Bool(boolean(eval(a, case, ctx)?)? && boolean(eval(b, case, ctx)?)?)
        }
        Expr::Or(a, b) => {
            Operand::Bool(boolean(eval(a, case, ctx)?)? || boolean(eval(b, case, ctx)?)?)
        }
        Expr::Compare(op, a, b) => {
            Operand::Bool(compare(*op, eval(a, case, ctx)?, eval(b, case, ctx)?)?)
        }
        Expr::In(item, within) => {
            let item = eval(item, case, ctx)?;
            Operand::Bool(match &**within {
                Expr::List(list) => contains_constant(list, item)?,
                other => match eval(other, case, ctx)? {
                    Operand::Tags(tags) => contains_tag(tags, item)?,
                    _ => return None,
                },
            })
        }
        Expr::Call(helper, args) => call(helper, args, case, ctx)?,
        // A list is only ever the right side of `in` (the parser sees to it).
        Expr::List(_) => return None,
    })
}

fn boolean(value: Operand<'_>) -> Option<bool> {
    match value {
        Operand::Bool(b) => Some(b),
        _ => None,
    }
}

fn constant(c: &Constant) -> Operand<'_> {
    match c {
        Constant::Unit => Operand::Unit,
        Constant::Bool(b) => Operand::Bool(*b),
        Constant::Int(i) => Operand::Int(*i),
        Constant::Decimal(d) => Operand::Decimal(*d),
        Constant::Text(t) => Operand::Text(t),
        Constant::Date(d) => Operand::Date(*d),
        Constant::Instant(t) => Operand::Instant(*t),
    }
}

/// A variable's value, as [`super::convert::variable_value`] gives it to Rhai.
fn variable<'v>(source: &'v Source, case: &CaseView<'v>, ctx: &EvalContext) -> Operand<'v> {
    match source {
        Source::Field(name) => case.fields.get(name).map_or(Operand::Unit, field),
        Source::StageEnteredAt(stage) => case
            .stage_entered_at
            .get(stage)
            .map_or(Operand::Unit, |t| Operand::Instant(*t)),
        Source::Stage => Operand::Text(case.stage),
        Source::Queue => case.queue.map_or(Operand::Unit, Operand::Text),
        Source::Priority => case.priority.map_or(Operand::Unit, Operand::Int),
        Source::ReceivedAt => Operand::Instant(case.received_at),
        Source::Tags => Operand::Tags(case.tags),
        Source::ReopenCount => Operand::Int(i64::from(case.reopen_count)),
        Source::Now => Operand::Instant(ctx.now),
    }
}

fn field(value: &Value) -> Operand<'_> {
    match value {
        Value::Text(t) => Operand::Text(t),
        Value::Bool(b) => Operand::Bool(*b),
        Value::Integer(i) => Operand::Int(*i),
        Value::Money(m) => Operand::Decimal(*m),
        Value::Date(d) => Operand::Date(*d),
        Value::DateTime(t) => Operand::Instant(t.to_utc()),
    }
}

/// How two operands order, when Rhai orders them; `Err(())` when they are of
/// different types (Rhai: never equal, never ordered); `None` to defer.
fn order(a: Operand<'_>, b: Operand<'_>) -> Option<Result<Ordering, ()>> {
    use Operand as O;
    Some(Ok(match (a, b) {
        (O::Bool(x), O::Bool(y)) => x.cmp(&y),
        (O::Int(x), O::Int(y)) => x.cmp(&y),
        (O::Int(x), O::Decimal(y)) => Decimal::from(x).cmp(&y),
        (O::Decimal(x), O::Int(y)) => x.cmp(&Decimal::from(y)),
        (O::Decimal(x), O::Decimal(y)) => x.cmp(&y),
        (O::Text(x), O::Text(y)) => x.cmp(y),
        (O::Date(x), O::Date(y)) => x.cmp(&y),
        (O::Instant(x), O::Instant(y)) => x.cmp(&y),
        // Arrays have an `==` of their own, element by element: Rhai's to answer.
        (O::Tags(_), _) | (_, O::Tags(_)) => return None,
        _ => return Some(Err(())),
    }))
}

fn compare(op: Comparison, a: Operand<'_>, b: Operand<'_>) -> Option<bool> {
    if let (Operand::Unit, Operand::Unit) = (a, b) {
        // Rhai: `() == ()`; every other comparison of two `()` is false, `!=` too.
        return Some(op == Comparison::Eq);
    }
    Some(match (op, order(a, b)?) {
        (Comparison::Eq, Ok(o)) => o == Ordering::Equal,
        (Comparison::Ne, Ok(o)) => o != Ordering::Equal,
        (Comparison::Lt, Ok(o)) => o == Ordering::Less,
        (Comparison::Le, Ok(o)) => o != Ordering::Greater,
        (Comparison::Gt, Ok(o)) => o == Ordering::Greater,
        (Comparison::Ge, Ok(o)) => o != Ordering::Less,
        (Comparison::Ne, Err(())) => true,
        (_, Err(())) => false,
    })
}

/// `item in [..]`: Rhai compares each element with `==`, an element of another type
/// being unequal; a whole number among decimals (or the reverse) is left to Rhai.
fn contains_constant(list: &[Constant], item: Operand<'_>) -> Option<bool> {
    for element in list {
        let element = constant(element);
        let equal = match (item, element) {
            (Operand::Int(_), Operand::Decimal(_)) | (Operand::Decimal(_), Operand::Int(_)) => {
                return None;
            }
            (Operand::Unit, Operand::Unit) => true,
            _ => matches!(order(item, element)?, Ok(Ordering::Equal)),
        };
        if equal {
            return Some(true);
        }
    }
    Some(false)
}

/// `item in tags`.
fn contains_tag(tags: &[String], item: Operand<'_>) -> Option<bool> {
    match item {
        Operand::Text(t) => Some(tags.iter().any(|tag| tag == t)),
        Operand::Tags(_) => None,
        _ => Some(false),
    }
}

fn call<'v>(
    helper: &'v Helper,
    args: &'v [Expr],
    case: &CaseView<'v>,
    ctx: &EvalContext,
) -> Option<Operand<'v>> {
    let first = eval(args.first()?, case, ctx)?;
    Some(match (helper, first) {
        (Helper::Contains { keywords, all }, Operand::Text(text)) => {
            Operand::Bool(contains(text, keywords, *all))
        }
        (Helper::Matches(pattern), Operand::Text(text)) => Operand::Bool(pattern.is_match(text)),
        (Helper::Contains { .. } | Helper::Matches(_), Operand::Unit) => Operand::Bool(false),
        (Helper::DaysSince, Operand::Instant(t)) => {
            Operand::Int(ctx.now.signed_duration_since(t).num_days())
        }
        (Helper::DaysSince, Operand::Date(d)) => {
            Operand::Int(ctx.now.date_naive().signed_duration_since(d).num_days())
        }
        (Helper::HoursSince, Operand::Instant(t)) => {
            Operand::Int(ctx.now.signed_duration_since(t).num_hours())
        }
        (Helper::DaysSince | Helper::HoursSince, Operand::Unit) => Operand::Unit,
        (Helper::BusinessDaysBetween, a) => {
            let b = eval(args.get(1)?, case, ctx)?;
            match (a, b) {
                (Operand::Instant(a), Operand::Instant(b)) => {
                    // A calendar that cannot answer is an error: Rhai words it.
                    Operand::Int(ctx.calendar.business_days_between(a, b).ok()?)
                }
                (Operand::Unit | Operand::Instant(_), Operand::Unit | Operand::Instant(_)) => {
                    Operand::Unit
                }
                _ => return None,
            }
        }
        _ => return None,
    })
}

/// Whether `text` contains any (or, with `all`, every) of `keywords` (already in lower
/// case), ignoring the case of Latin letters: the `contains_any` helper's rule.
fn contains(text: &str, keywords: &[String], all: bool) -> bool {
    let haystack = super::helpers::lowercase(text);
    for keyword in keywords {
        let found = haystack.contains(keyword.as_str());
        if found != all {
            return found;
        }
    }
    all
}
