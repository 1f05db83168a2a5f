//! Durations as admins write them in the file: `500ms`, `2s`, `1m30s`, `1h`.

use std::time::Duration;

/// Parses `<number><unit>` parts (units `ms`, `s`, `m`, `h`), e.g. `2s` or `1m30s`.
pub(crate) fn parse(text: &str) -> Option<Duration> {
    let mut rest = text.trim();
    if rest.is_empty() {
        return None;
    }
    let mut total = Duration::ZERO;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let number: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let part = match &rest[..unit] {
            "ms" => Duration::from_millis(number),
            "s" => Duration::from_secs(number),
            "m" => Duration::from_secs(number.checked_mul(60)?),
            "h" => Duration::from_secs(number.checked_mul(3600)?),
            _ => return None,
        };
        total = total.checked_add(part)?;
        rest = &rest[unit..];
    }
    Some(total)
}

/// Writes a duration the way [`parse`] reads it, in its largest whole unit.
pub(crate) fn show(duration: Duration) -> String {
    let ms = duration.as_millis();
    match ms {
        0 => "0s".into(),
        ms if ms % 1000 != 0 => format!("{ms}ms"),
        ms if ms % 3_600_000 == 0 => format!("{}h", ms / 3_600_000),
        ms if ms % 60_000 == 0 => format!("{}m", ms / 60_000),
        ms => format!("{}s", ms / 1000),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_written() {
        assert_eq!(parse("2s"), Some(Duration::from_secs(2)));
        assert_eq!(parse("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(parse(" 1h "), Some(Duration::from_secs(3600)));
        assert_eq!(parse("0s"), Some(Duration::ZERO));
        for bad in [
            "",
            "2",
            "s",
            "2 s",
            "2sec",
            "-1s",
            "1.5s",
            "99999999999999999999h",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
        for (d, text) in [(90, "90s"), (120, "2m"), (7200, "2h"), (0, "0s")] {
            assert_eq!(show(Duration::from_secs(d)), text);
        }
        assert_eq!(show(Duration::from_millis(1500)), "1500ms");
    }
}
