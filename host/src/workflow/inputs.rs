//! The workflow's typed inputs, and binding the values given on the command line
//! (`--input key=value`) to them: defaults applied, required ones checked, text converted to the
//! declared type the way an admin types it (`5`, `$true`, `a,b`).

use std::fmt;

use serde_json::{Map, Value};

use super::error::Location;
use super::suggest::closest;

/// The type of an input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputType {
    /// Text.
    String,
    /// A whole number.
    Integer,
    /// Any number.
    Number,
    /// `true` or `false`.
    Boolean,
    /// A list (of anything).
    List,
    /// An object.
    Object,
}

impl InputType {
    /// Every type, by its name in the file.
    pub const ALL: [(&'static str, InputType); 6] = [
        ("string", InputType::String),
        ("integer", InputType::Integer),
        ("number", InputType::Number),
        ("boolean", InputType::Boolean),
        ("list", InputType::List),
        ("object", InputType::Object),
    ];

    /// The type named `name` in the file.
    pub fn named(name: &str) -> Option<InputType> {
        InputType::ALL
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, t)| *t)
    }

    /// The type someone who wrote `name` (JSON Schema's, PowerShell's or Python's word) meant.
    pub fn meant_by(name: &str) -> Option<InputType> {
        Some(match name.to_ascii_lowercase().as_str() {
            "array" | "string[]" | "[]" => InputType::List,
            "str" | "text" => InputType::String,
            "int" | "long" | "int32" | "int64" => InputType::Integer,
            "float" | "double" | "decimal" => InputType::Number,
            "bool" | "switch" => InputType::Boolean,
            "dict" | "map" | "table" | "hashtable" => InputType::Object,
            other => return InputType::named(other),
        })
    }

    /// Its name in the file.
    pub fn name(self) -> &'static str {
        InputType::ALL
            .iter()
            .find(|(_, t)| *t == self)
            .map_or("string", |(n, _)| n)
    }

    /// Whether `value` is of this type.
    pub fn accepts(self, value: &Value) -> bool {
        match self {
            InputType::String => value.is_string(),
            InputType::Integer => value.is_i64() || value.is_u64(),
            InputType::Number => value.is_number(),
            InputType::Boolean => value.is_boolean(),
            InputType::List => value.is_array(),
            InputType::Object => value.is_object(),
        }
    }

    /// A value of this type from command-line text, or what was wrong with it.
    pub fn convert(self, text: &str) -> Result<Value, String> {
        let trimmed = text.trim();
        match self {
            InputType::String => Ok(Value::String(text.to_string())),
            InputType::Integer => trimmed
                .parse::<i64>()
                .map(Value::from)
                .map_err(|_| "it is not a whole number (e.g. 5)".to_string()),
            InputType::Number => trimmed
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(Value::Number)
                .ok_or_else(|| "it is not a number (e.g. 2.5)".to_string()),
            InputType::Boolean => match trimmed.to_ascii_lowercase().as_str() {
                "true" | "$true" => Ok(Value::Bool(true)),
                "false" | "$false" => Ok(Value::Bool(false)),
                _ => Err("it is neither true nor false ($true and $false work too)".to_string()),
            },
            InputType::List if trimmed.starts_with('[') => match serde_json::from_str(trimmed) {
                Ok(Value::Array(items)) => Ok(Value::Array(items)),
                _ => Err(r#"it is not a JSON list (e.g. ["a","b"], or a,b for text)"#.to_string()),
            },
            InputType::List if trimmed.is_empty() => Ok(Value::Array(Vec::new())),
            InputType::List => Ok(Value::Array(
                text.split(',')
                    .map(|item| Value::String(item.trim().to_string()))
                    .collect(),
            )),
            InputType::Object => match serde_json::from_str(trimmed) {
                Ok(Value::Object(object)) => Ok(Value::Object(object)),
                _ => Err(r#"it is not a JSON object (e.g. {"days": 3})"#.to_string()),
            },
        }
    }
}

impl InputType {
    /// `a` or `an`, for messages.
    pub fn article(self) -> &'static str {
        match self {
            InputType::Integer | InputType::Object => "an",
            _ => "a",
        }
    }
}

impl fmt::Display for InputType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One declared input.
#[derive(Clone, Debug, PartialEq)]
pub struct InputDecl {
    /// Its name (`inputs.NAME` in expressions, `--input NAME=…` on the command line).
    pub name: String,
    /// Its type.
    pub kind: InputType,
    /// What to give, for help and errors.
    pub description: Option<String>,
    /// The value when none is given; without one the input is required.
    pub default: Option<Value>,
    /// Where it is declared.
    pub at: Location,
}

/// A value given for an input: command-line text, or JSON.
#[derive(Clone, Copy)]
enum Given<'a> {
    Text(&'a str),
    Json(&'a Value),
}

impl Given<'_> {
    /// The value as the input's type, or why it is not one.
    fn typed(self, kind: InputType) -> Result<Value, String> {
        match self {
            Given::Text(text) => kind.convert(text),
            Given::Json(Value::String(text)) => kind.convert(text),
            Given::Json(value) if kind.accepts(value) => Ok(value.clone()),
            Given::Json(_) => Err(format!("give {} {}", kind.article(), kind.name())),
        }
    }

    /// As shown in a message.
    fn shown(self) -> String {
        match self {
            Given::Text(text) => text.to_string(),
            Given::Json(value) => value.to_string(),
        }
    }
}

/// The declared inputs, in file order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Inputs(pub(super) Vec<InputDecl>);

/// What is wrong with one given input.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    /// A name the workflow does not declare.
    #[error("the workflow has no input '{name}'{}", suggestion(near.as_deref(), known))]
    Unknown {
        /// As given.
        name: String,
        /// The closest declared name.
        near: Option<String>,
        /// Every declared name.
        known: Vec<String>,
    },
    /// Given twice.
    #[error("input '{name}' is given twice: give it once")]
    Twice {
        /// The input.
        name: String,
    },
    /// Required and not given.
    #[error("input '{name}' ({kind}) is required{}: give it with --input {name}=…", description.as_ref().map(|d| format!(" — {d}")).unwrap_or_default())]
    Missing {
        /// The input.
        name: String,
        /// Its type.
        kind: InputType,
        /// Its description.
        description: Option<String>,
    },
    /// A value that is not of the input's type.
    #[error("input '{name}' is {article} {kind}, and '{value}' is not: {why}")]
    Invalid {
        /// The input.
        name: String,
        /// Its type.
        kind: InputType,
        /// `a`/`an`, for the message.
        article: &'static str,
        /// As given.
        value: String,
        /// What is wrong with it.
        why: String,
    },
}

/// `; did you mean 'x'?` or `(it has: a, b)`.
fn suggestion(near: Option<&str>, known: &[String]) -> String {
    match (near, known.is_empty()) {
        (Some(near), _) => format!("; did you mean '{near}'?"),
        (None, true) => " (it declares none)".into(),
        (None, false) => format!(" (it has: {})", known.join(", ")),
    }
}

/// Everything wrong with the given inputs, one per line when shown.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
pub struct InputErrors(pub Vec<InputError>);

impl Inputs {
    /// The declarations, in file order.
    pub fn iter(&self) -> impl Iterator<Item = &InputDecl> {
        self.0.iter()
    }

    /// The declaration of `name`.
    pub fn get(&self, name: &str) -> Option<&InputDecl> {
        self.0.iter().find(|d| d.name == name)
    }

    /// The inputs as a JSON Schema (draft 2020-12) object, for a client to build a form from:
    /// each input's type, description and default; the ones without a default required; no
    /// others allowed.
    pub fn json_schema(&self) -> Value {
        let mut properties = Map::new();
        let mut required = Vec::new();
        for decl in &self.0 {
            let kind = match decl.kind {
                InputType::List => "array",
                other => other.name(),
            };
            let mut property = Map::new();
            property.insert("type".into(), Value::String(kind.into()));
            if let Some(description) = &decl.description {
                property.insert("description".into(), Value::String(description.clone()));
            }
            match &decl.default {
                Some(default) => {
                    property.insert("default".into(), default.clone());
                }
                None => required.push(Value::String(decl.name.clone())),
            }
            properties.insert(decl.name.clone(), Value::Object(property));
        }
        serde_json::json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "properties": properties,
            "required": required,
            "additionalProperties": false,
        })
    }

    /// How many are declared.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether none are declared.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The `inputs` object for a run: each given `(name, text)` converted to its declared type,
    /// defaults for the others; or every problem (unknown names, twice given, missing required
    /// ones, values not of their type).
    pub fn bind(&self, given: &[(String, String)]) -> Result<Map<String, Value>, InputErrors> {
        self.bind_given(
            given
                .iter()
                .map(|(name, text)| (name.as_str(), Given::Text(text))),
        )
    }

    /// The `inputs` object for a run asked for as JSON (the service's API): a value of the
    /// declared type is taken as it is, a string for another type is converted as command-line
    /// text is (so `"5"` and `"$true"` work), defaults fill the rest; or every problem.
    pub fn bind_json(&self, given: &Map<String, Value>) -> Result<Map<String, Value>, InputErrors> {
        self.bind_given(
            given
                .iter()
                .map(|(name, value)| (name.as_str(), Given::Json(value))),
        )
    }

    fn bind_given<'a>(
        &self,
        given: impl Iterator<Item = (&'a str, Given<'a>)>,
    ) -> Result<Map<String, Value>, InputErrors> {
        let mut problems = Vec::new();
        let mut bound = Map::new();
        let known: Vec<String> = self.0.iter().map(|d| d.name.clone()).collect();
        let mut seen: Vec<&str> = Vec::new();
        for (name, value) in given {
            let Some(decl) = self.get(name) else {
                problems.push(InputError::Unknown {
                    name: name.to_string(),
                    near: closest(name, known.iter().map(String::as_str)).map(str::to_string),
                    known: known.clone(),
                });
                continue;
            };
            if seen.contains(&name) {
                problems.push(InputError::Twice {
                    name: name.to_string(),
                });
                continue;
            }
            seen.push(name);
            match value.typed(decl.kind) {
                Ok(value) => {
                    bound.insert(name.to_string(), value);
                }
                Err(why) => problems.push(InputError::Invalid {
                    name: name.to_string(),
                    kind: decl.kind,
                    article: decl.kind.article(),
                    value: value.shown(),
                    why,
                }),
            }
        }
        let mut inputs = Map::new();
        for decl in &self.0 {
            match bound.remove(&decl.name).or_else(|| decl.default.clone()) {
                Some(value) => {
                    inputs.insert(decl.name.clone(), value);
                }
                None if problems.iter().any(
                    |p| matches!(p, InputError::Invalid { name, .. } if *name == decl.name),
                ) => {}
                None => problems.push(InputError::Missing {
                    name: decl.name.clone(),
                    kind: decl.kind,
                    description: decl.description.clone(),
                }),
            }
        }
        if problems.is_empty() {
            Ok(inputs)
        } else {
            Err(InputErrors(problems))
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn decl(name: &str, kind: InputType, default: Option<Value>) -> InputDecl {
        InputDecl {
            name: name.into(),
            kind,
            description: Some(format!("the {name}")),
            default,
            at: Location::default(),
        }
    }

    fn inputs() -> Inputs {
        Inputs(vec![
            decl("user", InputType::String, None),
            decl("max", InputType::Integer, Some(json!(10))),
            decl("ratio", InputType::Number, Some(json!(0.5))),
            decl("notify", InputType::Boolean, Some(json!(false))),
            decl("ids", InputType::List, Some(json!([]))),
            decl("extra", InputType::Object, Some(json!({}))),
        ])
    }

    fn given(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_schema_says_each_type_and_which_inputs_are_required() {
        let schema = inputs().json_schema();
        assert_eq!(schema["properties"]["ids"]["type"], "array");
        assert_eq!(schema["properties"]["max"]["default"], 10);
        assert_eq!(schema["properties"]["user"]["description"], "the user");
        assert_eq!(schema["required"], json!(["user"]));
        assert_eq!(schema["additionalProperties"], false);
    }

    #[test]
    fn json_values_of_the_type_are_taken_and_strings_are_read_as_text_is() {
        let given = json!({"user": "ann@contoso.com", "max": "5", "notify": true, "ids": ["a"]});
        let bound = inputs().bind_json(given.as_object().unwrap()).unwrap();
        assert_eq!(bound["max"], json!(5));
        assert_eq!(bound["notify"], json!(true));
        assert_eq!(bound["ids"], json!(["a"]));
        assert_eq!(bound["ratio"], json!(0.5));
        let wrong = json!({"user": 7, "max": 1.5, "mx": 2});
        let errors = inputs()
            .bind_json(wrong.as_object().unwrap())
            .unwrap_err()
            .to_string();
        assert!(
            errors.contains("input 'user' is a string, and '7' is not: give a string"),
            "{errors}"
        );
        assert!(
            errors.contains("input 'max' is an integer, and '1.5' is not"),
            "{errors}"
        );
        assert!(
            errors.contains("no input 'mx'; did you mean 'max'?"),
            "{errors}"
        );
    }

    #[test]
    fn text_becomes_the_declared_type_and_defaults_fill_the_rest() {
        let bound = inputs()
            .bind(&given(&[
                ("user", "ann@contoso.com"),
                ("max", "5"),
                ("notify", "$true"),
                ("ids", "a, b"),
            ]))
            .unwrap();
        assert_eq!(
            Value::Object(bound),
            json!({"user": "ann@contoso.com", "max": 5, "ratio": 0.5, "notify": true, "ids": ["a", "b"], "extra": {}})
        );
        let bound = inputs()
            .bind(&given(&[
                ("user", " spaced "),
                ("ratio", "2"),
                ("notify", "FALSE"),
                ("ids", r#"[1, "x"]"#),
                ("extra", r#"{"days": 3}"#),
            ]))
            .unwrap();
        assert_eq!(bound["user"], " spaced ");
        assert_eq!(bound["ratio"], 2.0);
        assert_eq!(bound["notify"], false);
        assert_eq!(bound["ids"], json!([1, "x"]));
        assert_eq!(bound["extra"], json!({"days": 3}));
        assert_eq!(InputType::List.convert("").unwrap(), json!([]));
    }

    #[test]
    fn every_problem_is_said_at_once() {
        let errors = inputs()
            .bind(&given(&[
                ("usr", "x"),
                ("max", "five"),
                ("max", "6"),
                ("notify", "maybe"),
                ("ratio", "NaN"),
                ("extra", "[]"),
                ("ids", "[1"),
            ]))
            .unwrap_err();
        let text = errors.to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            [
                "the workflow has no input 'usr'; did you mean 'user'?",
                "input 'max' is an integer, and 'five' is not: it is not a whole number (e.g. 5)",
                "input 'max' is given twice: give it once",
                "input 'notify' is a boolean, and 'maybe' is not: it is neither true nor false ($true and $false work too)",
                "input 'ratio' is a number, and 'NaN' is not: it is not a number (e.g. 2.5)",
                "input 'extra' is an object, and '[]' is not: it is not a JSON object (e.g. {\"days\": 3})",
                "input 'ids' is a list, and '[1' is not: it is not a JSON list (e.g. [\"a\",\"b\"], or a,b for text)",
                "input 'user' (string) is required — the user: give it with --input user=…",
            ]
        );
        let none = Inputs::default().bind(&given(&[("x", "1")])).unwrap_err();
        assert_eq!(
            none.to_string(),
            "the workflow has no input 'x' (it declares none)"
        );
        let far = inputs()
            .bind(&given(&[("zzzzzz", "1"), ("user", "u")]))
            .unwrap_err();
        assert_eq!(
            far.to_string(),
            "the workflow has no input 'zzzzzz' (it has: user, max, ratio, notify, ids, extra)"
        );
    }

    #[test]
    fn types_accept_their_values() {
        assert!(InputType::Integer.accepts(&json!(3)));
        assert!(!InputType::Integer.accepts(&json!(3.5)));
        assert!(InputType::Number.accepts(&json!(3)));
        assert!(!InputType::String.accepts(&json!(3)));
        assert_eq!(InputType::named("list"), Some(InputType::List));
        assert_eq!(InputType::named("List"), None);
        assert_eq!(InputType::Boolean.to_string(), "boolean");
        assert_eq!(InputType::meant_by("Array"), Some(InputType::List));
        assert_eq!(InputType::meant_by("switch"), Some(InputType::Boolean));
        assert_eq!(InputType::meant_by("Integer"), Some(InputType::Integer));
        assert_eq!(InputType::meant_by("thing"), None);
        assert_eq!(InputType::Integer.article(), "an");
    }
}
