//! Reading a timestamp the ways Exchange writes one: ISO 8601 (with or without a zone; without
//! one it is UTC), a bare date, .NET's JSON `/Date(1700000000000)/` (milliseconds since 1970,
//! an offset after them changes nothing), or PowerShell's `11/14/2023 10:13:20 PM`. .NET's
//! "no date" values (`0001-01-01`, the Windows epoch 1601-01-01) mean "never", like a null.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

/// What a timestamp field holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Stamp {
    /// A point in time.
    At(DateTime<Utc>),
    /// No time: missing, null, empty or .NET's minimum.
    Never,
    /// Something that is not a timestamp.
    Unreadable,
}

/// Reads `text` as a timestamp.
pub(super) fn read(text: &str) -> Stamp {
    let text = text.trim();
    if text.is_empty() {
        return Stamp::Never;
    }
    let at = match text.strip_prefix("/Date(") {
        Some(rest) => dotnet_json(rest),
        None => iso_or_powershell(text),
    };
    match at {
        Some(at) if at <= windows_epoch() => Stamp::Never,
        Some(at) => Stamp::At(at),
        None => Stamp::Unreadable,
    }
}

/// `1700000000000)/` or `1700000000000+0100)/`, after `/Date(`.
fn dotnet_json(rest: &str) -> Option<DateTime<Utc>> {
    let inner = rest.strip_suffix(")/")?;
    let digits_end = inner
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_digit() || (i == 0 && c == '-')))
        .map_or(inner.len(), |(i, _)| i);
    let (millis, offset) = inner.split_at(digits_end);
    let offset_ok = offset.is_empty()
        || (offset.len() == 5
            && offset.starts_with(['+', '-'])
            && offset[1..].bytes().all(|b| b.is_ascii_digit()));
    if !offset_ok {
        return None;
    }
    DateTime::from_timestamp_millis(millis.parse().ok()?)
}

/// ISO 8601 with a zone, without one (UTC), a date alone, or PowerShell's US format.
fn iso_or_powershell(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Some(at.with_timezone(&Utc));
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%m/%d/%Y %I:%M:%S %p",
    ] {
        if let Ok(at) = NaiveDateTime::parse_from_str(text, format) {
            return Some(at.and_utc());
        }
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .map(|d| d.and_time(chrono::NaiveTime::MIN).and_utc())
}

/// 1601-01-01, the Windows FILETIME epoch; at or before it a .NET date means "none".
fn windows_epoch() -> DateTime<Utc> {
    NaiveDate::from_ymd_opt(1601, 1, 1)
        .unwrap_or(NaiveDate::MIN)
        .and_time(chrono::NaiveTime::MIN)
        .and_utc()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> String {
        match read(text) {
            Stamp::At(t) => t.to_rfc3339(),
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn exchange_timestamps_are_read() {
        let expected = "2023-11-14T22:13:20+00:00";
        for text in [
            "2023-11-14T22:13:20Z",
            "2023-11-14T23:13:20+01:00",
            "2023-11-14T22:13:20",
            "2023-11-14 22:13:20",
            " 2023-11-14T22:13:20.0000000Z ",
            "/Date(1700000000000)/",
            "/Date(1700000000000+0100)/",
            "/Date(1700000000000-0500)/",
            "11/14/2023 10:13:20 PM",
        ] {
            assert_eq!(at(text), expected, "{text}");
        }
        assert_eq!(at("2023-11-14"), "2023-11-14T00:00:00+00:00");
        assert_eq!(at("/Date(-1000)/"), "1969-12-31T23:59:59+00:00");
    }

    #[test]
    fn no_date_is_never() {
        for text in [
            "",
            "  ",
            "0001-01-01T00:00:00",
            "1601-01-01T00:00:00Z",
            "/Date(-62135596800000)/",
        ] {
            assert_eq!(read(text), Stamp::Never, "{text:?}");
        }
    }

    #[test]
    fn anything_else_is_unreadable() {
        for text in [
            "yesterday",
            "2023-13-45",
            "/Date(abc)/",
            "/Date(1700000000000",
            "/Date(1700000000000+01)/",
            "/Date()/",
            "/Date(99999999999999999999)/",
            "/Date(9223372036854775807)/",
            "NaN",
        ] {
            assert_eq!(read(text), Stamp::Unreadable, "{text:?}");
        }
    }
}
