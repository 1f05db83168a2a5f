//! A result row read in place from the service's JSON text: its top-level properties as
//! borrowed keys and raw values, so JSON, JSON Lines and CSV output can pass rows through
//! without building a `Value` for each (the page text is already in memory; parsing and
//! printing every row again was most of `invoke`'s CPU time).
//!
//! Pass-through writes exactly what printing the parsed row would write. Where the service's
//! text is not already in that form (whitespace, `\u` escapes, fractions or exponents, a
//! repeated key), the row is parsed and printed instead.

use std::borrow::Cow;
use std::fmt;
use std::io::{self, Write};

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::Value;
use serde_json::value::RawValue;

/// A row's top-level properties in the order the service sent them.
pub struct RawMap<'a> {
    entries: Vec<(Cow<'a, str>, &'a RawValue)>,
}

impl<'a> RawMap<'a> {
    /// Reads the top level of one row; `None` if the row is not a JSON object.
    pub fn parse(row: &'a RawValue) -> Option<RawMap<'a>> {
        serde_json::from_str(row.get()).ok()
    }

    /// The properties, annotations included.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &'a RawValue)> {
        self.entries.iter().map(|(k, v)| (k.as_ref(), *v))
    }

    /// A property's raw value.
    pub fn get(&self, key: &str) -> Option<&'a RawValue> {
        self.entries
            .iter()
            .find(|(k, _)| k.as_ref() == key)
            .map(|(_, v)| *v)
    }

    /// True if the row can be written from its text: every key once, and every value of the
    /// properties kept already in the form `serde_json` prints.
    fn passes_through(&self, keep: impl Fn(&str) -> bool) -> bool {
        let keys_unique = self
            .entries
            .iter()
            .enumerate()
            .all(|(i, (key, _))| self.entries[..i].iter().all(|(earlier, _)| earlier != key));
        keys_unique
            && self
                .entries
                .iter()
                .filter(|(k, _)| keep(k))
                .all(|(_, v)| is_canonical(v.get().as_bytes()))
    }

    /// Writes the row as one compact JSON object with only the properties `keep` accepts.
    pub fn write_json(
        &self,
        out: &mut impl Write,
        row: &RawValue,
        keep: impl Fn(&str) -> bool + Copy,
    ) -> io::Result<()> {
        if !self.passes_through(keep) {
            let value: Value = serde_json::from_str(row.get())?;
            let kept: serde_json::Map<String, Value> = match value {
                Value::Object(map) => map.into_iter().filter(|(k, _)| keep(k)).collect(),
                _ => serde_json::Map::new(),
            };
            return serde_json::to_writer(out, &kept).map_err(io::Error::from);
        }
        out.write_all(b"{")?;
        let mut first = true;
        for (key, value) in self.entries.iter().filter(|(k, _)| keep(k)) {
            if !first {
                out.write_all(b",")?;
            }
            first = false;
            match key {
                // Borrowed: the text had no escapes, so it prints as it is.
                Cow::Borrowed(key) => {
                    out.write_all(b"\"")?;
                    out.write_all(key.as_bytes())?;
                    out.write_all(b"\"")?;
                }
                Cow::Owned(key) => serde_json::to_writer(&mut *out, key)?,
            }
            out.write_all(b":")?;
            out.write_all(value.get().as_bytes())?;
        }
        out.write_all(b"}")
    }
}

impl<'de> Deserialize<'de> for RawMap<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MapVisitor;
        impl<'de> Visitor<'de> for MapVisitor {
            type Value = RawMap<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawMap<'de>, A::Error> {
                let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(16));
                while let Some((key, value)) = map.next_entry::<Key<'de>, &'de RawValue>()? {
                    entries.push((key.0, value));
                }
                Ok(RawMap { entries })
            }
        }
        deserializer.deserialize_map(MapVisitor)
    }
}

/// A key borrowed from the text when it has no escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a property name")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

/// A raw value's text as a table or CSV cell: strings as they are, lists joined with `;`, null
/// empty; strings without escapes are taken from the text directly.
pub fn cell(raw: &RawValue) -> Cow<'_, str> {
    let text = raw.get();
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

/// Whether JSON text (valid, already checked) is exactly what `serde_json` would print for it:
/// compact, strings escaped only the way it escapes them, whole numbers that fit 64 bits.
fn is_canonical(text: &[u8]) -> bool {
    let mut i = 0;
    let mut in_string = false;
    while i < text.len() {
        let b = text[i];
        if in_string {
            match b {
                b'"' => in_string = false,
                b'\\' => match text.get(i + 1) {
                    Some(b'"' | b'\\' | b'n' | b'r' | b't' | b'b' | b'f') => i += 1,
                    // serde_json writes \u00XX (lowercase) only for the other control characters.
                    Some(b'u') => {
                        let hex = text.get(i + 2..i + 6).unwrap_or_default();
                        let short = [b'\x08', b'\x0c', b'\n', b'\r', b'\t'];
                        let ok = hex.len() == 4
                            && hex
                                .iter()
                                .all(|h| h.is_ascii_digit() || (b'a'..=b'f').contains(h))
                            && std::str::from_utf8(hex)
                                .ok()
                                .and_then(|h| u8::from_str_radix(h, 16).ok())
                                .is_some_and(|c| c < 0x20 && !short.contains(&c));
                        if !ok {
                            return false;
                        }
                        i += 5;
                    }
                    _ => return false,
                },
                _ => {}
            }
        } else {
            match b {
                b'"' => in_string = true,
                b' ' | b'\n' | b'\r' | b'\t' => return false,
                b'-' | b'0'..=b'9' => {
                    let start = i;
                    i += 1;
                    while text.get(i).is_some_and(u8::is_ascii_digit) {
                        i += 1;
                    }
                    let digits = i - start;
                    let negative_zero = &text[start..i] == b"-0";
                    if matches!(text.get(i), Some(b'.' | b'e' | b'E'))
                        || digits > 18
                        || negative_zero
                    {
                        return false;
                    }
                    continue;
                }
                _ => {}
            }
        }
        i += 1;
    }
    true
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
        let raw: Box<RawValue> = serde_json::from_str(text).unwrap();
        let map = RawMap::parse(&raw).unwrap();
        let mut out = Vec::new();
        map.write_json(&mut out, &raw, |k| !k.contains('@'))
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
        ] {
            assert_eq!(passed(text), through_value(text), "{text}");
        }
    }

    #[test]
    fn cells_read_strings_in_place() {
        let raw: Box<RawValue> =
            serde_json::from_str(r#"{"A":"plain","B":"esc\"aped","C":["x","y"],"D":null,"E":7}"#)
                .unwrap();
        let map = RawMap::parse(&raw).unwrap();
        let cells: Vec<String> = ["A", "B", "C", "D", "E"]
            .iter()
            .map(|k| cell(map.get(k).unwrap()).into_owned())
            .collect();
        assert_eq!(cells, ["plain", "esc\"aped", "x;y", "", "7"]);
        assert!(matches!(cell(map.get("A").unwrap()), Cow::Borrowed(_)));
    }
}
