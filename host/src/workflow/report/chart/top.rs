//! `kind = "top"`: how often each value of a text field occurs, the most frequent drawn and the
//! rest summed as "others". A list value (e.g. `AccessRights`) counts each of its items.
//!
//! Memory is bounded: past [`MAX_TRACKED`] different values, the less frequent half is dropped
//! into "others" (their counts are kept in the total, not by value), so a field that is
//! different in every record (a UPN) cannot grow the chart without end. Values seen often
//! survive that; the figure then says its counts are lower bounds.

use std::borrow::Cow;
use std::collections::HashMap;

use serde_json::Value;

use super::super::format;
use super::{Bar, records, without_field};

/// The most different values counted one by one.
const MAX_TRACKED: usize = 10_000;

/// The counts of a top chart.
#[derive(Clone, Debug)]
pub(super) struct TopValues {
    /// How many values get a bar.
    top: usize,
    /// Occurrences by value.
    counts: HashMap<String, u64>,
    /// Occurrences of values dropped to keep memory bounded.
    dropped: u64,
    /// Records without the field.
    missing: u64,
    /// Values that are not text, a number, a boolean or a list of those.
    unusable: u64,
}

impl TopValues {
    /// No counts yet, for a chart of the `top` most frequent values.
    pub(super) fn new(top: usize) -> TopValues {
        TopValues {
            top,
            counts: HashMap::new(),
            dropped: 0,
            missing: 0,
            unusable: 0,
        }
    }

    /// Counts one record's value (`None` when it has none).
    pub(super) fn add(&mut self, value: Option<&Value>) {
        match value {
            None => self.missing += 1,
            Some(Value::Array(items)) if items.is_empty() => self.missing += 1,
            Some(Value::Array(items)) => items.iter().for_each(|item| self.add_one(item)),
            Some(value) => self.add_one(value),
        }
    }

    fn add_one(&mut self, value: &Value) {
        let text = match value {
            Value::String(text) if text.trim().is_empty() => {
                self.missing += 1;
                return;
            }
            Value::String(text) => Cow::Borrowed(text.trim()),
            Value::Number(_) | Value::Bool(_) => Cow::Owned(value.to_string()),
            Value::Null | Value::Array(_) | Value::Object(_) => {
                self.unusable += 1;
                return;
            }
        };
        if let Some(count) = self.counts.get_mut(&*text) {
            *count += 1;
            return;
        }
        if self.counts.len() >= MAX_TRACKED {
            self.drop_rare_half();
        }
        self.counts.insert(text.into_owned(), 1);
    }

    /// Drops the values counted at most as often as the median one (at least half of them),
    /// adding their counts to `dropped`.
    fn drop_rare_half(&mut self) {
        let mut counts: Vec<u64> = self.counts.values().copied().collect();
        let middle = counts.len() / 2;
        let (_, median, _) = counts.select_nth_unstable(middle);
        let median = *median;
        let mut dropped = 0u64;
        self.counts.retain(|_, count| {
            let keep = *count > median;
            if !keep {
                dropped = dropped.saturating_add(*count);
            }
            keep
        });
        self.dropped = self.dropped.saturating_add(dropped);
    }

    /// The `top` bars, most frequent first (ties by value), then "others"; and notes on what
    /// they leave out.
    pub(super) fn bars(&self, field: &str) -> (Vec<Bar>, Vec<String>) {
        let mut ranked: Vec<(&String, &u64)> = self.counts.iter().collect();
        ranked.sort_unstable_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
        let rest = ranked.split_off(ranked.len().min(self.top));
        let lower_bound = self.dropped > 0;
        let mut bars: Vec<Bar> = ranked
            .into_iter()
            .map(|(value, count)| Bar {
                label: value.clone(),
                detail: value.clone(),
                count: *count,
                muted: false,
            })
            .collect();
        let others = rest
            .iter()
            .fold(self.dropped, |sum, (_, c)| sum.saturating_add(**c));
        if others > 0 {
            bars.push(Bar {
                label: "others".into(),
                detail: if lower_bound {
                    "every other value".to_string()
                } else {
                    match rest.len() {
                        1 => "1 other value".to_string(),
                        n => format!("{} other values", format::count(n as u64)),
                    }
                },
                count: others,
                muted: true,
            });
        }
        let mut notes: Vec<String> = without_field(self.missing, field).into_iter().collect();
        if self.unusable > 0 {
            notes.push(format!(
                "{} had a {field} that is not text or a number.",
                records(self.unusable)
            ));
        }
        if lower_bound {
            notes.push(format!(
                "{field} had more than {} different values: rarer ones were counted under \
                 \"others\", so the counts shown are at least these.",
                format::count(MAX_TRACKED as u64)
            ));
        }
        (bars, notes)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn bars(t: &TopValues) -> Vec<(String, u64, bool)> {
        t.bars("Trustee")
            .0
            .into_iter()
            .map(|b| (b.label, b.count, b.muted))
            .collect()
    }

    #[test]
    fn the_most_frequent_values_then_others() {
        let mut t = TopValues::new(2);
        for v in ["b", "a", "c", "a", "b", "d", "a", " a "] {
            t.add(Some(&json!(v)));
        }
        assert_eq!(
            bars(&t),
            [
                ("a".to_string(), 4, false),
                ("b".to_string(), 2, false),
                ("others".to_string(), 2, true),
            ]
        );
        assert_eq!(t.bars("Trustee").0[2].detail, "2 other values");
    }

    #[test]
    fn lists_count_each_item_and_odd_values_are_noted() {
        let mut t = TopValues::new(5);
        t.add(Some(&json!(["FullAccess", "SendAs"])));
        t.add(Some(&json!(["FullAccess"])));
        t.add(Some(&json!(42)));
        t.add(Some(&json!([])));
        t.add(Some(&json!("")));
        t.add(None);
        t.add(Some(&json!({"a": 1})));
        t.add(Some(&json!([[1]])));
        assert_eq!(
            bars(&t),
            [
                ("FullAccess".to_string(), 2, false),
                ("42".to_string(), 1, false),
                ("SendAs".to_string(), 1, false),
            ]
        );
        assert_eq!(
            t.bars("Trustee").1,
            [
                "3 records had no Trustee.",
                "2 records had a Trustee that is not text or a number."
            ]
        );
    }

    #[test]
    fn a_value_per_record_keeps_memory_bounded_and_frequent_values_survive() {
        let mut t = TopValues::new(3);
        for i in 0..100_000u32 {
            t.add(Some(&json!(format!("user{i}@contoso.com"))));
            if i % 10 == 0 {
                t.add(Some(&json!("CONTOSO\\svc-backup")));
            }
            assert!(t.counts.len() <= MAX_TRACKED);
        }
        let (bars, notes) = t.bars("Trustee");
        assert_eq!(bars[0].label, "CONTOSO\\svc-backup");
        assert!(
            bars[0].count > 9_000 && bars[0].count <= 10_000,
            "{}",
            bars[0].count
        );
        let total: u64 = bars.iter().map(|b| b.count).sum();
        assert_eq!(total, 110_000);
        assert!(
            notes[0].contains("more than 10,000 different values"),
            "{notes:?}"
        );
        assert_eq!(bars.last().unwrap().detail, "every other value");
    }
}
