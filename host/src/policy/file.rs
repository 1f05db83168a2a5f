//! The policy file as the operator writes it (TOML), read as it is: names and patterns keep
//! their place in the text so every later check can point at the line that holds them.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

/// The whole file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyFile {
    /// Keys whose signatures the operator trusts, by a name the rules use: a minisign public key
    /// (the base64 line of its `.pub` file).
    #[serde(default)]
    pub trusted_keys: BTreeMap<String, Spanned<String>>,
    /// Content digests (sha256, hex) that must never run again, even when signed.
    #[serde(default)]
    pub revoked: Vec<Spanned<String>>,
    /// Keys whose signatures refuse a plugin: a key id as minisign shows it, or a public key.
    #[serde(default)]
    pub revoked_keys: Vec<Spanned<String>>,
    /// One rule per admitted plugin.
    #[serde(default, rename = "plugin")]
    pub plugins: Vec<Spanned<PluginRule>>,
    /// Who may ask the service (`exorun serve`) to run what; none: nobody may.
    #[serde(default, rename = "caller")]
    pub callers: Vec<Spanned<CallerRuleFile>>,
    /// Who may read the service's audit log and see every run; none: nobody may.
    #[serde(default, rename = "auditor")]
    pub auditors: Vec<Spanned<AuditorRuleFile>>,
}

/// One auditor rule as written: who may read the audit log through the service.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditorRuleFile {
    /// A label for messages, e.g. `security team`.
    pub name: Option<Spanned<String>>,
    /// Who: the forms of a caller rule's `who` (any one matches).
    pub who: Spanned<Vec<String>>,
}

/// One caller rule as written: who may run which plugins and workflows, with which inputs.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallerRuleFile {
    /// A label for messages and `policy explain`, e.g. `helpdesk auto-replies`.
    pub name: Option<Spanned<String>>,
    /// Who the rule is for: `user:UPN`, `group:OBJECT-ID`, `role:APP-ROLE`, `app:CLIENT-ID`,
    /// `unix-user:NAME`, `unix-group:NAME`, `schedule:NAME` (any one matches).
    pub who: Spanned<Vec<String>>,
    /// Plugins they may run: the name a `[[plugin]]` rule admits, or `sha256:DIGEST`.
    #[serde(default)]
    pub plugins: Vec<Spanned<String>>,
    /// Workflows they may run, by the name of their file in the service's workflow directory.
    #[serde(default)]
    pub workflows: Vec<Spanned<String>>,
    /// Constraints on the input's fields; a field not named here may not be given.
    #[serde(default)]
    pub inputs: BTreeMap<Spanned<String>, ValueRule>,
    /// Only dry runs.
    #[serde(default)]
    pub dry_run_only: bool,
    /// How many runs one caller may submit under this rule in an hour.
    pub runs_per_hour: Option<Spanned<u32>>,
    /// Who may approve a run (same forms as `who`); a run then waits for `min_approvals`.
    #[serde(default)]
    pub approvers: Option<Spanned<Vec<String>>>,
    /// How many approvals a run needs (default 1 when `approvers` is set).
    pub min_approvals: Option<Spanned<u32>>,
    /// How long an approval, or a request waiting for one, stays valid (default 24).
    pub approval_hours: Option<Spanned<u32>>,
}

/// What admits one plugin and what it may do.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginRule {
    /// The plugin's name (its manifest's): a rule never admits a plugin of another name.
    pub name: Spanned<String>,
    /// The sha256 of the exact build admitted (`exorun plugin inspect` shows it).
    pub digest: Option<Spanned<String>>,
    /// Names of trusted keys that must have signed it (all of them, or `min_signers` of them).
    #[serde(default)]
    pub signed_by: Vec<Spanned<String>>,
    /// How many of `signed_by` must have signed (default: all).
    pub min_signers: Option<Spanned<usize>>,
    /// The credential profile (config file) it runs with; default: the one of the command line.
    pub profile: Option<Spanned<String>>,
    /// Every changing cmdlet refused, even if granted.
    #[serde(default)]
    pub read_only: bool,
    /// Run a plugin that asks for more than this grants, refusing the extra calls one by one,
    /// instead of refusing the plugin.
    #[serde(default)]
    pub narrow: bool,
    /// Changing cmdlets one run may send.
    pub max_mutations: Option<u64>,
    /// The recipients it may change: a filter the target (`-Identity`) of every changing
    /// cmdlet must match (see [`super::scope`]).
    pub scope: Option<Spanned<String>>,
    /// Which parameters of a changing cmdlet the scope is checked on (`["Identity", "Member"]`);
    /// default: every parameter the cmdlet catalogue marks as naming a recipient, and `Identity`.
    pub scope_on: Option<Spanned<Vec<String>>>,
    /// An address outside the tenant (one no recipient has, e.g. `-ForwardingSmtpAddress`) may
    /// be given to a changing cmdlet under a scope.
    #[serde(default)]
    pub external_targets: bool,
    /// Caps on the run's resources.
    #[serde(default)]
    pub limits: LimitRule,
    /// Allowed `--config` values, by key.
    #[serde(default)]
    pub config: BTreeMap<String, ValueRule>,
    /// Granted cmdlets.
    #[serde(default, rename = "cmdlet")]
    pub cmdlets: Vec<Spanned<CmdletRule>>,
}

/// Caps on a run's resources; the manifest's request above a cap refuses the plugin.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitRule {
    /// Linear memory, MiB.
    pub memory_mb: Option<u64>,
    /// Wall-clock time, seconds.
    pub timeout_secs: Option<u64>,
    /// Fuel (roughly, WebAssembly instructions) per run.
    pub fuel: Option<u64>,
}

/// One granted cmdlet and the parameters it may be given.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CmdletRule {
    /// Cmdlet name, e.g. `Set-Mailbox` (any case).
    pub name: Spanned<String>,
    /// On Security & Compliance rather than Exchange Online.
    #[serde(default)]
    pub compliance: bool,
    /// Allowed parameters, each with constraints on its value (`{}`: any value of its type).
    #[serde(default)]
    pub parameters: BTreeMap<Spanned<String>, ValueRule>,
}

/// Constraints on one value. A list value must meet them in every item.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValueRule {
    /// The parameter must be given.
    #[serde(default)]
    pub required: bool,
    /// Allowed values (text compares in any case, as Exchange does).
    pub values: Option<Vec<toml::Value>>,
    /// Wildcard pattern(s) text must match as a whole (`*` any run, `?` one character; any
    /// case), e.g. `*@contoso.com`.
    pub glob: Option<Spanned<Patterns>>,
    /// Regular expression(s) text must match as a whole.
    pub regex: Option<Spanned<Patterns>>,
    /// Smallest number allowed.
    pub min: Option<i64>,
    /// Largest number allowed; on `ResultSize` also refuses `Unlimited`.
    pub max: Option<i64>,
}

/// One pattern or a list of them (any one must match).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Patterns {
    /// One.
    One(String),
    /// Several.
    Many(Vec<String>),
}

impl Patterns {
    /// The patterns.
    pub fn items(&self) -> &[String] {
        match self {
            Patterns::One(one) => std::slice::from_ref(one),
            Patterns::Many(many) => many,
        }
    }
}
