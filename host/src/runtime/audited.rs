//! A run in the audit log: its start (which plugin, on which input, with what rights) before
//! the plugin starts, and its end (how it ended, what it did) after. The calls in between carry
//! the run and the plugin through the Exchange client's call context.

use std::time::Instant;

use super::error::RunError;
use super::failures::Failures;
use super::plugin::Plugin;
use super::state::RunState;
use crate::audit::{
    Audit, AuditError, CallContext, Event, Outcome, PluginRef, RunEnd, RunId, RunStart,
};
use crate::exchange::ExchangeClient;
use crate::policy::Grant;

/// A run as the audit log names it.
pub(super) struct RunRecord {
    audit: Audit,
    run: RunId,
    workflow: Option<RunId>,
    plugin: PluginRef,
    started: Instant,
}

impl RunRecord {
    /// Records the start of a run of `plugin` with `grant` on the input with `input_digest`
    /// (a `dry_run` or not), and gives the client its calls go through, whose context names
    /// the run and the plugin. The run is the one `exchange`'s context names, if the caller set
    /// one, else a new one.
    pub(super) fn start(
        plugin: &Plugin,
        grant: &Grant,
        input_digest: &str,
        dry_run: bool,
        exchange: ExchangeClient,
    ) -> Result<(RunRecord, ExchangeClient), AuditError> {
        let run = exchange.context().run.unwrap_or_default();
        let manifest = plugin.manifest();
        let plugin = PluginRef {
            name: manifest.name.clone(),
            version: manifest.version.clone(),
            digest: plugin.digest().to_string(),
        };
        let context = CallContext {
            run: Some(run),
            plugin: Some(plugin.clone()),
            ..exchange.context().clone()
        };
        let audit = exchange.audit().clone();
        audit.record(Event::RunStart(RunStart {
            run,
            workflow: exchange.context().workflow,
            plugin: plugin.clone(),
            caller: exchange.context().caller.clone(),
            signers: grant.signers.clone(),
            policy_digest: grant.policy_digest.clone(),
            grants: Some(grant.summary()),
            input_digest: input_digest.to_string(),
            dry_run,
            exorun: crate::VERSION.to_string(),
        }))?;
        let record = RunRecord {
            audit,
            run,
            workflow: exchange.context().workflow,
            plugin,
            started: Instant::now(),
        };
        Ok((record, exchange.with_context(context)))
    }

    /// The run's id.
    pub(super) fn run(&self) -> RunId {
        self.run
    }

    /// The log the run is recorded in.
    pub(super) fn audit(&self) -> &Audit {
        &self.audit
    }

    /// Records how the run ended (failed, too, when its plugin says some of its work failed)
    /// and what `state` counted; not when the log itself broke (there is nothing to record in).
    pub(super) fn end(
        &self,
        summary: &Result<(String, Failures), RunError>,
        state: &RunState,
    ) -> Result<(), AuditError> {
        if matches!(summary, Err(RunError::Audit(_))) {
            return Ok(());
        }
        self.audit.record(Event::RunEnd(RunEnd {
            run: self.run,
            workflow: self.workflow,
            plugin: self.plugin.clone(),
            outcome: match summary {
                Ok((_, failures)) if !failures.any() => Outcome::Succeeded,
                _ => Outcome::Failed,
            },
            error: match summary {
                Ok((_, failures)) if failures.any() => Some(format!("the plugin says {failures}")),
                Ok(_) => None,
                Err(error) => Some(error.to_string()),
            },
            records: state.output.records,
            calls: state.exchange.gate.calls,
            denied: state.exchange.gate.denied,
            duration_ms: u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX),
        }))
    }
}
