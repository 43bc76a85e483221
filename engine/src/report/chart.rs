//! The bulletin's charts, drawn with `plotters` on its SVG backend into strings
//! that the page inlines: no script, no network, printable.

use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;

/// One series of a chart: its name (shown in the page's legend), colour and values.
pub(crate) struct Series<'a> {
    pub name: &'a str,
    pub colour: RGBColor,
    pub values: Vec<u64>,
}

/// The palette: met, breached, running past the deadline, withdrawn; received, closed.
pub(crate) const GREEN: RGBColor = RGBColor(46, 125, 50);
pub(crate) const RED: RGBColor = RGBColor(198, 40, 40);
pub(crate) const AMBER: RGBColor = RGBColor(239, 108, 0);
pub(crate) const GREY: RGBColor = RGBColor(120, 120, 120);
pub(crate) const BLUE: RGBColor = RGBColor(21, 101, 192);
pub(crate) const TEAL: RGBColor = RGBColor(0, 121, 107);

const FONT: &str = "sans-serif";
type Failure = Box<dyn std::error::Error>;

/// Vertical bars per label (`bars`), with `line` drawn over them when given.
pub(crate) fn columns(labels: &[String], bars: &Series<'_>, line: Option<&Series<'_>>) -> String {
    draw(|svg| {
        let n = labels.len().max(1) as u32;
        let line_max = line.map_or(0, |l| l.values.iter().copied().max().unwrap_or(0));
        let top = nice_max(bars.values.iter().copied().max().unwrap_or(0).max(line_max));
        let root = SVGBackend::with_string(svg, (720, 260)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(44)
            .build_cartesian_2d((0u32..n).into_segmented(), 0u64..top)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .label_style((FONT, 12))
            .x_labels(labels.len().max(1))
            .x_label_formatter(&|v| segment_label(v, labels))
            .draw()?;
        chart.draw_series(bars.values.iter().enumerate().map(|(i, v)| {
            let i = i as u32;
            let mut bar = Rectangle::new(
                [
                    (SegmentValue::Exact(i), 0),
                    (SegmentValue::Exact(i + 1), *v),
                ],
                bars.colour.filled(),
            );
            bar.set_margin(0, 0, 6, 6);
            bar
        }))?;
        if let Some(line) = line {
            let points = line.values.iter().enumerate();
            let points: Vec<_> = points
                .map(|(i, v)| (SegmentValue::CenterOf(i as u32), *v))
                .collect();
            chart.draw_series(LineSeries::new(points.clone(), line.colour.stroke_width(3)))?;
            chart.draw_series(
                points
                    .into_iter()
                    .map(|p| Circle::new(p, 4, line.colour.filled())),
            )?;
        }
        root.present()?;
        Ok(())
    })
}

/// Horizontal bars per label, the series stacked left to right; `markers`, when
/// given, drawn as dots (a previous period's values).
pub(crate) fn stacked_rows(
    labels: &[String],
    series: &[Series<'_>],
    markers: Option<&Series<'_>>,
) -> String {
    draw(|svg| {
        let n = labels.len().max(1) as u32;
        let totals = (0..labels.len()).map(|i| {
            series
                .iter()
                .map(|s| s.values.get(i).copied().unwrap_or(0))
                .sum::<u64>()
        });
        let marker_max = markers.map_or(0, |m| m.values.iter().copied().max().unwrap_or(0));
        let top = nice_max(totals.max().unwrap_or(0).max(marker_max));
        let height = 60 + 28 * labels.len().max(1) as u32;
        let root = SVGBackend::with_string(svg, (720, height)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(200)
            .build_cartesian_2d(0u64..top, (0u32..n).into_segmented())?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .label_style((FONT, 12))
            .y_labels(labels.len().max(1))
            .y_label_formatter(&|v| segment_label(v, labels))
            .draw()?;
        for i in 0..labels.len() {
            let mut left = 0;
            for s in series {
                let v = s.values.get(i).copied().unwrap_or(0);
                let y = i as u32;
                let mut bar = Rectangle::new(
                    [
                        (left, SegmentValue::Exact(y)),
                        (left + v, SegmentValue::Exact(y + 1)),
                    ],
                    s.colour.filled(),
                );
                bar.set_margin(5, 5, 0, 0);
                chart.draw_series(std::iter::once(bar))?;
                left += v;
            }
        }
        if let Some(m) = markers {
            let dots = m.values.iter().enumerate();
            chart.draw_series(dots.map(|(i, v)| {
                Circle::new((*v, SegmentValue::CenterOf(i as u32)), 5, m.colour.filled())
            }))?;
        }
        root.present()?;
        Ok(())
    })
}

fn segment_label(v: &SegmentValue<u32>, labels: &[String]) -> String {
    match v {
        SegmentValue::CenterOf(i) => labels.get(*i as usize).cloned().unwrap_or_default(),
        _ => String::new(),
    }
}

/// A round upper bound a little above `max` (at least 1), so bars never touch the top.
fn nice_max(max: u64) -> u64 {
    let want = max + max / 10 + 1;
    let step = 10u64
        .pow(want.max(1).ilog10().saturating_sub(0).min(18))
        .max(1);
    let step = if want <= 10 { 1 } else { step / 2 };
    want.div_ceil(step.max(1)) * step.max(1)
}

/// Runs a drawing into a fresh string; a drawing that fails leaves a note instead.
fn draw(f: impl FnOnce(&mut String) -> Result<(), Failure>) -> String {
    let mut svg = String::new();
    match f(&mut svg) {
        Ok(()) => svg,
        Err(e) => format!(
            "<p class=\"note\">chart not drawn: {}</p>",
            super::bulletin::escape(&e.to_string())
        ),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn charts_are_svg_with_their_labels() {
        let labels = vec!["费用 fees".to_string(), "cards".to_string()];
        let bars = Series {
            name: "received",
            colour: BLUE,
            values: vec![3, 5],
        };
        let line = Series {
            name: "closed",
            colour: TEAL,
            values: vec![2, 4],
        };
        let svg = columns(&labels, &bars, Some(&line));
        assert!(svg.starts_with("<svg"), "{svg}");
        assert!(svg.contains("费用 fees") && svg.contains("cards"));
        let met = Series {
            name: "met",
            colour: GREEN,
            values: vec![1, 0],
        };
        let breached = Series {
            name: "breached",
            colour: RED,
            values: vec![0, 2],
        };
        let rows = stacked_rows(&labels, &[met, breached], Some(&line));
        assert!(rows.starts_with("<svg") && rows.contains("<rect"), "{rows}");
    }

    #[test]
    fn the_scale_is_round_and_above_the_largest_value() {
        for (max, at_least) in [(0, 1), (3, 4), (9, 10), (47, 52), (1000, 1101)] {
            let top = nice_max(max);
            assert!(top >= at_least && top > max, "{max} -> {top}");
        }
    }
}
