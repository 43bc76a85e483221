//! Routing: ordered rules, the default, the integrator's script, re-routing.

use crate::policy::Names;

use super::{Validator, script_code};
use crate::diagnostic::{Code, Diagnostic};
use crate::policy::field::FieldDef;
use crate::policy::locate::Seg;
use crate::policy::raw::RawRouting;
use crate::policy::{Routing, Sla};
use crate::routing::{RouteRule, Router};
use crate::script::RoutingScript;

impl Validator<'_, '_> {
    pub(super) fn routing(&mut self, fields: &Names<FieldDef>) -> Option<Routing> {
        let Some(raw) = &self.doc.routing else {
            let d = Diagnostic::error(
                Code::NoDefaultRoute,
                "the policy has no `[routing]`: a complaint could go nowhere",
            )
            .at(self.at(&[]))
            .with_help(
                "add `[routing]` with `rules = [{ otherwise = true, queue = \"general\" }]`",
            );
            self.report(d);
            return None;
        };
        let rules = self.route_rules(raw);
        let script = raw
            .script
            .as_ref()
            .and_then(|file| self.routing_script(file));
        for (i, field) in raw.reroute_on.iter().enumerate() {
            let path = [Seg::Key("routing"), Seg::Key("reroute_on"), Seg::Index(i)];
            self.check_known(
                Code::UnknownField,
                "field",
                field,
                fields.keys().map(String::as_str),
                &path,
            );
        }
        match Router::new(rules?, script) {
            Ok(router) => Some(Routing {
                // Build the routing chain now, at load, not on the first complaint.
                router: prepared(router, &self.engine),
                reroute_on: raw.reroute_on.clone(),
            }),
            Err(e) => {
                let d = Diagnostic::error(Code::NoDefaultRoute, e.to_string())
                    .at(self.at(&[Seg::Key("routing")]));
                self.report(d);
                None
            }
        }
    }

    fn route_rules(&mut self, raw: &RawRouting) -> Option<Vec<RouteRule>> {
        let mut rules = Vec::new();
        let mut otherwise_at = None;
        for (i, rule) in raw.rules.iter().enumerate() {
            let path = [Seg::Key("routing"), Seg::Key("rules"), Seg::Index(i)];
            if let Some(first) = otherwise_at {
                let d = Diagnostic::error(Code::UnreachableRoute, format!("routing rule #{} comes after the `otherwise` rule #{first} and can never match", i + 1))
                    .at(self.at(&path))
                    .with_help("move the `otherwise` rule to the end");
                self.report(d);
            }
            let condition = match (&rule.when, rule.otherwise) {
                (Some(_), true) | (None, false) => {
                    let d = Diagnostic::error(
                        Code::InvalidValue,
                        format!(
                            "routing rule #{} needs exactly one of `when` and `otherwise = true`",
                            i + 1
                        ),
                    )
                    .at(self.at(&path));
                    self.report(d);
                    None
                }
                (None, true) => {
                    otherwise_at.get_or_insert(i + 1);
                    None
                }
                (Some(when), false) => self
                    .condition(when, &[path[0], path[1], path[2], Seg::Key("when")])
                    .map(Some)
                    .unwrap_or(None),
            };
            rules.push(RouteRule {
                condition,
                queue: rule.queue.clone(),
                priority: rule.priority,
                assignee: rule.assignee.clone(),
                tags: rule.tags.clone(),
            });
        }
        if otherwise_at.is_none() {
            let d = Diagnostic::error(Code::NoDefaultRoute, "routing has no `otherwise` rule: a complaint that matches no rule would go nowhere")
                .at(self.at(&[Seg::Key("routing")]))
                .with_help("end `rules` with `{ otherwise = true, queue = \"general\" }`");
            self.report(d);
            return None;
        }
        Some(rules)
    }

    fn routing_script(&mut self, file: &str) -> Option<RoutingScript> {
        let path = [Seg::Key("routing"), Seg::Key("script")];
        let (id, text) = self.include(file, &path)?;
        let name = self.sources.name(id).to_string();
        match RoutingScript::compile(&self.engine, &text, &name, &self.schema) {
            Ok(s) => Some(s),
            Err(e) => {
                let location = match (e.line, e.column) {
                    (Some(l), Some(c)) => {
                        let at = self.sources.offset_of(id, l, c);
                        Some(self.sources.locate(id, at..at + 1))
                    }
                    _ => Some(self.sources.locate(id, 0..0)),
                };
                let code = script_code(&e, Code::ScriptSyntax);
                let d = Diagnostic::error(code, e.message.clone())
                    .at_opt(location)
                    .with_help_opt(self.script_help(&e));
                self.report(d);
                None
            }
        }
    }

    pub(super) fn check_queue_references(&mut self, routing: &Option<Routing>, slas: &Names<Sla>) {
        let mut known: Vec<String> = self.doc.queues.keys().cloned().collect();
        if let Some(r) = &self.doc.routing {
            known.extend(r.rules.iter().map(|r| r.queue.clone()));
        }
        if routing.is_none() {
            return;
        }
        for (name, sla) in slas {
            let Some(queue) = sla.on_breach.escalate_to.as_deref() else {
                continue;
            };
            let path = [
                Seg::Key("slas"),
                Seg::Key(name),
                Seg::Key("on_breach"),
                Seg::Key("escalate_to"),
            ];
            self.check_known(
                Code::UnknownQueue,
                "queue",
                queue,
                known.iter().map(String::as_str),
                &path,
            );
        }
        if !self.doc.queues.is_empty() {
            for (i, rule) in self
                .doc
                .routing
                .iter()
                .flat_map(|r| r.rules.iter())
                .enumerate()
            {
                let path = [
                    Seg::Key("routing"),
                    Seg::Key("rules"),
                    Seg::Index(i),
                    Seg::Key("queue"),
                ];
                self.check_known(
                    Code::UnknownQueue,
                    "queue",
                    &rule.queue,
                    self.doc.queues.keys().map(String::as_str),
                    &path,
                );
            }
        }
    }
}

fn prepared(router: Router, engine: &crate::script::ScriptEngine) -> Router {
    router.prepare(engine);
    router
}
