//! The details under the summary: each failure with its error, the dry-run plan (each change
//! the run would have made), and each step's output. Lists are cut at [`MAX_LISTED`] rows per
//! step and outputs at [`MAX_OUTPUT_CHARS`], so a run with a million failures still makes a
//! page a browser opens; the page says how many it left out.

use std::fmt::{self, Formatter};

use serde_json::Value;

use super::super::escape::Escaped;
use super::super::format;
use super::super::model::{RunReport, StepReport, TenantReport};
use super::plural;

/// The most failures or planned changes listed per step.
const MAX_LISTED: usize = 500;
/// The most characters of a step's output shown.
const MAX_OUTPUT_CHARS: usize = 20_000;

/// Every failed item, by tenant and step.
pub(super) fn failures(f: &mut Formatter<'_>, report: &RunReport) -> fmt::Result {
    f.write_str("<section id=\"failures\">\n<h2>Failures</h2>\n")?;
    let failed: Vec<_> = report
        .steps()
        .filter(|(_, s)| s.failed > 0 || !s.failures.is_empty())
        .collect();
    if failed.is_empty() {
        f.write_str("<p class=\"empty-state\">No item failed.</p>\n")?;
    }
    for (tenant, step) in failed {
        step_head(
            f,
            tenant,
            step,
            &plural(step.failed, "item failed", "items failed"),
        )?;
        if step.failures.is_empty() {
            f.write_str("<p class=\"empty-state\">The run recorded no error text.</p>\n</div>\n")?;
            continue;
        }
        f.write_str(
            "<div class=\"table-wrap\"><table><thead><tr><th>Item</th><th>Error</th></tr>\
             </thead><tbody>\n",
        )?;
        for failure in step.failures.iter().take(MAX_LISTED) {
            writeln!(
                f,
                "<tr><td class=\"wrap\"><code>{}</code></td><td><pre>{}</pre></td></tr>",
                Escaped(&failure.item),
                Escaped(&failure.error)
            )?;
        }
        f.write_str("</tbody></table></div>\n")?;
        left_out(f, step.failures.len(), "the run's journal has every one")?;
        f.write_str("</div>\n")?;
    }
    f.write_str("</section>\n")
}

/// Whether the page has a dry-run plan section.
pub(super) fn has_plan(report: &RunReport) -> bool {
    report.dry_run || report.steps().any(|(_, s)| !s.plan.is_empty())
}

/// Each change the dry run would have made, by tenant and step.
pub(super) fn plan(f: &mut Formatter<'_>, report: &RunReport) -> fmt::Result {
    if !has_plan(report) {
        return Ok(());
    }
    f.write_str(
        "<section id=\"plan\">\n<h2>Dry-run plan</h2>\n<p class=\"lede\">What the run would \
         have changed. Nothing was sent: run the workflow again without <code>--dry-run</code> \
         to make these changes.</p>\n",
    )?;
    let planned: Vec<_> = report.steps().filter(|(_, s)| !s.plan.is_empty()).collect();
    if planned.is_empty() {
        f.write_str("<p class=\"empty-state\">The run would change nothing.</p>\n")?;
    }
    for (tenant, step) in planned {
        let count = step.plan.len() as u64;
        step_head(f, tenant, step, &plural(count, "change", "changes"))?;
        f.write_str(
            "<div class=\"table-wrap\"><table><thead><tr><th>Item</th><th>Change</th></tr>\
             </thead><tbody>\n",
        )?;
        for change in step.plan.iter().take(MAX_LISTED) {
            writeln!(
                f,
                "<tr><td class=\"wrap\">{}</td><td><div class=\"change\"><code class=\"cmdlet\">\
                 {}</code><code class=\"wrap\">{}</code></div></td></tr>",
                Escaped(&change.item),
                Escaped(&change.cmdlet),
                Escaped(&change.parameters)
            )?;
        }
        f.write_str("</tbody></table></div>\n")?;
        left_out(f, step.plan.len(), "the run's audit log has every one")?;
        f.write_str("</div>\n")?;
    }
    f.write_str("</section>\n")
}

/// Whether any step has an output to show.
pub(super) fn has_outputs(report: &RunReport) -> bool {
    report.steps().any(|(_, s)| s.output.is_some())
}

/// Each step's output summary as indented JSON, a card per tenant.
pub(super) fn outputs(f: &mut Formatter<'_>, report: &RunReport) -> fmt::Result {
    if !has_outputs(report) {
        return Ok(());
    }
    f.write_str("<section id=\"outputs\">\n<h2>Outputs</h2>\n")?;
    for tenant in &report.tenants {
        if tenant.steps.iter().all(|s| s.output.is_none()) {
            continue;
        }
        writeln!(
            f,
            "<div class=\"card\">\n<div class=\"card-head\"><h3>{}</h3></div>",
            Escaped(&tenant.tenant)
        )?;
        for step in &tenant.steps {
            if let Some(output) = &step.output {
                output_of(f, step, output)?;
            }
        }
        f.write_str("</div>\n")?;
    }
    f.write_str("</section>\n")
}

/// One step's output, cut at [`MAX_OUTPUT_CHARS`].
fn output_of(f: &mut Formatter<'_>, step: &StepReport, output: &Value) -> fmt::Result {
    let text = serde_json::to_string_pretty(output).unwrap_or_else(|e| e.to_string());
    let shown = match text.char_indices().nth(MAX_OUTPUT_CHARS) {
        Some((cut, _)) => &text[..cut],
        None => &text,
    };
    writeln!(
        f,
        "<p class=\"step-label\">step <code>{}</code> · {}</p><pre>{}</pre>",
        Escaped(&step.step),
        Escaped(&step.plugin),
        Escaped(shown)
    )?;
    if shown.len() < text.len() {
        writeln!(
            f,
            "<p class=\"more\">Cut at {} characters of {}.</p>",
            format::count(MAX_OUTPUT_CHARS as u64),
            format::count(text.chars().count() as u64)
        )?;
    }
    Ok(())
}

/// Opens a card for one tenant's step, headed with `what`.
fn step_head(
    f: &mut Formatter<'_>,
    tenant: &TenantReport,
    step: &StepReport,
    what: &str,
) -> fmt::Result {
    writeln!(
        f,
        "<div class=\"card\">\n<div class=\"card-head\"><h3>{}</h3><span class=\"sub\">step \
         <code>{}</code> · {}</span></div>",
        Escaped(&tenant.tenant),
        Escaped(&step.step),
        Escaped(what)
    )
}

/// "… and N more not shown" when a list of `len` was cut.
fn left_out(f: &mut Formatter<'_>, len: usize, where_all: &str) -> fmt::Result {
    if len <= MAX_LISTED {
        return Ok(());
    }
    writeln!(
        f,
        "<p class=\"more\">… and {} more not shown; {where_all}.</p>",
        format::count((len - MAX_LISTED) as u64)
    )
}
