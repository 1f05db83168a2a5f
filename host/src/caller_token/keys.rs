//! The tenant's signing keys: fetched from the `jwks_uri` its OpenID configuration names, kept,
//! and fetched again when a token names a key the cache does not hold (keys roll over) — once
//! at once, however many tokens ask, and at most once per refetch floor (30 s), so a flood of
//! tokens with made-up key ids cannot make the service hammer the authority. The keys are also
//! refreshed when an hour old; if that refresh fails, the keys held stay in use until they are a
//! day old (tried again every 30 s), so a short outage of the authority does not lock every
//! caller out.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openssl::bn::BigNum;
use openssl::pkey::{PKey, Public};
use openssl::rsa::Rsa;
use serde_json::Value;

/// The time one fetch may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest discovery or JWKS document read.
const MAX_DOCUMENT_BYTES: usize = 1024 * 1024;
/// The smallest RSA key accepted (Entra's are 2048-bit).
const MIN_RSA_BITS: u32 = 2048;

/// When keys are fetched again.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Timing {
    /// The shortest time between two fetches caused by unknown key ids, or after a failure.
    pub refetch_floor: Duration,
    /// Keys older than this are fetched again before use.
    pub max_age: Duration,
    /// Keys older than this are not used even when fresh ones cannot be fetched.
    pub last_use: Duration,
}

impl Timing {
    /// 30 s floor, refreshed hourly, used up to a day when the authority is unreachable.
    pub const STANDARD: Timing = Timing {
        refetch_floor: Duration::from_secs(30),
        max_age: Duration::from_secs(3600),
        last_use: Duration::from_secs(24 * 3600),
    };
}

/// Why a key could not be had.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum KeyError {
    /// The keys (just fetched, or fetched again too recently to ask once more) do not list it.
    Unknown {
        /// How the key set was checked, for the refusal's text.
        refetch: String,
    },
    /// No keys could be fetched.
    Unavailable {
        /// The URL that failed.
        url: String,
        /// Why.
        reason: String,
    },
}

/// One fetched key set.
struct KeySet {
    keys: HashMap<String, PKey<Public>>,
    fetched: Instant,
}

impl KeySet {
    fn lookup(&self, kid: &str, refetch: &str) -> Result<PKey<Public>, KeyError> {
        self.keys
            .get(kid)
            .cloned()
            .ok_or_else(|| KeyError::Unknown {
                refetch: refetch.to_string(),
            })
    }
}

/// A failed fetch.
struct Failure {
    at: Instant,
    url: String,
    reason: String,
}

/// What the fetcher remembers between fetches.
#[derive(Default)]
struct Fetching {
    /// From the OpenID configuration, once read.
    jwks_uri: Option<String>,
    /// The last fetch made while keys were held (for an unknown kid, or because of age).
    last_refetch: Option<Instant>,
    /// The last fetch, if it failed.
    failure: Option<Failure>,
}

/// The cached keys of one tenant.
pub(crate) struct SigningKeys {
    http: reqwest::Client,
    discovery: String,
    timing: Timing,
    set: RwLock<Option<Arc<KeySet>>>,
    fetching: tokio::sync::Mutex<Fetching>,
}

impl SigningKeys {
    /// Keys from the OpenID configuration at `discovery`, fetched when first needed.
    pub fn new(http: reqwest::Client, discovery: String, timing: Timing) -> SigningKeys {
        SigningKeys {
            http,
            discovery,
            timing,
            set: RwLock::new(None),
            fetching: tokio::sync::Mutex::new(Fetching::default()),
        }
    }

    fn cached(&self) -> Option<Arc<KeySet>> {
        self.set.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The key named `kid`.
    pub async fn key(&self, kid: &str) -> Result<PKey<Public>, KeyError> {
        if let Some(set) = self.cached()
            && set.fetched.elapsed() < self.timing.max_age
            && let Some(key) = set.keys.get(kid)
        {
            return Ok(key.clone());
        }
        // One fetch at a time; whoever waited here finds what the fetch before it brought.
        let mut fetching = self.fetching.lock().await;
        match self.cached() {
            Some(set) if set.fetched.elapsed() < self.timing.max_age => {
                self.unknown_kid(&mut fetching, &set, kid).await
            }
            held => self.refresh(&mut fetching, held, kid).await,
        }
    }

    /// `kid` with fresh keys held: it is new to them, so fetch them again, unless that was
    /// done less than the floor ago.
    async fn unknown_kid(
        &self,
        fetching: &mut Fetching,
        set: &KeySet,
        kid: &str,
    ) -> Result<PKey<Public>, KeyError> {
        if let Ok(key) = set.lookup(kid, "") {
            return Ok(key);
        }
        if let Some(at) = fetching.last_refetch
            && at.elapsed() < self.timing.refetch_floor
        {
            return Err(KeyError::Unknown {
                refetch: format!(" (fetched again {} s ago)", at.elapsed().as_secs()),
            });
        }
        fetching.last_refetch = Some(Instant::now());
        self.fetch(fetching)
            .await?
            .lookup(kid, " (fetched again just now)")
    }

    /// `kid` with no keys held, or old ones: fetch (unless the last fetch failed less than the
    /// floor ago); if that fails, old keys still serve until their last use.
    async fn refresh(
        &self,
        fetching: &mut Fetching,
        held: Option<Arc<KeySet>>,
        kid: &str,
    ) -> Result<PKey<Public>, KeyError> {
        let usable = held.filter(|s| s.fetched.elapsed() < self.timing.last_use);
        let failed_recently = fetching
            .failure
            .as_ref()
            .is_some_and(|f| f.at.elapsed() < self.timing.refetch_floor);
        if !failed_recently {
            if usable.is_some() {
                fetching.last_refetch = Some(Instant::now());
            }
            match self.fetch(fetching).await {
                Ok(fresh) => return fresh.lookup(kid, " (fetched just now)"),
                Err(e) if usable.is_none() => return Err(e),
                Err(_) => {}
            }
        }
        match (usable, &fetching.failure) {
            (Some(set), _) => set.lookup(kid, ""),
            (None, Some(failure)) => Err(KeyError::Unavailable {
                url: failure.url.clone(),
                reason: failure.reason.clone(),
            }),
            (None, None) => Err(KeyError::Unavailable {
                url: self.discovery.clone(),
                reason: "no keys fetched yet".into(),
            }),
        }
    }

    /// Fetches the key set (and the `jwks_uri` first, if not yet known), keeps it and returns
    /// it; a failure is remembered, so the next attempt waits for the floor.
    async fn fetch(&self, fetching: &mut Fetching) -> Result<Arc<KeySet>, KeyError> {
        match self.fetch_set(fetching).await {
            Ok(set) => {
                let set = Arc::new(set);
                *self.set.write().unwrap_or_else(|e| e.into_inner()) = Some(set.clone());
                fetching.failure = None;
                Ok(set)
            }
            Err((url, reason)) => {
                tracing::warn!(%url, %reason, "cannot fetch the tenant's token signing keys");
                fetching.failure = Some(Failure {
                    at: Instant::now(),
                    url: url.clone(),
                    reason: reason.clone(),
                });
                Err(KeyError::Unavailable { url, reason })
            }
        }
    }

    async fn fetch_set(&self, fetching: &mut Fetching) -> Result<KeySet, (String, String)> {
        let jwks_uri = match &fetching.jwks_uri {
            Some(uri) => uri.clone(),
            None => {
                let config = self.get_json(&self.discovery).await?;
                let uri = config
                    .get("jwks_uri")
                    .and_then(Value::as_str)
                    .filter(|u| u.starts_with("https://"))
                    .ok_or_else(|| {
                        (
                            self.discovery.clone(),
                            "the OpenID configuration names no https jwks_uri".to_string(),
                        )
                    })?
                    .to_string();
                fetching.jwks_uri = Some(uri.clone());
                uri
            }
        };
        let document = self.get_json(&jwks_uri).await?;
        let keys = parse_jwks(&document).map_err(|reason| (jwks_uri.clone(), reason))?;
        Ok(KeySet {
            keys,
            fetched: Instant::now(),
        })
    }

    async fn get_json(&self, url: &str) -> Result<Value, (String, String)> {
        let failed = |reason: String| (url.to_string(), reason);
        let response = self
            .http
            .get(url)
            .timeout(FETCH_TIMEOUT)
            .send()
            .await
            .map_err(|e| failed(crate::http::describe(&e)))?;
        if !response.status().is_success() {
            return Err(failed(format!("it answered HTTP {}", response.status())));
        }
        if response
            .content_length()
            .is_some_and(|n| n > MAX_DOCUMENT_BYTES as u64)
        {
            return Err(failed("the document is larger than 1 MB".into()));
        }
        let body = response
            .bytes()
            .await
            .map_err(|e| failed(crate::http::describe(&e)))?;
        if body.len() > MAX_DOCUMENT_BYTES {
            return Err(failed("the document is larger than 1 MB".into()));
        }
        serde_json::from_slice(&body).map_err(|e| failed(format!("the document is not JSON: {e}")))
    }
}

/// The RSA signing keys of a JWKS document, by `kid`. Keys of other types, for encryption, or
/// shorter than 2048 bits are left out; a document with no usable key is an error.
fn parse_jwks(document: &Value) -> Result<HashMap<String, PKey<Public>>, String> {
    let entries = document
        .get("keys")
        .and_then(Value::as_array)
        .ok_or("the JWKS document has no keys array")?;
    let mut keys = HashMap::new();
    for entry in entries {
        if entry.get("kty").and_then(Value::as_str) != Some("RSA")
            || entry
                .get("use")
                .and_then(Value::as_str)
                .is_some_and(|u| u != "sig")
        {
            continue;
        }
        let (Some(kid), Some(n), Some(e)) = (
            entry.get("kid").and_then(Value::as_str),
            entry.get("n").and_then(Value::as_str).and_then(decode),
            entry.get("e").and_then(Value::as_str).and_then(decode),
        ) else {
            continue;
        };
        let key = BigNum::from_slice(&n)
            .and_then(|n| Ok((n, BigNum::from_slice(&e)?)))
            .and_then(|(n, e)| Rsa::from_public_components(n, e))
            .and_then(PKey::from_rsa);
        match key {
            Ok(key) if key.bits() >= MIN_RSA_BITS => {
                keys.insert(kid.to_string(), key);
            }
            _ => tracing::warn!(
                kid,
                "a signing key in the JWKS is not a usable RSA key; left out"
            ),
        }
    }
    if keys.is_empty() {
        return Err("the JWKS document lists no RSA signing key of 2048 bits or more".into());
    }
    Ok(keys)
}

/// Base64url, padded or not (JWKS documents in the wild use both).
fn decode(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// An emulator with just a tenant (no apps or mailboxes: quick to make).
    async fn sim(dir: &std::path::Path) -> exorun_sim::RunningSim {
        let mut config = exorun_sim::SimConfig::new(dir);
        config.scenario.tenants[0].default_apps = false;
        config.scenario.tenants[0].mailboxes = 0;
        exorun_sim::start(config).await.unwrap()
    }

    fn fetches(sim: &exorun_sim::RunningSim, endpoint: &str) -> usize {
        let log = sim.state.log.entries();
        log.iter().filter(|e| e.endpoint == endpoint).count()
    }

    fn keys(sim: &exorun_sim::RunningSim, tenant: &str, timing: Timing) -> SigningKeys {
        let http = crate::http::client(Some(&sim.info.ca_file)).unwrap();
        let discovery = format!(
            "{}/{tenant}/v2.0/.well-known/openid-configuration",
            sim.info.base_url
        );
        SigningKeys::new(http, discovery, timing)
    }

    #[tokio::test]
    async fn old_keys_are_refreshed_and_serve_while_the_authority_fails_until_their_last_use() {
        let dir = tempfile::tempdir().unwrap();
        let sim = sim(dir.path()).await;
        let kid = sim.state.issuer.keys.current().kid.clone();
        let timing = Timing {
            refetch_floor: Duration::ZERO,
            max_age: Duration::from_millis(300),
            last_use: Duration::from_millis(1500),
        };
        let keys = keys(&sim, &sim.info.tenant_id, timing);
        keys.key(&kid).await.unwrap();
        keys.key(&kid).await.unwrap();
        assert_eq!(fetches(&sim, "jwks"), 1, "kept");
        tokio::time::sleep(Duration::from_millis(400)).await;
        keys.key(&kid).await.unwrap();
        assert_eq!(fetches(&sim, "jwks"), 2, "fetched again when old");

        // The authority fails from now on: the old keys serve until their last use.
        keys.fetching.lock().await.jwks_uri = Some(format!("{}/nosuch/keys", sim.info.base_url));
        tokio::time::sleep(Duration::from_millis(400)).await;
        keys.key(&kid).await.unwrap();
        tokio::time::sleep(Duration::from_millis(1200)).await;
        assert_eq!(
            keys.key(&kid).await.unwrap_err(),
            KeyError::Unavailable {
                url: format!("{}/nosuch/keys", sim.info.base_url),
                reason: "it answered HTTP 404 Not Found".into()
            }
        );
    }

    #[tokio::test]
    async fn a_failed_fetch_is_not_tried_again_before_the_floor() {
        let dir = tempfile::tempdir().unwrap();
        let sim = sim(dir.path()).await;
        let keys = keys(&sim, "nosuch.onmicrosoft.com", Timing::STANDARD);
        let first = keys.key("k").await.unwrap_err();
        assert!(
            matches!(&first, KeyError::Unavailable { reason, .. } if reason == "it answered HTTP 400 Bad Request"),
            "{first:?}"
        );
        assert_eq!(keys.key("k").await.unwrap_err(), first);
        assert_eq!(fetches(&sim, "openid_configuration"), 1);
    }

    fn jwk(kid: &str, bits: u32) -> Value {
        let rsa = Rsa::generate(bits).unwrap();
        json!({"kty": "RSA", "use": "sig", "kid": kid,
               "n": URL_SAFE_NO_PAD.encode(rsa.n().to_vec()), "e": URL_SAFE_NO_PAD.encode(rsa.e().to_vec())})
    }

    #[test]
    fn only_rsa_signing_keys_of_2048_bits_are_kept() {
        let doc = json!({"keys": [
            jwk("good", 2048),
            jwk("short", 1024),
            {"kty": "EC", "kid": "ec", "crv": "P-256", "x": "AA", "y": "AA"},
            {"kty": "RSA", "use": "enc", "kid": "enc", "n": "AQAB", "e": "AQAB"},
            {"kty": "RSA", "kid": "broken", "n": "!!", "e": "AQAB"},
        ]});
        let keys = parse_jwks(&doc).unwrap();
        assert_eq!(keys.keys().collect::<Vec<_>>(), ["good"]);
        assert_eq!(
            parse_jwks(&json!({"keys": [jwk("short", 1024)]})).unwrap_err(),
            "the JWKS document lists no RSA signing key of 2048 bits or more"
        );
        assert_eq!(
            parse_jwks(&json!({})).unwrap_err(),
            "the JWKS document has no keys array"
        );
    }
}
