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

use self::parse::{Comparison, Constant, Expr, Helper, Var};
use super::names::{Source, Variable};
use super::{CaseView, EvalContext, ScriptLimits};
use crate::value::{Fields, Value};

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
        self.eval_with(case, ctx, &mut Direct)
    }

    /// [`Self::eval`], reading variables through `memo`, shared by the conditions
    /// evaluated on the same case (a router's rules).
    pub(crate) fn eval_memo<'v>(
        &'v self,
        case: &CaseView<'v>,
        ctx: &EvalContext,
        memo: &mut Memo<'v>,
    ) -> Option<bool> {
        self.eval_with(case, ctx, memo)
    }

    /// Adds each field the condition reads to `fields`, as its name and slot.
    pub(crate) fn fields_read(&self, fields: &mut Vec<(String, usize)>) {
        self.expr.each_var(&mut |var| {
            if let Source::Field(name) = &var.source {
                fields.push((name.clone(), var.slot));
            }
        });
    }

    fn eval_with<'v>(
        &'v self,
        case: &CaseView<'v>,
        ctx: &EvalContext,
        look: &mut impl Lookup<'v>,
    ) -> Option<bool> {
        let mut at = At { case, ctx, look };
        match &self.expr {
            Expr::Constant(_) | Expr::Variable(_) | Expr::Call(..) => match at.eval(&self.expr)? {
                Operand::Bool(b) => Some(b),
                Operand::Unit => Some(false),
                _ => None,
            },
            other => at.test(other),
        }
    }
}

/// How an evaluation reads a variable.
trait Lookup<'v> {
    fn get(&mut self, var: &'v Var, case: &CaseView<'v>, ctx: &EvalContext) -> Operand<'v>;
}

/// Each read goes to the case.
struct Direct;

impl<'v> Lookup<'v> for Direct {
    fn get(&mut self, var: &'v Var, case: &CaseView<'v>, ctx: &EvalContext) -> Operand<'v> {
        variable(&var.source, case, ctx)
    }
}

/// Variables already read from one case, by slot: the first few only (a router's
/// rules mostly read the same handful of fields).
pub(crate) struct Memo<'v> {
    read: [(usize, Operand<'v>); MEMO_SIZE],
    len: usize,
}

const MEMO_SIZE: usize = 16;

/// Fields a memo reads in one pass at most, leaving the other slots for variables
/// read as the rules need them.
pub(crate) const PREFETCH_MAX: usize = 10;

impl<'v> Memo<'v> {
    /// A memo holding `wanted` (field names and slots, sorted by name and without
    /// repeats; the first [`PREFETCH_MAX`] only) read from `fields` in one pass over
    /// both, instead of a search of the map for each.
    pub(crate) fn with_fields(fields: &'v Fields, wanted: &[(String, usize)]) -> Memo<'v> {
        let mut memo = Memo::default();
        let mut have = fields.iter().peekable();
        for (name, slot) in wanted.iter().take(PREFETCH_MAX) {
            let value = loop {
                match have.peek() {
                    Some((key, value)) => match name_order(key, name) {
                        Ordering::Less => {
                            have.next();
                        }
                        Ordering::Equal => break field(value),
                        Ordering::Greater => break Operand::Unit,
                    },
                    None => break Operand::Unit,
                }
            };
            memo.read[memo.len] = (*slot, value);
            memo.len += 1;
        }
        memo
    }
}

/// The order of two names as a map of `String` keys orders them (byte by byte), the
/// first bytes compared in place: field names mostly differ there.
fn name_order(a: &str, b: &str) -> Ordering {
    match a.as_bytes().first().cmp(&b.as_bytes().first()) {
        Ordering::Equal => a.cmp(b),
        other => other,
    }
}

impl Default for Memo<'_> {
    fn default() -> Self {
        Memo {
            read: [(usize::MAX, Operand::Unit); MEMO_SIZE],
            len: 0,
        }
    }
}

impl<'v> Lookup<'v> for Memo<'v> {
    fn get(&mut self, var: &'v Var, case: &CaseView<'v>, ctx: &EvalContext) -> Operand<'v> {
        if let Some((_, value)) = self.read[..self.len].iter().find(|(s, _)| *s == var.slot) {
            return *value;
        }
        let value = variable(&var.source, case, ctx);
        if self.len < MEMO_SIZE {
            self.read[self.len] = (var.slot, value);
            self.len += 1;
        }
        value
    }
}

/// One evaluation: the case, the context and how variables are read.
struct At<'a, 'v, L> {
    case: &'a CaseView<'v>,
    ctx: &'a EvalContext,
    look: &'a mut L,
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

impl<'v, L: Lookup<'v>> At<'_, 'v, L> {
    /// The value of `expr` where it must be a boolean (an operand of `&&`, `||`, `!`),
    /// `None` otherwise (Rhai's error) or to defer. The same as [`Self::eval`] then a
    /// check that it is a boolean, without passing operands around for the common
    /// nodes.
    fn test(&mut self, expr: &'v Expr) -> Option<bool> {
        match expr {
            Expr::Not(e) => Some(!self.test(e)?),
            Expr::And(a, b) => Some(self.test(a)? && self.test(b)?),
            Expr::Or(a, b) => Some(self.test(a)? || self.test(b)?),
            Expr::Compare(op, a, b) => compare(*op, self.eval(a)?, self.eval(b)?),
            Expr::CompareWith(op, var, c) => match (op, self.var(var), c) {
                // Text against text for (in)equality, the commonest comparison: the
                // lengths first, as `==` does, not an ordering.
                (Comparison::Eq, Operand::Text(t), Constant::Text(k)) => Some(t == k),
                (Comparison::Ne, Operand::Text(t), Constant::Text(k)) => Some(t != k),
                (_, value, c) => compare(*op, value, constant(c)),
            },
            other => boolean(self.eval(other)?),
        }
    }

    fn var(&mut self, var: &'v Var) -> Operand<'v> {
        self.look.get(var, self.case, self.ctx)
    }

    fn eval(&mut self, expr: &'v Expr) -> Option<Operand<'v>> {
        Some(match expr {
            Expr::Constant(c) => constant(c),
            Expr::Variable(var) => self.var(var),
            Expr::Not(_)
            | Expr::And(..)
            | Expr::Or(..)
            | Expr::Compare(..)
            | Expr::CompareWith(..) => Operand::Bool(self.test(expr)?),
            Expr::In(item, within) => {
                let item = self.eval(item)?;
                Operand::Bool(match &**within {
                    Expr::List(list) => contains_constant(list, item)?,
                    other => match self.eval(other)? {
                        Operand::Tags(tags) => contains_tag(tags, item)?,
                        _ => return None,
                    },
                })
            }
            Expr::Call(helper, args) => self.call(helper, args)?,
            // A list is only ever the right side of `in` (the parser sees to it).
            Expr::List(_) => return None,
        })
    }

    fn call(&mut self, helper: &'v Helper, args: &'v [Expr]) -> Option<Operand<'v>> {
        let now = self.ctx.now;
        let first = self.eval(args.first()?)?;
        Some(match (helper, first) {
            (Helper::Contains { keywords, all }, Operand::Text(text)) => {
                Operand::Bool(contains(text, keywords, *all))
            }
            (Helper::Matches(pattern), Operand::Text(text)) => {
                Operand::Bool(pattern.is_match(text))
            }
            (Helper::Contains { .. } | Helper::Matches(_), Operand::Unit) => Operand::Bool(false),
            (Helper::DaysSince, Operand::Instant(t)) => {
                Operand::Int(now.signed_duration_since(t).num_days())
            }
            (Helper::DaysSince, Operand::Date(d)) => {
                Operand::Int(now.date_naive().signed_duration_since(d).num_days())
            }
            (Helper::HoursSince, Operand::Instant(t)) => {
                Operand::Int(now.signed_duration_since(t).num_hours())
            }
            (Helper::DaysSince | Helper::HoursSince, Operand::Unit) => Operand::Unit,
            (Helper::BusinessDaysBetween, a) => {
                let b = self.eval(args.get(1)?)?;
                match (a, b) {
                    (Operand::Instant(a), Operand::Instant(b)) => {
                        // A calendar that cannot answer is an error: Rhai words it.
                        Operand::Int(self.ctx.calendar.business_days_between(a, b).ok()?)
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

/// A variable's value, as `convert::variable_value` gives it to Rhai.
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
