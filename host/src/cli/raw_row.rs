//! A result row read in place from the service's JSON text: its top-level properties as
//! borrowed keys and raw values, found in one pass over the text, so JSON, JSON Lines and CSV
//! output can pass rows through without building a `Value` for each (the page text is already in
//! memory; parsing and printing every row again was most of `invoke`'s CPU time).
//!
//! Pass-through writes exactly what printing the parsed row would write. Where the service's
//! text is not already in that form (whitespace, `\u` escapes, fractions or exponents, a
//! repeated key), the row is parsed and printed instead.

use std::borrow::Cow;
use std::io::{self, Write};
use std::ops::Range;

use serde_json::Value;

/// True for an OData annotation's name (`Guid@odata.type`, `@odata.id`): it describes the wire,
/// not the data, and is left out of every output.
pub fn is_annotation(name: &str) -> bool {
    // Names are short: a plain loop beats a vectorised search's set-up.
    name.bytes().any(|b| b == b'@')
}

/// One top-level property's place in its row's text.
struct Entry {
    /// The name's text between its quotes.
    name: Range<usize>,
    /// The value's text.
    value: Range<usize>,
    /// The name's text holds escapes (read it decoded).
    escaped_name: bool,
    /// Name and value are already in the form `serde_json` prints.
    canonical: bool,
    annotation: bool,
}

impl Entry {
    /// `"name":value`, from the name's opening quote to the value's end.
    fn whole(&self) -> Range<usize> {
        self.name.start - 1..self.value.end
    }
}

/// Reads the top level of rows, keeping its buffer from row to row (rows of one listing have
/// the same properties).
#[derive(Default)]
pub struct RowReader {
    entries: Vec<Entry>,
}

/// A row's top-level properties in the order the service sent them.
pub struct RawMap<'a> {
    text: &'a str,
    entries: &'a [Entry],
    /// No whitespace between the top level's tokens.
    compact: bool,
}

/// The property names of the last row found to have no repeated name: rows of one listing
/// share them, so each later row is checked against it in one comparison per name.
#[derive(Default)]
pub struct KnownKeys(Vec<Box<str>>);

impl KnownKeys {
    /// True if no name repeats in `map`.
    fn unique(&mut self, map: &RawMap<'_>) -> bool {
        let same = self.0.len() == map.entries.len()
            && self
                .0
                .iter()
                .zip(map.entries)
                .all(|(known, entry)| **known == *map.name(entry));
        if same {
            return true;
        }
        let names: Vec<Cow<'_, str>> = map.entries.iter().map(|e| map.name(e)).collect();
        let unique = names
            .iter()
            .enumerate()
            .all(|(i, name)| !names[..i].contains(name));
        if unique {
            self.0 = names.iter().map(|name| name.as_ref().into()).collect();
        }
        unique
    }
}

impl RowReader {
    /// Reads the top level of one row's text (valid JSON, as the page parse checked); `None` if
    /// the row is not a JSON object.
    pub fn read<'a>(&'a mut self, text: &'a str) -> Option<RawMap<'a>> {
        self.entries.clear();
        let b = text.as_bytes();
        let mut i = skip_space(b, 0);
        if b.get(i) != Some(&b'{') {
            return None;
        }
        let mut compact = true;
        let mut next = |i: usize| {
            let after = skip_space(b, i);
            compact &= after == i;
            after
        };
        i = next(i + 1);
        if b.get(i) != Some(&b'}') {
            loop {
                if b.get(i) != Some(&b'"') {
                    return None;
                }
                let (end, escapes) = string_end(b, i)?;
                let name = i + 1..end - 1;
                i = next(end);
                if b.get(i) != Some(&b':') {
                    return None;
                }
                let start = next(i + 1);
                let (end, canonical) = value_end(b, start)?;
                self.entries.push(Entry {
                    annotation: is_annotation(&text[name.clone()]),
                    name,
                    value: start..end,
                    escaped_name: escapes != Escapes::None,
                    canonical: canonical && escapes != Escapes::Other,
                });
                i = next(end);
                match b.get(i) {
                    Some(b',') => i = next(i + 1),
                    Some(b'}') => break,
                    _ => return None,
                }
            }
        }
        Some(RawMap {
            text,
            entries: &self.entries,
            compact,
        })
    }
}

impl<'a> RawMap<'a> {
    fn name(&self, entry: &Entry) -> Cow<'a, str> {
        let text = self.text;
        if entry.escaped_name {
            let quoted = &text[entry.name.start - 1..entry.name.end + 1];
            if let Ok(name) = serde_json::from_str::<String>(quoted) {
                return Cow::Owned(name);
            }
        }
        Cow::Borrowed(&text[entry.name.clone()])
    }

    /// The property names, annotations included.
    pub fn keys(&self) -> impl Iterator<Item = Cow<'a, str>> + '_ {
        self.entries.iter().map(|e| self.name(e))
    }

    /// A property's value as JSON text.
    pub fn get(&self, key: &str) -> Option<&'a str> {
        let text = self.text;
        self.entries
            .iter()
            .find(|e| self.name(e) == key)
            .map(|e| &text[e.value.clone()])
    }

    /// Writes the row as one compact JSON object without its annotations. Where the row's
    /// text is already in that form, runs of properties are copied from it as they are.
    pub fn write_json(&self, out: &mut impl Write, known: &mut KnownKeys) -> io::Result<()> {
        let passes = self.compact
            && self.entries.iter().all(|e| e.canonical || e.annotation)
            && known.unique(self);
        if !passes {
            let value: Value = serde_json::from_str(self.text)?;
            let kept: serde_json::Map<String, Value> = match value {
                Value::Object(map) => map.into_iter().filter(|(k, _)| !is_annotation(k)).collect(),
                _ => serde_json::Map::new(),
            };
            return serde_json::to_writer(out, &kept).map_err(io::Error::from);
        }
        out.write_all(b"{")?;
        let mut first = true;
        let mut entries = self.entries.iter().peekable();
        while let Some(entry) = entries.next() {
            if entry.annotation {
                continue;
            }
            let mut run = entry.whole();
            while let Some(next) = entries.next_if(|e| !e.annotation) {
                run.end = next.value.end;
            }
            if !first {
                out.write_all(b",")?;
            }
            first = false;
            out.write_all(&self.text.as_bytes()[run])?;
        }
        out.write_all(b"}")
    }
}

/// A raw value's text as a table or CSV cell: strings as they are, lists joined with `;`, null
/// empty; strings without escapes are taken from the text directly.
pub fn cell(text: &str) -> Cow<'_, str> {
    if let Some(inner) = text
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .filter(|t| !t.contains('\\'))
    {
        return Cow::Borrowed(inner);
    }
    match serde_json::from_str::<Value>(text) {
        Ok(value) => Cow::Owned(value_cell(&value)),
        Err(_) => Cow::Borrowed(text),
    }
}

/// A parsed value as a cell (see [`cell`]).
pub fn value_cell(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(value_cell).collect::<Vec<_>>().join(";"),
        other => other.to_string(),
    }
}

fn skip_space(b: &[u8], mut i: usize) -> usize {
    while b
        .get(i)
        .is_some_and(|c| matches!(c, b' ' | b'\n' | b'\r' | b'\t'))
    {
        i += 1;
    }
    i
}

/// What escapes a string holds.
#[derive(PartialEq)]
enum Escapes {
    /// None.
    None,
    /// Only those `serde_json` writes itself.
    Canonical,
    /// Others (`\u00e9`, `\/`…): printing the parsed string would write something else.
    Other,
}

/// The first `"` or `\\` at or after `from`.
fn quote_or_backslash(b: &[u8], from: usize) -> Option<usize> {
    // Most strings are short: eight bytes at a time in a register beat a vectorised search's
    // set-up, which takes over past the first few words.
    const WORDS: usize = 8;
    let rest = b.get(from..)?;
    let mut words = rest.chunks_exact(8);
    for (n, word) in words.by_ref().take(WORDS).enumerate() {
        let word = u64::from_le_bytes(word.try_into().ok()?);
        let found = zero_byte(word ^ QUOTES) | zero_byte(word ^ BACKSLASHES);
        if found != 0 {
            return Some(from + n * 8 + (found.trailing_zeros() / 8) as usize);
        }
    }
    let searched = (rest.len() / 8).min(WORDS) * 8;
    memchr::memchr2(b'"', b'\\', &rest[searched..]).map(|at| from + searched + at)
}

const QUOTES: u64 = u64::from_le_bytes([b'"'; 8]);
const BACKSLASHES: u64 = u64::from_le_bytes([b'\\'; 8]);

/// The high bit of each byte of `word` that is zero (and only of those at or below the first
/// zero byte, which is all that is read).
fn zero_byte(word: u64) -> u64 {
    const LOW: u64 = u64::from_le_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_le_bytes([0x80; 8]);
    word.wrapping_sub(LOW) & !word & HIGH
}

/// The end (just past the closing quote) of the string opening at `start`, and its escapes.
fn string_end(b: &[u8], start: usize) -> Option<(usize, Escapes)> {
    let mut escapes = Escapes::None;
    let mut i = start + 1;
    loop {
        i = quote_or_backslash(b, i)?;
        if b[i] == b'"' {
            return Some((i + 1, escapes));
        }
        let canonical = match b.get(i + 1)? {
            b'"' | b'\\' | b'n' | b'r' | b't' | b'b' | b'f' => {
                i += 2;
                true
            }
            // serde_json writes \u00XX (lowercase) only for the other control characters.
            b'u' => {
                let hex = b.get(i + 2..i + 6)?;
                i += 6;
                hex.iter()
                    .all(|h| h.is_ascii_digit() || (b'a'..=b'f').contains(h))
                    && std::str::from_utf8(hex)
                        .ok()
                        .and_then(|h| u8::from_str_radix(h, 16).ok())
                        .is_some_and(|c| {
                            c < 0x20 && !matches!(c, 0x08 | 0x0c | b'\n' | b'\r' | b'\t')
                        })
            }
            _ => {
                i += 2;
                false
            }
        };
        if !canonical {
            escapes = Escapes::Other;
        } else if escapes == Escapes::None {
            escapes = Escapes::Canonical;
        }
    }
}

/// The end of the value starting at `start`, and whether its text is exactly what
/// `serde_json` prints for it: compact, strings escaped only as it escapes them, whole numbers
/// that fit 64 bits.
fn value_end(b: &[u8], start: usize) -> Option<(usize, bool)> {
    let mut canonical = true;
    let mut depth = 0usize;
    let mut i = start;
    loop {
        match *b.get(i)? {
            b'"' => {
                let (end, escapes) = string_end(b, i)?;
                canonical &= escapes != Escapes::Other;
                i = end;
            }
            b'{' | b'[' => {
                depth += 1;
                i += 1;
            }
            b'}' | b']' => {
                depth = depth.checked_sub(1)?;
                i += 1;
            }
            b',' | b':' => i += 1,
            b' ' | b'\n' | b'\r' | b'\t' => {
                canonical = false;
                i += 1;
            }
            b'-' | b'0'..=b'9' => {
                let number = i;
                i += 1;
                while b.get(i).is_some_and(u8::is_ascii_digit) {
                    i += 1;
                }
                if matches!(b.get(i), Some(b'.' | b'e' | b'E')) {
                    canonical = false;
                    while b.get(i).is_some_and(|c| {
                        c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-')
                    }) {
                        i += 1;
                    }
                } else if i - number > 18 || &b[number..i] == b"-0" {
                    canonical = false;
                }
            }
            b't' | b'n' => i += 4,
            b'f' => i += 5,
            _ => return None,
        }
        if depth == 0 {
            return Some((i, canonical));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn through_value(text: &str) -> String {
        let value: Value = serde_json::from_str(text).unwrap();
        let kept: serde_json::Map<String, Value> = value
            .as_object()
            .unwrap()
            .iter()
            .filter(|(k, _)| !k.contains('@'))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        serde_json::to_string(&kept).unwrap()
    }

    fn passed(text: &str) -> String {
        let mut reader = RowReader::default();
        let map = reader.read(text).unwrap();
        let mut out = Vec::new();
        map.write_json(&mut out, &mut KnownKeys::default()).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn passing_through_writes_what_printing_the_value_writes() {
        for text in [
            r##"{"Name":"Ann","Guid@odata.type":"#Guid","Guid":"g","Size":12,"Neg":-3,"On":true,"Off":false,"None":null}"##,
            r##"{"List":["a","b"],"Nested":{"x@odata.type":"#T","x":[1,{"y":"z"}]},"Empty":{},"Arr":[]}"##,
            r##"{"Quote":"a\"b\\c\nd\te\r\b\f","Ctl":"\u0001","Uni":"é中"}"##,
            r##"{ "Spaced" : [ 1 , 2 ] }"##,
            r##"{"Esc":"caf\u00e9","Slash":"a\/b","Upper":"\u001F"}"##,
            r##"{"Float":1.50,"Exp":1e3,"Big":123456789012345678901,"NegZero":-0}"##,
            r##"{"K\u0065y":"v","Dup":1,"Dup":2}"##,
            r##"{}"##,
            r##"{"@odata.id":"x","A":1,"B@odata.type":"#T","B":2,"C@odata.type":"#T"}"##,
            r##"{"@odata.id":"only"}"##,
            r##"{"K\"ey":1,"Tab\tKey":"v"}"##,
            r##"{"A":"}{][,:","B":[{"c":"\"}"}],"C":{"d":[1,[2,{"e":null}]]},"T":true,"F":false}"##,
            r##" { "A" : 1 , "B":"x"} "##,
        ] {
            assert_eq!(passed(text), through_value(text), "{text}");
        }
    }

    #[test]
    fn the_word_search_finds_the_first_quote_or_backslash() {
        for len in 0..90 {
            for at in 0..=len {
                for (mark, other) in [(b'"', b'\\'), (b'\\', b'"')] {
                    let mut text = vec![b'a'; len];
                    if at < len {
                        text[at] = mark;
                        if at + 1 < len {
                            text[at + 1] = other;
                        }
                    }
                    let naive = text.iter().position(|&c| c == b'"' || c == b'\\');
                    for from in [0, at.min(3)] {
                        let expected = naive.filter(|&p| p >= from);
                        assert_eq!(
                            quote_or_backslash(&text, from),
                            expected,
                            "{len} {at} {from}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn a_repeated_name_is_caught_after_rows_without_one() {
        let mut known = KnownKeys::default();
        let mut reader = RowReader::default();
        let mut out = Vec::new();
        for text in [r#"{"A":1,"B":2}"#, r#"{"A":1,"B":2}"#, r#"{"A":1,"A":2}"#] {
            let map = reader.read(text).unwrap();
            map.write_json(&mut out, &mut known).unwrap();
            out.push(b'\n');
        }
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\"A\":1,\"B\":2}\n{\"A\":1,\"B\":2}\n{\"A\":2}\n"
        );
    }

    #[test]
    fn cells_read_strings_in_place() {
        let mut reader = RowReader::default();
        let map = reader
            .read(r#"{"A":"plain","B":"esc\"aped","C":["x","y"],"D":null,"E":7}"#)
            .unwrap();
        let cells: Vec<String> = ["A", "B", "C", "D", "E"]
            .iter()
            .map(|k| cell(map.get(k).unwrap()).into_owned())
            .collect();
        assert_eq!(cells, ["plain", "esc\"aped", "x;y", "", "7"]);
        assert!(matches!(cell(map.get("A").unwrap()), Cow::Borrowed(_)));
    }
}
