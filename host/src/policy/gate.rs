//! The one place a plugin's cmdlet call is checked, between the runtime's `exchange` interface
//! and the Exchange client: cmdlet, surface, parameter names, value types (from the cmdlet
//! catalogue) and the operator's constraints, read-only, the number of changes. Only an
//! admitted call yields a [`Query`]: a refused one cannot reach the client.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::grant::{Grant, GrantedCmdlet};
use super::rule::{is_cmdlet_name, is_parameter_name};
use super::values::check_kind;
use crate::exchange::catalogue::{Catalogue, Lookup};
use crate::exchange::{ExchangeClient, Query, Surface};

/// The only annotation a parameter may carry: its OData type.
const TYPE_ANNOTATION: &str = "@odata.type";

/// Why a call was not admitted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The grant does not allow it.
    Denied(String),
    /// The parameters are not a JSON object.
    Malformed(String),
    /// The run has no tenant (the plugin was only started to check it).
    NoTenant(String),
}

/// An admitted call, ready to send.
pub struct Admitted {
    /// The query.
    pub query: Query,
    /// A change in a dry run: recorded, not sent.
    pub rehearsal: bool,
}

/// Checks one run's calls against its grant.
pub struct Gate {
    grant: Arc<Grant>,
    client: Option<ExchangeClient>,
    pub(super) mutations: u64,
    /// Calls admitted (sent, or recorded in a dry run).
    pub calls: u64,
    /// Calls refused by the grant.
    pub denied: u64,
}

impl Gate {
    /// A gate for one run with `grant`, sending through `client` (`None`: no tenant).
    pub fn new(grant: Arc<Grant>, client: Option<ExchangeClient>) -> Gate {
        Gate {
            grant,
            client,
            mutations: 0,
            calls: 0,
            denied: 0,
        }
    }

    /// The grant it enforces.
    pub fn grant(&self) -> &Grant {
        &self.grant
    }

    /// Checks a call and, if the grant allows it, gives the query that runs it.
    pub fn admit(&mut self, cmdlet: &str, parameters: &str) -> Result<Admitted, Refusal> {
        let Some(client) = self.client.clone() else {
            return Err(Refusal::NoTenant(format!(
                "{cmdlet} was not sent: the plugin was started without a tenant, only to check it"
            )));
        };
        let parameters = match serde_json::from_str::<Value>(parameters) {
            Ok(Value::Object(map)) => map,
            Ok(_) => {
                return Err(Refusal::Malformed(format!(
                    "the parameters of {cmdlet} must be a JSON object, like {{\"Identity\": \"ann@contoso.com\"}}"
                )));
            }
            Err(e) => {
                return Err(Refusal::Malformed(format!(
                    "the parameters of {cmdlet} are not JSON: {e}"
                )));
            }
        };
        let granted = match self.check(cmdlet, &parameters) {
            Ok(granted) => granted,
            Err(why) => {
                self.denied += 1;
                tracing::warn!(target: "exorun::policy", plugin = %self.grant.plugin, cmdlet, "denied: {why}");
                return Err(Refusal::Denied(why));
            }
        };
        let (surface, mutating, name) = (
            if granted.compliance {
                Surface::Compliance
            } else {
                Surface::Exchange
            },
            granted.mutating,
            granted.name.clone(),
        );
        if mutating {
            self.mutations += 1;
        }
        self.calls += 1;
        tracing::debug!(target: "exorun::policy", plugin = %self.grant.plugin, cmdlet, "admitted");
        let rehearsal = client.settings().dry_run && mutating;
        Ok(Admitted {
            query: client.query(surface, &name, parameters),
            rehearsal,
        })
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
