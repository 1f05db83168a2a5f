//! Cmdlet parameters as the request body carries them (docs/protocol.md §1.3), read the way
//! PowerShell binds them: names case-insensitive, switches as booleans, typed conversions that
//! fail with Exchange's own errors.

use serde_json::{Map, Value};

use super::error::CmdletError;

/// Parameters every cmdlet accepts (PowerShell common parameters the module may send).
pub const COMMON: [&str; 6] = [
    "ErrorAction",
    "WarningAction",
    "Verbose",
    "Debug",
    "InformationAction",
    "OutVariable",
];

/// How many results a cmdlet should return.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResultSize {
    /// All of them.
    Unlimited,
    /// At most this many.
    Limit(usize),
}

impl ResultSize {
    /// The cap as a number.
    pub fn cap(self) -> usize {
        match self {
            ResultSize::Unlimited => usize::MAX,
            ResultSize::Limit(n) => n,
        }
    }
}

/// The `Parameters` object of one request.
pub struct Params<'a> {
    cmdlet: &'a str,
    map: &'a Map<String, Value>,
}

impl<'a> Params<'a> {
    /// Wraps the parameters of `cmdlet`, refusing names not in `allowed` (nor common ones).
    pub fn new(
        cmdlet: &'a str,
        map: &'a Map<String, Value>,
        allowed: &[&str],
    ) -> Result<Params<'a>, CmdletError> {
        for (at, name) in map.keys().enumerate() {
            if map.keys().take(at).any(|k| k.eq_ignore_ascii_case(name)) {
                return Err(CmdletError::parameter_twice(name));
            }
            if name.contains('@') {
                // OData annotations such as "Foo@odata.type" travel beside their parameter.
                continue;
            }
            let known = allowed
                .iter()
                .chain(COMMON.iter())
                .any(|a| a.eq_ignore_ascii_case(name));
            if !known {
                return Err(CmdletError::unknown_parameter(name));
            }
        }
        Ok(Params { cmdlet, map })
    }

    fn get(&self, name: &str) -> Option<&'a Value> {
        self.map
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// True if the parameter was given (even as null).
    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// An optional string parameter; numbers and booleans are taken as their text.
    pub fn str(&self, name: &str) -> Option<String> {
        match self.get(name)? {
            Value::Null => None,
            Value::String(s) => Some(s.clone()),
            Value::Array(items) if items.len() == 1 => items[0].as_str().map(str::to_string),
            other => Some(other.to_string()),
        }
    }

    /// A mandatory string parameter.
    pub fn required(&self, name: &str) -> Result<String, CmdletError> {
        self.str(name)
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| CmdletError::missing_parameter(self.cmdlet, name))
    }

    /// A boolean parameter or switch: JSON booleans, or the strings `True`/`False`/`$true`/`$false`.
    pub fn bool(&self, name: &str) -> Result<Option<bool>, CmdletError> {
        let Some(value) = self.get(name) else {
            return Ok(None);
        };
        let parsed = match value {
            Value::Bool(b) => Some(*b),
            Value::String(s) => match s
                .trim()
                .trim_start_matches('$')
                .to_ascii_lowercase()
                .as_str()
            {
                "true" | "1" => Some(true),
                "false" | "0" => Some(false),
                _ => None,
            },
            Value::Number(n) => n.as_i64().map(|n| n != 0),
            _ => None,
        };
        parsed.map(Some).ok_or_else(|| {
            CmdletError::bad_value(
                name,
                &display(value),
                "System.Boolean",
                "Boolean parameters accept only Boolean values and numbers, such as $True, $False, 1 or 0.",
            )
        })
    }

    /// A switch that is on only when given as true.
    pub fn switch(&self, name: &str) -> Result<bool, CmdletError> {
        Ok(self.bool(name)?.unwrap_or(false))
    }

    /// A multi-valued parameter: a JSON array, or one string (comma-separated values split).
    pub fn strings(&self, name: &str) -> Option<Vec<String>> {
        match self.get(name)? {
            Value::Null => None,
            Value::Array(items) => Some(items.iter().map(display).collect()),
            Value::String(s) => Some(
                s.split(',')
                    .map(|p| p.trim().to_string())
                    .filter(|p| !p.is_empty())
                    .collect(),
            ),
            other => Some(vec![display(other)]),
        }
    }

    /// `-ResultSize`: `Unlimited` or a positive number; `default` when absent.
    pub fn result_size(&self, default: ResultSize) -> Result<ResultSize, CmdletError> {
        let Some(value) = self.get("ResultSize") else {
            return Ok(default);
        };
        let text = display(value);
        if text.eq_ignore_ascii_case("unlimited") {
            return Ok(ResultSize::Unlimited);
        }
        match text.trim().parse::<usize>() {
            Ok(n) if n > 0 => Ok(ResultSize::Limit(n)),
            _ => Err(CmdletError::bad_value(
                "ResultSize",
                &text,
                "Microsoft.Exchange.Data.Unlimited`1[System.UInt32]",
                "The value must be a positive number or \"Unlimited\".",
            )),
        }
    }

    /// An enum parameter, matched case-insensitively and returned in its canonical spelling.
    pub fn enum_value(
        &self,
        name: &str,
        type_name: &str,
        members: &[&'static str],
    ) -> Result<Option<&'static str>, CmdletError> {
        let Some(text) = self.str(name) else {
            return Ok(None);
        };
        members
            .iter()
            .find(|m| m.eq_ignore_ascii_case(text.trim()))
            .copied()
            .map(Some)
            .ok_or_else(|| CmdletError::bad_enum(name, &text, type_name, members))
    }

    /// A date-time parameter (ISO-8601, as the module serializes DateTime).
    pub fn date(&self, name: &str) -> Result<Option<i64>, CmdletError> {
        let Some(text) = self.str(name) else {
            return Ok(None);
        };
        crate::time::parse_iso(&text).map(Some).ok_or_else(|| {
            CmdletError::bad_value(
                name,
                &text,
                "System.DateTime",
                "String was not recognized as a valid DateTime.",
            )
        })
    }
}

/// A JSON value as PowerShell would print it.
fn display(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn a_name_given_twice_in_any_case_is_refused_like_powershell() {
        let m = map(json!({"Identity": "ann", "identity": "room1"}));
        let e = Params::new("Set-Mailbox", &m, &["Identity"]).err().unwrap();
        assert!(
            e.text.starts_with(
                "Cannot bind parameter because parameter 'identity' is specified more than once."
            ),
            "{}",
            e.text
        );
    }

    #[test]
    fn names_are_case_insensitive_and_unknown_ones_refused() {
        let m = map(json!({"identity": "ann", "RESULTSIZE": "unlimited", "Foo@odata.type": "#x"}));
        let p = Params::new("Get-Mailbox", &m, &["Identity", "ResultSize"]).unwrap();
        assert_eq!(p.str("Identity").as_deref(), Some("ann"));
        assert_eq!(
            p.result_size(ResultSize::Limit(1000)).unwrap(),
            ResultSize::Unlimited
        );
        let m = map(json!({"Idnetity": "ann"}));
        let e = Params::new("Get-Mailbox", &m, &["Identity"]).err().unwrap();
        assert!(e.text.contains("'Idnetity'"));
    }

    #[test]
    fn typed_values_fail_with_exchange_errors() {
        let m = map(json!({"Hidden": "maybe", "ResultSize": 0, "Type": "shared"}));
        let p = Params::new("Set-Mailbox", &m, &["Hidden", "ResultSize", "Type"]).unwrap();
        assert!(p.bool("Hidden").is_err());
        assert!(p.result_size(ResultSize::Unlimited).is_err());
        assert_eq!(
            p.enum_value("Type", "T", &["Regular", "Shared"]).unwrap(),
            Some("Shared")
        );
        assert!(p.enum_value("Type", "T", &["Regular"]).is_err());
    }

    #[test]
    fn switches_and_lists() {
        let m = map(
            json!({"Archive": true, "AccessRights": ["FullAccess", "ReadPermission"], "Members": "a, b"}),
        );
        let p = Params::new("X", &m, &["Archive", "AccessRights", "Members"]).unwrap();
        assert!(p.switch("Archive").unwrap());
        assert_eq!(
            p.strings("AccessRights").unwrap(),
            vec!["FullAccess", "ReadPermission"]
        );
        assert_eq!(p.strings("Members").unwrap(), vec!["a", "b"]);
    }
}
