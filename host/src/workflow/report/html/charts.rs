//! The charts section: each chart a card with its title, what it reads, the SVG, notes on
//! what the bars leave out, and its numbers in a table under a `<details>` to read or copy.

use std::fmt::{self, Formatter};

use chrono::{DateTime, Utc};

use super::super::chart::{Chart, Figure};
use super::super::escape::Escaped;
use super::super::svg::{self, Svg};
use super::plural;

/// Every chart, or nothing when the workflow asks for none.
pub(super) fn section(
    f: &mut Formatter<'_>,
    charts: &[Chart],
    ended: DateTime<Utc>,
) -> fmt::Result {
    if charts.is_empty() {
        return Ok(());
    }
    f.write_str("<section id=\"charts\">\n<h2>Charts</h2>\n<div class=\"charts\">\n")?;
    for (i, chart) in charts.iter().enumerate() {
        card(f, i + 1, chart, &chart.figure(ended))?;
    }
    f.write_str("</div>\n</section>\n")
}

fn card(f: &mut Formatter<'_>, number: usize, chart: &Chart, figure: &Figure) -> fmt::Result {
    let spec = chart.spec();
    write!(
        f,
        "<figure class=\"card chart\" id=\"chart-{number}\">\n<figcaption><h3>{}</h3>\
         <p class=\"sub\">Step <code>{}</code> · <code>{}</code> · {}</p></figcaption>\n{}\n",
        Escaped(&spec.title),
        Escaped(&spec.step),
        Escaped(&spec.field),
        plural(chart.records(), "record", "records"),
        Svg {
            title: &spec.title,
            figure
        },
    )?;
    if !figure.notes.is_empty() {
        f.write_str("<ul class=\"notes\">")?;
        for note in &figure.notes {
            write!(f, "<li>{}</li>", Escaped(note))?;
        }
        f.write_str("</ul>\n")?;
    }
    let total = figure.total();
    if total > 0 {
        write!(
            f,
            "<details><summary>Data</summary><div class=\"table-wrap\"><table>\
             <thead><tr><th>{}</th><th class=\"num\">{}</th><th class=\"num\">Share</th></tr>\
             </thead><tbody>",
            Escaped(&figure.category_axis),
            Escaped(&figure.value_axis),
        )?;
        for bar in &figure.bars {
            write!(
                f,
                "<tr><td class=\"wrap\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                Escaped(&bar.detail),
                super::super::format::count(bar.count),
                svg::share(bar.count, total),
            )?;
        }
        f.write_str("</tbody></table></div></details>\n")?;
    }
    f.write_str("</figure>\n")
}
