//! The client side of certificate authentication, for the demo and the tests: a client
//! assertion (docs/protocol.md §4.2) signed with an app's real private key.
//!
//! The emulator never uses this itself; it exists so that every caller signs assertions the same
//! documented way, and tests can tamper with any header or claim before signing.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use openssl::error::ErrorStack;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Padding;
use openssl::sign::{RsaPssSaltlen, Signer};
use openssl::x509::X509;
use serde_json::{Value, json};

/// How the assertion is signed and which thumbprint header it carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AssertionAlg {
    /// PS256 with `x5t#S256` (what current Entra documentation asks for).
    Ps256,
    /// RS256 with `x5t` (the older form, still accepted).
    Rs256,
}

/// A client assertion under construction: header and claims are public so tests can bend them.
pub struct ClientAssertion {
    /// JOSE header.
    pub header: Value,
    /// Claims.
    pub claims: Value,
    key: PKey<Private>,
    alg: AssertionAlg,
}

impl ClientAssertion {
    /// A PS256 assertion for `client_id`, valid for ten minutes, addressed to `token_url`.
    pub fn new(
        cert: &X509,
        key: PKey<Private>,
        client_id: &str,
        token_url: &str,
    ) -> Result<ClientAssertion, ErrorStack> {
        let sha256 = URL_SAFE_NO_PAD.encode(cert.digest(MessageDigest::sha256())?);
        let now = crate::time::now_f64();
        Ok(ClientAssertion {
            header: json!({"alg": "PS256", "typ": "JWT", "x5t#S256": sha256}),
            claims: json!({
                "aud": token_url, "iss": client_id, "sub": client_id,
                "jti": uuid::Uuid::new_v4().to_string(), "nbf": now as i64, "iat": now, "exp": now + 600.0,
            }),
            key,
            alg: AssertionAlg::Ps256,
        })
    }

    /// Loads the certificate and key from PEM files.
    pub fn from_pem_files(
        cert: &std::path::Path,
        key: &std::path::Path,
        client_id: &str,
        token_url: &str,
    ) -> Result<ClientAssertion, crate::SimError> {
        let read = |p: &std::path::Path| {
            std::fs::read(p)
                .map_err(|e| crate::SimError::Io(format!("cannot read {}: {e}", p.display())))
        };
        let cert = X509::from_pem(&read(cert)?)?;
        let key = PKey::private_key_from_pem(&read(key)?)?;
        Ok(ClientAssertion::new(&cert, key, client_id, token_url)?)
    }

    /// Switches to RS256 with an `x5t` (SHA-1) header.
    pub fn rs256(mut self, cert: &X509) -> Result<ClientAssertion, ErrorStack> {
        let sha1 = URL_SAFE_NO_PAD.encode(cert.digest(MessageDigest::sha1())?);
        self.header = json!({"alg": "RS256", "typ": "JWT", "x5t": sha1});
        self.alg = AssertionAlg::Rs256;
        Ok(self)
    }

    /// Adds the certificate as `x5c` (subject-name/issuer authentication).
    pub fn with_x5c(mut self, cert: &X509) -> Result<ClientAssertion, ErrorStack> {
        self.header["x5c"] = json!([STANDARD.encode(cert.to_der()?)]);
        Ok(self)
    }

    /// Signs header and claims.
    pub fn sign(&self) -> Result<String, ErrorStack> {
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(self.header.to_string()),
            URL_SAFE_NO_PAD.encode(self.claims.to_string())
        );
        let mut signer = Signer::new(MessageDigest::sha256(), &self.key)?;
        if self.alg == AssertionAlg::Ps256 {
            signer.set_rsa_padding(Padding::PKCS1_PSS)?;
            signer.set_rsa_pss_saltlen(RsaPssSaltlen::DIGEST_LENGTH)?;
            signer.set_rsa_mgf1_md(MessageDigest::sha256())?;
        }
        signer.update(input.as_bytes())?;
        Ok(format!(
            "{input}.{}",
            URL_SAFE_NO_PAD.encode(signer.sign_to_vec()?)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jwt::Jwt;

    #[test]
    fn both_forms_verify_with_the_certificate_key() {
        let pair = crate::pki::self_signed_client("app", 2048, 10).unwrap();
        let ps =
            ClientAssertion::new(&pair.cert, pair.key.clone(), "id", "https://x/token").unwrap();
        let jwt = Jwt::parse(&ps.sign().unwrap()).unwrap();
        assert_eq!(jwt.alg(), "PS256");
        assert!(jwt.verify(&pair.cert.public_key().unwrap()));
        let rs = ps.rs256(&pair.cert).unwrap().with_x5c(&pair.cert).unwrap();
        let jwt = Jwt::parse(&rs.sign().unwrap()).unwrap();
        assert_eq!(jwt.alg(), "RS256");
        assert!(jwt.header.contains_key("x5t") && jwt.header.contains_key("x5c"));
        assert!(jwt.verify(&pair.cert.public_key().unwrap()));
    }
}
