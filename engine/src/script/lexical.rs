//! Checks made on a script's Rhai tokens when it compiles (so strings and comments
//! are never mistaken for code): unknown functions, unknown `c.<name>` properties of
//! a routing script's case, and personal fields read into what an auditor sees (a
//! route's `reason` and `tags`, an action's notification `message` or a field it
//! sets that is not itself personal).
//!
//! They are lexical: a value passed through a function of the script's own, or a
//! property read with `c["name"]`, is not followed. They catch the plain mistakes
//! (`contains_anyy(...)`, `reason: "for " + c.name`), which is what they are for.

use std::collections::BTreeSet;

use rhai::{Position, Token};

use super::names::Variable;
use super::{ScriptEngine, ScriptError, ScriptErrorKind};

/// Functions that Rhai handles itself rather than through a registered function.
const KEYWORD_FUNCTIONS: &[&str] = &[
    "type_of",
    "Fn",
    "call",
    "curry",
    "is_def_var",
    "is_def_fn",
    "is_shared",
    "print",
    "debug",
];

/// A script's tokens, comments dropped.
pub(crate) struct Tokens {
    tokens: Vec<(Token, Position)>,
}

impl Tokens {
    /// Tokenises `source` as `engine` would.
    pub(crate) fn new(engine: &ScriptEngine, source: &str) -> Self {
        let inputs = [source];
        let (stream, _) = engine.rhai().lex(&inputs);
        let tokens = stream
            .take_while(|(t, _)| *t != Token::EOF)
            .filter(|(t, _)| !matches!(t, Token::Comment(_)))
            .collect();
        Tokens { tokens }
    }

    fn identifier(&self, i: usize) -> Option<&str> {
        match self.tokens.get(i) {
            Some((Token::Identifier(name), _)) => Some(name.as_str()),
            _ => None,
        }
    }

    fn is(&self, i: usize, token: &Token) -> bool {
        i < self.tokens.len() && self.tokens[i].0 == *token
    }

    /// Whether token `i` opens an argument list: `(`, or `()` (one token in Rhai).
    fn opens_call(&self, i: usize) -> bool {
        self.is(i, &Token::LeftParen) || self.is(i, &Token::Unit)
    }

    fn error_at(&self, i: usize, kind: ScriptErrorKind, message: String) -> ScriptError {
        let mut err = ScriptError::new(kind, message);
        if let Some((_, pos)) = self.tokens.get(i) {
            err.line = pos.line();
            err.column = pos.position();
        }
        err
    }

    /// Refuses a call of a function that is neither registered with the engine nor
    /// defined by the script (`contains_anyy(summary, [...])`), with "did you mean".
    pub(crate) fn check_functions(&self, engine: &ScriptEngine) -> Result<(), ScriptError> {
        let defined: BTreeSet<&str> = (0..self.tokens.len())
            .filter(|&i| i > 0 && self.is(i - 1, &Token::Fn))
            .filter_map(|i| self.identifier(i))
            .collect();
        for i in 0..self.tokens.len() {
            let Some(name) = self.identifier(i) else {
                continue;
            };
            let called = self.opens_call(i + 1) && !(i > 0 && self.is(i - 1, &Token::Fn));
            if !called
                || defined.contains(name)
                || KEYWORD_FUNCTIONS.contains(&name)
                || engine.has_function(name)
            {
                continue;
            }
            let known = engine
                .function_names()
                .chain(defined.iter().copied())
                .chain(KEYWORD_FUNCTIONS.iter().copied())
                // Operators and internal helpers are not names a user meant.
                .filter(|n| n.chars().next().is_some_and(|c| c.is_ascii_alphabetic()));
            let err = self.error_at(
                i,
                ScriptErrorKind::UnknownFunction,
                format!("unknown function `{name}`"),
            );
            return Err(err.with_suggestion(name, known));
        }
        Ok(())
    }

    /// Refuses `param.<name>` where `<name>` is not a known variable (method calls
    /// such as `c.keys()` pass).
    pub(crate) fn check_properties(
        &self,
        param: &str,
        known: &[Variable],
    ) -> Result<(), ScriptError> {
        for i in 0..self.tokens.len() {
            if self.identifier(i) != Some(param) || !self.is(i + 1, &Token::Period) {
                continue;
            }
            let Some(name) = self.identifier(i + 2) else {
                continue;
            };
            if self.opens_call(i + 3) || known.iter().any(|v| v.name == name) {
                continue;
            }
            let err = self.error_at(
                i + 2,
                ScriptErrorKind::UnknownVariable,
                format!("unknown variable `{name}`"),
            );
            return Err(super::condition::with_suggestion(err, known));
        }
        Ok(())
    }

    /// Refuses a personal field read into one of `sinks` (the keys of a map literal,
    /// or properties assigned, such as `reason` and `tags`), directly or through a
    /// variable it was stored in. `param` is the case parameter of a routing script
    /// (fields read as `c.name`); `None` for actions (fields read as `name`).
    pub(crate) fn check_personal(
        &self,
        param: Option<&str>,
        personal: &[String],
        sinks: &[&str],
    ) -> Result<(), ScriptError> {
        if personal.is_empty() {
            return Ok(());
        }
        let tainted = self.tainted(param, personal);
        for i in 0..self.tokens.len() {
            let Some(sink) = self.identifier(i).filter(|n| sinks.contains(n)) else {
                continue;
            };
            let into = self.is(i + 1, &Token::Colon)
                || (self.is(i + 1, &Token::Equals) && i > 0 && self.is(i - 1, &Token::Period));
            if !into {
                continue;
            }
            let end = self.end_of_value(i + 2);
            if let Some((at, field)) = self.reads_personal(i + 2..end, param, personal, &tainted) {
                let err = self.error_at(
                    at,
                    ScriptErrorKind::PersonalData,
                    format!("personal field `{field}` is read into `{sink}`, which every role sees unmasked"),
                );
                return Err(err.with_help(format!(
                    "leave personal data out of `{sink}` (route on it, but say why in words that name no one)"
                )));
            }
        }
        Ok(())
    }

    /// Every `queue: "<name>"` entry, with its line: where a routing script builds
    /// each route it can return.
    pub(crate) fn queue_entries(&self) -> Vec<(usize, String)> {
        (0..self.tokens.len())
            .filter(|&i| self.identifier(i) == Some("queue") && self.is(i + 1, &Token::Colon))
            .filter_map(|i| match self.tokens.get(i + 2) {
                Some((Token::StringConstant(queue), pos)) => {
                    Some((pos.line().unwrap_or(0), queue.to_string()))
                }
                _ => None,
            })
            .collect()
    }

    /// Variables that hold a personal value: assigned (`let n = c.name;`, `n = ...`)
    /// from a personal read or from another such variable.
    fn tainted(&self, param: Option<&str>, personal: &[String]) -> BTreeSet<String> {
        let mut tainted = BTreeSet::new();
        loop {
            let before = tainted.len();
            for i in 0..self.tokens.len() {
                let Some(name) = self.identifier(i) else {
                    continue;
                };
                let declared =
                    i > 0 && (self.is(i - 1, &Token::Let) || self.is(i - 1, &Token::Const));
                let assigned =
                    self.is(i + 1, &Token::Equals) && !(i > 0 && self.is(i - 1, &Token::Period));
                if !assigned || (i > 0 && !declared && self.is(i - 1, &Token::Period)) {
                    continue;
                }
                let end = self.end_of_value(i + 2);
                if self
                    .reads_personal(i + 2..end, param, personal, &tainted)
                    .is_some()
                {
                    tainted.insert(name.to_string());
                }
            }
            if tainted.len() == before {
                return tainted;
            }
        }
    }

    /// Where the value starting at `start` ends: the first `,` `;` or closing bracket
    /// at its own depth.
    fn end_of_value(&self, start: usize) -> usize {
        let mut depth = 0usize;
        for i in start..self.tokens.len() {
            match &self.tokens[i].0 {
                Token::LeftParen | Token::LeftBracket | Token::LeftBrace | Token::MapStart => {
                    depth += 1
                }
                Token::RightParen | Token::RightBracket | Token::RightBrace if depth == 0 => {
                    return i;
                }
                Token::RightParen | Token::RightBracket | Token::RightBrace => depth -= 1,
                Token::Comma | Token::SemiColon if depth == 0 => return i,
                _ => {}
            }
        }
        self.tokens.len()
    }

    /// The first personal read in `range`: its token and the field's name.
    fn reads_personal(
        &self,
        range: std::ops::Range<usize>,
        param: Option<&str>,
        personal: &[String],
        tainted: &BTreeSet<String>,
    ) -> Option<(usize, String)> {
        for i in range {
            let Some(name) = self.identifier(i) else {
                continue;
            };
            let after_period = i > 0 && self.is(i - 1, &Token::Period);
            let field = match param {
                Some(p) => after_period && i > 1 && self.identifier(i - 2) == Some(p),
                None => !after_period && !self.opens_call(i + 1),
            };
            if field && personal.iter().any(|f| f == name) {
                return Some((i, name.to_string()));
            }
            if !after_period && tainted.contains(name) {
                return Some((i, name.to_string()));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::script::Schema;
    use crate::script::names::variables;

    fn tokens(source: &str) -> Tokens {
        Tokens::new(&ScriptEngine::default(), source)
    }

    #[test]
    fn strings_and_comments_are_not_code() {
        let schema = Schema {
            fields: vec!["amount".into()],
            ..Schema::default()
        };
        let known = variables(&schema);
        let ok = [
            r#"fn route(c) { let note = "see c.colour for details"; () }"#,
            "fn route(c) { let url = \"http://x//y\"; c.amount // c.colour\n }",
            "fn route(c) { c.keys(); c.amount }",
        ];
        for source in ok {
            assert!(
                tokens(source).check_properties("c", &known).is_ok(),
                "{source}"
            );
        }
        let err = tokens("fn route(c) {\n  let x = \"//\"; c.colour\n}")
            .check_properties("c", &known)
            .err();
        assert_eq!(
            err.as_ref().map(|e| (e.line, e.column)),
            Some((Some(2), Some(19)))
        );
    }

    #[test]
    fn unknown_functions_are_named_with_a_suggestion() {
        let engine = ScriptEngine::default();
        let err = Tokens::new(&engine, r#"contains_anyy(summary, ["x"])"#)
            .check_functions(&engine)
            .err();
        assert_eq!(
            err.as_ref().map(|e| e.kind),
            Some(ScriptErrorKind::UnknownFunction)
        );
        assert_eq!(
            err.and_then(|e| e.help).as_deref(),
            Some("did you mean `contains_any`?")
        );
        let fine = [
            r#"contains_any(summary, ["x"]) && summary.len() > 3"#,
            "fn helper(x) { x + 1 } fn route(c) { helper(1); type_of(c) }",
            r#"let s = "not_a_function(1)"; s"#,
        ];
        for source in fine {
            assert!(
                Tokens::new(&engine, source)
                    .check_functions(&engine)
                    .is_ok(),
                "{source}"
            );
        }
    }

    #[test]
    fn personal_fields_into_reasons_and_tags_are_refused() {
        let personal = vec!["name".to_string()];
        let sinks = ["reason", "tags"];
        let refused = [
            r#"fn route(c) { #{ queue: "a", reason: "for " + c.name } }"#,
            r#"fn route(c) { #{ queue: "a", tags: [c.name] } }"#,
            r#"fn route(c) { let who = c.name; let t = who + "!"; #{ queue: "a", tags: [t] } }"#,
            r#"fn route(c) { let r = #{ queue: "a" }; r.reason = c.name; r }"#,
        ];
        for source in refused {
            let err = tokens(source)
                .check_personal(Some("c"), &personal, &sinks)
                .err();
            assert_eq!(
                err.map(|e| e.kind),
                Some(ScriptErrorKind::PersonalData),
                "{source}"
            );
        }
        let allowed = [
            r#"fn route(c) { if c.name == "x" { return #{ queue: "vip", reason: "on the VIP list" }; } () }"#,
            r#"fn route(c) { #{ queue: "a", reason: "the name field is set", tags: ["named"] } }"#,
            r#"fn route(c) { let n = c.name; #{ queue: if n == () { "a" } else { "b" } } }"#,
        ];
        for source in allowed {
            assert!(
                tokens(source)
                    .check_personal(Some("c"), &personal, &sinks)
                    .is_ok(),
                "{source}"
            );
        }
        let action = tokens(r#"#{ notify: [#{ to: "x", message: "call " + name }] }"#);
        assert!(
            action
                .check_personal(None, &personal, &["message"])
                .is_err()
        );
    }
}
