//! A compact JWS, read strictly: three unpadded base64url parts, a JSON object header naming
//! `alg` and `kid`, a JSON object of claims, and an RS256 signature checked with OpenSSL. The
//! algorithm is decided here, by us: a token saying anything but RS256 is refused before any
//! key is looked at, so a token can never choose how it is checked (`none`, or HS256 keyed with
//! the public key's bytes).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Public};
use openssl::sign::Verifier;
use serde_json::{Map, Value};

use super::refusal::{Shown, TokenRefusal};

/// The longest token read (an Entra token with 200 group ids is ~10 KB).
const MAX_TOKEN_BYTES: usize = 64 * 1024;

/// A token whose header allows RS256 checking; the signature is not yet checked. Deliberately
/// without `Debug`: it holds the signature.
pub(crate) struct SignedToken<'a> {
    /// The header's `kid`.
    pub kid: String,
    /// The claims, not to be trusted before [`SignedToken::verify`].
    pub claims: Map<String, Value>,
    signing_input: &'a str,
    signature: Vec<u8>,
}

fn malformed(problem: &'static str) -> TokenRefusal {
    TokenRefusal::Malformed { problem }
}

fn object(part: &str, what: &'static str) -> Result<Map<String, Value>, TokenRefusal> {
    let bytes = URL_SAFE_NO_PAD.decode(part).map_err(|_| malformed(what))?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(malformed(what)),
    }
}

impl<'a> SignedToken<'a> {
    /// Reads `token`: its shape, then its header (RS256 only, a `kid`, no `crit`), then its
    /// claims.
    pub fn parse(token: &'a str) -> Result<SignedToken<'a>, TokenRefusal> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(malformed("longer than 64 KB"));
        }
        let mut parts = token.split('.');
        let (Some(header), Some(claims), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(malformed("not three parts separated by dots"));
        };
        let header = object(header, "its header is not base64url-encoded JSON")?;
        let alg = header
            .get("alg")
            .and_then(Value::as_str)
            .ok_or_else(|| malformed("its header names no algorithm"))?;
        if alg != "RS256" {
            return Err(TokenRefusal::Algorithm {
                alg: Shown::new(alg),
            });
        }
        if header.contains_key("crit") {
            return Err(malformed(
                "its header has critical extensions (crit) this service does not know",
            ));
        }
        let kid = header
            .get("kid")
            .and_then(Value::as_str)
            .filter(|k| !k.is_empty())
            .ok_or(TokenRefusal::NoKeyId)?
            .to_string();
        let claims_json = object(claims, "its claims are not base64url-encoded JSON")?;
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| malformed("its signature is not base64url"))?;
        if signature.is_empty() {
            return Err(malformed("it has no signature"));
        }
        // Exactly two dots: the signing input is everything before the second.
        let signing_input = &token[..token.rfind('.').unwrap_or(0)];
        Ok(SignedToken {
            kid,
            claims: claims_json,
            signing_input,
            signature,
        })
    }

    /// Checks the RS256 signature (RSASSA-PKCS1-v1_5 with SHA-256) with `key`.
    pub fn verify(&self, key: &PKey<Public>) -> Result<(), TokenRefusal> {
        let check = || -> Result<bool, openssl::error::ErrorStack> {
            let mut verifier = Verifier::new(MessageDigest::sha256(), key)?;
            verifier.update(self.signing_input.as_bytes())?;
            verifier.verify(&self.signature)
        };
        match check() {
            Ok(true) => Ok(()),
            // A signature of the wrong length is an OpenSSL error, and as forged as any other.
            _ => Err(TokenRefusal::Signature {
                kid: Shown::new(&self.kid),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::rsa::Rsa;
    use openssl::sign::Signer;
    use serde_json::json;

    fn b64(value: &Value) -> String {
        URL_SAFE_NO_PAD.encode(value.to_string())
    }

    fn refused(token: &str) -> String {
        match SignedToken::parse(token) {
            Ok(_) => panic!("{token} was read"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn only_rs256_with_a_kid_is_read() {
        let claims = b64(&json!({"sub": "x"}));
        for alg in ["none", "HS256", "RS384", "PS256", "ES256", "rs256"] {
            let token = format!("{}.{claims}.", b64(&json!({"alg": alg, "kid": "k"})));
            assert_eq!(
                refused(&token),
                format!("the token is signed with algorithm '{alg}': only RS256 is accepted")
            );
        }
        let token = format!("{}.{claims}.AAAA", b64(&json!({"alg": "RS256"})));
        assert!(refused(&token).starts_with("the token's header names no signing key (kid)"));
        let token = format!(
            "{}.{claims}.AAAA",
            b64(&json!({"alg": "RS256", "kid": "k", "crit": ["b64"]}))
        );
        assert!(refused(&token).contains("critical extensions"));
        let token = format!("{}.{claims}.", b64(&json!({"alg": "RS256", "kid": "k"})));
        assert!(refused(&token).contains("(it has no signature)"));
    }

    #[test]
    fn a_malformed_token_says_which_part_is_wrong() {
        assert_eq!(
            refused("abc"),
            "the bearer token is not a JWT (not three parts separated by dots): send the access token Entra ID issued for this service, as `Authorization: Bearer <token>`"
        );
        assert!(refused("a.b.c.d").contains("not three parts"));
        assert!(refused("!!.e30.AA").contains("its header is not base64url-encoded JSON"));
        let header = b64(&json!({"alg": "RS256", "kid": "k"}));
        assert!(refused(&format!("{header}.WzFd.AA")).contains("its claims are not"));
        assert!(refused(&format!("{header}.e30.A=")).contains("its signature is not base64url"));
        assert!(refused(&"a".repeat(70_000)).contains("longer than 64 KB"));
    }

    #[test]
    fn the_signature_covers_header_and_claims() {
        let rsa = Rsa::generate(2048).unwrap();
        let private = PKey::from_rsa(rsa.clone()).unwrap();
        let public = PKey::from_rsa(
            Rsa::from_public_components(rsa.n().to_owned().unwrap(), rsa.e().to_owned().unwrap())
                .unwrap(),
        )
        .unwrap();
        let input = format!(
            "{}.{}",
            b64(&json!({"alg": "RS256", "kid": "k1"})),
            b64(&json!({"upn": "ann@contoso.com"}))
        );
        let mut signer = Signer::new(MessageDigest::sha256(), &private).unwrap();
        signer.update(input.as_bytes()).unwrap();
        let signature = URL_SAFE_NO_PAD.encode(signer.sign_to_vec().unwrap());
        let token = format!("{input}.{signature}");
        let read = SignedToken::parse(&token).unwrap();
        assert_eq!(read.kid, "k1");
        assert_eq!(read.claims["upn"], "ann@contoso.com");
        read.verify(&public).unwrap();
        let forged_claims = format!(
            "{}.{}.{signature}",
            b64(&json!({"alg": "RS256", "kid": "k1"})),
            b64(&json!({"upn": "bob@contoso.com"}))
        );
        assert_eq!(
            SignedToken::parse(&forged_claims)
                .unwrap()
                .verify(&public)
                .unwrap_err()
                .to_string(),
            "the token's signature does not verify with the tenant's key 'k1': the token was altered after it was issued, or forged; get a new token from Entra ID"
        );
        let short = format!("{input}.{}", &signature[..20]);
        assert!(SignedToken::parse(&short).unwrap().verify(&public).is_err());
    }
}
