//! The names a script may use: built-ins, declared fields and `<stage>_at`, and the
//! table that says where each one's value comes from.

use std::collections::BTreeSet;

use super::Schema;

/// The case's built-in variables every condition may use besides its fields.
pub const BUILTIN_VARIABLES: &[&str] = &[
    "stage",
    "queue",
    "priority",
    "received_at",
    "tags",
    "reopen_count",
    "now",
];

/// Built-in names a field may not take, followed by Rhai's keywords and reserved words
/// (a field named `case` or `fn` could never be read by a script). The policy layer
/// reports a field using one as an error; [`is_valid_name`] checks both rules.
pub const RESERVED_NAMES: &[&str] = &[
    // Built-in variables.
    "stage",
    "queue",
    "priority",
    "received_at",
    "tags",
    "reopen_count",
    "now",
    // Rhai keywords.
    "true",
    "false",
    "let",
    "const",
    "if",
    "else",
    "switch",
    "do",
    "while",
    "until",
    "loop",
    "for",
    "in",
    "continue",
    "break",
    "return",
    "throw",
    "try",
    "catch",
    "fn",
    "private",
    "import",
    "export",
    "as",
    "global",
    "this",
    "is",
    "Fn",
    "call",
    "curry",
    "eval",
    "print",
    "debug",
    "type_of",
    "is_shared",
    "is_def_var",
    "is_def_fn",
    // Rhai reserved words.
    "use",
    "case",
    "async",
    "await",
    "public",
    "protected",
    "package",
    "super",
    "var",
    "spawn",
    "shared",
    "sync",
    "static",
    "default",
    "thread",
    "yield",
    "new",
    "match",
    "null",
    "nil",
    "void",
    "with",
    "exit",
    "module",
    "go",
    "goto",
];

/// The built-in variables every script sees (the first entries of [`RESERVED_NAMES`]).
const BUILT_INS: &[(&str, Source)] = &[
    ("stage", Source::Stage),
    ("queue", Source::Queue),
    ("priority", Source::Priority),
    ("received_at", Source::ReceivedAt),
    ("tags", Source::Tags),
    ("reopen_count", Source::ReopenCount),
    ("now", Source::Now),
];

/// Whether `name` can be a field or stage name a script reads: an ASCII identifier
/// (`[A-Za-z_][A-Za-z0-9_]*`, not just `_`) that is not in [`RESERVED_NAMES`].
pub fn is_valid_name(name: &str) -> bool {
    is_identifier(name) && name != "_" && !RESERVED_NAMES.contains(&name)
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Where a variable's value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Source {
    Field(String),
    StageEnteredAt(String),
    Stage,
    Queue,
    Priority,
    ReceivedAt,
    Tags,
    ReopenCount,
    Now,
}

/// One variable a script may read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Variable {
    pub(crate) name: String,
    pub(crate) source: Source,
}

/// Every variable a schema makes known, in a stable order.
pub(crate) fn variables(schema: &Schema) -> Vec<Variable> {
    let built_ins = BUILT_INS.iter().map(|(name, source)| Variable {
        name: (*name).to_string(),
        source: source.clone(),
    });
    let fields = schema.fields.iter().map(|f| Variable {
        name: f.clone(),
        source: Source::Field(f.clone()),
    });
    // INVARIANT: names are distinct. `received_at` is always the receipt time (which
    // may precede entry into a `received` stage), so a stage whose `<stage>_at` would
    // be a built-in gives no variable.
    let stages = schema
        .stages
        .iter()
        .map(|s| Variable {
            name: format!("{s}_at"),
            source: Source::StageEnteredAt(s.clone()),
        })
        .filter(|v| !BUILT_INS.iter().any(|(name, _)| *name == v.name));
    built_ins.chain(fields).chain(stages).collect()
}

/// The identifiers that occur in `source`: a superset of the variables it reads (it
/// also holds function names, property names and words inside strings), which is all
/// an evaluation needs to decide which variables to supply.
pub(crate) fn identifiers(source: &str) -> BTreeSet<&str> {
    let mut found = BTreeSet::new();
    let mut start = None;
    for (i, c) in source
        .char_indices()
        .chain(std::iter::once((source.len(), ' ')))
    {
        let continues = c.is_ascii_alphanumeric() || c == '_';
        match (start, continues) {
            (None, true) => start = Some(i),
            (Some(s), false) => {
                found.insert(&source[s..i]);
                start = None;
            }
            _ => {}
        }
    }
    found
}

/// The variables of `known` that `source` may read.
pub(crate) fn referenced(known: &[Variable], source: &str) -> Vec<Variable> {
    let words = identifiers(source);
    known
        .iter()
        .filter(|v| words.contains(v.name.as_str()))
        .cloned()
        .collect()
}

impl Schema {
    /// Every variable name a script may read under this schema: the built-ins, the
    /// fields and `<stage>_at` for each stage (for help texts and suggestions).
    pub fn variable_names(&self) -> Vec<String> {
        variables(self).into_iter().map(|v| v.name).collect()
    }

    /// Problems with this schema's names, one message each: a field or stage that is
    /// not a valid name, uses a reserved name, or collides with another name (a field
    /// `decided_at` beside a stage `decided`). Empty when every name is usable.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for name in self.fields.iter().chain(&self.stages) {
            if !is_valid_name(name) {
                problems.push(format!(
                    "`{name}` cannot be used in scripts: it is reserved or not an identifier"
                ));
            }
        }
        let mut seen = BTreeSet::new();
        for v in variables(self) {
            if !seen.insert(v.name.clone()) {
                problems.push(format!("`{}` is defined twice", v.name));
            }
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn reserved_names_begin_with_the_builtin_variables() {
        assert_eq!(
            &super::RESERVED_NAMES[..super::BUILTIN_VARIABLES.len()],
            super::BUILTIN_VARIABLES
        );
    }

    use super::*;

    #[test]
    fn identifiers_are_found_whole() {
        let ids = identifiers("amount > 10000 && category == \"fraud\" && decided_at");
        assert!(ids.contains("amount"));
        assert!(ids.contains("decided_at"));
        assert!(!ids.contains("decided"));
    }

    #[test]
    fn reserved_and_invalid_names_are_rejected() {
        for bad in ["case", "stage", "now", "9lives", "", "名字", "_"] {
            assert!(!is_valid_name(bad), "`{bad}` should be invalid");
        }
        assert!(is_valid_name("amount"));
    }

    #[test]
    fn schema_reports_collisions() {
        let schema = Schema {
            fields: vec!["decided_at".into(), "case".into()],
            stages: vec!["decided".into()],
            personal: Vec::new(),
        };
        assert_eq!(schema.problems().len(), 2, "{:?}", schema.problems());
    }

    #[test]
    fn a_received_stage_leaves_received_at_the_receipt_time() {
        let schema = Schema {
            fields: vec![],
            stages: vec!["received".into(), "decided".into()],
            personal: Vec::new(),
        };
        let names = schema.variable_names();
        assert_eq!(names.iter().filter(|n| *n == "received_at").count(), 1);
        assert!(names.contains(&"decided_at".to_string()));
        assert!(schema.problems().is_empty(), "{:?}", schema.problems());
    }
}
