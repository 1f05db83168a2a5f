use std::path::Path;

use exorun::auth::cert::{Password, new_self_signed, write_bundle};
use exorun::secret::Secret;

use super::*;

/// The fixes doctor used to print, which told the admin nothing.
const VAGUE: [&str; 3] = [
    "fix the certificate as the message says",
    "fix the settings above",
    "see the fix in the message",
];

/// A certificate bundle made once: `app.pfx` (password `pfx-pw`), `app.pem`, `app.cer`.
fn bundle(dir: &Path) -> PathBuf {
    let cert = new_self_signed("doctor-test", 30).expect("a new certificate");
    let password = Password::given(Secret::new("pfx-pw"));
    write_bundle(&cert, dir, "app", &password, false).expect("the bundle");
    dir.join("app.pfx")
}

/// Settings with a certificate credential and valid names.
fn settings(credential: CredentialSpec) -> Settings {
    Settings {
        app_id: Some("1f7e0b59-3c3a-4d8e-9a57-2b4c8d1e6f30".into()),
        organization: Some("contoso.onmicrosoft.com".into()),
        credential: Some(credential),
        ..Settings::default()
    }
}

/// The failed step's detail and fix, with no vague fix anywhere.
fn failure<'a>(checks: &'a [Check], step: &str) -> (&'a str, &'a str) {
    for check in checks {
        if let Err((_, fix)) = &check.result {
            assert!(!fix.is_empty() && !VAGUE.contains(&fix.as_str()), "{fix}");
        }
    }
    let check = checks
        .iter()
        .find(|c| c.name == step)
        .unwrap_or_else(|| panic!("no {step} step"));
    match &check.result {
        Err((detail, fix)) => (detail, fix),
        Ok(detail) => panic!("{step} passed: {detail}"),
    }
}

#[test]
fn certificate_failures_get_their_own_fix() {
    let dir = tempfile::tempdir().unwrap();
    let pfx = bundle(dir.path());
    let wrong = dir.path().join("wrong.pw");
    std::fs::write(&wrong, "not-pfx-pw\n").unwrap();

    let checks = setup_checks(&settings(CredentialSpec::CertificateFile {
        path: pfx.clone(),
        password: Some(SecretSource::File(wrong.clone())),
    }));
    let (detail, fix) = failure(&checks, "key");
    assert!(
        detail.starts_with(&format!(
            "the password from the file {} is wrong for {}",
            wrong.display(),
            pfx.display()
        )),
        "{detail}"
    );
    assert!(
        fix.starts_with(&format!(
            "check that the file {} holds the password of {}",
            wrong.display(),
            pfx.display()
        )),
        "{fix}"
    );

    let checks = setup_checks(&settings(CredentialSpec::CertificateFile {
        path: pfx.clone(),
        password: None,
    }));
    let (detail, fix) = failure(&checks, "key");
    assert_eq!(
        detail,
        format!(
            "{} is password-protected and no password was given",
            pfx.display()
        )
    );
    assert!(
        fix.starts_with("give the password with --certificate-password-file FILE"),
        "{fix}"
    );

    let checks = setup_checks(&settings(CredentialSpec::CertificateFile {
        path: pfx,
        password: Some(SecretSource::Env(
            "EXORUN_TEST_UNSET_PASSWORD_VARIABLE".into(),
        )),
    }));
    let (_, fix) = failure(&checks, "key");
    assert!(
        fix.starts_with("set EXORUN_TEST_UNSET_PASSWORD_VARIABLE in the environment"),
        "{fix}"
    );
}

#[test]
fn file_failures_say_whether_to_fix_the_path_or_the_permissions() {
    let dir = tempfile::tempdir().unwrap();
    let gone = dir.path().join("gone.pfx");
    let checks = [check_files(std::slice::from_ref(&gone))];
    let (detail, fix) = failure(&checks, "files");
    assert!(
        detail.starts_with(&format!("cannot read {}", gone.display())),
        "{detail}"
    );
    assert!(fix.starts_with("check the path"), "{fix}");

    let unreadable = dir.path().join("locked.pfx");
    std::fs::write(&unreadable, b"x").unwrap();
    let mut permissions = std::fs::metadata(&unreadable).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o000);
    std::fs::set_permissions(&unreadable, permissions).unwrap();
    if std::fs::File::open(&unreadable).is_ok() {
        // Running as root, every file opens; the path case above still ran.
        return;
    }
    let checks = [check_files(&[unreadable])];
    let (_, fix) = failure(&checks, "files");
    assert!(
        fix.starts_with("let the user exorun runs as read the file"),
        "{fix}"
    );
}

#[test]
fn a_message_with_a_fix_is_split_and_one_without_gets_the_fallback() {
    let error = exorun::secret::SecretError::EmptyFile("/etc/exorun/pw".into());
    let check = fail_with("key", &error, || "unused".into());
    assert_eq!(
        check.result.err(),
        Some((
            "the secret file /etc/exorun/pw is empty".to_string(),
            "write the secret into it, alone on one line".to_string()
        ))
    );
    let error = AuthError::Transport {
        endpoint: "https://login.example.test/t/oauth2/v2.0/token".into(),
        reason: "connection refused".into(),
    };
    let check = fail_with("token", &error, || auth_fix(&error));
    let (_, fix) = check.result.err().unwrap();
    assert!(
        fix.starts_with("check that https://login.example.test/t/oauth2/v2.0/token can be reached"),
        "{fix}"
    );
}
