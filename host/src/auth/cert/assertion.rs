//! The client assertion: the signed JWT that proves the app's identity to the Entra ID token
//! endpoint in the client-credentials flow (docs/protocol.md §4.2).

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::{DateTime, TimeDelta, Utc};
use openssl::hash::MessageDigest;
use openssl::rsa::Padding;
use openssl::sign::{RsaPssSaltlen, Signer};
use serde_json::json;

use super::{CertError, Certificate};
use crate::secret::Secret;

/// How long an assertion is valid; Entra ID documents 5–10 minutes and MSAL uses 10.
const LIFETIME: TimeDelta = TimeDelta::minutes(10);

/// The JWS algorithm used to sign the client assertion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AssertionAlg {
    /// RSA-PSS with SHA-256 (MGF1-SHA-256, salt as long as the digest), identified by the
    /// certificate's SHA-256 thumbprint (`x5t#S256`). What current Entra ID documentation and MSAL use.
    #[default]
    Ps256,
    /// RSASSA-PKCS1-v1_5 with SHA-256, identified by the SHA-1 thumbprint (`x5t`). What older
    /// documentation describes, kept for tenants or proxies that expect it.
    Rs256,
}

impl AssertionAlg {
    /// The JWS `alg` header value.
    pub fn jws_name(self) -> &'static str {
        match self {
            AssertionAlg::Ps256 => "PS256",
            AssertionAlg::Rs256 => "RS256",
        }
    }
}

/// Builds and signs a client assertion for `client_id` at `token_url` (the exact token endpoint
/// URL, which becomes `aud`), valid from `now` for 10 minutes with a fresh `jti`. With
/// `include_x5c` the certificate itself goes in the header, which subject-name/issuer
/// authentication needs. Refuses a certificate outside its validity period, since Entra ID would
/// reject the assertion with a less helpful error.
pub fn client_assertion(
    cert: &Certificate,
    client_id: &str,
    token_url: &str,
    alg: AssertionAlg,
    include_x5c: bool,
    now: DateTime<Utc>,
) -> Result<Secret, CertError> {
    cert.check(now)?;
    let mut header = json!({ "alg": alg.jws_name(), "typ": "JWT" });
    match alg {
        AssertionAlg::Ps256 => header["x5t#S256"] = json!(cert.x5t_s256()),
        AssertionAlg::Rs256 => header["x5t"] = json!(cert.x5t()),
    }
    if include_x5c {
        header["x5c"] = json!([STANDARD.encode(cert.der())]);
    }
    let issued = now.timestamp();
    let claims = json!({
        "aud": token_url,
        "iss": client_id,
        "sub": client_id,
        "jti": uuid::Uuid::new_v4().to_string(),
        "nbf": issued,
        "iat": issued,
        "exp": (now + LIFETIME).timestamp(),
    });
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = sign(cert, alg, signing_input.as_bytes())
        .map_err(CertError::crypto("signing the client assertion"))?;
    Ok(Secret::new(format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(signature)
    )))
}

/// Signs `input` with the certificate's private key using `alg`.
fn sign(
    cert: &Certificate,
    alg: AssertionAlg,
    input: &[u8],
) -> Result<Vec<u8>, openssl::error::ErrorStack> {
    let mut signer = Signer::new(MessageDigest::sha256(), cert.key())?;
    if alg == AssertionAlg::Ps256 {
        signer.set_rsa_padding(Padding::PKCS1_PSS)?;
        signer.set_rsa_pss_saltlen(RsaPssSaltlen::DIGEST_LENGTH)?;
        signer.set_rsa_mgf1_md(MessageDigest::sha256())?;
    }
    signer.update(input)?;
    signer.sign_to_vec()
}

#[cfg(test)]
#[path = "assertion_tests.rs"]
mod tests;
