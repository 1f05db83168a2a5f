//! Binds command-line arguments to a cmdlet's parameters the way PowerShell does, by the types in
//! the [catalogue](super::catalogue): a bare `-Name` only for a switch, `-Name:$false` to turn one
//! off, `$true`/`$false` for booleans, numbers for integers, `a,b` lists only where a parameter
//! takes several values, values without a name bound by position, and names shortened as long as
//! they stay unambiguous. Anything that does not fit is refused before a request is sent, with
//! the fix — in bash an unquoted `$false` disappears, and sending the switch form instead would
//! change the tenant the opposite way.

use serde_json::Value;

use super::catalogue::{Catalogue, Cmdlet, Kind, Lookup, Parameter};
use super::date_value::is_date;
use super::params::{self, Arg, ParamError, Parameters};

/// PowerShell's common parameters: they steer the local shell, not the cmdlet, so they are left
/// out of the request (with a warning), whether they take a value or not.
const COMMON: [(&str, bool); 13] = [
    ("Verbose", false),
    ("Debug", false),
    ("ErrorAction", true),
    ("WarningAction", true),
    ("InformationAction", true),
    ("ProgressAction", true),
    ("ErrorVariable", true),
    ("WarningVariable", true),
    ("InformationVariable", true),
    ("OutVariable", true),
    ("OutBuffer", true),
    ("PipelineVariable", true),
    ("UseTransaction", false),
];

/// Parameters ready to send, with what the admin should know about how they were read.
#[derive(Debug)]
pub struct Binding {
    /// The cmdlet as the catalogue knows it (canonical name, surface), if it does.
    pub cmdlet: Option<&'static Cmdlet>,
    /// The parameters, under their full names.
    pub params: Parameters,
    /// Things that were not errors but deserve a line on stderr (an uncatalogued cmdlet, a
    /// common parameter left out).
    pub warnings: Vec<String>,
}

/// Binds arguments for `cmdlet`: by its types when the catalogue knows it, else as plain
/// PowerShell syntax with a warning that the parameters were not checked.
pub fn bind(cmdlet: &str, args: &[String]) -> Result<Binding, ParamError> {
    let (args, warnings) = without_prompts(cmdlet, args)?;
    let mut binding = bind_checked(cmdlet, &args)?;
    binding.warnings.splice(0..0, warnings);
    Ok(binding)
}

/// The arguments without PowerShell's `-WhatIf` and `-Confirm`, which steer prompts and
/// rehearsals exorun does its own way: `-WhatIf` is refused for `--dry-run`, `-Confirm` (a
/// prompt exorun would never show) is refused, and `-Confirm:$false` is left out with a warning.
fn without_prompts(
    cmdlet: &str,
    args: &[String],
) -> Result<(Vec<String>, Vec<String>), ParamError> {
    let mut kept = Vec::new();
    let mut warnings = Vec::new();
    for arg in args {
        let Ok(params::Arg::Name { name, inline }) = params::classify(arg) else {
            kept.push(arg.clone());
            continue;
        };
        let is = |names: [&str; 2]| names.iter().any(|n| n.eq_ignore_ascii_case(name));
        if is(["WhatIf", "wi"]) {
            return Err(ParamError::WhatIf {
                cmdlet: cmdlet.to_string(),
            });
        }
        if is(["Confirm", "cf"]) {
            if inline == Some("") {
                return Err(ParamError::EmptyAfterColon {
                    name: name.to_string(),
                    boolean: true,
                });
            }
            match inline.map(parse_bool) {
                Some(Some(false)) => warnings.push(format!(
                    "-{name}:$false is left out: exorun never asks before a change"
                )),
                _ => {
                    return Err(ParamError::Confirm {
                        cmdlet: cmdlet.to_string(),
                    });
                }
            }
            continue;
        }
        kept.push(arg.clone());
    }
    Ok((kept, warnings))
}

/// [`bind`] once `-WhatIf` and `-Confirm` are dealt with.
fn bind_checked(cmdlet: &str, args: &[String]) -> Result<Binding, ParamError> {
    let catalogue = Catalogue::get();
    match catalogue.cmdlet(cmdlet) {
        Some(known) => bind_typed(known, args),
        None => {
            let closest = catalogue.closest_cmdlets(cmdlet);
            let hint = match closest.as_slice() {
                [] => String::new(),
                names => format!(" (did you mean {}?)", names.join(", ")),
            };
            Ok(Binding {
                cmdlet: None,
                params: params::from_cli_args(args)?,
                warnings: vec![format!(
                    "{cmdlet} is not in exorun's parameter catalogue, so its parameters were not checked{hint}"
                )],
            })
        }
    }
}

/// Binds arguments by the cmdlet's parameter types.
pub fn bind_typed(cmdlet: &'static Cmdlet, args: &[String]) -> Result<Binding, ParamError> {
    let mut binding = Binding {
        cmdlet: Some(cmdlet),
        params: Parameters::new(),
        warnings: Vec::new(),
    };
    let mut positional = Vec::new();
    let mut last_switch: Option<&str> = None;
    let mut iter = args.iter().peekable();
    while let Some(arg) = iter.next() {
        let (name, inline) = match params::classify(arg)? {
            Arg::Value(value) => {
                if let Some(switch) = last_switch.filter(|_| looks_boolean(value)) {
                    return Err(ParamError::SwitchValue {
                        switch: switch.to_string(),
                        value: value.to_string(),
                    });
                }
                positional.push(value);
                continue;
            }
            Arg::Name { name, inline } => (name, inline),
        };
        last_switch = None;
        let parameter = match cmdlet.parameter(name) {
            Lookup::Found(parameter) => parameter,
            Lookup::Ambiguous(candidates) => {
                return Err(ParamError::Ambiguous {
                    cmdlet: cmdlet.name.clone(),
                    name: name.to_string(),
                    candidates: candidates.into_iter().map(String::from).collect(),
                });
            }
            Lookup::Unknown => {
                if let Some((common, takes_value)) =
                    COMMON.iter().find(|(c, _)| c.eq_ignore_ascii_case(name))
                {
                    if *takes_value && inline.is_none() {
                        iter.next_if(|next| !params::is_parameter_name(next));
                    }
                    binding.warnings.push(format!(
                        "-{common} is a PowerShell common parameter: exorun leaves it out (errors always stop the command)"
                    ));
                    continue;
                }
                return Err(ParamError::UnknownParameter {
                    cmdlet: cmdlet.name.clone(),
                    name: name.to_string(),
                    suggestions: cmdlet
                        .closest_parameters(name)
                        .into_iter()
                        .map(String::from)
                        .collect(),
                });
            }
        };
        if inline == Some("") {
            return Err(ParamError::EmptyAfterColon {
                name: parameter.name.clone(),
                boolean: matches!(parameter.kind, Kind::Switch | Kind::Bool),
            });
        }
        let value = if parameter.kind == Kind::Switch {
            last_switch = inline.is_none().then_some(parameter.name.as_str());
            match inline {
                None => Value::Bool(true),
                Some(text) => Value::Bool(
                    parse_bool(text)
                        .ok_or_else(|| wrong(parameter, text, "$true or $false after the colon"))?,
                ),
            }
        } else {
            let text = match inline {
                Some(text) => text,
                None => iter
                    .next_if(|next| !params::is_parameter_name(next))
                    .ok_or_else(|| ParamError::MissingValue {
                        name: parameter.name.clone(),
                        boolean: parameter.kind == Kind::Bool,
                    })?,
            };
            convert(parameter, text)?
        };
        params::insert(&mut binding.params, &parameter.name, value)?;
    }
    bind_positional(cmdlet, &positional, &mut binding.params)?;
    Ok(binding)
}

/// Gives values without a name to the positional parameters not named already, in order.
fn bind_positional(
    cmdlet: &Cmdlet,
    values: &[&str],
    params: &mut Parameters,
) -> Result<(), ParamError> {
    let free: Vec<&Parameter> = cmdlet
        .positional()
        .into_iter()
        .filter(|p| !params.keys().any(|k| k.eq_ignore_ascii_case(&p.name)))
        .collect();
    let mut free = free.into_iter();
    for value in values {
        let Some(parameter) = free.next() else {
            return Err(ParamError::ValueWithoutName {
                value: value.to_string(),
            });
        };
        let converted = convert(parameter, value)?;
        params.insert(parameter.name.clone(), converted);
    }
    Ok(())
}

fn wrong(parameter: &Parameter, value: &str, expected: &str) -> ParamError {
    ParamError::WrongType {
        name: parameter.name.clone(),
        value: value.to_string(),
        expected: expected.to_string(),
    }
}

/// `$true`, `true`, `1` and their opposites, any case.
fn parse_bool(text: &str) -> Option<bool> {
    match text
        .trim()
        .trim_start_matches('$')
        .to_ascii_lowercase()
        .as_str()
    {
        "true" | "1" => Some(true),
        "false" | "0" => Some(false),
        _ => None,
    }
}

fn looks_boolean(text: &str) -> bool {
    text.starts_with('$') && parse_bool(text).is_some()
}

/// One value for one parameter, by its kind.
fn convert(parameter: &Parameter, text: &str) -> Result<Value, ParamError> {
    let value = params::parse_value(&parameter.name, text)?;
    if value.is_null() {
        return Ok(value);
    }
    let wrong = |expected: &str| wrong(parameter, text, expected);
    Ok(match &parameter.kind {
        Kind::Switch | Kind::Bool => Value::Bool(match &value {
            Value::Bool(b) => *b,
            _ => parse_bool(text).ok_or_else(|| wrong("$true or $false"))?,
        }),
        Kind::Integer => match value {
            Value::Number(n) if n.is_i64() || n.is_u64() => Value::Number(n),
            _ => return Err(wrong("a whole number")),
        },
        Kind::Unlimited => match value {
            Value::Number(n) if n.as_u64().is_some() => Value::Number(n),
            Value::String(s) if s.eq_ignore_ascii_case("unlimited") => "Unlimited".into(),
            _ => return Err(wrong("a whole number or Unlimited")),
        },
        Kind::Choice(choices) => {
            let given = scalar_text(&value).ok_or_else(|| wrong("one value"))?;
            match choices.iter().find(|c| c.eq_ignore_ascii_case(&given)) {
                Some(choice) => Value::String(choice.clone()),
                None => return Err(wrong(&format!("one of {}", choices.join(", ")))),
            }
        }
        Kind::DateTime => match scalar_text(&value) {
            Some(date) if is_date(&date) => Value::String(date),
            _ => {
                return Err(ParamError::NotADate {
                    name: parameter.name.clone(),
                    value: text.to_string(),
                });
            }
        },
        Kind::List => match value {
            Value::Array(items) => Value::Array(
                items
                    .into_iter()
                    .map(|item| scalar_text(&item).map_or(item, Value::String))
                    .collect(),
            ),
            Value::Object(_) => value,
            other => scalar_text(&other).map_or(other, Value::String),
        },
        Kind::Text => match &value {
            Value::Array(_) => {
                return Err(ParamError::ListForOne {
                    name: parameter.name.clone(),
                    value: text.to_string(),
                });
            }
            Value::Object(_) => return Err(wrong("text, not a hashtable")),
            other => Value::String(scalar_text(other).unwrap_or_default()),
        },
    })
}

/// A scalar as the text PowerShell would make of it (`$true` is `True`); `None` for lists and
/// hashtables.
fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(true) => Some("True".into()),
        Value::Bool(false) => Some("False".into()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn run(cmdlet: &str, args: &[&str]) -> Result<Binding, ParamError> {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        bind(cmdlet, &args)
    }

    fn params(cmdlet: &str, args: &[&str]) -> Value {
        Value::Object(run(cmdlet, args).unwrap().params)
    }

    #[test]
    fn a_bare_boolean_is_refused_with_the_bash_fix() {
        // What bash makes of `-HiddenFromAddressListsEnabled $false` typed unquoted.
        let e = run(
            "Set-Mailbox",
            &[
                "-Identity",
                "ann@contoso.com",
                "-HiddenFromAddressListsEnabled",
            ],
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "-HiddenFromAddressListsEnabled needs a value: $true or $false. In bash write '$false' in single quotes, or -HiddenFromAddressListsEnabled:false"
        );
        let e = run(
            "Set-Mailbox",
            &["-Identity", "-HiddenFromAddressListsEnabled:$false"],
        )
        .unwrap_err();
        assert!(
            matches!(e, ParamError::MissingValue { boolean: false, .. }),
            "{e}"
        );
        assert!(e.to_string().contains("'$null'"), "{e}");
    }

    #[test]
    fn booleans_switches_numbers_and_lists_bind_by_type() {
        assert_eq!(
            params(
                "set-mailbox",
                &[
                    "-identity",
                    "ann",
                    "-HiddenFromAddressListsEnabled:false",
                    "-ProhibitSendQuota",
                    "50 GB"
                ]
            ),
            json!({"Identity": "ann", "HiddenFromAddressListsEnabled": false, "ProhibitSendQuota": "50 GB"})
        );
        for (given, sent) in [
            ("$true", true),
            ("true", true),
            ("$FALSE", false),
            ("0", false),
        ] {
            assert_eq!(
                params("Set-Mailbox", &["-HiddenFromAddressListsEnabled", given]),
                json!({"HiddenFromAddressListsEnabled": sent}),
                "{given}"
            );
        }
        assert_eq!(
            params("Get-Mailbox", &["-Archive", "-ResultSize", "unlimited"]),
            json!({"Archive": true, "ResultSize": "Unlimited"})
        );
        assert_eq!(
            params("Get-Mailbox", &["-Archive:$false", "-ResultSize", "25"]),
            json!({"Archive": false, "ResultSize": 25})
        );
        assert_eq!(
            params(
                "Get-Mailbox",
                &["-RecipientTypeDetails", "UserMailbox,SharedMailbox"]
            ),
            json!({"RecipientTypeDetails": ["UserMailbox", "SharedMailbox"]})
        );
        assert_eq!(
            params(
                "Set-Mailbox",
                &[
                    "-Identity",
                    "12345",
                    "-EmailAddresses",
                    "@{Add='a@contoso.com'}"
                ]
            ),
            json!({"Identity": "12345", "EmailAddresses": {"@odata.type": "#Exchange.GenericHashTable", "Add": "a@contoso.com"}})
        );
        assert_eq!(
            params(
                "Set-Mailbox",
                &["-Identity", "true", "-ForwardingSmtpAddress", "$null"]
            ),
            json!({"Identity": "true", "ForwardingSmtpAddress": null}),
            "a word is text for a text parameter; $null clears"
        );
    }

    #[test]
    fn positions_prefixes_and_common_parameters() {
        assert_eq!(
            params("Get-Mailbox", &["ann@contoso.com", "-ResultS", "1"]),
            json!({"ResultSize": 1, "Identity": "ann@contoso.com"})
        );
        let bound = run("Get-Mailbox", &["-ErrorAction", "Stop", "-Verbose"]).unwrap();
        assert!(bound.params.is_empty());
        assert_eq!(bound.warnings.len(), 2);
        assert!(bound.warnings[0].contains("-ErrorAction is a PowerShell common parameter"));
        let e = run("Get-Mailbox", &["a", "b"]).unwrap_err();
        assert_eq!(e, ParamError::ValueWithoutName { value: "b".into() });
    }

    #[test]
    fn wrong_names_and_types_are_refused_with_the_fix() {
        let e = run("Set-Mailbox", &["-HiddenFromAddressListEnabled:$false"]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Set-Mailbox has no parameter -HiddenFromAddressListEnabled; did you mean -HiddenFromAddressListsEnabled?\n  fix: check the spelling against the cmdlet's reference (https://learn.microsoft.com/powershell/module/exchange/set-mailbox)"
        );
        let e = run("Get-Mailbox", &["-In"]).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("-In is ambiguous for Get-Mailbox: it could be -"),
            "{e}"
        );
        let e = run("Get-Mailbox", &["-ResultSize", "all"]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "-ResultSize takes a whole number or Unlimited, not 'all'"
        );
        let e = run("Set-Mailbox", &["-HiddenFromAddressListsEnabled", "yes"]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "-HiddenFromAddressListsEnabled takes $true or $false, not 'yes'"
        );
        let e = run("Get-Mailbox", &["-Archive:maybe"]).unwrap_err();
        assert!(
            e.to_string().contains("$true or $false after the colon"),
            "{e}"
        );
        let e = run("Get-Mailbox", &["-Archive", "$false"]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "-Archive is a switch and does not take '$false' after a space: write -Archive:$false (in bash '-Archive:$false'), or leave the value out"
        );
        let e = run("Set-Mailbox", &["-Identity", "Smith, John"]).unwrap_err();
        assert!(matches!(e, ParamError::ListForOne { .. }), "{e}");
        assert_eq!(
            params("Set-Mailbox", &["-Identity", "'Smith, John'"]),
            json!({"Identity": "Smith, John"})
        );
        let e = run("New-MailContact", &["-MessageFormat", "Html"]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "-MessageFormat takes one of Text, Mime, not 'Html'"
        );
        assert_eq!(
            params("New-MailContact", &["-MessageFormat", "mime"]),
            json!({"MessageFormat": "Mime"})
        );
    }

    #[test]
    fn an_uncatalogued_cmdlet_is_bound_as_before_with_a_warning() {
        let bound = run("Get-Mailboxx", &["-Identity", "ann", "-Archive"]).unwrap();
        assert!(bound.cmdlet.is_none());
        assert_eq!(
            Value::Object(bound.params),
            json!({"Identity": "ann", "Archive": true})
        );
        assert_eq!(
            bound.warnings,
            [
                "Get-Mailboxx is not in exorun's parameter catalogue, so its parameters were not checked (did you mean Get-Mailbox?)"
            ]
        );
    }
}
