//! Durations as admins write them, the one parser for workflow files (`backoff = "1m30s"`), the
//! command line (`--timeout 10m`) and `audit show --since 7d`: parts of a number and a unit
//! (`ms`, `s`, `m` or `min`, `h`, `d`), e.g. `500ms`, `2s`, `1.5h`, `1m30s`, `7d`.

use std::time::Duration;

/// Parses `<number><unit>` parts; `None` for anything else (a bare number, a sign, a space
/// inside, an unknown unit, an overflow).
pub fn parse(text: &str) -> Option<Duration> {
    let mut rest = text.trim();
    if rest.is_empty() {
        return None;
    }
    let mut total = Duration::ZERO;
    while !rest.is_empty() {
        let number_end = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(rest.len());
        let number = &rest[..number_end];
        if number.is_empty() || number.starts_with('.') || number.ends_with('.') {
            return None;
        }
        let value: f64 = number.parse().ok()?;
        rest = &rest[number_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let seconds_per = match &rest[..unit_end] {
            "ms" => 0.001,
            "s" => 1.0,
            "m" | "min" => 60.0,
            "h" => 3600.0,
            "d" => 86_400.0,
            _ => return None,
        };
        let part = Duration::try_from_secs_f64(value * seconds_per).ok()?;
        total = total.checked_add(part)?;
        rest = &rest[unit_end..];
    }
    Some(total)
}

/// Writes a duration the way [`parse`] reads it, in its largest whole unit.
pub fn show(duration: Duration) -> String {
    let ms = duration.as_millis();
    match ms {
        0 => "0s".into(),
        ms if ms % 1000 != 0 => format!("{ms}ms"),
        ms if ms % 86_400_000 == 0 => format!("{}d", ms / 86_400_000),
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
        assert_eq!(parse("10min"), Some(Duration::from_secs(600)));
        assert_eq!(parse("1.5h"), Some(Duration::from_secs(5400)));
        assert_eq!(parse("7d"), Some(Duration::from_secs(7 * 86_400)));
        assert_eq!(parse(" 1h "), Some(Duration::from_secs(3600)));
        assert_eq!(parse("0s"), Some(Duration::ZERO));
        for bad in [
            "",
            "2",
            "s",
            "2 s",
            "2sec",
            "-1s",
            ".5s",
            "5.s",
            "1..5s",
            "1e3s",
            "99999999999999999999999h",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
        for (d, text) in [
            (90, "90s"),
            (120, "2m"),
            (7200, "2h"),
            (172_800, "2d"),
            (0, "0s"),
        ] {
            assert_eq!(show(Duration::from_secs(d)), text);
            assert_eq!(parse(text), Some(Duration::from_secs(d)));
        }
        assert_eq!(show(Duration::from_millis(1500)), "1500ms");
    }
}
