//! Where each key and value of a YAML document is: a map from key paths to
//! positions, built from the event stream of a second, span-aware parser.
//!
//! `serde_norway` gives values but no positions; errors found while checking
//! those values look their path up here.

use crate::error::Pos;
use saphyr_parser::{Event, Parser};
use std::collections::HashMap;

/// Positions of the keys and values of one document, by key path.
#[derive(Debug, Default)]
pub struct Positions {
    keys: HashMap<String, Pos>,
    values: HashMap<String, Pos>,
}

enum Frame {
    Map { path: String, key: Option<String> },
    Seq { path: String, index: usize },
}

/// Joins a key path and a mapping key: `parameters` + `lr` = `parameters.lr`.
pub fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// Joins a key path and a list index: `values` + 2 = `values[2]`.
pub fn index(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}

impl Positions {
    /// Indexes a document. A document the parser cannot read yields no
    /// positions (the syntax error is reported by the main parser).
    pub fn of(text: &str) -> Positions {
        let mut pos = Positions::default();
        let mut stack: Vec<Frame> = Vec::new();
        for item in Parser::new_from_str(text) {
            let Ok((event, span)) = item else { break };
            let here = Pos {
                line: span.start.line(),
                col: span.start.col() + 1,
            };
            let opens = match event {
                Event::Scalar(..) | Event::Alias(_) => None,
                Event::MappingStart(..) => Some(true),
                Event::SequenceStart(..) => Some(false),
                Event::MappingEnd | Event::SequenceEnd => {
                    stack.pop();
                    continue;
                }
                Event::DocumentEnd => break,
                _ => continue,
            };
            // Where does this node sit: a key, a mapping value, a list item, the root?
            let node_path = match stack.last_mut() {
                None => String::new(),
                Some(Frame::Map { path, key }) => match key.take() {
                    None => {
                        // A key. Only scalar keys have a path.
                        if let Event::Scalar(text, ..) = &event {
                            let p = join(path, text);
                            pos.keys.insert(p, here);
                            *key = Some(text.to_string());
                        } else {
                            *key = Some(String::from("\u{0}complex"));
                        }
                        if opens.is_some() {
                            // A complex key: skip its contents as a nameless frame.
                            stack.push(if opens == Some(true) {
                                Frame::Map {
                                    path: "\u{0}".into(),
                                    key: None,
                                }
                            } else {
                                Frame::Seq {
                                    path: "\u{0}".into(),
                                    index: 0,
                                }
                            });
                        }
                        continue;
                    }
                    Some(k) => join(path, &k),
                },
                Some(Frame::Seq { path, index: i }) => {
                    let p = index(path, *i);
                    *i += 1;
                    p
                }
            };
            pos.values.insert(node_path.clone(), here);
            match opens {
                Some(true) => stack.push(Frame::Map {
                    path: node_path,
                    key: None,
                }),
                Some(false) => stack.push(Frame::Seq {
                    path: node_path,
                    index: 0,
                }),
                None => {}
            }
        }
        pos
    }

    /// Where the key at `path` is written, or the nearest enclosing key.
    pub fn key(&self, path: &str) -> Option<Pos> {
        self.find(path, true)
    }

    /// Where the value at `path` is written, or the nearest enclosing one.
    pub fn value(&self, path: &str) -> Option<Pos> {
        self.find(path, false)
    }

    fn find(&self, path: &str, key_first: bool) -> Option<Pos> {
        let mut p = path;
        loop {
            let hit = if key_first {
                self.keys.get(p).or_else(|| self.values.get(p))
            } else {
                self.values.get(p).or_else(|| self.keys.get(p))
            };
            if let Some(pos) = hit {
                return Some(*pos);
            }
            if p.is_empty() {
                return None;
            }
            // Up one level: strip `.key` or `[i]`.
            let cut = p.rfind(['.', '[']).unwrap_or(0);
            p = &p[..cut];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_keys_values_and_items() {
        let text = "method: grid\nparameters:\n  lr:\n    values: [1e-4, 3e-4]\n  opt: {values: [adam, sgd]}\n";
        let p = Positions::of(text);
        assert_eq!(p.key("method"), Some(Pos { line: 1, col: 1 }));
        assert_eq!(p.value("method"), Some(Pos { line: 1, col: 9 }));
        assert_eq!(p.key("parameters.lr"), Some(Pos { line: 3, col: 3 }));
        assert_eq!(p.value("parameters.lr.values[1]"), Some(Pos { line: 4, col: 20 }));
        assert_eq!(p.value("parameters.opt.values[1]"), Some(Pos { line: 5, col: 24 }));
        // A key that is not there: the nearest enclosing one.
        assert_eq!(p.key("parameters.lr.min"), Some(Pos { line: 3, col: 3 }));
    }
}
