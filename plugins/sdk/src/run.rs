//! What [`export_plugin!`](crate::export_plugin) wraps around a plugin's `run`: reading its input
//! into the plugin's type and writing its summary as JSON.

use std::fmt::Display;

use serde::Serialize;
use serde::de::DeserializeOwned;

/// Reads the run's input into `I`. No input (empty text or `null`) reads as `{}`, so a struct
/// whose fields all have defaults takes it, and as `null` for types that take that (`()`,
/// `Option`). The error names the field that does not match.
pub fn decode_input<I: DeserializeOwned>(input: &str) -> Result<I, String> {
    let input = input.trim();
    if input.is_empty() || input == "null" {
        return decode("{}").or_else(|first| {
            decode("null").map_err(|_| {
                // Positions in text nobody wrote would only confuse.
                let first = first
                    .rsplit_once(" at line ")
                    .map_or(first.as_str(), |(text, _)| text);
                let first = first.strip_prefix(DOES_NOT_FIT).unwrap_or(first);
                format!("no input was given, and this plugin needs one: {first}")
            })
        });
    }
    decode(input)
}

const DOES_NOT_FIT: &str = "the input does not fit this plugin: ";

fn decode<I: DeserializeOwned>(json: &str) -> Result<I, String> {
    let mut de = serde_json::Deserializer::from_str(json);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            format!("the input is not valid JSON: {inner}")
        } else if path == "." {
            format!("{DOES_NOT_FIT}{inner}")
        } else {
            format!("{DOES_NOT_FIT}field `{path}`: {inner}")
        }
    })?;
    de.end()
        .map_err(|e| format!("the input is not valid JSON: {e}"))?;
    Ok(value)
}

/// Runs `run` on the input and returns its summary as JSON, or the error text.
pub fn run<I, O, E>(input: &str, run: impl FnOnce(I) -> Result<O, E>) -> Result<String, String>
where
    I: DeserializeOwned,
    O: Serialize,
    E: Display,
{
    let input = decode_input(input)?;
    let summary = run(input).map_err(|e| e.to_string())?;
    serde_json::to_string(&summary)
        .map_err(|e| format!("the plugin's summary cannot be written as JSON: {e}"))
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;
    use crate::PluginError;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Input {
        identities: Vec<String>,
        #[serde(default)]
        days: Option<u32>,
    }

    #[derive(Debug, Default, Deserialize, PartialEq)]
    struct Optional {
        #[serde(default = "ninety")]
        days: u32,
    }

    fn ninety() -> u32 {
        90
    }

    #[test]
    fn decoding_errors_name_the_field() {
        let e = decode_input::<Input>(r#"{"identities": ["a", 3]}"#).unwrap_err();
        assert!(e.starts_with("the input does not fit this plugin: field `identities[1]`: invalid type: integer `3`"), "{e}");
        let e = decode_input::<Input>(r#"{"identities": [], "days": "x"}"#).unwrap_err();
        assert!(e.contains("field `days`"), "{e}");
        let e = decode_input::<Input>(r#"{"days": 3}"#).unwrap_err();
        assert!(e.contains("missing field `identities`"), "{e}");
        let e = decode_input::<Input>(r#"{"identities": [], "identity": "a"}"#).unwrap_err();
        assert!(e.contains("unknown field `identity`"), "{e}");
        let e = decode_input::<Input>(r#"{"identities": ["#).unwrap_err();
        assert!(e.starts_with("the input is not valid JSON"), "{e}");
        let e = decode_input::<Input>(r#"{"identities": []} x"#).unwrap_err();
        assert!(e.starts_with("the input is not valid JSON"), "{e}");
    }

    #[test]
    fn no_input_reads_as_an_empty_object_or_null() {
        assert_eq!(decode_input::<Optional>("").unwrap(), Optional { days: 90 });
        assert_eq!(
            decode_input::<Optional>(" null ").unwrap(),
            Optional { days: 90 }
        );
        decode_input::<()>("").unwrap();
        assert_eq!(decode_input::<Option<Input>>("").unwrap(), None);
        let e = decode_input::<Input>("").unwrap_err();
        assert_eq!(
            e,
            "no input was given, and this plugin needs one: missing field `identities`"
        );
    }

    #[test]
    fn runs_and_writes_the_summary() {
        let ok = run(r#"{"days": 7}"#, |i: Optional| {
            Ok::<_, PluginError>(serde_json::json!({"days": i.days}))
        });
        assert_eq!(ok.unwrap(), r#"{"days":7}"#);
        let failed = run("{}", |_: Optional| {
            Err::<(), _>(PluginError::new("nothing to do"))
        });
        assert_eq!(failed.unwrap_err(), "nothing to do");
        let bad_input = run(r#"{"days": -1}"#, |_: Optional| Ok::<_, String>(()));
        assert!(bad_input.unwrap_err().contains("field `days`"));
    }
}
