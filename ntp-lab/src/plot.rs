//! `--plot FILE`: every node's true offset and stratum over time, one pair
//! of panels per topology, with the scripted events (cuts, heals, clock
//! steps) as vertical lines and each system peer change as a dot on the
//! stratum panel. SVG through `plotters`' SVG backend, which needs no font
//! or system library (text is left to the viewer's fonts).
//!
//! Reference servers (nodes with no association at the end of the run)
//! are left out: their offset is their configured error, and a server set
//! 200 ms off would flatten every other line. The offset axis is scaled to
//! what the nodes do after the first 10 % of the run (the start-up offsets,
//! tens of milliseconds, would hide the sub-millisecond steady state);
//! points beyond it are drawn at its edge.

use std::path::Path;

use ntp_lab::{Event, EventKind};
use plotters::prelude::*;

/// One node's samples: (time s, true offset s, stratum).
pub(crate) struct NodeTrace {
    pub(crate) name: String,
    pub(crate) points: Vec<(f64, f64, u8)>,
}

/// What one topology's run left for the plot.
pub(crate) struct RunTrace {
    pub(crate) name: String,
    pub(crate) duration: f64,
    pub(crate) nodes: Vec<NodeTrace>,
    pub(crate) events: Vec<Event>,
    /// System peer changes: (time s, index into `nodes`).
    pub(crate) peer_changes: Vec<(f64, usize)>,
}

const WIDTH: u32 = 1100;
const ROW_HEIGHT: u32 = 430;

/// Writes the SVG to `path`.
pub(crate) fn write_svg(path: &Path, runs: &[RunTrace]) -> Result<(), String> {
    let rows = u32::try_from(runs.len().max(1)).unwrap_or(1);
    let root = SVGBackend::new(path, (WIDTH, ROW_HEIGHT * rows)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let areas = root.split_evenly((runs.len().max(1), 1));
    for (area, run) in areas.iter().zip(runs) {
        draw_run(area, run).map_err(|e| format!("{}: {e}", run.name))?;
    }
    root.present().map_err(|e| e.to_string())
}

fn color(index: usize) -> RGBColor {
    // Distinct, readable on white.
    const COLORS: [RGBColor; 8] = [
        RGBColor(31, 119, 180),
        RGBColor(255, 127, 14),
        RGBColor(44, 160, 44),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
        RGBColor(227, 119, 194),
        RGBColor(127, 127, 127),
        RGBColor(23, 190, 207),
    ];
    COLORS.get(index % COLORS.len()).copied().unwrap_or(BLACK)
}

fn event_color(event: &Event) -> RGBColor {
    match event.kind {
        EventKind::Link { up: false } => RGBColor(214, 39, 40),
        EventKind::Link { up: true } => RGBColor(44, 160, 44),
        EventKind::ClockStep => RGBColor(148, 103, 189),
    }
}

type Area<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;

fn draw_run(area: &Area<'_>, run: &RunTrace) -> Result<(), Box<dyn std::error::Error>> {
    let height = i32::try_from(area.dim_in_pixel().1).unwrap_or(0);
    let (top, bottom) = area.split_vertically(height * 3 / 5);

    // Offsets in milliseconds, the axis scaled to the steady state.
    let settled = run.duration * 0.1;
    let largest = run
        .nodes
        .iter()
        .flat_map(|n| n.points.iter())
        .filter(|p| p.0 >= settled && p.1.is_finite())
        .map(|p| (p.1 * 1e3).abs())
        .fold(0.0f64, f64::max);
    let range = (largest * 1.15).max(0.05);
    let clamp = |ms: f64| ms.clamp(-range, range);

    let mut chart = ChartBuilder::on(&top)
        .caption(format!("{}: true offset (reference servers not drawn)", run.name), ("sans-serif", 17))
        .margin(10)
        .x_label_area_size(24)
        .y_label_area_size(64)
        .build_cartesian_2d(0f64..run.duration, -range..range)?;
    chart
        .configure_mesh()
        .y_desc("offset (ms)")
        .x_label_formatter(&|t| format!("{t:.0}"))
        .x_labels(12)
        .y_labels(7)
        .max_light_lines(0)
        .bold_line_style(RGBColor(230, 230, 230))
        .draw()?;
    for (i, node) in run.nodes.iter().enumerate() {
        let c = color(i);
        chart
            .draw_series(LineSeries::new(
                node.points.iter().filter(|p| p.1.is_finite()).map(|p| (p.0, clamp(p.1 * 1e3))),
                c.stroke_width(2),
            ))?
            .label(node.name.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2)));
    }
    for (i, event) in run.events.iter().enumerate() {
        let c = event_color(event);
        chart.draw_series(LineSeries::new([(event.time, -range), (event.time, range)], c.stroke_width(1)))?;
        // Events at one instant (several links cut together) share one label.
        let earlier = run.events.get(..i).unwrap_or_default();
        if earlier.iter().any(|e| e.time == event.time && e.kind == event.kind) {
            continue;
        }
        let together = run.events.iter().filter(|e| e.time == event.time && e.kind == event.kind).count();
        let text = match (together, event.kind) {
            (1, _) => event.text.clone(),
            (n, EventKind::Link { up: false }) => format!("{n} links cut"),
            (n, EventKind::Link { up: true }) => format!("{n} links healed"),
            (n, EventKind::ClockStep) => format!("{n} clocks set off"),
        };
        chart.draw_series(std::iter::once(Text::new(
            format!(" {text}"),
            (event.time, range * 0.92),
            ("sans-serif", 13).into_font().color(&c),
        )))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(180, 180, 180))
        .draw()?;

    // Strata as steps; 16 is "unsynchronized".
    let mut chart = ChartBuilder::on(&bottom)
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(64)
        .build_cartesian_2d(0f64..run.duration, 0f64..16.5)?;
    chart
        .configure_mesh()
        .x_desc("time (s)")
        .y_desc("stratum")
        .x_label_formatter(&|t| format!("{t:.0}"))
        .y_label_formatter(&|s| format!("{s:.0}"))
        .x_labels(12)
        .y_labels(9)
        .max_light_lines(0)
        .bold_line_style(RGBColor(230, 230, 230))
        .draw()?;
    for (i, node) in run.nodes.iter().enumerate() {
        let mut steps = Vec::with_capacity(node.points.len() * 2);
        let mut last: Option<u8> = None;
        // Only the changes (and the end): the SVG stays small.
        for &(t, _, stratum) in &node.points {
            match last {
                Some(previous) if previous == stratum => continue,
                Some(previous) => steps.push((t, f64::from(previous))),
                None => {}
            }
            steps.push((t, f64::from(stratum)));
            last = Some(stratum);
        }
        if let (Some(&(t, _, _)), Some(stratum)) = (node.points.last(), last) {
            steps.push((t, f64::from(stratum)));
        }
        // Lines of equal strata would hide each other: shift each node a little.
        let shift = (i as f64 - run.nodes.len() as f64 / 2.0) * 0.06;
        chart.draw_series(LineSeries::new(steps.into_iter().map(|(t, s)| (t, s + shift)), color(i).stroke_width(2)))?;
    }
    for &(time, node) in &run.peer_changes {
        let Some(trace) = run.nodes.get(node) else { continue };
        let stratum = trace.points.iter().find(|p| p.0 >= time).or(trace.points.last()).map_or(16, |p| p.2);
        chart.draw_series(std::iter::once(Circle::new((time, f64::from(stratum)), 4, color(node).filled())))?;
    }
    for event in &run.events {
        let c = event_color(event);
        chart.draw_series(LineSeries::new([(event.time, 0.0), (event.time, 16.5)], c.stroke_width(1)))?;
    }
    chart.draw_series(std::iter::once(Text::new(
        "dots: system peer changes; 16: unsynchronized",
        (run.duration * 0.01, 15.6),
        ("sans-serif", 12),
    )))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn the_svg_has_every_node_and_event() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lab.svg");
        let points = |offset: f64| (0..50).map(|i| (f64::from(i) * 10.0, offset / f64::from(i + 1), 3)).collect();
        let run = RunTrace {
            name: "demo".into(),
            duration: 500.0,
            nodes: vec![
                NodeTrace { name: "Alpha".into(), points: points(0.01) },
                NodeTrace { name: "Beta".into(), points: points(-0.02) },
            ],
            events: vec![
                Event { time: 100.0, kind: EventKind::Link { up: false }, text: "link A-B cut".into() },
                Event { time: 100.0, kind: EventKind::Link { up: false }, text: "link A-C cut".into() },
                Event { time: 300.0, kind: EventKind::Link { up: true }, text: "link A-B healed".into() },
            ],
            peer_changes: vec![(20.0, 0), (30.0, 1)],
        };
        write_svg(&path, &[run]).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        for needle in ["demo: true offset", "Alpha", "Beta", "2 links cut", "link A-B healed", "<circle", "stratum"] {
            assert!(svg.contains(needle), "{needle} missing");
        }
        assert!(!svg.contains("link A-C cut"), "events at one instant share a label");
    }
}
