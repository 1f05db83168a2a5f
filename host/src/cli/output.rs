//! Writing result rows as a table, JSON, JSON Lines or CSV, streamed page by page. OData
//! annotations (`X@odata.type`, `X@data.type`) are left out: they describe the wire, not the data.

use std::borrow::Cow;
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use clap::ValueEnum;
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Serialize, Serializer};
use serde_json::Value;

use super::raw_row::{KnownKeys, RowReader, cell, is_annotation, value_cell};
use exorun::exchange::RawRow;

/// Output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned columns (a few useful properties unless --property names them).
    Table,
    /// One JSON array.
    Json,
    /// One JSON object per line.
    Jsonl,
    /// Comma-separated values with a header.
    Csv,
}

/// Columns a table shows when none are named, in order of preference.
const PREFERRED: [&str; 8] = [
    "Name",
    "Identity",
    "UserPrincipalName",
    "PrimarySmtpAddress",
    "RecipientTypeDetails",
    "User",
    "AccessRights",
    "DisplayName",
];

/// A row as written in JSON: its properties without the annotations, serialized from the row
/// itself rather than from a filtered copy.
struct WithoutAnnotations<'a>(&'a Value);

impl Serialize for WithoutAnnotations<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::Object(map) => {
                serializer.collect_map(map.iter().filter(|(k, _)| !is_annotation(k)))
            }
            other => other.serialize(serializer),
        }
    }
}

/// Progress on stderr, drawn only when stderr is a terminal (never in pipes, files or cron
/// logs). When stdout is a terminal too, the spinner is cleared while output is written, so
/// spinner frames never end up between rows.
pub struct Progress {
    bar: Option<ProgressBar>,
    shares_terminal: bool,
    started: Instant,
}

impl Progress {
    /// A spinner if stderr is a terminal, else nothing to draw.
    pub fn start() -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template("{spinner} {msg} [{elapsed}]")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Progress {
            shares_terminal: bar.is_some() && std::io::stdout().is_terminal(),
            bar,
            started: Instant::now(),
        }
    }

    /// Shows what is going on.
    pub fn message(&self, text: String) {
        if let Some(bar) = &self.bar {
            bar.set_message(text);
        }
    }

    /// Prints `line` on stderr, above the spinner if one is drawn.
    pub fn note(&self, line: &str) {
        match &self.bar {
            Some(bar) => bar.suspend(|| eprintln!("{line}")),
            None => eprintln!("{line}"),
        }
    }

    /// Runs `write` (which writes and flushes output) with the spinner cleared when it shares
    /// the terminal with stdout.
    pub fn around<R>(&self, write: impl FnOnce() -> R) -> R {
        match &self.bar {
            Some(bar) if self.shares_terminal => bar.suspend(write),
            _ => write(),
        }
    }

    /// True when output must be flushed inside [`Progress::around`] to keep the terminal clean.
    pub fn shares_terminal(&self) -> bool {
        self.shares_terminal
    }

    /// True when a spinner is drawn.
    pub fn is_drawn(&self) -> bool {
        self.bar.is_some()
    }

    /// Removes the spinner and, on a terminal, leaves `summary` with the time taken.
    pub fn finish(&self, summary: &str) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
            eprintln!("{summary}, {:.1} s", self.started.elapsed().as_secs_f64());
        }
    }

    /// Removes the spinner, leaving nothing (the command failed and says why).
    pub fn clear(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// The warning for a `--property` the first row does not have (its column stays empty).
fn unknown_property(name: &str, keys: &[&str]) -> String {
    let known: Vec<&str> = keys.iter().copied().filter(|k| !is_annotation(k)).collect();
    let limit = (name.len() / 4).max(1);
    let close = known.iter().find(|k| {
        strsim::levenshtein(&k.to_ascii_lowercase(), &name.to_ascii_lowercase()) <= limit
    });
    match close {
        Some(k) => format!(
            "exorun: warning: --property {name}: the results have no such property; did you mean {k}? (its column stays empty)"
        ),
        None => format!(
            "exorun: warning: --property {name}: the results have no such property (its column stays empty); they have: {}",
            known.join(", ")
        ),
    }
}

/// `n` with a comma between thousands and the noun in singular or plural: "100,000 rows".
pub fn count(n: u64, singular: &str, plural: &str) -> String {
    let digits = n.to_string();
    let mut grouped = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    format!("{grouped} {}", if n == 1 { singular } else { plural })
}

/// Streams rows to a writer in one format.
pub struct RowSink<W: Write> {
    out: W,
    format: Format,
    columns: Vec<String>,
    rows_written: usize,
    known_keys: KnownKeys,
    reader: RowReader,
}

impl<W: Write> RowSink<W> {
    /// A sink; `columns` fixes the table/CSV columns (empty: chosen from the first row).
    pub fn new(out: W, format: Format, columns: Vec<String>) -> RowSink<W> {
        RowSink {
            out,
            format,
            columns,
            rows_written: 0,
            known_keys: KnownKeys::default(),
            reader: RowReader::default(),
        }
    }

    fn choose_columns(&mut self, first: &Value) {
        if let Some(map) = first.as_object() {
            self.choose_columns_from(&map.keys().map(String::as_str).collect::<Vec<_>>());
        }
    }

    /// Picks the columns from the first row's property names (unless they were named).
    fn choose_columns_from(&mut self, keys: &[&str]) {
        if !self.columns.is_empty() {
            // Property names compare as in PowerShell: any case.
            for column in &mut self.columns {
                match keys.iter().find(|k| k.eq_ignore_ascii_case(column)) {
                    Some(key) => *column = key.to_string(),
                    None => eprintln!("{}", unknown_property(column, keys)),
                }
            }
            return;
        }
        let has = |key: &str| keys.contains(&key);
        let repeats = |column: &str| {
            (column == "Identity" && has("Name"))
                || (column == "PrimarySmtpAddress" && has("UserPrincipalName"))
        };
        self.columns = match self.format {
            Format::Table => {
                let mut chosen: Vec<String> = PREFERRED
                    .iter()
                    .filter(|c| has(c) && !repeats(c))
                    .take(4)
                    .map(|c| c.to_string())
                    .collect();
                // Fill up to four columns with the record's other properties.
                let rest: Vec<String> = keys
                    .iter()
                    .filter(|k| !is_annotation(k) && !chosen.iter().any(|c| c == *k) && !repeats(k))
                    .take(4usize.saturating_sub(chosen.len()))
                    .map(|k| k.to_string())
                    .collect();
                chosen.extend(rest);
                chosen
            }
            _ => keys
                .iter()
                .filter(|k| !is_annotation(k))
                .map(|k| k.to_string())
                .collect(),
        };
    }

    /// Writes one page of rows as the service sent them (see [`super::raw_row`]): JSON, JSON
    /// Lines and CSV without parsing each row into a `Value`; a table parses them.
    pub fn write_raw_rows(&mut self, rows: &[RawRow]) -> std::io::Result<()> {
        // The reader's buffer is kept from page to page; it is lent out while rows borrow it.
        let mut reader = std::mem::take(&mut self.reader);
        let written = self.write_raw_rows_with(&mut reader, rows);
        self.reader = reader;
        written
    }

    fn write_raw_rows_with(
        &mut self,
        reader: &mut RowReader,
        rows: &[RawRow],
    ) -> std::io::Result<()> {
        for row in rows {
            let text = row.get();
            let map = match self.format {
                Format::Table => None,
                _ => reader.read(text),
            };
            let Some(map) = map else {
                self.write_row(&serde_json::from_str(text)?)?;
                continue;
            };
            if self.rows_written == 0 {
                let keys: Vec<_> = map.keys().collect();
                self.choose_columns_from(&keys.iter().map(|k| k.as_ref()).collect::<Vec<_>>());
                self.start()?;
            }
            match self.format {
                Format::Json | Format::Jsonl => {
                    if self.format == Format::Json {
                        let sep = if self.rows_written == 0 { "" } else { ",\n" };
                        write!(self.out, "{sep}  ")?;
                    }
                    map.write_json(&mut self.out, &mut self.known_keys)?;
                    if self.format == Format::Jsonl {
                        self.out.write_all(b"\n")?;
                    }
                }
                Format::Csv | Format::Table => {
                    for (i, column) in self.columns.iter().enumerate() {
                        if i > 0 {
                            self.out.write_all(b",")?;
                        }
                        if let Some(value) = map.get(column) {
                            write_csv_field(&mut self.out, &cell(value))?;
                        }
                    }
                    self.out.write_all(b"\n")?;
                }
            }
            self.rows_written += 1;
        }
        self.flush()
    }

    /// Writes one row into the writer's buffer.
    pub fn write_row(&mut self, row: &Value) -> std::io::Result<()> {
        if self.rows_written == 0 {
            self.choose_columns(row);
            self.start()?;
        }
        match self.format {
            Format::Json => {
                let sep = if self.rows_written == 0 { "" } else { ",\n" };
                write!(self.out, "{sep}  ")?;
                serde_json::to_writer(&mut self.out, &WithoutAnnotations(row))?;
            }
            Format::Jsonl => {
                serde_json::to_writer(&mut self.out, &WithoutAnnotations(row))?;
                self.out.write_all(b"\n")?;
            }
            Format::Csv => {
                let line: Vec<String> = self
                    .columns
                    .iter()
                    .map(|c| csv_field(&value_cell(&row[c.as_str()])).into_owned())
                    .collect();
                writeln!(self.out, "{}", line.join(","))?;
            }
            Format::Table => {
                let line: Vec<String> = self
                    .columns
                    .iter()
                    .map(|c| format!("{:<30}", truncate(&value_cell(&row[c.as_str()]), 30)))
                    .collect();
                writeln!(self.out, "{}", line.join(" ").trim_end())?;
            }
        }
        self.rows_written += 1;
        Ok(())
    }

    /// Sends on what is buffered.
    pub fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }

    fn start(&mut self) -> std::io::Result<()> {
        match self.format {
            Format::Json => writeln!(self.out, "["),
            Format::Jsonl => Ok(()),
            Format::Csv => writeln!(
                self.out,
                "{}",
                self.columns
                    .iter()
                    .map(|c| csv_field(c))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            Format::Table => {
                let header: Vec<String> = self.columns.iter().map(|c| format!("{c:<30}")).collect();
                writeln!(self.out, "{}", header.join(" ").trim_end())?;
                let rule: Vec<String> = self
                    .columns
                    .iter()
                    .map(|c| format!("{:<30}", "-".repeat(c.len())))
                    .collect();
                writeln!(self.out, "{}", rule.join(" ").trim_end())
            }
        }
    }

    /// Closes the output and gives back the writer (a buffer the rows were written into).
    pub fn finish_into(mut self) -> std::io::Result<W> {
        self.close()?;
        Ok(self.out)
    }

    /// Closes the output (the JSON array) and returns how many rows were written.
    pub fn finish(mut self) -> std::io::Result<usize> {
        self.close()?;
        Ok(self.rows_written)
    }

    fn close(&mut self) -> std::io::Result<()> {
        if self.format == Format::Json {
            if self.rows_written == 0 {
                writeln!(self.out, "[]")?;
            } else {
                writeln!(self.out, "\n]")?;
            }
        }
        self.out.flush()
    }
}

fn truncate(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        text.to_string()
    } else {
        let mut cut: String = text.chars().take(width - 1).collect();
        cut.push('…');
        cut
    }
}

/// One CSV field: quoted (quotes doubled) when it holds a comma, a quote or a line break.
fn csv_field(text: &str) -> Cow<'_, str> {
    if text.contains([',', '"', '\r', '\n']) {
        Cow::Owned(format!("\"{}\"", text.replace('"', "\"\"")))
    } else {
        Cow::Borrowed(text)
    }
}

fn write_csv_field(out: &mut impl Write, text: &str) -> std::io::Result<()> {
    out.write_all(csv_field(text).as_bytes())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn render(format: Format, rows: &[Value]) -> String {
        let mut buf = Vec::new();
        let mut sink = RowSink::new(&mut buf, format, Vec::new());
        for row in rows {
            sink.write_row(row).unwrap();
        }
        sink.finish().unwrap();
        String::from_utf8(buf).unwrap()
    }

    fn render_raw(format: Format, rows: &[Value]) -> String {
        let raw: Vec<RawRow> = rows
            .iter()
            .map(|r| RawRow::from_json(&r.to_string()).unwrap())
            .collect();
        let mut buf = Vec::new();
        let mut sink = RowSink::new(&mut buf, format, Vec::new());
        sink.write_raw_rows(&raw).unwrap();
        sink.finish().unwrap();
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn rows_passed_through_are_written_byte_for_byte_as_parsed_rows() {
        let rows = [
            json!({"Name": "Ann, \"A\"", "Guid@odata.type": "#Guid", "Guid": "g", "Size": 12, "EmailAddresses": ["SMTP:a@x", "smtp:b@x"], "Note": "two\nlines", "Gone": null}),
            json!({"Name": "Bob", "Guid": "h", "Size": 1.5, "Extra": {"k@odata.type": "#T", "k": [1, 2]}}),
            json!({"Guid": "i", "Name": "Cé"}),
        ];
        for format in [Format::Json, Format::Jsonl, Format::Csv, Format::Table] {
            assert_eq!(
                render_raw(format, &rows),
                render(format, &rows),
                "{format:?}"
            );
            assert_eq!(render_raw(format, &[]), render(format, &[]), "{format:?}");
        }
        let csv = render(Format::Csv, &rows);
        let mut reader = csv::Reader::from_reader(csv.as_bytes());
        let headers = reader.headers().unwrap().clone();
        let note = headers.iter().position(|h| h == "Note").unwrap();
        let first = reader.records().next().unwrap().unwrap();
        assert_eq!(
            &first[note], "two\nlines",
            "a line break stays inside its quoted field: {csv}"
        );
    }

    #[test]
    fn formats_drop_annotations_and_quote_csv() {
        let rows = [
            json!({"Name": "Ann, \"A\"", "Guid@odata.type": "#Guid", "Guid": "g", "EmailAddresses": ["SMTP:a@x", "smtp:b@x"]}),
        ];
        let json_out: Value = serde_json::from_str(&render(Format::Json, &rows)).unwrap();
        assert!(json_out[0].get("Guid@odata.type").is_none());
        let csv = render(Format::Csv, &rows);
        assert!(
            csv.starts_with("Name,Guid,EmailAddresses\n"),
            "columns in the order the service sent them: {csv}"
        );
        assert!(
            csv.contains("\"Ann, \"\"A\"\"\",g,SMTP:a@x;smtp:b@x"),
            "{csv}"
        );
        let table = render(Format::Table, &rows);
        assert!(table.starts_with("Name"), "{table}");
        let header = table.lines().next().unwrap();
        assert!(
            header.contains("EmailAddresses") && header.contains("Guid"),
            "short records fill up the columns: {header}"
        );
        assert_eq!(render(Format::Json, &[]), "[]\n");
        assert_eq!(count(1, "page", "pages"), "1 page");
        assert_eq!(count(100_000, "row", "rows"), "100,000 rows");
        assert_eq!(count(1_234_567, "row", "rows"), "1,234,567 rows");
        assert_eq!(count(0, "row", "rows"), "0 rows");
        assert_eq!(
            unknown_property(
                "userprincipalnam",
                &["Name", "UserPrincipalName", "Guid@odata.type"]
            ),
            "exorun: warning: --property userprincipalnam: the results have no such property; did you mean UserPrincipalName? (its column stays empty)"
        );
        assert!(
            unknown_property("Nope", &["Name", "Guid@odata.type", "Guid"])
                .ends_with("they have: Name, Guid")
        );
        assert_eq!(render(Format::Jsonl, &rows).lines().count(), 1);
    }
}
