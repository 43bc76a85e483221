//! Transitions: their stages, events, guards, required fields, roles and actions.

use crate::policy::Names;

use super::Validator;
use crate::calendar::SlaDuration;
use crate::diagnostic::{Code, Diagnostic};
use crate::policy::field::FieldDef;
use crate::policy::locate::Seg;
use crate::policy::raw::{RawAction, RawTransition};
use crate::policy::{Action, Transition};
use crate::script::ActionScript;

impl Validator<'_, '_> {
    pub(super) fn transitions(&mut self, fields: &Names<FieldDef>) -> Vec<Transition> {
        let raws: Vec<(usize, &RawTransition)> =
            self.doc.transitions.iter().map(|(i, t)| (*i, t)).collect();
        let read = raws.len();
        let out: Vec<Transition> = raws
            .into_iter()
            .filter_map(|(i, raw)| self.transition(i, raw, fields))
            .collect();
        self.graph_incomplete |= out.len() < read;
        self.check_ambiguous(&out);
        out
    }

    fn transition(
        &mut self,
        index: usize,
        raw: &RawTransition,
        fields: &Names<FieldDef>,
    ) -> Option<Transition> {
        let at = |key: &'static str| [Seg::Key("transitions"), Seg::Index(index), Seg::Key(key)];
        let from = self.transition_from(index, raw);
        let stage_names: Vec<String> = self.doc.stages.keys().cloned().collect();
        let to_known = self.doc.damaged.has("stages", &raw.to)
            || self.check_known(
                Code::UnknownStage,
                "stage",
                &raw.to,
                stage_names.iter().map(String::as_str),
                &at("to"),
            );
        let guard = raw.when.as_ref().map(|w| self.condition(w, &at("when")));
        for (i, field) in raw.requires.iter().enumerate() {
            let p = [
                Seg::Key("transitions"),
                Seg::Index(index),
                Seg::Key("requires"),
                Seg::Index(i),
            ];
            self.known_field(field, fields, &p);
        }
        self.check_roles(
            &raw.roles,
            &[
                Seg::Key("transitions"),
                Seg::Index(index),
                Seg::Key("roles"),
            ],
        );
        let actions = self.actions(index, &raw.actions, fields);
        let after = raw
            .after
            .as_ref()
            .and_then(|a| self.duration(a, &at("after")));
        if raw.automatic && raw.when.is_none() {
            let d = Diagnostic::error(
                Code::InvalidValue,
                "an `automatic` transition needs a `when` condition to wait for",
            )
            .at(self.at(&at("automatic")))
            .with_help("use `after = \"7 days\"` for a transition taken after a delay");
            self.report(d);
        }
        Some(Transition {
            index,
            event: raw.on.clone(),
            from: from?,
            from_any: raw.from.as_slice() == ["*"],
            to: raw.to.clone(),
            closes: self.doc.stages.get(&raw.to).is_some_and(|s| s.terminal),
            guard: guard.flatten(),
            requires: raw.requires.clone(),
            roles: raw.roles.clone(),
            actions: actions?,
            after,
            automatic: raw.automatic,
            reopens: raw.reopens,
            description: raw.description.clone(),
        })
        .filter(|_| to_known)
    }

    /// The stages a transition may leave; `"*"` is every non-terminal stage.
    fn transition_from(&mut self, index: usize, raw: &RawTransition) -> Option<Vec<String>> {
        let names = raw.from.as_slice();
        if names == ["*"] {
            return Some(
                self.doc
                    .stages
                    .iter()
                    .filter(|(_, s)| !s.terminal)
                    .map(|(n, _)| n.clone())
                    .collect(),
            );
        }
        let stage_names: Vec<String> = self.doc.stages.keys().cloned().collect();
        let mut ok = true;
        for (i, name) in names.iter().enumerate() {
            let path = match &raw.from {
                crate::policy::raw::OneOrMany::One(_) => {
                    vec![Seg::Key("transitions"), Seg::Index(index), Seg::Key("from")]
                }
                crate::policy::raw::OneOrMany::Many(_) => vec![
                    Seg::Key("transitions"),
                    Seg::Index(index),
                    Seg::Key("from"),
                    Seg::Index(i),
                ],
            };
            if self.doc.damaged.has("stages", name) {
                continue;
            }
            if !self.check_known(
                Code::UnknownStage,
                "stage",
                name,
                stage_names.iter().map(String::as_str),
                &path,
            ) {
                ok = false;
            } else if self.doc.stages.get(name).is_some_and(|s| s.terminal) {
                let d = Diagnostic::error(Code::TransitionFromTerminal, format!("transition `{}` leaves `{name}`, which is terminal", raw.on))
                    .at(self.at(&path))
                    .with_help("a terminal stage ends the case; to let a case be reopened, make the stage non-terminal");
                self.report(d);
            }
        }
        ok.then(|| names.to_vec())
    }

    pub(super) fn known_field(
        &mut self,
        name: &str,
        fields: &Names<FieldDef>,
        path: &[Seg<'_>],
    ) -> bool {
        self.doc.damaged.has("fields", name)
            || self.check_known(
                Code::UnknownField,
                "field",
                name,
                fields.keys().map(String::as_str),
                path,
            )
    }

    pub(super) fn check_roles(&mut self, roles: &[String], path: &[Seg<'_>]) {
        let known: Vec<String> = self.doc.roles.keys().cloned().collect();
        for (i, role) in roles.iter().enumerate() {
            let mut p = path.to_vec();
            p.push(Seg::Index(i));
            self.check_known(
                Code::UnknownRole,
                "role",
                role,
                known.iter().map(String::as_str),
                &p,
            );
        }
    }

    /// Reads a duration (`15 days`), reporting a bad one.
    pub(super) fn duration(&mut self, text: &str, path: &[Seg<'_>]) -> Option<SlaDuration> {
        match text.parse::<SlaDuration>() {
            Ok(d) => Some(d),
            Err(e) => {
                let d = Diagnostic::error(Code::InvalidDuration, e.to_string())
                    .at(self.at(path))
                    .with_help_opt(e.help.clone())
                    .with_help_opt(Some("write a number and a unit: `24 hours`, `4 business hours`, `15 days`, `8 weeks`, `6 months`, `3 business days`".into()));
                self.report(d);
                None
            }
        }
    }

    fn actions(
        &mut self,
        index: usize,
        raws: &[RawAction],
        fields: &Names<FieldDef>,
    ) -> Option<Vec<Action>> {
        let mut out = Vec::new();
        let mut ok = true;
        for (i, raw) in raws.iter().enumerate() {
            let path = [
                Seg::Key("transitions"),
                Seg::Index(index),
                Seg::Key("actions"),
                Seg::Index(i),
            ];
            match self.action(raw, &path, fields) {
                Some(a) => out.push(a),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn action(
        &mut self,
        raw: &RawAction,
        path: &[Seg<'_>],
        fields: &Names<FieldDef>,
    ) -> Option<Action> {
        let kinds = [
            raw.set.is_some(),
            raw.notify.is_some(),
            raw.tag.is_some(),
            raw.script.is_some(),
        ];
        if kinds.iter().filter(|k| **k).count() != 1
            || (raw.message.is_some() && raw.notify.is_none())
        {
            let d = Diagnostic::error(Code::InvalidAction, "an action is exactly one of `set`, `notify` (with an optional `message`), `tag`, `script`")
                .at(self.at(path));
            self.report(d);
            return None;
        }
        if let Some(set) = &raw.set {
            let p = [path, &[Seg::Key("set")]].concat();
            return self.field_values(set, &p, fields).map(Action::Set);
        }
        if let Some(to) = &raw.notify {
            return Some(Action::Notify {
                to: to.clone(),
                message: raw.message.clone(),
            });
        }
        if let Some(tag) = &raw.tag {
            return Some(Action::Tag(tag.clone()));
        }
        let source = raw.script.as_deref().unwrap_or_default();
        let mut p = path.to_vec();
        p.push(Seg::Key("script"));
        match ActionScript::compile(&self.engine, source, "action", &self.schema) {
            Ok(s) => Some(Action::Script(s)),
            Err(e) => {
                let d = self.script_diagnostic(&e, &p, Code::ConditionSyntax);
                self.report(d);
                None
            }
        }
    }

    /// Two unguarded transitions on the same event from the same stage: which one
    /// should a case take?
    fn check_ambiguous(&mut self, transitions: &[Transition]) {
        for (i, a) in transitions.iter().enumerate() {
            for b in transitions.iter().skip(i + 1) {
                if a.event != b.event || a.guard.is_some() || b.guard.is_some() {
                    continue;
                }
                let Some(stage) = a.from.iter().find(|s| b.from.contains(s)) else {
                    continue;
                };
                let path = [Seg::Key("transitions"), Seg::Index(b.index)];
                let d = Diagnostic::error(
                    Code::AmbiguousTransition,
                    format!(
                        "event `{}` from stage `{stage}` already has an unguarded transition (#{})",
                        a.event,
                        a.index + 1
                    ),
                )
                .at(self.at(&path))
                .with_help("give one of them a `when` condition, or merge them");
                self.report(d);
            }
        }
    }
}
