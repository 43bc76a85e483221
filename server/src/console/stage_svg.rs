//! The stage graph drawn as SVG on the server, from the policy's [`StageGraph`](redress_engine::policy::StageGraph),
//! so the policy page needs no script and no library from the internet.
//!
//! A small layered layout: each stage's layer is its distance from the start stage
//! (breadth first); stages in a layer are ordered by the average position of their
//! neighbours, a few sweeps down and up (the barycentre heuristic), which keeps
//! most edges short and uncrossed. Edges to a later layer run down; edges back up
//! (a review that reopens, information that comes back) bend round the right-hand
//! side. Transitions written `from = "*"` would join every stage to one: they are
//! listed once under the graph instead.

use std::collections::{BTreeSet, VecDeque};
use std::fmt::Write;

use redress_engine::markup::escape as esc;
use redress_engine::policy::Policy;
use redress_engine::policy::stage_graph::Edge;

const LAYER_GAP: f64 = 96.0;
const NODE_HEIGHT: f64 = 38.0;
const NODE_GAP: f64 = 36.0;
const MARGIN: f64 = 24.0;
const FONT: f64 = 14.0;
/// Room on the right for edges that go back up.
const BACK_ROOM: f64 = 150.0;

/// Roughly how wide a text is drawn: CJK characters are about twice as wide.
fn text_width(text: &str, size: f64) -> f64 {
    text.chars()
        .map(|c| if c.is_ascii() { 0.56 } else { 1.0 })
        .sum::<f64>()
        * size
}

/// Where each stage is drawn.
struct Layout {
    layer: Vec<usize>,
    /// Centre x and width of each stage.
    x: Vec<f64>,
    width: Vec<f64>,
    total_width: f64,
    layers: usize,
}

fn layers(n: usize, start: Option<usize>, edges: &[(usize, usize)]) -> Vec<usize> {
    let mut layer = vec![usize::MAX; n];
    if let Some(s) = start {
        layer[s] = 0;
        let mut queue = VecDeque::from([s]);
        while let Some(i) = queue.pop_front() {
            for &(a, b) in edges {
                if a == i && layer[b] == usize::MAX {
                    layer[b] = layer[i] + 1;
                    queue.push_back(b);
                }
            }
        }
    }
    let deepest = layer.iter().filter(|l| **l != usize::MAX).max().copied();
    let last = deepest.map_or(0, |d| d + 1);
    for l in layer.iter_mut().filter(|l| **l == usize::MAX) {
        *l = last;
    }
    layer
}

/// Orders each layer by the mean position of the neighbours in the layer before
/// (sweeping down) or after (sweeping up).
fn order(layer: &[usize], edges: &[(usize, usize)]) -> Vec<Vec<usize>> {
    let count = layer.iter().max().map_or(0, |m| m + 1);
    let mut rows: Vec<Vec<usize>> = vec![Vec::new(); count];
    for (i, l) in layer.iter().enumerate() {
        rows[*l].push(i);
    }
    let position = |rows: &[Vec<usize>], i: usize| {
        rows[layer[i]].iter().position(|&x| x == i).unwrap_or(0) as f64
    };
    for sweep in 0..4 {
        let down = sweep % 2 == 0;
        let range: Vec<usize> = match down {
            true => (1..count).collect(),
            false => (0..count.saturating_sub(1)).rev().collect(),
        };
        for l in range {
            let neighbour_layer = if down { l - 1 } else { l + 1 };
            let mut keyed: Vec<(f64, usize)> = rows[l]
                .iter()
                .enumerate()
                .map(|(at, &i)| {
                    let near: Vec<f64> = edges
                        .iter()
                        .filter_map(|&(a, b)| match (a == i, b == i) {
                            (true, _) if layer[b] == neighbour_layer => Some(position(&rows, b)),
                            (_, true) if layer[a] == neighbour_layer => Some(position(&rows, a)),
                            _ => None,
                        })
                        .collect();
                    let key = match near.is_empty() {
                        true => at as f64,
                        false => near.iter().sum::<f64>() / near.len() as f64,
                    };
                    (key, i)
                })
                .collect();
            keyed.sort_by(|a, b| a.0.total_cmp(&b.0));
            rows[l] = keyed.into_iter().map(|(_, i)| i).collect();
        }
    }
    rows
}

fn layout(labels: &[String], start: Option<usize>, edges: &[(usize, usize)]) -> Layout {
    let n = labels.len();
    let layer = layers(n, start, edges);
    let rows = order(&layer, edges);
    let width: Vec<f64> = labels
        .iter()
        .map(|l| (text_width(l, FONT) + 28.0).max(90.0))
        .collect();
    let row_width = |row: &Vec<usize>| {
        row.iter().map(|&i| width[i]).sum::<f64>() + NODE_GAP * row.len().saturating_sub(1) as f64
    };
    let widest = rows.iter().map(row_width).fold(0.0, f64::max);
    let mut x = vec![0.0; n];
    for row in &rows {
        let mut at = MARGIN + (widest - row_width(row)) / 2.0;
        for &i in row {
            x[i] = at + width[i] / 2.0;
            at += width[i] + NODE_GAP;
        }
    }
    Layout {
        layer,
        x,
        width,
        total_width: widest + 2.0 * MARGIN + BACK_ROOM,
        layers: rows.len(),
    }
}

fn top(layer: usize) -> f64 {
    MARGIN + layer as f64 * LAYER_GAP
}

fn edge_label(edge: &Edge) -> String {
    match &edge.after {
        Some(after) => format!("{} ({after})", edge.event),
        None => edge.event.clone(),
    }
}

/// The policy's stage graph as an SVG document; `current` (a case's stage) is
/// filled in. `any_stage` is the text for transitions from every stage.
pub fn draw(policy: &Policy, current: Option<&str>, any_stage: &str) -> String {
    let graph = policy.graph();
    let stages: Vec<_> = graph.stages().collect();
    let labels: Vec<String> = stages
        .iter()
        .map(|s| s.label.clone().unwrap_or_else(|| s.name.clone()))
        .collect();
    let from_any: BTreeSet<&str> = policy
        .transitions()
        .iter()
        .filter(|t| t.from_any)
        .map(|t| t.event.as_str())
        .collect();
    let drawn: Vec<(usize, usize, &Edge)> = graph
        .transitions()
        .filter(|(a, b, e)| a != b && !from_any.contains(e.event.as_str()))
        .collect();
    let pairs: Vec<(usize, usize)> = drawn.iter().map(|(a, b, _)| (*a, *b)).collect();
    let start = stages.iter().position(|s| s.start);
    let at = layout(&labels, start, &pairs);
    let notes: Vec<String> = policy
        .transitions()
        .iter()
        .filter(|t| t.from_any)
        .map(|t| {
            let to = policy.stages().get(&t.to).and_then(|s| s.label.clone());
            format!(
                "{} → {} ({any_stage})",
                t.event,
                to.unwrap_or_else(|| t.to.clone())
            )
        })
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let height = top(at.layers) + notes.len() as f64 * 22.0 + MARGIN;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="stage-graph" viewBox="0 0 {w:.0} {height:.0}" width="{w:.0}" height="{height:.0}" role="img" aria-labelledby="graph-title graph-desc"><title id="graph-title">{title}</title><desc id="graph-desc">{desc}</desc>"#,
        w = at.total_width,
        title = esc(policy.name()),
        desc = esc(&describe(&stages, &drawn, &notes)),
    );
    svg.push_str(r##"<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#374151"/></marker></defs>"##);
    let mut back = 0usize;
    let mut seen_pairs: Vec<(usize, usize)> = Vec::new();
    for (a, b, edge) in &drawn {
        let repeat = seen_pairs.iter().filter(|p| **p == (*a, *b)).count() as f64;
        seen_pairs.push((*a, *b));
        let dashed = edge.after.is_some() || edge.automatic;
        let style = if dashed {
            r#" stroke-dasharray="5 4""#
        } else {
            ""
        };
        let label = esc(&edge_label(edge));
        if at.layer[*b] > at.layer[*a] {
            let (x1, y1) = (at.x[*a], top(at.layer[*a]) + NODE_HEIGHT);
            let (x2, y2) = (at.x[*b], top(at.layer[*b]));
            let mid = (y1 + y2) / 2.0;
            let _ = write!(
                svg,
                r#"<path d="M{x1:.1},{y1:.1} C{x1:.1},{mid:.1} {x2:.1},{mid:.1} {x2:.1},{y2:.1}" class="edge"{style} marker-end="url(#arrow)"/>"#
            );
            let (lx, ly) = ((x1 + x2) / 2.0, mid + 4.0 + repeat * 15.0);
            let _ = write!(
                svg,
                r#"<text x="{lx:.1}" y="{ly:.1}" class="edge-label" text-anchor="middle">{label}</text>"#
            );
        } else {
            back += 1;
            let (x1, y1) = (
                at.x[*a] + at.width[*a] / 2.0,
                top(at.layer[*a]) + NODE_HEIGHT / 2.0,
            );
            let (x2, y2) = (
                at.x[*b] + at.width[*b] / 2.0,
                top(at.layer[*b]) + NODE_HEIGHT / 2.0,
            );
            let bulge = x1.max(x2) + 30.0 + back as f64 * 18.0;
            let _ = write!(
                svg,
                r#"<path d="M{x1:.1},{y1:.1} C{bulge:.1},{y1:.1} {bulge:.1},{y2:.1} {x2:.1},{y2:.1}" class="edge back"{style} marker-end="url(#arrow)"/>"#
            );
            let ly = (y1 + y2) / 2.0 + 4.0;
            let _ = write!(
                svg,
                r#"<text x="{bx:.1}" y="{ly:.1}" class="edge-label" text-anchor="start">{label}</text>"#,
                bx = bulge - 18.0,
            );
        }
    }
    for (i, stage) in stages.iter().enumerate() {
        let (w, x, y) = (at.width[i], at.x[i] - at.width[i] / 2.0, top(at.layer[i]));
        let mut class = String::from("stage");
        for (on, name) in [
            (stage.start, " start"),
            (stage.terminal, " terminal"),
            (current == Some(stage.name.as_str()), " current"),
        ] {
            if on {
                class.push_str(name);
            }
        }
        let _ = write!(
            svg,
            r#"<g class="{class}"><rect x="{x:.1}" y="{y:.1}" width="{w:.1}" height="{NODE_HEIGHT}" rx="8"/><text x="{cx:.1}" y="{ty:.1}" text-anchor="middle">{label}</text></g>"#,
            cx = at.x[i],
            ty = y + NODE_HEIGHT / 2.0 + FONT * 0.35,
            label = esc(&labels[i]),
        );
    }
    for (k, note) in notes.iter().enumerate() {
        let _ = write!(
            svg,
            r#"<text x="{MARGIN}" y="{y:.1}" class="edge-label">{note}</text>"#,
            y = top(at.layers) + 6.0 + k as f64 * 22.0,
            note = esc(note),
        );
    }
    svg.push_str("</svg>");
    svg
}

/// The graph in words, for screen readers.
fn describe(
    stages: &[&redress_engine::policy::stage_graph::Node],
    edges: &[(usize, usize, &Edge)],
    notes: &[String],
) -> String {
    let name = |i: usize| {
        stages[i]
            .label
            .clone()
            .unwrap_or_else(|| stages[i].name.clone())
    };
    let mut lines: Vec<String> = edges
        .iter()
        .map(|(a, b, e)| format!("{} → {}: {}", name(*a), name(*b), edge_label(e)))
        .collect();
    lines.extend(notes.iter().cloned());
    lines.join("; ")
}

#[cfg(test)]
mod tests {
    use super::{layers, order};

    #[test]
    fn stages_are_layered_by_distance_and_ordered_to_avoid_crossings() {
        // 0 → 1, 0 → 2, 1 → 3, 2 → 4, 3 → 0 (back), 5 unreachable.
        let edges = [(0, 1), (0, 2), (1, 3), (2, 4), (3, 0)];
        let layer = layers(6, Some(0), &edges);
        assert_eq!(layer, [0, 1, 1, 2, 2, 3]);
        let rows = order(&layer, &edges);
        // 3 hangs under 1 and 4 under 2: the second layer keeps their order.
        let pos = |i: usize| rows[layer[i]].iter().position(|&x| x == i).unwrap();
        assert_eq!(pos(1) < pos(2), pos(3) < pos(4));
    }
}
