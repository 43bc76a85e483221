//! Script errors: one kind per way a script can fail, each with a stable code, and the
//! mapping from Rhai's errors to them.

use std::fmt;

use rhai::{EvalAltResult, ParseError, ParseErrorType, Position};

/// Why a script failed. [`ScriptError::code`] gives each a stable code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ScriptErrorKind {
    /// The source does not parse (`script-syntax`).
    Syntax,
    /// A variable or case property that the policy does not declare
    /// (`script-unknown-variable`).
    UnknownVariable,
    /// A call to a function that does not exist with these argument types
    /// (`script-unknown-function`).
    UnknownFunction,
    /// A sandboxed feature: `eval`, `import`, ... (`script-forbidden`).
    Forbidden,
    /// More operations than the limit (`script-too-many-operations`).
    TooManyOperations,
    /// More wall-clock time than the limit (`script-timeout`).
    Timeout,
    /// Calls or expressions nested too deep (`script-stack-overflow`).
    StackOverflow,
    /// A string, array, map or pattern over its size limit (`script-data-too-large`).
    DataTooLarge,
    /// A value of the wrong type: a condition that is not a boolean, a malformed route
    /// or action result (`script-type-mismatch`).
    TypeMismatch,
    /// A routing script without `fn route(c)` (`script-no-route`).
    NoRoute,
    /// A personal field read into what every role sees: a route's `reason` or
    /// `tags`, an action's notification (`script-personal-data`).
    PersonalData,
    /// Any other failure while running, including `throw` (`script-runtime-error`).
    Runtime,
    /// Rhai itself panicked; the evaluation was abandoned (`script-internal`).
    Internal,
}

impl ScriptErrorKind {
    /// The stable code of this kind.
    pub fn code(self) -> &'static str {
        match self {
            ScriptErrorKind::Syntax => "script-syntax",
            ScriptErrorKind::UnknownVariable => "script-unknown-variable",
            ScriptErrorKind::UnknownFunction => "script-unknown-function",
            ScriptErrorKind::Forbidden => "script-forbidden",
            ScriptErrorKind::TooManyOperations => "script-too-many-operations",
            ScriptErrorKind::Timeout => "script-timeout",
            ScriptErrorKind::StackOverflow => "script-stack-overflow",
            ScriptErrorKind::DataTooLarge => "script-data-too-large",
            ScriptErrorKind::TypeMismatch => "script-type-mismatch",
            ScriptErrorKind::NoRoute => "script-no-route",
            ScriptErrorKind::PersonalData => "script-personal-data",
            ScriptErrorKind::Runtime => "script-runtime-error",
            ScriptErrorKind::Internal => "script-internal",
        }
    }
}

/// A script that failed to compile or to run. `line` and `column` are 1-based positions
/// inside the source text given to `compile`; `origin` names the rule or file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ScriptError {
    /// What went wrong.
    pub kind: ScriptErrorKind,
    /// A lowercase message, user input in backticks.
    pub message: String,
    /// Advice, such as "did you mean `amount`?".
    pub help: Option<String>,
    /// 1-based line inside the script source.
    pub line: Option<usize>,
    /// 1-based column inside the script source.
    pub column: Option<usize>,
    /// The rule or file the script comes from.
    pub origin: Option<String>,
}

impl ScriptError {
    /// The stable code of this error, e.g. `script-timeout`.
    pub fn code(&self) -> &'static str {
        self.kind.code()
    }

    pub(crate) fn new(kind: ScriptErrorKind, message: impl Into<String>) -> Self {
        ScriptError {
            kind,
            message: message.into(),
            help: None,
            line: None,
            column: None,
            origin: None,
        }
    }

    pub(crate) fn at(mut self, pos: Position) -> Self {
        if !pos.is_none() {
            self.line = pos.line();
            self.column = pos.position();
        }
        self
    }

    pub(crate) fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Adds "did you mean `x`?" when one of `known` is close to the misspelt `name`
    /// (the one fuzzy match, [`crate::diagnostic::did_you_mean`]).
    pub(crate) fn with_suggestion<'a>(
        self,
        name: &str,
        known: impl IntoIterator<Item = &'a str>,
    ) -> Self {
        match crate::diagnostic::did_you_mean(name, known) {
            Some(help) => self.with_help(help),
            None => self,
        }
    }

    /// Names the rule or file the script comes from, unless already named.
    pub fn with_origin(mut self, origin: &str) -> Self {
        self.origin.get_or_insert_with(|| origin.to_string());
        self
    }

    /// Maps a Rhai compile error.
    pub(crate) fn from_parse(err: &ParseError) -> Self {
        let ParseError(kind, pos) = err;
        let kind_of = match kind.as_ref() {
            ParseErrorType::VariableUndefined(_) => ScriptErrorKind::UnknownVariable,
            ParseErrorType::Reserved(word) if is_forbidden(word) => ScriptErrorKind::Forbidden,
            ParseErrorType::ExprTooDeep => ScriptErrorKind::StackOverflow,
            ParseErrorType::LiteralTooLarge(..) | ParseErrorType::TooManyFunctions => {
                ScriptErrorKind::DataTooLarge
            }
            ParseErrorType::BadInput(lex) if lex.to_string().contains("eval") => {
                ScriptErrorKind::Forbidden
            }
            _ => ScriptErrorKind::Syntax,
        };
        let message = match kind.as_ref() {
            ParseErrorType::VariableUndefined(name) => format!("unknown variable `{name}`"),
            ParseErrorType::Reserved(word) if is_forbidden(word) => {
                format!("`{word}` is not allowed in policy scripts")
            }
            other => lowercase_first(&other.to_string()),
        };
        ScriptError::new(kind_of, message).at(*pos)
    }

    /// Maps a Rhai evaluation error, looking through function-call wrappers to the
    /// innermost failure and its position.
    pub(crate) fn from_eval(err: &EvalAltResult) -> Self {
        if let EvalAltResult::ErrorInFunctionCall(_, _, inner, pos) = err {
            let mut mapped = ScriptError::from_eval(inner);
            if mapped.line.is_none() {
                mapped = mapped.at(*pos);
            }
            return mapped;
        }
        let kind = eval_kind(err);
        let message = match (kind, err) {
            (ScriptErrorKind::Timeout, _) => "the script ran past its time limit".to_string(),
            (ScriptErrorKind::TooManyOperations, _) => {
                "the script ran past its operation limit".to_string()
            }
            (_, EvalAltResult::ErrorRuntime(value, _)) => format!("the script threw `{value}`"),
            (ScriptErrorKind::TypeMismatch, EvalAltResult::ErrorFunctionNotFound(signature, _)) => {
                let (op, types) = signature.split_once(' ').unwrap_or((signature, ""));
                format!("`{op}` does not apply to {types}")
            }
            (_, EvalAltResult::ErrorParsing(parse, pos)) => {
                ScriptError::from_parse(&ParseError(Box::new(parse.clone()), *pos)).message
            }
            (_, other) => lowercase_first(&other.to_string()),
        };
        ScriptError::new(kind, strip_position(&message)).at(err.position())
    }
}

fn eval_kind(err: &EvalAltResult) -> ScriptErrorKind {
    match err {
        EvalAltResult::ErrorParsing(ParseErrorType::VariableUndefined(_), _)
        | EvalAltResult::ErrorVariableNotFound(..)
        | EvalAltResult::ErrorPropertyNotFound(..) => ScriptErrorKind::UnknownVariable,
        EvalAltResult::ErrorParsing(ParseErrorType::Reserved(word), _) if is_forbidden(word) => {
            ScriptErrorKind::Forbidden
        }
        EvalAltResult::ErrorParsing(..) => ScriptErrorKind::Syntax,
        EvalAltResult::ErrorFunctionNotFound(name, _)
            if is_forbidden(name.split(' ').next().unwrap_or("")) =>
        {
            ScriptErrorKind::Forbidden
        }
        // An operator on the wrong types (`() - 3`, `"a" * true`) is named by its symbol.
        EvalAltResult::ErrorFunctionNotFound(name, _)
            if !name.starts_with(|c: char| c.is_alphabetic() || c == '_') =>
        {
            ScriptErrorKind::TypeMismatch
        }
        EvalAltResult::ErrorFunctionNotFound(..) => ScriptErrorKind::UnknownFunction,
        EvalAltResult::ErrorModuleNotFound(..) | EvalAltResult::ErrorForbiddenVariable(..) => {
            ScriptErrorKind::Forbidden
        }
        EvalAltResult::ErrorTooManyOperations(_) => ScriptErrorKind::TooManyOperations,
        EvalAltResult::ErrorTerminated(..) => ScriptErrorKind::Timeout,
        EvalAltResult::ErrorStackOverflow(_) => ScriptErrorKind::StackOverflow,
        EvalAltResult::ErrorDataTooLarge(..)
        | EvalAltResult::ErrorTooManyVariables(_)
        | EvalAltResult::ErrorTooManyModules(_) => ScriptErrorKind::DataTooLarge,
        EvalAltResult::ErrorMismatchDataType(..) | EvalAltResult::ErrorMismatchOutputType(..) => {
            ScriptErrorKind::TypeMismatch
        }
        _ => ScriptErrorKind::Runtime,
    }
}

/// Words that name a sandboxed feature rather than a typo.
fn is_forbidden(word: &str) -> bool {
    matches!(
        word,
        "eval" | "import" | "export" | "module" | "exit" | "spawn" | "thread"
    )
}

fn lowercase_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Rhai appends ` (line 3, position 7)` to some messages; the position is in fields.
fn strip_position(message: &str) -> String {
    match message.rfind(" (line ") {
        Some(i) if message.ends_with(')') => message[..i].to_string(),
        _ => message.to_string(),
    }
}

impl std::error::Error for ScriptError {}

impl fmt::Display for ScriptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.message)?;
        if let Some(origin) = &self.origin {
            write!(f, " in {origin}")?;
        }
        match (self.line, self.column) {
            (Some(line), Some(column)) => write!(f, " at line {line}, column {column}")?,
            (Some(line), None) => write!(f, " at line {line}")?,
            _ => {}
        }
        write!(f, " [{}]", self.code())?;
        if let Some(help) = &self.help {
            write!(f, "; help: {help}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_origin_line_and_code() {
        let mut err = ScriptError::new(
            ScriptErrorKind::Timeout,
            "the script ran past its time limit",
        )
        .with_origin("routing rule 3");
        err.line = Some(2);
        assert_eq!(
            err.to_string(),
            "the script ran past its time limit in routing rule 3 at line 2 [script-timeout]"
        );
    }

    #[test]
    fn rhai_position_suffix_is_stripped() {
        assert_eq!(strip_position("oops (line 3, position 7)"), "oops");
        assert_eq!(strip_position("plain"), "plain");
    }
}
