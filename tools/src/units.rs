// SPDX-License-Identifier: GPL-2.0

//! Sizes and times on the command line: `--bytes 10k`, `--duration 2.5`.

/// A byte count: a number with an optional suffix, `k`, `M`, `G` or `T`
/// for powers of 1000 and `Ki`, `Mi`, `Gi` or `Ti` for powers of 1024, each
/// optionally followed by `B` (`10k`, `1.5MB`, `4KiB`). It must be more
/// than 0.
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, suffix) = s.split_at(split);
    let unit: u64 = match suffix.strip_suffix('B').unwrap_or(suffix) {
        "" => 1,
        "k" | "K" => 1_000,
        "M" => 1_000_000,
        "G" => 1_000_000_000,
        "T" => 1_000_000_000_000,
        "Ki" | "ki" => 1 << 10,
        "Mi" => 1 << 20,
        "Gi" => 1 << 30,
        "Ti" => 1 << 40,
        _ => {
            return Err(format!(
                "unknown unit `{suffix}` (use k, M, G, T or Ki, Mi, Gi, Ti)"
            ))
        }
    };
    let bytes = if number.contains('.') {
        let n: f64 = number
            .parse()
            .map_err(|_| format!("`{number}` is not a number"))?;
        let b = (n * unit as f64).round();
        if b >= u64::MAX as f64 {
            return Err("too large".to_string());
        }
        b as u64
    } else {
        let n: u64 = number
            .parse()
            .map_err(|_| format!("`{number}` is not a number"))?;
        n.checked_mul(unit).ok_or("too large")?
    };
    if bytes == 0 {
        return Err("must be more than 0".to_string());
    }
    Ok(bytes)
}

/// A positive number of seconds (fractions allowed).
pub fn parse_secs(s: &str) -> Result<f64, String> {
    let secs: f64 = s
        .parse()
        .map_err(|_| format!("`{s}` is not a number of seconds"))?;
    if !secs.is_finite() || secs <= 0.0 {
        return Err("must be more than 0".to_string());
    }
    if secs > 1e9 {
        return Err("too large".to_string());
    }
    Ok(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_suffixes() {
        assert_eq!(parse_bytes("10000"), Ok(10_000));
        assert_eq!(parse_bytes("10k"), Ok(10_000));
        assert_eq!(parse_bytes("10K"), Ok(10_000));
        assert_eq!(parse_bytes("10kB"), Ok(10_000));
        assert_eq!(parse_bytes("2M"), Ok(2_000_000));
        assert_eq!(parse_bytes("1.5M"), Ok(1_500_000));
        assert_eq!(parse_bytes("3G"), Ok(3_000_000_000));
        assert_eq!(parse_bytes("4Ki"), Ok(4096));
        assert_eq!(parse_bytes("4KiB"), Ok(4096));
        assert_eq!(parse_bytes("1Mi"), Ok(1 << 20));
        assert_eq!(parse_bytes("1Gi"), Ok(1 << 30));
        assert_eq!(parse_bytes("7B"), Ok(7));
    }

    #[test]
    fn bad_byte_counts_are_refused() {
        for bad in [
            "",
            "k",
            "10x",
            "10 k",
            "-1",
            "1.2.3k",
            "0",
            "0k",
            "99999999999T",
        ] {
            assert!(parse_bytes(bad).is_err(), "{bad:?} accepted");
        }
        assert!(parse_bytes("10q").unwrap_err().contains("unknown unit"));
    }

    #[test]
    fn seconds_must_be_positive() {
        assert_eq!(parse_secs("2.5"), Ok(2.5));
        for bad in ["0", "0.0", "-1", "nan", "inf", "soon", ""] {
            assert!(parse_secs(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(parse_secs("0").unwrap_err(), "must be more than 0");
    }
}
