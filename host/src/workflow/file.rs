//! The workflow file as written (TOML), read as it is: every value keeps its place in the text,
//! so every later check can point at the line and column that hold it.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use toml::Spanned;

use super::error::{Location, Problem};
use super::suggest::closest;

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct WorkflowFile {
    /// The workflow's name.
    pub name: Spanned<String>,
    /// What it is for.
    pub description: Option<String>,
    /// Where plugins named by name are, relative to the file.
    pub plugin_dir: Option<Spanned<String>>,
    /// The config profile it runs against.
    pub profile: Option<Spanned<String>>,
    /// The config profiles it runs against, one after the other.
    pub tenants: Option<Spanned<Vec<Spanned<String>>>>,
    /// Declared inputs, in file order.
    #[serde(default)]
    pub inputs: Ordered<Spanned<InputTable>>,
    /// The steps, in file order.
    #[serde(default)]
    pub steps: Vec<Spanned<StepTable>>,
    /// The workflow's results, in file order.
    #[serde(default)]
    pub outputs: Ordered<Node>,
    /// The charts of its run's report.
    pub report: Option<Spanned<super::report::ReportSpec>>,
}

/// One `[inputs.NAME]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct InputTable {
    /// `string`, `integer`, `number`, `boolean`, `list` or `object`.
    #[serde(rename = "type")]
    pub kind: Spanned<String>,
    /// What to give.
    pub description: Option<String>,
    /// The value when none is given.
    pub default: Option<Node>,
}

/// One `[[steps]]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct StepTable {
    /// Unique id.
    pub id: Spanned<String>,
    /// A plugin name or a path.
    pub plugin: Spanned<String>,
    /// The content digest pinned.
    pub digest: Option<Spanned<String>>,
    /// Steps that must finish first.
    #[serde(default)]
    pub needs: Vec<Spanned<String>>,
    /// A condition.
    pub when: Option<Spanned<String>>,
    /// A template giving a list, or a partition table.
    pub for_each: Option<Node>,
    /// Items at once.
    pub max_parallel: Option<Spanned<i64>>,
    /// `"fail"`, `"continue"` or a retry table.
    pub on_error: Option<Node>,
    /// The plugin's input.
    pub input: Option<Node>,
    /// The plugin's config values.
    #[serde(default)]
    pub config: Ordered<Spanned<String>>,
}

/// A table's keys with their places and values, in file order.
#[derive(Debug)]
pub(super) struct Ordered<T>(pub Vec<(Spanned<String>, T)>);

impl<T> Default for Ordered<T> {
    fn default() -> Self {
        Ordered(Vec::new())
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Ordered<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Entries<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for Entries<T> {
            type Value = Ordered<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a table")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Ordered<T>, A::Error> {
                let mut entries = Vec::new();
                while let Some(key) = map.next_key::<Spanned<String>>()? {
                    entries.push((key, map.next_value()?));
                }
                Ok(Ordered(entries))
            }
        }
        deserializer.deserialize_map(Entries(std::marker::PhantomData))
    }
}

/// Any TOML value, with the place of every part of it.
#[derive(Debug)]
pub(super) struct Node(pub Spanned<NodeValue>);

/// What a [`Node`] holds.
#[derive(Debug)]
pub(super) enum NodeValue {
    /// A string.
    Text(String),
    /// An integer.
    Integer(i64),
    /// A float.
    Float(f64),
    /// A boolean.
    Boolean(bool),
    /// A date or time, as written.
    Datetime(String),
    /// An array.
    List(Vec<Node>),
    /// A table, its keys in file order.
    Table(Vec<(String, Node)>),
}

impl NodeValue {
    /// What kind of value it is, for messages.
    pub(super) fn kind(&self) -> &'static str {
        match self {
            NodeValue::Text(_) => "text",
            NodeValue::Integer(_) => "an integer",
            NodeValue::Float(_) => "a number",
            NodeValue::Boolean(_) => "a boolean",
            NodeValue::Datetime(_) => "a date",
            NodeValue::List(_) => "a list",
            NodeValue::Table(_) => "a table",
        }
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Spanned::<NodeValue>::deserialize(deserializer).map(Node)
    }
}

/// The key the toml crate gives a date inside a table of one entry.
const DATETIME_KEY: &str = "$__toml_private_datetime";

impl<'de> Deserialize<'de> for NodeValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Any;
        impl<'de> Visitor<'de> for Any {
            type Value = NodeValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a value")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<NodeValue, E> {
                Ok(NodeValue::Text(v.to_string()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<NodeValue, E> {
                Ok(NodeValue::Text(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<NodeValue, E> {
                Ok(NodeValue::Integer(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<NodeValue, E> {
                i64::try_from(v)
                    .map(NodeValue::Integer)
                    .map_err(|_| E::custom("the integer is too big"))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<NodeValue, E> {
                Ok(NodeValue::Float(v))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<NodeValue, E> {
                Ok(NodeValue::Boolean(v))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<NodeValue, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(NodeValue::List(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<NodeValue, A::Error> {
                let mut entries = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    if key == DATETIME_KEY {
                        return Ok(NodeValue::Datetime(map.next_value()?));
                    }
                    entries.push((key, map.next_value()?));
                }
                Ok(NodeValue::Table(entries))
            }
        }
        deserializer.deserialize_any(Any)
    }
}

/// The key meant by a word other tools use for it (`depends_on` is `needs`), if it belongs here.
fn synonym<'k>(name: &str, keys: &[&'k str]) -> Option<&'k str> {
    let meant = match name.to_ascii_lowercase().as_str() {
        "depends_on" | "depends" | "dependencies" | "after" | "requires" => "needs",
        "if" | "condition" | "only_if" => "when",
        "loop" | "with_items" | "matrix" | "foreach" => "for_each",
        "parallel" | "concurrency" | "max_concurrency" | "throttle_limit" | "throttlelimit" => {
            "max_parallel"
        }
        "args" | "arguments" | "parameters" | "params" | "with" => "input",
        "settings" => "config",
        "on_failure" | "error_action" | "erroraction" | "continue_on_error" => "on_error",
        "uses" | "run" | "module" => "plugin",
        "name" => "id",
        _ => return None,
    };
    keys.iter().copied().find(|k| *k == meant)
}

/// A TOML or schema error from the toml crate as a problem: an unknown key gets the key it was
/// probably meant to be, a missing one what to add.
pub(super) fn problem(text: &str, file: &str, error: &toml::de::Error) -> Problem {
    let at = error.span().map_or(0, |s| s.start);
    let message = error.message().trim();
    let (what, fix) = if let Some(rest) = message.strip_prefix("unknown field `") {
        let (name, expected) = rest.split_once('`').unwrap_or((rest, ""));
        let keys: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
        let fix = match synonym(name, &keys).or_else(|| closest(name, keys.iter().copied())) {
            Some(near) => format!("did you mean '{near}'?"),
            None if keys.is_empty() => "remove it".to_string(),
            None => format!("the keys here are: {}", keys.join(", ")),
        };
        (format!("unknown key '{name}'"), fix)
    } else if let Some(rest) = message.strip_prefix("missing field `") {
        let name = rest.trim_end_matches('`');
        let example = match name {
            "id" => "id = \"lookup\"",
            "plugin" => "plugin = \"mailbox-inventory\"",
            "type" => "type = \"string\"",
            "name" => "name = \"offboard-user\"",
            _ => "",
        };
        (
            format!("missing key '{name}'"),
            if example.is_empty() {
                format!("add {name} = …")
            } else {
                format!("add it, e.g. {example}")
            },
        )
    } else {
        let plain = message
            .replace('\n', "; ")
            .replace("expected i64", "expected an integer")
            .replace("a sequence", "a list")
            .replace("a map", "a table");
        (plain, String::new())
    };
    Problem {
        file: file.to_string(),
        at: Location::of(text, at),
        what,
        fix,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_part_of_a_value_keeps_its_place() {
        let text = "input = { identity = \"${inputs.user}\", list = [1, 2.5, true, 1979-05-27] }\n";
        #[derive(Deserialize)]
        struct Holder {
            input: Node,
        }
        let holder: Holder = toml::from_str(text).unwrap();
        let NodeValue::Table(fields) = holder.input.0.get_ref() else {
            panic!("a table")
        };
        assert_eq!(fields[0].0, "identity");
        let span = fields[0].1.0.span();
        assert_eq!(&text[span], "\"${inputs.user}\"");
        let NodeValue::List(items) = fields[1].1.0.get_ref() else {
            panic!("a list")
        };
        assert!(matches!(items[3].0.get_ref(), NodeValue::Datetime(d) if d == "1979-05-27"));
        assert_eq!(
            items
                .iter()
                .map(|i| i.0.get_ref().kind())
                .collect::<Vec<_>>(),
            ["an integer", "a number", "a boolean", "a date"]
        );
    }
}
