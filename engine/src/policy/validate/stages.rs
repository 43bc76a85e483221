//! Stages and the shape of the stage graph.

use crate::policy::Names;

use super::Validator;
use crate::diagnostic::{Code, Diagnostic};
use crate::policy::locate::Seg;
use crate::policy::stage_graph::{Edge, Node, StageGraph};
use crate::policy::{Stage, Transition};

impl Validator<'_, '_> {
    pub(super) fn stages(&mut self) -> Names<Stage> {
        let stages: Names<Stage> = self
            .doc
            .stages
            .iter()
            .map(|(name, raw)| {
                let stage = Stage {
                    name: name.clone(),
                    label: raw.label.clone(),
                    description: raw.description.clone(),
                    start: raw.start,
                    terminal: raw.terminal,
                };
                (name.clone(), stage)
            })
            .collect();
        self.check_start_and_terminal(&stages);
        stages
    }

    fn check_start_and_terminal(&mut self, stages: &Names<Stage>) {
        if self.doc.damaged.graph {
            return;
        }
        let starts: Vec<&Stage> = stages.values().filter(|s| s.start).collect();
        let section = [Seg::Key("stages")];
        if starts.is_empty() {
            let d = Diagnostic::error(Code::NoStartStage, "no stage is marked `start = true`")
                .at(self.key_at(&section))
                .with_help(
                    "mark the stage every complaint begins in: `received = { start = true }`",
                );
            self.report(d);
        }
        for extra in starts.iter().skip(1) {
            let d = Diagnostic::error(
                Code::SeveralStartStages,
                format!(
                    "`{}` is a second start stage; `{}` is already one",
                    extra.name, starts[0].name
                ),
            )
            .at(self.key_at(&["stages", &extra.name].map(Seg::Key)))
            .with_help("a case starts in exactly one stage");
            self.report(d);
        }
        if !stages.values().any(|s| s.terminal) {
            let d = Diagnostic::error(
                Code::NoTerminalStage,
                "no stage is marked `terminal = true`: no case could ever be closed",
            )
            .at(self.key_at(&section))
            .with_help("mark the stages that end a case: `closed = { terminal = true }`");
            self.report(d);
        }
        for s in starts.iter().filter(|s| s.terminal) {
            let d = Diagnostic::error(
                Code::StartStageTerminal,
                format!("the start stage `{}` is also terminal", s.name),
            )
            .at(self.key_at(&["stages", &s.name].map(Seg::Key)));
            self.report(d);
        }
    }

    /// Builds the stage graph and reports stages that cannot be reached, cannot be
    /// left, or cannot lead to an end.
    pub(super) fn graph(
        &mut self,
        stages: &Names<Stage>,
        transitions: &[Transition],
    ) -> StageGraph {
        let mut graph = StageGraph::new();
        for stage in stages.values() {
            graph.add_stage(Node {
                name: stage.name.clone(),
                label: stage.label.clone(),
                start: stage.start,
                terminal: stage.terminal,
            });
        }
        for t in transitions {
            let Some(to) = stages.get_index_of(&t.to) else {
                continue;
            };
            for from in t.from.iter().filter_map(|f| stages.get_index_of(f)) {
                let edge = Edge {
                    event: t.event.clone(),
                    guard: t.guard.as_ref().map(|g| g.source().to_string()),
                    after: t.after.as_ref().map(ToString::to_string),
                    automatic: t.automatic,
                };
                graph.add_transition(from, to, edge);
            }
        }
        if !self.graph_incomplete && stages.values().filter(|s| s.start).count() == 1 {
            self.check_graph(&graph);
        }
        graph
    }

    fn check_graph(&mut self, graph: &StageGraph) {
        let unreachable: Vec<String> = graph.unreachable().into_iter().map(String::from).collect();
        for name in &unreachable {
            let d = Diagnostic::error(
                Code::UnreachableStage,
                format!("stage `{name}` can never be reached from the start stage"),
            )
            .at(self.key_at(&["stages", name].map(Seg::Key)))
            .with_help(format!(
                "add a transition with `to = \"{name}\"`, or remove the stage"
            ));
            self.report(d);
        }
        for name in graph.dead_ends() {
            let d = Diagnostic::error(
                Code::DeadEndStage,
                format!("stage `{name}` is not terminal but has no transition out of it"),
            )
            .at(self.key_at(&["stages", name].map(Seg::Key)))
            .with_help(format!(
                "add a transition with `from = \"{name}\"`, or mark it `terminal = true`"
            ));
            self.report(d);
        }
        // Without any terminal stage every stage is trapped: `no-terminal-stage` says so once.
        let has_terminal = graph.stages().any(|s| s.terminal);
        let trapped = if has_terminal {
            graph.no_way_to_finish()
        } else {
            Vec::new()
        };
        for name in trapped
            .into_iter()
            .filter(|n| !unreachable.iter().any(|u| u == n))
        {
            let d = Diagnostic::error(Code::NoWayToFinish, format!("no terminal stage can be reached from stage `{name}`: a case there could never be closed"))
                .at(self.key_at(&["stages", name].map(Seg::Key)))
                .with_help("add a transition from this stage (or one it leads to) towards a terminal stage");
            self.report(d);
        }
    }
}
