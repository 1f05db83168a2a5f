//! One name, one value: a plugin's parameter object turned into the parameters the gate checks
//! and sends. PowerShell binds parameter names without regard to case, by alias and by an
//! unambiguous prefix, so `{"Identity": "ann", "identity": "room1"}` names one parameter twice
//! and the service would bind either value. Each name is resolved the way the service does (the
//! cmdlet catalogue; for a cmdlet it lacks, the grant's spelling in any case) and a parameter
//! named twice in any spelling is refused. What goes on to be checked and sent is built from the
//! resolved names only — the catalogue's spelling, one entry each, in name order — never the
//! plugin's object.

use std::collections::BTreeMap;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::{Map, Value};

use super::grant::GrantedCmdlet;
use super::rule::is_parameter_name;
use super::values::ValueCheck;
use crate::exchange::catalogue::{Cmdlet, Lookup, Parameter};
use crate::exchange::{HASHTABLE_TYPE, Parameters};

/// The only annotation a parameter may carry, after its name and an `@`.
const TYPE_ANNOTATION: &str = "odata.type";

/// The verbs of a hashtable that changes a list (`@{Add=…; Remove=…}`).
const LIST_VERBS: [&str; 2] = ["Add", "Remove"];

/// One parameter as checked: its canonical name, the value (a hashtable's keys in their
/// canonical spelling too), and what the grant and the catalogue say about it.
#[derive(Debug)]
pub struct Checked<'g, 'c> {
    /// The catalogue's spelling (for a cmdlet it lacks, the grant's).
    pub name: String,
    /// The value.
    pub value: Value,
    /// The `@odata.type` the plugin gave it, which agrees with the value.
    pub annotation: Option<String>,
    /// The operator's constraints on it.
    pub rule: &'g ValueCheck,
    /// The catalogue's entry, when the catalogue knows the cmdlet and the parameter.
    pub parameter: Option<&'c Parameter>,
}

/// A call's parameters, each once, by canonical name.
#[derive(Debug)]
pub struct Call<'g, 'c> {
    parameters: BTreeMap<String, Checked<'g, 'c>>,
}

/// Who is asking, for messages: the plugin and where its grant comes from.
pub struct Asker<'a> {
    /// The plugin's name.
    pub plugin: &'a str,
    /// Where its rights come from (`policy.toml line 12`).
    pub source: &'a str,
}

impl<'g, 'c> Call<'g, 'c> {
    /// Resolves each name of `given` (parameters of `cmdlet`) against the catalogue and the
    /// grant; the error says which name is wrong, not granted or given twice, and what to do.
    pub fn resolve(
        cmdlet: &str,
        granted: &'g GrantedCmdlet,
        catalogued: Option<&'c Cmdlet>,
        given: &Map<String, Value>,
        asker: &Asker<'_>,
    ) -> Result<Call<'g, 'c>, String> {
        let mut parameters: BTreeMap<String, Checked<'g, 'c>> = BTreeMap::new();
        let mut spelled: BTreeMap<String, &str> = BTreeMap::new();
        let mut annotations: Vec<(&str, String, &Value)> = Vec::new();
        for (key, value) in given {
            let (base, annotation) = match key.split_once('@') {
                Some((base, rest)) => (base, Some(rest)),
                None => (key.as_str(), None),
            };
            if !is_parameter_name(base) {
                return Err(format!(
                    "'{}' is not a parameter name (ASCII letters and digits only)",
                    key.escape_debug()
                ));
            }
            let (name, parameter) = canonical_name(cmdlet, granted, catalogued, base, asker)?;
            let rule = granted_rule(granted, catalogued, &name).ok_or_else(|| {
                format!(
                    "plugin {} is not granted the parameter -{name} of {cmdlet} ({})",
                    asker.plugin, asker.source
                )
            })?;
            if let Some(annotation) = annotation {
                if annotation != TYPE_ANNOTATION || !value.is_string() {
                    return Err(format!(
                        "'{}' is not allowed: a parameter may carry only its type, as {name}@{TYPE_ANNOTATION} with a text value",
                        key.escape_debug()
                    ));
                }
                if let Some((first, _, _)) = annotations.iter().find(|(_, n, _)| *n == name) {
                    return Err(format!(
                        "the type of -{name} of {cmdlet} is given twice (as '{first}' and '{key}'): give each parameter once"
                    ));
                }
                annotations.push((key, name, value));
                continue;
            }
            if let Some(first) = spelled.get(&name) {
                return Err(format!(
                    "-{name} of {cmdlet} is given twice (as '{first}' and '{key}'): give each parameter once"
                ));
            }
            spelled.insert(name.clone(), key);
            let value = canonical_value(cmdlet, &name, value)?;
            parameters.insert(
                name.clone(),
                Checked {
                    name,
                    value,
                    annotation: None,
                    rule,
                    parameter,
                },
            );
        }
        for (key, name, annotation) in annotations {
            let Some(checked) = parameters.get_mut(&name) else {
                return Err(format!(
                    "'{key}' gives the type of -{name} of {cmdlet}, which is not given: leave it out"
                ));
            };
            let annotation = annotation.as_str().unwrap_or_default();
            let (shape, types) = odata_types(&checked.value);
            if !types.contains(&annotation) {
                let expected = if types.is_empty() {
                    "it takes no type".to_string()
                } else {
                    types.join(" or ")
                };
                return Err(format!(
                    "'{key}' says {annotation}, but the value of -{name} of {cmdlet} is {shape} ({expected}): leave the type out or make it agree"
                ));
            }
            checked.annotation = Some(annotation.to_string());
        }
        Ok(Call { parameters })
    }

    /// The parameters, in name order.
    pub fn iter(&self) -> impl Iterator<Item = &Checked<'g, 'c>> {
        self.parameters.values()
    }

    /// The parameter `name` (its canonical spelling), if given.
    pub fn get(&self, name: &str) -> Option<&Checked<'g, 'c>> {
        self.parameters.get(name)
    }

    /// The parameters as they are sent: canonical names in name order, each value once, its
    /// type annotation beside it when the plugin gave one, a hashtable tagged as the service
    /// expects.
    pub fn to_parameters(&self) -> Parameters {
        let mut out = Parameters::new();
        for checked in self.parameters.values() {
            let value = match &checked.value {
                Value::Object(changes) => {
                    let mut tagged = Map::new();
                    tagged.insert("@odata.type".into(), Value::String(HASHTABLE_TYPE.into()));
                    tagged.extend(changes.clone());
                    Value::Object(tagged)
                }
                other => other.clone(),
            };
            out.insert(checked.name.clone(), value);
            if let Some(annotation) = &checked.annotation {
                out.insert(
                    format!("{}@{TYPE_ANNOTATION}", checked.name),
                    Value::String(annotation.clone()),
                );
            }
        }
        out
    }
}

/// The name the service binds `base` to, and the catalogue's entry for it: by the catalogue
/// (name or alias in any case, or an unambiguous prefix); for a parameter the catalogue lacks,
/// the grant's spelling of the same name in any case.
fn canonical_name<'c>(
    cmdlet: &str,
    granted: &GrantedCmdlet,
    catalogued: Option<&'c Cmdlet>,
    base: &str,
    asker: &Asker<'_>,
) -> Result<(String, Option<&'c Parameter>), String> {
    match catalogued.map(|c| c.parameter(base)) {
        Some(Lookup::Found(parameter)) => Ok((parameter.name.clone(), Some(parameter))),
        Some(Lookup::Ambiguous(names)) => Err(format!(
            "-{base} of {cmdlet} could be any of {}: give the whole name",
            names.join(", ")
        )),
        Some(Lookup::Unknown) | None => match granted.parameter(base) {
            Some((name, _)) => Ok((name.to_string(), None)),
            None => Err(format!(
                "plugin {} is not granted the parameter -{base} of {cmdlet} ({})",
                asker.plugin, asker.source
            )),
        },
    }
}

/// The grant's constraints on the parameter whose canonical name is `name`: the grant may
/// spell it in any case or by one of its aliases.
fn granted_rule<'g>(
    granted: &'g GrantedCmdlet,
    catalogued: Option<&Cmdlet>,
    name: &str,
) -> Option<&'g ValueCheck> {
    granted
        .parameters
        .iter()
        .find(|(spelled, _)| {
            spelled.eq_ignore_ascii_case(name)
                || catalogued.is_some_and(|c| {
                    matches!(c.parameter(spelled), Lookup::Found(p)
                        if p.name == name && p.aliases.iter().any(|a| a.eq_ignore_ascii_case(spelled)))
                })
        })
        .map(|(_, rule)| rule)
}

/// A value with a hashtable's keys in their canonical spelling (`Add`, `Remove`), each once,
/// holding values or lists of values; anything else as it is.
fn canonical_value(cmdlet: &str, name: &str, value: &Value) -> Result<Value, String> {
    let Value::Object(changes) = value else {
        return Ok(value.clone());
    };
    let mut out = Map::new();
    for (key, items) in changes {
        if key == "@odata.type" && items.as_str() == Some(HASHTABLE_TYPE) {
            continue;
        }
        let Some(verb) = LIST_VERBS.iter().find(|v| v.eq_ignore_ascii_case(key)) else {
            return Err(format!(
                "-{name} of {cmdlet}: '{}' is not Add or Remove: a list is changed with {{\"Add\": […], \"Remove\": […]}}",
                key.escape_debug()
            ));
        };
        let scalar = |v: &Value| !matches!(v, Value::Array(_) | Value::Object(_));
        let fits = match items {
            Value::Array(list) => list.iter().all(scalar),
            one => scalar(one),
        };
        if !fits {
            return Err(format!(
                "-{name} of {cmdlet}: {verb} takes a value or a list of values"
            ));
        }
        if out.insert((*verb).to_string(), items.clone()).is_some() {
            return Err(format!(
                "-{name} of {cmdlet} gives {verb} twice: give each of Add and Remove once"
            ));
        }
    }
    Ok(Value::Object(out))
}

/// What a value is, in words, and the `@odata.type`s that agree with it.
fn odata_types(value: &Value) -> (&'static str, &'static [&'static str]) {
    match value {
        Value::String(_) => ("text", &["#String"]),
        Value::Bool(_) => ("true or false", &["#Boolean"]),
        Value::Number(n) if n.is_i64() || n.is_u64() => ("a whole number", &["#Int32", "#Int64"]),
        Value::Number(_) => ("a number", &["#Double"]),
        Value::Array(items) if items.iter().all(Value::is_string) => {
            ("a list of text", &["#Collection(String)"])
        }
        Value::Array(_) => ("a list of mixed values", &[]),
        Value::Object(_) => ("a hashtable", &[HASHTABLE_TYPE]),
        Value::Null => ("$null", &[]),
    }
}

/// The names of a JSON object's members as written, repeats included, so a name given twice
/// in exactly the same spelling is caught too (a JSON parser keeps only the last).
pub fn names_as_written(text: &str) -> Result<Vec<String>, serde_json::Error> {
    struct Names(Vec<String>);
    impl<'de> Deserialize<'de> for Names {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Names, D::Error> {
            struct Collect;
            impl<'de> Visitor<'de> for Collect {
                type Value = Names;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("a JSON object")
                }
                fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Names, A::Error> {
                    let mut names = Vec::new();
                    while let Some((name, _)) = map.next_entry::<String, serde::de::IgnoredAny>()? {
                        names.push(name);
                    }
                    Ok(Names(names))
                }
            }
            deserializer.deserialize_map(Collect)
        }
    }
    serde_json::from_str::<Names>(text).map(|names| names.0)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::exchange::Catalogue;

    fn granted(names: &[&str]) -> GrantedCmdlet {
        GrantedCmdlet {
            name: "Set-MailboxAutoReplyConfiguration".into(),
            compliance: false,
            mutating: true,
            parameters: names
                .iter()
                .map(|n| (n.to_string(), ValueCheck::default()))
                .collect(),
        }
    }

    const ASKER: Asker<'static> = Asker {
        plugin: "p",
        source: "policy.toml line 3",
    };

    fn resolve(grant: &[&str], known: bool, given: Value) -> Result<Parameters, String> {
        let granted = granted(grant);
        let catalogued = known.then(|| {
            Catalogue::get()
                .cmdlet("Set-MailboxAutoReplyConfiguration")
                .unwrap()
        });
        Call::resolve(
            "Set-MailboxAutoReplyConfiguration",
            &granted,
            catalogued,
            given.as_object().unwrap(),
            &ASKER,
        )
        .map(|call| call.to_parameters())
    }

    #[test]
    fn names_are_sent_in_the_catalogues_spelling_once_each() {
        let grant = ["Identity", "AutoReplyState", "Confirm"];
        let sent = resolve(
            &grant,
            true,
            json!({"ident": "ann@contoso.com", "AUTOREPLYSTATE": "Enabled", "cf": false}),
        )
        .unwrap();
        assert_eq!(
            Value::Object(sent),
            json!({"AutoReplyState": "Enabled", "Confirm": false, "Identity": "ann@contoso.com"})
        );
        let sent = resolve(&["cf"], true, json!({"Confirm": false})).unwrap();
        assert_eq!(
            Value::Object(sent),
            json!({"Confirm": false}),
            "a grant by alias"
        );
    }

    #[test]
    fn a_parameter_named_twice_in_any_spelling_is_refused() {
        let grant = ["Identity", "Confirm"];
        for (given, message) in [
            (
                json!({"Identity": "a", "identity": "b"}),
                "-Identity of Set-MailboxAutoReplyConfiguration is given twice (as 'Identity' and 'identity'): give each parameter once",
            ),
            (
                json!({"Identity": "a", "Ident": "b"}),
                "given twice (as 'Identity' and 'Ident')",
            ),
            (
                json!({"cf": true, "Confirm": false}),
                "-Confirm of Set-MailboxAutoReplyConfiguration is given twice (as 'cf' and 'Confirm')",
            ),
            (
                json!({"Identıty": "b"}),
                "'Identıty' is not a parameter name (ASCII letters and digits only)",
            ),
            (json!({"Identity\u{200b}": "b"}), "is not a parameter name"),
            (
                json!({"Identity": "a", "Identity@odata.type": "#String", "identity@odata.type": "#String"}),
                "the type of -Identity of Set-MailboxAutoReplyConfiguration is given twice",
            ),
        ] {
            let e = resolve(&grant, true, given.clone()).unwrap_err();
            assert!(e.contains(message), "{given}: {e}");
        }
        let e = resolve(&grant, false, json!({"Identity": "a", "IDENTITY": "b"})).unwrap_err();
        assert!(
            e.contains("-Identity of Set-MailboxAutoReplyConfiguration is given twice"),
            "a cmdlet the catalogue lacks: case twins by the grant's spelling: {e}"
        );
    }

    #[test]
    fn a_type_annotation_must_agree_with_its_value() {
        let grant = ["Identity", "AutoReplyState"];
        let sent = resolve(
            &grant,
            true,
            json!({"identity": "a", "Identity@odata.type": "#String"}),
        )
        .unwrap();
        assert_eq!(
            Value::Object(sent),
            json!({"Identity": "a", "Identity@odata.type": "#String"})
        );
        let e = resolve(
            &grant,
            true,
            json!({"Identity": "a", "Identity@odata.type": "#Collection(Exchange.GenericHashTable)"}),
        )
        .unwrap_err();
        assert_eq!(
            e,
            "'Identity@odata.type' says #Collection(Exchange.GenericHashTable), but the value of -Identity of Set-MailboxAutoReplyConfiguration is text (#String): leave the type out or make it agree"
        );
        let e = resolve(
            &grant,
            true,
            json!({"AutoReplyState@odata.type": "#String"}),
        )
        .unwrap_err();
        assert!(e.contains("which is not given: leave it out"), "{e}");
        let e = resolve(&grant, true, json!({"Identity@odata.id": "x"})).unwrap_err();
        assert!(e.contains("may carry only its type"), "{e}");
    }

    #[test]
    fn a_hashtable_changes_a_list_with_add_and_remove_once_each() {
        let granted = GrantedCmdlet {
            name: "Set-Mailbox".into(),
            compliance: false,
            mutating: true,
            parameters: vec![("GrantSendOnBehalfTo".into(), ValueCheck::default())],
        };
        let set = Catalogue::get().cmdlet("Set-Mailbox");
        let call = |given: Value| {
            Call::resolve(
                "Set-Mailbox",
                &granted,
                set,
                given.as_object().unwrap(),
                &ASKER,
            )
            .map(|c| Value::Object(c.to_parameters()))
        };
        assert_eq!(
            call(json!({"GrantSendOnBehalfTo": {"add": ["a"], "REMOVE": "b"}})).unwrap(),
            json!({"GrantSendOnBehalfTo": {"@odata.type": HASHTABLE_TYPE, "Add": ["a"], "Remove": "b"}})
        );
        let e = call(json!({"GrantSendOnBehalfTo": {"Add": "a", "add": "b"}})).unwrap_err();
        assert!(e.contains("gives Add twice"), "{e}");
        let e = call(json!({"GrantSendOnBehalfTo": {"Replace": "a"}})).unwrap_err();
        assert!(e.contains("'Replace' is not Add or Remove"), "{e}");
        let e = call(json!({"GrantSendOnBehalfTo": {"Add": [["a"]]}})).unwrap_err();
        assert!(e.contains("Add takes a value or a list of values"), "{e}");
    }

    #[test]
    fn repeated_names_are_seen_as_written() {
        assert_eq!(
            names_as_written(r#"{"Identity": "a", "Identity": "b"}"#).unwrap(),
            ["Identity", "Identity"]
        );
    }
}
