//! [`Node`]: a native condition's tree specialised at policy load for the forms guards
//! and routing rules mostly take (a variable compared with a text or a number, a
//! keyword or pattern helper on a variable, `days_since(v) > n`, `"x" in tags`), each
//! answered with its literal already converted (decimals scaled, text unboxed) and
//! without matching on the tree's general shapes. Any other part of the tree is
//! evaluated as it is, by the general evaluator.
//!
//! Each specialised form gives exactly what the general evaluator gives for it: the
//! commonest types are answered in place, every other value is passed to the same
//! general function ([`compare`], [`text_helper`]) the evaluator would call.

use std::cmp::Ordering;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use super::memo::same_short;
use super::parse::{Comparison, Constant, Expr, Helper, Var};
use super::{At, Lookup, Operand, boolean, compare, decimal_order, holds, text_helper};
use crate::script::names::Source;
use crate::value::Value;

/// A condition's tree, specialised.
#[derive(Debug, Clone)]
pub(super) enum Node {
    /// The whole condition is a variable: `()` is false.
    Truth(Var),
    /// A variable as an operand of `&&`, `||` or `!`: it must be a boolean.
    Boolean(Var),
    Not(Box<Node>),
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
    /// `var == "text"` or `var != "text"`.
    Text {
        op: Comparison,
        var: Var,
        text: Box<str>,
    },
    /// A variable compared with a whole number or a decimal.
    Number {
        op: Comparison,
        var: Var,
        number: Number,
    },
    /// `days_since(var)` compared with a whole number.
    DaysSince {
        op: Comparison,
        var: Var,
        days: i64,
    },
    /// `"text" in tags`.
    InTags(Box<str>),
    /// A text helper (`contains_any`, `contains_all`, `matches`) on a variable.
    TextHelper {
        helper: Helper,
        var: Var,
    },
    /// Any other whole condition, evaluated as a tree.
    Whole(Expr),
    /// Any other operand of `&&`, `||` or `!` (or whole condition that is one: a
    /// comparison, `in`), evaluated as a tree.
    Operand(Expr),
}

/// A number literal, with its value as a decimal scaled for comparisons.
#[derive(Debug, Clone)]
pub(super) enum Number {
    Int(i64, Scaled),
    Decimal(Scaled),
}

/// A decimal literal and its mantissa at each scale from its own up (while that fits
/// 128 bits): a decimal of scale `s` compares with it as its mantissa with the one at
/// `s`, without scaling either at evaluation.
#[derive(Debug, Clone)]
pub(super) struct Scaled {
    value: Decimal,
    /// By scale, from the literal's own.
    mantissas: Box<[i128]>,
}

impl Scaled {
    fn new(value: Decimal) -> Scaled {
        let mut mantissas = Vec::new();
        let mut m = Some(value.mantissa());
        for _ in value.scale()..=Decimal::MAX_SCALE {
            let Some(at) = m else { break };
            mantissas.push(at);
            m = at.checked_mul(10);
        }
        Scaled {
            value,
            mantissas: mantissas.into_boxed_slice(),
        }
    }

    /// How `x` orders against the literal.
    #[inline]
    fn order(&self, x: Decimal) -> Ordering {
        let at = x.scale().wrapping_sub(self.value.scale()) as usize;
        match self.mantissas.get(at) {
            Some(k) => x.mantissa().cmp(k),
            None => decimal_order(x, self.value),
        }
    }
}

impl Number {
    fn operand(&self) -> Operand<'static> {
        match self {
            Number::Int(i, _) => Operand::Int(*i),
            Number::Decimal(d) => Operand::Decimal(d.value),
        }
    }
}

impl Node {
    /// The specialised tree of a whole condition, whose value is a boolean or `()`
    /// (false), anything else deferring.
    pub(super) fn of(expr: &Expr) -> Node {
        match expr {
            Expr::Variable(var) => Node::Truth(var.clone()),
            Expr::Call(..) => Node::text_helper(expr).unwrap_or_else(|| Node::Whole(expr.clone())),
            Expr::Constant(_) | Expr::List(_) => Node::Whole(expr.clone()),
            other => Node::operand(other),
        }
    }

    /// The specialised tree of an expression that must be a boolean.
    fn operand(expr: &Expr) -> Node {
        let pair = |a: &Expr, b: &Expr| (Box::new(Node::operand(a)), Box::new(Node::operand(b)));
        let special = match expr {
            Expr::Variable(var) => Some(Node::Boolean(var.clone())),
            Expr::Not(e) => Some(Node::Not(Box::new(Node::operand(e)))),
            Expr::And(a, b) => {
                let (a, b) = pair(a, b);
                Some(Node::And(a, b))
            }
            Expr::Or(a, b) => {
                let (a, b) = pair(a, b);
                Some(Node::Or(a, b))
            }
            Expr::CompareWith(op, var, c) => Node::compare_with(*op, var, c),
            Expr::Compare(op, a, b) => Node::days_since(*op, a, b),
            Expr::In(item, within) => Node::in_tags(item, within),
            Expr::Call(..) => Node::text_helper(expr),
            _ => None,
        };
        special.unwrap_or_else(|| Node::Operand(expr.clone()))
    }

    fn compare_with(op: Comparison, var: &Var, c: &Constant) -> Option<Node> {
        let var = var.clone();
        Some(match c {
            Constant::Text(t) if matches!(op, Comparison::Eq | Comparison::Ne) => Node::Text {
                op,
                var,
                text: t.as_str().into(),
            },
            Constant::Int(i) => Node::Number {
                op,
                var,
                number: Number::Int(*i, Scaled::new(Decimal::from(*i))),
            },
            Constant::Decimal(d) => Node::Number {
                op,
                var,
                number: Number::Decimal(Scaled::new(*d)),
            },
            _ => return None,
        })
    }

    /// `days_since(var) op n`.
    fn days_since(op: Comparison, a: &Expr, b: &Expr) -> Option<Node> {
        match (a, b) {
            (Expr::Call(Helper::DaysSince, args), Expr::Constant(Constant::Int(days))) => {
                match args.as_slice() {
                    [Expr::Variable(var)] => Some(Node::DaysSince {
                        op,
                        var: var.clone(),
                        days: *days,
                    }),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// `"text" in tags`.
    fn in_tags(item: &Expr, within: &Expr) -> Option<Node> {
        match (item, within) {
            (
                Expr::Constant(Constant::Text(t)),
                Expr::Variable(Var {
                    source: Source::Tags,
                    ..
                }),
            ) => Some(Node::InTags(t.as_str().into())),
            _ => None,
        }
    }

    /// A text helper on a variable.
    fn text_helper(expr: &Expr) -> Option<Node> {
        match expr {
            Expr::Call(helper @ (Helper::Contains { .. } | Helper::Matches(_)), args) => {
                match args.as_slice() {
                    [Expr::Variable(var)] => Some(Node::TextHelper {
                        helper: helper.clone(),
                        var: var.clone(),
                    }),
                    _ => None,
                }
            }
            _ => None,
        }
    }
}

// Each form is answered by a function of its own, which `node` calls last: `node` is
// then only a jump (it keeps nothing across a call), and each form's function saves
// only the registers it uses.
impl<'v, L: Lookup<'v>> At<'_, 'v, L> {
    /// The value of `node`: a boolean, or `None` to defer (as the general evaluator
    /// would for the same tree).
    pub(super) fn node(&mut self, node: &'v Node) -> Option<bool> {
        match node {
            Node::Truth(var) => self.truth(var),
            Node::Boolean(var) => self.boolean(var),
            Node::Not(n) => self.not(n),
            Node::And(a, b) => self.and(a, b),
            Node::Or(a, b) => self.or(a, b),
            Node::Text { op, var, text } => self.text(*op, var, text),
            Node::Number { op, var, number } => self.number(*op, var, number),
            Node::DaysSince { op, var, days } => self.days_since(*op, var, *days),
            Node::InTags(text) => self.in_tags(text),
            Node::TextHelper { helper, var } => self.text_helper(helper, var),
            Node::Whole(expr) => self.whole(expr),
            Node::Operand(expr) => self.general(expr),
        }
    }

    #[inline(never)]
    fn boolean(&mut self, var: &'v Var) -> Option<bool> {
        boolean(self.var(var))
    }

    #[inline(never)]
    fn general(&mut self, expr: &'v Expr) -> Option<bool> {
        self.operand(expr)
    }

    #[inline(never)]
    fn truth(&mut self, var: &'v Var) -> Option<bool> {
        match self.var(var) {
            Operand::Bool(b) => Some(b),
            Operand::Unit => Some(false),
            _ => None,
        }
    }

    #[inline(never)]
    fn not(&mut self, n: &'v Node) -> Option<bool> {
        Some(!self.node(n)?)
    }

    #[inline(never)]
    fn and(&mut self, a: &'v Node, b: &'v Node) -> Option<bool> {
        Some(self.node(a)? && self.node(b)?)
    }

    #[inline(never)]
    fn or(&mut self, a: &'v Node, b: &'v Node) -> Option<bool> {
        Some(self.node(a)? || self.node(b)?)
    }

    #[inline(never)]
    fn text(&mut self, op: Comparison, var: &'v Var, text: &'v str) -> Option<bool> {
        // A text field, compared as the case holds it.
        if let Some(Some(Value::Text(t))) = self.look.field(var, self.case) {
            let same = t.len() == text.len() && same_short(t.as_bytes(), text.as_bytes());
            return Some(same == (op == Comparison::Eq));
        }
        match self.var(var) {
            Operand::Text(t) => {
                let same = t.len() == text.len() && same_short(t.as_bytes(), text.as_bytes());
                Some(same == (op == Comparison::Eq))
            }
            value => other_types(op, value, Operand::Text(text)),
        }
    }

    #[inline(never)]
    fn number(&mut self, op: Comparison, var: &'v Var, number: &Number) -> Option<bool> {
        // A number field, compared as the case holds it.
        match (self.look.field(var, self.case), number) {
            (Some(Some(Value::Money(x))), Number::Int(_, k) | Number::Decimal(k)) => {
                return Some(holds(op, k.order(*x)));
            }
            (Some(Some(Value::Integer(x))), Number::Int(k, _)) => return Some(holds(op, x.cmp(k))),
            _ => {}
        }
        Some(match (self.var(var), number) {
            (Operand::Int(x), Number::Int(k, _)) => holds(op, x.cmp(k)),
            (Operand::Decimal(x), Number::Int(_, k) | Number::Decimal(k)) => holds(op, k.order(x)),
            (value, number) => return other_types(op, value, number.operand()),
        })
    }

    #[inline(never)]
    fn days_since(&mut self, op: Comparison, var: &'v Var, days: i64) -> Option<bool> {
        let now = self.ctx.now;
        let since = match self.var(var) {
            Operand::Instant(t) => days_between(t, now),
            Operand::Date(d) => now.date_naive().signed_duration_since(d).num_days(),
            Operand::Unit => return compare(op, Operand::Unit, Operand::Int(days)),
            _ => return None,
        };
        Some(holds(op, since.cmp(&days)))
    }

    #[inline(never)]
    fn in_tags(&mut self, text: &str) -> Option<bool> {
        Some(self.case.tags.iter().any(|t| t == text))
    }

    #[inline(never)]
    fn text_helper(&mut self, helper: &'v Helper, var: &'v Var) -> Option<bool> {
        match self.var(var) {
            Operand::Text(text) => text_helper(helper, text),
            Operand::Unit => Some(false),
            _ => None,
        }
    }

    #[inline(never)]
    fn whole(&mut self, expr: &'v Expr) -> Option<bool> {
        match self.eval(expr)? {
            Operand::Bool(b) => Some(b),
            Operand::Unit => Some(false),
            _ => None,
        }
    }
}

/// [`compare`] for the types a specialised form does not answer in place, apart so
/// that the form's own function stays small.
#[cold]
#[inline(never)]
fn other_types(op: Comparison, a: Operand<'_>, b: Operand<'_>) -> Option<bool> {
    compare(op, a, b)
}

/// `now.signed_duration_since(t).num_days()`, from the two instants' seconds and
/// nanoseconds since the epoch rather than their dates and times; chrono's own
/// subtraction for an instant in a leap second (whose nanoseconds pass a second).
fn days_between(t: DateTime<Utc>, now: DateTime<Utc>) -> i64 {
    let (tn, nn) = (t.timestamp_subsec_nanos(), now.timestamp_subsec_nanos());
    if tn >= NANOS_PER_SEC || nn >= NANOS_PER_SEC {
        return now.signed_duration_since(t).num_days();
    }
    let mut secs = now.timestamp() - t.timestamp();
    let mut nanos = i64::from(nn) - i64::from(tn);
    if nanos < 0 {
        secs -= 1;
        nanos += i64::from(NANOS_PER_SEC);
    }
    // `TimeDelta::num_seconds`: whole seconds, towards zero.
    let whole = if secs < 0 && nanos > 0 {
        secs + 1
    } else {
        secs
    };
    whole / 86_400
}

const NANOS_PER_SEC: u32 = 1_000_000_000;

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use chrono::{Duration, TimeZone};

    use super::super::{Direct, parse};
    use super::*;
    use crate::script::names::variables;
    use crate::script::test_support::NoCalendar;
    use crate::script::{CaseView, EvalContext, Schema, ScriptLimits};
    use crate::value::{Fields, Value};

    /// The general evaluator's answer for a whole condition.
    fn general<'v>(at: &mut At<'_, 'v, Direct>, expr: &'v Expr) -> Option<bool> {
        match expr {
            Expr::Variable(var) => match at.var(var) {
                Operand::Bool(b) => Some(b),
                Operand::Unit => Some(false),
                _ => None,
            },
            Expr::Constant(_) | Expr::Call(..) => match at.eval(expr)? {
                Operand::Bool(b) => Some(b),
                Operand::Unit => Some(false),
                _ => None,
            },
            other => at.operand(other),
        }
    }

    #[test]
    fn specialised_forms_answer_as_the_general_tree() {
        let schema = Schema {
            fields: vec!["x".into(), "y".into()],
            stages: vec!["decided".into()],
            personal: Vec::new(),
        };
        let known = variables(&schema);
        let sources = [
            "x",
            "x && y",
            "!x || y",
            r#"x == "cards""#,
            r#"x != "cards""#,
            r#"x == "cards" && y"#,
            "x > 50000",
            "x >= 120.5",
            "x < -3",
            "x == 120.50",
            "x != 0",
            "days_since(x) > 60",
            "days_since(x) <= 0",
            "days_since(decided_at) == 7",
            r#"stage == "decided" && reopen_count < 1"#,
            r#"stage != "review" || priority > 2.5"#,
            r#"queue == "fraud""#,
            r#""vip" in tags && x > 20000"#,
            r#"contains_any(x, ["盗刷", "scam"])"#,
            r#"contains_all(x, ["card", "scam"]) || y"#,
            r#"matches(x, "(?i)ombudsman|regulator")"#,
            r#"!matches(x, "card|fraud")"#,
            "days_since(x)",
            "x in [1, 2.5, \"a\"]",
        ];
        let now = Utc
            .with_ymd_and_hms(2026, 3, 2, 12, 0, 0)
            .single()
            .unwrap_or_default();
        let values = [
            None,
            Some(Value::Bool(true)),
            Some(Value::Bool(false)),
            Some(Value::Integer(50001)),
            Some(Value::Integer(-3)),
            Some(Value::Money(Decimal::new(12050, 2))),
            Some(Value::Money(Decimal::new(-5, 1))),
            Some(Value::Text("cards".into())),
            Some(Value::Text("A SCAM on the card".into())),
            Some(Value::Text("信用卡被盗刷".into())),
            Some(Value::Text("wrote to the Ombudsman".into())),
            Some(Value::Date(now.date_naive() - Duration::days(61))),
            Some(Value::DateTime((now - Duration::days(60)).fixed_offset())),
        ];
        let ctx = EvalContext {
            now,
            calendar: Arc::new(NoCalendar),
        };
        let mut entered = BTreeMap::new();
        entered.insert("decided".to_string(), now - Duration::days(7));
        let tags = ["vip".to_string()];
        for source in sources {
            let expr = parse::parse(source, &known, &ScriptLimits::default())
                .unwrap_or_else(|| panic!("`{source}` is not native"));
            let node = Node::of(&expr);
            for x in &values {
                for y in &values {
                    let mut fields = Fields::new();
                    for (name, value) in [("x", x), ("y", y)] {
                        if let Some(v) = value {
                            fields.insert(name.into(), v.clone());
                        }
                    }
                    let case = CaseView {
                        fields: &fields,
                        stage: "decided",
                        queue: None,
                        priority: None,
                        received_at: now,
                        tags: &tags,
                        reopen_count: 0,
                        stage_entered_at: &entered,
                    };
                    let (mut a, mut b) = (Direct, Direct);
                    let specialised = At {
                        case: &case,
                        ctx: &ctx,
                        look: &mut a,
                    }
                    .node(&node);
                    let mut at = At {
                        case: &case,
                        ctx: &ctx,
                        look: &mut b,
                    };
                    assert_eq!(
                        specialised,
                        general(&mut at, &expr),
                        "`{source}` with x {x:?}, y {y:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn scaled_literals_order_as_decimal_orders_them() {
        let values: Vec<Decimal> = crate::script::test_support::EDGE_DECIMALS
            .iter()
            .filter_map(|v| v.parse().ok())
            .collect();
        assert_eq!(values.len(), 14);
        for k in &values {
            let scaled = Scaled::new(*k);
            for x in &values {
                assert_eq!(scaled.order(*x), x.cmp(k), "{x} against {k}");
            }
        }
    }

    #[test]
    fn days_between_is_chronos() {
        let base = Utc
            .with_ymd_and_hms(2026, 3, 2, 12, 0, 0)
            .single()
            .unwrap_or_default();
        let offsets = [
            Duration::zero(),
            Duration::nanoseconds(1),
            Duration::nanoseconds(-1),
            Duration::days(1) - Duration::nanoseconds(1),
            Duration::days(1),
            Duration::days(-1) + Duration::nanoseconds(1),
            Duration::days(-1),
            Duration::days(-1) - Duration::nanoseconds(1),
            Duration::days(60) + Duration::milliseconds(1500),
            Duration::days(-3650) - Duration::milliseconds(999),
            Duration::days(36500),
        ];
        let leap = chrono::NaiveDate::from_ymd_opt(2016, 12, 31)
            .and_then(|d| d.and_hms_nano_opt(23, 59, 59, 1_500_000_000))
            .map(|t| t.and_utc());
        for now in [base, base + Duration::nanoseconds(999_999_999)] {
            for t in offsets.iter().map(|o| now - *o).chain(leap) {
                assert_eq!(
                    days_between(t, now),
                    now.signed_duration_since(t).num_days(),
                    "{t} to {now}"
                );
                assert_eq!(
                    days_between(now, t),
                    t.signed_duration_since(now).num_days(),
                    "{now} to {t}"
                );
            }
        }
    }
}
