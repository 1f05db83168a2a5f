use std::collections::HashMap;

use openssl::x509::X509;

use super::super::testkit::*;
use super::*;

/// A CurrentUser and a LocalMachine store in a temporary directory; neither exists yet.
struct Stores {
    _root: tempfile::TempDir,
    stores: Vec<CertStore>,
}

impl Stores {
    fn new() -> std::io::Result<Stores> {
        let root = tempfile::tempdir()?;
        let stores = vec![
            CertStore {
                location: StoreLocation::CurrentUser,
                dir: root.path().join("user/my"),
            },
            CertStore {
                location: StoreLocation::LocalMachine,
                dir: root.path().join("machine/my"),
            },
        ];
        Ok(Stores {
            _root: root,
            stores,
        })
    }

    fn put(&self, location: StoreLocation, name: &str, bytes: &[u8]) -> std::io::Result<()> {
        let dir = &self
            .stores
            .iter()
            .find(|s| s.location == location)
            .map(|s| s.dir.clone())
            .unwrap_or_default();
        std::fs::create_dir_all(dir)?;
        std::fs::write(dir.join(name), bytes)
    }
}

fn thumbprint_of(x509: &X509) -> String {
    x509_thumbprint(x509).expect("thumbprint")
}

#[test]
fn thumbprints_are_normalised_as_people_paste_them() -> TestResult {
    let canonical = "F593EA27F9144E24A47BE891F9001D6B033911F8";
    for given in [
        "f593ea27f9144e24a47be891f9001d6b033911f8",
        "f5 93 ea 27 f9 14 4e 24 a4 7b e8 91 f9 00 1d 6b 03 39 11 f8",
        "F5:93:EA:27:F9:14:4E:24:A4:7B:E8:91:F9:00:1D:6B:03:39:11:F8",
        "\u{200E}f593ea27f9144e24a47be891f9001d6b033911f8",
        " F593EA27F9144E24A47BE891F9001D6B033911F8\n",
    ] {
        assert_eq!(normalize_thumbprint(given)?, canonical, "{given:?}");
    }
    Ok(())
}

#[test]
fn bad_thumbprints_are_refused_with_the_rule() {
    for given in [
        "",
        "F593EA27",
        "G593EA27F9144E24A47BE891F9001D6B033911F8",
        "x5t-not-hex",
    ] {
        match normalize_thumbprint(given) {
            Err(error @ CertError::BadThumbprint { .. }) => {
                assert!(error.to_string().contains("40 hex characters"), "{error}");
            }
            other => panic!("{given:?}: expected BadThumbprint, got {other:?}"),
        }
    }
    let stores = [];
    let result = find_by_thumbprint(&stores, "abc", None);
    assert!(
        matches!(result, Err(CertError::BadThumbprint { .. })),
        "{result:?}"
    );
}

#[test]
fn finds_by_content_whatever_the_thumbprint_format() -> TestResult {
    let s = Stores::new()?;
    let key = shared_key();
    let wanted = valid_cert(&key, "wanted");
    let decoy_key = rsa_key(2048);
    let decoy = valid_cert(&decoy_key, "decoy");
    let thumbprint = thumbprint_of(&wanted);
    // The decoy is named after the wanted thumbprint: file names must not be trusted.
    s.put(
        StoreLocation::CurrentUser,
        &format!("{thumbprint}.pfx"),
        &pfx_bytes(&decoy, &decoy_key, "", None),
    )?;
    s.put(
        StoreLocation::CurrentUser,
        "decoy.pem",
        &[cert_pem(&decoy), pkcs8_pem(&decoy_key)].concat(),
    )?;
    s.put(
        StoreLocation::LocalMachine,
        "anything.p12",
        &pfx_bytes(&wanted, &key, "", None),
    )?;
    s.put(
        StoreLocation::LocalMachine,
        "readme.txt",
        b"not a certificate",
    )?;

    let lower = thumbprint.to_ascii_lowercase();
    let spaced: String = thumbprint
        .as_bytes()
        .chunks(2)
        .map(|c| String::from_utf8_lossy(c) + " ")
        .collect();
    let colons = thumbprint
        .as_bytes()
        .chunks(2)
        .map(|c| String::from_utf8_lossy(c))
        .collect::<Vec<_>>()
        .join(":");
    for given in [
        thumbprint.clone(),
        lower.clone(),
        spaced,
        colons,
        format!("\u{200E}{lower}"),
    ] {
        let found = find_by_thumbprint(&s.stores, &given, None)?;
        assert_eq!(found.thumbprint_sha1_hex(), thumbprint, "{given:?}");
        assert_eq!(found.subject(), "CN=wanted");
    }
    Ok(())
}

#[test]
fn pem_in_store_is_found_with_its_key_password() -> TestResult {
    let s = Stores::new()?;
    let key = shared_key();
    let x509 = valid_cert(&key, "pem-store");
    s.put(
        StoreLocation::CurrentUser,
        "mine.pem",
        &[cert_pem(&x509), encrypted_pkcs8_pem(&key, "pw")].concat(),
    )?;
    let found = find_by_thumbprint(&s.stores, &thumbprint_of(&x509), Some(&password("pw")))?;
    assert_eq!(found.subject(), "CN=pem-store");
    let without = find_by_thumbprint(&s.stores, &thumbprint_of(&x509), None);
    assert!(
        matches!(without, Err(CertError::NeedsPassword { .. })),
        "{without:?}"
    );
    Ok(())
}

#[test]
fn password_protected_pfx_needs_the_password() -> TestResult {
    let s = Stores::new()?;
    let key = shared_key();
    let x509 = valid_cert(&key, "locked");
    s.put(
        StoreLocation::CurrentUser,
        "locked.pfx",
        &pfx_bytes(&x509, &key, "pw", None),
    )?;
    let found = find_by_thumbprint(&s.stores, &thumbprint_of(&x509), Some(&password("pw")))?;
    assert_eq!(found.subject(), "CN=locked");
    match find_by_thumbprint(&s.stores, &thumbprint_of(&x509), None) {
        Err(error @ CertError::ThumbprintNotFound { .. }) => {
            let message = error.to_string();
            assert!(message.contains("locked.pfx"), "{message}");
            assert!(message.contains("could not be read"), "{message}");
        }
        other => panic!("expected ThumbprintNotFound, got {other:?}"),
    }
    Ok(())
}

#[test]
fn not_found_lists_every_store_with_counts_and_the_fix() -> TestResult {
    let s = Stores::new()?;
    for cn in ["one", "two"] {
        let key = rsa_key(2048);
        s.put(
            StoreLocation::CurrentUser,
            &format!("{cn}.pfx"),
            &pfx_bytes(&valid_cert(&key, cn), &key, "", None),
        )?;
    }
    // A lone key is not a certificate: neither counted nor reported as unreadable.
    s.put(
        StoreLocation::CurrentUser,
        "lone-key.pem",
        &pkcs8_pem(&shared_key()),
    )?;
    let missing = "00112233445566778899AABBCCDDEEFF00112233";
    match find_by_thumbprint(&s.stores, missing, None) {
        Err(error @ CertError::ThumbprintNotFound { .. }) => {
            let message = error.to_string();
            let user = s.stores[0].dir.display().to_string();
            let machine = s.stores[1].dir.display().to_string();
            assert!(message.contains(missing), "{message}");
            assert!(
                message.contains(&format!("CurrentUser\\My: {user} (2 certificates)")),
                "{message}"
            );
            assert!(
                message.contains(&format!("LocalMachine\\My: {machine} (0 certificates)")),
                "{message}"
            );
            assert!(
                message.contains(&format!("{user}/{missing}.pfx")),
                "{message}"
            );
            assert!(message.contains("certificate file instead"), "{message}");
            assert!(!message.contains("lone-key.pem"), "{message}");
            let CertError::ThumbprintNotFound { searched, .. } = error else {
                unreachable!()
            };
            assert_eq!(
                searched.iter().map(|(_, _, n)| *n).collect::<Vec<_>>(),
                [2, 0]
            );
        }
        other => panic!("expected ThumbprintNotFound, got {other:?}"),
    }
    Ok(())
}

#[test]
fn not_found_without_a_user_store_says_how_to_make_one() -> TestResult {
    let s = Stores::new()?;
    let machine_only = &s.stores[1..];
    let missing = "00112233445566778899AABBCCDDEEFF00112233";
    let message = find_by_thumbprint(machine_only, missing, None)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(message.contains("LocalMachine\\My"), "{message}");
    assert!(
        message.contains("set EXORUN_CERT_STORE_USER to a directory"),
        "{message}"
    );
    Ok(())
}

#[test]
fn default_stores_follow_home_and_overrides() {
    let env = |pairs: &[(&str, &str)]| {
        let map: HashMap<String, OsString> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), OsString::from(v)))
            .collect();
        CertStore::from_env(move |name| map.get(name).cloned())
    };
    assert_eq!(
        env(&[("HOME", "/home/ops")]),
        [
            CertStore {
                location: StoreLocation::CurrentUser,
                dir: PathBuf::from("/home/ops/.dotnet/corefx/cryptography/x509stores/my"),
            },
            CertStore {
                location: StoreLocation::LocalMachine,
                dir: PathBuf::from("/etc/exorun/x509stores/my")
            },
        ]
    );
    let overridden = env(&[
        ("HOME", "/home/ops"),
        (USER_STORE_VAR, "/u"),
        (MACHINE_STORE_VAR, "/m"),
    ]);
    assert_eq!(
        overridden.iter().map(|s| s.dir.clone()).collect::<Vec<_>>(),
        [PathBuf::from("/u"), PathBuf::from("/m")]
    );
    let homeless = env(&[("HOME", "")]);
    assert_eq!(
        homeless.iter().map(|s| s.location).collect::<Vec<_>>(),
        [StoreLocation::LocalMachine]
    );
}
