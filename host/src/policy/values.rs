//! Checking one parameter value a plugin sends: first that it has the parameter's type (from
//! the cmdlet catalogue), then the operator's constraints on it (allowed values, patterns,
//! numeric bounds).

use regex::Regex;
use serde_json::Value;

use crate::exchange::catalogue::Kind;
use crate::exchange::date_value::{DATE_FORMS, is_date};
use crate::wildcard::{Syntax, Wildcard};

/// The operator's constraints on one parameter, ready to check values.
#[derive(Clone, Debug, Default)]
pub struct ValueCheck {
    /// The parameter must be given.
    pub required: bool,
    /// Allowed values.
    pub values: Option<Vec<Value>>,
    /// Wildcard patterns (as written, for messages) and what they compiled to.
    pub globs: Vec<Wildcard>,
    /// Regular expressions as written and compiled (anchored).
    pub regexes: Vec<(String, Regex)>,
    /// Smallest number allowed.
    pub min: Option<i64>,
    /// Largest number allowed.
    pub max: Option<i64>,
}

impl ValueCheck {
    /// True if it constrains nothing but presence.
    fn is_open(&self) -> bool {
        self.values.is_none()
            && self.globs.is_empty()
            && self.regexes.is_empty()
            && self.min.is_none()
            && self.max.is_none()
    }

    /// What it allows, in words: "required, matches *@contoso.com", "any value".
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if self.required {
            parts.push("required".to_string());
        }
        if let Some(values) = &self.values {
            let list: Vec<String> = values.iter().map(shown).collect();
            parts.push(format!("one of {}", list.join(", ")));
        }
        if !self.globs.is_empty() {
            let globs: Vec<&str> = self.globs.iter().map(Wildcard::pattern).collect();
            parts.push(format!("matches {}", globs.join(" or ")));
        }
        if !self.regexes.is_empty() {
            let res: Vec<String> = self.regexes.iter().map(|(p, _)| format!("/{p}/")).collect();
            parts.push(format!("matches {}", res.join(" or ")));
        }
        match (self.min, self.max) {
            (Some(min), Some(max)) => parts.push(format!("{min} to {max}")),
            (Some(min), None) => parts.push(format!("at least {min}")),
            (None, Some(max)) => parts.push(format!("at most {max}")),
            (None, None) => {}
        }
        if self.is_open() {
            parts.push("any value".into());
        }
        parts.join(", ")
    }

    /// Checks `value`; each item of a list must pass, and each item a hashtable
    /// (`{"Add": […], "Remove": […]}`) adds or removes. The error says what the policy allows.
    pub fn check(&self, value: &Value) -> Result<(), String> {
        match value {
            Value::Array(items) => items.iter().try_for_each(|item| self.check_one(item)),
            Value::Object(changes) => changes
                .iter()
                .filter(|(verb, _)| !verb.starts_with('@'))
                .try_for_each(|(_, items)| self.check(items)),
            one => self.check_one(one),
        }
    }

    fn check_one(&self, value: &Value) -> Result<(), String> {
        if let Some(allowed) = &self.values
            && !allowed.iter().any(|a| same_value(a, value))
        {
            let list: Vec<String> = allowed.iter().map(shown).collect();
            return Err(format!(
                "{} is not one of the allowed values ({})",
                shown(value),
                list.join(", ")
            ));
        }
        if !self.globs.is_empty() || !self.regexes.is_empty() {
            let Some(text) = as_text(value) else {
                return Err(format!("{} is not text", shown(value)));
            };
            if !self.globs.is_empty() && !self.globs.iter().any(|g| g.is_match(&text)) {
                let patterns: Vec<&str> = self.globs.iter().map(Wildcard::pattern).collect();
                return Err(format!(
                    "{} does not match {}",
                    shown(value),
                    patterns.join(" or ")
                ));
            }
            if !self.regexes.is_empty() && !self.regexes.iter().any(|(_, re)| re.is_match(&text)) {
                let patterns: Vec<String> =
                    self.regexes.iter().map(|(p, _)| format!("/{p}/")).collect();
                return Err(format!(
                    "{} does not match {}",
                    shown(value),
                    patterns.join(" or ")
                ));
            }
        }
        if self.min.is_some() || self.max.is_some() {
            let Some(number) = as_number(value) else {
                return Err(match self.max {
                    Some(max) => format!("{} is not a number of at most {max}", shown(value)),
                    None => format!("{} is not a number", shown(value)),
                });
            };
            if let Some(min) = self.min.filter(|&min| number < min) {
                return Err(format!("{number} is below the smallest allowed, {min}"));
            }
            if let Some(max) = self.max.filter(|&max| number > max) {
                return Err(format!("{number} is above the largest allowed, {max}"));
            }
        }
        Ok(())
    }
}

/// A policy glob (`*`, `?`, any case, whole text; wildcards never stand for control
/// characters).
pub fn glob(pattern: &str) -> Wildcard {
    Wildcard::new(pattern, Syntax::Glob)
}

/// Compiles a regular expression that must match the whole text.
pub fn whole(pattern: &str) -> Result<Regex, regex::Error> {
    Regex::new(&format!("^(?:{pattern})$"))
}

/// Checks that `value` has the type of a parameter of this kind, as the service would bind it.
pub fn check_kind(kind: &Kind, value: &Value) -> Result<(), String> {
    let fits = match kind {
        Kind::Switch | Kind::Bool => value.is_boolean(),
        Kind::Integer => as_number(value).is_some(),
        Kind::Unlimited => {
            as_number(value).is_some_and(|n| n >= 0)
                || value
                    .as_str()
                    .is_some_and(|s| s.eq_ignore_ascii_case("Unlimited"))
        }
        Kind::Choice(choices) => value
            .as_str()
            .is_some_and(|s| choices.iter().any(|c| c.eq_ignore_ascii_case(s))),
        Kind::List => match value {
            Value::Array(items) => items.iter().all(is_scalar),
            Value::Object(changes) => changes.keys().all(|k| {
                ["Add", "Remove"]
                    .iter()
                    .any(|verb| verb.eq_ignore_ascii_case(k))
            }),
            one => is_scalar(one),
        },
        Kind::DateTime => value.as_str().is_some_and(is_date),
        Kind::Text => is_scalar(value) && !value.is_null(),
    };
    if fits {
        return Ok(());
    }
    Err(match kind {
        Kind::Switch | Kind::Bool => format!("{} is not true or false", shown(value)),
        Kind::Integer => format!("{} is not a whole number", shown(value)),
        Kind::Unlimited => format!("{} is not a whole number or Unlimited", shown(value)),
        Kind::Choice(choices) => format!("{} is not one of {}", shown(value), choices.join(", ")),
        Kind::List => format!(
            "{} is not a value, a list of values or {{\"Add\": …, \"Remove\": …}}",
            shown(value)
        ),
        Kind::DateTime => format!("{} is not a date ({DATE_FORMS})", shown(value)),
        Kind::Text => format!("{} is not one value", shown(value)),
    })
}

fn is_scalar(value: &Value) -> bool {
    !matches!(value, Value::Array(_) | Value::Object(_))
}

/// Text as Exchange would bind it: strings, and numbers or booleans written out.
fn as_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A whole number, given as a number or as its digits.
fn as_number(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Equal as Exchange compares: text in any case, numbers by value (`"10"` is 10).
fn same_value(allowed: &Value, value: &Value) -> bool {
    match (allowed, value) {
        (Value::String(a), Value::String(v)) => a.to_lowercase() == v.to_lowercase(),
        (Value::Bool(a), Value::Bool(v)) => a == v,
        _ => as_number(allowed).is_some_and(|a| as_number(value) == Some(a)),
    }
}

/// A value as a message shows it: text quoted, the rest as JSON.
fn shown(value: &Value) -> String {
    match value {
        Value::String(s) => format!("'{s}'"),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn check(rule: ValueCheck, value: Value) -> Result<(), String> {
        rule.check(&value)
    }

    #[test]
    fn globs_match_the_whole_text_in_any_case() {
        let re = glob("*@contoso.com");
        assert!(re.is_match("ann@contoso.com") && re.is_match("Ann@CONTOSO.com"));
        assert!(!re.is_match("ann@contoso.com.evil.example"));
        assert!(!re.is_match("ann@contoso.com\n"));
        assert!(
            !re.is_match("ann\n@contoso.com"),
            "no control character through a wildcard"
        );
        assert!(!re.is_match("ann@contosoXcom"), "the dot is a dot");
        assert!(glob("user?").is_match("user1"));
        assert!(!glob("user?").is_match("user12"));
    }

    #[test]
    fn constraints_say_what_is_allowed() {
        let only = |values: Value| ValueCheck {
            values: Some(values.as_array().unwrap().clone()),
            ..ValueCheck::default()
        };
        assert!(check(only(json!(["Enabled", "Disabled"])), json!("enabled")).is_ok());
        let e = check(only(json!(["Enabled", "Disabled"])), json!("Scheduled")).unwrap_err();
        assert_eq!(
            e,
            "'Scheduled' is not one of the allowed values ('Enabled', 'Disabled')"
        );
        let domain = ValueCheck {
            globs: vec![glob("*@contoso.com")],
            ..ValueCheck::default()
        };
        assert!(check(domain.clone(), json!(["a@contoso.com", "b@contoso.com"])).is_ok());
        let e = check(domain.clone(), json!(["a@contoso.com", "b@fabrikam.com"])).unwrap_err();
        assert_eq!(e, "'b@fabrikam.com' does not match *@contoso.com");
        assert!(
            check(domain.clone(), json!({"Add": [{"x": 1}]}))
                .unwrap_err()
                .contains("not text")
        );
        assert!(
            check(
                domain.clone(),
                json!({"Add": ["a@contoso.com"], "Remove": "b@contoso.com"})
            )
            .is_ok()
        );
        assert_eq!(
            check(
                domain,
                json!({"Add": ["a@contoso.com"], "Remove": ["b@fabrikam.com"]})
            )
            .unwrap_err(),
            "'b@fabrikam.com' does not match *@contoso.com",
            "a hashtable's items"
        );
        let capped = ValueCheck {
            max: Some(1000),
            ..ValueCheck::default()
        };
        assert!(check(capped.clone(), json!(500)).is_ok());
        assert!(check(capped.clone(), json!("500")).is_ok());
        assert!(
            check(capped.clone(), json!(5000))
                .unwrap_err()
                .contains("above the largest allowed, 1000")
        );
        assert!(
            check(capped, json!("Unlimited"))
                .unwrap_err()
                .contains("not a number of at most 1000")
        );
        let pattern = ValueCheck {
            regexes: vec![("[a-z]+".into(), whole("[a-z]+").unwrap())],
            ..ValueCheck::default()
        };
        assert!(check(pattern.clone(), json!("abc")).is_ok());
        assert!(
            check(pattern, json!("abc1"))
                .unwrap_err()
                .contains("/[a-z]+/")
        );
    }

    #[test]
    fn values_must_have_their_parameters_type() {
        assert!(check_kind(&Kind::Bool, &json!(false)).is_ok());
        assert_eq!(
            check_kind(&Kind::Bool, &json!("false")).unwrap_err(),
            "'false' is not true or false"
        );
        assert!(check_kind(&Kind::Unlimited, &json!("unlimited")).is_ok());
        assert!(check_kind(&Kind::Unlimited, &json!(-1)).is_err());
        assert!(check_kind(&Kind::Integer, &json!("12")).is_ok());
        assert!(check_kind(&Kind::Integer, &json!("twelve")).is_err());
        let choice = Kind::Choice(vec!["Enabled".into(), "Disabled".into()]);
        assert!(check_kind(&choice, &json!("DISABLED")).is_ok());
        assert!(
            check_kind(&choice, &json!("Off"))
                .unwrap_err()
                .contains("Enabled, Disabled")
        );
        assert!(check_kind(&Kind::List, &json!(["a", "b"])).is_ok());
        assert!(check_kind(&Kind::List, &json!({"Add": "a", "remove": ["b"]})).is_ok());
        assert!(check_kind(&Kind::List, &json!({"Replace": "a"})).is_err());
        assert!(check_kind(&Kind::Text, &json!("ann@contoso.com")).is_ok());
        assert!(check_kind(&Kind::Text, &json!(["a", "b"])).is_err());
        assert!(check_kind(&Kind::Text, &json!({"a": 1})).is_err());
    }
}
