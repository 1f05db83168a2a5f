//! Clock reading and the date formats the two services print.

use chrono::{DateTime, SecondsFormat, Utc};
use openssl::asn1::{Asn1Time, Asn1TimeRef};

/// Seconds since the Unix epoch, now.
pub fn now() -> i64 {
    Utc::now().timestamp()
}

/// Seconds since the Unix epoch with sub-second precision, now.
pub fn now_f64() -> f64 {
    let now = Utc::now();
    now.timestamp() as f64 + f64::from(now.timestamp_subsec_micros()) / 1e6
}

fn utc(unix: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(unix, 0).unwrap_or_default()
}

/// Exchange's serialized DateTime: `2022-09-21T08:07:47.0000000+00:00`.
pub fn exchange_date(unix: i64) -> String {
    // Whole seconds: the seven fractional digits .NET prints are always zero here.
    format!("{}.0000000+00:00", utc(unix).format("%Y-%m-%dT%H:%M:%S"))
}

/// Exchange's `*UTC` DateTime variant: `2022-09-21T08:07:47Z`.
pub fn exchange_date_utc(unix: i64) -> String {
    utc(unix).to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Entra's error `timestamp`: `2026-01-01 00:00:00Z`.
pub fn aad_timestamp(unix: i64) -> String {
    utc(unix).format("%Y-%m-%d %H:%M:%SZ").to_string()
}

/// Plain ISO-8601 UTC, used in `Rate-Limit-Reset`.
pub fn iso(unix: i64) -> String {
    utc(unix).to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Parses an RFC 3339 / ISO-8601 timestamp (as parameters carry them) to Unix seconds.
pub fn parse_iso(text: &str) -> Option<i64> {
    DateTime::parse_from_rfc3339(text.trim())
        .map(|d| d.timestamp())
        .ok()
        .or_else(|| {
            chrono::NaiveDateTime::parse_from_str(text.trim(), "%Y-%m-%dT%H:%M:%S")
                .ok()
                .map(|d| d.and_utc().timestamp())
        })
}

/// An X.509 time as Unix seconds.
pub fn asn1_to_unix(time: &Asn1TimeRef) -> i64 {
    let epoch = Asn1Time::from_unix(0).expect("the epoch is a valid time");
    epoch
        .diff(time)
        .map(|d| i64::from(d.days) * 86_400 + i64::from(d.secs))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_match_the_services() {
        assert_eq!(
            exchange_date(1_663_747_667),
            "2022-09-21T08:07:47.0000000+00:00"
        );
        assert_eq!(aad_timestamp(1_767_225_600), "2026-01-01 00:00:00Z");
        assert_eq!(parse_iso("2022-09-21T08:07:47Z"), Some(1_663_747_667));
        assert_eq!(parse_iso("2022-09-21T08:07:47"), Some(1_663_747_667));
    }

    #[test]
    fn reads_certificate_times() {
        let t = Asn1Time::from_unix(1_700_000_000).unwrap();
        assert_eq!(asn1_to_unix(&t), 1_700_000_000);
    }
}
