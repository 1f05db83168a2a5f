//! Cmdlet parameters as InvokeCommand wants them (docs/protocol.md §1.3), and the parser that turns
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
    /// The cmdlet has no parameter of that name.
    #[error("{cmdlet} has no parameter -{name}{}\n  fix: check the spelling against the cmdlet's reference (https://learn.microsoft.com/powershell/module/exchange/{})", did_you_mean(.suggestions), .cmdlet.to_ascii_lowercase())]
    UnknownParameter {
        /// The cmdlet.
        cmdlet: String,
        /// The name as given.
        name: String,
        /// The closest real names, best first.
        suggestions: Vec<String>,
    },
    /// A shortened name that fits several parameters.
    #[error("-{name} is ambiguous for {cmdlet}: it could be -{}; write more of the name", .candidates.join(", -"))]
    Ambiguous {
        /// The cmdlet.
        cmdlet: String,
        /// The name as given.
        name: String,
        /// The parameters it could mean.
        candidates: Vec<String>,
    },
    /// A parameter that needs a value has none (bash drops an unquoted `$false` or `$null`).
    #[error("{}", missing_value(.name, *.boolean))]
    MissingValue {
        /// The parameter.
        name: String,
        /// Whether it takes `$true`/`$false`.
        boolean: bool,
    },
    /// A value of the wrong type.
    #[error("-{name} takes {expected}, not '{value}'")]
    WrongType {
        /// The parameter.
        name: String,
        /// The value as given.
        value: String,
        /// What it takes, in words.
        expected: String,
    },
    /// A `DateTime` parameter given text that is not a date.
    #[error("-{name} takes a date, not '{value}': write {forms}", forms = super::date_value::DATE_FORMS)]
    NotADate {
        /// The parameter.
        name: String,
        /// The value as given.
        value: String,
    },
    /// A list given to a parameter that takes one value.
    #[error(
        "-{name} takes one value, not a list ('{value}'): if the comma is part of the text, quote it, e.g. -{name} \"'Smith, John'\""
    )]
    ListForOne {
        /// The parameter.
        name: String,
        /// The value as given.
        value: String,
    },
    /// A value after a switch, separated by a space (PowerShell would not bind it either).
    #[error(
        "-{switch} is a switch and does not take '{value}' after a space: write -{switch}:{value} (in bash '-{switch}:$false'), or leave the value out"
    )]
    SwitchValue {
        /// The switch.
        switch: String,
        /// The value that followed it.
        value: String,
    },
    /// `-Name:` with nothing after the colon (bash drops an unquoted `$false` or `$null`).
    #[error("{}", empty_after_colon(.name, *.boolean))]
    EmptyAfterColon {
        /// The parameter.
        name: String,
        /// Whether it takes `$true`/`$false`.
        boolean: bool,
    },
    /// `-WhatIf`: PowerShell's rehearsal, which exorun does with `--dry-run`.
    #[error(
        "-WhatIf is PowerShell's rehearsal: exorun's is --dry-run, which records the change in the audit log and shows it without sending it\n  fix: write `exorun invoke --dry-run {cmdlet} …` without -WhatIf"
    )]
    WhatIf {
        /// The cmdlet.
        cmdlet: String,
    },
    /// `-Confirm` (or `-Confirm:$true`): a prompt before the change, which exorun never shows.
    #[error(
        "-Confirm asks for a prompt before the change, and exorun never asks before a change: it runs unattended\n  fix: rehearse with `exorun invoke --dry-run {cmdlet} …` first, then run it without -Confirm"
    )]
    Confirm {
        /// The cmdlet.
        cmdlet: String,
    },
    /// A value ending in a comma: bash split `a, b` at the space into two arguments.
    #[error(
        "-{name} has a list that ends with a comma ('{value}'): bash splits `a, b` at the space into two arguments; write the list without spaces (a,b), or quote it whole ('a, b')"
    )]
    TrailingComma {
        /// The parameter.
        name: String,
        /// The value as given.
        value: String,
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

/// One command-line argument: a parameter name (with its `:value`, if written so) or a value.
#[derive(Debug, PartialEq)]
pub(super) enum Arg<'a> {
    /// `-Name` or `-Name:value`.
    Name {
        /// The name without its dash.
        name: &'a str,
        /// The value after the colon.
        inline: Option<&'a str>,
    },
    /// Anything else (negative numbers included).
    Value(&'a str),
}

fn did_you_mean(suggestions: &[String]) -> String {
    match suggestions {
        [] => String::new(),
        [one] => format!("; did you mean -{one}?"),
        many => format!("; did you mean one of -{}?", many.join(", -")),
    }
}

fn missing_value(name: &str, boolean: bool) -> String {
    if boolean {
        format!(
            "-{name} needs a value: $true or $false. In bash write '$false' in single quotes, or -{name}:false"
        )
    } else {
        format!(
            "-{name} needs a value. In bash an unquoted $word (such as $null) becomes nothing: write it in single quotes, e.g. -{name} '$null'"
        )
    }
}

fn empty_after_colon(name: &str, boolean: bool) -> String {
    if boolean {
        format!(
            "-{name}: has nothing after the colon: in bash an unquoted $false becomes nothing; write -{name}:'$false' in single quotes, or -{name}:false"
        )
    } else {
        format!(
            "-{name}: has nothing after the colon: in bash an unquoted $word (such as $null) becomes nothing; write it in single quotes, e.g. -{name}:'$null'"
        )
    }
}

/// Tells a parameter name from a value.
pub(super) fn classify(arg: &str) -> Result<Arg<'_>, ParamError> {
    let Some(spec) = arg.strip_prefix('-').filter(|rest| starts_name(rest)) else {
        if arg.starts_with('-') && !is_negative_number(arg) {
            return Err(ParamError::BadName {
                arg: arg.to_string(),
            });
        }
        return Ok(Arg::Value(arg));
    };
    let (name, inline) = match spec.split_once(':') {
        Some((name, value)) => (name, Some(value)),
        None => (spec, None),
    };
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(ParamError::BadName {
            arg: arg.to_string(),
        });
    }
    Ok(Arg::Name { name, inline })
}

/// Parses PowerShell-style arguments without knowing the cmdlet: `-Name value`, `-Name:value`,
/// and `-Switch` (true when no value follows). This is how parameters of a cmdlet missing from
/// the catalogue are read; [`super::binding`] binds catalogued ones by their types.
pub fn from_cli_args(args: &[String]) -> Result<Parameters, ParamError> {
    let mut params = Parameters::new();
    let mut iter = args.iter().peekable();
    while let Some(arg) = iter.next() {
        let (name, inline) = match classify(arg)? {
            Arg::Value(value) => {
                return Err(ParamError::ValueWithoutName {
                    value: value.to_string(),
                });
            }
            Arg::Name { name, inline } => (name, inline),
        };
        let text = match inline {
            Some("") => {
                return Err(ParamError::EmptyAfterColon {
                    name: name.to_string(),
                    boolean: false,
                });
            }
            Some(value) => Some(value.to_string()),
            None => iter.next_if(|next| !is_parameter_name(next)).cloned(),
        };
        let value = match text {
            None => Value::Bool(true),
            Some(text) => parse_value(name, &text)?,
        };
        insert(&mut params, name, value)?;
    }
    Ok(params)
}

/// Adds a parameter, refusing a second one of the same name (any case).
pub(super) fn insert(params: &mut Parameters, name: &str, value: Value) -> Result<(), ParamError> {
    if params.keys().any(|k| k.eq_ignore_ascii_case(name)) {
        return Err(ParamError::Duplicate {
            name: name.to_string(),
        });
    }
    params.insert(name.to_string(), value);
    Ok(())
}

fn starts_name(text: &str) -> bool {
    text.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
}

/// True for `-Name` and `-Name:value` (not for `-5`).
pub(super) fn is_parameter_name(arg: &str) -> bool {
    arg.strip_prefix('-').is_some_and(starts_name)
}

fn is_negative_number(arg: &str) -> bool {
    arg.strip_prefix('-')
        .is_some_and(|d| !d.is_empty() && d.chars().all(|c| c.is_ascii_digit()))
}

/// Reads one parameter's value in PowerShell's syntax (filters as text).
pub(super) fn parse_value(name: &str, text: &str) -> Result<Value, ParamError> {
    if FILTER_PARAMETERS
        .iter()
        .any(|f| f.eq_ignore_ascii_case(name))
    {
        return Ok(Value::String(rewrite_filter(text)));
    }
    if text.trim_end().ends_with(',') {
        return Err(ParamError::TrailingComma {
            name: name.to_string(),
            value: text.to_string(),
        });
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
