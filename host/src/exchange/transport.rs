//! One page of InvokeCommand, with everything a long unattended run needs around it: a token
//! fetched for every try (so a query outliving a token just works), one forced refresh on 401,
//! the per-tenant concurrency limit, retries of throttled, unavailable and broken requests with
//! the same URL and body, and the Security & Compliance regional redirect (docs/protocol.md §1–§2, §5,
//! §8.1–8.2).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use bytes::Bytes;
use reqwest::Url;
use reqwest::header::{ACCEPT, ACCEPT_CHARSET, AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use tokio::sync::Semaphore;

use super::Surface;
use super::dry_run::is_mutating;
use super::endpoint::{anchor_mailbox, invoke_url, within_service};
use super::error::{ExchangeError, unauthorized_message};
use super::reply::{Fetched, Outcome, PageRow, Reply};
use super::retry::Failure;
use super::retry_wait::RetryWait;
use super::service_message::ServiceMessage;
use super::settings::ExchangeSettings;
use crate::auth::provider::TokenProvider;
use crate::http;

/// Redirects followed for one request before giving up on a loop.
const MAX_REDIRECTS: u32 = 5;

/// What to send: the cmdlet body, and the page URL (`None` for the first page).
pub struct Request<'a> {
    /// Which API.
    pub surface: Surface,
    /// The cmdlet, for headers, logs and errors.
    pub cmdlet: &'a str,
    /// The serialized `CmdletInput` body, sent unchanged on every try and page.
    pub body: &'a Bytes,
    /// A next-page link, or `None` for the surface's InvokeCommand URL.
    pub url: Option<&'a str>,
    /// Who waits out a retry, if not the transport itself.
    pub retry_wait: Option<&'a dyn RetryWait>,
}

/// The HTTP side of one client: shared by every query of it.
pub struct Transport {
    http: reqwest::Client,
    tokens: Arc<TokenProvider>,
    settings: ExchangeSettings,
    connection_id: String,
    permits: Semaphore,
    /// InvokeCommand URLs learned from redirects, kept for the client's life.
    regional: Mutex<HashMap<Surface, String>>,
    /// The tenant read from the first token, when the settings name none.
    tenant: tokio::sync::OnceCell<String>,
    /// Where requests and throttling waits are counted (the token provider's), if anywhere.
    telemetry: Option<Arc<crate::telemetry::Telemetry>>,
}

impl Transport {
    /// A transport; `settings` must already be within range.
    pub fn new(
        http: reqwest::Client,
        tokens: Arc<TokenProvider>,
        settings: ExchangeSettings,
    ) -> Transport {
        Transport {
            telemetry: tokens.telemetry().cloned(),
            http,
            tokens,
            permits: Semaphore::new(settings.max_concurrency),
            settings,
            connection_id: uuid::Uuid::new_v4().to_string(),
            regional: Mutex::new(HashMap::new()),
            tenant: tokio::sync::OnceCell::new(),
        }
    }

    /// The settings in force.
    pub fn settings(&self) -> &ExchangeSettings {
        &self.settings
    }

    /// The `connection-id` sent with every request of this client.
    pub fn connection_id(&self) -> &str {
        &self.connection_id
    }

    fn base(&self, surface: Surface) -> &str {
        match surface {
            Surface::Exchange => &self.settings.exchange_url,
            Surface::Compliance => &self.settings.compliance_url,
        }
    }

    /// The tenant the URL and the anchor name: the configured one, else the `tid` of the
    /// first token (learnt once, on first use).
    async fn organization(&self, surface: Surface) -> Result<&str, ExchangeError> {
        if let Some(organization) = &self.settings.organization {
            return Ok(organization);
        }
        let tenant = self
            .tenant
            .get_or_try_init(|| self.tokens.tenant(surface.resource()))
            .await?;
        Ok(tenant)
    }

    async fn invoke_url(&self, surface: Surface) -> Result<String, ExchangeError> {
        let learned = self
            .regional
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&surface)
            .cloned();
        match learned {
            Some(url) => Ok(url),
            None => Ok(invoke_url(
                self.base(surface),
                self.organization(surface).await?,
            )),
        }
    }

    fn remember(&self, surface: Surface, location: &Url) {
        let mut endpoint = location.clone();
        endpoint.set_query(None);
        endpoint.set_fragment(None);
        let mut regional = self.regional.lock().unwrap_or_else(PoisonError::into_inner);
        if regional.get(&surface).map(String::as_str) != Some(endpoint.as_str()) {
            tracing::info!(?surface, endpoint = %endpoint, "using the tenant's regional endpoint");
            regional.insert(surface, endpoint.to_string());
        }
    }

    /// Fetches one page, retrying as the policy allows; counted by cmdlet and outcome.
    pub async fn fetch<R: PageRow>(
        &self,
        request: Request<'_>,
    ) -> Result<Fetched<R>, ExchangeError> {
        let cmdlet = request.cmdlet;
        let fetched = self.fetch_with_retries(request).await;
        if let Some(telemetry) = &self.telemetry {
            let outcome = fetched
                .as_ref()
                .map_or_else(ExchangeError::outcome, |_| "ok");
            telemetry.request(cmdlet, outcome);
        }
        fetched
    }

    async fn fetch_with_retries<R: PageRow>(
        &self,
        request: Request<'_>,
    ) -> Result<Fetched<R>, ExchangeError> {
        let mut url = match request.url {
            Some(link) => {
                let parsed = Url::parse(link).ok();
                if !parsed.is_some_and(|u| within_service(self.base(request.surface), &u)) {
                    return Err(ExchangeError::Redirect {
                        location: link.to_string(),
                    });
                }
                link.to_string()
            }
            None => self.invoke_url(request.surface).await?,
        };
        let mutating = is_mutating(request.cmdlet);
        let policy = self.settings.retry;
        let (mut attempt, mut redirects, mut refreshed) = (0u32, 0u32, false);
        loop {
            attempt += 1;
            let failure = match self.attempt(&request, &url, attempt).await? {
                Outcome::Page(fetched) => return Ok(fetched),
                Outcome::Redirect { status, location } => {
                    redirects += 1;
                    if !within_service(self.base(request.surface), &location) {
                        return Err(ExchangeError::Redirect {
                            location: location.to_string(),
                        });
                    }
                    if redirects > MAX_REDIRECTS {
                        return Err(ExchangeError::Service {
                            status,
                            message: Box::new(ServiceMessage {
                                text: format!(
                                    "redirected more than {MAX_REDIRECTS} times, last to {location}"
                                ),
                                ..ServiceMessage::default()
                            }),
                        });
                    }
                    self.remember(request.surface, &location);
                    url = location.to_string();
                    attempt -= 1;
                    continue;
                }
                Outcome::Rejected { token, reason } => {
                    if refreshed {
                        return Err(ExchangeError::Unauthorized {
                            message: unauthorized_message(reason.as_deref()),
                        });
                    }
                    tracing::debug!(cmdlet = request.cmdlet, "token refused; getting a new one");
                    self.tokens
                        .refresh_after_rejection(request.surface.resource(), &token)
                        .await?;
                    refreshed = true;
                    attempt -= 1;
                    continue;
                }
                Outcome::Retry(failure) => failure,
            };
            if attempt >= policy.max_attempts || !failure.may_retry(mutating) {
                return Err(failure.into_error(attempt, mutating));
            }
            let wait = failure.wait(&policy, attempt);
            tracing::debug!(
                cmdlet = request.cmdlet,
                attempt,
                wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                "retrying the same request"
            );
            let throttled = matches!(failure, Failure::Throttled { .. });
            if let (true, Some(telemetry)) = (throttled, &self.telemetry) {
                telemetry.throttle_wait(wait);
            }
            match request.retry_wait {
                Some(retry_wait) => {
                    retry_wait.wait_out(wait, throttled).await;
                }
                None => tokio::time::sleep(wait).await,
            }
        }
    }

    /// One HTTP exchange: permit, token, request, whole body.
    async fn attempt<R: PageRow>(
        &self,
        request: &Request<'_>,
        url: &str,
        attempt: u32,
    ) -> Result<Outcome<R>, ExchangeError> {
        // The permit first, then the token: a request that waited for its turn still leaves
        // with a token the provider has just checked for freshness.
        let Ok(permit) = self.permits.acquire().await else {
            return Err(ExchangeError::Transport {
                attempts: attempt,
                reason: "the client is shutting down".into(),
            });
        };
        let token = self.tokens.token(request.surface.resource()).await?;
        let anchor = anchor_mailbox(self.organization(request.surface).await?);
        let mut bearer = HeaderValue::from_str(&format!("Bearer {}", token.secret.expose()))
            .map_err(|_| ExchangeError::Unauthorized {
                message: "the access token holds characters an HTTP header cannot carry\n  fix: check what the token source returns".into(),
            })?;
        bearer.set_sensitive(true);
        let client_request_id = uuid::Uuid::new_v4().to_string();
        let builder = self
            .http
            .post(url)
            .header(AUTHORIZATION, bearer)
            .header(CONTENT_TYPE, "application/json")
            .header(ACCEPT, "application/json")
            .header(ACCEPT_CHARSET, "UTF-8")
            .header("X-CmdletName", request.cmdlet)
            .header("X-ResponseFormat", "json")
            .header("X-AnchorMailbox", anchor)
            .header(
                "Prefer",
                format!("odata.maxpagesize={}", self.settings.page_size),
            )
            .header("client-request-id", &client_request_id)
            .header("connection-id", &self.connection_id)
            .header("X-ClientApplication", "exorun")
            .body(request.body.clone());

        let started = Instant::now();
        let sent = builder.send().await;
        // Err: what broke, and whether the request may have reached the service.
        let received = match sent {
            Ok(response) => {
                let status = response.status().as_u16();
                let headers = response.headers().clone();
                match response.bytes().await {
                    Ok(body) => Ok((status, headers, body)),
                    Err(e) => Err((
                        format!(
                            "the HTTP {status} response broke off: {}",
                            http::describe(&e)
                        ),
                        true,
                    )),
                }
            }
            Err(e) if e.is_builder() => {
                return Err(ExchangeError::Transport {
                    attempts: attempt,
                    reason: format!("cannot send to {url}: {}", http::describe(&e)),
                });
            }
            Err(e) if http::is_untrusted_server(&e) => {
                return Err(ExchangeError::UntrustedServer {
                    reason: http::describe(&e),
                });
            }
            Err(e) => Err((http::describe(&e), !e.is_connect())),
        };
        drop(permit);
        let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        match received {
            Ok((status, headers, body)) => {
                tracing::debug!(
                    cmdlet = request.cmdlet,
                    client_request_id = %client_request_id,
                    status,
                    attempt,
                    elapsed_ms,
                    "InvokeCommand"
                );
                let reply = Reply {
                    status,
                    headers,
                    body,
                    client_request_id,
                };
                reply.classify(request.cmdlet, url, token.secret)
            }
            Err((reason, sent)) => {
                tracing::debug!(
                    cmdlet = request.cmdlet,
                    client_request_id = %client_request_id,
                    attempt,
                    elapsed_ms,
                    reason = %reason,
                    "InvokeCommand failed"
                );
                Ok(Outcome::Retry(Failure::Broken { reason, sent }))
            }
        }
    }
}
