//! `exchange`: cmdlets a plugin asks for, checked by the policy [`Gate`] against the run's
//! grant before anything is sent, then run with the tenant's credential by the Exchange client,
//! which the plugin never sees.
//!
//! Changes in a dry run are recorded by the gate, handed to the run's sink, and reported to the
//! plugin as `dry-run`. In a journaled run each change's result is written down once the
//! service has answered it, and a change an interrupted attempt made is answered from the
//! journal.
//! Every wait on the service is bounded by the run's deadline: epochs interrupt WebAssembly, not
//! the host.

use std::future::Future;
use std::sync::Arc;

use tokio::time::Instant;
use wasmtime::component::{HasSelf, Linker, Resource, ResourceTable};

use crate::changes::{ChangeResult, Ticket};
use crate::exchange::{ExchangeError, Query, RawRow};
use crate::policy::Gate;
use crate::policy::gate::{Admitted, Refusal};
use crate::runtime::bindings::exorun::plugin::exchange::{self, CmdletError};
use crate::runtime::error::DeadlineReached;
use crate::runtime::imports::output::RecordSink;
use crate::runtime::state::RunState;

/// Queries one run may have open at once; each holds a request body and a link, so this bounds
/// what a plugin can make the host keep.
const MAX_OPEN_QUERIES: usize = 64;

/// A plugin's `query` resource: the host keeps the query, the plugin a handle to it.
pub struct QueryState {
    cmdlet: String,
    kind: QueryKind,
}

enum QueryKind {
    /// Refused before anything was sent: every `next-page` says why.
    Refused(CmdletError),
    /// Admitted. A journaled change keeps its ticket and the rows so far, to write its result
    /// down when the last page is in.
    Open {
        query: Query,
        ticket: Option<(Ticket, Vec<String>)>,
    },
    /// A change in a dry run, recorded, not sent: the first `next-page` says so, later ones
    /// find no more pages.
    Rehearsed { told: bool },
    /// A change an interrupted attempt made: its rows from the journal on the first
    /// `next-page` (taken then), no more pages after.
    Replayed(Option<Vec<String>>),
}

/// The `exchange` interface of one run.
pub(crate) struct ExchangeHost {
    /// Checks each call against the run's grant; only it hands out queries.
    pub(crate) gate: Gate,
    /// Where changes a dry run rehearsed are handed.
    rehearsals: Arc<dyn RecordSink>,
    deadline: Instant,
    /// Bytes of results one `invoke` may collect: what fits in the plugin's memory.
    invoke_limit: u64,
    queries: ResourceTable,
    open_queries: usize,
}

impl ExchangeHost {
    /// Cmdlets admitted by `gate`, until `deadline`; `invoke` results are limited to
    /// `invoke_limit` bytes; changes rehearsed in a dry run go to `rehearsals`.
    pub(crate) fn new(
        gate: Gate,
        deadline: Instant,
        invoke_limit: u64,
        rehearsals: Arc<dyn RecordSink>,
    ) -> ExchangeHost {
        ExchangeHost {
            gate,
            rehearsals,
            deadline,
            invoke_limit,
            queries: ResourceTable::new(),
            open_queries: 0,
        }
    }

    /// The gate's decision, as the plugin is told it (a change rehearsed in a dry run is
    /// handed to the run's sink here). The gate's own reads (a change's target) are bounded by
    /// the run's deadline too.
    async fn admit(
        &mut self,
        cmdlet: &str,
        parameters: &str,
    ) -> wasmtime::Result<Result<Admitted, CmdletError>> {
        let decided = before(self.deadline, self.gate.admit(cmdlet, parameters)).await?;
        Ok(match decided {
            Ok(Admitted::Rehearsed(change)) => {
                self.rehearsals.rehearsed(&change);
                Ok(Admitted::Rehearsed(change))
            }
            Ok(admitted) => Ok(admitted),
            Err(Refusal::Denied(why)) => Err(CmdletError::Denied(why)),
            Err(Refusal::Malformed(why)) => Err(CmdletError::InvalidParameter(why)),
            Err(Refusal::NoTenant(why)) => Err(CmdletError::Unauthorized(why)),
            Err(Refusal::Unchecked(error)) => Err(cmdlet_error(error)),
            // Nothing may happen that the log does not record: the run stops here.
            Err(Refusal::AuditFailed(error)) => return Err(wasmtime::Error::new(error)),
            Err(Refusal::JournalFailed(error)) => return Err(journal_failed(error)),
        })
    }
}

/// The run stops when its journal cannot be written: a change whose result is not written
/// down would be sent again by a resumed run.
fn journal_failed(error: std::io::Error) -> wasmtime::Error {
    wasmtime::Error::new(error).context("the run's journal could not be written")
}

/// Writes down what a journaled change gave back.
fn finish(ticket: Ticket, result: &Result<Vec<String>, CmdletError>) -> wasmtime::Result<()> {
    let result = match result {
        Ok(rows) => ChangeResult::Done { rows: rows.clone() },
        Err(error) => ChangeResult::Failed {
            message: format!("{error:?}"),
        },
    };
    ticket.finish(&result).map_err(journal_failed)
}

/// Waits for `work` until `deadline`; past it the run is over (the call traps).
async fn before<F: Future>(deadline: Instant, work: F) -> wasmtime::Result<F::Output> {
    tokio::time::timeout_at(deadline, work)
        .await
        .map_err(|_| wasmtime::Error::new(DeadlineReached))
}

/// What a plugin is told about a failed cmdlet: the variant it can act on, with the service's
/// own message.
pub(crate) fn cmdlet_error(error: ExchangeError) -> CmdletError {
    match error {
        ExchangeError::NotFound { message, .. } => CmdletError::NotFound(message.text),
        ExchangeError::InvalidParameter { message, .. }
        | ExchangeError::CursorExpired { message, .. } => {
            CmdletError::InvalidParameter(message.text)
        }
        e @ (ExchangeError::Unauthorized { .. }
        | ExchangeError::NoRole { .. }
        | ExchangeError::Auth(_)) => CmdletError::Unauthorized(e.to_string()),
        e @ ExchangeError::Throttled { .. } => CmdletError::Throttled(e.to_string()),
        e @ (ExchangeError::Transport { .. } | ExchangeError::UntrustedServer { .. }) => {
            CmdletError::Transport(e.to_string())
        }
        e @ (ExchangeError::Service { .. } | ExchangeError::Redirect { .. }) => {
            CmdletError::Service(e.to_string())
        }
    }
}

fn dry_run(cmdlet: &str) -> CmdletError {
    CmdletError::DryRun(format!(
        "{cmdlet} changes the tenant and this is a dry run: it was recorded, not sent"
    ))
}

/// Rows as the plugin gets them: the service's JSON text, handed on without parsing.
fn to_json(rows: Vec<RawRow>) -> Vec<String> {
    rows.iter().map(|row| row.get().to_string()).collect()
}

pub(super) fn add_to_linker(linker: &mut Linker<RunState>) -> wasmtime::Result<()> {
    exchange::add_to_linker::<RunState, HasSelf<ExchangeHost>>(linker, |state| &mut state.exchange)
}

impl exchange::Host for ExchangeHost {
    async fn invoke(
        &mut self,
        cmdlet: String,
        parameters: String,
    ) -> wasmtime::Result<Result<Vec<String>, CmdletError>> {
        let (query, ticket) = match self.admit(&cmdlet, &parameters).await? {
            Ok(Admitted::Send { query, ticket }) => (query, ticket),
            Ok(Admitted::Rehearsed(_)) => return Ok(Err(dry_run(&cmdlet))),
            Ok(Admitted::Replayed(rows)) => return Ok(Ok(rows)),
            Err(refused) => return Ok(Err(refused)),
        };
        let result = collect(&cmdlet, query, self.deadline, self.invoke_limit).await?;
        if let Some(ticket) = ticket {
            finish(ticket, &result)?;
        }
        Ok(result)
    }
}

/// Every page of `query` (before `deadline`), up to `limit` bytes: what fits in the plugin's
/// memory.
async fn collect(
    cmdlet: &str,
    mut query: Query,
    deadline: Instant,
    limit: u64,
) -> wasmtime::Result<Result<Vec<String>, CmdletError>> {
    let mut rows = Vec::new();
    let mut bytes = 0u64;
    loop {
        let page = match before(deadline, query.next_raw_page()).await? {
            Ok(Some(page)) => page,
            Ok(None) => break,
            Err(error) => return Ok(Err(cmdlet_error(error))),
        };
        for row in to_json(page.rows) {
            bytes += row.len() as u64;
            if bytes > limit {
                return Ok(Err(CmdletError::Service(format!(
                    "the results of {cmdlet} are larger than the plugin's memory: read them page by page with a query"
                ))));
            }
            rows.push(row);
        }
    }
    Ok(Ok(rows))
}

impl exchange::HostQuery for ExchangeHost {
    async fn new(
        &mut self,
        cmdlet: String,
        parameters: String,
    ) -> wasmtime::Result<Resource<QueryState>> {
        if self.open_queries >= MAX_OPEN_QUERIES {
            wasmtime::bail!(
                "the plugin has {MAX_OPEN_QUERIES} queries open at once, the most a run may have: drop finished queries"
            );
        }
        let kind = match self.admit(&cmdlet, &parameters).await? {
            Ok(Admitted::Send { query, ticket }) => QueryKind::Open {
                query,
                ticket: ticket.map(|ticket| (ticket, Vec::new())),
            },
            Ok(Admitted::Rehearsed(_)) => QueryKind::Rehearsed { told: false },
            Ok(Admitted::Replayed(rows)) => QueryKind::Replayed(Some(rows)),
            Err(refused) => QueryKind::Refused(refused),
        };
        let handle = self.queries.push(QueryState { cmdlet, kind })?;
        self.open_queries += 1;
        Ok(handle)
    }

    async fn next_page(
        &mut self,
        this: Resource<QueryState>,
    ) -> wasmtime::Result<Result<Option<Vec<String>>, CmdletError>> {
        let deadline = self.deadline;
        let state = self.queries.get_mut(&this)?;
        let (query, ticket) = match &mut state.kind {
            QueryKind::Refused(refused) => return Ok(Err(refused.clone())),
            QueryKind::Rehearsed { told: false } => {
                state.kind = QueryKind::Rehearsed { told: true };
                return Ok(Err(dry_run(&state.cmdlet)));
            }
            QueryKind::Rehearsed { told: true } => return Ok(Ok(None)),
            QueryKind::Replayed(rows) => return Ok(Ok(rows.take())),
            QueryKind::Open { query, ticket } => (query, ticket),
        };
        let page = before(deadline, query.next_raw_page()).await?;
        let page = page
            .map(|page| page.map(|page| to_json(page.rows)))
            .map_err(cmdlet_error);
        // A journaled change is written down once it is over: at its last page or error.
        match (&page, ticket.as_mut()) {
            (Ok(Some(rows)), Some((_, kept))) => kept.extend(rows.iter().cloned()),
            (Ok(None), Some(_)) | (Err(_), Some(_)) => {
                if let Some((ticket, kept)) = ticket.take() {
                    let result = page.as_ref().map(|_| kept).map_err(Clone::clone);
                    finish(ticket, &result)?;
                }
            }
            (_, None) => {}
        }
        Ok(page)
    }

    async fn drop(&mut self, this: Resource<QueryState>) -> wasmtime::Result<()> {
        self.queries.delete(this)?;
        self.open_queries -= 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::exchange::ServiceMessage;
    use crate::exchange::role_hint::RoleHint;

    fn message(text: &str) -> Box<ServiceMessage> {
        Box::new(ServiceMessage {
            text: text.into(),
            ..ServiceMessage::default()
        })
    }

    #[test]
    fn exchange_errors_keep_the_services_message() {
        let e = cmdlet_error(ExchangeError::NotFound {
            cmdlet: "Get-Mailbox".into(),
            message: message(
                "The operation couldn't be performed because object 'x' couldn't be found.",
            ),
        });
        assert!(matches!(e, CmdletError::NotFound(m) if m.contains("object 'x'")));
        let e = cmdlet_error(ExchangeError::InvalidParameter {
            cmdlet: "Set-Mailbox".into(),
            message: message("A parameter cannot be found that matches parameter name 'Bogus'."),
        });
        assert!(matches!(e, CmdletError::InvalidParameter(m) if m.contains("'Bogus'")));
        let e = cmdlet_error(ExchangeError::NoRole {
            cmdlet: "Get-Mailbox".into(),
            message: message(""),
            hint: RoleHint::Unreadable,
        });
        assert!(matches!(e, CmdletError::Unauthorized(m) if m.contains("no Exchange role")));
        let e = cmdlet_error(ExchangeError::Unauthorized {
            message: "consent".into(),
        });
        assert!(matches!(e, CmdletError::Unauthorized(m) if m.contains("consent")));
        let e = cmdlet_error(ExchangeError::Throttled {
            attempts: 6,
            retry_after: Some(Duration::from_secs(1)),
        });
        assert!(matches!(e, CmdletError::Throttled(m) if m.contains("6 attempts")));
        let e = cmdlet_error(ExchangeError::Transport {
            attempts: 3,
            reason: "connection reset".into(),
        });
        assert!(matches!(e, CmdletError::Transport(m) if m.contains("connection reset")));
        let e = cmdlet_error(ExchangeError::Service {
            status: 500,
            message: message("Internal failure"),
        });
        assert!(matches!(e, CmdletError::Service(m) if m.contains("HTTP 500: Internal failure")));
        let e = cmdlet_error(ExchangeError::Redirect {
            location: "https://evil.example".into(),
        });
        assert!(matches!(e, CmdletError::Service(m) if m.contains("evil.example")));
    }
}
