//! The tenant-wide token signing keys, as Entra publishes them: every key named by `kid` (the
//! base64url SHA-1 thumbprint of its certificate, also sent as `x5t`), listed in the JWKS with
//! its modulus, exponent and certificate. Rolling adds a new current key and keeps the previous
//! ones published, so tokens already issued still verify — the rollover clients must survive by
//! refetching the JWKS when a `kid` is new to them.

use openssl::error::ErrorStack;
use openssl::hash::MessageDigest;
use parking_lot::RwLock;
use serde_json::{Value, json};
use std::sync::{Arc, OnceLock};

use crate::jwt::{Jwt, b64url, sign_rs256};
use crate::pki::KeyPair;

/// How many keys stay published after a roll (the current one and the ones before it).
const PUBLISHED: usize = 3;

/// One signing key and its `kid`.
pub struct SigningKey {
    /// The certificate and private key.
    pub pair: KeyPair,
    /// `kid` and `x5t`: the certificate's SHA-1 thumbprint, base64url.
    pub kid: String,
}

impl SigningKey {
    /// A fresh 2048-bit key with a self-signed certificate.
    pub fn generate() -> Result<SigningKey, ErrorStack> {
        let pair = crate::pki::self_signed_client("exorun-sim token signing", 2048, 3650)?;
        let kid = b64url(&pair.cert.digest(MessageDigest::sha1())?);
        Ok(SigningKey { pair, kid })
    }

    /// Signs `claims` with RS256 under `header` (whose `kid`/`x5t` the caller sets).
    pub fn sign(&self, header: &Value, claims: &Value) -> Result<String, ErrorStack> {
        sign_rs256(header, claims, &self.pair.key)
    }

    /// The key as a JWKS entry.
    fn jwk(&self) -> Value {
        let rsa = self.pair.key.rsa().ok();
        let n = rsa.as_ref().map(|r| b64url(&r.n().to_vec()));
        let e = rsa.as_ref().map(|r| b64url(&r.e().to_vec()));
        let x5c = self.pair.cert.to_der().map(|d| base64_std(&d)).ok();
        json!({
            "kty": "RSA", "use": "sig", "kid": self.kid, "x5t": self.kid,
            "n": n, "e": e, "x5c": [x5c],
        })
    }
}

/// The published keys, newest (current) first, and a key that is never published.
pub struct SigningKeys {
    published: RwLock<Vec<Arc<SigningKey>>>,
    unpublished: OnceLock<Arc<SigningKey>>,
}

impl SigningKeys {
    /// One fresh published key.
    pub fn new() -> Result<SigningKeys, ErrorStack> {
        Ok(SigningKeys {
            published: RwLock::new(vec![Arc::new(SigningKey::generate()?)]),
            unpublished: OnceLock::new(),
        })
    }

    /// The key new tokens are signed with.
    pub fn current(&self) -> Arc<SigningKey> {
        self.published.read()[0].clone()
    }

    /// A key whose `kid` no JWKS ever lists (made on first use), for tokens a validator must
    /// refuse as signed by an unknown key.
    pub fn unpublished(&self) -> Result<Arc<SigningKey>, ErrorStack> {
        if let Some(key) = self.unpublished.get() {
            return Ok(key.clone());
        }
        let key = Arc::new(SigningKey::generate()?);
        Ok(self.unpublished.get_or_init(|| key).clone())
    }

    /// Makes a new key current, keeps the last few published, and returns the new `kid`.
    pub fn roll(&self) -> Result<String, ErrorStack> {
        let key = Arc::new(SigningKey::generate()?);
        let kid = key.kid.clone();
        let mut published = self.published.write();
        published.insert(0, key);
        published.truncate(PUBLISHED);
        Ok(kid)
    }

    /// The JWKS document: every published key.
    pub fn jwks(&self) -> Value {
        let keys: Vec<Value> = self.published.read().iter().map(|k| k.jwk()).collect();
        json!({ "keys": keys })
    }

    /// True when a published key (the one the header's `kid` names, else any) verifies `jwt`.
    pub fn verify(&self, jwt: &Jwt) -> bool {
        let published = self.published.read();
        match jwt.header.get("kid").and_then(Value::as_str) {
            Some(kid) => published
                .iter()
                .find(|k| k.kid == kid)
                .is_some_and(|k| jwt.verify(&k.pair.key)),
            None => published.iter().any(|k| jwt.verify(&k.pair.key)),
        }
    }
}

fn base64_std(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_roll_publishes_a_new_current_key_and_keeps_the_old_one() {
        let keys = SigningKeys::new().unwrap();
        let old = keys.current();
        let token = old
            .sign(&json!({"alg": "RS256", "kid": old.kid}), &json!({"a": 1}))
            .unwrap();
        let kid = keys.roll().unwrap();
        assert_ne!(kid, old.kid);
        assert_eq!(keys.current().kid, kid);
        let listed: Vec<String> = keys.jwks()["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(listed, [kid, old.kid.clone()]);
        assert!(
            keys.verify(&Jwt::parse(&token).unwrap()),
            "old tokens still verify"
        );
        let stranger = keys.unpublished().unwrap();
        assert!(!listed.contains(&stranger.kid));
        let forged = stranger
            .sign(
                &json!({"alg": "RS256", "kid": stranger.kid}),
                &json!({"a": 1}),
            )
            .unwrap();
        assert!(!keys.verify(&Jwt::parse(&forged).unwrap()));
    }
}
