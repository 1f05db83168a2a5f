use openssl::sign::Verifier;
use openssl::x509::X509;
use serde_json::Value;

use super::super::testkit::*;
use super::*;

const CLIENT_ID: &str = "11111111-2222-3333-4444-555555555555";
const TOKEN_URL: &str =
    "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token";

fn test_cert() -> Certificate {
    let key = shared_key();
    Certificate::from_pem(
        &cert_pem(&valid_cert(&key, "jwt")),
        &pkcs8_pem(&key),
        None,
        "jwt",
    )
    .expect("test cert")
}

/// A compact JWS taken apart.
struct Decoded {
    header: Value,
    claims: Value,
    /// `header.claims` as signed.
    input: String,
    signature: Vec<u8>,
}

/// Splits a compact JWS into header, claims, signing input and signature.
fn decode(jwt: &str) -> Result<Decoded, Box<dyn std::error::Error>> {
    let parts: Vec<&str> = jwt.split('.').collect();
    assert_eq!(parts.len(), 3, "{jwt}");
    let header = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0])?)?;
    let claims = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1])?)?;
    Ok(Decoded {
        header,
        claims,
        input: format!("{}.{}", parts[0], parts[1]),
        signature: URL_SAFE_NO_PAD.decode(parts[2])?,
    })
}

/// Verifies the signature with the public key taken from the certificate DER, as Entra ID would.
fn verifies(
    cert: &Certificate,
    alg: AssertionAlg,
    input: &str,
    signature: &[u8],
) -> Result<bool, openssl::error::ErrorStack> {
    let public = X509::from_der(&cert.der())?.public_key()?;
    let mut verifier = Verifier::new(MessageDigest::sha256(), &public)?;
    if alg == AssertionAlg::Ps256 {
        verifier.set_rsa_padding(Padding::PKCS1_PSS)?;
        verifier.set_rsa_pss_saltlen(RsaPssSaltlen::DIGEST_LENGTH)?;
        verifier.set_rsa_mgf1_md(MessageDigest::sha256())?;
    }
    verifier.update(input.as_bytes())?;
    verifier.verify(signature)
}

#[test]
fn ps256_assertion_has_the_right_header_claims_and_signature() -> TestResult {
    let cert = test_cert();
    let now = Utc::now();
    let jwt = client_assertion(&cert, CLIENT_ID, TOKEN_URL, AssertionAlg::Ps256, true, now)?;
    let Decoded {
        header,
        claims,
        input,
        signature,
    } = decode(jwt.expose())?;

    assert_eq!(header["alg"], "PS256");
    assert_eq!(header["typ"], "JWT");
    assert_eq!(header["x5t#S256"], cert.x5t_s256());
    assert!(header.get("x5t").is_none(), "{header}");
    assert_eq!(
        header["x5c"],
        serde_json::json!([STANDARD.encode(cert.der())])
    );

    assert_eq!(claims["aud"], TOKEN_URL);
    assert_eq!(claims["iss"], CLIENT_ID);
    assert_eq!(claims["sub"], CLIENT_ID);
    assert_eq!(claims["nbf"], now.timestamp());
    assert_eq!(claims["iat"], now.timestamp());
    assert_eq!(claims["exp"], now.timestamp() + 600);
    assert!(claims["exp"].is_i64(), "exp must be an integer: {claims}");
    let jti = uuid::Uuid::parse_str(claims["jti"].as_str().unwrap_or_default())?;
    assert_eq!(jti.get_version_num(), 4);

    assert_eq!(signature.len(), 256);
    assert!(verifies(&cert, AssertionAlg::Ps256, &input, &signature)?);
    assert!(
        !verifies(&cert, AssertionAlg::Rs256, &input, &signature)?,
        "PS256 must use PSS padding"
    );
    Ok(())
}

#[test]
fn rs256_assertion_uses_sha1_thumbprint_and_pkcs1_signature() -> TestResult {
    let cert = test_cert();
    let jwt = client_assertion(
        &cert,
        CLIENT_ID,
        TOKEN_URL,
        AssertionAlg::Rs256,
        false,
        Utc::now(),
    )?;
    let Decoded {
        header,
        claims,
        input,
        signature,
    } = decode(jwt.expose())?;
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["x5t"], cert.x5t());
    assert!(
        header.get("x5t#S256").is_none() && header.get("x5c").is_none(),
        "{header}"
    );
    assert_eq!(claims["aud"], TOKEN_URL);
    assert!(verifies(&cert, AssertionAlg::Rs256, &input, &signature)?);
    Ok(())
}

#[test]
fn thumbprint_headers_are_digests_of_the_der() -> TestResult {
    let cert = test_cert();
    let x509 = X509::from_der(&cert.der())?;
    assert_eq!(
        URL_SAFE_NO_PAD.decode(cert.x5t())?,
        x509.digest(MessageDigest::sha1())?.to_vec()
    );
    assert_eq!(
        URL_SAFE_NO_PAD.decode(cert.x5t_s256())?,
        x509.digest(MessageDigest::sha256())?.to_vec()
    );
    assert!(!cert.x5t().contains('='));
    Ok(())
}

#[test]
fn every_assertion_has_a_fresh_jti() -> TestResult {
    let cert = test_cert();
    let now = Utc::now();
    let first = client_assertion(
        &cert,
        CLIENT_ID,
        TOKEN_URL,
        AssertionAlg::default(),
        false,
        now,
    )?;
    let second = client_assertion(
        &cert,
        CLIENT_ID,
        TOKEN_URL,
        AssertionAlg::default(),
        false,
        now,
    )?;
    let first = decode(first.expose())?.claims;
    let second = decode(second.expose())?.claims;
    assert_ne!(first["jti"], second["jti"]);
    Ok(())
}

#[test]
fn expired_certificate_signs_nothing() {
    let cert = test_cert();
    let later = cert.not_after() + TimeDelta::seconds(1);
    let result = client_assertion(
        &cert,
        CLIENT_ID,
        TOKEN_URL,
        AssertionAlg::Ps256,
        false,
        later,
    );
    assert!(matches!(result, Err(CertError::Expired { .. })));
}

#[test]
fn default_algorithm_is_ps256() {
    assert_eq!(AssertionAlg::default(), AssertionAlg::Ps256);
    assert_eq!(AssertionAlg::default().jws_name(), "PS256");
}
