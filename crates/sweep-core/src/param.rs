use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// One trial's parameters, by name. Ordered, so their canonical form is stable.
pub type Params = BTreeMap<String, ParamValue>;

/// The value of one parameter: what a spec can write and a trainer receives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ParamValue {
    /// `true` / `false`.
    Bool(bool),
    /// A whole number (`batch_size: 64`).
    Int(i64),
    /// A real number (`lr: 1e-3`).
    Float(f64),
    /// A word (`optimizer: adam`).
    Str(String),
    /// A list (`hidden: [256, 128]`).
    List(Vec<ParamValue>),
}

impl ParamValue {
    /// The value as a float, when it is a number.
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            ParamValue::Int(i) => Some(i as f64),
            ParamValue::Float(f) => Some(f),
            _ => None,
        }
    }

    /// The value as an integer, when it is a whole number.
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            ParamValue::Int(i) => Some(i),
            _ => None,
        }
    }

    /// The value as a string slice, when it is a word.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            ParamValue::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The value as a bool, when it is one.
    pub fn as_bool(&self) -> Option<bool> {
        match *self {
            ParamValue::Bool(b) => Some(b),
            _ => None,
        }
    }

    /// A short word for the value's type, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            ParamValue::Bool(_) => "a boolean",
            ParamValue::Int(_) => "an integer",
            ParamValue::Float(_) => "a number",
            ParamValue::Str(_) => "a string",
            ParamValue::List(_) => "a list",
        }
    }

    /// The value as one argv word: what `${param}` becomes in a `command:`.
    pub fn to_arg(&self) -> String {
        match self {
            ParamValue::Str(s) => s.clone(),
            ParamValue::List(items) => items.iter().map(ParamValue::to_arg).collect::<Vec<_>>().join(","),
            other => other.to_string(),
        }
    }
}

/// Rounds to `digits` significant digits, landing on the closest f64 to the decimal.
pub fn round_to_digits(x: f64, digits: i32) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    let exp = x.abs().log10().floor() as i32 - (digits - 1);
    // Format-and-parse gives the closest f64 to the decimal, which plain
    // scaling (x / 10^e).round() * 10^e does not always.
    let decimals = (-exp).max(0) as usize;
    if exp <= 0 {
        format!("{x:.decimals$}").parse().unwrap_or(x)
    } else {
        let scale = 10f64.powi(exp);
        (x / scale).round() * scale
    }
}

/// A number for people: four significant digits, whole numbers without a
/// fraction (`0.9729`, `3e-4`, `32160`).
pub fn format_short(x: f64) -> String {
    let r = round_to_digits(x, 4);
    if r.fract() == 0.0 && r.abs() < 1e15 {
        format!("{r:.0}")
    } else {
        format_float(r)
    }
}

/// Formats a float the way people write hyperparameters: `0.001`, `3e-4`, `1e7`.
///
/// Round-trips exactly (the shortest representation that parses back to the
/// same `f64`), switching to exponent notation for very small or large values.
pub fn format_float(x: f64) -> String {
    if x.is_finite() && x != 0.0 && (x.abs() < 1e-3 || x.abs() >= 1e7) {
        format!("{x:e}")
    } else if x.is_finite() && x.fract() == 0.0 {
        format!("{x:.1}")
    } else {
        format!("{x}")
    }
}

impl fmt::Display for ParamValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamValue::Bool(b) => write!(f, "{b}"),
            ParamValue::Int(i) => write!(f, "{i}"),
            ParamValue::Float(x) => f.write_str(&format_float(*x)),
            ParamValue::Str(s) => f.write_str(s),
            ParamValue::List(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str("]")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_numbers_keep_four_digits() {
        assert_eq!(format_short(0.972_949), "0.9729");
        assert_eq!(format_short(32_163.4), "32160");
        assert_eq!(format_short(3.0e-4), "3e-4");
        assert_eq!(format_short(1.0), "1");
        assert_eq!(format_short(-0.012_345_6), "-0.01235");
    }

    #[test]
    fn floats_print_as_people_write_them() {
        assert_eq!(format_float(1e-4), "1e-4");
        assert_eq!(format_float(3e-3), "0.003");
        assert_eq!(format_float(0.25), "0.25");
        assert_eq!(format_float(2.0), "2.0");
        assert_eq!(format_float(2.5e7), "2.5e7");
        for x in [1e-4, 3e-4, 0.1 + 0.2, 123.456, 7e-12] {
            assert_eq!(format_float(x).parse::<f64>().unwrap(), x);
        }
    }

    #[test]
    fn json_keeps_ints_and_floats_apart() {
        let v: Vec<ParamValue> = serde_json::from_str(r#"[1, 1.0, "adam", true, [128, 64]]"#).unwrap();
        assert_eq!(
            v,
            vec![
                ParamValue::Int(1),
                ParamValue::Float(1.0),
                ParamValue::Str("adam".into()),
                ParamValue::Bool(true),
                ParamValue::List(vec![ParamValue::Int(128), ParamValue::Int(64)]),
            ]
        );
        assert_eq!(serde_json::to_string(&v).unwrap(), r#"[1,1.0,"adam",true,[128,64]]"#);
    }

    #[test]
    fn argv_words() {
        assert_eq!(ParamValue::Float(1e-4).to_arg(), "1e-4");
        assert_eq!(
            ParamValue::List(vec![ParamValue::Int(256), ParamValue::Int(128)]).to_arg(),
            "256,128"
        );
    }
}
