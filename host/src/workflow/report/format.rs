//! Numbers, sizes, durations and times the way an admin reads them: `5,000`, `1.5 GB`,
//! `2 h 05 min`, `2025-06-02 12:00 UTC`. Sizes use 1,024-byte units named KB, MB, GB, as
//! Exchange shows them (`1.5 GB (1,610,612,736 bytes)`).

use std::time::Duration;

use chrono::{DateTime, Utc};

/// The size units, each 1,024 times the one before.
const BYTE_UNITS: [&str; 7] = ["B", "KB", "MB", "GB", "TB", "PB", "EB"];

/// `1234567` → `1,234,567`.
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// A size in bytes with the largest unit it reaches and at most three significant digits:
/// `0 B`, `512 B`, `1 KB`, `1.5 GB`, `200 MB`.
pub fn bytes(n: f64) -> String {
    let (value, unit) = in_unit(n);
    format!("{} {unit}", significant(value))
}

/// A size in bytes split into its number and unit (`(1.5, "GB")`), for labels that name the
/// unit once.
pub fn in_unit(n: f64) -> (f64, &'static str) {
    let mut value = n;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < BYTE_UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    (value, BYTE_UNITS[unit])
}

/// A count-like number in short form: `500`, `2k`, `1.5M`, `20G`; `1e15` beyond.
pub fn short(n: f64) -> String {
    const STEPS: [(f64, &str); 3] = [(1e9, "G"), (1e6, "M"), (1e3, "k")];
    if n >= 1e12 {
        return format!("{n:.0e}");
    }
    for (size, suffix) in STEPS {
        if n >= size {
            return format!("{}{suffix}", significant(n / size));
        }
    }
    significant(n)
}

/// Up to three significant digits, without trailing zeros: `1`, `1.5`, `12.5`, `512`.
pub fn significant(value: f64) -> String {
    let text = if value >= 100.0 {
        format!("{value:.0}")
    } else if value >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    };
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

/// A duration at the precision that matters for it: `850 ms`, `12.3 s`, `4 min 05 s`,
/// `2 h 03 min`, `3 d 04 h`.
pub fn duration(d: Duration) -> String {
    let secs = d.as_secs();
    match secs {
        0 => format!("{} ms", d.as_millis()),
        1..60 => format!("{:.1} s", d.as_secs_f64()),
        60..3600 => format!("{} min {:02} s", secs / 60, secs % 60),
        3600..86400 => format!("{} h {:02} min", secs / 3600, secs % 3600 / 60),
        _ => format!("{} d {:02} h", secs / 86400, secs % 86400 / 3600),
    }
}

/// A time in UTC to the second: `2025-06-02 12:00:05 UTC`.
pub fn time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_have_thousands_separators() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1000), "1,000");
        assert_eq!(count(1234567), "1,234,567");
        assert_eq!(count(u64::MAX), "18,446,744,073,709,551,615");
    }

    #[test]
    fn sizes_use_the_largest_unit() {
        assert_eq!(bytes(0.0), "0 B");
        assert_eq!(bytes(512.0), "512 B");
        assert_eq!(bytes(1024.0), "1 KB");
        assert_eq!(bytes(1.5 * 1024.0 * 1024.0 * 1024.0), "1.5 GB");
        assert_eq!(bytes(200.0 * 1024.0 * 1024.0), "200 MB");
        assert_eq!(
            bytes(f64::MAX),
            format!("{} EB", significant(f64::MAX / 1024f64.powi(6)))
        );
    }

    #[test]
    fn short_numbers() {
        assert_eq!(short(0.0), "0");
        assert_eq!(short(500.0), "500");
        assert_eq!(short(2000.0), "2k");
        assert_eq!(short(1_500_000.0), "1.5M");
        assert_eq!(short(2e10), "20G");
        assert_eq!(short(1e15), "1e15");
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(Duration::from_millis(850)), "850 ms");
        assert_eq!(duration(Duration::from_millis(12_340)), "12.3 s");
        assert_eq!(duration(Duration::from_secs(245)), "4 min 05 s");
        assert_eq!(duration(Duration::from_secs(7380)), "2 h 03 min");
        assert_eq!(
            duration(Duration::from_secs(3 * 86400 + 4 * 3600)),
            "3 d 04 h"
        );
        assert_eq!(
            duration(Duration::MAX),
            format!("{} d 07 h", u64::MAX / 86400)
        );
    }
}
