//! The stage graph: stages as nodes, transitions as edges, built once per policy
//! with petgraph. Validation asks it about reachability; `redress graph` draws it.

use std::collections::BTreeSet;
use std::fmt::Write;

use petgraph::Direction;
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::{Bfs, Reversed, Walker};

/// One edge: a transition from one stage to another.
#[derive(Debug, Clone)]
pub struct Edge {
    /// The event that triggers it.
    pub event: String,
    /// Its guard, as written.
    pub guard: Option<String>,
    /// Its delay, when it happens on its own (`after = "7 days"`).
    pub after: Option<String>,
    /// Taken on its own as soon as the guard holds.
    pub automatic: bool,
}

/// A node: one stage.
#[derive(Debug, Clone)]
pub struct Node {
    /// The stage's name.
    pub name: String,
    /// A label people read, when the policy gives one.
    pub label: Option<String>,
    /// Cases start here.
    pub start: bool,
    /// Cases end here.
    pub terminal: bool,
}

/// An SLA drawn as a span from the stages that start it to the ones that stop it.
#[derive(Debug, Clone)]
pub struct SlaSpan {
    /// The SLA's name.
    pub name: String,
    /// Its target, as written.
    pub target: String,
    /// Stages whose entry starts it.
    pub starts: Vec<String>,
    /// Stages whose entry stops it.
    pub stops: Vec<String>,
}

/// The stages and transitions of a policy as a directed graph.
#[derive(Debug, Clone, Default)]
pub struct StageGraph {
    graph: DiGraph<Node, Edge>,
    spans: Vec<SlaSpan>,
}

impl StageGraph {
    /// An empty graph.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a stage; stages are numbered in the order they are added.
    pub fn add_stage(&mut self, node: Node) -> usize {
        self.graph.add_node(node).index()
    }

    /// Adds a transition between two stages (numbers from [`Self::add_stage`]).
    pub fn add_transition(&mut self, from: usize, to: usize, edge: Edge) {
        self.graph
            .add_edge(NodeIndex::new(from), NodeIndex::new(to), edge);
    }

    /// Adds an SLA span, drawn by the renderers.
    pub fn add_sla(&mut self, span: SlaSpan) {
        self.spans.push(span);
    }

    /// The stages, in order.
    pub fn stages(&self) -> impl Iterator<Item = &Node> {
        self.graph.node_weights()
    }

    /// The transitions: the numbers of the stages they leave and enter (as
    /// [`Self::stages`] orders them) and the edge, in the order they were added.
    pub fn transitions(&self) -> impl Iterator<Item = (usize, usize, &Edge)> {
        self.graph.edge_indices().filter_map(|e| {
            let (from, to) = self.graph.edge_endpoints(e)?;
            Some((from.index(), to.index(), &self.graph[e]))
        })
    }

    /// The SLA spans.
    pub fn slas(&self) -> &[SlaSpan] {
        &self.spans
    }

    fn start(&self) -> Option<NodeIndex> {
        self.graph.node_indices().find(|&i| self.graph[i].start)
    }

    fn index_of(&self, name: &str) -> Option<NodeIndex> {
        self.graph
            .node_indices()
            .find(|&i| self.graph[i].name == name)
    }

    /// Stages no sequence of transitions reaches from the start stage.
    pub fn unreachable(&self) -> Vec<&str> {
        let Some(start) = self.start() else {
            return Vec::new();
        };
        let seen: BTreeSet<NodeIndex> = Bfs::new(&self.graph, start).iter(&self.graph).collect();
        self.names_where(|i| !seen.contains(&i))
    }

    /// Non-terminal stages with no transition to another stage.
    pub fn dead_ends(&self) -> Vec<&str> {
        self.names_where(|i| !self.graph[i].terminal && self.exits(i) == 0)
    }

    /// Stages that have a way out, but from which no terminal stage can be reached.
    pub fn no_way_to_finish(&self) -> Vec<&str> {
        let reversed = Reversed(&self.graph);
        let mut can_finish = BTreeSet::new();
        for t in self
            .graph
            .node_indices()
            .filter(|&i| self.graph[i].terminal)
        {
            can_finish.extend(Bfs::new(reversed, t).iter(reversed));
        }
        self.names_where(|i| !can_finish.contains(&i) && self.exits(i) > 0)
    }

    /// Whether `to` can be reached from `from` by one or more transitions.
    pub fn reaches(&self, from: &str, to: &str) -> bool {
        let (Some(a), Some(b)) = (self.index_of(from), self.index_of(to)) else {
            return false;
        };
        self.graph
            .neighbors_directed(a, Direction::Outgoing)
            .any(|n| n == b || Bfs::new(&self.graph, n).iter(&self.graph).any(|x| x == b))
    }

    fn exits(&self, i: NodeIndex) -> usize {
        self.graph
            .neighbors_directed(i, Direction::Outgoing)
            .filter(|&n| n != i)
            .count()
    }

    fn names_where(&self, keep: impl Fn(NodeIndex) -> bool) -> Vec<&str> {
        self.graph
            .node_indices()
            .filter(|&i| keep(i))
            .map(|i| self.graph[i].name.as_str())
            .collect()
    }

    /// The graph as a Mermaid state diagram.
    pub fn to_mermaid(&self) -> String {
        let mut out = String::from("stateDiagram-v2\n");
        for i in self.graph.node_indices() {
            let node = &self.graph[i];
            let id = node_id(i);
            let _ = writeln!(out, "    state \"{}\" as {id}", escape(display_name(node)));
            if node.start {
                let _ = writeln!(out, "    [*] --> {id}");
            }
        }
        for e in self.graph.edge_indices() {
            let Some((a, b)) = self.graph.edge_endpoints(e) else {
                continue;
            };
            let label = edge_label(&self.graph[e]);
            let _ = writeln!(
                out,
                "    {} --> {} : {}",
                node_id(a),
                node_id(b),
                escape(&label).replace(':', "#58;")
            );
        }
        for i in self
            .graph
            .node_indices()
            .filter(|&i| self.graph[i].terminal)
        {
            let _ = writeln!(out, "    {} --> [*]", node_id(i));
        }
        self.mermaid_notes(&mut out);
        out
    }

    fn mermaid_notes(&self, out: &mut String) {
        for span in &self.spans {
            for (stages, verb) in [(&span.starts, "starts"), (&span.stops, "stops")] {
                for stage in stages {
                    let Some(i) = self.index_of(stage) else {
                        continue;
                    };
                    let side = if verb == "starts" { "right" } else { "left" };
                    let _ = writeln!(
                        out,
                        "    note {side} of {} : SLA {} ({}) {verb}",
                        node_id(i),
                        escape(&span.name),
                        escape(&span.target)
                    );
                }
            }
        }
    }

    /// The graph in Graphviz DOT: terminal stages drawn as double circles, the start
    /// stage bold, SLA spans as dashed blue edges.
    pub fn to_dot(&self) -> String {
        let mut out = String::from(
            "digraph policy {\n    rankdir=LR;\n    node [shape=box, style=rounded];\n",
        );
        for i in self.graph.node_indices() {
            let node = &self.graph[i];
            let shape = if node.terminal {
                ", shape=doublecircle"
            } else {
                ""
            };
            let bold = if node.start { ", penwidth=2" } else { "" };
            let _ = writeln!(
                out,
                "    {} [label=\"{}\"{shape}{bold}];",
                node_id(i),
                escape(display_name(node))
            );
        }
        for e in self.graph.edge_indices() {
            let Some((a, b)) = self.graph.edge_endpoints(e) else {
                continue;
            };
            let label = escape(&edge_label(&self.graph[e]));
            let _ = writeln!(
                out,
                "    {} -> {} [label=\"{label}\"];",
                node_id(a),
                node_id(b)
            );
        }
        for span in &self.spans {
            for (a, b) in span
                .starts
                .iter()
                .flat_map(|a| span.stops.iter().map(move |b| (a, b)))
            {
                let (Some(a), Some(b)) = (self.index_of(a), self.index_of(b)) else {
                    continue;
                };
                let label = escape(&format!("SLA {}: {}", span.name, span.target));
                let _ = writeln!(
                    out,
                    "    {} -> {} [label=\"{label}\", style=dashed, color=blue, fontcolor=blue, constraint=false];",
                    node_id(a),
                    node_id(b)
                );
            }
        }
        out.push_str("}\n");
        out
    }
}

fn node_id(i: NodeIndex) -> String {
    format!("s{}", i.index())
}

fn display_name(node: &Node) -> &str {
    node.label.as_deref().unwrap_or(&node.name)
}

fn edge_label(edge: &Edge) -> String {
    let mut label = edge.event.clone();
    if let Some(after) = &edge.after {
        let _ = write!(label, " (after {after})");
    }
    if edge.automatic {
        label.push_str(" (automatic)");
    }
    if let Some(guard) = &edge.guard {
        let _ = write!(label, " [{guard}]");
    }
    label
}

fn escape(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('"', "'")
        .replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(stages: &[(&str, bool, bool)], edges: &[(usize, usize, &str)]) -> StageGraph {
        let mut g = StageGraph::new();
        for (name, start, terminal) in stages {
            g.add_stage(Node {
                name: name.to_string(),
                label: None,
                start: *start,
                terminal: *terminal,
            });
        }
        for (a, b, event) in edges {
            let edge = Edge {
                event: event.to_string(),
                guard: None,
                after: None,
                automatic: false,
            };
            g.add_transition(*a, *b, edge);
        }
        g
    }

    #[test]
    fn finds_unreachable_dead_end_and_trapped_stages() {
        let g = graph(
            &[
                ("received", true, false),
                ("loop_a", false, false),
                ("loop_b", false, false),
                ("stuck", false, false),
                ("orphan", false, false),
                ("closed", false, true),
            ],
            &[
                (0, 1, "a"),
                (1, 2, "b"),
                (2, 1, "c"),
                (0, 3, "d"),
                (0, 5, "close"),
                (4, 5, "close"),
            ],
        );
        assert_eq!(g.unreachable(), ["orphan"]);
        assert_eq!(g.dead_ends(), ["stuck"]);
        assert_eq!(g.no_way_to_finish(), ["loop_a", "loop_b"]);
        assert!(g.reaches("received", "loop_b"));
        assert!(!g.reaches("loop_a", "closed"));
    }
}
