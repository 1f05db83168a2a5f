//! Every recipient a change names, checked against the plugin's target scope before the change
//! is sent: the parameters [`Grant::scope_targets`] gives are read (`Get-Recipient`, once per
//! run for each name) and matched against the filter, and the change is sent naming the
//! objects read by their `Guid`, so a rename or a second object taking the name between the
//! check and the change cannot redirect it.

use std::collections::HashMap;

use serde_json::Value;

use super::gate::Refusal;
use super::grant::Grant;
use super::scope::{Members, Scope, ids};
use crate::exchange::catalogue::Names;
use crate::exchange::{ExchangeClient, ExchangeError, Parameters, Surface};

/// What one run has read for its scope checks.
#[derive(Default)]
pub struct Targets {
    /// Members of the groups the scope names, read once per run (by lowercase group name).
    groups: HashMap<String, Members>,
    /// The recipients changes named, as the check read them, once per run (by the lowercase
    /// text that named them).
    recipients: HashMap<String, Vec<Value>>,
}

impl Targets {
    /// Reads every recipient the change names ([`Grant::scope_targets`]) and checks each
    /// against the scope; the groups the scope names are read on first use. Gives the
    /// parameters to send, each recipient named by the `Guid` of the object the check read,
    /// and what was checked, for the audit log.
    pub async fn check(
        &mut self,
        grant: &Grant,
        client: &ExchangeClient,
        scope: &Scope,
        cmdlet: &str,
        parameters: &Parameters,
    ) -> Result<(Parameters, String), Refusal> {
        let (plugin, source) = (&grant.plugin, &grant.source);
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
        let targets = grant.scope_targets(cmdlet);
        let mut sent = parameters.clone();
        let mut checked = Vec::new();
        for (target, names) in &targets {
            // Canonical names are unique in any case; a cmdlet the catalogue lacks keeps the
            // grant's spelling, which may differ in case from `scope_on`'s.
            let Some((name, value)) = parameters
                .iter()
                .find(|(given, _)| given.eq_ignore_ascii_case(target))
            else {
                continue;
            };
            let items = recipients_in(value).ok_or_else(|| {
                Refusal::Denied(format!(
                    "{cmdlet} -{name}: give the recipients it names as text, so each can be checked against the target scope of plugin {plugin} ({source})"
                ))
            })?;
            let mut resolved = HashMap::new();
            for item in &items {
                let id = self
                    .target(
                        grant,
                        client,
                        scope,
                        &format!("{cmdlet} -{name}"),
                        item,
                        *names,
                    )
                    .await?;
                checked.push(match &id {
                    Some(id) => format!("-{name} '{item}' ({id})"),
                    None => format!("-{name} '{item}' (outside the tenant)"),
                });
                if let Some(id) = id {
                    resolved.insert(item.to_string(), id);
                }
            }
            if *names == Some(Names::Recipient) {
                sent.insert(name.clone(), named_by_id(value, &resolved));
            }
        }
        if checked.is_empty() {
            let names: Vec<String> = targets.iter().map(|(n, _)| format!("-{n}")).collect();
            return Err(Refusal::Denied(format!(
                "{cmdlet} would change a recipient that must be checked against the target scope of plugin {plugin} ({source}): give {} as text",
                names.join(" or ")
            )));
        }
        Ok((
            sent,
            format!("in scope: {}; checked {}", scope.text(), checked.join(", ")),
        ))
    }

    /// Reads one recipient a change names (once per run) and checks it against the scope:
    /// the id to send it by, or `None` for an allowed address outside the tenant. `label`
    /// (`Set-Mailbox -Identity`) says where it was named, for messages.
    async fn target(
        &mut self,
        grant: &Grant,
        client: &ExchangeClient,
        scope: &Scope,
        label: &str,
        item: &str,
        names: Option<Names>,
    ) -> Result<Option<String>, Refusal> {
        let (plugin, source) = (&grant.plugin, &grant.source);
        let address = names == Some(Names::Address);
        let identity = if address {
            item.strip_prefix("smtp:")
                .or_else(|| item.strip_prefix("SMTP:"))
                .unwrap_or(item)
        } else {
            item
        };
        let key = identity.to_lowercase();
        let found = match self.recipients.get(&key) {
            Some(found) => found.clone(),
            None => {
                let found = match read(client, "Get-Recipient", identity, false).await {
                    Ok(rows) => rows,
                    Err(ExchangeError::NotFound { .. }) => Vec::new(),
                    Err(other) => return Err(Refusal::Unchecked(other)),
                };
                self.recipients.insert(key, found.clone());
                found
            }
        };
        let recipient = match found.as_slice() {
            [one] => one,
            [] if address && grant.external_targets => return Ok(None),
            [] if address => {
                return Err(Refusal::Denied(format!(
                    "{label} '{item}': no recipient has this address, so it is outside the tenant, and plugin {plugin} may not name one ({source}): set `external_targets = true` in its rule to allow it"
                )));
            }
            [] => {
                return Err(Refusal::Denied(format!(
                    "{label} '{item}': no such recipient, so it cannot be checked against the target scope ({source})"
                )));
            }
            _ => {
                return Err(Refusal::Denied(format!(
                    "{label} '{item}' names {} recipients: give one (its address or GUID) so it can be checked against the target scope ({source})",
                    found.len()
                )));
            }
        };
        if !scope.matches(recipient, &|group| self.groups.get(&group.to_lowercase())) {
            return Err(Refusal::Denied(format!(
                "{label} '{item}': the recipient is outside the target scope of plugin {plugin} ({source}): {}",
                scope.text()
            )));
        }
        let id = ["Guid", "ExternalDirectoryObjectId"]
            .iter()
            .find_map(|k| recipient.get(*k).and_then(Value::as_str))
            .filter(|id| !id.is_empty());
        match (id, address) {
            (_, true) => Ok(Some(identity.to_string())),
            (Some(id), false) => Ok(Some(id.to_string())),
            (None, false) => Err(Refusal::Denied(format!(
                "{label} '{item}': the service gave the recipient without its Guid, so the change could not name exactly the object checked: not sent"
            ))),
        }
    }
}

/// The recipients a value names: one text, a list of texts, or a hashtable's `Add` and
/// `Remove` lists; `None` if any is not text.
fn recipients_in(value: &Value) -> Option<Vec<&str>> {
    fn push<'v>(value: &'v Value, items: &mut Vec<&'v str>) -> Option<()> {
        match value {
            Value::Array(list) => list
                .iter()
                .try_for_each(|v| v.as_str().map(|s| items.push(s))),
            one => one.as_str().map(|s| items.push(s)),
        }
    }
    let mut items = Vec::new();
    match value {
        Value::Object(changes) => {
            for (verb, list) in changes {
                if verb != "@odata.type" {
                    push(list, &mut items)?;
                }
            }
        }
        other => push(other, &mut items)?,
    }
    Some(items)
}

/// `value` with each recipient it names replaced by the id the check read it by.
fn named_by_id(value: &Value, ids: &HashMap<String, String>) -> Value {
    match value {
        Value::String(s) => Value::String(ids.get(s).cloned().unwrap_or_else(|| s.clone())),
        Value::Array(items) => Value::Array(items.iter().map(|v| named_by_id(v, ids)).collect()),
        Value::Object(changes) => Value::Object(
            changes
                .iter()
                .map(|(k, v)| {
                    let v = if k == "@odata.type" {
                        v.clone()
                    } else {
                        named_by_id(v, ids)
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        other => other.clone(),
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
