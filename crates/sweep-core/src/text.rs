//! Bounding texts that come from trials (error messages, stderr tails), so
//! that whatever a trial prints, what the journal and the tables store of it
//! stays small.

use std::borrow::Cow;

/// The most bytes of an error message kept in the journal and the tables.
pub const ERROR_MAX: usize = 2048;

/// `text` if it is at most `max` bytes; else its head and its tail (the end
/// of a stderr tail is what says why) around a note of how much was cut,
/// about `max` bytes in all. Cuts fall on character boundaries.
pub fn cap_middle(text: &str, max: usize) -> Cow<'_, str> {
    if text.len() <= max {
        return Cow::Borrowed(text);
    }
    let head_end = floor_boundary(text, max / 4);
    let tail_start = ceil_boundary(text, text.len() - (max - max / 4));
    let cut = tail_start - head_end;
    Cow::Owned(format!(
        "{} [... {cut} bytes cut ...] {}",
        &text[..head_end],
        &text[tail_start..]
    ))
}

/// The largest character boundary at or before `i`.
fn floor_boundary(text: &str, mut i: usize) -> usize {
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// The smallest character boundary at or after `i`.
fn ceil_boundary(text: &str, mut i: usize) -> usize {
    while !text.is_char_boundary(i) {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_texts_are_kept_and_long_ones_keep_head_and_tail() {
        assert!(matches!(cap_middle("exit code 1", 100), Cow::Borrowed("exit code 1")));
        let long = format!("exit code 1; stderr: {}the end", "é".repeat(1_000_000));
        let capped = cap_middle(&long, ERROR_MAX);
        assert!(capped.len() <= ERROR_MAX + 60, "{}", capped.len());
        assert!(capped.starts_with("exit code 1; stderr: "));
        assert!(capped.ends_with("the end"));
        assert!(capped.contains("bytes cut ...]"));
    }
}
