//! Scenario tests: their shape, and every name in them checked against the policy.

use crate::policy::Names;
use std::collections::BTreeSet;

use chrono::{DateTime, FixedOffset};
use indexmap::IndexMap;

use super::Validator;
use crate::diagnostic::{Code, Diagnostic, did_you_mean};
use crate::policy::field::FieldDef;
use crate::policy::locate::Seg;
use crate::policy::raw::{RawExpect, RawScenario, RawStep};
use crate::policy::scenario::{
    Actor, Expect, ScenarioSpec, Step, StepAction, expectable_clock_states,
};
use crate::policy::{Scenario, Sla, Transition};

/// The names a scenario may refer to.
struct Known {
    events: Vec<String>,
    slas: Vec<String>,
}

impl Validator<'_, '_> {
    pub(super) fn scenarios(
        &mut self,
        fields: &Names<FieldDef>,
        slas: &Names<Sla>,
        transitions: &[Transition],
    ) -> Vec<Scenario> {
        let tests: Vec<(usize, &RawScenario)> =
            self.doc.tests.iter().map(|(i, t)| (*i, t)).collect();
        self.scenarios_in(&tests, fields, slas, transitions)
    }

    /// Checks scenarios read from `[[tests]]` (of this file or a test file).
    pub(crate) fn scenarios_in(
        &mut self,
        tests: &[(usize, &RawScenario)],
        fields: &Names<FieldDef>,
        slas: &Names<Sla>,
        transitions: &[Transition],
    ) -> Vec<Scenario> {
        let known = Known {
            events: self.event_names(transitions),
            slas: slas.keys().cloned().collect(),
        };
        let mut names = BTreeSet::new();
        let mut out = Vec::new();
        for (i, raw) in tests {
            let path = [Seg::Key("tests"), Seg::Index(*i)];
            if !names.insert(raw.name.clone()) {
                let d = Diagnostic::error(
                    Code::DuplicateName,
                    format!("a test named `{}` already exists", raw.name),
                )
                .at(self.at(&[path[0], path[1], Seg::Key("name")]));
                self.report(d);
            }
            if let Some(spec) = self.scenario(*i, raw, fields, &known) {
                let line = self.at(&path).line;
                out.push(Scenario {
                    name: raw.name.clone(),
                    file: self.sources.name(self.source).to_string(),
                    line,
                    spec,
                });
            }
        }
        out
    }

    fn scenario(
        &mut self,
        i: usize,
        raw: &RawScenario,
        fields: &Names<FieldDef>,
        known: &Known,
    ) -> Option<ScenarioSpec> {
        let at = |key: &'static str| [Seg::Key("tests"), Seg::Index(i), Seg::Key(key)];
        let received_at = self.instant(&raw.received_at, &at("received_at"));
        let data = self.field_values(&raw.data, &at("data"), fields);
        let mut steps = Vec::new();
        let mut ok = true;
        for (j, step) in raw.steps.iter().enumerate() {
            let path = [
                Seg::Key("tests"),
                Seg::Index(i),
                Seg::Key("steps"),
                Seg::Index(j),
            ];
            match self.step(step, &path, fields, known) {
                Some(s) => steps.push(s),
                None => ok = false,
            }
        }
        let expect = match &raw.expect {
            Some(e) => Some(self.expect(e, &at("expect"), known)?),
            None => None,
        };
        Some(ScenarioSpec {
            received_at: received_at?,
            data: data?,
            steps: ok.then_some(steps)?,
            expect,
        })
    }

    fn step(
        &mut self,
        raw: &RawStep,
        path: &[Seg<'_>],
        fields: &Names<FieldDef>,
        known: &Known,
    ) -> Option<Step> {
        let sub = |key: &'static str| {
            let mut p = path.to_vec();
            p.push(Seg::Key(key));
            p
        };
        let kinds = [
            raw.event.is_some(),
            raw.advance.is_some(),
            raw.until.is_some(),
            raw.set.is_some(),
            raw.extend.is_some(),
        ];
        if kinds.iter().filter(|k| **k).count() != 1 {
            let d = Diagnostic::error(
                Code::InvalidStep,
                "a step is exactly one of `event`, `advance`, `until`, `set`, `extend`",
            )
            .at(self.at(path));
            self.report(d);
            return None;
        }
        let action = if let Some(event) = &raw.event {
            let ok = self.check_known(
                Code::UnknownEvent,
                "event",
                event,
                known
                    .events
                    .iter()
                    .map(String::as_str)
                    .chain(["withdraw", "note"]),
                &sub("event"),
            );
            let data = self.field_values(
                raw.data.as_ref().unwrap_or(&toml::Table::new()),
                &sub("data"),
                fields,
            );
            ok.then_some(StepAction::Event {
                name: event.clone(),
                data: data?,
            })?
        } else if let Some(advance) = &raw.advance {
            StepAction::Advance(self.duration(advance, &sub("advance"))?)
        } else if let Some(until) = &raw.until {
            StepAction::Until(self.instant(until, &sub("until"))?)
        } else if let Some(set) = &raw.set {
            StepAction::Set(self.field_values(set, &sub("set"), fields)?)
        } else {
            let sla = raw.extend.clone().unwrap_or_default();
            self.check_known(
                Code::UnknownSla,
                "SLA",
                &sla,
                known.slas.iter().map(String::as_str),
                &sub("extend"),
            )
            .then_some(())?;
            StepAction::Extend {
                sla,
                extension: raw.extension.clone(),
            }
        };
        if let Some(role) = &raw.role {
            let roles: Vec<String> = self.doc.roles.keys().cloned().collect();
            self.check_known(
                Code::UnknownRole,
                "role",
                role,
                roles.iter().map(String::as_str),
                &sub("role"),
            );
        }
        let at = match &raw.at {
            Some(at) => Some(self.instant(at, &sub("at"))?),
            None => None,
        };
        let expect = match &raw.expect {
            Some(e) => Some(self.expect(e, &sub("expect"), known)?),
            None => None,
        };
        let line = self.at(path).line;
        Some(Step {
            action,
            at,
            actor: Actor {
                id: raw.actor.clone(),
                role: raw.role.clone(),
            },
            expect,
            line,
        })
    }

    fn expect(&mut self, raw: &RawExpect, path: &[Seg<'_>], known: &Known) -> Option<Expect> {
        let sub = |keys: &[Seg<'static>]| {
            let mut p = path.to_vec();
            p.extend_from_slice(keys);
            p
        };
        let stages: Vec<String> = self.doc.stages.keys().cloned().collect();
        let mut ok = true;
        if let Some(stage) = &raw.stage {
            ok &= self.check_known(
                Code::UnknownStage,
                "stage",
                stage,
                stages.iter().map(String::as_str),
                &sub(&[Seg::Key("stage")]),
            );
        }
        for (sla, state) in &raw.clock {
            let p = [path, &[Seg::Key("clock"), Seg::Key(sla)]].concat();
            ok &= self.known_sla(sla, known, &p);
            let states = expectable_clock_states();
            if !states.clone().any(|s| s == state) {
                let all: Vec<&str> = states.clone().collect();
                let d =
                    Diagnostic::error(Code::WrongType, format!("`{state}` is not a clock state"))
                        .at(self.at(&p))
                        .with_help_opt(
                            did_you_mean(state, states)
                                .or_else(|| Some(format!("one of {}", all.join(", ")))),
                        );
                self.report(d);
                ok = false;
            }
        }
        let mut deadline = IndexMap::new();
        for (sla, when) in &raw.deadline {
            let p = [path, &[Seg::Key("deadline"), Seg::Key(sla)]].concat();
            ok &= self.known_sla(sla, known, &p);
            match self.instant(when, &p) {
                Some(t) => {
                    deadline.insert(sla.clone(), t);
                }
                None => ok = false,
            }
        }
        for sla in raw.provisional.keys() {
            let p = [path, &[Seg::Key("provisional"), Seg::Key(sla)]].concat();
            ok &= self.known_sla(sla, known, &p);
        }
        let line = self.at(path).line;
        ok.then(|| Expect {
            stage: raw.stage.clone(),
            queue: raw.queue.clone(),
            priority: raw.priority,
            tags: raw.tags.clone(),
            clock: raw.clock.clone(),
            deadline,
            provisional: raw.provisional.clone(),
            refused: raw.refused.clone(),
            notified: raw.notified.clone(),
            warnings: raw.warnings.clone(),
            breaches: raw.breaches.clone(),
            line,
        })
    }

    fn known_sla(&mut self, sla: &str, known: &Known, path: &[Seg<'_>]) -> bool {
        self.check_known(
            Code::UnknownSla,
            "SLA",
            sla,
            known.slas.iter().map(String::as_str),
            path,
        )
    }

    /// Reads an instant with an offset (`2026-02-13T16:00:00+08:00`).
    pub(super) fn instant(
        &mut self,
        text: &str,
        path: &[Seg<'_>],
    ) -> Option<DateTime<FixedOffset>> {
        match DateTime::parse_from_rfc3339(text) {
            Ok(t) => Some(t),
            Err(e) => {
                let d = Diagnostic::error(
                    Code::InvalidDate,
                    format!("`{text}` is not an instant: {e}"),
                )
                .at(self.at(path))
                .with_help("write an instant with its offset: `2026-02-13T16:00:00+08:00`");
                self.report(d);
                None
            }
        }
    }
}
