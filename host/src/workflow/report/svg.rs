//! A figure drawn as an inline SVG bar chart: columns for ordered bins (rows when their labels
//! would not fit under them), rows for named values;
//! gridlines and tick labels on the count axis, both axes titled, each bar's count on it and a
//! `<title>` on each bar for its tooltip. Colours come from the page's CSS classes, so one
//! drawing reads in light and dark mode and in print; `role="img"` and an `aria-label` that
//! sums it up make it readable to a screen reader. Text is measured by an average glyph width,
//! which is all a layout without a browser can do; long labels are shortened with "…" (the
//! tooltip and the data table have them whole).

use std::fmt::{self, Display, Formatter};

use super::chart::{Bar, Figure, Layout};
use super::escape::Escaped;
use super::format;

/// The drawing's width in SVG units: about the width of a chart's card on a wide screen, so
/// its text is drawn near the page's size (it scales with the page).
const WIDTH: f64 = 520.0;
/// The average width of a 12px glyph of a system UI font.
const GLYPH: f64 = 6.6;
/// Columns: the drawing's height, and where the columns stand, left to right.
const COLUMNS_HEIGHT: f64 = 300.0;
const COLUMNS_FROM: f64 = 64.0;
const COLUMNS_TO: f64 = WIDTH - 16.0;
/// Rows: one row's height, and its bar's.
const ROW: f64 = 26.0;
const ROW_BAR: f64 = 16.0;

/// A figure as SVG markup.
pub(super) struct Svg<'a> {
    /// The chart's title, for its accessible name.
    pub title: &'a str,
    /// What to draw.
    pub figure: &'a Figure,
}

impl Display for Svg<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let figure = self.figure;
        let total = figure.total();
        if total == 0 {
            return write!(
                f,
                "<svg class=\"plot\" viewBox=\"0 0 {WIDTH} 120\" width=\"{WIDTH}\" height=\"120\" \
                 role=\"img\" aria-label=\"{}: no data\"><rect class=\"frame\" x=\"0.5\" \
                 y=\"0.5\" width=\"{}\" height=\"119\" rx=\"6\"/><text class=\"empty\" \
                 x=\"{}\" y=\"66\" text-anchor=\"middle\">No data</text></svg>",
                Escaped(self.title),
                WIDTH - 1.0,
                WIDTH / 2.0
            );
        }
        let largest = figure
            .bars
            .iter()
            .max_by_key(|b| b.count)
            .map(|b| format!(" Largest: {} with {}.", b.label, format::count(b.count)))
            .unwrap_or_default();
        let summary = format!(
            "{}: bar chart of {} {} in {} bars.{largest}",
            self.title,
            format::count(total),
            figure.value_axis,
            figure.bars.len(),
        );
        let column_labels = match figure.layout {
            Layout::Columns => column_labels(figure),
            Layout::Rows => None,
        };
        match column_labels {
            Some(labels) => columns(f, &summary, figure, total, &labels),
            None => rows(f, &summary, figure, total),
        }
    }
}

/// Vertical bars side by side, each labelled below with its `labels` lines.
fn columns(
    f: &mut Formatter<'_>,
    summary: &str,
    figure: &Figure,
    total: u64,
    labels: &[Vec<String>],
) -> fmt::Result {
    let (left, right, top, bottom) = (COLUMNS_FROM, COLUMNS_TO, 28.0, COLUMNS_HEIGHT - 68.0);
    let ticks = Ticks::new(max(figure));
    open(f, COLUMNS_HEIGHT, summary)?;
    let y = |v: u64| bottom - ticks.share(v) * (bottom - top);
    for tick in ticks.values() {
        let at = y(tick);
        write!(
            f,
            "<line class=\"grid\" x1=\"{left}\" x2=\"{right}\" y1=\"{at:.1}\" y2=\"{at:.1}\"/>\
             <text class=\"tick\" x=\"{}\" y=\"{at:.1}\" dy=\".32em\" text-anchor=\"end\">{}</text>",
            left - 8.0,
            format::short(tick as f64)
        )?;
    }
    let slot = column_slot(figure);
    let width = (slot * 0.7).min(64.0);
    for (i, (bar, lines)) in figure.bars.iter().zip(labels).enumerate() {
        let centre = left + slot * (i as f64 + 0.5);
        let at = y(bar.count);
        let height = visible(bottom - at, bar.count);
        rect(
            f,
            bar,
            [centre - width / 2.0, bottom - height, width, height],
            figure,
            total,
        )?;
        let value = fitted_count(bar.count, slot);
        write!(
            f,
            "<text class=\"value\" x=\"{centre:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{value}</text>",
            bottom - height - 6.0
        )?;
        for (line, text) in lines.iter().enumerate() {
            write!(
                f,
                "<text class=\"label\" x=\"{centre:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                bottom + 18.0 + 14.0 * line as f64,
                Escaped(text)
            )?;
        }
    }
    write!(
        f,
        "<line class=\"axis\" x1=\"{left}\" x2=\"{right}\" y1=\"{bottom}\" y2=\"{bottom}\"/>\
         <text class=\"axis-title\" x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">{}</text>\
         <text class=\"axis-title\" transform=\"translate(16 {:.1}) rotate(-90)\" \
         text-anchor=\"middle\">{}</text></svg>",
        (left + right) / 2.0,
        COLUMNS_HEIGHT - 10.0,
        Escaped(&figure.category_axis),
        (top + bottom) / 2.0,
        Escaped(&figure.value_axis),
    )
}

/// Horizontal bars one under another, labelled on the left.
fn rows(f: &mut Formatter<'_>, summary: &str, figure: &Figure, total: u64) -> fmt::Result {
    let longest = figure
        .bars
        .iter()
        .map(|b| b.label.chars().count())
        .max()
        .unwrap_or(0);
    let left = (longest as f64 * GLYPH + 16.0).clamp(72.0, 220.0);
    let label_chars = ((left - 16.0) / GLYPH) as usize;
    let (right, top) = (WIDTH - 64.0, 32.0);
    let bottom = top + ROW * figure.bars.len() as f64;
    let height = bottom + 48.0;
    let ticks = Ticks::new(max(figure));
    open(f, height, summary)?;
    let x = |v: u64| left + ticks.share(v) * (right - left);
    for tick in ticks.values() {
        let at = x(tick);
        write!(
            f,
            "<line class=\"grid\" x1=\"{at:.1}\" x2=\"{at:.1}\" y1=\"{top}\" y2=\"{bottom}\"/>\
             <text class=\"tick\" x=\"{at:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            bottom + 16.0,
            format::short(tick as f64)
        )?;
    }
    for (i, bar) in figure.bars.iter().enumerate() {
        let middle = top + ROW * (i as f64 + 0.5);
        let width = visible(x(bar.count) - left, bar.count);
        rect(
            f,
            bar,
            [left, middle - ROW_BAR / 2.0, width, ROW_BAR],
            figure,
            total,
        )?;
        write!(
            f,
            "<text class=\"label\" x=\"{:.1}\" y=\"{middle:.1}\" dy=\".32em\" \
             text-anchor=\"end\">{}</text><text class=\"value\" x=\"{:.1}\" y=\"{middle:.1}\" \
             dy=\".32em\">{}</text>",
            left - 8.0,
            Escaped(&shortened(&bar.label, label_chars)),
            left + width + 6.0,
            format::count(bar.count)
        )?;
    }
    write!(
        f,
        "<line class=\"axis\" x1=\"{left}\" x2=\"{left}\" y1=\"{top}\" y2=\"{bottom}\"/>\
         <text class=\"axis-title\" x=\"0\" y=\"18\">{}</text>\
         <text class=\"axis-title\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text></svg>",
        Escaped(&shortened(&figure.category_axis, (WIDTH / GLYPH) as usize)),
        (left + right) / 2.0,
        height - 8.0,
        Escaped(&figure.value_axis),
    )
}

/// The `<svg>` start tag.
fn open(f: &mut Formatter<'_>, height: f64, summary: &str) -> fmt::Result {
    write!(
        f,
        "<svg class=\"plot\" viewBox=\"0 0 {WIDTH} {height}\" width=\"{WIDTH}\" \
         height=\"{height}\" role=\"img\" aria-label=\"{}\">",
        Escaped(summary)
    )
}

/// One bar at `[x, y, width, height]`, with its tooltip.
fn rect(
    f: &mut Formatter<'_>,
    bar: &Bar,
    [x, y, width, height]: [f64; 4],
    figure: &Figure,
    total: u64,
) -> fmt::Result {
    write!(
        f,
        "<rect class=\"bar{}\" x=\"{x:.1}\" y=\"{y:.1}\" width=\"{width:.1}\" \
         height=\"{height:.1}\" rx=\"2\"><title>{}: {} of {} {} ({})</title></rect>",
        if bar.muted { " muted" } else { "" },
        Escaped(&bar.detail),
        format::count(bar.count),
        format::count(total),
        Escaped(&figure.value_axis),
        share(bar.count, total)
    )
}

/// `count` as a percentage of `total`: `12.5%`, `< 0.1%`.
pub(super) fn share(count: u64, total: u64) -> String {
    if total == 0 {
        return "0%".to_string();
    }
    let percent = count as f64 * 100.0 / total as f64;
    if count > 0 && percent < 0.1 {
        "< 0.1%".to_string()
    } else {
        format!("{}%", format::significant(percent))
    }
}

/// A bar's length, at least a sliver when its count is not zero.
fn visible(length: f64, count: u64) -> f64 {
    if count > 0 { length.max(1.5) } else { 0.0 }
}

/// The largest bar.
fn max(figure: &Figure) -> u64 {
    figure.bars.iter().map(|b| b.count).max().unwrap_or(0)
}

/// A count that fits a column `slot` wide: in full, or short (`12k`).
fn fitted_count(count: u64, slot: f64) -> String {
    let full = format::count(count);
    if full.len() as f64 * GLYPH <= slot {
        full
    } else {
        format::short(count as f64)
    }
}

/// The width of each column's slot.
fn column_slot(figure: &Figure) -> f64 {
    (COLUMNS_TO - COLUMNS_FROM) / figure.bars.len().max(1) as f64
}

/// Each column's label in lines that fit under it (a range split after its dash), or `None`
/// when one does not fit, so the figure is drawn as rows.
fn column_labels(figure: &Figure) -> Option<Vec<Vec<String>>> {
    let fits = |text: &str| text.chars().count() as f64 * GLYPH <= column_slot(figure);
    figure
        .bars
        .iter()
        .map(|bar| {
            if fits(&bar.label) {
                return Some(vec![bar.label.clone()]);
            }
            let (first, second) = bar.label.split_once('–')?;
            let first = format!("{first}–");
            (fits(&first) && fits(second)).then(|| vec![first, second.to_string()])
        })
        .collect()
}

/// `text` cut to `chars` characters, the last one "…" if it was longer.
fn shortened(text: &str, chars: usize) -> String {
    if text.chars().count() <= chars {
        return text.to_string();
    }
    let mut short: String = text.chars().take(chars.saturating_sub(1)).collect();
    short.push('…');
    short
}

/// Round tick values from 0 past the largest count: steps of 1, 2 or 5 times a power of ten.
struct Ticks {
    step: u64,
    top: u64,
}

impl Ticks {
    fn new(max: u64) -> Ticks {
        let rough = (max as f64 / 4.0).max(1.0);
        let magnitude = 10f64.powi(rough.log10().floor() as i32);
        let step = [1.0, 2.0, 5.0, 10.0]
            .iter()
            .map(|m| m * magnitude)
            .find(|s| *s >= rough)
            .unwrap_or(10.0 * magnitude)
            .max(1.0) as u64;
        let top = max.div_ceil(step).max(1).saturating_mul(step);
        Ticks { step, top }
    }

    fn values(&self) -> impl Iterator<Item = u64> {
        (0..=self.top).step_by(usize::try_from(self.step).unwrap_or(usize::MAX))
    }

    /// Where `v` is along the axis, from 0 to 1.
    fn share(&self, v: u64) -> f64 {
        v as f64 / self.top as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figure(layout: Layout, bars: &[(&str, u64)]) -> Figure {
        Figure {
            bars: bars
                .iter()
                .map(|(label, count)| Bar {
                    label: label.to_string(),
                    detail: format!("{label} in full"),
                    count: *count,
                    muted: *label == "others",
                })
                .collect(),
            layout,
            category_axis: "Trustee".into(),
            value_axis: "grants".into(),
            notes: vec![],
        }
    }

    fn draw(title: &str, figure: &Figure) -> String {
        Svg { title, figure }.to_string()
    }

    #[test]
    fn each_bar_has_its_count_and_a_tooltip() {
        for layout in [Layout::Columns, Layout::Rows] {
            let svg = draw(
                "Grants",
                &figure(layout, &[("alice", 3000), ("bob", 1000), ("others", 0)]),
            );
            assert_eq!(svg.matches("<rect class=\"bar").count(), 3, "{svg}");
            assert_eq!(svg.matches("<rect class=\"bar muted\"").count(), 1);
            assert!(
                svg.contains("<title>alice in full: 3,000 of 4,000 grants (75%)</title>"),
                "{svg}"
            );
            assert!(svg.contains(">3,000</text>"), "{svg}");
            assert!(svg.contains("role=\"img\""));
            assert!(svg.contains(
                "aria-label=\"Grants: bar chart of 4,000 grants in 3 bars. Largest: alice with \
                 3,000.\""
            ));
            assert!(svg.contains(">Trustee</text>") && svg.contains(">grants</text>"));
            assert!(!svg.contains("NaN") && !svg.contains("inf"), "{svg}");
        }
    }

    #[test]
    fn no_data_says_so() {
        let svg = draw("Sizes", &figure(Layout::Columns, &[("0 B", 0)]));
        assert!(svg.contains(">No data</text>"), "{svg}");
        assert!(svg.contains("aria-label=\"Sizes: no data\""));
        assert!(!svg.contains("class=\"bar"));
    }

    #[test]
    fn labels_are_escaped_and_shortened() {
        let hostile = "\"><script>alert(1)</script><b title='x";
        let svg = draw(
            hostile,
            &figure(Layout::Rows, &[(hostile, 1), (&"x".repeat(200), 2)]),
        );
        assert!(!svg.contains("<script") && !svg.contains("<b "), "{svg}");
        assert!(svg.contains("&lt;script&gt;"));
        assert!(svg.contains("xxx…</text>"), "{svg}");
        assert!(
            !svg.contains(&format!(">{}</text>", "x".repeat(200))),
            "{svg}"
        );
    }

    #[test]
    fn columns_whose_labels_do_not_fit_stand_as_rows() {
        let eight = [
            "0 B",
            "1–10 B",
            "10–100 B",
            "100 B–1 KB",
            "1–10 KB",
            "10–100 KB",
        ];
        let mut bars: Vec<(&str, u64)> = eight.iter().map(|l| (*l, 1)).collect();
        bars.extend([("100 KB–1 MB", 2), ("1–10 MB", 3)]);
        let svg = draw("Sizes", &figure(Layout::Columns, &bars));
        assert!(svg.contains("rotate(-90)"), "columns: {svg}");
        assert!(
            svg.contains(">100 KB–</text>") && svg.contains(">1 MB</text>"),
            "{svg}"
        );
        let labels: Vec<String> = (1..=13).map(|i| format!("{i}00 KB–{i}000 KB")).collect();
        let bars: Vec<(&str, u64)> = labels.iter().map(|l| (l.as_str(), 1)).collect();
        let svg = draw("Sizes", &figure(Layout::Columns, &bars));
        assert!(!svg.contains("rotate(-90)"), "rows: {svg}");
        assert!(svg.contains(">1300 KB–13000 KB</text>"), "{svg}");
    }

    #[test]
    fn ticks_are_round() {
        let values = |max| Ticks::new(max).values().collect::<Vec<_>>();
        assert_eq!(values(1), [0, 1]);
        assert_eq!(values(7), [0, 2, 4, 6, 8]);
        assert_eq!(values(4321), [0, 2000, 4000, 6000]);
        assert_eq!(values(1_000_000), [0, 500_000, 1_000_000]);
        assert!(Ticks::new(u64::MAX).values().count() <= 6);
        assert_eq!(share(1, 3), "33.3%");
        assert_eq!(share(1, 100_000), "< 0.1%");
    }
}
