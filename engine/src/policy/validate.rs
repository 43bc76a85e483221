//! Validation: from what a policy file says ([`Document`]) to a [`Policy`] that is
//! known to be sound, collecting every problem on the way.
//!
//! Each part of the policy has its own file below `validate/`; they share the
//! [`Validator`], which knows how to point a diagnostic at the right line.

mod calendars;
mod complainant;
mod fields;
mod reporting;
mod routing;
pub(crate) use calendars::data_diagnostic;
mod scenarios;
mod slas;
mod stages;
mod transitions;

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

use chrono_tz::Tz;
use indexmap::IndexMap;

use super::Policy;
use super::files::PolicyFiles;
use super::locate::{Locator, Seg};
use super::parse::Document;
use crate::diagnostic::{Code, Diagnostic, Location, SourceId, Sources, did_you_mean};
use crate::script::{Condition, Schema, ScriptEngine, ScriptError, ScriptErrorKind};

/// Everything validation needs to point at the right place.
pub(crate) struct Validator<'a, 'i> {
    pub doc: &'a Document,
    pub locator: &'a Locator<'i>,
    pub source: SourceId,
    pub sources: &'a mut Sources,
    pub diags: &'a mut Vec<Diagnostic>,
    /// Where includes are read from (relative to its folder).
    pub files: &'a dyn PolicyFiles,
    pub engine: Arc<ScriptEngine>,
    pub schema: Schema,
    /// Some stage or transition could not be read or resolved: checks over the whole
    /// graph would report the consequences of that one problem, so they are skipped.
    pub graph_incomplete: bool,
    /// "Today", for the warning about calendar data that runs out; `None` skips it.
    pub as_of: Option<chrono::NaiveDate>,
}

impl Validator<'_, '_> {
    /// The location of the value at a path in the policy file.
    pub fn at(&self, path: &[Seg<'_>]) -> Location {
        self.sources
            .locate(self.source, self.locator.value_span(path))
    }

    /// The location of the last key of a path.
    pub fn key_at(&self, path: &[Seg<'_>]) -> Location {
        self.sources
            .locate(self.source, self.locator.key_span(path))
    }

    /// Every event name the policy declares, including those of transitions that
    /// failed validation: their problem is reported once, not again at every use.
    pub fn event_names(&self, transitions: &[super::Transition]) -> Vec<String> {
        let declared = self.doc.transitions.iter().map(|(_, t)| t.on.clone());
        let valid = transitions.iter().map(|t| t.event.clone());
        let all: std::collections::BTreeSet<String> = declared.chain(valid).collect();
        all.into_iter().collect()
    }

    /// Records a problem.
    pub fn report(&mut self, diagnostic: Diagnostic) {
        self.diags.push(diagnostic);
    }

    /// Reports `name` as unknown unless it is one of `known`.
    pub fn check_known<'k>(
        &mut self,
        code: Code,
        what: &str,
        name: &str,
        known: impl Iterator<Item = &'k str> + Clone,
        path: &[Seg<'_>],
    ) -> bool {
        if known.clone().any(|k| k == name) {
            return true;
        }
        let d = Diagnostic::error(code, format!("unknown {what} `{name}`"))
            .at(self.at(path))
            .with_help_opt(did_you_mean(name, known))
            .with_label(format!("no {what} has this name"));
        self.report(d);
        false
    }

    /// Compiles a condition, reporting where in the TOML it fails.
    pub fn condition(&mut self, source: &str, path: &[Seg<'_>]) -> Option<Condition> {
        match Condition::compile(&self.engine, source, &self.schema) {
            Ok(c) => Some(c),
            Err(e) => {
                let d = self.script_diagnostic(&e, path, Code::ConditionSyntax);
                self.report(d);
                None
            }
        }
    }

    /// A diagnostic for a script error inside a TOML string, pointing at the line and
    /// column inside the string where the script failed.
    fn script_diagnostic(
        &self,
        e: &ScriptError,
        path: &[Seg<'_>],
        syntax_code: Code,
    ) -> Diagnostic {
        let value = self.at(path);
        let location = match (e.line, e.column) {
            (Some(line), Some(column)) => {
                let quote = self.quote_width(&value);
                let first_col = if line == 1 { value.column + quote } else { 1 };
                let line = value.line + line - 1
                    + usize::from(quote == 3 && self.starts_with_newline(&value));
                let offset = self
                    .sources
                    .offset_of(self.source, line, first_col + column - 1);
                self.sources.locate(self.source, offset..offset + 1)
            }
            _ => value,
        };
        Diagnostic::error(script_code(e, syntax_code), e.message.clone())
            .at(location)
            .with_help_opt(self.script_help(e))
    }

    fn quote_width(&self, value: &Location) -> usize {
        let text = self.sources.text(self.source);
        let rest = text.get(value.span.start..).unwrap_or("");
        if rest.starts_with("'''") || rest.starts_with("\"\"\"") {
            3
        } else {
            1
        }
    }

    fn starts_with_newline(&self, value: &Location) -> bool {
        let text = self.sources.text(self.source);
        text.get(value.span.start + 3..)
            .is_some_and(|r| r.starts_with('\n') || r.starts_with("\r\n"))
    }

    fn script_help(&self, e: &ScriptError) -> Option<String> {
        e.help.clone().or_else(|| {
            (e.kind == ScriptErrorKind::UnknownVariable)
                .then(|| format!("conditions can use the fields declared under `[fields]`, `<stage>_at` for each stage, and {}", builtins_text()))
        })
    }
}

fn builtins_text() -> String {
    crate::script::BUILTIN_VARIABLES
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn script_code(e: &ScriptError, syntax_code: Code) -> Code {
    match e.kind {
        ScriptErrorKind::Syntax => syntax_code,
        ScriptErrorKind::UnknownVariable => Code::ScriptUnknownVariable,
        ScriptErrorKind::UnknownFunction => Code::ScriptUnknownFunction,
        ScriptErrorKind::PersonalData => Code::ScriptPersonalData,
        _ => Code::ScriptError,
    }
}

impl<'a, 'i> Validator<'a, 'i> {
    /// A validator for a test file's scenarios against an already loaded policy.
    pub(crate) fn for_tests(
        doc: &'a Document,
        locator: &'a Locator<'i>,
        source: SourceId,
        sources: &'a mut Sources,
        diags: &'a mut Vec<Diagnostic>,
        files: &'a dyn PolicyFiles,
        policy: &Policy,
    ) -> Self {
        let schema = Schema {
            fields: policy.fields.keys().cloned().collect(),
            stages: policy.stages.keys().cloned().collect(),
            personal: (policy.fields.iter())
                .filter(|(_, f)| f.personal)
                .map(|(name, _)| name.clone())
                .collect(),
        };
        Validator {
            doc,
            locator,
            source,
            sources,
            diags,
            files,
            engine: policy.scripts.clone(),
            schema,
            graph_incomplete: false,
            as_of: None,
        }
    }
}

/// Where a policy's includes are read from, and the "today" of its checks.
pub(crate) struct Origin<'a> {
    /// Where the policy and its includes are read from.
    pub files: &'a dyn PolicyFiles,
    /// "Today", for the warning about calendar data that runs out.
    pub as_of: Option<chrono::NaiveDate>,
}

/// Validates a document read from `file`. Returns the policy when no error was
/// found; the diagnostics (errors and warnings) either way.
pub(crate) fn validate(
    doc: &Document,
    locator: &Locator<'_>,
    source: SourceId,
    sources: &mut Sources,
    diags: &mut Vec<Diagnostic>,
    from: Origin<'_>,
) -> Option<Policy> {
    let Origin { files, as_of } = from;
    let schema = Schema {
        fields: doc.fields.keys().cloned().collect(),
        stages: doc.stages.keys().cloned().collect(),
        personal: (doc.fields.iter())
            .filter(|(_, f)| f.personal)
            .map(|(name, _)| name.clone())
            .collect(),
    };
    let engine = Arc::new(ScriptEngine::new(Default::default()));
    let mut v = Validator {
        doc,
        locator,
        source,
        sources,
        diags,
        files,
        engine,
        schema,
        graph_incomplete: doc.damaged.graph,
        as_of,
    };
    let header = doc.header.as_ref();
    let timezone = header
        .and_then(|h| v.timezone(&h.timezone, &super::locate::at_path!["policy", "timezone"]));
    let fields = v.fields();
    let stages = v.stages();
    let transitions = v.transitions(&fields);
    let mut graph = v.graph(&stages, &transitions);
    let calendars = v.calendars(timezone);
    let slas = v.slas(&calendars, &transitions, &graph);
    v.data_reach(&calendars.calendars, &slas);
    add_sla_spans(&mut graph, &slas, &transitions);
    let routing = v.routing(&fields);
    v.check_queue_references(&routing, &slas);
    let scenarios = v.scenarios(&fields, &slas, &transitions);
    let reporting = v.reporting(&fields, &slas, routing.as_ref());
    let complainant = v.complainant(&stages, &slas);
    let migration_stages = v.migration();
    // Any error at all, from parsing or from validation, refuses the policy.
    if v.diags.iter().any(Diagnostic::is_error) {
        return None;
    }
    let header = header?;
    Some(Policy {
        id: header.id.clone(),
        name: header.name.clone(),
        version: header.version.clone(),
        regulation: header
            .regulation
            .as_ref()
            .map(|r| r.as_slice().to_vec())
            .unwrap_or_default(),
        description: header.description.clone(),
        timezone: timezone?,
        hash: String::new(),
        files: Vec::new(),
        sources: Arc::from(Vec::new()),
        roles: doc.roles.clone(),
        queues: doc.queues.clone(),
        calendars: calendars.calendars,
        default_calendar: calendars.default,
        fields,
        stages,
        transitions,
        slas,
        routing: routing?,
        complainant,
        scenarios,
        graph,
        scripts: v.engine.clone(),
        migration_stages,
        reporting,
    })
}

impl Validator<'_, '_> {
    /// `[migration] stages`: every new name must be a stage of this version (the
    /// old names belong to earlier versions and are not checked).
    fn migration(&mut self) -> IndexMap<String, String> {
        let Some(m) = &self.doc.migration else {
            return IndexMap::new();
        };
        let stages: Vec<String> = self.doc.stages.keys().cloned().collect();
        for (old, new) in &m.stages {
            let path = [Seg::Key("migration"), Seg::Key("stages"), Seg::Key(old)];
            self.check_known(
                Code::UnknownStage,
                "stage",
                new,
                stages.iter().map(String::as_str),
                &path,
            );
        }
        m.stages.clone()
    }

    /// Warns of every calendar whose firm data ends within reach of today (when
    /// validation was given a today).
    fn data_reach(
        &mut self,
        calendars: &IndexMap<String, Arc<crate::calendar::Calendar>>,
        slas: &super::Names<super::Sla>,
    ) {
        let Some(today) = self.as_of else { return };
        for w in super::data_reach::data_runs_out(calendars, slas, today) {
            let path = [
                Seg::Key("calendars"),
                Seg::Key(&w.calendar),
                Seg::Key("include"),
            ];
            let help = format!(
                "add the data file for the days after {} to `include` (docs/policy-format.md, \"When calendar data runs out\"), then move running cases onto it with `redress migrate --to current`",
                w.firm_until
            );
            let d = Diagnostic::warning(Code::CalendarDataEnds, w.to_string())
                .at(self.at(&path))
                .with_help(help);
            self.report(d);
        }
    }

    /// Reads an IANA time zone name.
    pub fn timezone(&mut self, name: &str, path: &[Seg<'_>]) -> Option<Tz> {
        match Tz::from_str(name) {
            Ok(tz) => Some(tz),
            Err(_) => {
                let names = chrono_tz::TZ_VARIANTS.iter().map(|t| t.name());
                let d =
                    Diagnostic::error(Code::UnknownTimezone, format!("unknown time zone `{name}`"))
                        .at(self.at(path))
                        .with_help_opt(did_you_mean(name, names))
                        .with_help_opt(Some(
                            "use an IANA name such as `Asia/Shanghai` or `Europe/London`".into(),
                        ));
                self.report(d);
                None
            }
        }
    }

    /// Reads a file included by the policy, relative to the policy's folder.
    pub fn include(&mut self, file: &str, path: &[Seg<'_>]) -> Option<(SourceId, String)> {
        let full = normalized(&self.files.dir().join(file));
        match self.files.include(&full) {
            Ok(text) => {
                let id = self.sources.add(full.display().to_string(), text.clone());
                Some((id, text))
            }
            Err(e) => {
                let d =
                    Diagnostic::error(Code::MissingInclude, format!("cannot read `{file}`: {e}"))
                        .at(self.at(path))
                        .with_help(format!(
                            "the path is relative to the policy file's folder: `{}`",
                            full.display()
                        ));
                self.report(d);
                None
            }
        }
    }
}

/// Draws each SLA on the graph from the stages that start it to those that stop it
/// (an event counts as the stages its transitions enter).
fn add_sla_spans(
    graph: &mut super::StageGraph,
    slas: &super::Names<super::Sla>,
    transitions: &[super::Transition],
) {
    let stages_of = |triggers: &[super::Trigger]| -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for t in triggers {
            let names: Vec<String> = match t {
                super::Trigger::Enter(s) => vec![s.clone()],
                super::Trigger::Event(e) => transitions
                    .iter()
                    .filter(|t| &t.event == e)
                    .map(|t| t.to.clone())
                    .collect(),
            };
            for n in names {
                if !out.contains(&n) {
                    out.push(n);
                }
            }
        }
        out
    };
    for sla in slas.values() {
        graph.add_sla(super::stage_graph::SlaSpan {
            name: sla.name.clone(),
            target: sla.rule.target.to_string(),
            starts: stages_of(&sla.start),
            stops: stages_of(&sla.stop),
        });
    }
}

/// `policies/tests/../scripts/x.rhai` as `policies/scripts/x.rhai`, lexically, so
/// that messages and explanations name files the way people would.
fn normalized(path: &Path) -> std::path::PathBuf {
    use std::path::Component;
    let mut out = std::path::PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir
                if matches!(out.components().next_back(), Some(Component::Normal(_))) =>
            {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}
