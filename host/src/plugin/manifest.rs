//! A plugin's manifest: who it is, which cmdlets (and parameters) it calls, whether it changes
//! anything, the limits it needs and the input it takes. The runtime refuses any cmdlet or
//! parameter a plugin did not declare; the operator's policy will narrow it further.

use serde::{Deserialize, Serialize};

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

/// Verbs of cmdlets that only read.
const READ_VERBS: [&str; 5] = ["Get", "Test", "Search", "Export", "Resolve"];

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
            let reads = READ_VERBS.iter().any(|v| v.eq_ignore_ascii_case(verb));
            if !reads && !self.mutates {
                return invalid(format!(
                    "{} changes things but the manifest says mutates = false",
                    cmdlet.name
                ));
            }
        }
        if let Some(schema) = &self.input_schema
            && serde_json::from_str::<serde_json::Value>(schema).is_err()
        {
            return invalid("input_schema is not JSON".into());
        }
        Ok(())
    }

    /// The declaration of `cmdlet` (any case) on the given surface, if declared.
    pub fn cmdlet(&self, cmdlet: &str, compliance: bool) -> Option<&CmdletUse> {
        self.cmdlets
            .iter()
            .find(|c| c.compliance == compliance && c.name.eq_ignore_ascii_case(cmdlet))
    }

    /// Checks a call against the declarations; the error says what was not declared.
    pub fn allows(
        &self,
        cmdlet: &str,
        parameters: &serde_json::Map<String, serde_json::Value>,
        compliance: bool,
    ) -> Result<(), String> {
        let Some(declared) = self.cmdlet(cmdlet, compliance) else {
            return Err(format!(
                "plugin {} did not declare the cmdlet {cmdlet} in its manifest",
                self.name
            ));
        };
        for name in parameters.keys().filter(|k| !k.contains('@')) {
            if !declared
                .parameters
                .iter()
                .any(|p| p.eq_ignore_ascii_case(name))
            {
                return Err(format!(
                    "plugin {} did not declare the parameter -{name} of {cmdlet} in its manifest",
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
    fn parses_and_checks_calls() {
        let m = Manifest::parse(INVENTORY).unwrap();
        let mut params = serde_json::Map::new();
        params.insert("resultsize".into(), "Unlimited".into());
        assert!(m.allows("get-mailbox", &params, false).is_ok());
        params.insert("Identity".into(), "x".into());
        assert!(
            m.allows("Get-Mailbox", &params, false)
                .unwrap_err()
                .contains("-Identity")
        );
        assert!(
            m.allows("Set-Mailbox", &serde_json::Map::new(), false)
                .unwrap_err()
                .contains("Set-Mailbox")
        );
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
    }
}
