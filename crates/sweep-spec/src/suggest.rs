//! "Did you mean" suggestions for misspelt names.

/// The candidate closest to `word`, if it is close enough to be a likely typo.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let word_l = word.to_ascii_lowercase();
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(&word_l, &c.to_ascii_lowercase()), c))
        .filter(|&(d, c)| d <= (c.len().max(word.len()) / 3).max(1))
        .min_by_key(|&(d, _)| d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::did_you_mean;

    #[test]
    fn suggests_near_misses_only() {
        let names = ["lr", "batch_size", "optimizer", "momentum"];
        assert_eq!(did_you_mean("optimiser", names), Some("optimizer"));
        assert_eq!(did_you_mean("batchsize", names), Some("batch_size"));
        assert_eq!(did_you_mean("LR", names), Some("lr"));
        assert_eq!(did_you_mean("temperature", names), None);
    }
}
