//! The token cache in front of a credential: one token per resource, refreshed at least five
//! minutes before it expires (or when the issuer's `refresh_in` says), one refresh at a time no
//! matter how many requests want a token, and a forced refresh when Exchange rejects a token.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{Duration, Utc};
use tokio::sync::Mutex;

use super::{AccessToken, AuthError, Resource, TokenSource, claims};
use crate::secret::Secret;

/// Tokens are refreshed when less than this remains (msal uses the same margin).
pub const REFRESH_MARGIN: Duration = Duration::minutes(5);

/// Caches and refreshes the tokens of one credential (one tenant, one client).
pub struct TokenProvider {
    source: Arc<dyn TokenSource>,
    cache: Mutex<HashMap<Resource, AccessToken>>,
}

impl TokenProvider {
    /// A provider for `source`.
    pub fn new(source: Arc<dyn TokenSource>) -> TokenProvider {
        TokenProvider {
            source,
            cache: Mutex::new(HashMap::new()),
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
        let fresh = self.source.acquire(resource).await?;
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
