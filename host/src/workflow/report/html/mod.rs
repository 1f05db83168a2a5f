//! The report as one HTML page that needs nothing else: its CSS inline, its charts inline SVG,
//! no script, no font, no image, no link out, and a Content-Security-Policy that would block
//! any of them if a value ever slipped through. Every value is escaped ([`Escaped`]).
//!
//! The page reads top to bottom like a status page: what ran and how it went (a coloured
//! banner, the run's facts, totals), a table per tenant, the charts, then the details —
//! failures, the dry-run plan, the steps' outputs.

mod charts;
mod details;
mod summary;

use std::fmt::{self, Display, Formatter};

use super::chart::Chart;
use super::escape::Escaped;
use super::format;
use super::model::RunReport;

/// The page's Content-Security-Policy: nothing may load but inline styles (and `data:`
/// images, should a future chart need one).
pub(super) const CONTENT_SECURITY_POLICY: &str =
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:";

/// The page's styles, light and dark and print.
const STYLE: &str = include_str!("style.css");

/// A run's report page.
pub(super) struct Document<'a> {
    /// The run.
    pub report: &'a RunReport,
    /// Its charts, fed with the steps' records.
    pub charts: &'a [Chart],
}

impl Display for Document<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let report = self.report;
        write!(
            f,
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta http-equiv=\"Content-Security-Policy\" content=\"{CONTENT_SECURITY_POLICY}\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <meta name=\"color-scheme\" content=\"light dark\">\n\
             <meta name=\"referrer\" content=\"no-referrer\">\n\
             <meta name=\"generator\" content=\"exorun {}\">\n\
             <title>{} · run {} · exorun</title>\n<style>\n{STYLE}</style>\n</head>\n\
             <body>\n<div class=\"page\">\n",
            crate::VERSION,
            Escaped(&report.workflow),
            Escaped(&report.run_id),
        )?;
        summary::header(f, report)?;
        navigation(f, report, self.charts)?;
        summary::tiles(f, report)?;
        summary::tenants(f, report)?;
        charts::section(f, self.charts, report.ended)?;
        details::failures(f, report)?;
        details::plan(f, report)?;
        details::outputs(f, report)?;
        write!(
            f,
            "<footer>Made by exorun {} when run <code>{}</code> ended, {}. This page is one \
             self-contained file: it loads nothing and runs no script.</footer>\n</div>\n\
             </body>\n</html>\n",
            crate::VERSION,
            Escaped(&report.run_id),
            format::time(report.ended),
        )
    }
}

/// Links to the page's sections.
fn navigation(f: &mut Formatter<'_>, report: &RunReport, charts: &[Chart]) -> fmt::Result {
    let totals = report.totals();
    f.write_str("<nav class=\"toc\" aria-label=\"Sections\"><a href=\"#summary\">Summary</a>")?;
    if !charts.is_empty() {
        write!(f, "<a href=\"#charts\">Charts ({})</a>", charts.len())?;
    }
    write!(
        f,
        "<a href=\"#failures\">Failures ({})</a>",
        format::count(totals.failed)
    )?;
    if details::has_plan(report) {
        write!(
            f,
            "<a href=\"#plan\">Dry-run plan ({})</a>",
            format::count(totals.planned)
        )?;
    }
    if details::has_outputs(report) {
        f.write_str("<a href=\"#outputs\">Outputs</a>")?;
    }
    f.write_str("</nav>\n")
}

/// `1 item` / `5,000 items`.
fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{} {}", format::count(n), if n == 1 { one } else { many })
}

/// A right-aligned count cell; zeros are quiet, and failures loud when `bad`.
fn count_cell(f: &mut Formatter<'_>, n: u64, bad: bool) -> fmt::Result {
    let class = match (n, bad) {
        (0, _) => "num zero",
        (_, true) => "num bad",
        _ => "num",
    };
    write!(f, "<td class=\"{class}\">{}</td>", format::count(n))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use chrono::{DateTime, Utc};
    use serde_json::{Value, json};

    use super::super::model::{Failure, PlannedChange, StepReport, TenantReport};
    use super::super::spec::{ChartKind, ChartSpec, Unit};
    use super::super::{Chart, RunReport, render};

    /// What a plugin, a tenant's directory or an admin's workflow file could put in a report.
    const HOSTILE: &str = "</script><img src=x onerror=alert(1)>\"'&amp;<style>*{}</style>";

    fn ended() -> DateTime<Utc> {
        "2025-06-30T06:00:00Z".parse().unwrap()
    }

    fn run(dry_run: bool, failed: bool) -> RunReport {
        let step = StepReport {
            step: format!("inventory{HOSTILE}"),
            plugin: format!("mailbox-inventory{HOSTILE}"),
            plugin_version: HOSTILE.into(),
            succeeded: 3,
            failed: u64::from(failed),
            skipped: 1,
            records: 3,
            duration: Duration::from_secs(75),
            failures: if failed {
                vec![Failure {
                    item: HOSTILE.into(),
                    error: format!("HTTP 503\n  caused by: {HOSTILE}"),
                }]
            } else {
                vec![]
            },
            output: Some(json!({ "note": HOSTILE, HOSTILE: [1, 2] })),
            plan: if dry_run {
                vec![PlannedChange {
                    item: HOSTILE.into(),
                    cmdlet: "Set-Mailbox".into(),
                    parameters: format!(
                        "-Identity '{HOSTILE}' -HiddenFromAddressListsEnabled $true"
                    ),
                }]
            } else {
                vec![]
            },
        };
        RunReport {
            workflow: format!("Nightly {HOSTILE}"),
            description: Some(HOSTILE.into()),
            run_id: HOSTILE.into(),
            started: ended() - chrono::TimeDelta::seconds(90),
            ended: ended(),
            dry_run,
            shard: Some((1, 2)),
            tenants: vec![TenantReport {
                tenant: HOSTILE.into(),
                steps: vec![step],
            }],
        }
    }

    fn charts() -> Vec<Chart> {
        let spec = |kind| ChartSpec {
            title: format!("Chart {HOSTILE}"),
            step: "inventory".into(),
            field: HOSTILE.into(),
            counts: HOSTILE.into(),
            kind,
        };
        let mut charts = vec![
            Chart::new(spec(ChartKind::Histogram { unit: Unit::Bytes })),
            Chart::new(spec(ChartKind::Age {
                buckets_days: vec![30, 90],
            })),
            Chart::new(spec(ChartKind::Top { top: 2 })),
            Chart::new(spec(ChartKind::Histogram { unit: Unit::Count })),
        ];
        for value in [json!(1e9), json!("2025-06-01T00:00:00Z"), json!(HOSTILE)] {
            let Value::Object(record) = json!({ HOSTILE: value }) else {
                unreachable!()
            };
            for chart in &mut charts[..3] {
                chart.add(&record);
            }
        }
        charts
    }

    #[test]
    fn the_page_loads_nothing_and_runs_nothing() {
        for (dry_run, failed) in [(true, true), (false, false), (true, false)] {
            let page = render(&run(dry_run, failed), &charts());
            assert!(page.contains(
                "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
                 style-src 'unsafe-inline'; img-src data:\">"
            ));
            let lower = page.to_ascii_lowercase();
            for forbidden in [
                "<script", "<img", "<link", "<iframe", "<object", "<embed", "<style>*", "http:",
                "https:", "//", "url(", "@import", "src=\"", "xlink:",
            ] {
                assert!(!lower.contains(forbidden), "the page has {forbidden:?}");
            }
            // Every value arrived, as text.
            assert!(
                page.contains(
                    "&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;&quot;&#39;&amp;amp;"
                )
            );
            // Links stay inside the page.
            for href in page.split("href=\"").skip(1) {
                assert!(href.starts_with('#'), "{}", &href[..20.min(href.len())]);
            }
        }
    }

    #[test]
    fn the_page_reads_like_a_status_page() {
        let page = render(&run(true, true), &charts());
        let order = [
            "<h1>Nightly ",
            "class=\"banner fail\"",
            "<strong>1 of 5 items failed</strong>",
            "<dt>Duration</dt><dd>1 min 30 s</dd>",
            "<dt>Shard</dt><dd>1 of 2</dd>",
            "<section class=\"tiles\"",
            "<h2>Summary</h2>",
            "<span class=\"pill fail\">1 failure</span>",
            "<span class=\"pill fail\">Failed</span>",
            "<h2>Charts</h2>",
            "<figure class=\"card chart\" id=\"chart-1\">",
            "<summary>Data</summary>",
            ">No data</text>",
            "<h2>Failures</h2>",
            "HTTP 503\n  caused by:",
            "<h2>Dry-run plan</h2>",
            "<code class=\"cmdlet\">Set-Mailbox</code>",
            "<h2>Outputs</h2>",
            "<footer>",
        ];
        let mut at = 0;
        for part in order {
            let found = page[at..]
                .find(part)
                .unwrap_or_else(|| panic!("{part:?} missing or out of order"));
            at += found + part.len();
        }
        assert_eq!(page.matches("<svg").count(), 4);
        assert_eq!(page.matches("role=\"img\"").count(), 4);
    }

    #[test]
    fn the_banner_says_how_the_run_went() {
        let banner = |report: &RunReport| {
            let page = render(report, &[]);
            let start = page.find("<div class=\"banner").unwrap();
            let end = start + page[start..].find("</div>").unwrap();
            page[start..end].to_string()
        };
        assert!(banner(&run(false, false)).contains("banner ok"));
        assert!(banner(&run(false, false)).contains("All 3 items succeeded"));
        assert!(banner(&run(true, false)).contains("Dry run: nothing was changed"));
        assert!(banner(&run(true, false)).contains("1 change planned"));
        let mut idle = run(false, false);
        idle.tenants[0].steps[0].succeeded = 0;
        assert!(banner(&idle).contains("Nothing ran"));
        idle.tenants.clear();
        let page = render(&idle, &[]);
        assert!(page.contains("The run had no tenants."));
        assert!(!page.contains("<h2>Charts</h2>"));
    }

    #[test]
    fn long_lists_are_cut_and_say_so() {
        let mut report = run(true, true);
        let step = &mut report.tenants[0].steps[0];
        step.failures = (0..1200)
            .map(|i| Failure {
                item: format!("user{i}"),
                error: "gone".into(),
            })
            .collect();
        step.failed = 1200;
        step.output = Some(json!("x".repeat(50_000)));
        let page = render(&report, &[]);
        assert_eq!(page.matches("<td><pre>gone</pre></td>").count(), 500);
        assert!(page.contains("… and 700 more not shown; the run's journal has every one."));
        assert!(page.contains("Cut at 20,000 characters of 50,002."));
    }
}
