//! A cmdlet's results, one page at a time, in constant memory: a [`Query`] holds only the
//! request body and the next page's link, so walking two million recipients costs one page.
//! Each request (one per page) is recorded in the client's audit log before its page is handed
//! on.

use std::ops::Range;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use bytestring::ByteString;
use futures::Stream;
use serde_json::Value;

use super::Surface;
use super::client::ExchangeClient;
use super::dry_run::is_mutating;
use super::error::ExchangeError;
use super::params::Parameters;
use super::reply::{Fetched, PageRow};
use super::transport::Request;
use crate::audit::redact::scrub;
use crate::audit::{CallContext, CallOutcome, PreparedCall};
use crate::auth::AuthError;

/// One page of a cmdlet's results, each row parsed as a `Row`: a [`Value`] by default, or the
/// row's JSON text as the service sent it ([`RawRow`], from [`Query::next_raw_page`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Page<Row = Value> {
    /// The result objects, as the service sent them (OData annotations included).
    pub rows: Vec<Row>,
    /// `@adminapi.warnings` (e.g. the truncation warning when `ResultSize` cut the results).
    pub warnings: Vec<String>,
    /// The `client-request-id` of the HTTP call that brought this page, for the audit log.
    pub client_request_id: String,
    /// The service's `request-id`, which Microsoft support asks for.
    pub request_id: Option<String>,
}

/// A result row's JSON text as the service sent it, checked but not parsed, kept inside its
/// page's text (no allocation or copy per row): for handing rows on (to a plugin, to a file)
/// without building and then printing a [`Value`] for each.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawRow {
    /// The page's body, checked to be UTF-8 JSON when the page was read.
    page: ByteString,
    range: Range<usize>,
}

impl RawRow {
    /// A row at `range` of a page's text (the range holds one JSON value).
    pub(super) fn new(page: ByteString, range: Range<usize>) -> RawRow {
        RawRow { page, range }
    }

    /// A row from JSON text of its own, checked (for rows that do not come from a page).
    pub fn from_json(text: &str) -> serde_json::Result<RawRow> {
        let row: &serde_json::value::RawValue = serde_json::from_str(text)?;
        let len = row.get().len();
        Ok(RawRow::new(ByteString::from(row.get()), 0..len))
    }

    /// The row's JSON text.
    pub fn get(&self) -> &str {
        &self.page[self.range.clone()]
    }
}

/// Where a query is.
enum State {
    /// Nothing fetched yet.
    First,
    /// The next page's link.
    Next(String),
    /// No more pages.
    Done,
}

/// A running cmdlet whose results are fetched page by page. Pages follow `@odata.nextLink` by
/// POSTing the same body to it, as the Exchange module does. After an error the same page can
/// be asked for again.
pub struct Query {
    client: ExchangeClient,
    surface: Surface,
    cmdlet: String,
    body: Bytes,
    state: State,
    /// What its audit records need; `None` when the client does not audit.
    audited: Option<Box<Audited>>,
}

/// What a query's audit records say.
struct Audited {
    /// What the call is for.
    context: Arc<CallContext>,
    /// Its parameters (redacted when a record is made).
    params: Parameters,
    /// The first half of its records, made while the first request is on the wire.
    prepared: Option<PreparedCall>,
    /// Pages fetched so far.
    pages: u32,
}

impl Query {
    /// A query that starts on the first call of [`Query::next_page`].
    pub(super) fn new(
        client: ExchangeClient,
        surface: Surface,
        cmdlet: &str,
        params: Parameters,
        context: Arc<CallContext>,
    ) -> Query {
        let audited = client.audit().is_enabled().then(|| {
            Box::new(Audited {
                context,
                params: params.clone(),
                prepared: None,
                pages: 0,
            })
        });
        Query {
            client,
            surface,
            cmdlet: cmdlet.to_string(),
            body: request_body(cmdlet, params),
            state: State::First,
            audited,
        }
    }

    /// This query with `context` in its audit records instead of the client's: the run and
    /// plugin it is for, why it is allowed, what the target-scope check found.
    pub fn with_context(mut self, context: CallContext) -> Query {
        if let Some(audited) = &mut self.audited {
            audited.context = Arc::new(context);
            audited.prepared = None;
        }
        self
    }

    /// The cmdlet this query runs.
    pub fn cmdlet(&self) -> &str {
        &self.cmdlet
    }

    /// The next page, or `None` after the last one.
    pub async fn next_page(&mut self) -> Result<Option<Page>, ExchangeError> {
        self.next_page_of().await
    }

    /// [`Query::next_page`] with each row's JSON text as the service sent it.
    pub async fn next_raw_page(&mut self) -> Result<Option<Page<RawRow>>, ExchangeError> {
        self.next_page_of().await
    }

    async fn next_page_of<R: PageRow>(&mut self) -> Result<Option<Page<R>>, ExchangeError> {
        let link = match std::mem::replace(&mut self.state, State::Done) {
            State::Done => return Ok(None),
            State::First => None,
            State::Next(link) => Some(link),
        };
        let retry = |link: Option<String>| link.map_or(State::First, State::Next);
        // Nothing is sent once the audit log cannot be written.
        if let Err(error) = self.client.audit().check() {
            self.state = retry(link);
            return Err(AuthError::Audit(error).into());
        }
        // A change's intent is on disk before the change is sent.
        if link.is_none()
            && let Err(error) = self.record_intent().await
        {
            self.state = retry(link);
            return Err(error);
        }
        kill_point!("change-sending", is_mutating(&self.cmdlet));
        let request = Request {
            surface: self.surface,
            cmdlet: &self.cmdlet,
            body: &self.body,
            url: link.as_deref(),
            retry_wait: self.client.retry_wait(),
        };
        let started = Instant::now();
        let (fetched, ()) = futures::future::join(
            self.client.transport().fetch(request),
            prepare_meanwhile(self.audited.as_deref_mut(), &self.cmdlet),
        )
        .await;
        kill_point!("change-answered", is_mutating(&self.cmdlet));
        // The page is handed on only once its record is written; if it cannot be, that is
        // the error to report, whatever the service said.
        let recorded = self.record(&fetched, started.elapsed());
        match (fetched, recorded) {
            (Ok(fetched), Ok(())) => {
                if let Some(audited) = &mut self.audited {
                    audited.pages += 1;
                }
                self.state = fetched.next_link.map_or(State::Done, State::Next);
                Ok(Some(fetched.page))
            }
            (Err(ExchangeError::InvalidParameter { cmdlet, message }), Ok(()))
                if link.is_some() =>
            {
                // No parameters go with a next-page link: what was refused is the cursor.
                Err(ExchangeError::CursorExpired { cmdlet, message })
            }
            (_, Err(error)) | (Err(error), Ok(())) => {
                self.state = retry(link);
                Err(error)
            }
        }
    }

    /// Records the intent of a change (nothing for a read, or when the client does not
    /// audit), and waits until it is on disk.
    async fn record_intent(&mut self) -> Result<(), ExchangeError> {
        let Some(audited) = self.audited.as_deref_mut() else {
            return Ok(());
        };
        if !is_mutating(&self.cmdlet) {
            return Ok(());
        }
        let prepared = audited.prepared.get_or_insert_with(|| {
            PreparedCall::new(&audited.context, &self.cmdlet, &audited.params)
        });
        Ok(self
            .client
            .audit()
            .intent(prepared)
            .await
            .map_err(AuthError::Audit)?)
    }

    /// Records the request for the next page with what it brought (nothing when the client
    /// does not audit, or when the audit log itself failed and there is nothing to record in).
    fn record<R>(
        &mut self,
        fetched: &Result<Fetched<R>, ExchangeError>,
        took: Duration,
    ) -> Result<(), ExchangeError> {
        let Some(audited) = self.audited.as_deref_mut() else {
            return Ok(());
        };
        let mut outcome = CallOutcome {
            page: Some(audited.pages + 1),
            duration_ms: Some(u64::try_from(took.as_millis()).unwrap_or(u64::MAX)),
            ..CallOutcome::default()
        };
        let scrubbed;
        match fetched {
            Ok(fetched) => {
                outcome.status = Some(fetched.status);
                outcome.rows = fetched.page.rows.len() as u64;
                outcome.client_request_id = Some(&fetched.page.client_request_id);
                outcome.request_id = fetched.page.request_id.as_deref();
            }
            Err(ExchangeError::Auth(AuthError::Audit(_))) => return Ok(()),
            Err(error) => {
                outcome.status = error.status();
                if let Some(message) = error.service_message() {
                    outcome.client_request_id = message.client_request_id.as_deref();
                    outcome.request_id = message.request_id.as_deref();
                }
                scrubbed = scrub(&self.cmdlet, &audited.params, &error.to_string());
                outcome.error = Some(&scrubbed);
            }
        }
        let prepared = audited.prepared.get_or_insert_with(|| {
            PreparedCall::new(&audited.context, &self.cmdlet, &audited.params)
        });
        Ok(self
            .client
            .audit()
            .record_call(prepared, &outcome)
            .map_err(AuthError::Audit)?)
    }

    /// The pages as a stream; it ends after the last page or after the first error.
    pub fn into_stream(self) -> impl Stream<Item = Result<Page, ExchangeError>> + Send {
        futures::stream::unfold(Some(self), |query| async move {
            let mut query = query?;
            match query.next_page().await {
                Ok(Some(page)) => Some((Ok(page), Some(query))),
                Ok(None) => None,
                Err(error) => Some((Err(error), None)),
            }
        })
    }
}

/// Makes the first half of `audited`'s records, once, after letting the request go out first:
/// the work is done while the service answers rather than after.
async fn prepare_meanwhile(audited: Option<&mut Audited>, cmdlet: &str) {
    let Some(audited) = audited.filter(|a| a.prepared.is_none()) else {
        return;
    };
    tokio::task::yield_now().await;
    audited.prepared = Some(PreparedCall::new(&audited.context, cmdlet, &audited.params));
}

/// `{"CmdletInput":{"CmdletName":…,"Parameters":{…}}}` (docs/protocol.md §1.2).
fn request_body(cmdlet: &str, params: Parameters) -> Bytes {
    let body = serde_json::json!({
        "CmdletInput": {"CmdletName": cmdlet, "Parameters": Value::Object(params)}
    });
    Bytes::from(body.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_always_has_a_parameters_object() {
        let body = request_body("Get-Mailbox", Parameters::new());
        assert_eq!(
            std::str::from_utf8(&body).unwrap(),
            r#"{"CmdletInput":{"CmdletName":"Get-Mailbox","Parameters":{}}}"#
        );
        let mut params = Parameters::new();
        params.insert("ResultSize".into(), "Unlimited".into());
        let body: Value = serde_json::from_slice(&request_body("Get-User", params)).unwrap();
        assert_eq!(body["CmdletInput"]["Parameters"]["ResultSize"], "Unlimited");
    }
}
