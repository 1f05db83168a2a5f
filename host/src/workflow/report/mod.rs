//! A workflow run's report: one self-contained HTML file with a summary per tenant, charts of
//! the steps' records, the failures, the dry-run plan and the outputs, for an admin to open in
//! any browser, mail or archive. It loads nothing and runs nothing: inline CSS and SVG only,
//! under a Content-Security-Policy that forbids the rest.
//!
//! The engine fills a [`RunReport`] as the run goes and feeds each step's records, one at a
//! time, to the [`Chart`]s its workflow's [`ReportSpec`] asks for (a chart keeps counts, never
//! records); at the end [`write`] renders and writes the page.
//!
//! ```
//! use exorun::workflow::report::{self, Chart, ReportSpec, RunReport};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! #[derive(serde::Deserialize)]
//! struct Workflow {
//!     report: Option<ReportSpec>,
//! }
//! let workflow: Workflow = toml::from_str(
//!     r#"
//!     [[report.charts]]
//!     title = "Mailbox size distribution"
//!     step = "inventory"
//!     kind = "histogram"
//!     field = "TotalItemSizeBytes"
//!     unit = "bytes"
//!     "#,
//! )?;
//! let spec = workflow.report.unwrap_or_default();
//! spec.check_steps(&["inventory"])?;
//! let mut charts: Vec<Chart> = spec.charts.into_iter().map(Chart::new).collect();
//! let record = serde_json::json!({"TotalItemSizeBytes": 1_610_612_736u64});
//! if let Some(record) = record.as_object() {
//!     charts[0].add(record);
//! }
//! let now = chrono::Utc::now();
//! let run = RunReport {
//!     workflow: "inventory".into(),
//!     description: None,
//!     run_id: "r-1".into(),
//!     started: now,
//!     ended: now,
//!     dry_run: false,
//!     shard: None,
//!     tenants: vec![],
//! };
//! let page = report::render(&run, &charts);
//! assert!(page.contains("1–2 GB"));
//! # Ok(())
//! # }
//! ```

mod chart;
mod escape;
mod file;
mod format;
mod html;
mod model;
mod run;
mod spec;
mod svg;

pub use chart::Chart;
pub use file::{WriteError, write};
pub use model::{Failure, PlannedChange, RunReport, StepReport, StepStatus, TenantReport, Totals};
pub use run::{RunReportError, charts, of_run, write_run_report};
pub use spec::{ChartKind, ChartSpec, ReportSpec, SpecError, Unit};

/// The report of `report` as one self-contained HTML page, with `charts` drawn from the
/// records they were fed.
pub fn render(report: &RunReport, charts: &[Chart]) -> String {
    html::Document { report, charts }.to_string()
}
