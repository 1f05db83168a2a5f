use chrono::{TimeDelta, Utc};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::rsa::Rsa;
use openssl::symm::Cipher;

use super::super::testkit::*;
use super::*;

const TRIPLE_DES: (Nid, Nid) = (
    Nid::PBE_WITHSHA1AND3_KEY_TRIPLEDES_CBC,
    Nid::PBE_WITHSHA1AND3_KEY_TRIPLEDES_CBC,
);
const RC2_40: (Nid, Nid) = (
    Nid::PBE_WITHSHA1AND3_KEY_TRIPLEDES_CBC,
    Nid::PBE_WITHSHA1AND40BITRC2_CBC,
);

/// What a failing case must fail with.
type Expectation = fn(&CertError) -> bool;

fn secret(s: &str) -> Secret {
    Secret::new(s)
}

/// Builds a PFX in each format, loads it with the right password and a wrong one.
fn pfx_round_trip(legacy: Option<(Nid, Nid)>) -> TestResult {
    if legacy == Some(RC2_40) {
        assert!(
            ensure_legacy_provider(),
            "the legacy provider is needed to build an RC2-40 PFX"
        );
    }
    let key = shared_key();
    let x509 = valid_cert(&key, "exorun-test");
    let bytes = pfx_bytes(&x509, &key, "s3cret", legacy);

    let cert = Certificate::from_pfx(&bytes, &secret("s3cret"), "test.pfx")?;
    let expected: String = x509
        .digest(MessageDigest::sha1())?
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect();
    assert_eq!(cert.thumbprint_sha1_hex(), expected);
    assert_eq!(cert.subject(), "CN=exorun-test");
    assert_eq!(cert.key_bits(), 2048);
    assert_eq!(cert.der(), x509.to_der()?);
    assert!(cert.cert_pem().starts_with("-----BEGIN CERTIFICATE-----"));
    assert!(cert.not_before() < Utc::now() && Utc::now() < cert.not_after());
    cert.check(Utc::now())?;

    let wrong = Certificate::from_pfx(&bytes, &secret("guess"), "test.pfx");
    match wrong {
        Err(error @ CertError::WrongPassword { .. }) => {
            let message = error.to_string();
            assert!(
                message.contains("password for test.pfx is wrong"),
                "{message}"
            );
            assert!(
                message.contains("AZURE_CLIENT_CERTIFICATE_PASSWORD"),
                "{message}"
            );
        }
        other => panic!("expected WrongPassword, got {other:?}"),
    }
    Ok(())
}

#[test]
fn pfx_modern_loads_and_rejects_wrong_password() -> TestResult {
    pfx_round_trip(None)
}

#[test]
fn pfx_triple_des_loads_and_rejects_wrong_password() -> TestResult {
    pfx_round_trip(Some(TRIPLE_DES))
}

#[test]
fn pfx_legacy_rc2_loads_and_rejects_wrong_password() -> TestResult {
    pfx_round_trip(Some(RC2_40))
}

#[test]
fn pfx_without_password_opens_with_empty_password() -> TestResult {
    let key = shared_key();
    let bytes = pfx_bytes(&valid_cert(&key, "nopass"), &key, "", None);
    Certificate::from_pfx(&bytes, &secret(""), "nopass.pfx")?;
    Ok(())
}

#[test]
fn pfx_certificate_without_key_id_is_still_paired_with_its_key() -> TestResult {
    let key = shared_key();
    let x509 = valid_cert(&key, "no-key-id");
    let mut others = openssl::stack::Stack::new()?;
    others.push(valid_cert(&rsa_key(2048), "some-ca"))?;
    others.push(x509)?;
    // Given as "CA" certificates, neither gets a localKeyID; OpenSSL pairs by public key.
    let bytes = Pkcs12::builder()
        .pkey(&key)
        .ca(others)
        .build2("pw")?
        .to_der()?;
    let cert = Certificate::from_pfx(&bytes, &secret("pw"), "no-key-id.pfx")?;
    assert_eq!(cert.subject(), "CN=no-key-id");
    Ok(())
}

#[test]
fn pfx_without_private_key_is_refused() -> TestResult {
    let key = shared_key();
    let x509 = valid_cert(&key, "cert-only");
    let bytes = Pkcs12::builder().cert(&x509).build2("pw")?.to_der()?;
    let result = Certificate::from_pfx(&bytes, &secret("pw"), "cert-only.pfx");
    assert!(
        matches!(result, Err(CertError::NoPrivateKey { .. })),
        "{result:?}"
    );
    Ok(())
}

#[test]
fn garbage_is_not_pkcs12() {
    let result = Certificate::from_pfx(b"this is not a pfx", &secret("pw"), "junk.pfx");
    assert!(
        matches!(&result, Err(CertError::NotPkcs12 { origin }) if origin == "junk.pfx"),
        "{result:?}"
    );
}

#[test]
fn nul_in_password_is_an_error_not_a_panic() {
    let key = shared_key();
    let bytes = pfx_bytes(&valid_cert(&key, "nul"), &key, "pw", None);
    let result = Certificate::from_pfx(&bytes, &secret("p\0w"), "nul.pfx");
    assert!(
        matches!(result, Err(CertError::PasswordNotUsable { .. })),
        "{result:?}"
    );
}

#[test]
fn pem_with_pkcs8_and_traditional_keys_loads() -> TestResult {
    let key = shared_key();
    let cert = cert_pem(&valid_cert(&key, "pem"));
    for key_pem in [pkcs8_pem(&key), rsa_pem(&key)] {
        let loaded = Certificate::from_pem(&cert, &key_pem, None, "cert.pem")?;
        assert_eq!(loaded.subject(), "CN=pem");
    }
    Ok(())
}

#[test]
fn encrypted_pkcs8_needs_the_right_password() -> TestResult {
    let key = shared_key();
    let cert = cert_pem(&valid_cert(&key, "enc"));
    let key_pem = encrypted_pkcs8_pem(&key, "hunter2");
    assert!(String::from_utf8_lossy(&key_pem).contains("ENCRYPTED PRIVATE KEY"));

    Certificate::from_pem(&cert, &key_pem, Some(&secret("hunter2")), "enc")?;
    let missing = Certificate::from_pem(&cert, &key_pem, None, "enc");
    assert!(
        matches!(missing, Err(CertError::KeyNeedsPassword { .. })),
        "{missing:?}"
    );
    let wrong = Certificate::from_pem(&cert, &key_pem, Some(&secret("hunter3")), "enc");
    assert!(
        matches!(wrong, Err(CertError::WrongPassword { .. })),
        "{wrong:?}"
    );
    Ok(())
}

#[test]
fn encrypted_traditional_rsa_key_needs_a_password() -> TestResult {
    let key = shared_key();
    let cert = cert_pem(&valid_cert(&key, "enc-rsa"));
    let key_pem = key
        .rsa()?
        .private_key_to_pem_passphrase(Cipher::aes_128_cbc(), b"pw")?;
    let missing = Certificate::from_pem(&cert, &key_pem, None, "enc-rsa");
    assert!(
        matches!(missing, Err(CertError::KeyNeedsPassword { .. })),
        "{missing:?}"
    );
    Certificate::from_pem(&cert, &key_pem, Some(&secret("pw")), "enc-rsa")?;
    Ok(())
}

#[test]
fn combined_pem_finds_key_and_matching_certificate_in_any_order() -> TestResult {
    let key = shared_key();
    let other = valid_cert(&rsa_key(2048), "some-ca");
    let leaf = valid_cert(&key, "leaf");
    let bytes = [pkcs8_pem(&key), cert_pem(&other), cert_pem(&leaf)].concat();
    let loaded = Certificate::from_pem_file_contents(&bytes, None, "bundle.pem")?;
    assert_eq!(loaded.subject(), "CN=leaf");
    Ok(())
}

#[test]
fn pem_without_key_or_certificate_says_which() {
    let key = shared_key();
    let cert = cert_pem(&valid_cert(&key, "lonely"));
    let no_key = Certificate::from_pem_file_contents(&cert, None, "lonely.pem");
    assert!(
        matches!(no_key, Err(CertError::NoPrivateKey { .. })),
        "{no_key:?}"
    );
    let no_cert = Certificate::from_pem_file_contents(&pkcs8_pem(&key), None, "key.pem");
    assert!(
        matches!(no_cert, Err(CertError::NoCertificate { .. })),
        "{no_cert:?}"
    );
}

#[test]
fn ec_key_is_refused_with_advice() {
    let key = ec_key();
    let cert = cert_pem(&valid_cert(&key, "ec"));
    let result = Certificate::from_pem(&cert, &pkcs8_pem(&key), None, "ec.pem");
    match result {
        Err(error @ CertError::UnsupportedKey { .. }) => {
            let message = error.to_string();
            assert!(message.contains("uses an EC key"), "{message}");
            assert!(message.contains("at least 2048 bits"), "{message}");
            assert!(message.contains("exorun cert new"), "{message}");
        }
        other => panic!("expected UnsupportedKey, got {other:?}"),
    }
    let pfx = pfx_bytes(&valid_cert(&key, "ec"), &key, "pw", None);
    let result = Certificate::from_pfx(&pfx, &secret("pw"), "ec.pfx");
    assert!(
        matches!(&result, Err(CertError::UnsupportedKey { kind, .. }) if kind == "EC"),
        "{result:?}"
    );
}

#[test]
fn rsa_1024_is_refused() -> TestResult {
    let key = PKey::from_rsa(Rsa::generate(1024)?)?;
    let cert = cert_pem(&valid_cert(&key, "small"));
    let result = Certificate::from_pem(&cert, &pkcs8_pem(&key), None, "small.pem");
    match result {
        Err(error @ CertError::KeyTooSmall { bits: 1024, .. }) => {
            assert!(error.to_string().contains("1024-bit"))
        }
        other => panic!("expected KeyTooSmall, got {other:?}"),
    }
    Ok(())
}

#[test]
fn key_from_another_certificate_is_a_mismatch() {
    let cert = cert_pem(&valid_cert(&shared_key(), "mine"));
    let result = Certificate::from_pem(&cert, &pkcs8_pem(&rsa_key(2048)), None, "mixed");
    assert!(
        matches!(result, Err(CertError::KeyMismatch { .. })),
        "{result:?}"
    );
}

#[test]
fn expired_and_not_yet_valid_certificates_fail_check() -> TestResult {
    let key = shared_key();
    let key_pem = pkcs8_pem(&key);
    let expired = Certificate::from_pem(
        &cert_pem(&cert_between(&key, "old", -30, -1)),
        &key_pem,
        None,
        "old",
    )?;
    match expired.check(Utc::now()) {
        Err(error @ CertError::Expired { .. }) => {
            let message = error.to_string();
            assert!(
                message.contains(&expired.not_after().to_string()),
                "{message}"
            );
            assert!(message.contains("create a new certificate"), "{message}");
            assert!(
                message.contains(&expired.thumbprint_sha1_hex()),
                "{message}"
            );
        }
        other => panic!("expected Expired, got {other:?}"),
    }
    let future = Certificate::from_pem(
        &cert_pem(&cert_between(&key, "new", 2, 30)),
        &key_pem,
        None,
        "new",
    )?;
    match future.check(Utc::now()) {
        Err(error @ CertError::NotYetValid { .. }) => {
            let message = error.to_string();
            assert!(
                message.contains(&future.not_before().to_string()),
                "{message}"
            );
            assert!(message.contains("clock"), "{message}");
        }
        other => panic!("expected NotYetValid, got {other:?}"),
    }
    future.check(Utc::now() + TimeDelta::days(3))?;
    Ok(())
}

#[test]
fn debug_shows_identity_but_no_key_material() -> TestResult {
    let key = shared_key();
    let cert = Certificate::from_pem(
        &cert_pem(&valid_cert(&key, "debug")),
        &pkcs8_pem(&key),
        None,
        "debug",
    )?;
    let debug = format!("{cert:?}");
    assert!(
        debug.contains("CN=debug") && debug.contains(&cert.thumbprint_sha1_hex()),
        "{debug}"
    );
    assert!(!debug.contains("PRIVATE KEY"), "{debug}");
    let rsa = key.rsa()?;
    let secret_exponent = rsa.d().to_hex_str()?.to_string();
    for piece in [
        &secret_exponent[..16],
        &rsa.d().to_dec_str()?.to_string()[..16],
    ] {
        assert!(
            !debug
                .to_ascii_uppercase()
                .contains(&piece.to_ascii_uppercase()),
            "{debug}"
        );
    }
    let pem = String::from_utf8(pkcs8_pem(&key))?;
    let body_line = pem.lines().nth(2).unwrap_or_default();
    assert!(
        !body_line.is_empty() && !debug.contains(body_line),
        "{debug}"
    );
    Ok(())
}

#[test]
fn from_path_sniffs_content_not_names() -> TestResult {
    let dir = tempfile::tempdir()?;
    let key = shared_key();
    let x509 = valid_cert(&key, "sniff");
    let pfx = pfx_bytes(&x509, &key, "pw", None);
    let write = |name: &str, bytes: &[u8]| -> std::io::Result<std::path::PathBuf> {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes)?;
        Ok(path)
    };

    Certificate::from_path(&write("a.pfx", &pfx)?, Some(&secret("pw")))?;
    Certificate::from_path(&write("a.bin", &pfx)?, Some(&secret("pw")))?;
    Certificate::from_path(
        &write("kv.txt", STANDARD.encode(&pfx).as_bytes())?,
        Some(&secret("pw")),
    )?;
    let combined = [cert_pem(&x509), pkcs8_pem(&key)].concat();
    Certificate::from_path(&write("both.pem", &combined)?, None)?;

    let cases: [(&str, Vec<u8>, Expectation); 4] = [
        ("cert-only.pem", cert_pem(&x509), |e| {
            matches!(e, CertError::NoPrivateKey { .. })
        }),
        ("upload.cer", x509.to_der()?, |e| {
            matches!(e, CertError::NoPrivateKey { .. })
        }),
        ("broken.pfx", b"\x01\x02 junk".to_vec(), |e| {
            matches!(e, CertError::NotPkcs12 { .. })
        }),
        ("notes.txt", b"\x01\x02 junk".to_vec(), |e| {
            matches!(e, CertError::UnknownFormat { .. })
        }),
    ];
    for (name, bytes, expected) in cases {
        let result = Certificate::from_path(&write(name, &bytes)?, None);
        assert!(result.as_ref().is_err_and(expected), "{name}: {result:?}");
    }
    let missing = Certificate::from_path(&dir.path().join("missing.pfx"), None);
    assert!(
        matches!(missing, Err(CertError::Read { .. })),
        "{missing:?}"
    );
    Ok(())
}

#[test]
fn pem_blocks_are_found_with_labels() {
    let text =
        b"junk\n-----BEGIN A B-----\nxx\n-----END A B-----\n-----BEGIN C-----\ny\n-----END C-----";
    let labels: Vec<String> = pem_blocks(text).into_iter().map(|b| b.label).collect();
    assert_eq!(labels, ["A B", "C"]);
    assert!(pem_blocks(b"-----BEGIN X-----\nnever ends").is_empty());
}
