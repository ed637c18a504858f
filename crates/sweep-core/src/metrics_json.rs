//! Non-finite metric values (NaN, infinities) in JSON.
//!
//! Strict JSON has no NaN or infinity, but Python's `json.dumps` writes them
//! as the bare words `NaN`, `Infinity` and `-Infinity`, and a diverging
//! trainer reports exactly those. serde_json refuses the bare words when
//! reading and writes non-finite floats as `null` (which it then cannot read
//! back as a float). So metric maps go through this module both ways:
//!
//! - written: a finite value as a number, a non-finite one as the string
//!   `"NaN"`, `"Infinity"` or `"-Infinity"`;
//! - read: a number, one of those strings, or `null` (the key is left out: a
//!   trainer's "no value"). Before parsing, [`quote_bare`] turns Python's
//!   bare words into those strings.
//!
//! Use it on a field with `#[serde(with = "sweep_core::metrics_json")]`.
//!
//! ```
//! use sweep_core::EpochMetrics;
//! #[derive(serde::Serialize, serde::Deserialize)]
//! struct Row {
//!     #[serde(with = "sweep_core::metrics_json")]
//!     metrics: EpochMetrics,
//! }
//! let row: Row = serde_json::from_str(r#"{"metrics":{"loss":"NaN","lr":0.1}}"#).unwrap();
//! assert!(row.metrics["loss"].is_nan());
//! assert_eq!(serde_json::to_string(&row).unwrap(), r#"{"metrics":{"loss":"NaN","lr":0.1}}"#);
//! ```

use crate::EpochMetrics;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use std::borrow::Cow;
use std::fmt;

/// The JSON text of a non-finite value, as Python writes it; `None` when finite.
fn word_of(v: f64) -> Option<&'static str> {
    if v.is_nan() {
        Some("NaN")
    } else if v == f64::INFINITY {
        Some("Infinity")
    } else if v == f64::NEG_INFINITY {
        Some("-Infinity")
    } else {
        None
    }
}

/// The value of a non-finite word (`NaN`, `Infinity`, `-Infinity`, and
/// the spellings Rust and NumPy print: `nan`, `inf`, `-inf`).
fn value_of(word: &str) -> Option<f64> {
    match word {
        "NaN" | "nan" | "-NaN" | "-nan" => Some(f64::NAN),
        "Infinity" | "inf" | "+Infinity" | "+inf" => Some(f64::INFINITY),
        "-Infinity" | "-inf" => Some(f64::NEG_INFINITY),
        _ => None,
    }
}

/// Writes a metric map: finite values as numbers, others as strings.
pub fn serialize<S: Serializer>(metrics: &EpochMetrics, s: S) -> Result<S::Ok, S::Error> {
    let mut map = s.serialize_map(Some(metrics.len()))?;
    for (k, v) in metrics {
        match word_of(*v) {
            Some(word) => map.serialize_entry(k, word)?,
            None => map.serialize_entry(k, v)?,
        }
    }
    map.end()
}

/// Reads a metric map: numbers, the non-finite words as strings, `null`
/// (left out).
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<EpochMetrics, D::Error> {
    d.deserialize_map(MapVisitor)
}

struct MapVisitor;

impl<'de> Visitor<'de> for MapVisitor {
    type Value = EpochMetrics;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a map of metric names to numbers")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<EpochMetrics, A::Error> {
        let mut metrics = EpochMetrics::new();
        while let Some(key) = access.next_key::<String>()? {
            if let Metric(Some(v)) = access.next_value::<Metric>()? {
                metrics.insert(key, v);
            }
        }
        Ok(metrics)
    }
}

/// One metric's value; `None` for `null`.
struct Metric(Option<f64>);

impl<'de> de::Deserialize<'de> for Metric {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Metric, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Metric;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a number, NaN, Infinity or -Infinity")
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Metric, E> {
        Ok(Metric(Some(v)))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Metric, E> {
        Ok(Metric(Some(v as f64)))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Metric, E> {
        Ok(Metric(Some(v as f64)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Metric, E> {
        value_of(v)
            .map(|x| Metric(Some(x)))
            .ok_or_else(|| E::invalid_value(de::Unexpected::Str(v), &self))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Metric, E> {
        Ok(Metric(None))
    }

    fn visit_none<E: de::Error>(self) -> Result<Metric, E> {
        Ok(Metric(None))
    }
}

/// Python's bare `NaN`, `Infinity` and `-Infinity` outside string literals,
/// quoted (`"NaN"`), so serde_json reads the line and [`deserialize`] turns
/// them into floats. Everything else, string contents included, is left
/// as it is; a line without those words is not copied.
pub fn quote_bare(line: &str) -> Cow<'_, str> {
    if !line.contains("NaN") && !line.contains("Infinity") {
        return Cow::Borrowed(line);
    }
    let b = line.as_bytes();
    let word_byte = |i: usize| {
        b.get(i)
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b'.')
    };
    let mut out = String::with_capacity(line.len() + 16);
    let mut copied = 0;
    let mut in_string = false;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if in_string {
            match c {
                b'\\' => i += 2,
                b'"' => {
                    in_string = false;
                    i += 1;
                }
                _ => i += 1,
            }
            continue;
        }
        if c == b'"' {
            in_string = true;
            i += 1;
            continue;
        }
        let word = ["-Infinity", "Infinity", "NaN"]
            .into_iter()
            .find(|w| b[i..].starts_with(w.as_bytes()) && !word_byte(i + w.len()) && (i == 0 || !word_byte(i - 1)));
        match word {
            Some(w) => {
                out.push_str(&line[copied..i]);
                out.push('"');
                out.push_str(w);
                out.push('"');
                i += w.len();
                copied = i;
            }
            None => i += 1,
        }
    }
    if copied == 0 {
        return Cow::Borrowed(line);
    }
    out.push_str(&line[copied..]);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_words_are_quoted_outside_strings_only() {
        assert_eq!(
            quote_bare(r#"{"a": NaN, "b": Infinity, "c": [-Infinity, 1]}"#),
            r#"{"a": "NaN", "b": "Infinity", "c": ["-Infinity", 1]}"#
        );
        let inside = r#"{"reason": "loss is NaN, grad Infinity", "q": "a \" NaN"}"#;
        assert_eq!(quote_bare(inside), inside);
        assert!(matches!(quote_bare(inside), Cow::Borrowed(_)));
        assert_eq!(quote_bare(r#"{"a":NaNx,"b":xNaN}"#), r#"{"a":NaNx,"b":xNaN}"#);
        assert_eq!(quote_bare(r#"{"a":-1.5e-3}"#), r#"{"a":-1.5e-3}"#);
        assert_eq!(quote_bare("{\"é\":NaN}"), "{\"é\":\"NaN\"}");
    }

    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Row {
        #[serde(with = "super")]
        m: EpochMetrics,
    }

    #[test]
    fn non_finite_values_round_trip() {
        let mut m = EpochMetrics::new();
        m.insert("nan".into(), f64::NAN);
        m.insert("inf".into(), f64::INFINITY);
        m.insert("ninf".into(), f64::NEG_INFINITY);
        m.insert("x".into(), 0.5);
        let text = serde_json::to_string(&Row { m }).unwrap();
        assert_eq!(
            text,
            r#"{"m":{"inf":"Infinity","nan":"NaN","ninf":"-Infinity","x":0.5}}"#
        );
        let back: Row = serde_json::from_str(&text).unwrap();
        assert!(back.m["nan"].is_nan());
        assert_eq!(back.m["inf"], f64::INFINITY);
        assert_eq!(back.m["ninf"], f64::NEG_INFINITY);
        assert_eq!(back.m["x"], 0.5);
    }

    #[test]
    fn null_is_left_out_and_other_strings_are_refused() {
        let r: Row = serde_json::from_str(r#"{"m":{"a":null,"b":2}}"#).unwrap();
        assert_eq!(r.m.keys().collect::<Vec<_>>(), ["b"]);
        let err = serde_json::from_str::<Row>(r#"{"m":{"a":"fast"}}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("a number, NaN, Infinity or -Infinity"), "{err}");
    }
}
