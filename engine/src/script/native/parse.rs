//! Reading a condition into a [`Expr`] tree: the subset of Rhai that a native
//! evaluator answers exactly, and nothing else.
//!
//! The grammar is Rhai's own for what it covers: literals (whole numbers, decimals,
//! strings with the escapes `\\ \" \n \t \r`, `true`, `false`, `()`), declared names,
//! the calls in [`Helper`], lists of literals, `!`, and the binary operators with
//! Rhai's precedence (`||` 30, `&&` 60, `==`/`!=` 90, `in` 110, `<`/`<=`/`>`/`>=` 130,
//! all left-associative). Anything else (arithmetic, property access, indexing,
//! closures, statements, other escapes or literal forms, a comment other than `//`)
//! makes [`parse`] give `None`, and the condition stays with Rhai alone.

use chrono::{DateTime, NaiveDate, Utc};
use regex::RegexBuilder;
use rust_decimal::Decimal;

use super::super::ScriptLimits;
use super::super::names::{Source, Variable};
use super::Starts;
use super::search::{AsciiWords, Pattern};

/// A literal value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Constant {
    Unit,
    Bool(bool),
    Int(i64),
    Decimal(Decimal),
    Text(String),
    Date(NaiveDate),
    Instant(DateTime<Utc>),
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Comparison {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// A helper function a condition may call natively.
#[derive(Debug, Clone)]
pub(crate) enum Helper {
    /// `contains_any(text, [..])` (`all: false`) or `contains_all` (`all: true`), with
    /// the keywords already in lower case, the bytes they start with, and the ASCII
    /// ones for ASCII texts.
    Contains {
        keywords: Vec<String>,
        all: bool,
        starts: Box<Starts>,
        ascii: AsciiWords,
    },
    /// `matches(text, "pattern")`, compiled at load.
    Matches(Box<Pattern>),
    /// `days_since(t)`.
    DaysSince,
    /// `hours_since(t)`.
    HoursSince,
    /// `business_days_between(a, b)`.
    BusinessDaysBetween,
}

/// A variable: where its value comes from, and its slot (its position among the
/// schema's variables, the same for every condition compiled on that schema), by
/// which a router's rules share one lookup of it.
#[derive(Debug, Clone)]
pub(crate) struct Var {
    pub(crate) slot: usize,
    pub(crate) source: Source,
}

/// A condition as a tree.
#[derive(Debug, Clone)]
pub(crate) enum Expr {
    Constant(Constant),
    /// A list literal; only ever the right side of `in`.
    List(Vec<Constant>),
    Variable(Var),
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Compare(Comparison, Box<Expr>, Box<Expr>),
    /// A variable compared with a literal (`amount > 10000`), the commonest node:
    /// read without evaluating two operands.
    CompareWith(Comparison, Var, Constant),
    In(Box<Expr>, Box<Expr>),
    /// A helper and its arguments (the keyword list and the pattern are in the helper).
    Call(Helper, Vec<Expr>),
}

impl Expr {
    /// Calls `f` on each variable in the tree, in reading order.
    pub(crate) fn each_var<'e>(&'e self, f: &mut impl FnMut(&'e Var)) {
        match self {
            Expr::Constant(_) | Expr::List(_) => {}
            Expr::Variable(var) | Expr::CompareWith(_, var, _) => f(var),
            Expr::Not(e) => e.each_var(f),
            Expr::And(a, b) | Expr::Or(a, b) | Expr::Compare(_, a, b) | Expr::In(a, b) => {
                a.each_var(f);
                b.each_var(f);
            }
            Expr::Call(_, args) => args.iter().for_each(|a| a.each_var(f)),
        }
    }

    /// Nodes in the tree, list items included: a bound on the work of evaluating it.
    pub(crate) fn size(&self) -> usize {
        match self {
            Expr::Constant(_) | Expr::Variable(_) => 1,
            Expr::CompareWith(..) => 3,
            Expr::List(items) => 1 + items.len(),
            Expr::Not(e) => 1 + e.size(),
            Expr::And(a, b) | Expr::Or(a, b) | Expr::Compare(_, a, b) | Expr::In(a, b) => {
                1 + a.size() + b.size()
            }
            Expr::Call(helper, args) => {
                let keywords = match helper {
                    Helper::Contains { keywords, .. } => keywords.len(),
                    _ => 0,
                };
                1 + keywords + args.iter().map(Expr::size).sum::<usize>()
            }
        }
    }
}

/// A token of the subset.
#[derive(Debug, Clone, PartialEq)]
enum Token<'s> {
    Name(&'s str),
    Int(i64),
    Decimal(Decimal),
    Text(String),
    Open,
    Close,
    OpenList,
    CloseList,
    Comma,
    Not,
    Minus,
    And,
    Or,
    In,
    Compare(Comparison),
}

/// The tree of `source`, if the whole of it is in the subset and every name it uses is
/// one of `known` (or a helper in call position).
pub(crate) fn parse(source: &str, known: &[Variable], limits: &ScriptLimits) -> Option<Expr> {
    let tokens = tokenize(source)?;
    let mut parser = Parser {
        tokens,
        at: 0,
        known,
        limits,
        depth: 0,
    };
    let expr = parser.expr(0)?;
    (parser.at == parser.tokens.len()).then_some(expr)
}

fn tokenize(source: &str) -> Option<Vec<Token<'_>>> {
    let bytes = source.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let next = bytes.get(i + 1).copied();
        let (token, len) = match c {
            b' ' | b'\t' | b'\n' | b'\r' => {
                i += 1;
                continue;
            }
            b'/' if next == Some(b'/') => {
                // `///` and `//!` are doc comments to Rhai: not in the subset.
                if matches!(bytes.get(i + 2), Some(b'/' | b'!')) {
                    return None;
                }
                i = source[i..].find('\n').map_or(bytes.len(), |n| i + n);
                continue;
            }
            b'(' => (Token::Open, 1),
            b')' => (Token::Close, 1),
            b'[' => (Token::OpenList, 1),
            b']' => (Token::CloseList, 1),
            b',' => (Token::Comma, 1),
            b'-' if next.is_some_and(|n| n.is_ascii_digit()) => (Token::Minus, 1),
            b'&' if next == Some(b'&') => (Token::And, 2),
            b'|' if next == Some(b'|') => (Token::Or, 2),
            b'=' if next == Some(b'=') => (Token::Compare(Comparison::Eq), 2),
            b'!' if next == Some(b'=') => (Token::Compare(Comparison::Ne), 2),
            // `!in` is Rhai's `not in`: not in the subset.
            b'!' if source[i + 1..].strip_prefix("in").is_some_and(|rest| {
                !rest.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
            }) =>
            {
                return None;
            }
            b'!' => (Token::Not, 1),
            b'<' if next == Some(b'=') => (Token::Compare(Comparison::Le), 2),
            b'>' if next == Some(b'=') => (Token::Compare(Comparison::Ge), 2),
            b'<' if !matches!(next, Some(b'<' | b'-' | b'|')) => {
                (Token::Compare(Comparison::Lt), 1)
            }
            b'>' if next != Some(b'>') => (Token::Compare(Comparison::Gt), 1),
            b'"' => string(&source[i..])?,
            b'0'..=b'9' => number(&source[i..])?,
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let len = source[i..]
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(source.len() - i);
                let word = &source[i..i + len];
                let token = if word == "in" {
                    Token::In
                } else {
                    Token::Name(word)
                };
                (token, len)
            }
            _ => return None,
        };
        // `===`, `!==`, `<=>`, `&&&`, `|||`... are not operators of the subset.
        if matches!(token, Token::Compare(_) | Token::And | Token::Or)
            && matches!(bytes.get(i + len), Some(b'=' | b'>' | b'&' | b'|'))
        {
            return None;
        }
        tokens.push(token);
        i += len;
    }
    Some(tokens)
}

/// A string literal at the start of `text` and its length in bytes.
fn string(text: &str) -> Option<(Token<'static>, usize)> {
    let mut value = String::new();
    let mut chars = text.char_indices().skip(1);
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((Token::Text(value), i + 1)),
            '\\' => {
                let escaped = match chars.next()?.1 {
                    '\\' => '\\',
                    '"' => '"',
                    'n' => '\n',
                    't' => '\t',
                    'r' => '\r',
                    _ => return None,
                };
                value.push(escaped);
            }
            '\n' | '\r' => return None,
            c => value.push(c),
        }
    }
    None
}

/// A number at the start of `text`: digits, or digits `.` digits (a decimal: Rhai runs
/// without floats), and its length; `None` for any other form.
fn number(text: &str) -> Option<(Token<'static>, usize)> {
    let digits = |s: &str| s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let whole = digits(text);
    let rest = &text[whole..];
    let follows_name = |s: &str| s.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_');
    if let Some(fraction) = rest.strip_prefix('.') {
        let len = digits(fraction);
        if len == 0 || follows_name(&fraction[len..]) || fraction[len..].starts_with('.') {
            return None;
        }
        let end = whole + 1 + len;
        let value = text[..end].parse::<Decimal>().ok()?;
        return Some((Token::Decimal(value), end));
    }
    if follows_name(rest) {
        return None;
    }
    Some((Token::Int(text[..whole].parse().ok()?), whole))
}

/// Nesting deeper than this is left to Rhai (which has its own limit).
const MAX_DEPTH: usize = 32;

struct Parser<'s, 'k> {
    tokens: Vec<Token<'s>>,
    at: usize,
    known: &'k [Variable],
    limits: &'k ScriptLimits,
    depth: usize,
}

impl<'s> Parser<'s, '_> {
    fn peek(&self) -> Option<&Token<'s>> {
        self.tokens.get(self.at)
    }

    fn take(&mut self) -> Option<Token<'s>> {
        let token = self.tokens.get(self.at).cloned();
        self.at += 1;
        token
    }

    fn expect(&mut self, token: &Token<'_>) -> Option<()> {
        (self.take()? == *token).then_some(())
    }

    /// Binary operators of at least `min` precedence, left to right.
    fn expr(&mut self, min: u8) -> Option<Expr> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return None;
        }
        let mut lhs = self.unary()?;
        while let Some(precedence) = self.peek().and_then(precedence) {
            if precedence < min {
                break;
            }
            let op = self.take()?;
            let rhs = self.expr(precedence + 1)?;
            lhs = binary(op, lhs, rhs)?;
        }
        self.depth -= 1;
        Some(lhs)
    }

    fn unary(&mut self) -> Option<Expr> {
        match self.take()? {
            Token::Not => {
                self.depth += 1;
                if self.depth > MAX_DEPTH {
                    return None;
                }
                Some(Expr::Not(Box::new(self.unary()?)))
            }
            Token::Minus => match self.take()? {
                Token::Int(i) => Some(Expr::Constant(Constant::Int(i.checked_neg()?))),
                Token::Decimal(d) => Some(Expr::Constant(Constant::Decimal(-d))),
                _ => None,
            },
            Token::Int(i) => Some(Expr::Constant(Constant::Int(i))),
            Token::Decimal(d) => Some(Expr::Constant(Constant::Decimal(d))),
            Token::Text(t) => Some(Expr::Constant(Constant::Text(t))),
            Token::Open if self.peek() == Some(&Token::Close) => {
                self.at += 1;
                Some(Expr::Constant(Constant::Unit))
            }
            Token::Open => {
                let inner = self.expr(0)?;
                self.expect(&Token::Close)?;
                Some(inner)
            }
            Token::OpenList => Some(Expr::List(self.list()?)),
            Token::Name("true") => Some(Expr::Constant(Constant::Bool(true))),
            Token::Name("false") => Some(Expr::Constant(Constant::Bool(false))),
            Token::Name(name) if self.peek() == Some(&Token::Open) => {
                self.at += 1;
                self.call(name)
            }
            Token::Name(name) => {
                let slot = self.known.iter().position(|v| v.name == name)?;
                let source = self.known[slot].source.clone();
                Some(Expr::Variable(Var { slot, source }))
            }
            _ => None,
        }
    }

    /// The literals of a list after its `[`, up to and including the `]`.
    fn list(&mut self) -> Option<Vec<Constant>> {
        let mut items = Vec::new();
        if self.peek() == Some(&Token::CloseList) {
            self.at += 1;
            return Some(items);
        }
        loop {
            match self.unary()? {
                Expr::Constant(c) => items.push(c),
                _ => return None,
            }
            match self.take()? {
                Token::Comma => {}
                Token::CloseList => return Some(items),
                _ => return None,
            }
        }
    }

    /// The arguments of a call after its `(`, up to and including the `)`.
    fn arguments(&mut self) -> Option<Vec<Expr>> {
        let mut args = Vec::new();
        if self.peek() == Some(&Token::Close) {
            self.at += 1;
            return Some(args);
        }
        loop {
            args.push(self.expr(0)?);
            match self.take()? {
                Token::Comma => {}
                Token::Close => return Some(args),
                _ => return None,
            }
        }
    }

    fn call(&mut self, name: &str) -> Option<Expr> {
        let mut args = self.arguments()?;
        let text_literal = |e: &Expr| match e {
            Expr::Constant(Constant::Text(t)) => Some(t.clone()),
            _ => None,
        };
        let helper = match (name, args.len()) {
            ("date", 1) => {
                let text = text_literal(&args[0])?;
                let date = NaiveDate::parse_from_str(&text, "%Y-%m-%d").ok()?;
                return Some(Expr::Constant(Constant::Date(date)));
            }
            ("datetime", 1) => {
                let text = text_literal(&args[0])?;
                let instant = DateTime::parse_from_rfc3339(&text).ok()?.to_utc();
                return Some(Expr::Constant(Constant::Instant(instant)));
            }
            ("contains_any" | "contains_all", 2) => {
                let Some(Expr::List(items)) = args.pop() else {
                    return None;
                };
                let keywords = items
                    .into_iter()
                    .map(|k| match k {
                        Constant::Text(t) => {
                            Some(crate::script::helpers::lowercase(&t).into_owned())
                        }
                        _ => None,
                    })
                    .collect::<Option<Vec<String>>>()?;
                let all = name == "contains_all";
                let starts = Box::new(Starts::of(&keywords));
                let ascii = AsciiWords::of(keywords.iter().map(String::as_str));
                Helper::Contains {
                    keywords,
                    all,
                    starts,
                    ascii,
                }
            }
            ("matches", 2) => {
                let pattern = text_literal(args.last()?)?;
                args.pop();
                let regex = self.pattern(&pattern)?;
                Helper::Matches(Box::new(Pattern::new(&pattern, regex)))
            }
            ("days_since", 1) => Helper::DaysSince,
            ("hours_since", 1) => Helper::HoursSince,
            ("business_days_between", 2) => Helper::BusinessDaysBetween,
            _ => return None,
        };
        // A list is only ever an operand of `in`.
        if args.iter().any(|a| matches!(a, Expr::List(_))) {
            return None;
        }
        Some(Expr::Call(helper, args))
    }

    /// The pattern compiled as `matches` would compile it, if it would compile.
    fn pattern(&self, pattern: &str) -> Option<regex::Regex> {
        if pattern.chars().count() > self.limits.max_pattern_len {
            return None;
        }
        RegexBuilder::new(pattern)
            .size_limit(self.limits.max_regex_size)
            .dfa_size_limit(self.limits.max_regex_size)
            .build()
            .ok()
    }
}

fn precedence(token: &Token<'_>) -> Option<u8> {
    match token {
        Token::Or => Some(30),
        Token::And => Some(60),
        Token::Compare(Comparison::Eq | Comparison::Ne) => Some(90),
        Token::In => Some(110),
        Token::Compare(_) => Some(130),
        _ => None,
    }
}

fn binary(op: Token<'_>, lhs: Expr, rhs: Expr) -> Option<Expr> {
    let (a, b) = (Box::new(lhs), Box::new(rhs));
    // A list is only ever the right side of `in`.
    if matches!(*a, Expr::List(_)) || (op != Token::In && matches!(*b, Expr::List(_))) {
        return None;
    }
    match op {
        Token::Or => Some(Expr::Or(a, b)),
        Token::And => Some(Expr::And(a, b)),
        Token::Compare(c) => Some(match (*a, *b) {
            (Expr::Variable(v), Expr::Constant(k)) => Expr::CompareWith(c, v, k),
            (a, b) => Expr::Compare(c, Box::new(a), Box::new(b)),
        }),
        // Only a list or the case's tags: other right sides (text, maps) are Rhai's.
        Token::In
            if matches!(
                &*b,
                Expr::List(_)
                    | Expr::Variable(Var {
                        source: Source::Tags,
                        ..
                    })
            ) =>
        {
            Some(Expr::In(a, b))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::script::Schema;
    use crate::script::names::variables;

    fn parses(source: &str) -> bool {
        let schema = Schema {
            fields: vec!["amount".into(), "category".into(), "summary".into()],
            stages: vec!["decided".into()],
            personal: Vec::new(),
        };
        parse(source, &variables(&schema), &ScriptLimits::default()).is_some()
    }

    #[test]
    fn the_subset_is_read_and_the_rest_left_to_rhai() {
        #[rustfmt::skip]
        let table: &[(&str, bool)] = &[
            (r#"amount > 10000 && category == "fraud""#, true),
            (r#"category in ["fraud", "cards"] || !(amount <= -3.5)"#, true),
            (r#"contains_any(summary, ["盗刷", "Scam"]) // a comment"#, true),
            (r#"matches(summary, "(?i)ombudsman") && days_since(decided_at) > 30"#, true),
            (r#""vip" in tags && stage != "closed" && queue == ()"#, true),
            (r#"amount > 5 == true"#, true),
            (r#"date("2026-02-30") < now"#, false),
            ("amount + 1 > 2", false),
            ("summary.len() > 2", false),
            ("tags[0] == \"vip\"", false),
            ("amount > 1_000", false),
            ("amount > 0x10", false),
            ("amount !in [1]", false),
            ("amount === 1", false),
            ("unknown > 1", false),
            ("category == 'c'", false),
            ("category == \"a\\u0041\"", false),
            ("amount > 1 /* c */", false),
            ("contains_any(summary, tags)", false),
            ("matches(summary, \"(\")", false),
            ("[1] == [1]", false),
            ("amount in \"123\"", false),
            ("amount &&& amount", false),
            ("", false),
        ];
        for (source, expected) in table {
            assert_eq!(parses(source), *expected, "`{source}`");
        }
    }

    #[test]
    fn precedence_is_rhais() {
        let known = variables(&Schema::default());
        let limits = ScriptLimits::default();
        // `<` binds tighter than `in`, which binds tighter than `==`.
        let e = parse("1 == 2 < 3 in [true]", &known, &limits);
        assert!(
            matches!(e, Some(Expr::Compare(Comparison::Eq, _, _))),
            "{e:?}"
        );
        let e = parse("true || false && false", &known, &limits);
        assert!(matches!(e, Some(Expr::Or(_, _))), "{e:?}");
    }
}
