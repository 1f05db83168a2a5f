//! The one place a plugin's cmdlet call is checked, between the runtime's `exchange` interface
//! and the Exchange client: cmdlet, surface, parameter names, value types (from the cmdlet
//! catalogue) and the operator's constraints, read-only, the number of changes, and the target
//! scope of a change (every recipient it names is read first, see [`super::targets`]). Each
//! parameter is named once: what is sent is built from the checked, canonical parameters
//! ([`super::canonical`]), never forwarded from the plugin. Only an admitted call yields
//! a [`Query`]: a refused one cannot reach the client, and in a dry run neither can a change
//! (the gate records it as rehearsed instead). When the run keeps a [`ChangeJournal`], a change
//! an interrupted attempt already made is answered from it and not sent again.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Map, Value};

use super::canonical::{Asker, Call, names_as_written};
use super::grant::{Grant, GrantedCmdlet};
use super::rule::is_cmdlet_name;
use super::targets::Targets;
use super::values::check_kind;
use crate::audit::{AuditError, CallContext};
use crate::changes::{ChangeJournal, ChangeKey, ChangeResult, Ticket};
use crate::exchange::catalogue::Catalogue;
use crate::exchange::{ExchangeClient, ExchangeError, Parameters, Query, Rehearsal, Surface};

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
    /// What the scope checks read so far.
    targets: Targets,
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
            targets: Targets::default(),
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
        let parameters_text = parameters;
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
        if let Some(repeated) = repeated_name(parameters_text) {
            let repeated = repeated.escape_debug();
            let why = format!(
                "-{repeated} of {cmdlet} is given twice (as '{repeated}' and '{repeated}'): give each parameter once"
            );
            return Err(self.refuse(&client, cmdlet, &parameters, why, Refusal::Denied));
        }
        let grant = self.grant.clone();
        let (name, compliance, mutating, parameters) =
            match check(&grant, self.mutations, cmdlet, &parameters) {
                Ok((granted, call)) => (
                    granted.name.clone(),
                    granted.compliance,
                    granted.mutating,
                    call.to_parameters(),
                ),
                Err(why) => {
                    return Err(self.refuse(&client, cmdlet, &parameters, why, Refusal::Denied));
                }
            };
        // The journal's key is the checked, canonical change before recipients are resolved:
        // a resumed run finds what an earlier attempt made even when the recipient has since
        // left the scope (converted, moved) or another took its name.
        let key = match (&self.journal, mutating && !self.dry_run) {
            (Some(_), true) => Some(self.key(&name, &parameters)),
            _ => None,
        };
        let surface = if compliance {
            Surface::Compliance
        } else {
            Surface::Exchange
        };
        if let (Some(journal), Some(key)) = (&self.journal, &key)
            && let Some(ChangeResult::Done { rows }) = journal.finished(key)
        {
            self.mutations += 1;
            self.calls += 1;
            let context = CallContext {
                decision: Some(format!("allowed by {}", self.grant.source)),
                ..client.context().clone()
            };
            client
                .audit()
                .replayed(&context, &name, &parameters)
                .map_err(Refusal::AuditFailed)?;
            return Ok(Admitted::Replayed(rows));
        }
        let mut target_scope = None;
        let mut sent = parameters;
        if mutating && let Some(scope) = self.grant.scope.clone() {
            match self
                .targets
                .check(&self.grant, &client, &scope, &name, &sent)
                .await
            {
                Ok((resolved, checked)) => {
                    target_scope = Some(checked);
                    sent = resolved;
                }
                Err(Refusal::Denied(why)) => {
                    return Err(self.refuse(&client, cmdlet, &sent, why, Refusal::Denied));
                }
                Err(other) => return Err(other),
            }
        }
        if mutating {
            self.mutations += 1;
        }
        self.calls += 1;
        tracing::debug!(target: "exorun::policy", plugin = %self.grant.plugin, cmdlet, "admitted");
        let context = CallContext {
            decision: Some(format!("allowed by {}", self.grant.source)),
            target_scope,
            ..client.context().clone()
        };
        if self.dry_run && mutating {
            tracing::info!(target: "exorun::policy", plugin = %self.grant.plugin, cmdlet = %name, "dry run: recorded, not sent");
            client
                .audit()
                .rehearsed(&context, &name, &sent)
                .map_err(Refusal::AuditFailed)?;
            return Ok(Admitted::Rehearsed(Rehearsal {
                surface,
                cmdlet: name,
                params: sent,
            }));
        }
        let ticket = match (self.journal.clone(), key) {
            (Some(journal), Some(key)) => Some(
                Ticket::issue(journal, key)
                    .await
                    .map_err(Refusal::JournalFailed)?,
            ),
            _ => None,
        };
        Ok(Admitted::Send {
            query: client.query(surface, &name, sent).with_context(context),
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

    /// Everything but the JSON shape: the reason names what the grant lacks. What it gives
    /// back are the call's parameters as they are checked and sent ([`Call`]).
    #[cfg(test)]
    pub(super) fn check(
        &self,
        cmdlet: &str,
        parameters: &Map<String, Value>,
    ) -> Result<(&GrantedCmdlet, Parameters), String> {
        check(&self.grant, self.mutations, cmdlet, parameters)
            .map(|(granted, call)| (granted, call.to_parameters()))
    }
}

/// Checks a call against `grant` when the run has made `mutations` changes so far: the
/// granted cmdlet and the call's parameters, each once by its canonical name.
pub(crate) fn check<'g>(
    grant: &'g Grant,
    mutations: u64,
    cmdlet: &str,
    parameters: &Map<String, Value>,
) -> Result<(&'g GrantedCmdlet, Call<'g, 'static>), String> {
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
        && mutations >= max
    {
        return Err(format!(
            "plugin {plugin} has made the {max} change(s) one run may make ({})",
            grant.source
        ));
    }
    let catalogued = Catalogue::get().cmdlet(&granted.name);
    let asker = Asker {
        plugin,
        source: &grant.source,
    };
    let call = Call::resolve(cmdlet, granted, catalogued, parameters, &asker)?;
    for checked in call.iter() {
        let name = &checked.name;
        if let Some(parameter) = checked.parameter {
            check_kind(&parameter.kind, &checked.value)
                .map_err(|why| format!("-{name} of {cmdlet}: {why}"))?;
        }
        checked
            .rule
            .check(&checked.value)
            .map_err(|why| format!("-{name} of {cmdlet}: {why} (policy: {})", grant.source))?;
    }
    for (name, rule) in &granted.parameters {
        if rule.required && !call.iter().any(|c| std::ptr::eq(c.rule, rule)) {
            return Err(format!(
                "{cmdlet} must be given -{name} (policy: {})",
                grant.source
            ));
        }
    }
    Ok((granted, call))
}

/// A name the parameters' JSON text gives twice in exactly the same spelling (a JSON parser
/// would silently keep the last).
pub(crate) fn repeated_name(text: &str) -> Option<String> {
    let mut names = names_as_written(text).ok()?;
    names.sort();
    names
        .windows(2)
        .find(|w| w[0] == w[1])
        .map(|w| w[0].clone())
}
