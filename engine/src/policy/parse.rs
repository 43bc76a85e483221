//! Reading a policy file into its raw sections, reporting every problem found.
//!
//! The TOML is parsed once (recovering from syntax errors), then each section and
//! each entry is deserialized on its own: a typo in one transition does not hide
//! the problems in the next one.

use std::collections::BTreeSet;
use std::ops::Range;

use indexmap::IndexMap;
use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

use super::locate::Locator;
use super::raw::{
    RawCalendar, RawComplainant, RawField, RawHeader, RawRouting, RawScenario, RawSla, RawStage,
    RawTransition,
};
use crate::diagnostic::{Diagnostic, SourceId, Sources, did_you_mean};

/// The top-level keys of a policy file.
pub(crate) const SECTIONS: &[&str] = &[
    "policy",
    "roles",
    "queues",
    "calendars",
    "fields",
    "stages",
    "transitions",
    "slas",
    "routing",
    "complainant",
    "tests",
];

/// What a policy file says, section by section. Entries that could not be read are
/// left out, and their names remembered in [`Damaged`], so that later checks do not
/// pile spurious errors on top of the real one.
#[derive(Default)]
pub(crate) struct Document {
    pub header: Option<RawHeader>,
    pub roles: IndexMap<String, String>,
    pub queues: IndexMap<String, String>,
    pub calendars: IndexMap<String, RawCalendar>,
    pub fields: IndexMap<String, RawField>,
    pub stages: IndexMap<String, RawStage>,
    /// Each transition with its index in the file.
    pub transitions: Vec<(usize, RawTransition)>,
    pub slas: IndexMap<String, RawSla>,
    pub routing: Option<RawRouting>,
    pub complainant: Option<RawComplainant>,
    /// Each test with its index in the file.
    pub tests: Vec<(usize, RawScenario)>,
    pub damaged: Damaged,
}

/// Names of entries that could not be read.
#[derive(Default)]
pub(crate) struct Damaged {
    /// `section.name` of every damaged map entry.
    pub names: BTreeSet<String>,
    /// A stage or transition is damaged: graph checks would mislead.
    pub graph: bool,
}

impl Damaged {
    pub(crate) fn has(&self, section: &str, name: &str) -> bool {
        self.names.contains(&format!("{section}.{name}"))
    }
}

/// Reads one file of TOML into its tree, reporting every syntax error.
pub(crate) fn parse_toml<'i>(
    text: &'i str,
    source: SourceId,
    sources: &Sources,
    diags: &mut Vec<Diagnostic>,
) -> Locator<'i> {
    let (table, errors) = DeTable::parse_recoverable(text);
    for error in errors {
        let span = error.span().unwrap_or(0..0);
        let d = toml_error(&error, "the file", span, source, sources);
        diags.push(d);
    }
    Locator::new(table)
}

/// Splits a parsed policy file into its sections.
pub(crate) fn read_document(
    locator: &Locator<'_>,
    source: SourceId,
    sources: &Sources,
    diags: &mut Vec<Diagnostic>,
) -> Document {
    let mut reader = Reader {
        source,
        sources,
        diags,
    };
    let mut doc = Document::default();
    let Some(top) = locator.root().get_ref().as_table() else {
        return doc;
    };
    for (key, value) in top.iter() {
        reader.section(&mut doc, key, value);
    }
    if doc.header.is_none() && !top.is_empty() {
        let d = Diagnostic::error("missing-key", "the policy has no `[policy]` table")
            .at(sources.locate(source, 0..0))
            .with_help(
                "start the file with `[policy]` and its `id`, `name`, `version` and `timezone`",
            );
        reader.diags.push(d);
    }
    doc
}

/// What a test file says: the policy it tests (with the span of its name) and
/// its tests.
pub(crate) struct TestDocument {
    pub policy: Option<(String, Range<usize>)>,
    pub tests: Vec<(usize, RawScenario)>,
}

/// Reads a test file: `policy = "../bank.toml"` and `[[tests]]`.
pub(crate) fn read_test_document(
    locator: &Locator<'_>,
    source: SourceId,
    sources: &Sources,
    diags: &mut Vec<Diagnostic>,
) -> TestDocument {
    let mut reader = Reader {
        source,
        sources,
        diags,
    };
    let mut out = TestDocument {
        policy: None,
        tests: Vec::new(),
    };
    let Some(top) = locator.root().get_ref().as_table() else {
        return out;
    };
    let mut damaged = Damaged::default();
    for (key, value) in top.iter() {
        match key.get_ref().as_ref() {
            "policy" => match value.get_ref().as_str() {
                Some(p) => out.policy = Some((p.to_string(), value.span())),
                None => reader.wrong_shape(
                    value.span(),
                    "`policy`",
                    "the path of the policy under test",
                ),
            },
            "tests" => out.tests = reader.list(value, "test", &mut damaged),
            other => {
                let d = Diagnostic::error(
                    "unknown-key",
                    format!("unknown key `{other}` in a test file"),
                )
                .at(sources.locate(source, key.span()))
                .with_help_opt(did_you_mean(other, ["policy", "tests"]));
                reader.diags.push(d);
            }
        }
    }
    if out.policy.is_none() {
        let d = Diagnostic::error(
            "missing-key",
            "a test file needs `policy = \"path/to/policy.toml\"`",
        )
        .at(sources.locate(source, 0..0));
        reader.diags.push(d);
    }
    out
}

struct Reader<'a> {
    source: SourceId,
    sources: &'a Sources,
    diags: &'a mut Vec<Diagnostic>,
}

impl Reader<'_> {
    fn section(
        &mut self,
        doc: &mut Document,
        key: &Spanned<std::borrow::Cow<'_, str>>,
        value: &Spanned<DeValue<'_>>,
    ) {
        let name = key.get_ref().as_ref();
        match name {
            "policy" => doc.header = self.one(value, "`[policy]`"),
            "roles" => doc.roles = self.map(value, "roles", &mut doc.damaged),
            "queues" => doc.queues = self.map(value, "queues", &mut doc.damaged),
            "calendars" => doc.calendars = self.map(value, "calendars", &mut doc.damaged),
            "fields" => doc.fields = self.map(value, "fields", &mut doc.damaged),
            "stages" => doc.stages = self.map(value, "stages", &mut doc.damaged),
            "slas" => doc.slas = self.map(value, "slas", &mut doc.damaged),
            "transitions" => doc.transitions = self.list(value, "transition", &mut doc.damaged),
            "tests" => doc.tests = self.list(value, "test", &mut doc.damaged),
            "routing" => doc.routing = self.one(value, "`[routing]`"),
            "complainant" => doc.complainant = self.one(value, "`[complainant]`"),
            other => {
                let d = Diagnostic::error("unknown-key", format!("unknown section `{other}`"))
                    .at(self.sources.locate(self.source, key.span()))
                    .with_help_opt(did_you_mean(other, SECTIONS.iter().copied()))
                    .with_label("not part of the policy format");
                self.diags.push(d);
            }
        }
        if doc.damaged.names.iter().any(|n| n.starts_with("stages.")) {
            doc.damaged.graph = true;
        }
    }

    fn one<T: DeserializeOwned>(&mut self, value: &Spanned<DeValue<'_>>, what: &str) -> Option<T> {
        T::deserialize(ValueDeserializer::from(value.clone()))
            .map_err(|e| {
                let d = toml_error(&e, what, value.span(), self.source, self.sources);
                self.diags.push(d);
            })
            .ok()
    }

    fn map<T: DeserializeOwned>(
        &mut self,
        value: &Spanned<DeValue<'_>>,
        section: &str,
        damaged: &mut Damaged,
    ) -> IndexMap<String, T> {
        let Some(table) = value.get_ref().as_table() else {
            let what = format!("`[{section}]`");
            self.wrong_shape(value.span(), &what, "a table");
            return IndexMap::new();
        };
        let mut out = IndexMap::new();
        for (key, entry) in table.iter() {
            let name = key.get_ref().to_string();
            let what = format!("`{section}.{name}`");
            match self.one::<T>(entry, &what) {
                Some(v) => {
                    out.insert(name, v);
                }
                None => {
                    damaged.names.insert(format!("{section}.{name}"));
                }
            }
        }
        out
    }

    fn list<T: DeserializeOwned>(
        &mut self,
        value: &Spanned<DeValue<'_>>,
        what: &str,
        damaged: &mut Damaged,
    ) -> Vec<(usize, T)> {
        let Some(array) = value.get_ref().as_array() else {
            self.wrong_shape(value.span(), what, "an array of tables (`[[...]]`)");
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, entry) in array.iter().enumerate() {
            match self.one::<T>(entry, &format!("{what} #{}", i + 1)) {
                Some(v) => out.push((i, v)),
                None => damaged.graph |= what == "transition",
            }
        }
        out
    }

    fn wrong_shape(&mut self, span: Range<usize>, what: &str, expected: &str) {
        let d = Diagnostic::error("wrong-type", format!("{what} must be {expected}"))
            .at(self.sources.locate(self.source, span));
        self.diags.push(d);
    }
}

/// Turns a TOML or serde error into a diagnostic with a stable code.
pub(crate) fn toml_error(
    error: &toml::de::Error,
    what: &str,
    fallback: Range<usize>,
    source: SourceId,
    sources: &Sources,
) -> Diagnostic {
    let message = error.message().trim_end_matches('\n');
    let span = error.span().unwrap_or(fallback);
    let location = sources.locate(source, span);
    let diagnostic = if let Some(rest) = message.strip_prefix("unknown field ") {
        let (name, expected) = split_expected(rest);
        Diagnostic::error("unknown-key", format!("unknown key {name} in {what}"))
            .with_help_opt(suggest(name, &expected))
            .with_label("not a key here")
    } else if let Some(rest) = message.strip_prefix("missing field ") {
        Diagnostic::error("missing-key", format!("{what} is missing {rest}"))
    } else if let Some(rest) = message.strip_prefix("unknown variant ") {
        let (name, expected) = split_expected(rest);
        let help = suggest(name, &expected).or_else(|| Some(list_expected(&expected)));
        Diagnostic::error("wrong-type", format!("{name} is not allowed in {what}"))
            .with_help_opt(help)
    } else if message.contains("untagged enum OneOrMany") {
        Diagnostic::error(
            "wrong-type",
            format!("expected a name or a list of names in {what}"),
        )
    } else if message.starts_with("invalid type") || message.starts_with("invalid value") {
        Diagnostic::error("wrong-type", format!("{message} in {what}"))
    } else if message.starts_with("duplicate key") {
        Diagnostic::error(
            "duplicate-name",
            format!("{message}: this name is already used"),
        )
        .with_help("each stage, field, SLA and calendar needs a name of its own")
    } else {
        Diagnostic::error("toml-syntax", message.to_string())
    };
    diagnostic.at(location)
}

/// Splits "`form`, expected one of `on`, `from`" into the name and the list.
fn split_expected(rest: &str) -> (&str, Vec<&str>) {
    let (name, tail) = rest.split_once(", expected").unwrap_or((rest, ""));
    let expected = tail.split('`').skip(1).step_by(2).collect::<Vec<_>>();
    (name, expected)
}

fn suggest(name: &str, expected: &[&str]) -> Option<String> {
    did_you_mean(name.trim_matches('`'), expected.iter().copied())
}

fn list_expected(expected: &[&str]) -> String {
    let words: Vec<String> = expected.iter().map(|e| format!("`{e}`")).collect();
    format!("expected one of {}", words.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> (Document, Vec<Diagnostic>) {
        let mut sources = Sources::new();
        let id = sources.add("p.toml", text);
        let mut diags = Vec::new();
        let locator = parse_toml(text, id, &sources, &mut diags);
        let doc = read_document(&locator, id, &sources, &mut diags);
        (doc, diags)
    }

    #[test]
    fn one_bad_transition_does_not_hide_another() {
        let text = "[policy]\nid='a'\nname='a'\nversion='1'\ntimezone='UTC'\n\n[[transitions]]\non='x'\nform='a'\nto='b'\n\n[[transitions]]\non='y'\nfrom='a'\n";
        let (doc, diags) = read(text);
        let codes: Vec<_> = diags.iter().map(|d| d.code).collect();
        assert_eq!(codes, ["unknown-key", "missing-key"]);
        assert_eq!(diags[0].help.as_deref(), Some("did you mean `from`?"));
        assert_eq!(diags[0].location.as_ref().map(|l| l.line), Some(9));
        assert!(doc.transitions.is_empty());
        assert!(doc.damaged.graph);
    }

    #[test]
    fn unknown_sections_are_named() {
        let (_, diags) = read("[policy]\nid='a'\nname='a'\nversion='1'\ntimezone='UTC'\n[stage]\n");
        assert_eq!(diags[0].code, "unknown-key");
        assert_eq!(diags[0].help.as_deref(), Some("did you mean `stages`?"));
    }

    #[test]
    fn syntax_errors_have_lines() {
        let (_, diags) = read("[policy]\nid = \n");
        assert_eq!(diags[0].code, "toml-syntax");
        assert_eq!(diags[0].location.as_ref().map(|l| l.line), Some(2));
    }
}
