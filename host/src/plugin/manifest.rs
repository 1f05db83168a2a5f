//! A plugin's manifest: who it is, which cmdlets (and parameters) it calls, whether it changes
//! anything, the limits it needs, the input it takes and the operator settings it reads. What
//! it declares is the most it can get: the operator's policy grants at most that
//! ([`crate::policy::Grant`]).

use serde::{Deserialize, Serialize};

use super::input::InputSchema;
use crate::exchange::is_mutating;

/// Manifest of one plugin, as written in its `manifest.toml`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Plugin name (lowercase, digits, `-`).
    pub name: String,
    /// Semantic version.
    pub version: String,
    /// What it does, for `plugin inspect`.
    pub description: String,
    /// True if it runs cmdlets that change things (Set-, Add-, Remove-, New-...).
    #[serde(default)]
    pub mutates: bool,
    /// Cmdlets it may call, with the parameters it uses.
    #[serde(default, rename = "cmdlet")]
    pub cmdlets: Vec<CmdletUse>,
    /// Limits it needs.
    #[serde(default)]
    pub limits: Limits,
    /// Its input: a JSON Schema (as JSON text) describing the `--input` object.
    #[serde(default)]
    pub input_schema: Option<String>,
    /// Operator settings it reads with `config.get` (`exorun run --config key=value`); a run
    /// given any other key is refused, so a misspelt setting is not silently ignored.
    #[serde(default, rename = "config")]
    pub config: Vec<ConfigKey>,
}

/// One operator setting a plugin reads.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigKey {
    /// The key, e.g. `ignore_trustees`.
    pub key: String,
    /// What it does and what values it takes, for `plugin inspect`.
    pub description: String,
}

/// One cmdlet a plugin declares.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CmdletUse {
    /// Cmdlet name, e.g. `Get-Mailbox`.
    pub name: String,
    /// Parameters it passes (names, any case).
    #[serde(default)]
    pub parameters: Vec<String>,
    /// Run on Security & Compliance rather than Exchange Online.
    #[serde(default)]
    pub compliance: bool,
}

/// What a plugin asks of the runtime.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Linear memory it needs, MiB (default 64).
    pub memory_mb: Option<u64>,
    /// Wall-clock time a run may take, seconds (default 600).
    pub timeout_secs: Option<u64>,
}

/// Why a manifest is not acceptable.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// Not valid TOML or not the manifest schema.
    #[error("the plugin manifest is not valid: {0}")]
    Parse(String),
    /// A field has a bad value.
    #[error("the plugin manifest is not valid: {0}")]
    Invalid(String),
}

impl Manifest {
    /// Parses and checks a manifest.
    pub fn parse(text: &str) -> Result<Manifest, ManifestError> {
        let manifest: Manifest =
            toml::from_str(text).map_err(|e| ManifestError::Parse(e.to_string()))?;
        manifest.check()?;
        Ok(manifest)
    }

    /// The manifest as TOML text (what is packed into the artifact).
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_default()
    }

    fn check(&self) -> Result<(), ManifestError> {
        let invalid = |m: String| Err(ManifestError::Invalid(m));
        if self.name.is_empty()
            || !self
                .name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return invalid(format!(
                "name '{}' must be lowercase letters, digits and '-'",
                self.name
            ));
        }
        if self.version.split('.').count() != 3
            || !self.version.split('.').all(|p| p.parse::<u64>().is_ok())
        {
            return invalid(format!(
                "version '{}' must be MAJOR.MINOR.PATCH",
                self.version
            ));
        }
        for cmdlet in &self.cmdlets {
            let Some((verb, noun)) = cmdlet.name.split_once('-') else {
                return invalid(format!(
                    "'{}' is not a cmdlet name (Verb-Noun)",
                    cmdlet.name
                ));
            };
            if verb.is_empty() || noun.is_empty() {
                return invalid(format!(
                    "'{}' is not a cmdlet name (Verb-Noun)",
                    cmdlet.name
                ));
            }
            if is_mutating(&cmdlet.name) && !self.mutates {
                return invalid(format!(
                    "{} changes things but the manifest says mutates = false",
                    cmdlet.name
                ));
            }
        }
        self.compiled_input_schema()?;
        for (i, config) in self.config.iter().enumerate() {
            if config.key.is_empty()
                || !config
                    .key
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
            {
                return invalid(format!(
                    "config key '{}' must be letters, digits, '_', '-' or '.'",
                    config.key
                ));
            }
            if self.config[..i].iter().any(|c| c.key == config.key) {
                return invalid(format!("config key '{}' is declared twice", config.key));
            }
        }
        Ok(())
    }

    /// The compiled JSON Schema of its input, if it declares one.
    pub fn compiled_input_schema(&self) -> Result<Option<InputSchema>, ManifestError> {
        self.input_schema
            .as_deref()
            .map(InputSchema::compile)
            .transpose()
            .map_err(|reason| ManifestError::Invalid(format!("input_schema: {reason}")))
    }

    /// Checks operator settings against the declared keys; the error names the unknown key
    /// and the keys the plugin does read.
    pub fn accepts_config<'a>(
        &self,
        keys: impl IntoIterator<Item = &'a str>,
    ) -> Result<(), String> {
        for key in keys {
            if !self.config.iter().any(|c| c.key == key) {
                let known = if self.config.is_empty() {
                    "it reads no settings".to_string()
                } else {
                    let keys: Vec<&str> = self.config.iter().map(|c| c.key.as_str()).collect();
                    format!("it reads {}", keys.join(", "))
                };
                return Err(format!(
                    "plugin {} has no setting '{key}' ({known}; see `exorun plugin inspect`)",
                    self.name
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INVENTORY: &str = r#"
name = "mailbox-inventory"
version = "0.1.0"
description = "One record per mailbox"
[[cmdlet]]
name = "Get-Mailbox"
parameters = ["ResultSize", "Filter"]
[limits]
memory_mb = 64
"#;

    #[test]
    fn config_keys_are_declared_once_and_unknown_ones_refused() {
        let with_key =
            format!("{INVENTORY}\n[[config]]\nkey = \"ignore_trustees\"\ndescription = \"d\"\n");
        let m = Manifest::parse(&with_key).unwrap();
        assert_eq!(Manifest::parse(&m.to_toml()).unwrap(), m);
        assert!(m.accepts_config(["ignore_trustees"]).is_ok());
        let refused = m.accepts_config(["ignore_trustee"]).unwrap_err();
        assert!(
            refused.contains("'ignore_trustee'") && refused.contains("it reads ignore_trustees"),
            "{refused}"
        );
        let none = Manifest::parse(INVENTORY).unwrap();
        assert!(
            none.accepts_config(["x"])
                .unwrap_err()
                .contains("reads no settings")
        );
        let twice =
            format!("{with_key}[[config]]\nkey = \"ignore_trustees\"\ndescription = \"again\"\n");
        assert!(
            Manifest::parse(&twice)
                .unwrap_err()
                .to_string()
                .contains("declared twice")
        );
        let bad = format!("{INVENTORY}\n[[config]]\nkey = \"a b\"\ndescription = \"d\"\n");
        assert!(Manifest::parse(&bad).is_err());
    }

    #[test]
    fn parses_and_prints_back() {
        let m = Manifest::parse(INVENTORY).unwrap();
        assert_eq!(m.cmdlets[0].parameters, ["ResultSize", "Filter"]);
        assert_eq!(Manifest::parse(&m.to_toml()).unwrap(), m);
    }

    #[test]
    fn refuses_bad_manifests() {
        assert!(Manifest::parse("name = 'x'").is_err());
        let e = Manifest::parse(&INVENTORY.replace("Get-Mailbox", "Set-Mailbox"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("mutates = false"), "{e}");
        assert!(Manifest::parse(&INVENTORY.replace("memory_mb", "memory")).is_err());
        let with_schema = |schema: &str| {
            INVENTORY.replace(
                "[[cmdlet]]",
                &format!("input_schema = '{schema}'\n[[cmdlet]]"),
            )
        };
        assert!(Manifest::parse(&with_schema(r#"{"type": "object"}"#)).is_ok());
        let e = Manifest::parse(&with_schema(r#"{"type": "nonsense"}"#))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("input_schema: it is not a valid JSON Schema"),
            "{e}"
        );
    }
}
