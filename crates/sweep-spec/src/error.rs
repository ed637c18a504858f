//! Spec errors that say where: file, line, column, key path, what was expected.

use std::fmt;
use std::path::PathBuf;

/// A position in the spec file, 1-based, as editors count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pos {
    /// Line, from 1.
    pub line: usize,
    /// Column, from 1, in characters.
    pub col: usize,
}

/// One problem found in a spec.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    /// The key path (`parameters.lr.min`); empty for the document itself.
    pub path: String,
    /// Where in the file, when known.
    pub pos: Option<Pos>,
    /// What is wrong: what was expected and what was found.
    pub message: String,
    /// How to fix it, when there is something useful to say.
    pub help: Option<String>,
}

impl Diagnostic {
    /// Adds a hint on how to fix the problem.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

/// Why a spec could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// The file could not be read.
    #[error("cannot read {}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file was read, and has these problems.
    #[error("{}", render(path, source_text, diagnostics))]
    Invalid {
        /// The file, as the user named it.
        path: PathBuf,
        /// Its text, to quote the offending lines.
        source_text: String,
        /// Every problem found (at least one).
        diagnostics: Vec<Diagnostic>,
    },
}

impl SpecError {
    /// The problems found, empty for an I/O error.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            SpecError::Io { .. } => &[],
            SpecError::Invalid { diagnostics, .. } => diagnostics,
        }
    }
}

/// Renders diagnostics the way rustc does: message, location, the line, a caret.
fn render(path: &std::path::Path, text: &str, diagnostics: &[Diagnostic]) -> String {
    let mut out = String::new();
    for (i, d) in diagnostics.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        render_one(&mut out, path, text, d).expect("writing to a String");
    }
    if diagnostics.len() > 1 {
        out.push_str(&format!("\n{} problems in {}", diagnostics.len(), path.display()));
    }
    out
}

fn render_one(out: &mut String, path: &std::path::Path, text: &str, d: &Diagnostic) -> fmt::Result {
    use fmt::Write;
    if d.path.is_empty() {
        writeln!(out, "{}", d.message)?;
    } else {
        writeln!(out, "{}: {}", d.path, d.message)?;
    }
    match d.pos {
        Some(pos) => {
            writeln!(out, "  --> {}:{}:{}", path.display(), pos.line, pos.col)?;
            if let Some(line) = text.lines().nth(pos.line.saturating_sub(1)) {
                let num = pos.line.to_string();
                let pad = " ".repeat(num.len());
                writeln!(out, " {pad} |")?;
                writeln!(out, " {num} | {}", line.trim_end())?;
                let caret_pad: String = line
                    .chars()
                    .take(pos.col.saturating_sub(1))
                    .map(|c| if c == '\t' { '\t' } else { ' ' })
                    .collect();
                writeln!(out, " {pad} | {caret_pad}^")?;
            }
        }
        None => writeln!(out, "  --> {}", path.display())?,
    }
    if let Some(help) = &d.help {
        writeln!(out, "  = help: {help}")?;
    }
    Ok(())
}
