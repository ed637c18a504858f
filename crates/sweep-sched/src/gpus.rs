//! Finding the GPUs this machine offers, without linking any GPU library.

/// The GPUs trials may use, as `CUDA_VISIBLE_DEVICES` entries: the entries of
/// `CUDA_VISIBLE_DEVICES` when it is set (empty or `-1`: none), else the
/// indexes `nvidia-smi` lists, else none. Finding none is normal.
pub fn detect() -> Vec<String> {
    if let Ok(v) = std::env::var("CUDA_VISIBLE_DEVICES") {
        return parse_visible(&v);
    }
    let Ok(out) = std::process::Command::new("nvidia-smi")
        .args(["--query-gpu=index", "--format=csv,noheader"])
        .stderr(std::process::Stdio::null())
        .output()
    else {
        return Vec::new();
    };
    if !out.status.success() {
        return Vec::new();
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect()
}

/// The entries of a `CUDA_VISIBLE_DEVICES` value.
pub fn parse_visible(v: &str) -> Vec<String> {
    let v = v.trim();
    if v.is_empty() || v == "-1" || v.eq_ignore_ascii_case("none") || v.eq_ignore_ascii_case("nodevfiles") {
        return Vec::new();
    }
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::parse_visible;

    #[test]
    fn visible_devices() {
        assert_eq!(parse_visible("0,2"), ["0", "2"]);
        assert_eq!(parse_visible("GPU-1234, GPU-5678"), ["GPU-1234", "GPU-5678"]);
        assert!(parse_visible("").is_empty());
        assert!(parse_visible("-1").is_empty());
    }
}
