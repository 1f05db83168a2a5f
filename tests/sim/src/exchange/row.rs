//! Writes one result object straight to JSON text, with Exchange's per-property annotations
//! (docs/protocol.md §2.1) and `$select`/property-set trimming.
//!
//! Rows go to bytes without building `serde_json::Value` trees: a 1000-row Get-Mailbox page is
//! ~100k properties, and this is the emulator's hot path.

use std::collections::HashSet;

use uuid::Uuid;

/// Which properties to write; `None` means all.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Select(Option<HashSet<String>>);

impl Select {
    /// Every property.
    pub fn all() -> Select {
        Select(None)
    }

    /// Only these properties (case-insensitive).
    pub fn only<'a>(names: impl IntoIterator<Item = &'a str>) -> Select {
        Select(Some(
            names.into_iter().map(str::to_ascii_lowercase).collect(),
        ))
    }

    /// Both restrictions at once (a property set further trimmed by `$select`).
    pub fn intersect(&self, other: &Select) -> Select {
        match (&self.0, &other.0) {
            (None, x) | (x, None) => Select(x.clone()),
            (Some(a), Some(b)) => Select(Some(a.intersection(b).cloned().collect())),
        }
    }

    /// True if `name` should be written.
    pub fn wants(&self, name: &str) -> bool {
        match &self.0 {
            None => true,
            Some(set) => {
                if name.bytes().any(|b| b.is_ascii_uppercase()) {
                    set.contains(&name.to_ascii_lowercase())
                } else {
                    set.contains(name)
                }
            }
        }
    }
}

/// Builds one JSON object into a buffer.
pub struct RowWriter<'a> {
    buf: &'a mut Vec<u8>,
    select: &'a Select,
    first: bool,
}

fn push_json_str(buf: &mut Vec<u8>, text: &str) {
    // Writing a &str to a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *buf, text);
}

impl<'a> RowWriter<'a> {
    /// Starts an object.
    pub fn begin(buf: &'a mut Vec<u8>, select: &'a Select) -> RowWriter<'a> {
        buf.push(b'{');
        RowWriter {
            buf,
            select,
            first: true,
        }
    }

    /// Ends the object.
    pub fn finish(self) {
        self.buf.push(b'}');
    }

    fn key(&mut self, name: &str, suffix: &str) {
        if !self.first {
            self.buf.push(b',');
        }
        self.first = false;
        self.buf.push(b'"');
        self.buf.extend_from_slice(name.as_bytes());
        self.buf.extend_from_slice(suffix.as_bytes());
        self.buf.extend_from_slice(b"\":");
    }

    fn annotate(&mut self, name: &str, data_type: &str, odata_type: &str) {
        self.key(name, "@data.type");
        push_json_str(self.buf, data_type);
        if !odata_type.is_empty() {
            self.key(name, "@odata.type");
            push_json_str(self.buf, odata_type);
        }
    }

    /// A string property.
    pub fn str(&mut self, name: &str, value: &str) -> &mut Self {
        if self.select.wants(name) {
            self.key(name, "");
            push_json_str(self.buf, value);
        }
        self
    }

    /// A string property that may be null; empty text counts as null.
    pub fn opt_str(&mut self, name: &str, value: Option<&str>) -> &mut Self {
        if self.select.wants(name) {
            self.key(name, "");
            match value.filter(|v| !v.is_empty()) {
                Some(v) => push_json_str(self.buf, v),
                None => self.buf.extend_from_slice(b"null"),
            }
        }
        self
    }

    /// A boolean property.
    pub fn bool(&mut self, name: &str, value: bool) -> &mut Self {
        if self.select.wants(name) {
            self.key(name, "");
            self.buf
                .extend_from_slice(if value { b"true" } else { b"false" });
        }
        self
    }

    /// An integer property (annotated like Exchange's Int32 values).
    pub fn int(&mut self, name: &str, value: i64) -> &mut Self {
        if self.select.wants(name) {
            self.annotate(name, "System.Int32", "");
            self.key(name, "");
            self.buf.extend_from_slice(value.to_string().as_bytes());
        }
        self
    }

    /// A GUID property.
    pub fn guid(&mut self, name: &str, value: Uuid) -> &mut Self {
        if self.select.wants(name) {
            self.annotate(name, "System.Guid", "#Guid");
            self.key(name, "");
            let mut buf = Uuid::encode_buffer();
            push_json_str(self.buf, value.hyphenated().encode_lower(&mut buf));
        }
        self
    }

    /// A DateTime property (Unix seconds), null when absent.
    pub fn date(&mut self, name: &str, value: Option<i64>) -> &mut Self {
        if self.select.wants(name) {
            self.annotate(name, "System.DateTime", "#DateTimeOffset");
            self.key(name, "");
            match value {
                Some(v) => push_json_str(self.buf, &crate::time::exchange_date(v)),
                None => self.buf.extend_from_slice(b"null"),
            }
        }
        self
    }

    /// A multi-valued string property.
    pub fn list<'v>(&mut self, name: &str, values: impl IntoIterator<Item = &'v str>) -> &mut Self {
        if self.select.wants(name) {
            self.annotate(
                name,
                "Microsoft.Exchange.Data.MultiValuedProperty`1[[System.String]]",
                "#Collection(String)",
            );
            self.key(name, "");
            self.buf.push(b'[');
            for (i, value) in values.into_iter().enumerate() {
                if i > 0 {
                    self.buf.push(b',');
                }
                push_json_str(self.buf, value);
            }
            self.buf.push(b']');
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(select: &Select) -> serde_json::Value {
        let mut buf = Vec::new();
        let mut w = RowWriter::begin(&mut buf, select);
        w.str("Name", "Ann \"A\"")
            .opt_str("Office", None)
            .bool("IsShared", false)
            .int("ItemCount", 12)
            .guid("Guid", Uuid::nil())
            .date("WhenCreated", Some(1_663_747_667))
            .list("EmailAddresses", ["SMTP:a@x.com", "smtp:b@x.com"]);
        w.finish();
        serde_json::from_slice(&buf).unwrap()
    }

    #[test]
    fn writes_valid_annotated_json() {
        let row = render(&Select::all());
        assert_eq!(row["Name"], "Ann \"A\"");
        assert!(row["Office"].is_null());
        assert_eq!(row["ItemCount"], 12);
        assert_eq!(row["Guid@odata.type"], "#Guid");
        assert_eq!(row["Guid@data.type"], "System.Guid");
        assert_eq!(row["WhenCreated"], "2022-09-21T08:07:47.0000000+00:00");
        assert_eq!(row["EmailAddresses@odata.type"], "#Collection(String)");
        assert_eq!(row["EmailAddresses"][1], "smtp:b@x.com");
    }

    #[test]
    fn select_trims_properties_and_their_annotations() {
        let row = render(&Select::only(["name", "GUID"]));
        let keys: HashSet<&str> = row
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            HashSet::from(["Name", "Guid@data.type", "Guid@odata.type", "Guid"])
        );
        let both = Select::only(["Name", "Guid"]).intersect(&Select::only(["Guid"]));
        assert!(both.wants("guid") && !both.wants("Name"));
    }
}
