//! `sweep params`: what the built-in trainer accepts.

use sweep_core::builtin::{self, Kind};
use sweep_results::Table;

pub fn run() {
    let mut t = Table::new(vec!["name".into(), "takes".into(), "default".into(), "what".into()]);
    for p in builtin::PARAMS {
        let takes = match p.kind {
            Kind::Choice(words) => words.join("|"),
            _ => p.expected(),
        };
        let default = p.default.value().map_or_else(|| "-".to_string(), |v| v.to_string());
        t.row(vec![p.name.into(), takes, default, p.doc.into()]);
    }
    print!("{}", t.render());
}
