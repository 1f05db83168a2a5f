//! Cmdlet parameters as InvokeCommand wants them (PROTOCOL.md §1.3), and the parser that turns
//! PowerShell-style command-line arguments (`-Identity alice -ResultSize Unlimited`) into them,
//! so admins can type what they would type in a PowerShell session.
//!
//! Values follow PowerShell's rules where a script relies on them: `$true`/`$false`/`$null`,
//! an unquoted comma makes a list, `@{Add="x";Remove="y"}` is a hashtable, `@("a","b")` an
//! array, and quotes keep text (commas included) as one string. Whole numbers without a leading
//! zero become JSON numbers; anything else stays a string (so `Unlimited` is sent as text).

use serde_json::{Map, Value};

pub use super::value_syntax::HASHTABLE_TYPE;

/// Cmdlet parameters: always a JSON object (an empty one when there are none).
pub type Parameters = Map<String, Value>;

/// Parameters holding OPATH filters: sent as text with `$true`/`$false` rewritten to
/// `'True'`/`'False'`, as the Exchange module does, because the service does not expand
/// PowerShell variables.
const FILTER_PARAMETERS: [&str; 3] = ["Filter", "RecipientFilter", "RecipientPreviewFilter"];

/// Why command-line arguments could not be read as cmdlet parameters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamError {
    /// A value came where a parameter name was expected.
    #[error(
        "'{value}' is a value without a parameter name: write the parameter first, e.g. -Identity {value}"
    )]
    ValueWithoutName {
        /// The stray value.
        value: String,
    },
    /// An argument starting with `-` is not a usable parameter name.
    #[error(
        "'{arg}' is not a parameter name: names are a '-' followed by letters and digits, e.g. -ResultSize"
    )]
    BadName {
        /// The argument as given.
        arg: String,
    },
    /// The same parameter was given twice.
    #[error("-{name} is given more than once: give each parameter once (a list is a,b,c)")]
    Duplicate {
        /// The parameter.
        name: String,
    },
    /// A value's syntax is wrong (unterminated quote or hashtable, stray characters…).
    #[error("the value of -{name} cannot be read: {problem} in `{value}`")]
    Syntax {
        /// The parameter.
        name: String,
        /// The value as given.
        value: String,
        /// What is wrong and where.
        problem: String,
    },
}

/// Parses PowerShell-style arguments: `-Name value`, `-Name:value`, and `-Switch` (true when no
/// value follows). Arguments are as the shell split them; quote a value that must keep its
/// commas (`"'Smith, John'"`).
pub fn from_cli_args(args: &[String]) -> Result<Parameters, ParamError> {
    let mut params = Parameters::new();
    let mut iter = args.iter().peekable();
    while let Some(arg) = iter.next() {
        let Some(spec) = arg.strip_prefix('-').filter(|rest| starts_name(rest)) else {
            if arg.starts_with('-') && !is_negative_number(arg) {
                return Err(ParamError::BadName { arg: arg.clone() });
            }
            return Err(ParamError::ValueWithoutName { value: arg.clone() });
        };
        let (name, inline) = match spec.split_once(':') {
            Some((name, value)) => (name, Some(value)),
            None => (spec, None),
        };
        if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(ParamError::BadName { arg: arg.clone() });
        }
        let text = match inline {
            Some(value) => Some(value.to_string()),
            None => iter.next_if(|next| !is_parameter_name(next)).cloned(),
        };
        let value = match text {
            None => Value::Bool(true),
            Some(text) => parse_value(name, &text)?,
        };
        if params.keys().any(|k| k.eq_ignore_ascii_case(name)) {
            return Err(ParamError::Duplicate {
                name: name.to_string(),
            });
        }
        params.insert(name.to_string(), value);
    }
    Ok(params)
}

fn starts_name(text: &str) -> bool {
    text.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
}

fn is_parameter_name(arg: &str) -> bool {
    arg.strip_prefix('-').is_some_and(starts_name)
}

fn is_negative_number(arg: &str) -> bool {
    arg.strip_prefix('-')
        .is_some_and(|d| !d.is_empty() && d.chars().all(|c| c.is_ascii_digit()))
}

/// Reads one parameter's value.
fn parse_value(name: &str, text: &str) -> Result<Value, ParamError> {
    if FILTER_PARAMETERS
        .iter()
        .any(|f| f.eq_ignore_ascii_case(name))
    {
        return Ok(Value::String(rewrite_filter(text)));
    }
    super::value_syntax::parse(text).map_err(|problem| ParamError::Syntax {
        name: name.to_string(),
        value: text.to_string(),
        problem,
    })
}

/// Rewrites `$true`/`$false` (any case, as whole words) to `'True'`/`'False'`.
fn rewrite_filter(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let word_len = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(after.len());
        let replacement = match after[..word_len].to_ascii_lowercase().as_str() {
            "true" => Some("'True'"),
            "false" => Some("'False'"),
            _ => None,
        };
        match replacement {
            Some(r) => {
                out.push_str(r);
                rest = &after[word_len..];
            }
            None => {
                out.push('$');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parse(args: &[&str]) -> Result<Value, ParamError> {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        from_cli_args(&args).map(Value::Object)
    }

    #[test]
    fn names_values_and_switches() {
        assert_eq!(
            parse(&[
                "-Identity",
                "alice@contoso.com",
                "-ResultSize",
                "Unlimited",
                "-Archive"
            ])
            .unwrap(),
            json!({"Identity": "alice@contoso.com", "ResultSize": "Unlimited", "Archive": true})
        );
        assert_eq!(
            parse(&["-Confirm:$false", "-Force", "-Count", "25"]).unwrap(),
            json!({"Confirm": false, "Force": true, "Count": 25})
        );
        assert_eq!(parse(&[]).unwrap(), json!({}));
        assert_eq!(
            parse(&["-Offset", "-5", "-Note:-x", "-Empty", ""]).unwrap(),
            json!({"Offset": -5, "Note": "-x", "Empty": ""})
        );
        assert_eq!(
            parse(&[
                "-RecipientTypeDetails",
                "UserMailbox,SharedMailbox",
                "-EmailAddresses",
                "@{Add='a@contoso.com'}"
            ])
            .unwrap(),
            json!({
                "RecipientTypeDetails": ["UserMailbox", "SharedMailbox"],
                "EmailAddresses": {"@odata.type": "#Exchange.GenericHashTable", "Add": "a@contoso.com"}
            })
        );
    }

    #[test]
    fn filters_are_text_with_booleans_rewritten() {
        assert_eq!(
            parse(&[
                "-Filter",
                "HiddenFromAddressListsEnabled -eq $True -and Name -like 'a,b*'"
            ])
            .unwrap(),
            json!({"Filter": "HiddenFromAddressListsEnabled -eq 'True' -and Name -like 'a,b*'"})
        );
        assert_eq!(
            parse(&[
                "-RecipientFilter",
                "X -ne $false -and Y -eq $trueish -and $"
            ])
            .unwrap(),
            json!({"RecipientFilter": "X -ne 'False' -and Y -eq $trueish -and $"})
        );
    }

    #[test]
    fn mistakes_get_clear_errors() {
        let e = parse(&["alice"]).unwrap_err();
        assert_eq!(
            e,
            ParamError::ValueWithoutName {
                value: "alice".into()
            }
        );
        assert!(e.to_string().contains("-Identity alice"), "{e}");

        let e = parse(&["-Identity", "a", "b"]).unwrap_err();
        assert_eq!(e, ParamError::ValueWithoutName { value: "b".into() });

        for bad in ["--Identity", "-", "-Na.me", "-:x"] {
            let e = parse(&[bad, "x"]).unwrap_err();
            assert!(matches!(e, ParamError::BadName { .. }), "{bad}: {e}");
        }

        let e = parse(&["-Identity", "a", "-identity", "b"]).unwrap_err();
        assert!(e.to_string().contains("more than once"), "{e}");

        let e = parse(&["-EmailAddresses", "@{Add='x'"]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the value of -EmailAddresses cannot be read: the hashtable opened at character 1 is never closed with '}' in `@{Add='x'`"
        );
    }
}
