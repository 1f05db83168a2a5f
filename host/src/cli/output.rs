//! Writing result rows as a table, JSON, JSON Lines or CSV, streamed page by page. OData
//! annotations (`X@odata.type`, `X@data.type`) are left out: they describe the wire, not the data.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use clap::ValueEnum;
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};

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

/// Columns that repeat another one already shown (Identity is Name; the UPN is the address).
fn repeats(column: &str, map: &Map<String, Value>) -> bool {
    (column == "Identity" && map.contains_key("Name"))
        || (column == "PrimarySmtpAddress" && map.contains_key("UserPrincipalName"))
}

fn is_annotation(key: &str) -> bool {
    key.contains('@')
}

/// A cell's text: strings as they are, lists joined with `;`, null empty.
fn cell(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(cell).collect::<Vec<_>>().join(";"),
        other => other.to_string(),
    }
}

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

/// A progress spinner on stderr when it is a terminal (none when output is piped or logged).
pub fn spinner() -> Option<ProgressBar> {
    std::io::stderr().is_terminal().then(|| {
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg} [{elapsed}]")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    })
}

/// Streams rows to a writer in one format.
pub struct RowSink<W: Write> {
    out: W,
    format: Format,
    columns: Vec<String>,
    rows_written: usize,
}

impl<W: Write> RowSink<W> {
    /// A sink; `columns` fixes the table/CSV columns (empty: chosen from the first row).
    pub fn new(out: W, format: Format, columns: Vec<String>) -> RowSink<W> {
        RowSink {
            out,
            format,
            columns,
            rows_written: 0,
        }
    }

    fn choose_columns(&mut self, first: &Value) {
        if !self.columns.is_empty() {
            return;
        }
        let Some(map) = first.as_object() else { return };
        self.columns = match self.format {
            Format::Table => {
                let mut chosen: Vec<String> = PREFERRED
                    .iter()
                    .filter(|c| map.contains_key(**c) && !repeats(c, map))
                    .take(4)
                    .map(|c| c.to_string())
                    .collect();
                // Fill up to four columns with the record's other properties.
                let rest: Vec<String> = map
                    .keys()
                    .filter(|k| !is_annotation(k) && !chosen.contains(k) && !repeats(k, map))
                    .take(4usize.saturating_sub(chosen.len()))
                    .cloned()
                    .collect();
                chosen.extend(rest);
                chosen
            }
            _ => map.keys().filter(|k| !is_annotation(k)).cloned().collect(),
        };
    }

    /// Writes one page of rows and sends them on (a pipe sees each page as it comes).
    pub fn write_rows(&mut self, rows: &[Value]) -> std::io::Result<()> {
        for row in rows {
            self.write_row(row)?;
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
                    .map(|c| csv_field(&cell(&row[c.as_str()])))
                    .collect();
                writeln!(self.out, "{}", line.join(","))?;
            }
            Format::Table => {
                let line: Vec<String> = self
                    .columns
                    .iter()
                    .map(|c| format!("{:<30}", truncate(&cell(&row[c.as_str()]), 30)))
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

    /// Closes the output (the JSON array) and returns how many rows were written.
    pub fn finish(mut self) -> std::io::Result<usize> {
        if self.format == Format::Json {
            if self.rows_written == 0 {
                writeln!(self.out, "[]")?;
            } else {
                writeln!(self.out, "\n]")?;
            }
        }
        self.out.flush()?;
        Ok(self.rows_written)
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

fn csv_field(text: &str) -> String {
    if text.is_empty() {
        return String::new();
    }
    let mut writer = csv::WriterBuilder::new()
        .has_headers(false)
        .terminator(csv::Terminator::Any(b'\0'))
        .from_writer(Vec::new());
    if writer.write_record([text]).is_err() {
        return String::new();
    }
    let bytes = writer.into_inner().unwrap_or_default();
    String::from_utf8_lossy(&bytes)
        .trim_end_matches('\0')
        .to_string()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn render(format: Format, rows: &[Value]) -> String {
        let mut buf = Vec::new();
        let mut sink = RowSink::new(&mut buf, format, Vec::new());
        sink.write_rows(rows).unwrap();
        sink.finish().unwrap();
        String::from_utf8(buf).unwrap()
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
        assert_eq!(render(Format::Jsonl, &rows).lines().count(), 1);
    }
}
