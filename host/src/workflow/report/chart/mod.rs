//! Charts: a step's records aggregated as they stream past, one at a time, into a few counts
//! (an inventory step may emit a million records; none is kept), then drawn as bars.

mod age;
mod histogram;
mod timestamp;
mod top;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::format;
use super::spec::{ChartKind, ChartSpec};

/// One chart of a run's report: its spec and what it has counted so far.
#[derive(Clone, Debug)]
pub struct Chart {
    spec: ChartSpec,
    records: u64,
    tally: Tally,
}

/// The counts of one kind of chart.
#[derive(Clone, Debug)]
enum Tally {
    Histogram(histogram::Histogram),
    Age(age::Ages),
    Top(top::TopValues),
}

/// A chart's counts, ready to draw.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Figure {
    /// The bars, in the order drawn.
    pub bars: Vec<Bar>,
    /// How the bars stand.
    pub layout: Layout,
    /// What the categories are, e.g. "TotalItemSizeBytes (log scale)".
    pub category_axis: String,
    /// What a bar counts, e.g. "mailboxes".
    pub value_axis: String,
    /// Anything the bars leave out (records without the field, unreadable values…).
    pub notes: Vec<String>,
}

/// One bar of a figure.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Bar {
    /// Its short label on the axis, e.g. "1–2 GB".
    pub label: String,
    /// What it stands for in words, for its tooltip and the data table.
    pub detail: String,
    /// Its count.
    pub count: u64,
    /// A catch-all ("others", "never") drawn in a quieter colour.
    pub muted: bool,
}

/// How a figure's bars stand.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Layout {
    /// Columns along an ordered axis (bins, ages); drawn as rows when their labels would not
    /// fit under them.
    Columns,
    /// Rows, one per value, for labels that are names.
    Rows,
}

impl Chart {
    /// An empty chart for `spec`.
    pub fn new(spec: ChartSpec) -> Chart {
        let tally = match &spec.kind {
            ChartKind::Histogram { unit } => Tally::Histogram(histogram::Histogram::new(*unit)),
            ChartKind::Age { buckets_days } => Tally::Age(age::Ages::new(buckets_days)),
            ChartKind::Top { top } => Tally::Top(top::TopValues::new(*top)),
        };
        Chart {
            spec,
            records: 0,
            tally,
        }
    }

    /// What the chart shows.
    pub fn spec(&self) -> &ChartSpec {
        &self.spec
    }

    /// Counts one record of the chart's step (the caller picks the step's records); only the
    /// chart's field is read, and the record is not kept.
    pub fn add(&mut self, record: &Map<String, Value>) {
        self.records = self.records.saturating_add(1);
        let value = record.get(&self.spec.field).filter(|v| !v.is_null());
        match &mut self.tally {
            Tally::Histogram(h) => h.add(value),
            Tally::Age(a) => a.add(value),
            Tally::Top(t) => t.add(value),
        }
    }

    /// How many records it has been given.
    pub(super) fn records(&self) -> u64 {
        self.records
    }

    /// Its counts as bars; ages are counted back from `ended`, the run's end.
    pub(super) fn figure(&self, ended: DateTime<Utc>) -> Figure {
        let field = &self.spec.field;
        let (bars, layout, category_axis, mut notes) = match &self.tally {
            Tally::Histogram(h) => {
                let (bars, notes) = h.bars(field);
                (bars, Layout::Columns, format!("{field} (log scale)"), notes)
            }
            Tally::Age(a) => {
                let (bars, notes) = a.bars(field, ended);
                (
                    bars,
                    Layout::Columns,
                    format!("{field}, age when the run ended"),
                    notes,
                )
            }
            Tally::Top(t) => {
                let (bars, notes) = t.bars(field);
                (bars, Layout::Rows, field.clone(), notes)
            }
        };
        if self.records == 0 {
            notes.insert(0, format!("Step {} emitted no records.", self.spec.step));
        }
        Figure {
            bars,
            layout,
            category_axis,
            value_axis: self.spec.counts.clone(),
            notes,
        }
    }
}

impl Figure {
    /// The sum of its bars.
    pub fn total(&self) -> u64 {
        self.bars
            .iter()
            .fold(0u64, |sum, b| sum.saturating_add(b.count))
    }
}

/// "N records had no FIELD." when N is not zero, for a figure's notes.
fn without_field(n: u64, field: &str) -> Option<String> {
    (n > 0).then(|| format!("{} had no {field}.", records(n)))
}

/// "1 record" or "5,000 records".
fn records(n: u64) -> String {
    match n {
        1 => "1 record".to_string(),
        n => format!("{} records", format::count(n)),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::workflow::report::spec::Unit;

    fn spec(kind: ChartKind) -> ChartSpec {
        ChartSpec {
            title: "t".into(),
            step: "inventory".into(),
            field: "f".into(),
            counts: "mailboxes".into(),
            kind,
        }
    }

    #[test]
    fn a_chart_without_records_says_so() {
        for kind in [
            ChartKind::Histogram { unit: Unit::Bytes },
            ChartKind::Age {
                buckets_days: vec![30],
            },
            ChartKind::Top { top: 3 },
        ] {
            let figure = Chart::new(spec(kind)).figure(Utc::now());
            assert_eq!(figure.total(), 0);
            assert_eq!(figure.notes, ["Step inventory emitted no records."]);
        }
    }

    #[test]
    fn only_the_field_is_read() {
        let mut chart = Chart::new(spec(ChartKind::Top { top: 3 }));
        let Value::Object(record) = json!({"f": "a", "g": "b"}) else {
            unreachable!()
        };
        chart.add(&record);
        chart.add(&Map::new());
        assert_eq!(chart.records(), 2);
        let figure = chart.figure(Utc::now());
        assert_eq!(figure.total(), 1);
        assert_eq!(figure.value_axis, "mailboxes");
        assert_eq!(figure.notes, ["1 record had no f."]);
    }
}
