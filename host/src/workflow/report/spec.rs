//! What a workflow file asks its report to chart: `[[report.charts]]` tables, read with
//! `deny_unknown_fields` and checked as they are read, so a misspelt key or a value that
//! cannot work is refused with what is wrong and how to fix it, before anything runs.
//!
//! ```toml
//! [[report.charts]]
//! title = "Mailbox size distribution"
//! step = "inventory"
//! kind = "histogram"            # numbers binned on a log scale
//! field = "TotalItemSizeBytes"
//! unit = "bytes"                # or "count"
//! counts = "mailboxes"          # what a bar counts (default "records")
//!
//! [[report.charts]]
//! title = "Stale mailboxes"
//! step = "inventory"
//! kind = "age"                  # timestamps, in days before the run ended
//! field = "LastLogonTime"
//! buckets_days = [30, 90, 180, 365]   # the default
//!
//! [[report.charts]]
//! title = "Grants per trustee"
//! step = "permissions"
//! kind = "top"                  # the most frequent values, and "others"
//! field = "Trustee"
//! top = 15                      # default 10
//! ```

use serde::Deserialize;

/// The age buckets when a chart names none: a month, a quarter, half a year, a year.
const DEFAULT_BUCKETS_DAYS: [u32; 4] = [30, 90, 180, 365];
/// How many values a `top` chart shows when it does not say.
const DEFAULT_TOP: usize = 10;
/// The most values a `top` chart may show: more bars than this are not read, only scrolled.
const MAX_TOP: usize = 50;
/// The oldest age bucket a chart may ask for, in days (a century).
const MAX_BUCKET_DAYS: u32 = 36_500;

/// A workflow's `[report]` table: the charts its run's report draws.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportSpec {
    /// The `[[report.charts]]`, in the order they are shown.
    #[serde(default)]
    pub charts: Vec<ChartSpec>,
}

/// One `[[report.charts]]` table: which step's records it reads, which field, and how it
/// aggregates them.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(try_from = "RawChart")]
pub struct ChartSpec {
    /// The chart's heading, e.g. "Mailbox size distribution".
    pub title: String,
    /// The id of the step whose records it reads.
    pub step: String,
    /// The record field it reads, e.g. `TotalItemSizeBytes`.
    pub field: String,
    /// What one record is, plural, for the count axis: "mailboxes" (default "records").
    pub counts: String,
    /// How it aggregates the field.
    pub kind: ChartKind,
}

/// How a chart aggregates its field.
#[derive(Clone, Debug, PartialEq)]
pub enum ChartKind {
    /// A number, binned on a log scale (`kind = "histogram"`).
    Histogram {
        /// What the number measures, which decides the bins' labels.
        unit: Unit,
    },
    /// A timestamp, bucketed by its age in days when the run ended (`kind = "age"`); a
    /// missing one is "never".
    Age {
        /// The buckets' edges in days, increasing.
        buckets_days: Vec<u32>,
    },
    /// The most frequent values of a text field, and the rest as "others" (`kind = "top"`).
    Top {
        /// How many values get a bar of their own.
        top: usize,
    },
}

/// What a histogram's number measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Unit {
    /// A size in bytes: bins labelled in KB, MB, GB (1,024-based, as Exchange shows sizes).
    Bytes,
    /// A plain count (items, members…): bins labelled 1, 10, 1k, 1M.
    Count,
}

/// Why a `[[report.charts]]` table cannot be used; each says how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    /// A key that names something is empty.
    #[error("report chart {chart:?}: {key} is empty\nfix: {fix}")]
    Empty {
        /// The chart's title ("" when that is what is empty).
        chart: String,
        /// The empty key.
        key: &'static str,
        /// What to write instead.
        fix: &'static str,
    },
    /// A key that belongs to another kind of chart.
    #[error(
        "report chart {chart:?} (kind = \"{kind}\") takes no {key}\nfix: remove {key}, or set \
         kind = \"{belongs_to}\" if that is the chart you meant"
    )]
    NotForKind {
        /// The chart's title.
        chart: String,
        /// Its kind.
        kind: &'static str,
        /// The key given.
        key: &'static str,
        /// The kind of chart that takes it.
        belongs_to: &'static str,
    },
    /// A histogram that does not say what its number measures.
    #[error(
        "report chart {chart:?} is a histogram without a unit\nfix: add unit = \"bytes\" for \
         sizes (binned in KB, MB, GB) or unit = \"count\" for plain numbers"
    )]
    NoUnit {
        /// The chart's title.
        chart: String,
    },
    /// Age buckets that cannot be used.
    #[error(
        "report chart {chart:?}: buckets_days = {given:?} {problem}\nfix: give whole days from \
         1 to {MAX_BUCKET_DAYS}, increasing, e.g. buckets_days = [30, 90, 180, 365]"
    )]
    Buckets {
        /// The chart's title.
        chart: String,
        /// The buckets given.
        given: Vec<u32>,
        /// What is wrong with them.
        problem: &'static str,
    },
    /// A `top` out of range.
    #[error(
        "report chart {chart:?}: top = {given} is out of range\nfix: show from 1 to {MAX_TOP} \
         values, e.g. top = 15; the rest are counted as \"others\""
    )]
    Top {
        /// The chart's title.
        chart: String,
        /// The value given.
        given: usize,
    },
    /// A chart that reads a step the workflow does not have.
    #[error(
        "report chart {chart:?} reads step {step:?}, which the workflow does not have{near}\n\
         fix: set step to the id of one of its steps: {steps}",
        near = near.as_ref().map(|n| format!("; did you mean {n:?}?")).unwrap_or_default(),
        steps = steps.join(", ")
    )]
    UnknownStep {
        /// The chart's title.
        chart: String,
        /// The step it names.
        step: String,
        /// The workflow's steps.
        steps: Vec<String>,
        /// The step it probably meant.
        near: Option<String>,
    },
}

impl ReportSpec {
    /// Checks that every chart reads a step of the workflow, whose step ids are `steps`.
    pub fn check_steps(&self, steps: &[&str]) -> Result<(), SpecError> {
        for chart in &self.charts {
            if steps.contains(&chart.step.as_str()) {
                continue;
            }
            let near = steps
                .iter()
                .map(|s| (strsim::levenshtein(s, &chart.step), s))
                .filter(|(distance, _)| *distance <= 2)
                .min()
                .map(|(_, s)| s.to_string());
            return Err(SpecError::UnknownStep {
                chart: chart.title.clone(),
                step: chart.step.clone(),
                steps: steps.iter().map(|s| s.to_string()).collect(),
                near,
            });
        }
        Ok(())
    }
}

impl ChartKind {
    /// The kind's name in a workflow file.
    fn name(&self) -> &'static str {
        match self {
            ChartKind::Histogram { .. } => "histogram",
            ChartKind::Age { .. } => "age",
            ChartKind::Top { .. } => "top",
        }
    }
}

/// A `[[report.charts]]` table as written, before it is checked.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChart {
    title: String,
    step: String,
    kind: RawKind,
    field: String,
    counts: Option<String>,
    unit: Option<Unit>,
    buckets_days: Option<Vec<u32>>,
    top: Option<usize>,
}

#[derive(Clone, Copy, PartialEq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum RawKind {
    Histogram,
    Age,
    Top,
}

impl TryFrom<RawChart> for ChartSpec {
    type Error = SpecError;

    fn try_from(raw: RawChart) -> Result<ChartSpec, SpecError> {
        let chart = raw.title.trim().to_string();
        let empty = |key, fix| SpecError::Empty {
            chart: chart.clone(),
            key,
            fix,
        };
        if chart.is_empty() {
            return Err(empty(
                "title",
                "name what it shows, e.g. title = \"Stale mailboxes\"",
            ));
        }
        if raw.step.trim().is_empty() {
            return Err(empty(
                "step",
                "give the id of the step whose records it reads",
            ));
        }
        if raw.field.trim().is_empty() {
            return Err(empty(
                "field",
                "give the record field it reads, e.g. field = \"LastLogonTime\"",
            ));
        }
        let counts = match raw.counts {
            None => "records".to_string(),
            Some(c) if c.trim().is_empty() => {
                return Err(empty(
                    "counts",
                    "say what a bar counts, e.g. counts = \"mailboxes\"",
                ));
            }
            Some(c) => c.trim().to_string(),
        };
        let given = [
            ("unit", raw.unit.is_some(), "histogram"),
            ("buckets_days", raw.buckets_days.is_some(), "age"),
            ("top", raw.top.is_some(), "top"),
        ];
        let kind = match raw.kind {
            RawKind::Histogram => ChartKind::Histogram {
                unit: raw.unit.ok_or(SpecError::NoUnit {
                    chart: chart.clone(),
                })?,
            },
            RawKind::Age => ChartKind::Age {
                buckets_days: checked_buckets(&chart, raw.buckets_days)?,
            },
            RawKind::Top => {
                let top = raw.top.unwrap_or(DEFAULT_TOP);
                if !(1..=MAX_TOP).contains(&top) {
                    return Err(SpecError::Top { chart, given: top });
                }
                ChartKind::Top { top }
            }
        };
        if let Some((key, _, belongs_to)) = given
            .into_iter()
            .find(|(_, present, belongs_to)| *present && *belongs_to != kind.name())
        {
            return Err(SpecError::NotForKind {
                chart,
                kind: kind.name(),
                key,
                belongs_to,
            });
        }
        Ok(ChartSpec {
            title: chart,
            step: raw.step.trim().to_string(),
            field: raw.field.trim().to_string(),
            counts,
            kind,
        })
    }
}

/// The age buckets given, or the default ones; refused unless increasing whole days in range.
fn checked_buckets(chart: &str, given: Option<Vec<u32>>) -> Result<Vec<u32>, SpecError> {
    let Some(given) = given else {
        return Ok(DEFAULT_BUCKETS_DAYS.to_vec());
    };
    let problem = if given.is_empty() {
        Some("has no buckets")
    } else if given.iter().any(|d| *d == 0 || *d > MAX_BUCKET_DAYS) {
        Some("has a bucket out of range")
    } else if given.windows(2).any(|w| w[0] >= w[1]) {
        Some("is not increasing")
    } else {
        None
    };
    match problem {
        None => Ok(given),
        Some(problem) => Err(SpecError::Buckets {
            chart: chart.to_string(),
            given,
            problem,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Workflow {
        report: Option<ReportSpec>,
    }

    fn parse(toml_text: &str) -> Result<ReportSpec, String> {
        toml::from_str::<Workflow>(toml_text)
            .map(|w| w.report.unwrap_or_default())
            .map_err(|e| e.to_string())
    }

    fn refusal(toml_text: &str) -> String {
        parse(toml_text).expect_err("should be refused")
    }

    #[test]
    fn the_three_kinds_read_from_a_workflow_file() {
        let spec = parse(
            r#"
            [[report.charts]]
            title = "Mailbox size distribution"
            step = "inventory"
            kind = "histogram"
            field = "TotalItemSizeBytes"
            unit = "bytes"
            counts = "mailboxes"

            [[report.charts]]
            title = "Stale mailboxes"
            step = "inventory"
            kind = "age"
            field = "LastLogonTime"

            [[report.charts]]
            title = "Grants per trustee"
            step = "permissions"
            kind = "top"
            field = "Trustee"
            top = 15
            "#,
        )
        .unwrap();
        assert_eq!(spec.charts.len(), 3);
        assert_eq!(spec.charts[0].counts, "mailboxes");
        assert_eq!(
            spec.charts[0].kind,
            ChartKind::Histogram { unit: Unit::Bytes }
        );
        assert_eq!(spec.charts[1].counts, "records");
        assert_eq!(
            spec.charts[1].kind,
            ChartKind::Age {
                buckets_days: vec![30, 90, 180, 365]
            }
        );
        assert_eq!(spec.charts[2].kind, ChartKind::Top { top: 15 });
        assert!(spec.check_steps(&["inventory", "permissions"]).is_ok());
        assert_eq!(parse("").unwrap(), ReportSpec::default());
    }

    const HISTOGRAM: &str = "[[report.charts]]\ntitle = \"Sizes\"\nstep = \"inventory\"\n\
                             field = \"TotalItemSizeBytes\"\n";

    #[test]
    fn unknown_keys_and_kinds_are_refused_by_name() {
        let e = refusal(&format!(
            "{HISTOGRAM}kind = \"histogram\"\nunit = \"bytes\"\ncolour = 1"
        ));
        assert!(e.contains("unknown field `colour`"), "{e}");
        assert!(e.contains("expected one of"), "{e}");
        let e = refusal(&format!("{HISTOGRAM}kind = \"pie\""));
        assert!(e.contains("unknown variant `pie`"), "{e}");
        assert!(e.contains("`histogram`, `age`, `top`"), "{e}");
        let e = refusal(&format!("{HISTOGRAM}kind = \"histogram\"\nunit = \"MB\""));
        assert!(
            e.contains("unknown variant `MB`, expected `bytes` or `count`"),
            "{e}"
        );
        let e = refusal("[report]\nchart = []");
        assert!(e.contains("unknown field `chart`"), "{e}");
    }

    #[test]
    fn values_that_cannot_work_say_how_to_fix_them() {
        let cases = [
            (
                format!("{HISTOGRAM}kind = \"histogram\""),
                "report chart \"Sizes\" is a histogram without a unit\nfix: add unit = \"bytes\"",
            ),
            (
                format!("{HISTOGRAM}kind = \"age\"\nunit = \"bytes\""),
                "report chart \"Sizes\" (kind = \"age\") takes no unit\nfix: remove unit, or set \
                 kind = \"histogram\"",
            ),
            (
                format!("{HISTOGRAM}kind = \"top\"\nbuckets_days = [1]"),
                "(kind = \"top\") takes no buckets_days",
            ),
            (
                format!("{HISTOGRAM}kind = \"histogram\"\nunit = \"count\"\ntop = 3"),
                "(kind = \"histogram\") takes no top",
            ),
            (
                format!("{HISTOGRAM}kind = \"age\"\nbuckets_days = [90, 30]"),
                "buckets_days = [90, 30] is not increasing\nfix: give whole days from 1 to 36500",
            ),
            (
                format!("{HISTOGRAM}kind = \"age\"\nbuckets_days = []"),
                "buckets_days = [] has no buckets",
            ),
            (
                format!("{HISTOGRAM}kind = \"age\"\nbuckets_days = [0, 30]"),
                "has a bucket out of range",
            ),
            (
                format!("{HISTOGRAM}kind = \"age\"\nbuckets_days = [-5]"),
                "invalid value: integer `-5`",
            ),
            (
                format!("{HISTOGRAM}kind = \"top\"\ntop = 0"),
                "top = 0 is out of range\nfix: show from 1 to 50 values",
            ),
            (
                "[[report.charts]]\ntitle = \" \"\nstep = \"s\"\nkind = \"top\"\nfield = \"f\""
                    .to_string(),
                "title is empty\nfix: name what it shows",
            ),
            (
                "[[report.charts]]\ntitle = \"T\"\nstep = \"s\"\nkind = \"top\"\nfield = \"\""
                    .to_string(),
                "report chart \"T\": field is empty",
            ),
            (
                "[[report.charts]]\ntitle = \"T\"\nkind = \"top\"\nfield = \"f\"".to_string(),
                "missing field `step`",
            ),
        ];
        for (text, expected) in cases {
            let e = refusal(&text);
            assert!(e.contains(expected), "{text}\n→ {e}\nexpected: {expected}");
        }
    }

    #[test]
    fn a_chart_must_read_a_step_of_the_workflow() {
        let spec = parse(&format!(
            "{HISTOGRAM}kind = \"histogram\"\nunit = \"bytes\""
        ))
        .unwrap();
        let e = spec.check_steps(&["inventry", "permissions"]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "report chart \"Sizes\" reads step \"inventory\", which the workflow does not have; \
             did you mean \"inventry\"?\nfix: set step to the id of one of its steps: inventry, \
             permissions"
        );
        let e = spec.check_steps(&["audit"]).unwrap_err();
        assert!(!e.to_string().contains("did you mean"), "{e}");
    }
}
