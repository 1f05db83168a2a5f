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

use serde_json::Value;

/// One top-level property: its name, its value's text, and whether that text is already in
/// the form `serde_json` prints.
struct Entry<'a> {
    key: Cow<'a, str>,
    value: &'a str,
    canonical: bool,
}

/// A row's top-level properties in the order the service sent them.
pub struct RawMap<'a> {
    entries: Vec<Entry<'a>>,
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
                .zip(&map.entries)
                .all(|(known, entry)| **known == *entry.key);
        if same {
            return true;
        }
        let unique = map.entries.iter().enumerate().all(|(i, entry)| {
            map.entries[..i]
                .iter()
                .all(|earlier| earlier.key != entry.key)
        });
        if unique {
            self.0 = map.entries.iter().map(|e| e.key.as_ref().into()).collect();
        }
        unique
    }
}

impl<'a> RawMap<'a> {
    /// Reads the top level of one row's text (valid JSON, as the page parse checked); `None` if
    /// the row is not a JSON object.
    pub fn parse(text: &'a str) -> Option<RawMap<'a>> {
        let b = text.as_bytes();
        let mut i = skip_space(b, 0);
        if b.get(i) != Some(&b'{') {
            return None;
        }
        i = skip_space(b, i + 1);
        let mut entries = Vec::with_capacity(64);
        if b.get(i) == Some(&b'}') {
            return Some(RawMap { entries });
        }
        loop {
            if b.get(i) != Some(&b'"') {
                return None;
            }
            let (end, escapes) = string_end(b, i)?;
            let key = match escapes {
                Escapes::None => Cow::Borrowed(&text[i + 1..end - 1]),
                _ => Cow::Owned(serde_json::from_str::<String>(&text[i..end]).ok()?),
            };
            i = skip_space(b, end);
            if b.get(i) != Some(&b':') {
                return None;
            }
            let start = skip_space(b, i + 1);
            let (end, canonical) = value_end(b, start)?;
            entries.push(Entry {
                key,
                value: &text[start..end],
                canonical,
            });
            i = skip_space(b, end);
            match b.get(i) {
                Some(b',') => i = skip_space(b, i + 1),
                Some(b'}') => return Some(RawMap { entries }),
                _ => return None,
            }
        }
    }

    /// The property names, annotations included.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|e| e.key.as_ref())
    }

    /// A property's value as JSON text.
    pub fn get(&self, key: &str) -> Option<&'a str> {
        self.entries.iter().find(|e| e.key == key).map(|e| e.value)
    }

    /// Writes the row as one compact JSON object with only the properties `keep` accepts.
    pub fn write_json(
        &self,
        out: &mut impl Write,
        row: &str,
        keep: impl Fn(&str) -> bool + Copy,
        known: &mut KnownKeys,
    ) -> io::Result<()> {
        let passes =
            self.entries.iter().all(|e| e.canonical || !keep(&e.key)) && known.unique(self);
        if !passes {
            let value: Value = serde_json::from_str(row)?;
            let kept: serde_json::Map<String, Value> = match value {
                Value::Object(map) => map.into_iter().filter(|(k, _)| keep(k)).collect(),
                _ => serde_json::Map::new(),
            };
            return serde_json::to_writer(out, &kept).map_err(io::Error::from);
        }
        out.write_all(b"{")?;
        let mut first = true;
        for entry in self.entries.iter().filter(|e| keep(&e.key)) {
            if !first {
                out.write_all(b",")?;
            }
            first = false;
            match &entry.key {
                // Borrowed: the text had no escapes, so it prints as it is.
                Cow::Borrowed(key) => {
                    out.write_all(b"\"")?;
                    out.write_all(key.as_bytes())?;
                    out.write_all(b"\"")?;
                }
                Cow::Owned(key) => serde_json::to_writer(&mut *out, key)?,
            }
            out.write_all(b":")?;
            out.write_all(entry.value.as_bytes())?;
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

/// The end (just past the closing quote) of the string opening at `start`, and its escapes.
fn string_end(b: &[u8], start: usize) -> Option<(usize, Escapes)> {
    let mut escapes = Escapes::None;
    let mut i = start + 1;
    loop {
        i += memchr::memchr2(b'"', b'\\', b.get(i..)?)?;
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
        let map = RawMap::parse(text).unwrap();
        let mut out = Vec::new();
        map.write_json(
            &mut out,
            text,
            |k| !k.contains('@'),
            &mut KnownKeys::default(),
        )
        .unwrap();
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
            r##"{"A":"}{][,:","B":[{"c":"\"}"}],"C":{"d":[1,[2,{"e":null}]]},"T":true,"F":false}"##,
            r##" { "A" : 1 , "B":"x"} "##,
        ] {
            assert_eq!(passed(text), through_value(text), "{text}");
        }
    }

    #[test]
    fn a_repeated_name_is_caught_after_rows_without_one() {
        let mut known = KnownKeys::default();
        let mut out = Vec::new();
        for text in [r#"{"A":1,"B":2}"#, r#"{"A":1,"B":2}"#, r#"{"A":1,"A":2}"#] {
            let map = RawMap::parse(text).unwrap();
            map.write_json(&mut out, text, |_| true, &mut known)
                .unwrap();
            out.push(b'\n');
        }
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\"A\":1,\"B\":2}\n{\"A\":1,\"B\":2}\n{\"A\":2}\n"
        );
    }

    #[test]
    fn cells_read_strings_in_place() {
        let map =
            RawMap::parse(r#"{"A":"plain","B":"esc\"aped","C":["x","y"],"D":null,"E":7}"#).unwrap();
        let cells: Vec<String> = ["A", "B", "C", "D", "E"]
            .iter()
            .map(|k| cell(map.get(k).unwrap()).into_owned())
            .collect();
        assert_eq!(cells, ["plain", "esc\"aped", "x;y", "", "7"]);
        assert!(matches!(cell(map.get("A").unwrap()), Cow::Borrowed(_)));
    }
}
