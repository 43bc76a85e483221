//! SLAs: targets, what starts, stops and pauses them, warnings, extensions, breach.

use crate::policy::Names;

use super::Validator;
use super::calendars::Calendars;
use crate::diagnostic::{Code, Diagnostic};
use crate::policy::locate::Seg;
use crate::policy::raw::{RawReopen, RawSla};
use crate::policy::stage_graph::StageGraph;
use crate::policy::{Breach, Extension, Reopen, Sla, Transition, Trigger};
use crate::sla::SlaRule;

impl Validator<'_, '_> {
    pub(super) fn slas(
        &mut self,
        calendars: &Calendars,
        transitions: &[Transition],
        graph: &StageGraph,
    ) -> Names<Sla> {
        let mut out = Names::default();
        for (name, raw) in &self.doc.slas {
            if let Some(sla) = self.sla(name, raw, calendars, transitions, graph) {
                out.insert(name.clone(), sla);
            }
        }
        out
    }

    fn sla(
        &mut self,
        name: &str,
        raw: &RawSla,
        calendars: &Calendars,
        transitions: &[Transition],
        graph: &StageGraph,
    ) -> Option<Sla> {
        let at = |key: &'static str| [Seg::Key("slas"), Seg::Key(name), Seg::Key(key)];
        let target = self.duration(&raw.target, &at("target"));
        let start = self.triggers(
            raw.start.as_slice(),
            &at("start"),
            matches!(raw.start, crate::policy::raw::OneOrMany::Many(_)),
            transitions,
        );
        let stop = self.triggers(
            raw.stop.as_slice(),
            &at("stop"),
            matches!(raw.stop, crate::policy::raw::OneOrMany::Many(_)),
            transitions,
        );
        let pause = self.triggers(&raw.pause, &at("pause"), true, transitions);
        let resume = self.triggers(&raw.resume, &at("resume"), true, transitions);
        let warn = self.warnings(&raw.warn, &at("warn"));
        let calendar = match &raw.calendar {
            Some(c) => self
                .check_known(
                    Code::UnknownCalendar,
                    "calendar",
                    c,
                    calendars.names(),
                    &at("calendar"),
                )
                .then(|| c.clone()),
            None => Some(calendars.default.clone()),
        };
        let applies_when = raw
            .applies_when
            .as_ref()
            .map(|c| self.condition(c, &at("applies_when")));
        let extensions = self.extensions(name, raw, target.as_ref());
        let on_breach = self.breach(raw);
        if let (Some(start), Some(stop)) = (&start, &stop)
            && !self.graph_incomplete
            && !can_stop(start, stop, transitions, graph)
        {
            let d = Diagnostic::error(Code::SlaNeverStops, format!("SLA `{name}` can never stop: no sequence of transitions leads from its start to its stop"))
                    .at(self.at(&at("stop")))
                    .with_help("check `start` and `stop`: the stop stage (or event) must be reachable after the start");
            self.report(d);
        }
        Some(Sla {
            name: name.to_string(),
            rule: SlaRule {
                name: name.to_string(),
                target: target?,
                warn: warn?,
                roll_to_working_day: raw.roll,
                from_next_working_day_after_hours: raw.after_hours_from_next_working_day,
            },
            calendar: calendar?,
            start: start?,
            stop: stop?,
            pause: pause?,
            resume: resume?,
            applies_when: applies_when.flatten(),
            on_reopen: match raw.on_reopen {
                Some(RawReopen::Resume) => Reopen::Resume,
                Some(RawReopen::Keep) => Reopen::Keep,
                Some(RawReopen::Restart) | None => Reopen::Restart,
            },
            extensions: extensions?,
            on_breach,
            regulation: raw.regulation.clone(),
            description: raw.description.clone(),
        })
    }

    /// Resolves stage and event names: `event:x` and `stage:x` say which; a bare
    /// name is a stage if one has it, else an event.
    fn triggers(
        &mut self,
        names: &[String],
        path: &[Seg<'_>],
        indexed: bool,
        transitions: &[Transition],
    ) -> Option<Vec<Trigger>> {
        let event_names = self.event_names(transitions);
        let events: Vec<&str> = event_names.iter().map(String::as_str).collect();
        let stages: Vec<String> = self.doc.stages.keys().cloned().collect();
        let mut out = Vec::new();
        let mut ok = true;
        for (i, name) in names.iter().enumerate() {
            let mut p = path.to_vec();
            if indexed {
                p.push(Seg::Index(i));
            }
            let trigger = if let Some(event) = name.strip_prefix("event:") {
                self.check_known(
                    Code::UnknownEvent,
                    "event",
                    event,
                    events.iter().copied(),
                    &p,
                )
                .then(|| Trigger::Event(event.to_string()))
            } else if let Some(stage) = name.strip_prefix("stage:") {
                self.check_known(
                    Code::UnknownStage,
                    "stage",
                    stage,
                    stages.iter().map(String::as_str),
                    &p,
                )
                .then(|| Trigger::Enter(stage.to_string()))
            } else if stages.contains(name) || self.doc.damaged.has("stages", name) {
                Some(Trigger::Enter(name.clone()))
            } else if events.contains(&name.as_str()) {
                Some(Trigger::Event(name.clone()))
            } else {
                let all = stages
                    .iter()
                    .map(String::as_str)
                    .chain(events.iter().copied());
                self.check_known(Code::UnknownStage, "stage or event", name, all, &p);
                None
            };
            match trigger {
                Some(t) => out.push(t),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn warnings(&mut self, raws: &[String], path: &[Seg<'_>]) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        for (i, raw) in raws.iter().enumerate() {
            let mut p = path.to_vec();
            p.push(Seg::Index(i));
            let number = raw
                .trim()
                .strip_suffix('%')
                .and_then(|n| n.trim().parse::<f64>().ok());
            match number {
                Some(n) if n > 0.0 && n < 100.0 && n.fract() == 0.0 => out.push(n as u8),
                Some(n) => {
                    let d = Diagnostic::error(Code::WarningOutOfRange, format!("a warning at {n}% of the target {}", if n >= 100.0 { "is not a warning: the deadline has passed by then" } else { "must be a whole percentage above 0" }))
                        .at(self.at(&p))
                        .with_help("warn at a whole percentage between 1% and 99%; a breach fires at 100% anyway");
                    self.report(d);
                    return None;
                }
                None => {
                    let d = Diagnostic::error(
                        Code::InvalidValue,
                        format!("`{raw}` is not a percentage"),
                    )
                    .at(self.at(&p))
                    .with_help("write warnings as percentages of the target: `[\"50%\", \"80%\"]`");
                    self.report(d);
                    return None;
                }
            }
        }
        Some(out)
    }

    fn extensions(
        &mut self,
        sla: &str,
        raw: &RawSla,
        target: Option<&crate::calendar::SlaDuration>,
    ) -> Option<Vec<Extension>> {
        let mut out = Vec::new();
        let mut ok = true;
        let mut longest = target.map(|t| (t.approx_seconds(), t.to_string()));
        for (i, ext) in raw.extensions.iter().enumerate() {
            let at = |key: &'static str| {
                [
                    Seg::Key("slas"),
                    Seg::Key(sla),
                    Seg::Key("extensions"),
                    Seg::Index(i),
                    Seg::Key(key),
                ]
            };
            let to = self.duration(&ext.to, &at("to"));
            if let (Some(to), Some((secs, text))) = (&to, &longest)
                && to.approx_seconds() <= *secs
            {
                let d = Diagnostic::error(Code::ExtensionNotLonger, format!("extension to `{to}` is not longer than `{text}`, which it extends"))
                        .at(self.at(&at("to")))
                        .with_help("an extension must give more time than the target (and than the extension before it)");
                self.report(d);
            }
            if let Some(to) = &to {
                longest = Some((to.approx_seconds(), to.to_string()));
            }
            let when = ext.when.as_ref().map(|w| self.condition(w, &at("when")));
            for (j, field) in ext.requires.iter().enumerate() {
                let p = [
                    Seg::Key("slas"),
                    Seg::Key(sla),
                    Seg::Key("extensions"),
                    Seg::Index(i),
                    Seg::Key("requires"),
                    Seg::Index(j),
                ];
                let names: Vec<String> = self.doc.fields.keys().cloned().collect();
                if !self.doc.damaged.has("fields", field) {
                    self.check_known(
                        Code::UnknownField,
                        "field",
                        field,
                        names.iter().map(String::as_str),
                        &p,
                    );
                }
            }
            if let Some(role) = &ext.role {
                let known: Vec<String> = self.doc.roles.keys().cloned().collect();
                self.check_known(
                    Code::UnknownRole,
                    "role",
                    role,
                    known.iter().map(String::as_str),
                    &at("role"),
                );
            }
            match (to, when) {
                (Some(to), when) if !matches!(when, Some(None)) => out.push(Extension {
                    name: ext.name.clone().unwrap_or_else(|| to.to_string()),
                    to,
                    when: when.flatten(),
                    requires: ext.requires.clone(),
                    role: ext.role.clone(),
                    notify: ext
                        .notify
                        .as_ref()
                        .map(|n| n.as_slice().to_vec())
                        .unwrap_or_default(),
                    description: ext.description.clone(),
                }),
                _ => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn breach(&mut self, raw: &RawSla) -> Breach {
        let b = raw.on_breach.as_ref();
        Breach {
            escalate_to: b.and_then(|b| b.escalate_to.clone()),
            priority: b.and_then(|b| b.priority),
            notify: b
                .and_then(|b| b.notify.as_ref())
                .map(|n| n.as_slice().to_vec())
                .unwrap_or_default(),
        }
    }
}

/// Stages where a clock may be running just after it starts.
fn start_points<'t>(start: &'t [Trigger], transitions: &'t [Transition]) -> Vec<&'t str> {
    start
        .iter()
        .flat_map(|t| match t {
            Trigger::Enter(s) => vec![s.as_str()],
            Trigger::Event(e) => transitions
                .iter()
                .filter(|t| &t.event == e)
                .map(|t| t.to.as_str())
                .collect(),
        })
        .collect()
}

fn can_stop(
    start: &[Trigger],
    stop: &[Trigger],
    transitions: &[Transition],
    graph: &StageGraph,
) -> bool {
    start_points(start, transitions).iter().any(|p| {
        stop.iter().any(|s| match s {
            Trigger::Enter(t) => graph.reaches(p, t),
            Trigger::Event(e) => transitions
                .iter()
                .filter(|t| &t.event == e)
                .any(|t| t.from.iter().any(|f| f == p || graph.reaches(p, f))),
        })
    })
}
