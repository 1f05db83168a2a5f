//! A CSV file as people have it, read into rows: what HR or a ticket hands an admin, saved by
//! Excel or by Windows PowerShell 5.1's `Export-Csv`, `Out-File` or `>`.
//!
//! - Encodings: UTF-8 with or without a byte-order mark, and UTF-16 (little or big endian) with
//!   one, as Windows PowerShell 5.1 writes with `-Encoding Unicode`, `Out-File` and `>`. Bytes
//!   that are not valid in the file's encoding (Excel's plain "CSV" save is Windows-1252) are an
//!   error that names the line and says how to save the file as UTF-8: guessing would turn
//!   `Zoë` into `ZoÃ«` in a name sent to Exchange.
//! - Preambles: the `#TYPE System.Management.Automation.PSCustomObject` first line 5.1's
//!   `Export-Csv` writes is skipped; Excel's `sep=;` first line sets the delimiter. Without it,
//!   a header with `;` and no `,` is read with `;` (Excel in locales whose decimal mark is `,`).
//! - A header row names the columns: each once (in any case, as PowerShell's properties are) and
//!   none empty. Every row has as many fields as the header: a ragged row is an error naming its
//!   line, not a row quietly shifted. Quoted fields hold delimiters, quotes (doubled) and line
//!   breaks. Empty lines (trailing ones among them) are skipped, as `Import-Csv` skips them.
//! - Every value is text, as `Import-Csv` gives it. Duplicate rows stay: each row is one item.
//!
//! The file's SHA-256 is kept, so a run can pin the file it started with.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::digest::sha256_hex;

/// A CSV file read into rows.
#[derive(Clone, Debug, PartialEq)]
pub struct CsvFile {
    /// The columns, in the header's order and spelling.
    pub columns: Vec<String>,
    /// One object per row, keyed by column, in the header's order.
    pub rows: Vec<Map<String, Value>>,
    /// The SHA-256 of the file's bytes (lowercase hex).
    pub sha256: String,
    /// How its bytes were read.
    pub encoding: &'static str,
}

/// Why a CSV file cannot be read; each names the file, and the line where there is one.
#[derive(Debug, thiserror::Error)]
pub enum CsvError {
    /// The file cannot be read at all.
    #[error("cannot read the CSV file {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Bytes that are not valid in the file's encoding.
    #[error(
        "{}:{line}: the file is not {encoding} text from this line on: {looks_like}\n  fix: {fix}",
        path.display()
    )]
    Encoding {
        /// The file.
        path: PathBuf,
        /// The line of the first bad byte (1-based).
        line: usize,
        /// The encoding its start says it is.
        encoding: &'static str,
        /// What the bytes look like instead.
        looks_like: &'static str,
        /// How to save it so it reads.
        fix: &'static str,
    },
    /// No header row: the file is empty or holds only a preamble and empty lines.
    #[error("{}: the file has no header row naming its columns\n  fix: put the column names on the first line (UserPrincipalName,Message,…)", path.display())]
    NoHeader {
        /// The file.
        path: PathBuf,
    },
    /// A header column named twice (in any case).
    #[error("{}:{line}: column {column} is named '{name}' like column {first}: each column needs its own name\n  fix: rename one of them in the header", path.display())]
    DuplicateColumn {
        /// The file.
        path: PathBuf,
        /// The header's line.
        line: u64,
        /// The column (1-based).
        column: usize,
        /// Its name.
        name: String,
        /// The column that had the name first (1-based).
        first: usize,
    },
    /// A header column without a name.
    #[error("{}:{line}: column {column} of the header has no name\n  fix: name it, or remove the column (a trailing delimiter on the header line makes one)", path.display())]
    UnnamedColumn {
        /// The file.
        path: PathBuf,
        /// The header's line.
        line: u64,
        /// The column (1-based).
        column: usize,
    },
    /// A row with more or fewer fields than the header.
    #[error("{}:{line}: this row has {found} field(s) and the header {expected}: {hint}\n  fix: quote a value that holds a '{delimiter}' (\"Smith, Ann\"), or add the missing fields", path.display())]
    Ragged {
        /// The file.
        path: PathBuf,
        /// The row's first line.
        line: u64,
        /// The header's number of columns.
        expected: usize,
        /// The row's.
        found: usize,
        /// Which column is extra or missing.
        hint: String,
        /// The delimiter the file is read with.
        delimiter: char,
    },
    /// Not CSV as the reader understands it (an unclosed quote at the end, say).
    #[error("{}:{line}: {reason}", path.display())]
    Syntax {
        /// The file.
        path: PathBuf,
        /// Where.
        line: u64,
        /// What is wrong.
        reason: String,
    },
}

/// The `#TYPE` line 5.1's `Export-Csv` writes first unless told `-NoTypeInformation`.
const TYPE_LINE: &str = "#TYPE ";

/// Reads the CSV file at `path`.
pub fn read(path: &Path) -> Result<CsvFile, CsvError> {
    let bytes = std::fs::read(path).map_err(|source| CsvError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse(&bytes, path)
}

/// Reads CSV `bytes`; `path` names the file in errors.
pub fn parse(bytes: &[u8], path: &Path) -> Result<CsvFile, CsvError> {
    let (text, encoding) = decode(bytes, path)?;
    let (body, delimiter, skipped) = preamble(&text);
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(body.as_bytes());
    let line_of =
        |record: &csv::StringRecord| record.position().map_or(0, |p| p.line()) + skipped as u64;
    let mut columns: Option<(Vec<String>, u64)> = None;
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| syntax(path, &e, skipped))?;
        if record.iter().all(str::is_empty) && record.len() <= 1 {
            continue;
        }
        let line = line_of(&record);
        let Some((names, _)) = &columns else {
            columns = Some((header(&record, line, path)?, line));
            continue;
        };
        if record.len() != names.len() {
            return Err(ragged(path, line, names, &record, delimiter));
        }
        rows.push(
            names
                .iter()
                .zip(record.iter())
                .map(|(name, value)| (name.clone(), Value::String(value.to_string())))
                .collect(),
        );
    }
    let Some((columns, _)) = columns else {
        return Err(CsvError::NoHeader {
            path: path.to_path_buf(),
        });
    };
    Ok(CsvFile {
        columns,
        rows,
        sha256: sha256_hex(bytes),
        encoding,
    })
}

/// The file's text and the name of its encoding, from its byte-order mark (UTF-8 without
/// one).
fn decode(bytes: &[u8], path: &Path) -> Result<(String, &'static str), CsvError> {
    let (encoding, name, bom) = if bytes.starts_with(&[0xFF, 0xFE]) {
        (encoding_rs::UTF_16LE, "UTF-16 LE", 2)
    } else if bytes.starts_with(&[0xFE, 0xFF]) {
        (encoding_rs::UTF_16BE, "UTF-16 BE", 2)
    } else if bytes.starts_with(&[0xEF, 0xBB, 0xBF]) {
        (encoding_rs::UTF_8, "UTF-8 with a byte-order mark", 3)
    } else {
        (encoding_rs::UTF_8, "UTF-8", 0)
    };
    let body = &bytes[bom..];
    if let Some(text) = encoding.decode_without_bom_handling_and_without_replacement(body) {
        return Ok((text.into_owned(), name));
    }
    let (lossy, _) = encoding.decode_without_bom_handling(body);
    let bad = lossy.find('\u{FFFD}').unwrap_or(lossy.len());
    let line = lossy[..bad].matches('\n').count() + 1;
    let (looks_like, fix) = if bom == 0 && body.contains(&0) {
        (
            "it has NUL bytes, as UTF-16 without a byte-order mark or a binary file has",
            "save it as CSV UTF-8: in Excel, File > Save As > \"CSV UTF-8 (Comma delimited)\"; in PowerShell, Export-Csv -Encoding UTF8",
        )
    } else if encoding == encoding_rs::UTF_8 {
        (
            "it looks like Windows-1252, which Excel's plain \"CSV (Comma delimited)\" save writes",
            "save it as CSV UTF-8: in Excel, File > Save As > \"CSV UTF-8 (Comma delimited)\"; in PowerShell, Import-Csv FILE | Export-Csv -Encoding UTF8 -NoTypeInformation NEWFILE; on Linux, iconv -f WINDOWS-1252 -t UTF-8 FILE > NEWFILE",
        )
    } else {
        (
            "it has a byte sequence UTF-16 cannot hold (a file cut short or joined from two files)",
            "save it again from the program that made it, as CSV UTF-8",
        )
    };
    Err(CsvError::Encoding {
        path: path.to_path_buf(),
        line,
        encoding: name,
        looks_like,
        fix,
    })
}

/// The text after a `#TYPE` or `sep=` first line, the delimiter, and how many lines were
/// skipped.
fn preamble(text: &str) -> (&str, u8, usize) {
    let (first, rest) = text.split_once('\n').unwrap_or((text, ""));
    let first = first.strip_suffix('\r').unwrap_or(first);
    if first.starts_with(TYPE_LINE) {
        return (rest, sniff(rest), 1);
    }
    if let Some(sep) = first.strip_prefix("sep=")
        && let [delimiter] = sep.as_bytes()
    {
        return (rest, *delimiter, 1);
    }
    (text, sniff(text), 0)
}

/// `;` when the header line has `;` and no `,` (Excel in a locale whose decimal mark is a
/// comma), else `,`.
fn sniff(text: &str) -> u8 {
    let header = text
        .lines()
        .find(|line| !line.trim().is_empty())
        .unwrap_or("");
    if header.contains(';') && !header.contains(',') {
        b';'
    } else {
        b','
    }
}

/// The header's column names, checked: each named, each once in any case.
fn header(record: &csv::StringRecord, line: u64, path: &Path) -> Result<Vec<String>, CsvError> {
    let mut names: Vec<String> = Vec::with_capacity(record.len());
    for (index, name) in record.iter().enumerate() {
        let name = name.trim();
        if name.is_empty() {
            return Err(CsvError::UnnamedColumn {
                path: path.to_path_buf(),
                line,
                column: index + 1,
            });
        }
        if let Some(first) = names.iter().position(|n| n.eq_ignore_ascii_case(name)) {
            return Err(CsvError::DuplicateColumn {
                path: path.to_path_buf(),
                line,
                column: index + 1,
                name: name.to_string(),
                first: first + 1,
            });
        }
        names.push(name.to_string());
    }
    Ok(names)
}

/// The error of a row with the wrong number of fields.
fn ragged(
    path: &Path,
    line: u64,
    names: &[String],
    record: &csv::StringRecord,
    delimiter: u8,
) -> CsvError {
    let hint = if record.len() > names.len() {
        format!(
            "field {} ('{}') has no column",
            names.len() + 1,
            record.get(names.len()).unwrap_or_default()
        )
    } else {
        format!("it has no field for column '{}'", names[record.len()])
    };
    CsvError::Ragged {
        path: path.to_path_buf(),
        line,
        expected: names.len(),
        found: record.len(),
        hint,
        delimiter: char::from(delimiter),
    }
}

/// A reader error as a [`CsvError::Syntax`] at its line.
fn syntax(path: &Path, error: &csv::Error, skipped: usize) -> CsvError {
    let line = error.position().map_or(0, |p| p.line()) + skipped as u64;
    CsvError::Syntax {
        path: path.to_path_buf(),
        line,
        reason: error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(bytes: &[u8]) -> Result<CsvFile, CsvError> {
        parse(bytes, Path::new("leavers.csv"))
    }

    fn utf16le(text: &str) -> Vec<u8> {
        std::iter::once(0xFEFFu16)
            .chain(text.encode_utf16())
            .flat_map(u16::to_le_bytes)
            .collect()
    }

    fn rows(file: &CsvFile) -> Vec<Vec<(&str, &str)>> {
        file.rows
            .iter()
            .map(|row| {
                row.iter()
                    .map(|(k, v)| (k.as_str(), v.as_str().unwrap()))
                    .collect()
            })
            .collect()
    }

    /// The same two rows as Excel, PowerShell 5.1 and a Linux editor save them.
    #[test]
    fn the_ways_people_save_a_csv_read_to_the_same_rows() {
        let want = vec![
            vec![
                ("UserPrincipalName", "zoë@contoso.com"),
                ("Message", "Away, back Monday"),
            ],
            vec![
                ("UserPrincipalName", "ann@contoso.com"),
                ("Message", "Line one\nline \"two\""),
            ],
        ];
        let plain = "UserPrincipalName,Message\nzoë@contoso.com,\"Away, back Monday\"\nann@contoso.com,\"Line one\nline \"\"two\"\"\"\n";
        let export_csv = "#TYPE System.Management.Automation.PSCustomObject\r\n\"UserPrincipalName\",\"Message\"\r\n\"zoë@contoso.com\",\"Away, back Monday\"\r\n\"ann@contoso.com\",\"Line one\nline \"\"two\"\"\"\r\n";
        let excel_semicolon = "sep=;\r\nUserPrincipalName;Message\r\nzoë@contoso.com;Away, back Monday\r\nann@contoso.com;\"Line one\nline \"\"two\"\"\"\r\n\r\n\r\n";
        let sniffed = "UserPrincipalName;Message\nzoë@contoso.com;Away, back Monday\nann@contoso.com;\"Line one\nline \"\"two\"\"\"\n";
        let mut bom = b"\xef\xbb\xbf".to_vec();
        bom.extend(plain.as_bytes());
        for (name, bytes, encoding) in [
            ("UTF-8", plain.as_bytes().to_vec(), "UTF-8"),
            ("UTF-8 with BOM", bom, "UTF-8 with a byte-order mark"),
            (
                "Export-Csv -Encoding Unicode",
                utf16le(export_csv),
                "UTF-16 LE",
            ),
            ("Excel sep=;", excel_semicolon.as_bytes().to_vec(), "UTF-8"),
            ("a ; file", sniffed.as_bytes().to_vec(), "UTF-8"),
        ] {
            let file = read(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(rows(&file), want, "{name}");
            assert_eq!(file.columns, ["UserPrincipalName", "Message"], "{name}");
            assert_eq!(file.encoding, encoding, "{name}");
            assert_eq!(file.sha256, sha256_hex(&bytes), "{name}");
        }
    }

    #[test]
    fn windows_1252_is_refused_at_its_line_with_the_fix() {
        let e = read(b"Name,City\nann,Oslo\nren\xe9,Paris\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("leavers.csv:3: the file is not UTF-8 text from this line on: it looks like Windows-1252"),
            "{e}"
        );
        assert!(e.contains("CSV UTF-8 (Comma delimited)"), "{e}");
        let e = read(&[b'N', 0, b'a', 0, b'm', 0, b'e', 0, 0xff])
            .unwrap_err()
            .to_string();
        assert!(e.contains("NUL bytes"), "{e}");
    }

    #[test]
    fn a_bad_header_or_row_is_named_with_its_line() {
        let e = read(b"#TYPE x\nName,name\nann,ann\n")
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "leavers.csv:2: column 2 is named 'name' like column 1: each column needs its own name\n  fix: rename one of them in the header"
        );
        let e = read(b"Name,,City\n").unwrap_err().to_string();
        assert!(
            e.starts_with("leavers.csv:1: column 2 of the header has no name"),
            "{e}"
        );
        let e = read(b"Name,City\nann,Oslo\nSmith, Ann,Paris\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("leavers.csv:3: this row has 3 field(s) and the header 2: field 3 ('Paris') has no column"),
            "{e}"
        );
        assert!(e.contains("(\"Smith, Ann\")"), "{e}");
        let e = read(b"Name,City\n\"multi\nline\",Oslo\nbob\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("leavers.csv:4: this row has 1 field(s) and the header 2: it has no field for column 'City'"),
            "{e}"
        );
        let e = read(b"\n\n").unwrap_err().to_string();
        assert!(
            e.starts_with("leavers.csv: the file has no header row"),
            "{e}"
        );
    }

    #[test]
    fn duplicate_rows_are_items_each_and_a_header_alone_is_no_rows() {
        let file = read(b"Name\nann\nann\n").unwrap();
        assert_eq!(file.rows.len(), 2);
        assert!(read(b"Name\r\n").unwrap().rows.is_empty());
    }
}
