//! Figures and the HTML report of a sweep's results folder.
//!
//! [`figures`] lists what is worth drawing (learning curves, the metric
//! against each parameter that varies, parallel coordinates); [`write_plots`]
//! writes each as PNG and SVG under `plots/`; [`report_html`] builds one
//! self-contained page (figures inline as SVG, a sortable table, no network).

pub mod plot;
mod report;

pub use plot::{Axis, Data};
pub use report::report_html;

use plotters::prelude::*;
use std::path::{Path, PathBuf};

/// One figure of a sweep.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// The metric per epoch of every trial.
    Curves,
    /// The final metric against parameter N (an index into [`Data::params`]).
    Against(usize),
    /// Parallel coordinates of every parameter and the metric.
    Parallel,
}

/// A figure to draw: its kind, file stem and size in pixels.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    /// What it shows.
    pub kind: Kind,
    /// The file name without extension (`curves`, `val_accuracy_vs_lr`).
    pub stem: String,
    /// Width and height in pixels.
    pub size: (u32, u32),
}

/// The figures worth drawing for this data: a parameter that takes a single
/// value gets none.
pub fn figures(d: &Data) -> Vec<Figure> {
    let mut out = vec![Figure {
        kind: Kind::Curves,
        stem: "curves".into(),
        size: (1000, 600),
    }];
    for (i, p) in d.params.iter().enumerate() {
        if p.axis.varies() {
            out.push(Figure {
                kind: Kind::Against(i),
                stem: format!("{}_vs_{}", file_safe(&d.metric), file_safe(&p.name)),
                size: (900, 560),
            });
        }
    }
    let axes = d.params.iter().filter(|p| p.axis.varies()).count() + 1;
    out.push(Figure {
        kind: Kind::Parallel,
        stem: "parallel".into(),
        size: ((220 * axes as u32).clamp(900, 1800), 600),
    });
    out
}

fn file_safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn draw<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    d: &Data,
    f: &Figure,
) -> Result<(), String> {
    match f.kind {
        Kind::Curves => plot::curves(area, d),
        Kind::Against(p) => plot::against(area, d, p),
        Kind::Parallel => plot::parallel(area, d),
    }
}

/// The figure as an SVG document.
pub fn svg(d: &Data, f: &Figure) -> Result<String, String> {
    // Text is measured with the font even when the viewer draws it.
    plot::register_font();
    let mut s = String::new();
    {
        let area = SVGBackend::with_string(&mut s, f.size).into_drawing_area();
        draw(&area, d, f)?;
    }
    Ok(s)
}

/// Writes every figure as `<stem>.png` and `<stem>.svg` into `out`, and
/// returns the files written.
pub fn write_plots(out: &Path, d: &Data) -> Result<Vec<PathBuf>, String> {
    plot::register_font();
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let mut written = Vec::new();
    for f in figures(d) {
        let png = out.join(format!("{}.png", f.stem));
        {
            let area = BitMapBackend::new(&png, f.size).into_drawing_area();
            draw(&area, d, &f).map_err(|e| format!("{}: {e}", png.display()))?;
        }
        written.push(png);
        let path = out.join(format!("{}.svg", f.stem));
        std::fs::write(&path, svg(d, &f)?).map_err(|e| format!("{}: {e}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}
