//! [`NativeCondition`]: a condition evaluated in Rust, without a Rhai call, where it is
//! simple enough to answer exactly as Rhai would.
//!
//! Most guards, routing rules and SLA conditions compare fields with literals, join
//! comparisons with `&&`, `||` and `!`, test membership in a list, or call a keyword
//! helper. Those are read at policy load ([`parse`]) into a tree, whose commonest
//! forms are specialised then ([`specialised`]: literals converted, a small function
//! for each form), and evaluated here in tens of nanoseconds; every other condition is
//! evaluated by Rhai alone. A router evaluates its rules' trees in one loop over one
//! [`Memo`] of the fields they read.
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

mod memo;
mod parse;
mod search;
mod specialised;

use std::cmp::Ordering;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;

pub(crate) use self::memo::{Memo, MemoPlan};
use self::parse::{Comparison, Constant, Expr, Helper, Var};
use self::search::AsciiWords;
use self::specialised::Node;
use super::names::{Source, Variable};
use super::{CaseView, EvalContext, ScriptLimits};
use crate::value::Value;

/// A condition in the native subset, read once at policy load.
#[derive(Debug, Clone)]
pub(crate) struct NativeCondition {
    expr: Expr,
    /// The tree specialised for evaluation (see [`Node`]).
    node: Node,
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
        (bounded <= limits.max_operations).then(|| NativeCondition {
            node: Node::of(&expr),
            expr,
        })
    }

    /// The condition's value on `case` (`()` is false), or `None` to defer to Rhai.
    pub(crate) fn eval(&self, case: &CaseView<'_>, ctx: &EvalContext) -> Option<bool> {
        self.eval_with(case, ctx, &mut Direct)
    }

    /// Adds the condition to `plan`, as its next rule, and the variables it reads.
    pub(crate) fn plan(&self, plan: &mut MemoPlan) {
        plan.add_rule(self);
    }

    fn eval_with<'v>(
        &'v self,
        case: &CaseView<'v>,
        ctx: &EvalContext,
        look: &mut impl Lookup<'v>,
    ) -> Option<bool> {
        At { case, ctx, look }.node(&self.node)
    }
}

/// How an evaluation reads a variable.
trait Lookup<'v> {
    fn get(&mut self, var: &'v Var, case: &CaseView<'v>, ctx: &EvalContext) -> Operand<'v>;

    /// A field's value as the case holds it (`Some(None)`: not in the case), for the
    /// forms that compare it in place; `None` if `var` is not a field.
    fn field(&mut self, var: &'v Var, case: &CaseView<'v>) -> Option<Option<&'v Value>>;
}

/// Each read goes to the case.
struct Direct;

impl<'v> Lookup<'v> for Direct {
    #[inline(always)]
    fn get(&mut self, var: &'v Var, case: &CaseView<'v>, ctx: &EvalContext) -> Operand<'v> {
        variable(&var.source, case, ctx)
    }

    #[inline(always)]
    fn field(&mut self, var: &'v Var, case: &CaseView<'v>) -> Option<Option<&'v Value>> {
        match &var.source {
            Source::Field(name) => Some(case.fields.get(name)),
            _ => None,
        }
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
            Expr::Not(e) => Some(!self.operand(e)?),
            Expr::And(a, b) => Some(self.operand(a)? && self.operand(b)?),
            Expr::Or(a, b) => Some(self.operand(a)? || self.operand(b)?),
            Expr::Compare(op, a, b) => match &**b {
                Expr::Constant(c) => compare(*op, self.value(a)?, constant(c)),
                b => compare(*op, self.value(a)?, self.value(b)?),
            },
            Expr::CompareWith(op, var, c) => self.compare_with(*op, var, c),
            other => boolean(self.eval(other)?),
        }
    }

    /// [`Self::test`], the commonest leaves (a variable compared with a literal, a
    /// variable) answered in place rather than by a call.
    #[inline(always)]
    fn operand(&mut self, expr: &'v Expr) -> Option<bool> {
        match expr {
            Expr::CompareWith(op, var, c) => self.compare_with(*op, var, c),
            Expr::Variable(var) => boolean(self.var(var)),
            other => self.test(other),
        }
    }

    /// A variable compared with a literal: [`compare`], with the commonest pairs of
    /// types (text, whole numbers, decimals) compared without building operands.
    #[inline(always)]
    fn compare_with(&mut self, op: Comparison, var: &'v Var, c: &'v Constant) -> Option<bool> {
        Some(match (self.var(var), c) {
            // Text (in)equality, the commonest comparison: the lengths first, as `==`
            // does, not an ordering.
            (Operand::Text(t), Constant::Text(k)) => match op {
                Comparison::Eq => t == k,
                Comparison::Ne => t != k,
                _ => holds(op, t.cmp(k.as_str())),
            },
            (Operand::Int(x), Constant::Int(k)) => holds(op, x.cmp(k)),
            (Operand::Decimal(x), Constant::Decimal(k)) => holds(op, decimal_order(x, *k)),
            (Operand::Decimal(x), Constant::Int(k)) => {
                holds(op, decimal_order(x, Decimal::from(*k)))
            }
            (value, c) => return compare(op, value, constant(c)),
        })
    }

    /// [`Self::eval`], a literal or a variable (the commonest operands) answered in
    /// place rather than by a call.
    #[inline(always)]
    fn value(&mut self, expr: &'v Expr) -> Option<Operand<'v>> {
        match expr {
            Expr::Constant(c) => Some(constant(c)),
            Expr::Variable(var) => Some(self.var(var)),
            other => self.eval(other),
        }
    }

    #[inline(always)]
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
                let item = self.value(item)?;
                Operand::Bool(match &**within {
                    Expr::List(list) => contains_constant(list, item)?,
                    other => match self.value(other)? {
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
        let first = self.value(args.first()?)?;
        Some(match (helper, first) {
            (Helper::Contains { .. } | Helper::Matches(_), Operand::Text(text)) => {
                Operand::Bool(text_helper(helper, text)?)
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
                let b = self.value(args.get(1)?)?;
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

/// A text helper (`contains_any`, `contains_all`, `matches`) on `text`; `None` for
/// the others.
fn text_helper(helper: &Helper, text: &str) -> Option<bool> {
    Some(match helper {
        Helper::Contains {
            keywords,
            all: false,
            starts,
            ascii,
        } => contains_any(text, keywords, starts, ascii),
        Helper::Contains {
            keywords,
            all: true,
            ..
        } => contains(text, keywords, true),
        Helper::Matches(pattern) => pattern.is_match(text),
        _ => return None,
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

#[inline(always)]
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
        (O::Int(x), O::Decimal(y)) => decimal_order(Decimal::from(x), y),
        (O::Decimal(x), O::Int(y)) => decimal_order(x, Decimal::from(y)),
        (O::Decimal(x), O::Decimal(y)) => decimal_order(x, y),
        (O::Text(x), O::Text(y)) => x.cmp(y),
        (O::Date(x), O::Date(y)) => x.cmp(&y),
        (O::Instant(x), O::Instant(y)) => x.cmp(&y),
        // Arrays have an `==` of their own, element by element: Rhai's to answer.
        (O::Tags(_), _) | (_, O::Tags(_)) => return None,
        _ => return Some(Err(())),
    }))
}

/// How two decimals order: the one with fewer decimal places scaled up to the
/// other's and the mantissas compared as whole numbers, which is `Decimal`'s ordering
/// without its general path; that path where the scaling would overflow.
fn decimal_order(x: Decimal, y: Decimal) -> Ordering {
    let (a, b) = (x.mantissa(), y.mantissa());
    let (sx, sy) = (x.scale(), y.scale());
    let (fewer, more, places, flip) = match sx.cmp(&sy) {
        Ordering::Equal => return a.cmp(&b),
        Ordering::Less => (a, b, sy - sx, false),
        Ordering::Greater => (b, a, sx - sy, true),
    };
    // A mantissa and a factor that fit 64 bits multiply without overflow (the usual
    // case: amounts of money); larger ones are checked.
    let scaled = match (i64::try_from(fewer), POW10_64.get(places as usize)) {
        (Ok(m), Some(p)) => Some(i128::from(m) * i128::from(*p)),
        _ => 10_i128
            .checked_pow(places)
            .and_then(|p| fewer.checked_mul(p)),
    };
    match scaled {
        Some(scaled) if flip => more.cmp(&scaled),
        Some(scaled) => scaled.cmp(&more),
        None => x.cmp(&y),
    }
}

/// `10^n` while it fits 64 bits.
const POW10_64: [i64; 19] = {
    let mut table = [1_i64; 19];
    let mut i = 1;
    while i < table.len() {
        table[i] = table[i - 1] * 10;
        i += 1;
    }
    table
};

fn compare(op: Comparison, a: Operand<'_>, b: Operand<'_>) -> Option<bool> {
    if let (Operand::Unit, Operand::Unit) = (a, b) {
        // Rhai: `() == ()`; every other comparison of two `()` is false, `!=` too.
        return Some(op == Comparison::Eq);
    }
    Some(match (op, order(a, b)?) {
        (op, Ok(o)) => holds(op, o),
        (Comparison::Ne, Err(())) => true,
        (_, Err(())) => false,
    })
}

/// Whether `op` holds between two values that order as `o`.
fn holds(op: Comparison, o: Ordering) -> bool {
    match op {
        Comparison::Eq => o == Ordering::Equal,
        Comparison::Ne => o != Ordering::Equal,
        Comparison::Lt => o == Ordering::Less,
        Comparison::Le => o != Ordering::Greater,
        Comparison::Gt => o == Ordering::Greater,
        Comparison::Ge => o != Ordering::Less,
    }
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

/// The bytes a helper's keywords (in lower case) start with, an ASCII letter in both
/// cases, and whether one is empty (and so in every text).
#[derive(Debug, Clone)]
pub(crate) struct Starts {
    bytes: [bool; 256],
    empty: bool,
}

impl Starts {
    fn of(keywords: &[String]) -> Starts {
        let mut starts = Starts {
            bytes: [false; 256],
            empty: false,
        };
        for keyword in keywords {
            match keyword.as_bytes().first() {
                Some(b) => {
                    starts.add(*b);
                    starts.add(b.to_ascii_uppercase());
                }
                None => starts.empty = true,
            }
        }
        starts
    }

    fn add(&mut self, b: u8) {
        self.bytes[usize::from(b)] = true;
    }

    fn has(&self, b: u8) -> bool {
        self.bytes[usize::from(b)]
    }
}

/// Texts longer than this are searched a keyword at a time by [`contains`].
const SCAN_MAX: usize = 256;

/// [`contains`] for `contains_any`. ASCII text is searched as it is for the ASCII
/// keywords (lower-casing it would change only ASCII letters, the keywords have no
/// capitals, and no other keyword is in ASCII text), each found by its first byte.
/// Other short text is searched in lower case, as [`contains`] does, in one pass for
/// all keywords: at each byte a keyword starts with, the keywords compared ignoring
/// ASCII case (no ASCII capitals are left in it, so that changes nothing).
fn contains_any(text: &str, keywords: &[String], starts: &Starts, ascii: &AsciiWords) -> bool {
    if starts.empty {
        return true;
    }
    if text.is_ascii() {
        return ascii.in_ascii(text.as_bytes());
    }
    if text.len() > SCAN_MAX {
        return contains(text, keywords, false);
    }
    let lower = super::helpers::lowercase(text);
    scan(lower.as_bytes(), keywords, starts)
}

/// Whether `haystack` holds one of `words` (which have no ASCII capitals), ignoring
/// ASCII case: at each byte a word starts with (`starts`), the words compared.
fn scan(haystack: &[u8], words: &[String], starts: &Starts) -> bool {
    let mut from = 0;
    while let Some(skip) = haystack
        .get(from..)
        .and_then(|rest| rest.iter().position(|b| starts.has(*b)))
    {
        let at = from + skip;
        let rest = haystack.get(at..).unwrap_or_default();
        let here = |w: &String| {
            rest.get(..w.len())
                .is_some_and(|r| r.eq_ignore_ascii_case(w.as_bytes()))
        };
        if words.iter().any(here) {
            return true;
        }
        from = at + 1;
    }
    false
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_order_as_decimal_orders_them() {
        let values: Vec<Decimal> = crate::script::test_support::EDGE_DECIMALS
            .iter()
            .filter_map(|v| v.parse().ok())
            .collect();
        assert_eq!(values.len(), 14);
        for x in &values {
            for y in &values {
                assert_eq!(decimal_order(*x, *y), x.cmp(y), "{x} against {y}");
            }
        }
    }

    #[test]
    fn one_pass_keyword_search_is_the_helpers() {
        let keywords: Vec<String> = ["盗刷", "scam", "k", "i̇stanbul", "straße"]
            .iter()
            .map(|k| k.to_string())
            .collect();
        let starts = Starts::of(&keywords);
        for text in [
            "",
            "a SCAM call",
            "卡被盗刷",
            "\u{212A}",
            "İSTANBUL",
            "STRASSE",
            "Straße",
            "nothing here",
        ] {
            for n in 1..=keywords.len() {
                let keywords = &keywords[..n];
                let starts = Starts::of(keywords);
                let ascii = AsciiWords::of(keywords.iter().map(String::as_str));
                assert_eq!(
                    contains_any(text, keywords, &starts, &ascii),
                    contains(text, keywords, false),
                    "`{text}` in {keywords:?}"
                );
            }
        }
        let empty = [String::new()];
        let (starts_empty, ascii_empty) = (Starts::of(&empty), AsciiWords::of([""]));
        assert!(contains_any("", &empty, &starts_empty, &ascii_empty));
        let none = AsciiWords::of([]);
        assert!(!contains_any("x", &keywords[..0], &starts, &none));
    }
}
