//! A plugin's input checked against the JSON Schema its manifest declares, before the plugin
//! starts: a misspelt field or a date written as "tomorrow" is refused with the field's JSON
//! pointer instead of surfacing as a plugin failure halfway through a run. Formats (`date-time`,
//! `email`, ...) are checked too, not only noted.

use std::fmt;

use serde_json::Value;

/// Problems listed in one error; an input with more is summarised with a count.
const MAX_PROBLEMS: usize = 10;

/// An error message longer than this is cut (it quotes the offending value).
const MAX_MESSAGE_CHARS: usize = 200;

/// A compiled input schema.
pub struct InputSchema(jsonschema::Validator);

impl fmt::Debug for InputSchema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("InputSchema")
    }
}

/// One way an input misses the schema.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputProblem {
    /// Where: a JSON pointer into the input (`/start_time`, `/identities/0`; empty for the
    /// whole input).
    pub pointer: String,
    /// What is wrong, e.g. `"tomorrow" is not a "date-time"`.
    pub problem: String,
}

impl fmt::Display for InputProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.pointer.is_empty() {
            write!(f, "the input: {}", self.problem)
        } else {
            write!(f, "{}: {}", self.pointer, self.problem)
        }
    }
}

impl InputSchema {
    /// Compiles `schema` (JSON text), with format validation on; the error says why it is not
    /// a usable JSON Schema.
    pub fn compile(schema: &str) -> Result<InputSchema, String> {
        let schema: Value =
            serde_json::from_str(schema).map_err(|e| format!("it is not JSON: {e}"))?;
        jsonschema::options()
            .should_validate_formats(true)
            .build(&schema)
            .map(InputSchema)
            .map_err(|e| format!("it is not a valid JSON Schema: {e}"))
    }

    /// Checks `input`; every problem (up to [`MAX_PROBLEMS`]) names its field.
    pub fn check(&self, input: &Value) -> Result<(), Vec<InputProblem>> {
        let problems: Vec<InputProblem> = self
            .0
            .iter_errors(input)
            .take(MAX_PROBLEMS)
            .map(|error| InputProblem {
                pointer: error.instance_path().to_string(),
                problem: shorten(&error.to_string()),
            })
            .collect();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }
}

fn shorten(message: &str) -> String {
    if message.chars().count() <= MAX_MESSAGE_CHARS {
        return message.to_string();
    }
    let cut: String = message.chars().take(MAX_MESSAGE_CHARS).collect();
    format!("{cut}…")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const AUTO_REPLY: &str = r#"{"type": "object", "additionalProperties": false, "required": ["identities", "state"], "properties": {"identities": {"type": "array", "items": {"type": "string"}, "minItems": 1}, "state": {"enum": ["Enabled", "Disabled", "Scheduled"]}, "start_time": {"type": "string", "format": "date-time"}}}"#;

    #[test]
    fn problems_name_the_field_and_what_is_wrong() {
        let schema = InputSchema::compile(AUTO_REPLY).unwrap();
        assert!(
            schema
                .check(&json!({"identities": ["ann@contoso.com"], "state": "Scheduled", "start_time": "2026-12-01T08:00:00Z"}))
                .is_ok()
        );
        let problems = schema
            .check(&json!({"identities": ["ann@contoso.com"], "state": "Scheduled", "start_time": "tomorrow"}))
            .unwrap_err();
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].pointer, "/start_time");
        assert!(problems[0].problem.contains("date-time"), "{problems:?}");
        let problems = schema
            .check(&json!({"identities": [7], "state": "On", "extra": 1}))
            .unwrap_err();
        let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert!(
            text.iter().any(|p| p.starts_with("/identities/0: ")),
            "{text:?}"
        );
        assert!(text.iter().any(|p| p.starts_with("/state: ")), "{text:?}");
        assert!(
            text.iter()
                .any(|p| p.starts_with("the input: ") && p.contains("extra")),
            "{text:?}"
        );
    }

    #[test]
    fn a_schema_must_be_json_schema() {
        assert!(InputSchema::compile("{").unwrap_err().contains("not JSON"));
        assert!(
            InputSchema::compile(r#"{"type": "nonsense"}"#)
                .unwrap_err()
                .contains("not a valid JSON Schema")
        );
    }
}
