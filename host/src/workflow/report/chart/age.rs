//! `kind = "age"`: timestamps counted by how many whole days before the run's end they are
//! (calendar days in UTC), into the chart's buckets: never, ≥ 365 d, 180–365 d … < 30 d. The
//! run's end is known only when the report is drawn, so the counts are kept per day (a few
//! thousand counters at most, whatever the number of records) and bucketed then.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;

use super::super::format;
use super::timestamp::{self, Stamp};
use super::{Bar, records};

/// The counts of an age chart.
#[derive(Clone, Debug)]
pub(super) struct Ages {
    /// The buckets' edges in days, increasing.
    buckets_days: Vec<u32>,
    /// Records with no time (missing, null, empty, .NET's minimum).
    never: u64,
    /// Values that are not a timestamp.
    unreadable: u64,
    /// Records by their timestamp's day (UTC).
    by_day: BTreeMap<NaiveDate, u64>,
}

impl Ages {
    /// No counts yet, for buckets with edges `buckets_days`.
    pub(super) fn new(buckets_days: &[u32]) -> Ages {
        Ages {
            buckets_days: buckets_days.to_vec(),
            never: 0,
            unreadable: 0,
            by_day: BTreeMap::new(),
        }
    }

    /// Counts one record's value (`None` when it has none: "never").
    pub(super) fn add(&mut self, value: Option<&Value>) {
        let stamp = match value {
            None => Stamp::Never,
            Some(Value::String(text)) => timestamp::read(text),
            Some(_) => Stamp::Unreadable,
        };
        match stamp {
            Stamp::At(at) => *self.by_day.entry(at.date_naive()).or_default() += 1,
            Stamp::Never => self.never += 1,
            Stamp::Unreadable => self.unreadable += 1,
        }
    }

    /// The bars, oldest first ("never" leading), with ages counted back from `ended`, and
    /// notes on what they leave out.
    pub(super) fn bars(&self, field: &str, ended: DateTime<Utc>) -> (Vec<Bar>, Vec<String>) {
        let edges = &self.buckets_days;
        let today = ended.date_naive();
        let mut counts = vec![0u64; edges.len() + 1];
        let mut later = 0u64;
        for (day, n) in &self.by_day {
            let age = (today - *day).num_days();
            if age < 0 {
                later += n;
            }
            let bucket = edges.partition_point(|edge| i64::from(*edge) <= age);
            counts[bucket] = counts[bucket].saturating_add(*n);
        }
        let days = |d: u32| format::count(u64::from(d));
        let mut bars = Vec::with_capacity(counts.len() + 1);
        bars.push(Bar {
            label: "never".into(),
            detail: format!("no {field}"),
            count: self.never,
            muted: false,
        });
        for (bucket, count) in counts.iter().enumerate().rev() {
            let (label, detail) = match (bucket.checked_sub(1).map(|b| edges[b]), edges.get(bucket))
            {
                (None, Some(&to)) => (
                    format!("< {} d", days(to)),
                    format!("under {} days before the run ended", days(to)),
                ),
                (Some(from), Some(&to)) => (
                    format!("{}–{} d", days(from), days(to)),
                    format!(
                        "{} to {} days before the run ended",
                        days(from),
                        days(to.saturating_sub(1))
                    ),
                ),
                (Some(from), None) => (
                    format!("≥ {} d", days(from)),
                    format!("{} days or more before the run ended", days(from)),
                ),
                (None, None) => continue,
            };
            bars.push(Bar {
                label,
                detail,
                count: *count,
                muted: false,
            });
        }
        let mut notes = Vec::new();
        if later > 0 {
            notes.push(format!(
                "{} had a {field} after the run ended (a clock ahead?), counted as the newest.",
                records(later)
            ));
        }
        if self.unreadable > 0 {
            notes.push(format!(
                "{} had a {field} that is not a date.",
                records(self.unreadable)
            ));
        }
        (bars, notes)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn ended() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2025-06-30T08:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn chart(values: &[Option<Value>]) -> (Vec<(String, u64)>, Vec<String>) {
        let mut ages = Ages::new(&[30, 90, 180, 365]);
        for v in values {
            ages.add(v.as_ref());
        }
        let (bars, notes) = ages.bars("LastLogonTime", ended());
        (
            bars.into_iter().map(|b| (b.label, b.count)).collect(),
            notes,
        )
    }

    #[test]
    fn stale_mailboxes_are_bucketed_by_whole_days_before_the_end() {
        let (bars, notes) = chart(&[
            None,
            Some(json!("")),
            Some(json!("2025-06-29T23:59:59Z")),
            Some(json!("2025-05-31T08:00:00Z")),      // 30 days
            Some(json!("2025-06-01T00:00:00+02:00")), // 2025-05-31 UTC: 30 days
            Some(json!("/Date(1700000000000)/")),     // 2023-11-14: 594 days
            Some(json!("2024-06-30T12:00:00")),       // 365 days
            Some(json!("2024-07-01T12:00:00")),       // 364 days
            Some(json!("0001-01-01T00:00:00")),
        ]);
        assert_eq!(
            bars,
            [
                ("never".to_string(), 3),
                ("≥ 365 d".to_string(), 2),
                ("180–365 d".to_string(), 1),
                ("90–180 d".to_string(), 0),
                ("30–90 d".to_string(), 2),
                ("< 30 d".to_string(), 1),
            ]
        );
        assert!(notes.is_empty(), "{notes:?}");
    }

    #[test]
    fn unreadable_and_future_times_are_noted() {
        let (bars, notes) = chart(&[
            Some(json!("last Tuesday")),
            Some(json!(1700000000000u64)),
            Some(json!("2026-01-01T00:00:00Z")),
        ]);
        assert_eq!(bars.last().unwrap(), &("< 30 d".to_string(), 1));
        assert_eq!(
            notes,
            [
                "1 record had a LastLogonTime after the run ended (a clock ahead?), counted as \
                 the newest.",
                "2 records had a LastLogonTime that is not a date."
            ]
        );
    }

    #[test]
    fn no_timestamps_at_all_is_all_zero() {
        let (bars, _) = chart(&[]);
        assert_eq!(bars.len(), 6);
        assert!(bars.iter().all(|(_, n)| *n == 0));
    }

    #[test]
    fn buckets_read_in_days() {
        let mut ages = Ages::new(&[7]);
        ages.add(Some(&json!("2025-06-20T00:00:00Z")));
        let (bars, _) = ages.bars("When", ended());
        let text: Vec<_> = bars
            .iter()
            .map(|b| (&b.label[..], &b.detail[..], b.count))
            .collect();
        assert_eq!(
            text,
            [
                ("never", "no When", 0),
                ("≥ 7 d", "7 days or more before the run ended", 1),
                ("< 7 d", "under 7 days before the run ended", 0),
            ]
        );
    }
}
