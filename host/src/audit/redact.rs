//! Secret parameter values kept out of the audit log: a value is replaced by [`REDACTED`] when
//! the catalogue types its parameter as a secret (`SecureString`, `PSCredential`) or the name
//! says it is one (it contains Password, Secret or Token, in any case). Names inside a
//! hashtable value (`@{Password=…}`) are checked by the same rule.

use serde_json::{Map, Value};

use crate::exchange::catalogue::{Catalogue, Cmdlet, Lookup};

/// What a secret value is replaced by.
pub const REDACTED: &str = "[redacted]";

/// Words that make a parameter's value a secret whatever its type.
const SECRET_WORDS: [&str; 3] = ["password", "secret", "token"];

/// `params` of `cmdlet` with every secret value replaced by [`REDACTED`].
pub fn redact(cmdlet: &str, params: &Map<String, Value>) -> Map<String, Value> {
    let known = Catalogue::get().cmdlet(cmdlet);
    params
        .iter()
        .map(|(name, value)| {
            let value = if is_secret(known, name) {
                Value::String(REDACTED.into())
            } else {
                redact_inside(value)
            };
            (name.clone(), value)
        })
        .collect()
}

/// `text` (a message that may quote a value back, such as the service's error) with each secret
/// value of `params` of `cmdlet` replaced by [`REDACTED`].
pub fn scrub(cmdlet: &str, params: &Map<String, Value>, text: &str) -> String {
    let known = Catalogue::get().cmdlet(cmdlet);
    let mut secrets = Vec::new();
    for (name, value) in params {
        if is_secret(known, name) {
            strings(value, &mut secrets);
        } else {
            secrets_inside(value, &mut secrets);
        }
    }
    secrets
        .into_iter()
        .filter(|secret| !secret.is_empty())
        .fold(text.to_string(), |text, secret| {
            text.replace(secret, REDACTED)
        })
}

/// Every string in `value`.
fn strings<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
    match value {
        Value::String(text) => out.push(text),
        Value::Array(items) => items.iter().for_each(|item| strings(item, out)),
        Value::Object(map) => map.values().for_each(|item| strings(item, out)),
        _ => {}
    }
}

/// The strings under secret names inside `value`'s objects.
fn secrets_inside<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                if secret_name(key) {
                    strings(inner, out);
                } else {
                    secrets_inside(inner, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| secrets_inside(item, out)),
        _ => {}
    }
}

/// Whether the parameter `name` of `cmdlet` (if the catalogue knows it) holds a secret.
fn is_secret(cmdlet: Option<&Cmdlet>, name: &str) -> bool {
    secret_name(name)
        || cmdlet.is_some_and(|c| matches!(c.parameter(name), Lookup::Found(p) if p.is_secret()))
}

fn secret_name(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    SECRET_WORDS.iter().any(|word| name.contains(word))
}

/// A value with the secrets inside its objects (hashtables) and lists redacted.
fn redact_inside(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, inner)| {
                    let inner = if secret_name(key) {
                        Value::String(REDACTED.into())
                    } else {
                        redact_inside(inner)
                    };
                    (key.clone(), inner)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(redact_inside).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn params(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn secrets_by_type_and_by_name_are_redacted_and_nothing_else() {
        let redacted = redact(
            "Set-Mailbox",
            &params(json!({
                "Identity": "room1",
                "Password": "P@ssw0rd!",
                "RoomMailboxPassword": "hunter2",
                "HiddenFromAddressListsEnabled": true,
            })),
        );
        assert_eq!(
            Value::Object(redacted),
            json!({
                "Identity": "room1",
                "Password": REDACTED,
                "RoomMailboxPassword": REDACTED,
                "HiddenFromAddressListsEnabled": true,
            })
        );
        let unknown = redact(
            "New-SomethingUnknown",
            &params(json!({
                "ClientSecret": "s3cret",
                "apitoken": "t0ken",
                "Settings": {"AdminPassword": "x", "Name": "y"},
                "List": [{"refresh_token": "z"}],
                "Name": "kept",
            })),
        );
        assert_eq!(
            Value::Object(unknown),
            json!({
                "ClientSecret": REDACTED,
                "apitoken": REDACTED,
                "Settings": {"AdminPassword": REDACTED, "Name": "y"},
                "List": [{"refresh_token": REDACTED}],
                "Name": "kept",
            })
        );
    }

    #[test]
    fn messages_that_quote_a_secret_back_are_scrubbed() {
        let given = params(json!({
            "Identity": "room1",
            "Password": "P@ssw0rd!",
            "Settings": {"ApiToken": ["t-123"]},
        }));
        assert_eq!(
            scrub(
                "Set-Mailbox",
                &given,
                "Cannot bind 'P@ssw0rd!' (or t-123) for room1"
            ),
            "Cannot bind '[redacted]' (or [redacted]) for room1"
        );
    }

    #[test]
    fn the_catalogue_types_decide_for_names_without_a_secret_word() {
        let cmdlet = Catalogue::get()
            .cmdlets()
            .iter()
            .find(|c| {
                c.parameters
                    .iter()
                    .any(|p| p.type_name == "PSCredential" && !secret_name(&p.name))
            })
            .expect("a cmdlet with a PSCredential parameter");
        let parameter = cmdlet
            .parameters
            .iter()
            .find(|p| p.type_name == "PSCredential")
            .unwrap();
        let mut given = Map::new();
        given.insert(parameter.name.clone(), "user:pass".into());
        let redacted = redact(&cmdlet.name, &given);
        assert_eq!(redacted[&parameter.name], REDACTED, "{}", cmdlet.name);
    }
}
