//! Checks a client's credential at the token endpoint: a certificate-signed JWT assertion
//! (docs/protocol.md §4.2: PS256 with `x5t#S256` or RS256 with `x5t`, optional `x5c`, padded or
//! unpadded base64url, float NumericDates, optional `nbf`, small clock skew) or a client secret.

use openssl::hash::MessageDigest;
use openssl::x509::X509;
use serde_json::Value;

use crate::directory::{App, RegisteredCert, hex_upper};
use crate::jwt::{Jwt, b64_decode_lenient, b64url_decode};
use crate::time::aad_timestamp;

use super::aadsts::AadError;

/// Clock skew tolerated on `exp` and `nbf`, seconds (Entra allows about five minutes).
pub const CLOCK_SKEW: f64 = 300.0;

/// The SHA-1 of the `x5c` leaf, if the header carries one.
fn x5c_sha1(jwt: &Jwt) -> Option<Vec<u8>> {
    let der = jwt
        .header
        .get("x5c")
        .and_then(Value::as_array)
        .and_then(|chain| chain.first())
        .and_then(Value::as_str)
        .and_then(b64_decode_lenient)?;
    let cert = X509::from_der(&der).ok()?;
    cert.digest(MessageDigest::sha1()).ok().map(|d| d.to_vec())
}

/// The certificate the assertion header points at. Errors name the thumbprint the way the
/// portal shows it (SHA-1 hex) whenever the header lets us know it.
fn find_certificate<'a>(jwt: &Jwt, app: &'a App) -> Result<&'a RegisteredCert, AadError> {
    let client_id = app.client_id.to_string();
    let header_bytes = |name: &str| {
        jwt.header
            .get(name)
            .and_then(Value::as_str)
            .map(b64url_decode)
    };
    let leaf_sha1 = x5c_sha1(jwt);
    let not_registered = |sent: &[u8]| {
        let shown = leaf_sha1.as_deref().unwrap_or(sent);
        AadError::cert_not_registered(&hex_upper(shown), &client_id)
    };
    if let Some(sha256) = header_bytes("x5t#S256") {
        let sha256 = sha256.ok_or_else(|| {
            AadError::malformed_assertion("The 'x5t#S256' header is not base64url.")
        })?;
        return app
            .certificates
            .iter()
            .find(|c| c.sha256 == sha256)
            .ok_or_else(|| not_registered(&sha256));
    }
    if let Some(sha1) = header_bytes("x5t") {
        let sha1 = sha1
            .ok_or_else(|| AadError::malformed_assertion("The 'x5t' header is not base64url."))?;
        return app
            .certificates
            .iter()
            .find(|c| c.sha1 == sha1)
            .ok_or_else(|| not_registered(&sha1));
    }
    match &leaf_sha1 {
        Some(sha1) => app
            .certificates
            .iter()
            .find(|c| &c.sha1 == sha1)
            .ok_or_else(|| not_registered(sha1)),
        None => Err(not_registered(&[])),
    }
}

/// Verifies `assertion` for `app`. `audiences` are the token endpoint URLs this request could
/// have been sent to (the tenant segment may be the GUID or a domain).
pub fn verify_assertion(
    assertion: &str,
    app: &App,
    audiences: &[String],
    now: i64,
) -> Result<(), AadError> {
    let jwt = Jwt::parse(assertion).map_err(|e| AadError::malformed_assertion(&e.to_string()))?;
    let cert = find_certificate(&jwt, app)?;
    if !jwt.verify(&cert.public_key) {
        return Err(AadError::bad_signature());
    }
    if now < cert.not_before || now > cert.not_after {
        return Err(AadError::cert_expired(
            &cert.thumbprint(),
            &aad_timestamp(cert.not_before),
            &aad_timestamp(cert.not_after),
        ));
    }
    let client_id = app.client_id.to_string();
    let iss = jwt.claim_str("iss").unwrap_or_default();
    if !iss.eq_ignore_ascii_case(&client_id) {
        return Err(AadError::issuer_mismatch());
    }
    if !jwt
        .claim_str("sub")
        .is_some_and(|sub| sub.eq_ignore_ascii_case(iss))
    {
        return Err(AadError::subject_mismatch());
    }
    let aud = jwt.claim_str("aud").unwrap_or_default();
    if !audiences.iter().any(|a| a.eq_ignore_ascii_case(aud)) {
        return Err(AadError::wrong_audience(
            aud,
            audiences.first().map(String::as_str).unwrap_or_default(),
        ));
    }
    let exp = jwt
        .claim_time("exp")
        .ok_or_else(|| AadError::malformed_assertion("The assertion has no 'exp' claim."))?;
    let nbf = jwt.claim_time("nbf").or_else(|| jwt.claim_time("iat"));
    let now_f = now as f64;
    if now_f > exp + CLOCK_SKEW || nbf.is_some_and(|nbf| now_f + CLOCK_SKEW < nbf) {
        let from = nbf.map(|t| aad_timestamp(t as i64)).unwrap_or_default();
        return Err(AadError::assertion_time(
            &aad_timestamp(now),
            &from,
            &aad_timestamp(exp as i64),
        ));
    }
    Ok(())
}

/// Checks a client secret against the app's secrets (constant-time compare).
pub fn verify_secret(secret: &str, app: &App, now: i64) -> Result<(), AadError> {
    let client_id = app.client_id.to_string();
    let matching = app.secrets.iter().find(|s| {
        s.value.len() == secret.len() && openssl::memcmp::eq(s.value.as_bytes(), secret.as_bytes())
    });
    match matching {
        None => Err(AadError::bad_secret(&client_id)),
        Some(s) if s.expires <= now => Err(AadError::secret_expired(&client_id)),
        Some(_) => Ok(()),
    }
}
