//! The Exchange client: the one authenticated transport to a tenant's Exchange Online and
//! Security & Compliance admin APIs, shared (cheaply cloned) by every plugin run against it.

use std::fmt;
use std::sync::Arc;

use serde_json::Value;

use super::Surface;
use super::error::ExchangeError;
use super::params::Parameters;
use super::query::Query;
use super::retry_wait::RetryWait;
use super::settings::{ExchangeSettings, MAX_PAGE_SIZE};
use super::transport::Transport;
use crate::audit::{Audit, CallContext};
use crate::auth::provider::TokenProvider;

/// Runs cmdlets against one tenant. Clones share the connection pool, the token cache, the
/// concurrency limit and the learned regional endpoint; each request is
/// recorded in the client's audit log with the client's call context (both kept by clones made
/// after they are set).
#[derive(Clone)]
pub struct ExchangeClient {
    transport: Arc<Transport>,
    audit: Audit,
    context: Arc<CallContext>,
    retry_wait: Option<Arc<dyn RetryWait>>,
}

impl ExchangeClient {
    /// A client for the tenant in `settings`, sending through `http` (see [`crate::http::client`])
    /// with tokens from `tokens`. Out-of-range settings are brought into range: page size
    /// 1..=1000, at least one request at a time, at least one attempt.
    pub fn new(
        http: reqwest::Client,
        tokens: Arc<TokenProvider>,
        mut settings: ExchangeSettings,
    ) -> ExchangeClient {
        settings.page_size = settings.page_size.clamp(1, MAX_PAGE_SIZE);
        settings.max_concurrency = settings.max_concurrency.max(1);
        settings.retry.max_attempts = settings.retry.max_attempts.max(1);
        ExchangeClient {
            transport: Arc::new(Transport::new(http, tokens, settings)),
            audit: Audit::disabled(),
            context: Arc::new(CallContext::default()),
            retry_wait: None,
        }
    }

    /// This client recording every request it sends in `audit` (one record per page of
    /// results) before handing the result on. A record that cannot be written fails the call,
    /// and nothing more is sent.
    pub fn with_audit(self, audit: Audit) -> ExchangeClient {
        ExchangeClient { audit, ..self }
    }

    /// The audit log this client records in.
    pub fn audit(&self) -> &Audit {
        &self.audit
    }

    /// This client with `context` in the records of every call made through it: the run and
    /// plugin the calls are for, and why they are allowed. One query can carry its own
    /// ([`Query::with_context`]).
    pub fn with_context(self, context: CallContext) -> ExchangeClient {
        ExchangeClient {
            context: Arc::new(context),
            ..self
        }
    }

    /// What the records of calls through this client say they are for.
    pub fn context(&self) -> &CallContext {
        &self.context
    }

    /// This client handing its requests' retry waits to `retry_wait` instead of sleeping
    /// through them itself (see [`RetryWait`]).
    pub fn with_retry_wait(self, retry_wait: Arc<dyn RetryWait>) -> ExchangeClient {
        ExchangeClient {
            retry_wait: Some(retry_wait),
            ..self
        }
    }

    /// Who waits out this client's retries, when not the client itself.
    pub(super) fn retry_wait(&self) -> Option<&dyn RetryWait> {
        self.retry_wait.as_deref()
    }

    /// The settings in force (after range checks).
    pub fn settings(&self) -> &ExchangeSettings {
        self.transport.settings()
    }

    /// The `connection-id` every request of this client carries, for the audit log.
    pub fn connection_id(&self) -> &str {
        self.transport.connection_id()
    }

    /// Starts `cmdlet` with `params`; nothing is sent until the first [`Query::next_page`].
    pub fn query(&self, surface: Surface, cmdlet: &str, params: Parameters) -> Query {
        Query::new(self.clone(), surface, cmdlet, params, self.context.clone())
    }

    /// Runs `cmdlet` and collects every page: for results known to be small. Large results
    /// should be walked with [`ExchangeClient::query`] instead.
    pub async fn invoke(
        &self,
        surface: Surface,
        cmdlet: &str,
        params: Parameters,
    ) -> Result<Vec<Value>, ExchangeError> {
        let mut query = self.query(surface, cmdlet, params);
        let mut rows = Vec::new();
        while let Some(page) = query.next_page().await? {
            rows.extend(page.rows);
        }
        Ok(rows)
    }

    pub(super) fn transport(&self) -> &Transport {
        &self.transport
    }
}

impl fmt::Debug for ExchangeClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExchangeClient")
            .field("settings", self.settings())
            .field("connection_id", &self.connection_id())
            .field("audit", &self.audit)
            .field("context", &self.context)
            .finish_non_exhaustive()
    }
}
