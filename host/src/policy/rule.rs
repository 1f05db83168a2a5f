//! One plugin rule of a policy, checked and compiled: patterns compiled, names validated, each
//! part knowing the line it came from.

use std::collections::BTreeMap;
use std::sync::Arc;

use toml::Spanned;

use super::file::{PluginRule, ValueRule};
use super::grant::Caps;
use super::scope::Scope;
use super::values::{ValueCheck, glob, whole};
use crate::exchange::catalogue::{Catalogue, Lookup};

/// A checked plugin rule.
#[derive(Clone, Debug)]
pub struct Rule {
    /// The line of its `[[plugin]]` header.
    pub line: usize,
    /// The plugin name it admits.
    pub name: String,
    /// The content digest it pins (lowercase hex).
    pub digest: Option<String>,
    /// Trusted key names that must have signed.
    pub signed_by: Vec<String>,
    /// How many of them must have signed.
    pub min_signers: usize,
    /// The credential profile the plugin runs with.
    pub profile: Option<String>,
    /// Every changing cmdlet refused.
    pub read_only: bool,
    /// Run with the intersection instead of refusing a plugin that asks for more.
    pub narrow: bool,
    /// Changing cmdlets one run may send.
    pub max_mutations: Option<u64>,
    /// The recipients it may change.
    pub scope: Option<Arc<Scope>>,
    /// The parameters the scope is checked on, if the rule names them.
    pub scope_on: Option<Vec<String>>,
    /// Addresses outside the tenant allowed under the scope.
    pub external_targets: bool,
    /// Resource caps.
    pub caps: Caps,
    /// Allowed settings.
    pub config: BTreeMap<String, ValueCheck>,
    /// Granted cmdlets.
    pub cmdlets: Vec<CmdletGrant>,
}

/// A granted cmdlet with its parameters.
#[derive(Clone, Debug)]
pub struct CmdletGrant {
    /// Its line.
    pub line: usize,
    /// Its name.
    pub name: String,
    /// On Security & Compliance.
    pub compliance: bool,
    /// Parameter names with their constraints.
    pub parameters: Vec<(String, ValueCheck)>,
}

impl CmdletGrant {
    /// The constraints on parameter `name` (any case), if granted.
    pub fn parameter(&self, name: &str) -> Option<&ValueCheck> {
        self.parameters
            .iter()
            .find(|(granted, _)| granted.eq_ignore_ascii_case(name))
            .map(|(_, check)| check)
    }
}

impl Rule {
    /// The grant of `cmdlet` (any case) on the given surface.
    pub fn cmdlet(&self, cmdlet: &str, compliance: bool) -> Option<&CmdletGrant> {
        self.cmdlets
            .iter()
            .find(|c| c.compliance == compliance && c.name.eq_ignore_ascii_case(cmdlet))
    }
}

/// Where in the text a problem is, and what it is.
pub struct Problem {
    /// Byte offset in the policy text.
    pub at: usize,
    /// What is wrong and how to fix it.
    pub message: String,
}

/// The line (from 1) of byte offset `at` of `text`.
pub fn line_of(text: &str, at: usize) -> usize {
    text.get(..at).unwrap_or(text).matches('\n').count() + 1
}

/// Checks and compiles one rule of the policy `text`. `keys` are the trusted key names;
/// warnings (a cmdlet or parameter the catalogue does not know) go to `warnings`.
pub fn compile(
    text: &str,
    rule: &Spanned<PluginRule>,
    keys: &[&str],
    warnings: &mut Vec<Problem>,
) -> Result<Rule, Problem> {
    let at = rule.span().start;
    let raw = rule.get_ref();
    let problem = |at: usize, message: String| Problem { at, message };
    let name = raw.name.get_ref();
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Err(problem(
            raw.name.span().start,
            format!(
                "plugin name '{name}' must be lowercase letters, digits and '-', as in its manifest"
            ),
        ));
    }
    let digest = raw
        .digest
        .as_ref()
        .map(|d| {
            let hex = d.get_ref().trim().trim_start_matches("sha256:").to_ascii_lowercase();
            if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                Ok(hex)
            } else {
                Err(problem(
                    d.span().start,
                    format!(
                        "digest '{}' is not a sha256 (64 hex digits): copy it from `exorun plugin inspect`",
                        d.get_ref()
                    ),
                ))
            }
        })
        .transpose()?;
    for signer in &raw.signed_by {
        if !keys.contains(&signer.get_ref().as_str()) {
            return Err(problem(
                signer.span().start,
                format!(
                    "signed_by names '{}', which is not in [trusted_keys]{}",
                    signer.get_ref(),
                    if keys.is_empty() {
                        String::new()
                    } else {
                        format!(" (it has {})", keys.join(", "))
                    }
                ),
            ));
        }
    }
    let min_signers = match &raw.min_signers {
        Some(n) if *n.get_ref() == 0 || *n.get_ref() > raw.signed_by.len() => {
            return Err(problem(
                n.span().start,
                format!(
                    "min_signers = {} but signed_by names {} key(s): it must be between 1 and {}",
                    n.get_ref(),
                    raw.signed_by.len(),
                    raw.signed_by.len().max(1)
                ),
            ));
        }
        Some(n) => *n.get_ref(),
        None => raw.signed_by.len(),
    };
    if digest.is_none() && raw.signed_by.is_empty() {
        return Err(problem(
            at,
            format!(
                "the rule for '{name}' admits no build: pin one with `digest = \"...\"` (from `exorun plugin inspect`) or require signers with `signed_by = [\"key name\"]`"
            ),
        ));
    }
    let scope = raw
        .scope
        .as_ref()
        .map(|text| {
            Scope::parse(text.get_ref()).map(Arc::new).map_err(|why| {
                problem(
                    text.span().start,
                    format!("scope: {why} (see docs/policy.md for the filters a scope takes)"),
                )
            })
        })
        .transpose()?;
    let scope_on = raw
        .scope_on
        .as_ref()
        .map(|names| {
            if scope.is_none() {
                return Err(problem(
                    names.span().start,
                    "scope_on names the parameters a scope is checked on, but the rule has no scope: add one or remove scope_on".into(),
                ));
            }
            match names.get_ref().iter().find(|n| !is_parameter_name(n)) {
                Some(bad) => Err(problem(
                    names.span().start,
                    format!("scope_on: '{bad}' is not a parameter name (letters and digits only)"),
                )),
                None if names.get_ref().is_empty() => Err(problem(
                    names.span().start,
                    "scope_on is empty, so the scope would check nothing: name at least one parameter, such as \"Identity\"".into(),
                )),
                None => Ok(names.get_ref().clone()),
            }
        })
        .transpose()?;
    let mut config = BTreeMap::new();
    for (key, value) in &raw.config {
        config.insert(key.clone(), value_check(value)?);
    }
    let catalogue = Catalogue::get();
    let mut cmdlets = Vec::new();
    for cmdlet in &raw.cmdlets {
        let line_at = cmdlet.span().start;
        let c = cmdlet.get_ref();
        let cname = c.name.get_ref();
        if !is_cmdlet_name(cname) {
            return Err(problem(
                c.name.span().start,
                format!("'{cname}' is not a cmdlet name (Verb-Noun, letters and digits only)"),
            ));
        }
        let known = catalogue.cmdlet(cname);
        if known.is_none() {
            let near = catalogue.closest_cmdlets(cname);
            warnings.push(problem(
                c.name.span().start,
                format!(
                    "{cname} is not in exorun's cmdlet catalogue, so the types of its values are not checked{}",
                    near.first().map(|n| format!("; did you mean {n}?")).unwrap_or_default()
                ),
            ));
        }
        let mut parameters: Vec<(String, ValueCheck)> = Vec::new();
        for (pname, rule) in &c.parameters {
            let pn = pname.get_ref();
            if !is_parameter_name(pn) {
                return Err(problem(
                    pname.span().start,
                    format!("'{pn}' is not a parameter name (letters and digits only)"),
                ));
            }
            if parameters.iter().any(|(p, _)| p.eq_ignore_ascii_case(pn)) {
                return Err(problem(
                    pname.span().start,
                    format!("parameter {pn} is granted twice"),
                ));
            }
            if let Some(known) = known
                && !matches!(known.parameter(pn), Lookup::Found(p) if p.name.eq_ignore_ascii_case(pn) || p.aliases.iter().any(|a| a.eq_ignore_ascii_case(pn)))
            {
                let near = known.closest_parameters(pn);
                warnings.push(problem(
                    pname.span().start,
                    format!(
                        "{cname} has no parameter {pn} in exorun's catalogue{}",
                        near.first()
                            .map(|n| format!("; did you mean {n}?"))
                            .unwrap_or_default()
                    ),
                ));
            }
            parameters.push((pn.clone(), value_check(rule)?));
        }
        cmdlets.push(CmdletGrant {
            line: line_of(text, line_at),
            name: cname.clone(),
            compliance: c.compliance,
            parameters,
        });
    }
    Ok(Rule {
        line: line_of(text, at),
        name: name.clone(),
        digest,
        signed_by: raw.signed_by.iter().map(|s| s.get_ref().clone()).collect(),
        min_signers,
        profile: raw.profile.as_ref().map(|p| p.get_ref().clone()),
        read_only: raw.read_only,
        narrow: raw.narrow,
        max_mutations: raw.max_mutations,
        scope,
        scope_on,
        external_targets: raw.external_targets,
        caps: Caps {
            memory_mb: raw.limits.memory_mb,
            timeout_secs: raw.limits.timeout_secs,
            fuel: raw.limits.fuel,
        },
        config,
        cmdlets,
    })
}

/// Compiles the constraints on one value.
pub(super) fn value_check(rule: &ValueRule) -> Result<ValueCheck, Problem> {
    let mut check = ValueCheck {
        required: rule.required,
        values: rule
            .values
            .as_ref()
            .map(|values| values.iter().map(toml_to_json).collect()),
        min: rule.min,
        max: rule.max,
        ..ValueCheck::default()
    };
    if let Some(globs) = &rule.glob {
        for pattern in globs.get_ref().items() {
            check.globs.push(glob(pattern));
        }
    }
    if let Some(regexes) = &rule.regex {
        for pattern in regexes.get_ref().items() {
            let re = whole(pattern).map_err(|e| Problem {
                at: regexes.span().start,
                message: format!("regex '{pattern}' is not a valid regular expression: {e}"),
            })?;
            check.regexes.push((pattern.clone(), re));
        }
    }
    Ok(check)
}

fn toml_to_json(value: &toml::Value) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or(serde_json::Value::Null)
}

/// `Verb-Noun`, ASCII letters and digits: nothing else (no spaces, control characters or
/// separators) can reach the service as part of a name.
pub fn is_cmdlet_name(name: &str) -> bool {
    name.split_once('-').is_some_and(|(verb, noun)| {
        !verb.is_empty()
            && !noun.is_empty()
            && verb.bytes().all(|b| b.is_ascii_alphabetic())
            && noun.bytes().all(|b| b.is_ascii_alphanumeric())
    })
}

/// A parameter name: ASCII letters and digits, starting with a letter.
pub fn is_parameter_name(name: &str) -> bool {
    name.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
        && name.bytes().all(|b| b.is_ascii_alphanumeric())
}
