//! The token cache in front of a credential: one token per resource, refreshed at least five
//! minutes before it expires (or when the issuer's `refresh_in` says), one refresh at a time no
//! matter how many requests want a token, and a forced refresh when Exchange rejects a token.
//! Every token asked of the credential is recorded in the audit log (never the token itself)
//! before it is used.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{Duration, Utc};
use tokio::sync::Mutex;

use super::{AccessToken, AuthError, Resource, TokenSource, claims};
use crate::audit::{Audit, Event, TokenAcquisition};
use crate::secret::Secret;

/// Tokens are refreshed when less than this remains (msal uses the same margin).
pub const REFRESH_MARGIN: Duration = Duration::minutes(5);

/// Caches and refreshes the tokens of one credential (one tenant, one client).
pub struct TokenProvider {
    source: Arc<dyn TokenSource>,
    cache: Mutex<HashMap<Resource, AccessToken>>,
    audit: Audit,
    credential: CredentialLabel,
    telemetry: Option<Arc<crate::telemetry::Telemetry>>,
}

/// What the audit log says about a credential whose tokens it records (never its secret).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CredentialLabel {
    /// Its kind, e.g. `certificate` ([`CredentialSpec::kind`](crate::config::CredentialSpec::kind)).
    pub kind: String,
    /// The configured app (client) id, for tokens that do not name theirs.
    pub app_id: Option<String>,
    /// The configured tenant, for tokens that do not name theirs.
    pub tenant: Option<String>,
}

impl TokenProvider {
    /// A provider for `source`, recording nothing.
    pub fn new(source: Arc<dyn TokenSource>) -> TokenProvider {
        TokenProvider {
            source,
            cache: Mutex::new(HashMap::new()),
            audit: Audit::disabled(),
            credential: CredentialLabel::default(),
            telemetry: None,
        }
    }

    /// This provider counting the tokens it asks for in `telemetry`, which the Exchange
    /// client over it also counts its requests in.
    pub fn observed(self, telemetry: Arc<crate::telemetry::Telemetry>) -> TokenProvider {
        TokenProvider {
            telemetry: Some(telemetry),
            ..self
        }
    }

    /// The counters this provider (and the client over it) count in, if any.
    pub fn telemetry(&self) -> Option<&Arc<crate::telemetry::Telemetry>> {
        self.telemetry.as_ref()
    }

    /// This provider recording each token it asks of its source in `audit`, as one of
    /// `credential`; a token that cannot be recorded is not used.
    pub fn audited(self, audit: Audit, credential: CredentialLabel) -> TokenProvider {
        TokenProvider {
            audit,
            credential,
            ..self
        }
    }

    /// What the underlying credential is.
    pub fn describe(&self) -> String {
        self.source.describe()
    }

    /// A token for `resource` that is good for at least the refresh margin.
    pub async fn token(&self, resource: Resource) -> Result<AccessToken, AuthError> {
        // Holding the lock across the fetch is the single-flight: concurrent callers wait for
        // the one refresh and then find the fresh token in the cache.
        let mut cache = self.cache.lock().await;
        if let Some(token) = cache.get(&resource).filter(|t| is_fresh(t)) {
            return Ok(token.clone());
        }
        // Once the audit log cannot be written, the credential is not used again.
        self.audit.check()?;
        self.record_intent(resource)?;
        let acquired = self.source.acquire(resource).await;
        if let Some(telemetry) = &self.telemetry {
            telemetry.token(acquired.is_ok());
        }
        self.record(resource, &acquired)?;
        let fresh = acquired?;
        tracing::debug!(resource = ?resource, expires_at = %fresh.expires_at, "acquired a token");
        cache.insert(resource, fresh.clone());
        Ok(fresh)
    }

    /// The tenant the credential's tokens are for: the `tid` claim of a token for `resource`.
    /// For sources that are not tied to a configured tenant (a ready token, a command, a
    /// managed identity), this is how the tenant is learnt.
    pub async fn tenant(&self, resource: Resource) -> Result<String, AuthError> {
        let token = self.token(resource).await?;
        claims::decode(token.secret.expose())
            .map(|c| c.tenant_id)
            .filter(|tid| !tid.is_empty())
            .ok_or_else(|| AuthError::NoTenant {
                source_name: self.describe(),
            })
    }

    /// Drops `rejected` (a token the service refused) and gets a new one, unless another
    /// caller already replaced it.
    pub async fn refresh_after_rejection(
        &self,
        resource: Resource,
        rejected: &Secret,
    ) -> Result<AccessToken, AuthError> {
        {
            let mut cache = self.cache.lock().await;
            if cache.get(&resource).is_some_and(|t| &t.secret == rejected) {
                cache.remove(&resource);
            }
        }
        self.token(resource).await
    }
}

impl TokenProvider {
    /// Records that a token for `resource` is about to be asked for, and waits until the
    /// record is on disk: a log that cannot be written stops the ask before it is made.
    fn record_intent(&self, resource: Resource) -> Result<(), AuthError> {
        if !self.audit.is_enabled() {
            return Ok(());
        }
        let token = TokenAcquisition {
            intent: true,
            app_id: self.credential.app_id.clone(),
            tenant: self.credential.tenant.clone(),
            resource: resource.identifier().to_string(),
            credential: self.credential.kind.clone(),
            expires_at: None,
            error: None,
        };
        Ok(self.audit.record_synced(Event::Token(token))?)
    }

    /// Records a token asked for `resource`: who it is for and until when, or why there is
    /// none. The app and tenant are the token's own claims where it has them.
    fn record(
        &self,
        resource: Resource,
        acquired: &Result<AccessToken, AuthError>,
    ) -> Result<(), AuthError> {
        if !self.audit.is_enabled() {
            return Ok(());
        }
        let claims = acquired
            .as_ref()
            .ok()
            .and_then(|token| claims::decode(token.secret.expose()));
        let claim = |read: fn(&claims::TokenClaims) -> &String| {
            claims
                .as_ref()
                .map(read)
                .filter(|value| !value.is_empty())
                .cloned()
        };
        let token = TokenAcquisition {
            intent: false,
            app_id: claim(|c| &c.app_id).or_else(|| self.credential.app_id.clone()),
            tenant: claim(|c| &c.tenant_id).or_else(|| self.credential.tenant.clone()),
            resource: resource.identifier().to_string(),
            credential: self.credential.kind.clone(),
            expires_at: acquired.as_ref().ok().map(|token| token.expires_at),
            error: acquired.as_ref().err().map(ToString::to_string),
        };
        Ok(self.audit.record(Event::Token(token))?)
    }
}

fn is_fresh(token: &AccessToken) -> bool {
    let now = Utc::now();
    let refresh_at = token.expires_at - REFRESH_MARGIN;
    let refresh_at = token.refresh_at.map_or(refresh_at, |r| r.min(refresh_at));
    now < refresh_at
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use futures::future::BoxFuture;

    use super::*;

    struct Counting {
        calls: AtomicUsize,
        lifetime: Duration,
    }

    impl TokenSource for Counting {
        fn acquire(&self, _: Resource) -> BoxFuture<'_, Result<AccessToken, AuthError>> {
            Box::pin(async move {
                let n = self.calls.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                Ok(AccessToken {
                    secret: Secret::new(format!("t{n}")),
                    expires_at: Utc::now() + self.lifetime,
                    refresh_at: None,
                })
            })
        }

        fn describe(&self) -> String {
            "counting".into()
        }
    }

    fn provider(lifetime: Duration) -> (Arc<Counting>, TokenProvider) {
        let source = Arc::new(Counting {
            calls: AtomicUsize::new(0),
            lifetime,
        });
        (source.clone(), TokenProvider::new(source))
    }

    #[tokio::test]
    async fn concurrent_callers_share_one_refresh() {
        let (source, provider) = provider(Duration::hours(1));
        let tokens =
            futures::future::join_all((0..20).map(|_| provider.token(Resource::Exchange))).await;
        assert!(
            tokens
                .iter()
                .all(|t| t.as_ref().unwrap().secret.expose() == "t0")
        );
        assert_eq!(source.calls.load(Ordering::SeqCst), 1);
        provider.token(Resource::Compliance).await.unwrap();
        assert_eq!(
            source.calls.load(Ordering::SeqCst),
            2,
            "one token per resource"
        );
    }

    #[tokio::test]
    async fn tokens_near_expiry_are_refreshed() {
        let (source, provider) = provider(Duration::minutes(4));
        provider.token(Resource::Exchange).await.unwrap();
        provider.token(Resource::Exchange).await.unwrap();
        assert_eq!(
            source.calls.load(Ordering::SeqCst),
            2,
            "under the 5-minute margin every call refreshes"
        );
    }

    struct Refusing;

    impl TokenSource for Refusing {
        fn acquire(&self, _: Resource) -> BoxFuture<'_, Result<AccessToken, AuthError>> {
            Box::pin(async {
                Err(AuthError::ReadyToken(
                    "the token file /run/t is empty".into(),
                ))
            })
        }

        fn describe(&self) -> String {
            "refusing".into()
        }
    }

    fn label() -> CredentialLabel {
        CredentialLabel {
            kind: "access-token-file".into(),
            app_id: Some("1f7e0b59-3c3a-4d8e-9a57-2b4c8d1e6f30".into()),
            tenant: Some("contoso.onmicrosoft.com".into()),
        }
    }

    #[tokio::test]
    async fn each_token_asked_for_is_recorded_and_never_the_token() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let (source, provider) = provider(Duration::hours(1));
        let provider = provider.audited(Audit::open(&path).unwrap(), label());
        provider.token(Resource::Exchange).await.unwrap();
        provider.token(Resource::Exchange).await.unwrap();
        assert_eq!(source.calls.load(Ordering::SeqCst), 1);
        let refusing =
            TokenProvider::new(Arc::new(Refusing)).audited(Audit::open(&path).unwrap(), label());
        assert!(refusing.token(Resource::Compliance).await.is_err());

        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains(r#""t0""#), "{text}");
        let tokens: Vec<TokenAcquisition> = text
            .lines()
            .map(|line| match serde_json::from_str(line).unwrap() {
                crate::audit::Record {
                    event: Event::Token(token),
                    ..
                } => token,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            tokens.len(),
            4,
            "each ask is recorded twice; a cached token is not asked for again"
        );
        assert!(tokens[0].intent && tokens[2].intent);
        assert!(!tokens[1].intent && !tokens[3].intent);
        assert_eq!(tokens[0].resource, tokens[1].resource);
        assert_eq!(tokens[0].expires_at, None);
        assert_eq!(tokens[1].credential, "access-token-file");
        assert_eq!(tokens[1].app_id.as_deref(), label().app_id.as_deref());
        assert_eq!(tokens[1].tenant.as_deref(), Some("contoso.onmicrosoft.com"));
        assert_eq!(tokens[1].resource, "https://outlook.office365.com");
        assert!(tokens[1].expires_at.is_some() && tokens[1].error.is_none());
        assert_eq!(
            tokens[3].error.as_deref(),
            Some("the token file /run/t is empty")
        );
        assert_eq!(tokens[3].expires_at, None);
    }

    #[tokio::test]
    async fn no_token_is_asked_for_when_the_ask_cannot_be_recorded() {
        let (source, provider) = provider(Duration::hours(1));
        let provider = provider.audited(
            Audit::open(std::path::Path::new("/dev/full")).unwrap(),
            label(),
        );
        for _ in 0..2 {
            let e = provider.token(Resource::Exchange).await.unwrap_err();
            assert!(matches!(e, AuthError::Audit(_)), "{e}");
        }
        assert_eq!(
            source.calls.load(Ordering::SeqCst),
            0,
            "the ask could not be recorded, so the source is never asked"
        );
    }

    #[tokio::test]
    async fn a_rejected_token_is_replaced_once() {
        let (source, provider) = provider(Duration::hours(1));
        let first = provider.token(Resource::Exchange).await.unwrap();
        let (a, b) = tokio::join!(
            provider.refresh_after_rejection(Resource::Exchange, &first.secret),
            provider.refresh_after_rejection(Resource::Exchange, &first.secret)
        );
        assert_eq!(a.unwrap().secret.expose(), "t1");
        assert_eq!(b.unwrap().secret.expose(), "t1");
        assert_eq!(source.calls.load(Ordering::SeqCst), 2);
    }
}
