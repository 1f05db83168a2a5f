//! A plugin's effective rights: what its manifest asks for, intersected with what its policy
//! rule grants. Computed once when the plugin is admitted; the gate checks every call
//! against it.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde_json::Value;

use super::rule::Rule;
use super::scope::Scope;
use super::values::ValueCheck;
use crate::exchange::catalogue::{Catalogue, Lookup, Names};
use crate::exchange::is_mutating;
use crate::plugin::manifest::Manifest;

/// What one admitted plugin may do.
#[derive(Clone, Debug)]
pub struct Grant {
    /// The plugin's name, for messages.
    pub plugin: String,
    /// Where the rights come from, e.g. `policy.toml line 12`.
    pub source: String,
    /// Cmdlets it may call.
    pub cmdlets: Vec<GrantedCmdlet>,
    /// Every changing cmdlet refused.
    pub read_only: bool,
    /// Changing cmdlets one run may send.
    pub max_mutations: Option<u64>,
    /// The recipients it may change.
    pub scope: Option<Arc<Scope>>,
    /// The parameters the scope is checked on, if the rule names them (see [`Grant::scope_targets`]).
    pub scope_on: Option<Vec<String>>,
    /// Addresses outside the tenant allowed under the scope.
    pub external_targets: bool,
    /// Caps on the run's resources.
    pub caps: Caps,
    /// Allowed operator settings and their values; `None`: any the manifest declares.
    pub config: Option<BTreeMap<String, ValueCheck>>,
    /// The credential profile it runs with, if the policy names one.
    pub profile: Option<String>,
    /// Requested rights the rule does not grant (kept only when the rule narrows).
    pub withheld: Vec<Missing>,
    /// The trusted keys (by their policy names) whose signatures admitted it.
    pub signers: Vec<String>,
    /// The SHA-256 of the policy that granted it; `None` for [`Grant::from_manifest`].
    pub policy_digest: Option<String>,
    /// Whose checkpoints its runs share: `None` for this build alone (its digest); for a
    /// plugin admitted by its signers, its name and those signers, so a newly signed build
    /// resumes where the last one stopped.
    pub lineage: Option<String>,
}

/// Caps on a run's resources (`None`: no cap beyond the runtime's).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Caps {
    /// Linear memory, MiB.
    pub memory_mb: Option<u64>,
    /// Wall-clock time, seconds.
    pub timeout_secs: Option<u64>,
    /// Fuel per run.
    pub fuel: Option<u64>,
}

/// One cmdlet in a grant.
#[derive(Clone, Debug)]
pub struct GrantedCmdlet {
    /// Its name as the manifest spells it.
    pub name: String,
    /// On Security & Compliance.
    pub compliance: bool,
    /// It changes things.
    pub mutating: bool,
    /// Parameters it may be given, with the constraints on their values.
    pub parameters: Vec<(String, ValueCheck)>,
}

impl GrantedCmdlet {
    /// The constraints on parameter `name` (any case), if it is granted.
    pub fn parameter(&self, name: &str) -> Option<(&str, &ValueCheck)> {
        self.parameters
            .iter()
            .find(|(granted, _)| granted.eq_ignore_ascii_case(name))
            .map(|(granted, check)| (granted.as_str(), check))
    }
}

/// A right the manifest requests and the rule does not give.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Missing {
    /// A cmdlet not granted.
    Cmdlet {
        /// Its name.
        name: String,
        /// On Security & Compliance.
        compliance: bool,
        /// The parameters the manifest declares for it.
        parameters: Vec<String>,
    },
    /// A parameter of a granted cmdlet not granted.
    Parameter {
        /// The cmdlet.
        cmdlet: String,
        /// The parameter.
        name: String,
        /// The line of the cmdlet's grant.
        line: usize,
    },
    /// A changing cmdlet under a read-only rule.
    ReadOnly {
        /// The cmdlet.
        cmdlet: String,
    },
    /// More of a resource than the rule allows.
    Limit {
        /// Which (`memory_mb`, `timeout_secs`).
        key: &'static str,
        /// What the manifest asks.
        asked: u64,
        /// The cap.
        cap: u64,
    },
}

impl fmt::Display for Missing {
    /// The missing right and the policy text that would allow it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Missing::Cmdlet {
                name,
                compliance,
                parameters,
            } => {
                write!(
                    f,
                    "cmdlet {name}: add to the rule\n      [[plugin.cmdlet]]\n      name = \"{name}\""
                )?;
                if *compliance {
                    write!(f, "\n      compliance = true")?;
                }
                let params: Vec<String> =
                    parameters.iter().map(|p| format!("{p} = {{}}")).collect();
                write!(f, "\n      parameters = {{ {} }}", params.join(", "))
            }
            Missing::Parameter { cmdlet, name, line } => write!(
                f,
                "parameter -{name} of {cmdlet}: add `{name} = {{}}` to the parameters of its grant (line {line})"
            ),
            Missing::ReadOnly { cmdlet } => write!(
                f,
                "{cmdlet} changes the tenant and the rule is read_only: remove `read_only = true` to allow changes"
            ),
            Missing::Limit { key, asked, cap } => write!(
                f,
                "limits.{key}: the manifest asks for {asked}, the rule allows {cap}: raise `limits.{key}`"
            ),
        }
    }
}

impl Grant {
    /// The rights a plugin's own manifest asks for, with no policy narrowing them: for library
    /// users who are the operator themselves (tests, benchmarks, embedding programs).
    pub fn from_manifest(manifest: &Manifest) -> Grant {
        Grant {
            plugin: manifest.name.clone(),
            source: "its own manifest".into(),
            cmdlets: manifest
                .cmdlets
                .iter()
                .map(|c| GrantedCmdlet {
                    name: c.name.clone(),
                    compliance: c.compliance,
                    mutating: is_mutating(&c.name),
                    parameters: c
                        .parameters
                        .iter()
                        .map(|p| (p.clone(), ValueCheck::default()))
                        .collect(),
                })
                .collect(),
            read_only: false,
            max_mutations: None,
            scope: None,
            scope_on: None,
            external_targets: false,
            caps: Caps::default(),
            config: None,
            profile: None,
            withheld: Vec::new(),
            signers: Vec::new(),
            policy_digest: None,
            lineage: None,
        }
    }

    /// The intersection of what `manifest` requests and what `rule` grants; what the rule does
    /// not grant is refused unless the rule narrows.
    pub fn intersect(
        manifest: &Manifest,
        rule: &Rule,
        source: String,
    ) -> Result<Grant, Vec<Missing>> {
        let mut missing = Vec::new();
        let mut cmdlets = Vec::new();
        for asked in &manifest.cmdlets {
            let mutating = is_mutating(&asked.name);
            if rule.read_only && mutating {
                missing.push(Missing::ReadOnly {
                    cmdlet: asked.name.clone(),
                });
                continue;
            }
            let Some(granted) = rule.cmdlet(&asked.name, asked.compliance) else {
                missing.push(Missing::Cmdlet {
                    name: asked.name.clone(),
                    compliance: asked.compliance,
                    parameters: asked.parameters.clone(),
                });
                continue;
            };
            let mut parameters = Vec::new();
            for name in &asked.parameters {
                match granted.parameter(name) {
                    Some(check) => parameters.push((name.clone(), check.clone())),
                    None => missing.push(Missing::Parameter {
                        cmdlet: asked.name.clone(),
                        name: name.clone(),
                        line: granted.line,
                    }),
                }
            }
            // A parameter the rule requires stays required even if the manifest forgot it.
            for (name, check) in &granted.parameters {
                if check.required && !parameters.iter().any(|(p, _)| p.eq_ignore_ascii_case(name)) {
                    parameters.push((name.clone(), check.clone()));
                }
            }
            cmdlets.push(GrantedCmdlet {
                name: asked.name.clone(),
                compliance: asked.compliance,
                mutating,
                parameters,
            });
        }
        let limits = [
            ("memory_mb", manifest.limits.memory_mb, rule.caps.memory_mb),
            (
                "timeout_secs",
                manifest.limits.timeout_secs,
                rule.caps.timeout_secs,
            ),
        ];
        for (key, asked, cap) in limits {
            if let (Some(asked), Some(cap)) = (asked, cap)
                && asked > cap
            {
                missing.push(Missing::Limit { key, asked, cap });
            }
        }
        if !missing.is_empty() && !rule.narrow {
            return Err(missing);
        }
        Ok(Grant {
            plugin: manifest.name.clone(),
            source,
            cmdlets,
            read_only: rule.read_only,
            max_mutations: rule.max_mutations,
            scope: rule.scope.clone(),
            scope_on: rule.scope_on.clone(),
            external_targets: rule.external_targets,
            caps: rule.caps,
            config: Some(rule.config.clone()),
            profile: rule.profile.clone(),
            withheld: missing,
            signers: Vec::new(),
            policy_digest: None,
            lineage: rule.digest.is_none().then(|| {
                let mut signers = rule.signed_by.clone();
                signers.sort();
                format!("{} signed by {}", rule.name, signers.join(", "))
            }),
        })
    }

    /// The rights as the audit log records them: each cmdlet with its parameters' constraints
    /// in words, and the run-wide limits.
    pub fn summary(&self) -> Value {
        let cmdlets: serde_json::Map<String, Value> = self
            .cmdlets
            .iter()
            .map(|c| {
                let parameters: serde_json::Map<String, Value> = c
                    .parameters
                    .iter()
                    .map(|(name, check)| (name.clone(), Value::String(check.describe())))
                    .collect();
                (c.name.clone(), Value::Object(parameters))
            })
            .collect();
        serde_json::json!({
            "source": self.source,
            "cmdlets": cmdlets,
            "read_only": self.read_only,
            "max_mutations": self.max_mutations,
            "scope": self.scope.as_ref().map(|s| s.text()),
            "profile": self.profile,
        })
    }

    /// The granted cmdlet `name` (any case) on the surface the plugin declared for it,
    /// Exchange Online first.
    pub fn cmdlet(&self, name: &str) -> Option<&GrantedCmdlet> {
        let mut found = self
            .cmdlets
            .iter()
            .filter(|c| c.name.eq_ignore_ascii_case(name));
        let first = found.next()?;
        Some(if first.compliance {
            found.next().unwrap_or(first)
        } else {
            first
        })
    }

    /// The parameters of changing cmdlet `cmdlet` whose recipients the scope checks, with what
    /// each names: those `scope_on` lists, else every one the catalogue marks, and `Identity`.
    /// A parameter the catalogue does not mark counts as naming one recipient by its name,
    /// which is sent as given. Empty without a scope.
    pub fn scope_targets(&self, cmdlet: &str) -> Vec<(String, Option<Names>)> {
        if self.scope.is_none() {
            return Vec::new();
        }
        let catalogued = Catalogue::get().cmdlet(cmdlet);
        let known = |name: &str| -> (String, Option<Names>) {
            match catalogued.map(|c| c.parameter(name)) {
                Some(Lookup::Found(p)) => (p.name.clone(), p.names),
                _ => (name.to_string(), None),
            }
        };
        let mut targets: Vec<(String, Option<Names>)> = match &self.scope_on {
            Some(names) => names.iter().map(|n| known(n)).collect(),
            None => {
                let mut marked: Vec<(String, Option<Names>)> = catalogued
                    .map(|c| c.naming().map(|p| (p.name.clone(), p.names)).collect())
                    .unwrap_or_default();
                if !marked.iter().any(|(n, _)| n == "Identity") {
                    marked.insert(0, known("Identity"));
                }
                marked
            }
        };
        targets.dedup_by(|a, b| a.0.eq_ignore_ascii_case(&b.0));
        targets
    }

    /// Checks operator settings (`--config`) against the grant; the error names the key or
    /// value and what is allowed.
    pub fn check_config<'a>(
        &self,
        settings: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<(), String> {
        let Some(allowed) = &self.config else {
            return Ok(());
        };
        for (key, value) in settings {
            let Some(check) = allowed.get(key) else {
                return Err(format!(
                    "the policy ({}) allows plugin {} no setting '{key}'{}",
                    self.source,
                    self.plugin,
                    if allowed.is_empty() {
                        String::new()
                    } else {
                        format!(
                            "; it allows {}",
                            allowed.keys().cloned().collect::<Vec<_>>().join(", ")
                        )
                    }
                ));
            };
            check
                .check(&Value::String(value.to_string()))
                .map_err(|why| format!("setting {key}: {why} (policy: {})", self.source))?;
        }
        Ok(())
    }
}
