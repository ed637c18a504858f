//! Durations as people write them in specs: `90s`, `30m`, `1h30m`, `2d`.

use std::time::Duration;

/// Parses `1h30m`, `45s`, `500ms`, `2d`; a plain number is seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let s = text.trim();
    if s.is_empty() {
        return Err("expected a duration like 30m, 1h30m or 90s, found an empty string".into());
    }
    if let Ok(secs) = s.parse::<f64>() {
        return secs_to_duration(secs, text);
    }
    let mut total = 0.0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let unit_len = rest[num_len..]
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len() - num_len);
        let (num, unit) = (&rest[..num_len], rest[num_len..num_len + unit_len].trim());
        let value: f64 = num.parse().map_err(|_| bad(text))?;
        let scale = match unit {
            "ms" => 0.001,
            "s" | "sec" | "secs" => 1.0,
            "m" | "min" | "mins" => 60.0,
            "h" | "hr" | "hrs" => 3600.0,
            "d" | "day" | "days" => 86400.0,
            _ => return Err(bad(text)),
        };
        total += value * scale;
        rest = rest[num_len + unit_len..].trim_start();
    }
    secs_to_duration(total, text)
}

fn secs_to_duration(secs: f64, text: &str) -> Result<Duration, String> {
    if secs.is_finite() && secs > 0.0 && secs < 1e9 {
        Ok(Duration::from_secs_f64(secs))
    } else {
        Err(format!("expected a positive duration, found `{text}`"))
    }
}

fn bad(text: &str) -> String {
    format!("expected a duration like 30m, 1h30m or 90s (units ms, s, m, h, d), found `{text}`")
}

/// Formats a duration compactly: `1h30m`, `45s`, `2.5s`.
pub fn format_duration(d: Duration) -> String {
    let secs = d.as_secs();
    if d.subsec_millis() != 0 && secs < 60 {
        return format!("{}s", (d.as_secs_f64() * 1000.0).round() / 1000.0);
    }
    let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if s > 0 || out.is_empty() {
        out.push_str(&format!("{s}s"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_people_write() {
        assert_eq!(parse_duration("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("1h 30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2d"), Ok(Duration::from_secs(172_800)));
        assert!(parse_duration("30 minutes").is_err());
        assert!(parse_duration("-5s").is_err());
        assert!(parse_duration("0").is_err());
        assert!(parse_duration("m").is_err());
    }

    #[test]
    fn formats_compactly() {
        assert_eq!(format_duration(Duration::from_secs(5400)), "1h30m");
        assert_eq!(format_duration(Duration::from_secs(45)), "45s");
        assert_eq!(format_duration(Duration::from_millis(2500)), "2.5s");
    }
}
