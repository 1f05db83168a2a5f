//! The top of the page: the run's header with its verdict, the totals, and a table per tenant
//! of how each step went.

use std::fmt::{self, Formatter};

use super::super::escape::Escaped;
use super::super::format;
use super::super::model::{RunReport, StepReport, StepStatus, TenantReport, Totals};
use super::{count_cell, plural};

/// The workflow, the verdict banner and the run's facts.
pub(super) fn header(f: &mut Formatter<'_>, report: &RunReport) -> fmt::Result {
    writeln!(
        f,
        "<header>\n<p class=\"eyebrow\">exorun · workflow run report</p>\n<h1>{}</h1>",
        Escaped(&report.workflow)
    )?;
    if let Some(description) = report
        .description
        .as_deref()
        .filter(|d| !d.trim().is_empty())
    {
        writeln!(f, "<p class=\"lede\">{}</p>", Escaped(description))?;
    }
    let (class, headline, detail) = verdict(report);
    write!(
        f,
        "<div class=\"banner {class}\" role=\"status\"><span class=\"dot\"></span>\
         <strong>{}</strong><span class=\"detail\">{}</span></div>\n<dl class=\"facts\">",
        Escaped(&headline),
        Escaped(&detail)
    )?;
    let mode = if report.dry_run {
        "Dry run: changes recorded, not sent"
    } else {
        "Live"
    };
    let mut facts = vec![
        ("Run", format!("<code>{}</code>", Escaped(&report.run_id))),
        ("Mode", mode.to_string()),
        ("Started", format::time(report.started)),
        ("Ended", format::time(report.ended)),
        ("Duration", format::duration(report.duration())),
        ("Tenants", format::count(report.tenants.len() as u64)),
    ];
    if let Some((k, n)) = report.shard {
        facts.push(("Shard", format!("{k} of {n}")));
    }
    for (name, value) in facts {
        write!(f, "<div><dt>{name}</dt><dd>{value}</dd></div>")?;
    }
    f.write_str("</dl>\n</header>\n")
}

/// The banner's colour, headline and detail.
fn verdict(report: &RunReport) -> (&'static str, String, String) {
    let totals = report.totals();
    let steps = report.steps().count() as u64;
    let failed_steps = report
        .steps()
        .filter(|(_, s)| s.status() == StepStatus::Failed)
        .count() as u64;
    if totals.failed > 0 {
        (
            "fail",
            format!(
                "{} of {} failed",
                format::count(totals.failed),
                plural(
                    totals.failed + totals.succeeded + totals.skipped,
                    "item",
                    "items"
                )
            ),
            format!(
                "in {} of {}; the failures are listed below.",
                plural(failed_steps, "step", "steps"),
                format::count(steps)
            ),
        )
    } else if totals.succeeded == 0 {
        (
            "warn",
            "Nothing ran".to_string(),
            format!(
                "{} skipped, none succeeded or failed.",
                plural(totals.skipped, "item was", "items were")
            ),
        )
    } else if report.dry_run {
        (
            "warn",
            "Dry run: nothing was changed".to_string(),
            format!(
                "{} planned; every item succeeded.",
                plural(totals.planned, "change", "changes")
            ),
        )
    } else {
        (
            "ok",
            format!(
                "All {} succeeded",
                plural(totals.succeeded, "item", "items")
            ),
            format!(
                "across {} and {}.",
                plural(report.tenants.len() as u64, "tenant", "tenants"),
                plural(steps, "step", "steps")
            ),
        )
    }
}

/// The run's totals as tiles.
pub(super) fn tiles(f: &mut Formatter<'_>, report: &RunReport) -> fmt::Result {
    let totals = report.totals();
    f.write_str("<section class=\"tiles\" aria-label=\"Totals\">")?;
    let failed_class = if totals.failed > 0 { "fail" } else { "" };
    let mut tiles = vec![
        ("ok", totals.succeeded, "items succeeded"),
        (failed_class, totals.failed, "items failed"),
        ("", totals.skipped, "items skipped"),
        ("", totals.records, "records"),
    ];
    if report.dry_run {
        tiles.push(("", totals.planned, "changes planned"));
    }
    for (class, n, what) in tiles {
        write!(
            f,
            "<div class=\"tile {class}\"><span class=\"n\">{}</span><span class=\"k\">{what}</span></div>",
            format::count(n)
        )?;
    }
    f.write_str("</section>\n")
}

/// A card per tenant with a row per step.
pub(super) fn tenants(f: &mut Formatter<'_>, report: &RunReport) -> fmt::Result {
    f.write_str("<section id=\"summary\">\n<h2>Summary</h2>\n")?;
    if report.tenants.is_empty() {
        f.write_str("<p class=\"empty-state\">The run had no tenants.</p>\n")?;
    }
    for tenant in &report.tenants {
        tenant_card(f, tenant)?;
    }
    f.write_str("</section>\n")
}

fn tenant_card(f: &mut Formatter<'_>, tenant: &TenantReport) -> fmt::Result {
    let totals = Totals::of(&tenant.steps);
    let (class, status) = if totals.failed > 0 {
        ("fail", plural(totals.failed, "failure", "failures"))
    } else if totals.succeeded > 0 {
        ("ok", "Succeeded".to_string())
    } else {
        ("quiet", "Nothing ran".to_string())
    };
    writeln!(
        f,
        "<div class=\"card\">\n<div class=\"card-head\"><h3>{}</h3><span class=\"pill {class}\">\
         {status}</span><span class=\"sub\">{} · {}</span></div>",
        Escaped(&tenant.tenant),
        plural(tenant.steps.len() as u64, "step", "steps"),
        plural(totals.records, "record", "records"),
    )?;
    if tenant.steps.is_empty() {
        return f.write_str("<p class=\"empty-state\">No step ran for this tenant.</p>\n</div>\n");
    }
    f.write_str(
        "<div class=\"table-wrap\"><table>\n<thead><tr><th>Step</th><th>Plugin</th>\
         <th class=\"num\">Succeeded</th><th class=\"num\">Failed</th>\
         <th class=\"num\">Skipped</th><th class=\"num\">Records</th>\
         <th class=\"num\">Duration</th><th>Status</th></tr></thead>\n<tbody>\n",
    )?;
    for step in &tenant.steps {
        step_row(f, step)?;
    }
    f.write_str("</tbody></table></div>\n</div>\n")
}

fn step_row(f: &mut Formatter<'_>, step: &StepReport) -> fmt::Result {
    write!(
        f,
        "<tr><td class=\"wrap\"><code>{}</code></td><td class=\"wrap\">{} \
         <span class=\"sub mono\">{}</span></td>",
        Escaped(&step.step),
        Escaped(&step.plugin),
        Escaped(&step.plugin_version),
    )?;
    count_cell(f, step.succeeded, false)?;
    count_cell(f, step.failed, true)?;
    count_cell(f, step.skipped, false)?;
    count_cell(f, step.records, false)?;
    let (class, status) = match step.status() {
        StepStatus::Failed => ("fail", "Failed"),
        StepStatus::Succeeded => ("ok", "Succeeded"),
        StepStatus::Skipped => ("quiet", "Skipped"),
        StepStatus::Empty => ("quiet", "No items"),
    };
    writeln!(
        f,
        "<td class=\"num\">{}</td><td><span class=\"pill {class}\">{status}</span></td></tr>",
        format::duration(step.duration)
    )
}
