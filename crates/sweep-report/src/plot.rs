//! The figures of a sweep, each drawn once for any plotters backend (PNG
//! through the bitmap backend, SVG as a string).

use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use sweep_core::{Goal, TrialStatus, format_short};
use sweep_results::{Board, Epochs};

/// Trials drawn in colour, with a legend entry each; the rest are grey.
pub const HIGHLIGHT: usize = 5;

const FONT: &str = "sans-serif";
/// Distinguishable colours for the highlighted trials (Tableau 10).
const PALETTE: [RGBColor; 5] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
];

/// Registers the embedded font for the bitmap backend (the SVG backend
/// names the font and lets the viewer draw it).
pub fn register_font() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let font: &'static [u8] = include_bytes!("../fonts/DejaVuSans.ttf");
        if plotters::style::register_font(FONT, FontStyle::Normal, font).is_err() {
            unreachable!("the embedded DejaVu Sans is a valid font");
        }
    });
}

/// What the figures are drawn from: the ranked trials of a leaderboard
/// (completed, and pruned ones ranked by their best value).
#[derive(Debug, Clone)]
pub struct Data {
    /// The sweep's name (for titles).
    pub name: String,
    /// The metric's name.
    pub metric: String,
    /// Whether larger is better.
    pub goal: Goal,
    /// Ranked trials with a finite metric, best first.
    pub trials: Vec<TrialPoint>,
    /// Every parameter column, numeric or not.
    pub params: Vec<Param>,
    /// Per trial id: the metric per epoch.
    pub curves: BTreeMap<String, Vec<(u32, f64)>>,
    /// The ids of the trials stopped early (their curves end early).
    pub pruned: BTreeSet<String>,
}

/// One ranked trial.
#[derive(Debug, Clone)]
pub struct TrialPoint {
    /// Its id.
    pub id: String,
    /// Its rank (1 = best).
    pub rank: usize,
    /// Its metric.
    pub metric: f64,
    /// Its parameter values, aligned with [`Data::params`].
    pub values: Vec<String>,
    /// Whether it was stopped early (ranked by its best value so far).
    pub pruned: bool,
}

/// A parameter and how its axis is drawn.
#[derive(Debug, Clone)]
pub struct Param {
    /// The column name.
    pub name: String,
    /// How values map to the axis.
    pub axis: Axis,
}

/// An axis for a parameter's values.
#[derive(Debug, Clone, PartialEq)]
pub enum Axis {
    /// Numbers, linear from `min` to `max`.
    Linear {
        /// Smallest value.
        min: f64,
        /// Largest value.
        max: f64,
    },
    /// Positive numbers spanning two decades or more: log10 axis.
    Log {
        /// Smallest value.
        min: f64,
        /// Largest value.
        max: f64,
    },
    /// Text (or few distinct values): the categories in order.
    Categories(Vec<String>),
}

impl Axis {
    fn of(values: &[&str]) -> Axis {
        let nums: Option<Vec<f64>> = values.iter().map(|v| v.parse::<f64>().ok()).collect();
        match nums {
            Some(mut n) if !n.is_empty() => {
                n.sort_by(f64::total_cmp);
                let (min, max) = (n[0], n[n.len() - 1]);
                let mut distinct = n.clone();
                distinct.dedup();
                // Values that bunch up at the low end of two decades or more
                // (learning rates, weight decays) read better on a log axis.
                let median = n[n.len() / 2];
                if min > 0.0 && max / min >= 100.0 && median < 0.25 * (min + max) / 2.0 {
                    Axis::Log { min, max }
                } else if distinct.len() <= 4 {
                    // A few numbers (batch sizes 32, 64, 128): evenly spaced.
                    Axis::Categories(distinct.iter().map(|x| number(*x)).collect())
                } else {
                    Axis::Linear { min, max }
                }
            }
            _ => {
                // Categories in the order they first appear (plan order).
                let mut order: Vec<String> = Vec::new();
                for v in values {
                    if !order.iter().any(|o| o == v) {
                        order.push(v.to_string());
                    }
                }
                Axis::Categories(order)
            }
        }
    }

    /// Whether the parameter takes more than one value (worth a figure).
    pub fn varies(&self) -> bool {
        match self {
            Axis::Linear { min, max } | Axis::Log { min, max } => max > min,
            Axis::Categories(c) => c.len() > 1,
        }
    }

    /// The position of a value in 0..=1 along the axis.
    fn unit(&self, v: &str) -> f64 {
        match self {
            Axis::Linear { min, max } => {
                let x = v.parse::<f64>().unwrap_or(*min);
                if max > min { (x - min) / (max - min) } else { 0.5 }
            }
            Axis::Log { min, max } => {
                let x = v.parse::<f64>().unwrap_or(*min);
                (x.log10() - min.log10()) / (max.log10() - min.log10())
            }
            Axis::Categories(c) => {
                let i = category(c, v);
                if c.len() > 1 {
                    i as f64 / (c.len() - 1) as f64
                } else {
                    0.5
                }
            }
        }
    }
}

impl Data {
    /// Gathers the figures' data from a leaderboard and its epochs; the
    /// metric and its goal are the ones the folder's spec names.
    pub fn new(name: &str, board: &Board, epochs: &Epochs) -> Data {
        let metric = board.metric.name.clone();
        let trials: Vec<TrialPoint> = board
            .ranked()
            .filter_map(|t| {
                Some(TrialPoint {
                    id: t.id.to_string(),
                    rank: t.rank?,
                    metric: t.value.filter(|v| v.is_finite())?,
                    values: t.params.clone(),
                    pruned: t.status == TrialStatus::Pruned,
                })
            })
            .collect();
        let params = board
            .params
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let values: Vec<&str> = trials.iter().map(|t| t.values[i].as_str()).collect();
                Param {
                    name: name.clone(),
                    axis: Axis::of(&values),
                }
            })
            .collect();
        let curves = board
            .trials
            .iter()
            .map(|t| (t.id.to_string(), epochs.series(t.id.as_str(), &metric)))
            .filter(|(_, s)| !s.is_empty())
            .collect();
        let pruned = board
            .trials
            .iter()
            .filter(|t| t.status == TrialStatus::Pruned)
            .map(|t| t.id.to_string())
            .collect();
        Data {
            name: name.to_string(),
            metric,
            goal: board.metric.goal,
            trials,
            params,
            curves,
            pruned,
        }
    }

    /// The ranked trials in words: `196 completed trials`, or `150 completed
    /// and 40 pruned trials`.
    pub fn ranked_in_words(&self) -> String {
        let pruned = self.trials.iter().filter(|t| t.pruned).count();
        let completed = self.trials.len() - pruned;
        if pruned == 0 {
            format!("{completed} completed trials")
        } else {
            format!("{completed} completed and {pruned} pruned trials")
        }
    }

    /// A short label of a trial's parameters, for legends.
    fn label(&self, t: &TrialPoint) -> String {
        let varying: Vec<String> = self
            .params
            .iter()
            .zip(&t.values)
            .filter(|(p, _)| p.axis.varies())
            .map(|(p, v)| format!("{}={v}", p.name))
            .collect();
        format!("#{} {}", t.rank, varying.join(" "))
    }
}

type DrawResult = Result<(), String>;

fn err<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

/// The metric's axis: widened a little so points are not on the frame, and
/// on the side of the worst values by enough to hold the legend there
/// (below for a metric maximized, above for one minimized).
fn metric_range(lo: f64, hi: f64, goal: Goal, legend_rows: usize) -> (std::ops::Range<f64>, SeriesLabelPosition) {
    let span = if hi > lo { hi - lo } else { lo.abs().max(1.0) * 0.1 };
    let room = span * (0.08 + 0.075 * legend_rows as f64);
    match goal {
        Goal::Maximize => ((lo - room)..(hi + span * 0.06), SeriesLabelPosition::LowerRight),
        Goal::Minimize => ((lo - span * 0.06)..(hi + room), SeriesLabelPosition::UpperRight),
    }
}

/// Widened a little so points at the ends are not on the frame.
fn padded(lo: f64, hi: f64) -> std::ops::Range<f64> {
    if hi > lo {
        let pad = (hi - lo) * 0.06;
        (lo - pad)..(hi + pad)
    } else {
        let pad = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
        (lo - pad)..(hi + pad)
    }
}

/// A number for a label: integers without a fraction, else 4 significant digits.
fn number(v: f64) -> String {
    format_short(v)
}

/// The index of value `v` among categories `c` (numbers compared by value).
fn category(c: &[String], v: &str) -> usize {
    c.iter()
        .position(|x| x == v || matches!((x.parse::<f64>(), v.parse::<f64>()), (Ok(a), Ok(b)) if a == b))
        .unwrap_or(0)
}

/// The metric per epoch of every trial; the best [`HIGHLIGHT`] in colour.
pub fn curves<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, d: &Data) -> DrawResult {
    root.fill(&WHITE).map_err(err)?;
    let all: Vec<(u32, f64)> = d.curves.values().flatten().copied().collect();
    if all.is_empty() {
        return empty(
            root,
            &format!("{}: {} per epoch", d.name, d.metric),
            "no epochs recorded yet",
        );
    }
    let max_epoch = all.iter().map(|(e, _)| *e).max().unwrap_or(1).max(2);
    let lo = all.iter().map(|(_, v)| *v).fold(f64::INFINITY, f64::min);
    let hi = all.iter().map(|(_, v)| *v).fold(f64::NEG_INFINITY, f64::max);
    let rows = d.trials.len().min(HIGHLIGHT)
        + usize::from(d.curves.len() > HIGHLIGHT)
        + usize::from(d.curves.keys().any(|id| d.pruned.contains(id)));
    let (y_range, corner) = metric_range(lo, hi, d.goal, rows);
    let mut chart = ChartBuilder::on(root)
        .caption(format!("{}: {} per epoch", d.name, d.metric), (FONT, 24))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(76)
        .build_cartesian_2d(1f64..max_epoch as f64, y_range)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("epoch")
        .y_desc(d.metric.as_str())
        .x_labels((max_epoch as usize).min(12))
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| number(*y))
        .label_style((FONT, 15))
        .axis_desc_style((FONT, 17))
        .light_line_style(WHITE)
        .draw()
        .map_err(err)?;
    let top: Vec<&TrialPoint> = d.trials.iter().take(HIGHLIGHT).collect();
    let grey = RGBColor(190, 190, 190);
    for (id, series) in &d.curves {
        if top.iter().any(|t| &t.id == id) {
            continue;
        }
        chart
            .draw_series(LineSeries::new(
                series.iter().map(|(e, v)| (*e as f64, *v)),
                grey.stroke_width(1),
            ))
            .map_err(err)?;
    }
    // The best drawn last, on top, the very best over everything.
    for (i, t) in top.iter().enumerate().rev() {
        let Some(series) = d.curves.get(&t.id) else { continue };
        let colour = PALETTE[i % PALETTE.len()];
        chart
            .draw_series(LineSeries::new(
                series.iter().map(|(e, v)| (*e as f64, *v)),
                colour.stroke_width(3),
            ))
            .map_err(err)?;
        chart
            .draw_series(
                series
                    .iter()
                    .map(|(e, v)| Circle::new((*e as f64, *v), 4, colour.filled())),
            )
            .map_err(err)?;
    }
    // Legend entries best first.
    for (i, t) in top.iter().enumerate() {
        let colour = PALETTE[i % PALETTE.len()];
        chart
            .draw_series(std::iter::empty::<PathElement<(f64, f64)>>())
            .map_err(err)?
            .label(d.label(t))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 22, y)], colour.stroke_width(3)));
    }
    if d.curves.len() > top.len() {
        chart
            .draw_series(std::iter::empty::<PathElement<(f64, f64)>>())
            .map_err(err)?
            .label(format!("{} other trials", d.curves.len() - top.len()))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 22, y)], grey.stroke_width(2)));
    }
    // A cross where each pruned trial was stopped.
    let stops: Vec<(f64, f64)> = d
        .curves
        .iter()
        .filter(|(id, _)| d.pruned.contains(*id))
        .filter_map(|(_, s)| s.last().map(|(e, v)| (*e as f64, *v)))
        .collect();
    if !stops.is_empty() {
        let ink = RGBColor(90, 90, 90);
        chart
            .draw_series(stops.iter().map(|p| Cross::new(*p, 5, ink.stroke_width(2))))
            .map_err(err)?
            .label(format!("{} pruned (stopped early)", stops.len()))
            .legend(move |(x, y)| Cross::new((x + 11, y), 5, ink.stroke_width(2)));
    }
    legend(&mut chart, corner)?;
    root.present().map_err(err)
}

/// The series' legend, boxed, in `corner`.
fn legend<'a, DB: DrawingBackend + 'a>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    corner: SeriesLabelPosition,
) -> DrawResult {
    chart
        .configure_series_labels()
        .position(corner)
        .background_style(WHITE.mix(0.9))
        .border_style(RGBColor(160, 160, 160))
        .label_font((FONT, 14))
        .draw()
        .map_err(err)
}

/// Where a trial sits along a figure's x axis.
type XOf = Box<dyn Fn(&TrialPoint) -> f64>;

/// A stable pseudo-random offset in -0.5..0.5 for spreading grouped points.
fn jitter(id: &str) -> f64 {
    let h = id.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    (h >> 11) as f64 / (1u64 << 53) as f64 - 0.5
}

/// The final metric against one parameter: a log axis for parameters that
/// span decades, grouped points for categories. The best trial is marked.
pub fn against<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, d: &Data, p: usize) -> DrawResult {
    root.fill(&WHITE).map_err(err)?;
    let param = &d.params[p];
    let title = format!("{}: {} vs {}", d.name, d.metric, param.name);
    if d.trials.is_empty() {
        return empty(root, &title, "no completed trials yet");
    }
    let lo = d.trials.iter().map(|t| t.metric).fold(f64::INFINITY, f64::min);
    let hi = d.trials.iter().map(|t| t.metric).fold(f64::NEG_INFINITY, f64::max);
    let (x_range, labels, x_of): (std::ops::Range<f64>, usize, XOf) = match &param.axis {
        Axis::Log { min, max } => {
            let (a, b) = (min.log10().floor(), max.log10().ceil());
            (
                (a - 0.15)..(b + 0.15),
                (b - a) as usize + 1,
                Box::new(move |t| t.values[p].parse::<f64>().map_or(a, f64::log10)),
            )
        }
        Axis::Linear { min, max } => (
            padded(*min, *max),
            8,
            Box::new(move |t| t.values[p].parse::<f64>().unwrap_or(0.0)),
        ),
        Axis::Categories(c) => {
            let c = c.clone();
            let n = c.len();
            (
                -0.5..(n as f64 - 0.5),
                n,
                Box::new(move |t| category(&c, &t.values[p]) as f64 + 0.5 * jitter(&t.id)),
            )
        }
    };
    let axis = param.axis.clone();
    let fmt_x = move |x: &f64| match &axis {
        Axis::Log { .. } => number(10f64.powf(*x)),
        Axis::Linear { .. } => number(*x),
        Axis::Categories(c) => {
            let i = x.round();
            if (x - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < c.len() {
                c[i as usize].clone()
            } else {
                String::new()
            }
        }
    };
    let x_desc = match &param.axis {
        Axis::Log { .. } => format!("{} (log scale)", param.name),
        _ => param.name.clone(),
    };
    let legend_rows = 1
        + usize::from(d.trials.iter().any(|t| t.pruned))
        + d.params
            .iter()
            .enumerate()
            .find_map(|(g, q)| match &q.axis {
                Axis::Categories(c) if g != p && (2..=PALETTE.len()).contains(&c.len()) => Some(c.len()),
                _ => None,
            })
            .unwrap_or(1);
    let (y_range, corner) = metric_range(lo, hi, d.goal, legend_rows);
    let mut chart = ChartBuilder::on(root)
        .caption(title, (FONT, 24))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(76)
        .build_cartesian_2d(x_range, y_range)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(format!("{} (best epoch)", d.metric))
        .x_labels(labels)
        .x_label_formatter(&fmt_x)
        .y_label_formatter(&|y| number(*y))
        .label_style((FONT, 15))
        .axis_desc_style((FONT, 17))
        .light_line_style(WHITE)
        .draw()
        .map_err(err)?;
    // Points coloured by another parameter with a few values (the
    // optimizer, say), so one figure shows the learning rate per optimizer.
    let group = d.params.iter().enumerate().find_map(|(g, q)| match &q.axis {
        Axis::Categories(c) if g != p && (2..=PALETTE.len()).contains(&c.len()) => Some((g, c.clone())),
        _ => None,
    });
    // Pruned trials as crosses: their value is the best before they were stopped.
    let mark = |t: &TrialPoint, colour: RGBAColor| -> DynElement<'static, DB, (f64, f64)> {
        if t.pruned {
            Cross::new((x_of(t), t.metric), 5, colour.stroke_width(2)).into_dyn()
        } else {
            Circle::new((x_of(t), t.metric), 5, colour.filled()).into_dyn()
        }
    };
    match &group {
        Some((g, cats)) => {
            for (k, cat) in cats.iter().enumerate() {
                let colour = [PALETTE[0], PALETTE[1], PALETTE[2], PALETTE[4], RGBColor(140, 86, 75)][k % 5];
                let members: Vec<&TrialPoint> = d
                    .trials
                    .iter()
                    .skip(1)
                    .filter(|t| category(cats, &t.values[*g]) == k)
                    .collect();
                chart
                    .draw_series(members.iter().map(|t| mark(t, colour.mix(0.7))))
                    .map_err(err)?
                    .label(format!("{}={cat}", d.params[*g].name))
                    .legend(move |(x, y)| Circle::new((x + 10, y), 5, colour.mix(0.7).filled()));
            }
        }
        None => {
            let blue = PALETTE[0];
            let completed = d.trials.iter().filter(|t| !t.pruned).count();
            chart
                .draw_series(d.trials.iter().skip(1).map(|t| mark(t, blue.mix(0.6))))
                .map_err(err)?
                .label(format!("{completed} completed trials"))
                .legend(move |(x, y)| Circle::new((x + 10, y), 5, blue.mix(0.6).filled()));
        }
    }
    let pruned = d.trials.iter().filter(|t| t.pruned).count();
    if pruned > 0 {
        let ink = RGBColor(90, 90, 90);
        chart
            .draw_series(std::iter::empty::<Cross<(f64, f64), i32>>())
            .map_err(err)?
            .label(format!("{pruned} pruned (best before stopping)"))
            .legend(move |(x, y)| Cross::new((x + 10, y), 5, ink.stroke_width(2)));
    }
    let best = &d.trials[0];
    let red = PALETTE[3];
    chart
        .draw_series([TriangleMarker::new((x_of(best), best.metric), 9, red.filled())])
        .map_err(err)?
        .label(format!("best: {}", d.label(best)))
        .legend(move |(x, y)| TriangleMarker::new((x + 10, y), 7, red.filled()));
    legend(&mut chart, corner)?;
    root.present().map_err(err)
}

/// A colour for a position in 0..=1 (viridis: dark purple, teal, yellow).
pub fn viridis(t: f64) -> RGBColor {
    const STOPS: [(f64, f64, f64); 5] = [
        (68.0, 1.0, 84.0),
        (59.0, 82.0, 139.0),
        (33.0, 145.0, 140.0),
        (94.0, 201.0, 98.0),
        (253.0, 231.0, 37.0),
    ];
    let t = t.clamp(0.0, 1.0) * (STOPS.len() - 1) as f64;
    let i = (t.floor() as usize).min(STOPS.len() - 2);
    let f = t - i as f64;
    let (a, b) = (STOPS[i], STOPS[i + 1]);
    let mix = |x: f64, y: f64| (x + (y - x) * f).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// Every trial as a line across one axis per varying parameter and a last
/// axis for the metric, coloured by the metric (yellow = best).
pub fn parallel<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, d: &Data) -> DrawResult {
    root.fill(&WHITE).map_err(err)?;
    let which = if d.trials.iter().any(|t| t.pruned) {
        "ranked"
    } else {
        "completed"
    };
    let title = format!(
        "{}: parameters of every {which} trial, coloured by {}",
        d.name, d.metric
    );
    let axes: Vec<usize> = (0..d.params.len()).filter(|&i| d.params[i].axis.varies()).collect();
    if d.trials.is_empty() {
        return empty(root, &title, "no completed trials yet");
    }
    let lo = d.trials.iter().map(|t| t.metric).fold(f64::INFINITY, f64::min);
    let hi = d.trials.iter().map(|t| t.metric).fold(f64::NEG_INFINITY, f64::max);
    let metric_axis = Axis::Linear { min: lo, max: hi };
    let n = axes.len() + 1;
    let area = root.titled(&title, (FONT, 22)).map_err(err)?;
    let (w, h) = area.dim_in_pixel();
    // Pixel layout: axes spread across, room for names above, a note below
    // and tick labels right of the last axis.
    let (left, right, top, bottom) = (60i32, w as i32 - 120, 45i32, h as i32 - 60);
    let x_at = |i: usize| {
        if n == 1 {
            (left + right) / 2
        } else {
            left + (right - left) * i as i32 / (n as i32 - 1)
        }
    };
    let y_at = |u: f64| bottom - ((bottom - top) as f64 * u.clamp(0.0, 1.0)).round() as i32;
    // How good a trial is, 0 (worst) to 1 (best), for its colour.
    let goodness = |m: f64| {
        let u = if hi > lo { (m - lo) / (hi - lo) } else { 1.0 };
        match d.goal {
            Goal::Maximize => u,
            Goal::Minimize => 1.0 - u,
        }
    };
    // Worst first, so the best lines are on top.
    for t in d.trials.iter().rev() {
        let mut pts: Vec<(i32, i32)> = axes
            .iter()
            .enumerate()
            .map(|(k, &p)| (x_at(k), y_at(d.params[p].axis.unit(&t.values[p]))))
            .collect();
        pts.push((x_at(n - 1), y_at(metric_axis.unit(&t.metric.to_string()))));
        let g = goodness(t.metric);
        let style = viridis(g)
            .mix(0.35 + 0.6 * g)
            .stroke_width(if t.rank == 1 { 4 } else { 2 });
        area.draw(&PathElement::new(pts, style)).map_err(err)?;
    }
    let axis_style = ShapeStyle::from(&BLACK).stroke_width(2);
    let label = TextStyle::from((FONT, 14).into_font()).color(&BLACK);
    let name_style = TextStyle::from((FONT, 17).into_font())
        .color(&BLACK)
        .pos(plotters::style::text_anchor::Pos::new(
            plotters::style::text_anchor::HPos::Center,
            plotters::style::text_anchor::VPos::Bottom,
        ));
    let right_of = label.pos(plotters::style::text_anchor::Pos::new(
        plotters::style::text_anchor::HPos::Left,
        plotters::style::text_anchor::VPos::Center,
    ));
    let all_axes: Vec<(String, &Axis)> = axes
        .iter()
        .map(|&p| (d.params[p].name.clone(), &d.params[p].axis))
        .chain([(format!("{} ({})", d.metric, d.goal.as_str()), &metric_axis)])
        .collect();
    for (k, (name, axis)) in all_axes.iter().enumerate() {
        let x = x_at(k);
        area.draw(&PathElement::new(vec![(x, top), (x, bottom)], axis_style))
            .map_err(err)?;
        area.draw(&Text::new(name.clone(), (x, top - 12), name_style.clone()))
            .map_err(err)?;
        let ticks: Vec<(f64, String)> = match axis {
            Axis::Categories(c) => c.iter().map(|v| (axis.unit(v), v.clone())).collect(),
            Axis::Linear { min, max } => (0..=4)
                .map(|i| {
                    let v = min + (max - min) * i as f64 / 4.0;
                    (axis.unit(&v.to_string()), number(v))
                })
                .collect(),
            Axis::Log { min, max } => {
                let (a, b) = (min.log10().ceil() as i32, max.log10().floor() as i32);
                let mut t: Vec<(f64, String)> = (a..=b)
                    .map(|e| (axis.unit(&10f64.powi(e).to_string()), number(10f64.powi(e))))
                    .collect();
                // The ends too, unless a decade sits there already.
                for (u, v) in [(0.0, *min), (1.0, *max)] {
                    if t.iter().all(|(x, _)| (x - u).abs() > 0.08) {
                        t.push((u, number(v)));
                    }
                }
                t
            }
        };
        for (u, text) in ticks {
            let y = y_at(u);
            area.draw(&PathElement::new(vec![(x - 5, y), (x + 5, y)], axis_style))
                .map_err(err)?;
            // On a white patch, so the lines under it do not hide it.
            let (tw, th) = area.estimate_text_size(&text, &right_of).map_err(err)?;
            let (tw, th) = (tw as i32, th as i32);
            area.draw(&Rectangle::new(
                [(x + 6, y - th / 2 - 1), (x + 10 + tw, y + th / 2 + 1)],
                WHITE.mix(0.85).filled(),
            ))
            .map_err(err)?;
            area.draw(&Text::new(text, (x + 8, y), right_of.clone())).map_err(err)?;
        }
    }
    let note = format!(
        "{} trials; colour: {} from worst (purple) to best (yellow); thick line: the best trial",
        d.trials.len(),
        d.metric
    );
    area.draw(&Text::new(note, (left, bottom + 32), label.clone()))
        .map_err(err)?;
    root.present().map_err(err)
}

fn empty<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, title: &str, why: &str) -> DrawResult {
    let area = root.titled(title, (FONT, 24)).map_err(err)?;
    let (w, h) = area.dim_in_pixel();
    area.draw(&Text::new(
        why.to_string(),
        (w as i32 / 2 - 120, h as i32 / 2),
        (FONT, 20).into_font().color(&RGBColor(110, 110, 110)),
    ))
    .map_err(err)?;
    root.present().map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sweep_core::{Metric, TrialId};
    use sweep_results::{ResultsDir, TrialRow};

    /// A 12-trial sweep over lr whose last four trials were pruned after
    /// two to four of eight epochs.
    fn sweep_with_pruned() -> Data {
        let mut trials = Vec::new();
        let mut epochs = Epochs {
            metrics: vec!["val_accuracy".into()],
            ..Epochs::default()
        };
        for i in 0..12u32 {
            let pruned = i >= 8;
            let ceiling = if pruned { 0.6 } else { 0.95 } - 0.02 * f64::from(i % 8);
            let run = if pruned { 2 + i % 3 } else { 8 };
            let curve: Vec<(u32, Vec<Option<f64>>)> = (1..=run)
                .map(|e| (e, vec![Some(ceiling * (1.0 - (-f64::from(e) / 2.0).exp()))]))
                .collect();
            let best = curve.last().and_then(|(_, v)| v[0]).unwrap();
            let id = format!("{i:012x}");
            epochs.trials.insert(id.clone(), curve);
            trials.push(TrialRow {
                rank: None,
                id: TrialId::from_string(id),
                status: if pruned {
                    TrialStatus::Pruned
                } else {
                    TrialStatus::Completed
                },
                value: Some(best),
                best_epoch: Some(run),
                params: vec![format_short(1e-4 * 2f64.powi(i as i32))],
                epochs_run: run as usize,
                duration_s: Some(1.0),
                device: None,
                seed: u64::from(i),
                attempts: 1,
                error: None,
            });
        }
        trials.sort_by(|a, b| b.value.unwrap().total_cmp(&a.value.unwrap()));
        for (r, t) in trials.iter_mut().enumerate() {
            t.rank = Some(r + 1);
        }
        let board = Board {
            dir: ResultsDir::new("r"),
            metric: Metric {
                name: "val_accuracy".into(),
                goal: Goal::Maximize,
            },
            params: vec!["lr".into()],
            trials,
        };
        Data::new("pruning", &board, &epochs)
    }

    #[test]
    fn pruned_trials_are_ranked_and_their_curves_end_with_a_cross() {
        let d = sweep_with_pruned();
        assert_eq!(d.trials.len(), 12, "pruned trials are ranked");
        assert_eq!(d.pruned.len(), 4);
        assert_eq!(d.ranked_in_words(), "8 completed and 4 pruned trials");
        let f = crate::figures(&d);
        let svg = crate::svg(&d, &f[0]).unwrap();
        assert!(svg.contains("4 pruned (stopped early)"), "the legend says so");
        assert!(svg.matches("<polyline").count() >= 12, "every curve is drawn");
        let against = crate::svg(&d, &f[1]).unwrap();
        assert!(against.contains("8 completed trials") && against.contains("4 pruned (best before stopping)"));
        let parallel = crate::svg(&d, &f[2]).unwrap();
        assert!(parallel.contains("every ranked trial"));
        let dir = tempfile::tempdir().unwrap();
        let files = crate::write_plots(dir.path(), &d).unwrap();
        assert_eq!(files.len(), 6);
    }
}
