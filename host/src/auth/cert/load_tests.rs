use chrono::{TimeDelta, Utc};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::rsa::Rsa;
use openssl::symm::Cipher;

use super::super::testkit::*;
use super::*;
use crate::auth::cert::PasswordSource;
use crate::secret::{Secret, SecretSource};

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

    let cert = Certificate::from_pfx(&bytes, Some(&password("s3cret")), "test.pfx")?;
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

    let wrong = Certificate::from_pfx(&bytes, Some(&password("guess")), "test.pfx");
    match wrong {
        Err(error @ CertError::WrongPassword { .. }) => {
            let message = error.to_string();
            assert!(
                message.starts_with(
                    "the password given by the calling program is wrong for test.pfx: the file's \
                     integrity check (MAC) fails with it\n  fix: pass the password of test.pfx"
                ),
                "{message}"
            );
            assert!(!message.contains("guess"), "{message}");
        }
        other => panic!("expected WrongPassword, got {other:?}"),
    }
    let missing = Certificate::from_pfx(&bytes, None, "test.pfx");
    assert!(
        matches!(
            missing,
            Err(CertError::NeedsPassword {
                protected: Protected::Pkcs12File,
                ..
            })
        ),
        "{missing:?}"
    );
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
    Certificate::from_pfx(&bytes, None, "nopass.pfx")?;
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
    let cert = Certificate::from_pfx(&bytes, Some(&password("pw")), "no-key-id.pfx")?;
    assert_eq!(cert.subject(), "CN=no-key-id");
    Ok(())
}

#[test]
fn pfx_without_private_key_is_refused() -> TestResult {
    let key = shared_key();
    let x509 = valid_cert(&key, "cert-only");
    let bytes = Pkcs12::builder().cert(&x509).build2("pw")?.to_der()?;
    let result = Certificate::from_pfx(&bytes, Some(&password("pw")), "cert-only.pfx");
    assert!(
        matches!(result, Err(CertError::NoPrivateKey { .. })),
        "{result:?}"
    );
    Ok(())
}

#[test]
fn garbage_is_not_pkcs12() {
    let result = Certificate::from_pfx(b"this is not a pfx", Some(&password("pw")), "junk.pfx");
    assert!(
        matches!(&result, Err(CertError::NotPkcs12 { origin, content: ContentKind::Text }) if origin == "junk.pfx"),
        "{result:?}"
    );
}

#[test]
fn nul_in_password_is_an_error_not_a_panic() {
    let key = shared_key();
    let bytes = pfx_bytes(&valid_cert(&key, "nul"), &key, "pw", None);
    let result = Certificate::from_pfx(&bytes, Some(&password("p\0w")), "nul.pfx");
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

    Certificate::from_pem(&cert, &key_pem, Some(&password("hunter2")), "enc")?;
    let missing = Certificate::from_pem(&cert, &key_pem, None, "enc");
    assert!(
        matches!(
            missing,
            Err(CertError::NeedsPassword {
                protected: Protected::PrivateKey,
                ..
            })
        ),
        "{missing:?}"
    );
    let wrong = Certificate::from_pem(&cert, &key_pem, Some(&password("hunter3")), "enc");
    assert!(
        matches!(
            wrong,
            Err(CertError::WrongPassword {
                protected: Protected::PrivateKey,
                password: PasswordSource::Given,
                ..
            })
        ),
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
        matches!(missing, Err(CertError::NeedsPassword { .. })),
        "{missing:?}"
    );
    Certificate::from_pem(&cert, &key_pem, Some(&password("pw")), "enc-rsa")?;
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
    let result = Certificate::from_pfx(&pfx, Some(&password("pw")), "ec.pfx");
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
        matches!(&result, Err(CertError::KeyMismatch { cert_origin, key_origin }) if cert_origin == "mixed" && key_origin == "mixed"),
        "{result:?}"
    );
    let message = result.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(
        message.starts_with(
            "the private key in mixed does not belong to the certificate in the same file"
        ),
        "{message}"
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

    Certificate::from_path(&write("a.pfx", &pfx)?, Some(&password("pw")))?;
    Certificate::from_path(&write("a.bin", &pfx)?, Some(&password("pw")))?;
    Certificate::from_path(
        &write("kv.txt", STANDARD.encode(&pfx).as_bytes())?,
        Some(&password("pw")),
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

/// A scratch directory with files written into it.
struct Scratch(tempfile::TempDir);

impl Scratch {
    fn new() -> Scratch {
        Scratch(tempfile::tempdir().expect("a scratch directory"))
    }

    fn write(&self, name: &str, bytes: &[u8]) -> std::path::PathBuf {
        let path = self.0.path().join(name);
        std::fs::write(&path, bytes).expect("writing a scratch file");
        path
    }
}

/// The message of a failed load, for checking its text.
fn refusal(result: Result<Certificate, CertError>) -> String {
    match result {
        Ok(cert) => panic!("expected an error, loaded {cert:?}"),
        Err(error) => error.to_string(),
    }
}

#[test]
fn a_protected_pfx_with_no_password_says_so_and_how_to_give_one() {
    let dir = Scratch::new();
    let key = shared_key();
    let pfx = dir.write(
        "app.pfx",
        &pfx_bytes(&valid_cert(&key, "locked"), &key, "s3cret", None),
    );
    let result = Certificate::from_path(&pfx, None);
    assert!(
        matches!(
            &result,
            Err(CertError::NeedsPassword { origin, protected: Protected::Pkcs12File })
                if *origin == pfx.display().to_string()
        ),
        "{result:?}"
    );
    let message = refusal(result);
    assert!(
        message.starts_with(&format!(
            "{} is password-protected and no password was given\n  fix: ",
            pfx.display()
        )),
        "{message}"
    );
    for way in [
        "--certificate-password-file FILE",
        "--certificate-password-env VAR",
        "--prompt-password",
        "certificate_password_file",
        "AZURE_CLIENT_CERTIFICATE_PASSWORD",
    ] {
        assert!(message.contains(way), "{way}: {message}");
    }
    assert!(!message.contains("wrong"), "{message}");
}

#[test]
fn an_encrypted_key_with_no_password_says_so_and_how_to_give_one() {
    let dir = Scratch::new();
    let key = shared_key();
    let cert = dir.write("app.pem", &cert_pem(&valid_cert(&key, "enc")));
    let key_file = dir.write("app.key", &encrypted_pkcs8_pem(&key, "s3cret"));
    let message = refusal(Certificate::from_pem_files(&cert, &key_file, None));
    assert!(
        message.starts_with(&format!(
            "the private key in {} is encrypted and no password was given\n  fix: give the password with \
             --certificate-password-file FILE",
            key_file.display()
        )),
        "{message}"
    );
}

#[test]
fn a_wrong_password_names_where_it_came_from_never_the_password() -> TestResult {
    let dir = Scratch::new();
    let key = shared_key();
    let x509 = valid_cert(&key, "wrong");
    let pfx = dir.write("app.pfx", &pfx_bytes(&x509, &key, "s3cret", None));
    let cert = dir.write("app.pem", &cert_pem(&x509));
    let key_file = dir.write("app.key", &encrypted_pkcs8_pem(&key, "s3cret"));
    let wrong = "Wrong-Password-9471";
    let password_file = dir.write("app.pw", format!("{wrong}\n").as_bytes());

    let from_file = Password::read(&SecretSource::File(password_file.clone()))?;
    let message = refusal(Certificate::from_path(&pfx, Some(&from_file)));
    assert!(
        message.starts_with(&format!(
            "the password from the file {} is wrong for {}",
            password_file.display(),
            pfx.display()
        )),
        "{message}"
    );
    assert!(
        message.contains(&format!(
            "fix: check that the file {} holds the password of {}",
            password_file.display(),
            pfx.display()
        )),
        "{message}"
    );
    assert!(!message.contains(wrong), "{message}");

    let message = refusal(Certificate::from_pem_files(
        &cert,
        &key_file,
        Some(&from_file),
    ));
    assert!(
        message.starts_with(&format!(
            "the password from the file {} is wrong for the encrypted private key in {}",
            password_file.display(),
            key_file.display()
        )),
        "{message}"
    );
    assert!(!message.contains(wrong), "{message}");

    // PATH is set wherever tests run; its value stands in for a wrong password in a variable.
    let from_env = Password::read(&SecretSource::Env("PATH".into()))?;
    let message = refusal(Certificate::from_path(&pfx, Some(&from_env)));
    assert!(
        message.starts_with(&format!(
            "the password from the environment variable PATH is wrong for {}",
            pfx.display()
        )),
        "{message}"
    );
    assert!(
        message.contains("fix: check that the environment variable PATH holds the password"),
        "{message}"
    );
    assert!(!message.contains(from_env.expose()), "{message}");
    Ok(())
}

#[test]
fn a_key_from_another_certificate_names_both_files_and_how_to_compare() {
    let dir = Scratch::new();
    let cert = dir.write("cert.pem", &cert_pem(&valid_cert(&shared_key(), "mine")));
    let key = dir.write("other-key.pem", &pkcs8_pem(&rsa_key(2048)));
    let result = Certificate::from_pem_files(&cert, &key, None);
    assert!(
        matches!(
            &result,
            Err(CertError::KeyMismatch { cert_origin, key_origin })
                if *cert_origin == cert.display().to_string()
                    && *key_origin == key.display().to_string()
        ),
        "{result:?}"
    );
    let message = refusal(result);
    let (cert, key) = (cert.display(), key.display());
    assert_eq!(
        message,
        format!(
            "the private key in {key} does not belong to the certificate in {cert} (their public keys \
             differ)\n  fix: give the key that was made with this certificate; to compare, `openssl x509 \
             -noout -pubkey -in {cert}` and `openssl pkey -pubout -in {key}` print the same public key for \
             a matching pair"
        )
    );
}

#[test]
fn a_truncated_or_changed_pfx_is_called_damaged_not_something_else() {
    let dir = Scratch::new();
    let key = shared_key();
    let whole = pfx_bytes(&valid_cert(&key, "cut"), &key, "pw", None);
    let cut = dir.write("cut.pfx", &whole[..500]);
    let result = Certificate::from_path(&cut, Some(&password("pw")));
    assert!(
        matches!(
            result,
            Err(CertError::DamagedPkcs12 {
                damage: Damage::Truncated { size: 500, .. },
                ..
            })
        ),
        "{result:?}"
    );
    let message = refusal(result);
    assert_eq!(
        message,
        format!(
            "{} looks like a PKCS#12 (.pfx) file that is damaged or truncated: it has 500 bytes where its \
             header says {}\n  fix: export the certificate again with its private key, or copy the file \
             again in binary mode (a text-mode transfer, a clipboard or an interrupted download changes or \
             cuts the bytes)",
            cut.display(),
            whole.len()
        )
    );

    let named_otherwise = dir.write("cut.bin", &whole[..500]);
    let from_key_vault = dir.write("cut.txt", STANDARD.encode(&whole[..1200]).as_bytes());
    let mut changed = whole.clone();
    changed[7] = 0x05;
    let changed = dir.write("changed.p12", &changed);
    for path in [named_otherwise, from_key_vault, changed] {
        let result = Certificate::from_path(&path, None);
        assert!(
            matches!(result, Err(CertError::DamagedPkcs12 { .. })),
            "{}: {result:?}",
            path.display()
        );
    }
    let result = Certificate::from_pfx(&whole[..500], None, "bytes");
    assert!(
        matches!(result, Err(CertError::DamagedPkcs12 { .. })),
        "{result:?}"
    );
}

#[test]
fn what_is_not_pkcs12_at_all_says_what_it_is() -> TestResult {
    let dir = Scratch::new();
    let key = shared_key();
    let x509 = valid_cert(&key, "other");
    let cases: [(&str, Vec<u8>, ContentKind, &str); 3] = [
        (
            "empty.pfx",
            Vec::new(),
            ContentKind::Empty,
            "is empty (0 bytes)",
        ),
        (
            "notes.pfx",
            b"thumbprint: AB12\n".to_vec(),
            ContentKind::Text,
            "is text",
        ),
        (
            "random.pfx",
            vec![0x8f, 0x00, 0x13, 0x37, 0xff],
            ContentKind::Binary,
            "is binary data that is neither PKCS#12 nor a certificate",
        ),
    ];
    for (name, bytes, kind, says) in cases {
        let path = dir.write(name, &bytes);
        let result = Certificate::from_path(&path, None);
        assert!(
            matches!(&result, Err(CertError::NotPkcs12 { content, .. }) if *content == kind),
            "{name}: {result:?}"
        );
        let message = refusal(result);
        assert!(
            message.starts_with(&format!(
                "{} is not a PKCS#12 (.pfx/.p12) file: it {says}",
                path.display()
            )),
            "{message}"
        );
        assert!(!message.contains("damaged"), "{message}");
    }

    let pem = Certificate::from_pfx(&cert_pem(&x509), None, "cert.pem");
    let message = refusal(pem);
    assert!(
        message.starts_with("cert.pem is not a PKCS#12 (.pfx/.p12) file: it is PEM text\n  fix: give a PEM file as --certificate FILE"),
        "{message}"
    );
    assert!(
        message.contains("--certificate FILE --key KEYFILE"),
        "{message}"
    );

    let upload = dir.write("upload.pfx", &x509.to_der()?);
    let result = Certificate::from_path(&upload, None);
    assert!(
        matches!(result, Err(CertError::NoPrivateKey { .. })),
        "a .cer named .pfx is a certificate without its key: {result:?}"
    );
    Ok(())
}

#[test]
fn a_pem_pair_whose_files_are_not_pem_says_what_they_are() {
    let dir = Scratch::new();
    let key = shared_key();
    let x509 = valid_cert(&key, "pair");
    let pfx = dir.write("app.pfx", &pfx_bytes(&x509, &key, "pw", None));
    let key_file = dir.write("app.key", &pkcs8_pem(&key));
    let result = Certificate::from_pem_files(&pfx, &key_file, None);
    assert!(
        matches!(
            result,
            Err(CertError::NotPem {
                content: ContentKind::Pkcs12,
                ..
            })
        ),
        "{result:?}"
    );
    let message = refusal(result);
    assert!(
        message.contains("is not PEM text: it is a PKCS#12 (.pfx/.p12) file")
            && message.contains("give a PKCS#12 file as --certificate FILE alone, without --key"),
        "{message}"
    );
    let cert = dir.write("app.pem", &cert_pem(&x509));
    let empty_key = dir.write("empty.key", b"");
    let message = refusal(Certificate::from_pem_files(&cert, &empty_key, None));
    assert!(
        message.starts_with(&format!(
            "{} is not PEM text: it is empty (0 bytes)",
            empty_key.display()
        )),
        "{message}"
    );
}

#[test]
fn no_refusal_shows_the_password() -> TestResult {
    let dir = Scratch::new();
    let key = shared_key();
    let x509 = valid_cert(&key, "quiet");
    let value = "Pa55-Never-Printed";
    let pfx_bytes = pfx_bytes(&x509, &key, "other", None);
    let pfx = dir.write("app.pfx", &pfx_bytes);
    let cut = dir.write("cut.pfx", &pfx_bytes[..400]);
    let cert = dir.write("app.pem", &cert_pem(&x509));
    let key_file = dir.write("app.key", &encrypted_pkcs8_pem(&key, "other"));
    let password_file = dir.write("pw", value.as_bytes());
    for password in [
        Password::read(&SecretSource::File(password_file))?,
        Password::given(Secret::new(value)),
        Password::given(Secret::new(format!("{value}\0"))),
    ] {
        let errors = [
            Certificate::from_path(&pfx, Some(&password)),
            Certificate::from_path(&cut, Some(&password)),
            Certificate::from_pem_files(&cert, &key_file, Some(&password)),
        ];
        for error in errors.into_iter().filter_map(Result::err) {
            let shown = format!("{error} {error:?}");
            assert!(!shown.contains(value), "{shown}");
        }
        assert!(!format!("{password:?}").contains(value));
    }
    Ok(())
}
