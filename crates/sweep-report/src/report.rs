//! `report.html`: one self-contained page (no network, no external files).

use crate::{Data, figures, svg};
use sweep_core::TrialStatus;
use sweep_results::Board;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const STYLE: &str = "
body { font-family: -apple-system, 'Segoe UI', 'DejaVu Sans', sans-serif; margin: 2em auto; max-width: 1200px; color: #222; padding: 0 1em; }
h1 { margin-bottom: 0.2em; }
.sub { color: #666; margin-top: 0; }
figure { margin: 1.5em 0; }
figure svg { max-width: 100%; height: auto; border: 1px solid #ddd; }
table { border-collapse: collapse; font-size: 13px; width: 100%; }
th, td { padding: 3px 8px; border-bottom: 1px solid #eee; text-align: left; white-space: nowrap; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.err { white-space: normal; color: #a00; max-width: 30em; }
th { background: #f4f4f4; cursor: pointer; position: sticky; top: 0; user-select: none; }
th.asc::after { content: ' \\25B2'; } th.desc::after { content: ' \\25BC'; }
tr.failed td, tr.timed_out td, tr.diverged td { background: #fff4f4; }
tr.pruned td { color: #777; }
.best { background: #f2fbf2; padding: 0.6em 1em; border-left: 4px solid #2ca02c; }
";

/// Sorting on a click on a column header; numbers by value, empty cells last.
const SCRIPT: &str = "
document.querySelectorAll('table.sortable').forEach(function (table) {
  var heads = table.tHead.rows[0].cells;
  Array.prototype.forEach.call(heads, function (th, col) {
    th.addEventListener('click', function () {
      var asc = !th.classList.contains('asc');
      Array.prototype.forEach.call(heads, function (h) { h.classList.remove('asc', 'desc'); });
      th.classList.add(asc ? 'asc' : 'desc');
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = a.cells[col].textContent, y = b.cells[col].textContent;
        if (x === '' || y === '') { return (x === '') - (y === ''); }
        var p = parseFloat(x), q = parseFloat(y);
        var c = (!isNaN(p) && !isNaN(q) && isFinite(x) && isFinite(y)) ? p - q : x.localeCompare(y);
        return asc ? c : -c;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
});
";

/// The whole page for a results folder.
pub fn report_html(board: &Board, d: &Data) -> Result<String, String> {
    let mut html = String::new();
    html.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    html.push_str(&format!("<title>sweep {}: report</title>\n", esc(&d.name)));
    html.push_str(&format!("<style>{STYLE}</style>\n</head>\n<body>\n"));
    html.push_str(&format!("<h1>sweep {}</h1>\n", esc(&d.name)));
    let mut counts: Vec<(TrialStatus, usize)> = Vec::new();
    for t in &board.trials {
        match counts.iter_mut().find(|(s, _)| *s == t.status) {
            Some((_, n)) => *n += 1,
            None => counts.push((t.status, 1)),
        }
    }
    let tally: Vec<String> = counts.iter().map(|(s, n)| format!("{n} {s}")).collect();
    html.push_str(&format!(
        "<p class=\"sub\">{} trials: {}; ranked by {} ({}). From {}.</p>\n",
        board.trials.len(),
        esc(&tally.join(", ")),
        esc(&d.metric),
        d.goal.as_str(),
        esc(&board.dir.root().display().to_string()),
    ));
    if let Some(best) = d.trials.first() {
        let params: Vec<String> = d
            .params
            .iter()
            .zip(&best.values)
            .map(|(p, v)| format!("{}={}", esc(&p.name), esc(v)))
            .collect();
        html.push_str(&format!(
            "<p class=\"best\">Best: trial <code>{}</code>, {} = <b>{}</b><br>{}</p>\n",
            esc(&best.id),
            esc(&d.metric),
            best.metric,
            params.join(" &middot; ")
        ));
    }
    for f in figures(d) {
        let svg = svg(d, &f)?;
        // The XML declaration is not allowed inside HTML.
        let svg = match svg.find("<svg") {
            Some(i) => &svg[i..],
            None => svg.as_str(),
        };
        html.push_str(&format!("<figure>\n{svg}\n</figure>\n"));
    }
    html.push_str("<h2>Leaderboard</h2>\n<p class=\"sub\">Click a column to sort.</p>\n");
    html.push_str("<table class=\"sortable\">\n<thead><tr>");
    let header = board.header();
    for h in &header {
        html.push_str(&format!("<th>{}</th>", esc(h)));
    }
    html.push_str("</tr></thead>\n<tbody>\n");
    for t in &board.trials {
        html.push_str(&format!("<tr class=\"{}\">", t.status));
        for (h, cell) in header.iter().zip(board.cells(t)) {
            let class = if h == "error" {
                " class=\"err\""
            } else if cell.parse::<f64>().is_ok() && h != "trial_id" {
                " class=\"num\""
            } else {
                ""
            };
            html.push_str(&format!("<td{class}>{}</td>", esc(&cell)));
        }
        html.push_str("</tr>\n");
    }
    html.push_str("</tbody>\n</table>\n");
    html.push_str(&format!("<script>{SCRIPT}</script>\n</body>\n</html>\n"));
    Ok(html)
}
