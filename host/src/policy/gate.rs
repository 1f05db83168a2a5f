//! The one place a plugin's cmdlet call is checked, between the runtime's `exchange` interface
//! and the Exchange client: cmdlet, surface, parameter names, value types (from the cmdlet
//! catalogue) and the operator's constraints, read-only, the number of changes, and the target
//! scope of a change (the host reads the target recipient first). Only an admitted call yields
//! a [`Query`]: a refused one cannot reach the client, and in a dry run neither can a change
//! (the gate records it as rehearsed instead). When the run keeps a [`ChangeJournal`], a change
//! an interrupted attempt already made is answered from it and not sent again.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Map, Value};

use super::grant::{Grant, GrantedCmdlet};
use super::rule::{is_cmdlet_name, is_parameter_name};
use super::scope::{Members, Scope, ids};
use super::values::check_kind;
use crate::audit::{AuditError, CallContext};
use crate::changes::{ChangeJournal, ChangeKey, ChangeResult, Ticket};
use crate::exchange::catalogue::{Catalogue, Lookup};
use crate::exchange::{ExchangeClient, ExchangeError, Parameters, Query, Rehearsal, Surface};

/// The only annotation a parameter may carry: its OData type.
const TYPE_ANNOTATION: &str = "@odata.type";

/// Why a call was not admitted.
#[derive(Debug)]
pub enum Refusal {
    /// The grant does not allow it.
    Denied(String),
    /// The parameters are not a JSON object.
    Malformed(String),
    /// The run has no tenant (the plugin was only started to check it).
    NoTenant(String),
    /// The target could not be read to check it against the scope (throttled, unreachable…):
    /// not sent.
    Unchecked(ExchangeError),
    /// The decision could not be written to the audit log: the run must stop.
    AuditFailed(AuditError),
    /// The change could not be written to the run's journal: not sent, and the run must stop.
    JournalFailed(std::io::Error),
}

/// An admitted call.
pub enum Admitted {
    /// Ready to send; a change the run's journal keeps carries the ticket to write its result
    /// down with once the service has answered.
    Send {
        /// The query that runs it.
        query: Query,
        /// For a journaled change.
        ticket: Option<Ticket>,
    },
    /// A change in a dry run: recorded in the audit log, not sent.
    Rehearsed(Rehearsal),
    /// A change an interrupted attempt of the work already made: the rows it gave back, from
    /// the journal; not sent again.
    Replayed(Vec<String>),
}

/// Checks one run's calls against its grant.
pub struct Gate {
    grant: Arc<Grant>,
    client: Option<ExchangeClient>,
    /// Changes are rehearsed, not sent.
    dry_run: bool,
    /// Where changes are written down before and after they are sent.
    journal: Option<Arc<dyn ChangeJournal>>,
    /// How many times each change (cmdlet, parameters digest) was asked for so far.
    occurrences: HashMap<(String, String), u32>,
    pub(super) mutations: u64,
    /// Members of the groups the scope names, read once per run (by lowercase group name).
    groups: HashMap<String, Members>,
    /// Calls admitted (sent, or recorded in a dry run).
    pub calls: u64,
    /// Calls refused by the grant.
    pub denied: u64,
}

impl Gate {
    /// A gate for one run with `grant`, sending through `client` (`None`: no tenant); in a
    /// `dry_run` changes are checked like any call, then recorded instead of sent.
    pub fn new(grant: Arc<Grant>, client: Option<ExchangeClient>, dry_run: bool) -> Gate {
        Gate {
            grant,
            client,
            dry_run,
            journal: None,
            occurrences: HashMap::new(),
            mutations: 0,
            groups: HashMap::new(),
            calls: 0,
            denied: 0,
        }
    }

    /// This gate writing each change down in `journal` before and after it is sent, and
    /// answering from it the changes an earlier attempt finished.
    pub fn with_journal(self, journal: Option<Arc<dyn ChangeJournal>>) -> Gate {
        Gate { journal, ..self }
    }

    /// Checks a call and, if the grant allows it, gives the query that runs it.
    pub async fn admit(&mut self, cmdlet: &str, parameters: &str) -> Result<Admitted, Refusal> {
        let Some(client) = self.client.clone() else {
            return Err(Refusal::NoTenant(format!(
                "{cmdlet} was not sent: the plugin was started without a tenant, only to check it"
            )));
        };
        let parameters = match serde_json::from_str::<Value>(parameters) {
            Ok(Value::Object(map)) => map,
            malformed => {
                let why = match malformed {
                    Err(e) => format!("the parameters of {cmdlet} are not JSON: {e}"),
                    Ok(_) => format!(
                        "the parameters of {cmdlet} must be a JSON object, like {{\"Identity\": \"ann@contoso.com\"}}"
                    ),
                };
                let none = Parameters::new();
                return Err(self.refuse(&client, cmdlet, &none, why, Refusal::Malformed));
            }
        };
        let (name, compliance, mutating) = match self.check(cmdlet, &parameters) {
            Ok(granted) => (granted.name.clone(), granted.compliance, granted.mutating),
            Err(why) => {
                return Err(self.refuse(&client, cmdlet, &parameters, why, Refusal::Denied));
            }
        };
        let mut target_scope = None;
        if mutating && let Some(scope) = self.grant.scope.clone() {
            match self.in_scope(&client, &scope, &name, &parameters).await {
                Ok(()) => target_scope = Some(format!("in scope: {}", scope.text())),
                Err(Refusal::Denied(why)) => {
                    return Err(self.refuse(&client, cmdlet, &parameters, why, Refusal::Denied));
                }
                Err(other) => return Err(other),
            }
        }
        if mutating {
            self.mutations += 1;
        }
        self.calls += 1;
        tracing::debug!(target: "exorun::policy", plugin = %self.grant.plugin, cmdlet, "admitted");
        let surface = if compliance {
            Surface::Compliance
        } else {
            Surface::Exchange
        };
        let context = CallContext {
            decision: Some(format!("allowed by {}", self.grant.source)),
            target_scope,
            ..client.context().clone()
        };
        if self.dry_run && mutating {
            tracing::info!(target: "exorun::policy", plugin = %self.grant.plugin, cmdlet = %name, "dry run: recorded, not sent");
            client
                .audit()
                .rehearsed(&context, &name, &parameters)
                .map_err(Refusal::AuditFailed)?;
            return Ok(Admitted::Rehearsed(Rehearsal {
                surface,
                cmdlet: name,
                params: parameters,
            }));
        }
        let ticket = match (self.journal.clone(), mutating) {
            (Some(journal), true) => {
                let key = self.key(&name, &parameters);
                if let Some(ChangeResult::Done { rows }) = journal.finished(&key) {
                    client
                        .audit()
                        .replayed(&context, &name, &parameters)
                        .map_err(Refusal::AuditFailed)?;
                    return Ok(Admitted::Replayed(rows));
                }
                Some(Ticket::issue(journal, key).map_err(Refusal::JournalFailed)?)
            }
            _ => None,
        };
        Ok(Admitted::Send {
            query: client
                .query(surface, &name, parameters)
                .with_context(context),
            ticket,
        })
    }

    /// The journal's key of this change: which time the run asks for it.
    fn key(&mut self, cmdlet: &str, parameters: &Parameters) -> ChangeKey {
        let first = ChangeKey::new(cmdlet, parameters, 0);
        let seen = self
            .occurrences
            .entry((first.cmdlet.clone(), first.params.clone()))
            .or_insert(0);
        let key = ChangeKey {
            occurrence: *seen,
            ..first
        };
        *seen += 1;
        key
    }

    /// Counts, logs and audits a refusal; the record is written before the plugin hears of
    /// it, and a log that cannot be written stops the run instead.
    fn refuse(
        &mut self,
        client: &ExchangeClient,
        cmdlet: &str,
        parameters: &Parameters,
        why: String,
        kind: fn(String) -> Refusal,
    ) -> Refusal {
        self.denied += 1;
        tracing::warn!(target: "exorun::policy", plugin = %self.grant.plugin, cmdlet, "denied: {why}");
        match client
            .audit()
            .denied(client.context(), cmdlet, parameters, &why)
        {
            Ok(()) => kind(why),
            Err(error) => Refusal::AuditFailed(error),
        }
    }

    /// Reads the call's target (`-Identity`) and checks it against the scope; the groups the
    /// scope names are read on first use.
    async fn in_scope(
        &mut self,
        client: &ExchangeClient,
        scope: &Scope,
        cmdlet: &str,
        parameters: &Parameters,
    ) -> Result<(), Refusal> {
        let (plugin, source) = (&self.grant.plugin, &self.grant.source);
        let Some(target) = parameters
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("Identity"))
            .and_then(|(_, v)| v.as_str())
        else {
            return Err(Refusal::Denied(format!(
                "{cmdlet} would change a recipient that must be checked against the target scope of plugin {plugin} ({source}): give -Identity as text"
            )));
        };
        for group in scope.groups() {
            let key = group.to_lowercase();
            if self.groups.contains_key(&key) {
                continue;
            }
            let members = read(client, "Get-DistributionGroupMember", &group, true)
                .await
                .map_err(|e| unless_missing(e, || format!(
                    "the target scope of plugin {plugin} ({source}) names the group '{group}', which does not exist: fix the scope"
                )))?;
            self.groups
                .insert(key, members.iter().flat_map(ids).collect());
        }
        let missing = || {
            format!(
                "{cmdlet} -Identity '{target}': no such recipient, so it cannot be checked against the target scope ({source})"
            )
        };
        let found = read(client, "Get-Recipient", target, false)
            .await
            .map_err(|e| unless_missing(e, missing))?;
        let recipient = match found.as_slice() {
            [one] => one,
            [] => return Err(Refusal::Denied(missing())),
            _ => {
                return Err(Refusal::Denied(format!(
                    "{cmdlet} -Identity '{target}' names {} recipients: give one (its address or GUID) so it can be checked against the target scope ({source})",
                    found.len()
                )));
            }
        };
        if scope.matches(recipient, &|group| self.groups.get(&group.to_lowercase())) {
            Ok(())
        } else {
            Err(Refusal::Denied(format!(
                "{cmdlet} -Identity '{target}': the recipient is outside the target scope of plugin {plugin} ({source}): {}",
                scope.text()
            )))
        }
    }

    /// Everything but the JSON shape: the reason names what the grant lacks.
    pub(super) fn check(
        &self,
        cmdlet: &str,
        parameters: &Map<String, Value>,
    ) -> Result<&GrantedCmdlet, String> {
        let grant = &*self.grant;
        let plugin = &grant.plugin;
        if !is_cmdlet_name(cmdlet) {
            return Err(format!(
                "'{}' is not a cmdlet name (Verb-Noun, letters and digits only)",
                cmdlet.escape_debug()
            ));
        }
        let Some(granted) = grant.cmdlet(cmdlet) else {
            let names: Vec<&str> = grant.cmdlets.iter().map(|c| c.name.as_str()).collect();
            return Err(format!(
                "plugin {plugin} is not granted {cmdlet} ({}); it may call {}",
                grant.source,
                if names.is_empty() {
                    "no cmdlet".to_string()
                } else {
                    names.join(", ")
                }
            ));
        };
        if granted.mutating && grant.read_only {
            return Err(format!(
                "{cmdlet} changes the tenant and plugin {plugin} is read-only ({})",
                grant.source
            ));
        }
        if granted.mutating
            && let Some(max) = grant.max_mutations
            && self.mutations >= max
        {
            return Err(format!(
                "plugin {plugin} has made the {max} change(s) one run may make ({})",
                grant.source
            ));
        }
        let catalogued = Catalogue::get().cmdlet(&granted.name);
        for (name, value) in parameters {
            let (base, annotation) = match name.split_once('@') {
                Some((base, rest)) => (base, Some(rest)),
                None => (name.as_str(), None),
            };
            if !is_parameter_name(base) {
                return Err(format!(
                    "'{}' is not a parameter name (letters and digits only)",
                    name.escape_debug()
                ));
            }
            let Some((granted_name, rule)) = granted.parameter(base) else {
                return Err(format!(
                    "plugin {plugin} is not granted the parameter -{base} of {cmdlet} ({})",
                    grant.source
                ));
            };
            if let Some(annotation) = annotation {
                if format!("@{annotation}") != TYPE_ANNOTATION || !value.is_string() {
                    return Err(format!(
                        "'{name}' is not allowed: a parameter may carry only its type, as {granted_name}{TYPE_ANNOTATION} with a text value"
                    ));
                }
                continue;
            }
            if let Some(Lookup::Found(parameter)) = catalogued.map(|c| c.parameter(base)) {
                check_kind(&parameter.kind, value)
                    .map_err(|why| format!("-{granted_name} of {cmdlet}: {why}"))?;
            }
            rule.check(value).map_err(|why| {
                format!(
                    "-{granted_name} of {cmdlet}: {why} (policy: {})",
                    grant.source
                )
            })?;
        }
        for (name, rule) in &granted.parameters {
            if rule.required && !parameters.keys().any(|k| k.eq_ignore_ascii_case(name)) {
                return Err(format!(
                    "{cmdlet} must be given -{name} (policy: {})",
                    grant.source
                ));
            }
        }
        Ok(granted)
    }
}

/// Runs a read the host makes for the scope check (`Get-Recipient`, or a group's members).
async fn read(
    client: &ExchangeClient,
    cmdlet: &str,
    identity: &str,
    all: bool,
) -> Result<Vec<Value>, ExchangeError> {
    let mut params = Parameters::new();
    params.insert("Identity".into(), Value::String(identity.into()));
    if all {
        params.insert("ResultSize".into(), Value::String("Unlimited".into()));
    }
    client.invoke(Surface::Exchange, cmdlet, params).await
}

/// A failed read as a refusal: a missing object is `denied` with `why`; anything else leaves
/// the call unchecked, with the service's error.
fn unless_missing(error: ExchangeError, why: impl FnOnce() -> String) -> Refusal {
    match error {
        ExchangeError::NotFound { .. } => Refusal::Denied(why()),
        other => Refusal::Unchecked(other),
    }
}
