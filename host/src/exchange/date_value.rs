//! Which texts a `DateTime` cmdlet parameter takes, checked before anything is sent: the forms
//! PowerShell converts to a `DateTime` when it binds a string (invariant culture, which reads
//! dates month first as en-US does), and ISO 8601. The text itself is sent, so the service reads
//! it as PowerShell would; only text that cannot be a date is refused here.

use chrono::{DateTime, NaiveDate, NaiveTime};

/// The forms accepted, in words, for the error that refuses another.
pub const DATE_FORMS: &str = "2026-12-31, 2026-12-31T17:00:00 (ISO 8601; Z or +01:00 for a zone) or 12/31/2026 5:00 PM (month first, as en-US)";

/// Date forms without a time.
const DATES: [&str; 3] = ["%Y-%m-%d", "%m/%d/%Y", "%Y/%m/%d"];

/// Time forms after a date and a space (or `T` for ISO 8601).
const TIMES: [&str; 6] = [
    "%H:%M",
    "%H:%M:%S",
    "%H:%M:%S%.f",
    "%I:%M %p",
    "%I:%M:%S %p",
    "%I %p",
];

/// Whether `text` is a date (and time) PowerShell would bind to a `DateTime` parameter.
pub fn is_date(text: &str) -> bool {
    let text = text.trim();
    if DateTime::parse_from_rfc3339(text).is_ok() {
        return true;
    }
    let (date, time) = match text.split_once(['T', ' ']) {
        Some((date, time)) => (date, Some(time.trim())),
        None => (text, None),
    };
    let Some(_) = DATES
        .iter()
        .find_map(|form| NaiveDate::parse_from_str(date, form).ok())
    else {
        return false;
    };
    match time {
        None => true,
        Some(time) => {
            let time = time.trim_end_matches('Z');
            TIMES
                .iter()
                .any(|form| NaiveTime::parse_from_str(&time.to_ascii_uppercase(), form).is_ok())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_forms_powershell_binds_are_dates() {
        for good in [
            "2026-12-31",
            "2026-12-31T17:00",
            "2026-12-31T17:00:00",
            "2026-12-31T17:00:00Z",
            "2026-12-31T17:00:00.123+01:00",
            "2026-12-31 17:00",
            "12/31/2026",
            "1/5/2026",
            "12/31/2026 5:00 PM",
            "12/31/2026 5:00 pm",
            "12/31/2026 17:00:30",
            "2026/12/31",
        ] {
            assert!(is_date(good), "{good}");
        }
    }

    #[test]
    fn other_text_is_not() {
        for bad in [
            "next tuesday",
            "31/12/2026",
            "2026-02-30",
            "2026-12-31T25:00",
            "tomorrow",
            "",
            "12/31/2026 5 o'clock",
            "2026-12",
        ] {
            assert!(!is_date(bad), "{bad}");
        }
    }
}
