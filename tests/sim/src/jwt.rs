//! Compact JWTs: parsing, RS256/PS256 signature checks and RS256 signing, with OpenSSL.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use openssl::hash::MessageDigest;
use openssl::pkey::{HasPublic, PKey, PKeyRef, Private};
use openssl::rsa::Padding;
use openssl::sign::{RsaPssSaltlen, Signer, Verifier};
use serde_json::{Map, Value};

/// A JWT split into its parts; the signature is not yet checked.
pub struct Jwt {
    /// Decoded header.
    pub header: Map<String, Value>,
    /// Decoded claims.
    pub claims: Map<String, Value>,
    signing_input: String,
    signature: Vec<u8>,
}

/// Why a JWT could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JwtError {
    /// Not three dot-separated parts.
    #[error("the token is not a compact JWT (three base64url parts separated by dots)")]
    Shape,
    /// A part is not valid base64url.
    #[error("the {0} is not valid base64url")]
    Base64(&'static str),
    /// Header or claims are not a JSON object.
    #[error("the {0} is not a JSON object")]
    Json(&'static str),
}

/// Decodes base64url with or without `=` padding (msal pads its thumbprints).
pub fn b64url_decode(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD
        .decode(text.trim().trim_end_matches('='))
        .ok()
}

/// Encodes base64url without padding.
pub fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes standard base64, ignoring embedded whitespace (msal's `x5c` carries line breaks).
pub fn b64_decode_lenient(text: &str) -> Option<Vec<u8>> {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    STANDARD.decode(compact).ok()
}

impl Jwt {
    /// Splits and decodes a compact JWT.
    pub fn parse(token: &str) -> Result<Jwt, JwtError> {
        let mut parts = token.trim().split('.');
        let (Some(h), Some(c), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(JwtError::Shape);
        };
        let object = |part: &str, what: &'static str| -> Result<Map<String, Value>, JwtError> {
            let bytes = b64url_decode(part).ok_or(JwtError::Base64(what))?;
            match serde_json::from_slice(&bytes) {
                Ok(Value::Object(map)) => Ok(map),
                _ => Err(JwtError::Json(what)),
            }
        };
        Ok(Jwt {
            header: object(h, "header")?,
            claims: object(c, "payload")?,
            signing_input: format!("{h}.{c}"),
            signature: b64url_decode(s).ok_or(JwtError::Base64("signature"))?,
        })
    }

    /// The header's `alg`.
    pub fn alg(&self) -> &str {
        self.header.get("alg").and_then(Value::as_str).unwrap_or("")
    }

    /// A string claim.
    pub fn claim_str(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }

    /// A NumericDate claim; integers and floats are both accepted (msal sends floats).
    pub fn claim_time(&self, name: &str) -> Option<f64> {
        self.claims.get(name).and_then(Value::as_f64)
    }

    /// Checks the signature with `key` for `RS256` or `PS256`; other algorithms fail.
    pub fn verify<T: HasPublic>(&self, key: &PKeyRef<T>) -> bool {
        let pss = match self.alg() {
            "RS256" => false,
            "PS256" => true,
            _ => return false,
        };
        let check = || -> Result<bool, openssl::error::ErrorStack> {
            let mut verifier = Verifier::new(MessageDigest::sha256(), key)?;
            if pss {
                verifier.set_rsa_padding(Padding::PKCS1_PSS)?;
                verifier.set_rsa_pss_saltlen(RsaPssSaltlen::DIGEST_LENGTH)?;
                verifier.set_rsa_mgf1_md(MessageDigest::sha256())?;
            }
            verifier.update(self.signing_input.as_bytes())?;
            verifier.verify(&self.signature)
        };
        check().unwrap_or(false)
    }
}

/// Signs `header` and `claims` with RS256.
pub fn sign_rs256(
    header: &Value,
    claims: &Value,
    key: &PKey<Private>,
) -> Result<String, openssl::error::ErrorStack> {
    let input = format!(
        "{}.{}",
        b64url(header.to_string().as_bytes()),
        b64url(claims.to_string().as_bytes())
    );
    let mut signer = Signer::new(MessageDigest::sha256(), key)?;
    signer.update(input.as_bytes())?;
    let signature = signer.sign_to_vec()?;
    Ok(format!("{input}.{}", b64url(&signature)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn signs_and_verifies_rs256_and_rejects_tampering() {
        let key = crate::pki::rsa_key(2048).unwrap();
        let token = sign_rs256(
            &json!({"alg": "RS256", "typ": "JWT"}),
            &json!({"a": 1.5}),
            &key,
        )
        .unwrap();
        let jwt = Jwt::parse(&token).unwrap();
        assert!(jwt.verify(&key));
        assert_eq!(jwt.claim_time("a"), Some(1.5));
        let mut parts: Vec<&str> = token.split('.').collect();
        let forged = b64url(br#"{"a":2}"#);
        parts[1] = &forged;
        assert!(!Jwt::parse(&parts.join(".")).unwrap().verify(&key));
    }

    #[test]
    fn malformed_tokens_say_what_is_wrong() {
        assert_eq!(Jwt::parse("abc").err(), Some(JwtError::Shape));
        assert_eq!(
            Jwt::parse("!!.e30.AA").err(),
            Some(JwtError::Base64("header"))
        );
        assert_eq!(
            Jwt::parse("e30.WzFd.AA").err(),
            Some(JwtError::Json("payload"))
        );
    }

    #[test]
    fn padded_base64url_is_accepted() {
        assert_eq!(b64url_decode("YQ=="), Some(b"a".to_vec()));
        assert_eq!(b64url_decode("YQ"), Some(b"a".to_vec()));
    }
}
