//! The operator's policy: which plugins may run against the tenant (by the digest of the exact
//! build, or by who signed it), and what each may do there. Deny by default: a plugin no rule
//! admits does not run, and an admitted one gets what its manifest asks for intersected with
//! what its rule grants ([`Grant`]). The [`gate`] checks every call against that grant before
//! anything reaches the Exchange client.

mod admission;
pub mod callers;
pub mod canonical;
mod file;
pub mod gate;
pub mod grant;
pub mod init;
pub mod rule;
pub mod scope;
pub mod targets;
pub mod values;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

pub use admission::{AdmissionError, NotAdmitted, Submitted, Vetted};
pub use gate::Gate;
pub use grant::{Caps, Grant, Missing};
pub use rule::Rule;

use crate::plugin::manifest::Manifest;
use crate::signing::{KeyId, PublicKey};
use file::PolicyFile;
use rule::{Problem, line_of};

/// Why a policy cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The file cannot be read.
    #[error("cannot read the policy {path}: {reason}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// Not TOML, or not the policy's schema (the message names the line).
    #[error("{origin}: {reason}")]
    Parse {
        /// The file.
        origin: String,
        /// The parser's message, with the line.
        reason: String,
    },
    /// A value is wrong.
    #[error("{origin} line {line}: {message}")]
    Invalid {
        /// The file.
        origin: String,
        /// Its line, from 1.
        line: usize,
        /// What is wrong and how to fix it.
        message: String,
    },
}

/// A checked policy.
#[derive(Clone, Debug)]
pub struct Policy {
    origin: String,
    digest: String,
    keys: BTreeMap<String, PublicKey>,
    revoked: Vec<(String, usize)>,
    revoked_keys: Vec<(KeyId, usize)>,
    rules: Vec<Rule>,
    callers: Vec<callers::CallerRule>,
    auditors: Vec<callers::AuditorRule>,
    warnings: Vec<String>,
}

/// The artifact asking to run: who it says it is and what vouches for it.
#[derive(Clone, Copy, Debug)]
pub struct Candidate<'a> {
    /// Its manifest.
    pub manifest: &'a Manifest,
    /// The sha256 of its content (lowercase hex).
    pub digest: &'a str,
    /// Names of the policy's trusted keys whose signatures on it verified.
    pub signers: &'a [String],
    /// Its file, for hints that give a command to paste.
    pub file: Option<&'a std::path::Path>,
}

/// Why a plugin may not run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Its digest is on the revocation list.
    Revoked {
        /// The policy file.
        origin: String,
        /// The line that revokes it.
        line: usize,
    },
    /// No rule admits this build.
    NotAdmitted {
        /// The policy file.
        origin: String,
        /// For each rule of the same name, why it does not admit this build.
        near: Vec<String>,
    },
    /// Admitted, but its manifest asks for more than the rule grants.
    Exceeds {
        /// The policy file.
        origin: String,
        /// The rule's line.
        line: usize,
        /// What it lacks, each with the policy text that would allow it.
        missing: Vec<Missing>,
    },
}

/// A refusal with the plugin it concerns, for messages.
pub struct Refused<'a> {
    /// The refusal.
    pub refusal: &'a Refusal,
    /// The candidate.
    pub candidate: Candidate<'a>,
}

impl fmt::Display for Refused<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.candidate.manifest;
        let who = format!(
            "plugin {} {} (digest {})",
            m.name, m.version, self.candidate.digest
        );
        match self.refusal {
            Refusal::Revoked { origin, line } => write!(
                f,
                "{who} is revoked by {origin} line {line}: it must not run, whoever signed it"
            ),
            Refusal::NotAdmitted { origin, near } if near.is_empty() => {
                let file = self.candidate.file.map_or_else(
                    || format!("{}.wasm", m.name),
                    |p| shell_words::quote(&p.display().to_string()).into_owned(),
                );
                write!(
                    f,
                    "{who} is not admitted by {origin}: no rule names '{}'. `exorun policy init {file}` prints a rule for this build (pinned by its digest): copy its [[plugin]] section into {origin}, then narrow what it grants",
                    m.name
                )
            }
            Refusal::NotAdmitted { origin, near } => {
                write!(f, "{who} is not admitted by {origin}:")?;
                for why in near {
                    write!(f, "\n  - {why}")?;
                }
                Ok(())
            }
            Refusal::Exceeds {
                origin,
                line,
                missing,
            } => {
                write!(
                    f,
                    "{who} asks for more than its rule ({origin} line {line}) grants:"
                )?;
                for what in missing {
                    write!(f, "\n  - {what}")?;
                }
                write!(
                    f,
                    "\nGrant these, or set `narrow = true` in the rule to run it without them (each such call is then refused)."
                )
            }
        }
    }
}

impl Policy {
    /// Reads and checks a policy file.
    pub fn load(path: &Path) -> Result<Policy, PolicyError> {
        let text = crate::text::read(path).map_err(|e| PolicyError::Read {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        Policy::parse(&text, &path.display().to_string())
    }

    /// Checks a policy's text; `origin` names it in messages.
    pub fn parse(text: &str, origin: &str) -> Result<Policy, PolicyError> {
        let file: PolicyFile = toml::from_str(text).map_err(|e| PolicyError::Parse {
            origin: origin.into(),
            reason: e.to_string().trim_end().to_string(),
        })?;
        let invalid = |problem: Problem| PolicyError::Invalid {
            origin: origin.into(),
            line: line_of(text, problem.at),
            message: problem.message,
        };
        let mut keys = BTreeMap::new();
        for (name, key) in &file.trusted_keys {
            let parsed = PublicKey::parse(key.get_ref()).map_err(|e| {
                invalid(Problem {
                    at: key.span().start,
                    message: format!(
                        "trusted key '{name}' is not a minisign public key ({e}): give the base64 line of its .pub file (it starts with RW)"
                    ),
                })
            })?;
            keys.insert(name.clone(), parsed);
        }
        let mut revoked_keys = Vec::new();
        for key in &file.revoked_keys {
            let id = KeyId::from_hex(key.get_ref())
                .or_else(|| PublicKey::parse(key.get_ref()).ok().map(|k| k.key_id()))
                .ok_or_else(|| {
                    invalid(Problem {
                        at: key.span().start,
                        message: format!(
                            "revoked key '{}' is neither a key id (16 hex digits, as minisign shows it) nor a minisign public key",
                            key.get_ref()
                        ),
                    })
                })?;
            if let Some((name, _)) = keys.iter().find(|(_, k)| k.key_id() == id) {
                return Err(invalid(Problem {
                    at: key.span().start,
                    message: format!(
                        "key {id} is both trusted (as '{name}') and revoked: remove it from [trusted_keys]"
                    ),
                }));
            }
            revoked_keys.push((id, line_of(text, key.span().start)));
        }
        let mut revoked = Vec::new();
        for digest in &file.revoked {
            let hex = digest
                .get_ref()
                .trim()
                .trim_start_matches("sha256:")
                .to_ascii_lowercase();
            if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(invalid(Problem {
                    at: digest.span().start,
                    message: format!(
                        "revoked digest '{}' is not a sha256 (64 hex digits)",
                        digest.get_ref()
                    ),
                }));
            }
            revoked.push((hex, line_of(text, digest.span().start)));
        }
        let names: Vec<&str> = keys.keys().map(String::as_str).collect();
        let mut problems = Vec::new();
        let mut rules = Vec::new();
        for rule in &file.plugins {
            rules.push(rule::compile(text, rule, &names, &mut problems).map_err(invalid)?);
        }
        let mut caller_rules = Vec::new();
        for raw in &file.callers {
            let rule = callers::compile(text, raw).map_err(invalid)?;
            for plugin in rule.plugins.iter().filter(|p| !p.starts_with("sha256:")) {
                if !rules.iter().any(|r| &r.name == plugin) {
                    problems.push(Problem {
                        at: raw.span().start,
                        message: format!(
                            "{} names plugin '{plugin}', which no [[plugin]] rule admits: it cannot run",
                            rule.label()
                        ),
                    });
                }
            }
            caller_rules.push(rule);
        }
        let auditors = file
            .auditors
            .iter()
            .map(|raw| callers::compile_auditor(text, raw).map_err(invalid))
            .collect::<Result<Vec<_>, _>>()?;
        let warnings = problems
            .into_iter()
            .map(|p| format!("{origin} line {}: {}", line_of(text, p.at), p.message))
            .collect();
        Ok(Policy {
            origin: origin.into(),
            digest: crate::digest::sha256_hex(text.as_bytes()),
            keys,
            revoked,
            revoked_keys,
            rules,
            callers: caller_rules,
            auditors,
            warnings,
        })
    }

    /// Where it was read from.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The sha256 of the policy text, recorded with each run.
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// What is suspicious but allowed (names the cmdlet catalogue does not know).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The trusted keys, by the names the rules use.
    pub fn trusted_keys(&self) -> impl Iterator<Item = (&str, &PublicKey)> {
        self.keys.iter().map(|(name, key)| (name.as_str(), key))
    }

    /// The name of the trusted key with this id.
    pub fn key_name(&self, id: KeyId) -> Option<&str> {
        self.trusted_keys()
            .find(|(_, key)| key.key_id() == id)
            .map(|(name, _)| name)
    }

    /// The line that revokes key `id`, if one does.
    pub fn revokes_key(&self, id: KeyId) -> Option<usize> {
        self.revoked_keys
            .iter()
            .find(|(revoked, _)| *revoked == id)
            .map(|(_, line)| *line)
    }

    /// The rules.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The caller rules, in order: who may ask the service to run what.
    pub fn caller_rules(&self) -> &[callers::CallerRule] {
        &self.callers
    }

    /// The auditor rules, in order: who may read the service's audit log.
    pub fn auditor_rules(&self) -> &[callers::AuditorRule] {
        &self.auditors
    }

    /// The auditor rule naming `caller` (see [`callers::auditor_for`]), or why none does.
    pub fn auditor(&self, caller: &crate::caller::Caller) -> Result<&callers::AuditorRule, String> {
        callers::auditor_for(&self.auditors, caller)
    }

    /// Decides whether `caller` may run what `ask` says (see [`callers::authorize`]);
    /// `runs_last_hour` counts the caller's runs of that target submitted in the last hour.
    pub fn authorize(
        &self,
        caller: &crate::caller::Caller,
        ask: callers::Ask<'_>,
        runs_last_hour: u32,
    ) -> Result<callers::Authorized<'_>, callers::CallerRefusal> {
        callers::authorize(&self.callers, &self.origin, caller, ask, runs_last_hour)
    }

    /// The rule that admits `candidate`: revoked digests first, then the first rule of its
    /// name whose digest and signers it meets.
    pub(crate) fn rule_for(&self, candidate: Candidate<'_>) -> Result<&Rule, Refusal> {
        if let Some((_, line)) = self.revoked.iter().find(|(d, _)| d == candidate.digest) {
            return Err(Refusal::Revoked {
                origin: self.origin.clone(),
                line: *line,
            });
        }
        let mut near = Vec::new();
        for rule in self
            .rules
            .iter()
            .filter(|r| r.name == candidate.manifest.name)
        {
            if let Some(pinned) = &rule.digest
                && pinned != candidate.digest
            {
                near.push(format!(
                    "the rule at line {} pins digest {pinned}, this build is {}: if this build was vetted, put its digest in the rule",
                    rule.line, candidate.digest
                ));
                continue;
            }
            let signed = rule
                .signed_by
                .iter()
                .filter(|k| candidate.signers.contains(k))
                .count();
            if signed < rule.min_signers {
                let missing: Vec<&str> = rule
                    .signed_by
                    .iter()
                    .filter(|k| !candidate.signers.contains(k))
                    .map(String::as_str)
                    .collect();
                near.push(format!(
                    "the rule at line {} needs {} signature(s) of {}; it has {} (missing: {})",
                    rule.line,
                    rule.min_signers,
                    rule.signed_by.join(", "),
                    signed,
                    missing.join(", ")
                ));
                continue;
            }
            return Ok(rule);
        }
        Err(Refusal::NotAdmitted {
            origin: self.origin.clone(),
            near,
        })
    }

    /// Admits `candidate` and gives its effective rights, or says why it may not run. Only
    /// [`Policy::vet`] calls it: it alone checks the signatures and revoked keys first.
    pub(crate) fn admit(&self, candidate: Candidate<'_>) -> Result<Grant, Refusal> {
        let rule = self.rule_for(candidate)?;
        let source = format!("{} line {}", self.origin, rule.line);
        let mut grant = Grant::intersect(candidate.manifest, rule, source).map_err(|missing| {
            Refusal::Exceeds {
                origin: self.origin.clone(),
                line: rule.line,
                missing,
            }
        })?;
        grant.signers = candidate.signers.to_vec();
        grant.policy_digest = Some(self.digest.clone());
        Ok(grant)
    }
}

/// Where a policy is looked for when neither `--policy` nor `EXORUN_POLICY` nor the profile
/// names one: the user's, then the machine's.
pub fn default_paths() -> Vec<PathBuf> {
    let user = crate::config::user_config_dir().map(|d| d.join("policy.toml"));
    user.into_iter()
        .chain(std::iter::once(PathBuf::from("/etc/exorun/policy.toml")))
        .collect()
}

#[cfg(test)]
mod tests;
