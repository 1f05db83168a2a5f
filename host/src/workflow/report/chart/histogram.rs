//! `kind = "histogram"`: numbers counted into log-scale bins. Each value lands in a fine bin
//! on a 1–2–5 ladder (1, 2, 5, 10, 20, 50… and, for sizes, 100, 200, 500 of each 1,024-byte
//! unit), so memory is a few hundred counters whatever the data; when drawn, neighbouring
//! bins are merged by threes (1–10–100, then whole units) until at most [`MAX_BINS`] remain,
//! which keeps the counts exact since coarse edges are fine edges too.

use std::collections::BTreeMap;

use serde_json::Value;

use super::super::format;
use super::super::spec::Unit;
use super::{Bar, records, without_field};

/// The most bins a histogram draws (plus one for values below 1).
const MAX_BINS: u64 = 12;
/// The ladder within one 1,024-byte unit.
const BYTE_STEPS: [f64; 9] = [1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0];
/// The ladder within one decade.
const COUNT_STEPS: [f64; 3] = [1.0, 2.0, 5.0];

/// The counts of a histogram.
#[derive(Clone, Debug)]
pub(super) struct Histogram {
    unit: Unit,
    /// Values from 0 to under 1 (empty mailboxes, zero counts).
    below_one: u64,
    /// Whether one of those was not 0, so the bar cannot be labelled "0".
    fraction_seen: bool,
    /// Values of 1 or more, by fine bin.
    bins: BTreeMap<u32, u64>,
    /// Records without the field.
    missing: u64,
    /// Values that are not a number of 0 or more.
    unusable: u64,
}

impl Histogram {
    /// No counts yet.
    pub(super) fn new(unit: Unit) -> Histogram {
        Histogram {
            unit,
            below_one: 0,
            fraction_seen: false,
            bins: BTreeMap::new(),
            missing: 0,
            unusable: 0,
        }
    }

    /// Counts one record's value (`None` when it has none).
    pub(super) fn add(&mut self, value: Option<&Value>) {
        let Some(value) = value else {
            self.missing += 1;
            return;
        };
        match number(value) {
            None => self.unusable += 1,
            Some(n) if n < 1.0 => {
                self.below_one += 1;
                self.fraction_seen |= n != 0.0;
            }
            Some(n) => *self.bins.entry(self.fine_bin(n)).or_default() += 1,
        }
    }

    /// The bars, smallest values first, and notes on what they leave out.
    pub(super) fn bars(&self, field: &str) -> (Vec<Bar>, Vec<String>) {
        let mut bars = Vec::new();
        if self.below_one > 0 {
            let (label, detail) = match (self.unit, self.fraction_seen) {
                (Unit::Bytes, false) => ("0 B", "exactly 0 B"),
                (Unit::Bytes, true) => ("< 1 B", "under 1 B"),
                (Unit::Count, false) => ("0", "exactly 0"),
                (Unit::Count, true) => ("< 1", "under 1"),
            };
            bars.push(Bar {
                label: label.into(),
                detail: detail.into(),
                count: self.below_one,
                muted: false,
            });
        }
        if let (Some((&first, _)), Some((&last, _))) =
            (self.bins.first_key_value(), self.bins.last_key_value())
        {
            let (first, last) = (u64::from(first), u64::from(last));
            let mut width = 1;
            while last / width - first / width + 1 > MAX_BINS {
                width *= 3;
            }
            for group in first / width..=last / width {
                let (from, to) = (group * width, (group + 1) * width);
                let count = self
                    .bins
                    .iter()
                    .filter(|(bin, _)| (from..to).contains(&u64::from(**bin)))
                    .fold(0u64, |sum, (_, c)| sum.saturating_add(*c));
                let (low, high) = (self.lower_edge(from), self.lower_edge(to));
                bars.push(Bar {
                    label: self.range(low, high),
                    detail: format!("from {} to under {}", self.value(low), self.value(high)),
                    count,
                    muted: false,
                });
            }
        }
        let notes = without_field(self.missing, field)
            .into_iter()
            .chain((self.unusable > 0).then(|| {
                format!(
                    "{} had a {field} that is not a number of 0 or more.",
                    records(self.unusable)
                )
            }))
            .collect();
        (bars, notes)
    }

    /// The unit's ladder and the factor between its rungs' groups.
    fn ladder(&self) -> (&'static [f64], f64) {
        match self.unit {
            Unit::Bytes => (&BYTE_STEPS, 1024.0),
            Unit::Count => (&COUNT_STEPS, 10.0),
        }
    }

    /// The fine bin of `n` (1 or more, finite).
    fn fine_bin(&self, n: f64) -> u32 {
        let (steps, base) = self.ladder();
        let mut group = (n.log(base).floor() as i32).max(0);
        // log() may round across an edge: settle on base^group <= n < base^(group+1).
        while base.powi(group + 1) <= n {
            group += 1;
        }
        while group > 0 && base.powi(group) > n {
            group -= 1;
        }
        // Compared as lower_edge() computes them, so a value on an edge is in the bin above it.
        let rung = steps
            .iter()
            .rposition(|s| base.powi(group) * s <= n)
            .unwrap_or(0);
        group as u32 * steps.len() as u32 + rung as u32
    }

    /// The smallest value in fine bin `bin`.
    fn lower_edge(&self, bin: u64) -> f64 {
        let (steps, base) = self.ladder();
        let per = steps.len() as u64;
        base.powi(i32::try_from(bin / per).unwrap_or(i32::MAX)) * steps[(bin % per) as usize]
    }

    /// A value as a label: `1.5 GB`, `20k`.
    fn value(&self, n: f64) -> String {
        match self.unit {
            Unit::Bytes => format::bytes(n),
            Unit::Count => format::short(n),
        }
    }

    /// A bin's label: `100–200 MB`, `500 MB–1 GB`, `10–20`; `5 EB+` when the top is past
    /// what a number holds.
    fn range(&self, low: f64, high: f64) -> String {
        if !high.is_finite() {
            return format!("{}+", self.value(low));
        }
        match self.unit {
            Unit::Bytes => {
                let ((a, low_unit), (b, high_unit)) = (format::in_unit(low), format::in_unit(high));
                if low_unit == high_unit {
                    format!(
                        "{}–{} {high_unit}",
                        format::significant(a),
                        format::significant(b)
                    )
                } else {
                    format!("{}–{}", self.value(low), self.value(high))
                }
            }
            Unit::Count => format!("{}–{}", self.value(low), self.value(high)),
        }
    }
}

/// A JSON number, or text that is one; `None` unless finite and 0 or more.
fn number(value: &Value) -> Option<f64> {
    let n = match value {
        Value::Number(n) => n.as_f64(),
        Value::String(text) => text.trim().parse::<f64>().ok(),
        _ => None,
    }?;
    (n.is_finite() && n >= 0.0).then_some(n)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const KB: f64 = 1024.0;
    const MB: f64 = KB * 1024.0;
    const GB: f64 = MB * 1024.0;

    fn histogram(unit: Unit, values: &[Value]) -> Histogram {
        let mut h = Histogram::new(unit);
        for v in values {
            h.add(Some(v));
        }
        h
    }

    fn labels_and_counts(h: &Histogram) -> Vec<(String, u64)> {
        h.bars("Size")
            .0
            .into_iter()
            .map(|b| (b.label, b.count))
            .collect()
    }

    #[test]
    fn sizes_fall_on_a_1_2_5_ladder_of_kb_mb_gb() {
        let h = histogram(
            Unit::Bytes,
            &[
                json!(0),
                json!(1.5 * GB),
                json!(1.0 * GB),
                json!(2.0 * GB - 1.0),
                json!(2.0 * GB),
                json!(4.9 * GB),
                json!(600.0 * MB),
            ],
        );
        assert_eq!(
            labels_and_counts(&h),
            [
                ("0 B".to_string(), 1),
                ("500 MB–1 GB".to_string(), 1),
                ("1–2 GB".to_string(), 3),
                ("2–5 GB".to_string(), 2),
            ]
        );
        let bar = &h.bars("Size").0[2];
        assert_eq!(bar.detail, "from 1 GB to under 2 GB");
    }

    #[test]
    fn a_wide_range_is_merged_into_at_most_twelve_bins() {
        let values: Vec<Value> = [1.0, 3.0 * KB, 40.0 * MB, 700.0 * GB]
            .iter()
            .map(|v| json!(v))
            .collect();
        let h = histogram(Unit::Bytes, &values);
        let bars = labels_and_counts(&h);
        assert!(bars.len() as u64 <= MAX_BINS, "{bars:?}");
        assert_eq!(bars.iter().map(|b| b.1).sum::<u64>(), 4);
        assert_eq!(bars[0], ("1–10 B".to_string(), 1));
        assert_eq!(bars[3], ("1–10 KB".to_string(), 1));
        assert_eq!(bars.last().unwrap(), &("100 GB–1 TB".to_string(), 1));
        // Empty bins between stay, so the shape is true.
        assert!(bars.iter().any(|b| b.1 == 0));
    }

    #[test]
    fn counts_use_plain_numbers() {
        let h = histogram(
            Unit::Count,
            &[json!(0), json!(1), json!(7), json!("12"), json!(15000)],
        );
        assert_eq!(
            labels_and_counts(&h),
            [
                ("0".to_string(), 1),
                ("1–10".to_string(), 2),
                ("10–100".to_string(), 1),
                ("100–1k".to_string(), 0),
                ("1k–10k".to_string(), 0),
                ("10k–100k".to_string(), 1),
            ]
        );
        let h = histogram(Unit::Count, &[json!(0.5), json!(0)]);
        assert_eq!(labels_and_counts(&h), [("< 1".to_string(), 2)]);
    }

    #[test]
    fn bad_values_are_counted_apart_not_binned() {
        let mut h = histogram(
            Unit::Bytes,
            &[
                json!(-1),
                json!("NaN"),
                json!("inf"),
                json!("-5"),
                json!("12 MB"),
                json!(true),
                json!([1]),
                json!({"bytes": 1}),
            ],
        );
        h.add(None);
        let (bars, notes) = h.bars("TotalItemSizeBytes");
        assert!(bars.is_empty());
        assert_eq!(
            notes,
            [
                "1 record had no TotalItemSizeBytes.",
                "8 records had a TotalItemSizeBytes that is not a number of 0 or more."
            ]
        );
    }

    #[test]
    fn huge_numbers_still_land_in_a_bin() {
        let h = histogram(Unit::Bytes, &[json!(f64::MAX), json!(u64::MAX)]);
        let bars = labels_and_counts(&h);
        assert_eq!(bars.iter().map(|b| b.1).sum::<u64>(), 2);
        assert!(bars.len() as u64 <= MAX_BINS);
        assert!(bars.last().unwrap().0.ends_with('+'), "{bars:?}");
        let h = histogram(Unit::Count, &[json!(1e300)]);
        let bars = labels_and_counts(&h);
        assert_eq!(bars.len(), 1);
        assert!(
            bars[0].0.contains("e300") || bars[0].0.contains("e299"),
            "{bars:?}"
        );
    }

    #[test]
    fn bins_follow_their_edges_exactly() {
        let h = Histogram::new(Unit::Count);
        for bin in 0..900 {
            let edge = h.lower_edge(bin);
            assert_eq!(u64::from(h.fine_bin(edge)), bin, "{edge}");
            if bin > 0 {
                let below = edge - edge * 1e-12;
                assert_eq!(u64::from(h.fine_bin(below)), bin - 1, "{below}");
            }
        }
        let h = Histogram::new(Unit::Bytes);
        for bin in 0..900 {
            let edge = h.lower_edge(bin);
            assert_eq!(u64::from(h.fine_bin(edge)), bin, "{edge}");
        }
    }
}
