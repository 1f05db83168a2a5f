//! Caller rules: who may ask the service (`exorun serve`) to run which plugins and workflows,
//! with which inputs, dry run only or not, how often, and after whose approval. Deny by default:
//! a caller no rule names runs nothing. The decision is made here, in the library, from a
//! [`Caller`] the front door authenticated; the front door only counts and stores.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::{Map, Value};
use toml::Spanned;

use super::file::{AuditorRuleFile, CallerRuleFile};
use super::rule::{Problem, line_of, value_check};
use super::values::ValueCheck;
use crate::caller::{Caller, Groups, TokenIdentity, Via};

/// One form of `who` or `approvers`: a kind of identity and its value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Principal {
    /// A user by UPN (any case), from an Entra token.
    User(String),
    /// Members of an Entra group, by object id.
    Group(String),
    /// Holders of an app role of the service's app (the token's `roles`).
    Role(String),
    /// An app (app-only token) by client id.
    App(String),
    /// A local user on the Unix socket.
    UnixUser(String),
    /// Members of a local group on the Unix socket.
    UnixGroup(String),
    /// One of the service's schedules.
    Schedule(String),
}

/// The forms `who` and `approvers` take, for messages.
const FORMS: &str = "user:UPN, group:OBJECT-ID, role:APP-ROLE, app:CLIENT-ID, unix-user:NAME, unix-group:NAME or schedule:NAME";

impl Principal {
    /// Reads `kind:value`.
    pub fn parse(text: &str) -> Result<Principal, String> {
        let Some((kind, value)) = text.split_once(':') else {
            return Err(format!(
                "'{text}' names no kind of caller: write one of {FORMS}"
            ));
        };
        let value = value.trim();
        if value.is_empty() || value.chars().any(char::is_control) {
            return Err(format!("'{text}' has no name after '{kind}:'"));
        }
        let value = value.to_string();
        Ok(match kind.trim() {
            "user" => Principal::User(value),
            "group" => Principal::Group(value),
            "role" => Principal::Role(value),
            "app" => Principal::App(value),
            "unix-user" => Principal::UnixUser(value),
            "unix-group" => Principal::UnixGroup(value),
            "schedule" => Principal::Schedule(value),
            other => {
                return Err(format!(
                    "'{other}' in '{text}' is not a kind of caller: write one of {FORMS}"
                ));
            }
        })
    }

    /// Whether `caller` is this principal; `Err` when it cannot be told (a group rule against
    /// a token that carries the groups overage marker instead of the list).
    pub fn matches(&self, caller: &Caller) -> Result<bool, Undecidable> {
        let token_identity = match &caller.via {
            Via::EntraToken { identity, .. } => Some(*identity),
            _ => None,
        };
        let unix = matches!(caller.via, Via::UnixSocket { .. });
        Ok(match self {
            Principal::User(upn) => {
                token_identity == Some(TokenIdentity::User)
                    && caller
                        .upn
                        .as_deref()
                        .is_some_and(|u| u.eq_ignore_ascii_case(upn))
            }
            Principal::App(id) => {
                token_identity == Some(TokenIdentity::App)
                    && caller
                        .app_id
                        .as_deref()
                        .is_some_and(|a| a.eq_ignore_ascii_case(id))
            }
            Principal::Role(role) => {
                token_identity.is_some() && caller.roles.iter().any(|r| r == role)
            }
            Principal::Group(id) => match (&caller.groups, token_identity) {
                (_, None) => false,
                (Groups::Overage, Some(_)) => return Err(Undecidable { group: id.clone() }),
                (Groups::Known(groups), Some(_)) => {
                    groups.iter().any(|g| g.eq_ignore_ascii_case(id))
                }
            },
            Principal::UnixUser(name) => unix && caller.unix_user.as_deref() == Some(name),
            Principal::UnixGroup(name) => {
                unix && matches!(&caller.groups, Groups::Known(groups) if groups.contains(name))
            }
            Principal::Schedule(name) => {
                caller.via == Via::Schedule && caller.principal == format!("schedule:{name}")
            }
        })
    }
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (kind, value) = match self {
            Principal::User(v) => ("user", v),
            Principal::Group(v) => ("group", v),
            Principal::Role(v) => ("role", v),
            Principal::App(v) => ("app", v),
            Principal::UnixUser(v) => ("unix-user", v),
            Principal::UnixGroup(v) => ("unix-group", v),
            Principal::Schedule(v) => ("schedule", v),
        };
        write!(f, "{kind}:{value}")
    }
}

/// A group rule that cannot be decided: the token lists no groups, only Entra's overage marker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Undecidable {
    /// The group the rule names.
    pub group: String,
}

/// What a caller asks to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target<'a> {
    /// A plugin of the store: its manifest name and content digest.
    Plugin {
        /// The name.
        name: &'a str,
        /// The content digest (lowercase hex).
        digest: &'a str,
    },
    /// A workflow of the service, by name.
    Workflow(&'a str),
}

impl fmt::Display for Target<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Plugin { name, .. } => write!(f, "plugin {name}"),
            Target::Workflow(name) => write!(f, "workflow {name}"),
        }
    }
}

/// A request to check against the caller rules.
#[derive(Clone, Copy, Debug)]
pub struct Ask<'a> {
    /// What to run.
    pub target: Target<'a>,
    /// The input object.
    pub input: &'a Map<String, Value>,
    /// A dry run.
    pub dry_run: bool,
}

/// Who must approve a run, and how many of them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Approval {
    /// Who may approve.
    pub approvers: Vec<Principal>,
    /// How many distinct approvers.
    pub min_approvals: u32,
    /// How long a request and its approvals stay valid, in hours.
    pub hours: u32,
}

/// A checked caller rule.
#[derive(Clone, Debug)]
pub struct CallerRule {
    /// The line of its `[[caller]]` header.
    pub line: usize,
    /// Its label, if it has one.
    pub name: Option<String>,
    /// Who it is for.
    pub who: Vec<Principal>,
    /// Plugin names, or `sha256:` digests.
    pub plugins: Vec<String>,
    /// Workflow names.
    pub workflows: Vec<String>,
    /// Constraints on each input field a caller may give.
    pub inputs: BTreeMap<String, ValueCheck>,
    /// Only dry runs.
    pub dry_run_only: bool,
    /// Runs a caller may submit under it in an hour.
    pub runs_per_hour: Option<u32>,
    /// Approval a run needs, if any.
    pub approval: Option<Approval>,
}

impl CallerRule {
    /// How messages name it: `caller rule 'helpdesk' (line 12)`.
    pub fn label(&self) -> String {
        match &self.name {
            Some(name) => format!("caller rule '{name}' (line {})", self.line),
            None => format!("caller rule at line {}", self.line),
        }
    }

    /// Whether it names `target`.
    pub fn covers(&self, target: Target<'_>) -> bool {
        match target {
            Target::Plugin { name, digest } => self.plugins.iter().any(|p| {
                p.strip_prefix("sha256:")
                    .map_or(p == name, |pinned| pinned.eq_ignore_ascii_case(digest))
            }),
            Target::Workflow(name) => self.workflows.iter().any(|w| w == name),
        }
    }

    /// Whether it is for `caller`; `Err` when only an undecidable group rule could say.
    fn is_for(&self, caller: &Caller) -> Result<bool, Undecidable> {
        let mut undecided = None;
        for who in &self.who {
            match who.matches(caller) {
                Ok(true) => return Ok(true),
                Ok(false) => {}
                Err(e) => undecided = Some(e),
            }
        }
        undecided.map_or(Ok(false), Err)
    }

    /// Checks the input against the rule's constraints: the first problem, in words.
    fn check_input(&self, input: &Map<String, Value>) -> Result<(), String> {
        for (field, value) in input {
            let Some(check) = self.inputs.get(field) else {
                let allowed: Vec<&str> = self.inputs.keys().map(String::as_str).collect();
                return Err(if allowed.is_empty() {
                    format!("input field '{field}' may not be given: the rule allows no input")
                } else {
                    format!(
                        "input field '{field}' may not be given: the rule allows {}",
                        allowed.join(", ")
                    )
                });
            };
            check
                .check(value)
                .map_err(|why| format!("input field '{field}': {why}"))?;
        }
        if let Some((field, _)) = self
            .inputs
            .iter()
            .find(|(field, check)| check.required && !input.contains_key(*field))
        {
            return Err(format!("input field '{field}' is required"));
        }
        Ok(())
    }
}

/// The rule that lets a caller run what they asked.
#[derive(Clone, Debug)]
pub struct Authorized<'a> {
    /// The rule.
    pub rule: &'a CallerRule,
}

/// Why a caller may not run what they asked, in words they can act on.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CallerRefusal {
    /// No rule names this caller for this plugin or workflow.
    #[error(
        "{caller} may not run {target}: no caller rule of {origin} names them for it{hint}. Ask the operator for a [[caller]] rule"
    )]
    NoRule {
        /// Who asked.
        caller: String,
        /// What they asked for.
        target: String,
        /// The policy file.
        origin: String,
        /// What they may run instead, if anything.
        hint: String,
    },
    /// The only rules that could admit the caller are on groups, and the token lists none.
    #[error(
        "{caller} may not run {target}: {rule} admits members of group {group}, and the token carries Entra's groups overage marker (over 200 groups) instead of the list. Ask the operator to grant an app role (role:…) instead of the group"
    )]
    GroupsOverage {
        /// Who asked.
        caller: String,
        /// What they asked for.
        target: String,
        /// The rule.
        rule: String,
        /// The group.
        group: String,
    },
    /// The input breaks the rule's constraints.
    #[error("{caller} may not run {target} with this input ({rule}): {why}")]
    Input {
        /// Who asked.
        caller: String,
        /// What they asked for.
        target: String,
        /// The rule.
        rule: String,
        /// What is wrong.
        why: String,
    },
    /// The rule allows only dry runs.
    #[error("{caller} may run {target} only as a dry run ({rule}): ask again with dry run on")]
    DryRunOnly {
        /// Who asked.
        caller: String,
        /// What they asked for.
        target: String,
        /// The rule.
        rule: String,
    },
    /// The caller used up the rule's runs for the hour.
    #[error(
        "{caller} has submitted {count} runs of {target} in the last hour, the most {rule} allows: try again later"
    )]
    RateLimited {
        /// Who asked.
        caller: String,
        /// What they asked for.
        target: String,
        /// The rule.
        rule: String,
        /// The limit.
        count: u32,
    },
}

impl CallerRefusal {
    /// The rule that refused, where one did, for the problem document.
    pub fn rule(&self) -> Option<&str> {
        match self {
            CallerRefusal::NoRule { .. } => None,
            CallerRefusal::GroupsOverage { rule, .. }
            | CallerRefusal::Input { rule, .. }
            | CallerRefusal::DryRunOnly { rule, .. }
            | CallerRefusal::RateLimited { rule, .. } => Some(rule),
        }
    }
}

/// Why an approval is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ApprovalRefusal {
    /// The run needs no approval.
    #[error("this run needs no approval")]
    NotNeeded,
    /// The approver is the requester.
    #[error("{approver} asked for this run and may not approve it: another approver must")]
    OwnRequest {
        /// Who tried.
        approver: String,
    },
    /// The approver is not among the rule's approvers.
    #[error("{approver} is not an approver of {rule}: its approvers are {approvers}")]
    NotAnApprover {
        /// Who tried.
        approver: String,
        /// The rule.
        rule: String,
        /// Who may.
        approvers: String,
    },
    /// The approver's groups cannot be told.
    #[error(
        "{approver} cannot be checked against group {group}: the token carries Entra's groups overage marker instead of the list"
    )]
    GroupsOverage {
        /// Who tried.
        approver: String,
        /// The group.
        group: String,
    },
}

/// Compiles the caller rules of a policy text.
pub(super) fn compile(text: &str, raw: &Spanned<CallerRuleFile>) -> Result<CallerRule, Problem> {
    let at = raw.span().start;
    let raw = raw.get_ref();
    let principals = |list: &Spanned<Vec<String>>, what: &str| -> Result<Vec<Principal>, Problem> {
        if list.get_ref().is_empty() {
            return Err(Problem {
                at: list.span().start,
                message: format!("`{what}` is empty: name at least one of {FORMS}"),
            });
        }
        list.get_ref()
            .iter()
            .map(|p| {
                Principal::parse(p).map_err(|message| Problem {
                    at: list.span().start,
                    message,
                })
            })
            .collect()
    };
    let who = principals(&raw.who, "who")?;
    if raw.plugins.is_empty() && raw.workflows.is_empty() {
        return Err(Problem {
            at,
            message:
                "the caller rule names no `plugins` and no `workflows`: it would allow nothing"
                    .into(),
        });
    }
    for plugin in &raw.plugins {
        let name = plugin.get_ref();
        let ok = match name.strip_prefix("sha256:") {
            Some(hex) => hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()),
            None => is_plain_name(name),
        };
        if !ok {
            return Err(Problem {
                at: plugin.span().start,
                message: format!(
                    "plugin '{name}' is neither a plugin name (letters, digits, '-', '_', '.') nor sha256:DIGEST"
                ),
            });
        }
    }
    for workflow in &raw.workflows {
        if !is_plain_name(workflow.get_ref()) {
            return Err(Problem {
                at: workflow.span().start,
                message: format!(
                    "workflow '{}' is not a workflow name (its file's name without .toml: letters, digits, '-', '_', '.')",
                    workflow.get_ref()
                ),
            });
        }
    }
    let mut inputs = BTreeMap::new();
    for (field, rule) in &raw.inputs {
        inputs.insert(field.get_ref().clone(), value_check(rule)?);
    }
    let approval = match &raw.approvers {
        None => {
            if let Some(min) = &raw.min_approvals {
                return Err(Problem {
                    at: min.span().start,
                    message: "`min_approvals` without `approvers`: say who may approve".into(),
                });
            }
            None
        }
        Some(list) => {
            let approvers = principals(list, "approvers")?;
            let min_approvals = raw.min_approvals.as_ref().map_or(1, |m| *m.get_ref());
            if min_approvals == 0 {
                return Err(Problem {
                    at: raw.min_approvals.as_ref().map_or(at, |m| m.span().start),
                    message: "`min_approvals = 0` approves nothing: remove `approvers` instead"
                        .into(),
                });
            }
            let hours = raw.approval_hours.as_ref().map_or(24, |h| *h.get_ref());
            if hours == 0 {
                return Err(Problem {
                    at: raw.approval_hours.as_ref().map_or(at, |h| h.span().start),
                    message: "`approval_hours` must be at least 1".into(),
                });
            }
            Some(Approval {
                approvers,
                min_approvals,
                hours,
            })
        }
    };
    Ok(CallerRule {
        line: line_of(text, at),
        name: raw.name.as_ref().map(|n| n.get_ref().clone()),
        who,
        plugins: raw
            .plugins
            .iter()
            .map(|p| {
                let p = p.get_ref();
                match p.strip_prefix("sha256:") {
                    Some(hex) => format!("sha256:{}", hex.to_ascii_lowercase()),
                    None => p.clone(),
                }
            })
            .collect(),
        workflows: raw.workflows.iter().map(|w| w.get_ref().clone()).collect(),
        inputs,
        dry_run_only: raw.dry_run_only,
        runs_per_hour: raw.runs_per_hour.as_ref().map(|r| *r.get_ref()),
        approval,
    })
}

/// A checked auditor rule: who may read the service's audit log and see every run (not run
/// anything: that takes a caller rule).
#[derive(Clone, Debug)]
pub struct AuditorRule {
    /// The line of its `[[auditor]]` header.
    pub line: usize,
    /// Its label, if it has one.
    pub name: Option<String>,
    /// Who it is for.
    pub who: Vec<Principal>,
}

impl AuditorRule {
    /// How messages name it: `auditor rule 'security team' (line 40)`.
    pub fn label(&self) -> String {
        match &self.name {
            Some(name) => format!("auditor rule '{name}' (line {})", self.line),
            None => format!("auditor rule at line {}", self.line),
        }
    }
}

/// Checks one `[[auditor]]` table of the policy `text`.
pub(super) fn compile_auditor(
    text: &str,
    raw: &Spanned<AuditorRuleFile>,
) -> Result<AuditorRule, Problem> {
    let at = raw.span().start;
    let raw = raw.get_ref();
    if raw.who.get_ref().is_empty() {
        return Err(Problem {
            at: raw.who.span().start,
            message: "`who` of an auditor rule is empty: name who may read the audit log".into(),
        });
    }
    let who = raw
        .who
        .get_ref()
        .iter()
        .map(|p| {
            Principal::parse(p).map_err(|message| Problem {
                at: raw.who.span().start,
                message,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(AuditorRule {
        line: line_of(text, at),
        name: raw.name.as_ref().map(|n| n.get_ref().clone()),
        who,
    })
}

/// The auditor rule that names `caller`, or why none does (no rule names them, or a rule on a
/// group cannot be decided for a token with the groups overage marker: refused, fail closed).
pub fn auditor_for<'a>(
    rules: &'a [AuditorRule],
    caller: &Caller,
) -> Result<&'a AuditorRule, String> {
    let mut undecided = None;
    for rule in rules {
        for who in &rule.who {
            match who.matches(caller) {
                Ok(true) => return Ok(rule),
                Ok(false) => {}
                Err(Undecidable { group }) => {
                    undecided = Some(format!(
                        "{} cannot be checked against {}: it names group {group}, and the token carries Entra's groups overage marker instead of the list; ask the operator to name an app role (role:…) instead",
                        caller.principal,
                        rule.label()
                    ));
                }
            }
        }
    }
    Err(undecided.unwrap_or_else(|| {
        format!(
            "{} is not an auditor: no [[auditor]] rule of the policy names them",
            caller.principal
        )
    }))
}

/// A plugin or workflow name: nothing that could be a path or a trick in a message.
pub fn is_plain_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Decides a caller's request against `rules` (the policy's, in order): the first rule for the
/// caller and target whose input constraints and dry-run setting the request meets admits it.
/// `runs_last_hour` counts the caller's runs of the target submitted in the last hour.
pub fn authorize<'a>(
    rules: &'a [CallerRule],
    origin: &str,
    caller: &Caller,
    ask: Ask<'_>,
    runs_last_hour: u32,
) -> Result<Authorized<'a>, CallerRefusal> {
    let mut first_refusal = None;
    let mut overage = None;
    for rule in rules.iter().filter(|r| r.covers(ask.target)) {
        match rule.is_for(caller) {
            Ok(true) => {}
            Ok(false) => continue,
            Err(undecidable) => {
                overage.get_or_insert((rule, undecidable));
                continue;
            }
        }
        let refusal = if let Err(why) = rule.check_input(ask.input) {
            CallerRefusal::Input {
                caller: caller.principal.clone(),
                target: ask.target.to_string(),
                rule: rule.label(),
                why,
            }
        } else if rule.dry_run_only && !ask.dry_run {
            CallerRefusal::DryRunOnly {
                caller: caller.principal.clone(),
                target: ask.target.to_string(),
                rule: rule.label(),
            }
        } else if let Some(limit) = rule.runs_per_hour.filter(|&l| runs_last_hour >= l) {
            CallerRefusal::RateLimited {
                caller: caller.principal.clone(),
                target: ask.target.to_string(),
                rule: rule.label(),
                count: limit,
            }
        } else {
            return Ok(Authorized { rule });
        };
        first_refusal.get_or_insert(refusal);
    }
    if let Some(refusal) = first_refusal {
        return Err(refusal);
    }
    if let Some((rule, undecidable)) = overage {
        return Err(CallerRefusal::GroupsOverage {
            caller: caller.principal.clone(),
            target: ask.target.to_string(),
            rule: rule.label(),
            group: undecidable.group,
        });
    }
    let allowed = allowed_targets(rules, caller);
    let hint = if allowed.is_empty() {
        String::new()
    } else {
        format!(" (they may run: {})", allowed.join(", "))
    };
    Err(CallerRefusal::NoRule {
        caller: caller.principal.clone(),
        target: ask.target.to_string(),
        origin: origin.to_string(),
        hint,
    })
}

/// Everything `caller` may ask for under `rules`, as `plugin NAME` and `workflow NAME`.
pub fn allowed_targets(rules: &[CallerRule], caller: &Caller) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for rule in rules.iter().filter(|r| r.is_for(caller) == Ok(true)) {
        let named = rule
            .plugins
            .iter()
            .map(|p| format!("plugin {p}"))
            .chain(rule.workflows.iter().map(|w| format!("workflow {w}")));
        for target in named {
            if !out.contains(&target) {
                out.push(target);
            }
        }
    }
    out
}

/// The rules that apply to `caller`, in order.
pub fn rules_for<'a>(rules: &'a [CallerRule], caller: &Caller) -> Vec<&'a CallerRule> {
    rules
        .iter()
        .filter(|r| r.is_for(caller) == Ok(true))
        .collect()
}

/// Whether `approver` may approve a run that `rule` admitted for `requester`.
pub fn may_approve(
    rule: &CallerRule,
    requester: &Caller,
    approver: &Caller,
) -> Result<(), ApprovalRefusal> {
    let Some(approval) = &rule.approval else {
        return Err(ApprovalRefusal::NotNeeded);
    };
    if same_person(requester, approver) {
        return Err(ApprovalRefusal::OwnRequest {
            approver: approver.principal.clone(),
        });
    }
    let mut undecided = None;
    for who in &approval.approvers {
        match who.matches(approver) {
            Ok(true) => return Ok(()),
            Ok(false) => {}
            Err(e) => undecided = Some(e),
        }
    }
    if let Some(Undecidable { group }) = undecided {
        return Err(ApprovalRefusal::GroupsOverage {
            approver: approver.principal.clone(),
            group,
        });
    }
    let approvers: Vec<String> = approval.approvers.iter().map(ToString::to_string).collect();
    Err(ApprovalRefusal::NotAnApprover {
        approver: approver.principal.clone(),
        rule: rule.label(),
        approvers: approvers.join(", "),
    })
}

/// Whether two callers are one person: the same principal, Entra object id or local user.
pub fn same_person(a: &Caller, b: &Caller) -> bool {
    a.principal.eq_ignore_ascii_case(&b.principal)
        || matches!((&a.object_id, &b.object_id), (Some(x), Some(y)) if x.eq_ignore_ascii_case(y))
        || matches!(
            (&a.via, &b.via),
            (Via::UnixSocket { uid: x, .. }, Via::UnixSocket { uid: y, .. }) if x == y
        )
}

#[cfg(test)]
mod tests;

/// What an approval is bound to: the exact request and the dry-run plan the approver saw. Any
/// change to one of them (another build, other input, a real run instead of a dry one, another
/// policy, another plan) gives another binding, and the approval no longer counts.
#[derive(Clone, Copy, Debug)]
pub struct Bound<'a> {
    /// What runs: the plugin's content digest (or the workflow file's).
    pub digest: &'a str,
    /// The input.
    pub input: &'a Value,
    /// A dry run.
    pub dry_run: bool,
    /// The policy in force.
    pub policy_digest: &'a str,
    /// The sha256 of the plan the approver saw.
    pub plan_hash: &'a str,
}

impl Bound<'_> {
    /// The binding: the sha256 of the request's parts, each in a fixed place.
    pub fn binding(&self) -> String {
        let text = serde_json::json!([
            self.digest,
            self.input,
            self.dry_run,
            self.policy_digest,
            self.plan_hash
        ])
        .to_string();
        crate::digest::sha256_hex(text.as_bytes())
    }
}

/// An approval given: by whom, bound to what, when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Given {
    /// The approver's principal.
    pub approver: String,
    /// The binding they approved ([`Bound::binding`]).
    pub binding: String,
    /// When (Unix milliseconds).
    pub at_ms: i64,
}

/// Where a request waiting for approval stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ApprovalStanding {
    /// Enough approvals of this very request: it may run; the approvers, in order.
    Approved(Vec<String>),
    /// Not yet: how many valid approvals it has and needs.
    Waiting {
        /// Valid approvals.
        have: usize,
        /// Needed.
        need: usize,
    },
    /// Nobody approved it in time.
    Expired,
}

/// Counts the approvals of a request submitted at `submitted_ms` that `approval` governs: only
/// distinct approvers whose approval is bound to `binding` and younger than the rule's hours
/// count; a request older than that has expired.
pub fn standing(
    approval: &Approval,
    given: &[Given],
    binding: &str,
    submitted_ms: i64,
    now_ms: i64,
) -> ApprovalStanding {
    let valid_ms = i64::from(approval.hours) * 3_600_000;
    let mut approvers: Vec<String> = Vec::new();
    for g in given {
        if g.binding == binding
            && now_ms - g.at_ms <= valid_ms
            && !approvers
                .iter()
                .any(|a| a.eq_ignore_ascii_case(&g.approver))
        {
            approvers.push(g.approver.clone());
        }
    }
    let need = usize::try_from(approval.min_approvals).unwrap_or(usize::MAX);
    if approvers.len() >= need {
        ApprovalStanding::Approved(approvers)
    } else if now_ms - submitted_ms > valid_ms {
        ApprovalStanding::Expired
    } else {
        ApprovalStanding::Waiting {
            have: approvers.len(),
            need,
        }
    }
}
