//! Plain text tables for the terminal: aligned columns, numbers to the right.

/// A table being built: a header and rows of cells.
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column names.
    pub fn new(header: Vec<String>) -> Table {
        Table {
            header,
            rows: Vec::new(),
        }
    }

    /// Adds a row (as many cells as the header has columns).
    pub fn row(&mut self, cells: Vec<String>) {
        debug_assert_eq!(cells.len(), self.header.len());
        self.rows.push(cells);
    }

    /// Renders the table, two spaces between columns, no trailing blanks.
    pub fn render(&self) -> String {
        let cols = self.header.len();
        let mut width = vec![0usize; cols];
        let mut numeric = vec![true; cols];
        for row in &self.rows {
            for (c, cell) in row.iter().enumerate() {
                width[c] = width[c].max(cell.chars().count());
                numeric[c] &= cell.parse::<f64>().is_ok();
            }
        }
        for (c, h) in self.header.iter().enumerate() {
            width[c] = width[c].max(h.chars().count());
            numeric[c] &= !self.rows.is_empty();
        }
        let mut out = String::new();
        let mut line = |cells: &[String]| {
            let mut s = String::new();
            for (c, cell) in cells.iter().enumerate() {
                if c > 0 {
                    s.push_str("  ");
                }
                let pad = width[c] - cell.chars().count();
                if numeric[c] {
                    s.push_str(&" ".repeat(pad));
                    s.push_str(cell);
                } else {
                    s.push_str(cell);
                    s.push_str(&" ".repeat(pad));
                }
            }
            out.push_str(s.trim_end());
            out.push('\n');
        };
        line(&self.header);
        for row in &self.rows {
            line(row);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::Table;

    #[test]
    fn aligns_text_left_and_numbers_right() {
        let mut t = Table::new(vec!["name".into(), "lr".into()]);
        t.row(vec!["adam".into(), "0.001".into()]);
        t.row(vec!["sgd".into(), "0.1".into()]);
        assert_eq!(t.render(), "name     lr\nadam  0.001\nsgd     0.1\n");
    }
}
