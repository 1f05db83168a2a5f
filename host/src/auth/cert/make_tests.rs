use std::sync::OnceLock;

use super::super::testkit::*;
use super::super::x509_thumbprint;
use super::*;

/// One RSA-3072 certificate made the way `exorun cert new` makes it, shared because key
/// generation at this size is slow.
fn made() -> Certificate {
    static CERT: OnceLock<Certificate> = OnceLock::new();
    CERT.get_or_init(|| new_self_signed("exorun-automation", 365).expect("new_self_signed"))
        .clone()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

#[test]
fn new_certificate_is_rsa_3072_for_client_auth() -> TestResult {
    let cert = made();
    let now = Utc::now();
    assert_eq!(cert.subject(), "CN=exorun-automation");
    assert_eq!(cert.key_bits(), 3072);
    assert!(
        (now - TimeDelta::minutes(6)..now - TimeDelta::minutes(4)).contains(&cert.not_before())
    );
    let expected_end = now + TimeDelta::days(365);
    assert!((expected_end - TimeDelta::minutes(1)..=expected_end).contains(&cert.not_after()));
    cert.check(now)?;
    let text = String::from_utf8(X509::from_der(&cert.der())?.to_text()?)?;
    assert!(
        text.contains("Digital Signature, Key Encipherment"),
        "{text}"
    );
    assert!(text.contains("TLS Web Client Authentication"), "{text}");
    assert!(text.contains("sha256WithRSAEncryption"), "{text}");
    Ok(())
}

#[test]
fn serial_numbers_are_random() -> TestResult {
    let key = shared_key();
    let a = valid_cert(&key, "a");
    let b = valid_cert(&key, "b");
    assert_ne!(a.serial_number().to_bn()?, b.serial_number().to_bn()?);
    Ok(())
}

#[test]
fn bad_requests_are_refused_before_any_work() {
    for (cn, days) in [
        ("", 365),
        (&"x".repeat(65)[..], 365),
        ("ok", 0),
        ("ok", MAX_DAYS + 1),
    ] {
        let result = new_self_signed(cn, days);
        assert!(
            matches!(result, Err(CertError::InvalidNewCertificate { .. })),
            "{cn:?} {days}: {result:?}"
        );
    }
}

#[test]
fn bundle_files_parse_back() -> TestResult {
    let dir = tempfile::tempdir()?;
    let cert = made();
    let bundle_password = password("bundle-pw");
    let bundle = write_bundle(&cert, dir.path(), "exorun", &bundle_password, false)?;
    assert_eq!(bundle.cer, dir.path().join("exorun.cer"));
    assert_eq!(bundle.thumbprint, cert.thumbprint_sha1_hex());

    let cer = std::fs::read(&bundle.cer)?;
    assert_eq!(x509_thumbprint(&X509::from_der(&cer)?)?, bundle.thumbprint);
    let from_pfx = Certificate::from_path(&bundle.pfx, Some(&bundle_password))?;
    assert_eq!(from_pfx.thumbprint_sha1_hex(), bundle.thumbprint);
    let from_pem = Certificate::from_path(&bundle.pem, None)?;
    assert_eq!(from_pem.thumbprint_sha1_hex(), bundle.thumbprint);
    assert!(
        String::from_utf8(std::fs::read(&bundle.pem)?)?.contains("-----BEGIN PRIVATE KEY-----")
    );
    let wrong = Certificate::from_path(&bundle.pfx, Some(&password("nope")));
    assert!(
        matches!(wrong, Err(CertError::WrongPassword { .. })),
        "{wrong:?}"
    );

    // PBES2 with AES-256-CBC and a SHA-256 MAC, not the legacy algorithms.
    let pfx = std::fs::read(&bundle.pfx)?;
    let aes_256_cbc = [
        0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x2A,
    ];
    let sha256 = [
        0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
    ];
    assert!(contains(&pfx, &sha256), "the MAC should use SHA-256");
    let outer = Pkcs12::from_der(&pfx)?;
    assert!(outer.parse2("bundle-pw").is_ok());
    // The bags are inside the authenticated safe, so look for the cipher OID in the whole file.
    assert!(contains(&pfx, &aes_256_cbc), "bags should be AES-256-CBC");

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        for private in [&bundle.pem, &bundle.pfx] {
            assert_eq!(
                std::fs::metadata(private)?.permissions().mode() & 0o777,
                0o600,
                "{}",
                private.display()
            );
        }
    }
    Ok(())
}

#[test]
fn bundle_never_overwrites() -> TestResult {
    let dir = tempfile::tempdir()?;
    let cert = made();
    let pw = password("pw");
    std::fs::write(dir.path().join("taken.pfx"), b"keep me")?;
    match write_bundle(&cert, dir.path(), "taken", &pw, false) {
        Err(error @ CertError::WouldOverwrite { .. }) => {
            assert!(error.to_string().contains("taken.pfx"), "{error}");
        }
        other => panic!("expected WouldOverwrite, got {other:?}"),
    }
    assert!(
        !dir.path().join("taken.cer").exists(),
        "nothing is written when any file exists"
    );
    assert_eq!(std::fs::read(dir.path().join("taken.pfx"))?, b"keep me");

    write_bundle(&cert, dir.path(), "fresh", &pw, false)?;
    let again = write_bundle(&cert, dir.path(), "fresh", &pw, false);
    assert!(
        matches!(again, Err(CertError::WouldOverwrite { .. })),
        "{again:?}"
    );
    Ok(())
}

#[test]
fn a_kept_password_is_written_with_the_bundle_or_not_at_all() -> TestResult {
    let dir = tempfile::tempdir()?;
    let cert = made();
    let pw = password("kept-pw");
    std::fs::write(dir.path().join("taken.pfx-password"), b"keep me")?;
    let taken = write_bundle(&cert, dir.path(), "taken", &pw, true);
    assert!(
        matches!(taken, Err(CertError::WouldOverwrite { .. })),
        "{taken:?}"
    );
    assert!(!dir.path().join("taken.cer").exists(), "nothing written");

    let nested = dir.path().join("new").join("dir");
    let bundle = write_bundle(&cert, &nested, "kept", &pw, true)?;
    let path = bundle.password.expect("the password file");
    assert_eq!(std::fs::read_to_string(&path)?, "kept-pw");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = |p: &Path| std::fs::metadata(p).map(|m| m.permissions().mode() & 0o777);
        assert_eq!(mode(&path)?, 0o600);
        assert_eq!(mode(&bundle.pfx)?, 0o600);
        assert_eq!(mode(&bundle.cer)?, 0o644);
    }
    let leftovers: Vec<_> = std::fs::read_dir(&nested)?
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with(".exorun-new-"))
        .collect();
    assert!(leftovers.is_empty(), "no temporary file is left");
    Ok(())
}

#[test]
fn bundle_stem_must_be_a_plain_name() -> TestResult {
    let dir = tempfile::tempdir()?;
    for stem in ["", "..", "a/b", "a\\b"] {
        let result = write_bundle(&made(), dir.path(), stem, &password("pw"), false);
        assert!(
            matches!(result, Err(CertError::InvalidNewCertificate { .. })),
            "{stem:?}: {result:?}"
        );
    }
    Ok(())
}
