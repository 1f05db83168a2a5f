//! Every credential source against exorun-sim, both assertion forms, and every early-validation
//! and sign-in error with the fix it names.

use exorun::Connection;
use exorun::auth::cert::AssertionAlg;
use exorun::auth::{AuthError, Resource};
use exorun::config::CredentialSpec;
use exorun::connection::ConnectError;
use exorun::exchange::{ExchangeError, Surface};
use exorun::secret::SecretSource;
use openssl::asn1::Asn1Time;
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkcs12::Pkcs12;
use openssl::pkey::PKey;
use openssl::rsa::Rsa;
use openssl::symm::Cipher;
use openssl::x509::{X509, X509NameBuilder};
use serde_json::Map;

use crate::support::{Sim, start};

async fn org_name(connection: &Connection) -> String {
    let rows = connection
        .exchange()
        .invoke(Surface::Exchange, "Get-OrganizationConfig", Map::new())
        .await
        .unwrap();
    rows[0]["Name"].as_str().unwrap().to_string()
}

fn admin_cert_and_key(sim: &Sim) -> (X509, PKey<openssl::pkey::Private>) {
    let app = sim.app("exorun-admin");
    let cert = X509::from_pem(&std::fs::read(app.certificate.unwrap()).unwrap()).unwrap();
    let key =
        PKey::private_key_from_pem(&std::fs::read(app.private_key.unwrap()).unwrap()).unwrap();
    (cert, key)
}

#[tokio::test]
async fn pfx_pem_and_secret_credentials_sign_in_and_run_cmdlets() {
    let sim = start().await;
    let admin = sim.app("exorun-admin");

    let pfx = Connection::open(sim.pfx_settings("exorun-admin")).unwrap();
    let claims = pfx.token_claims(Resource::Exchange).await.unwrap();
    assert_eq!(claims.app_id, admin.client_id);
    assert_eq!(claims.directory_roles, ["Exchange Administrator"]);
    assert_eq!(org_name(&pfx).await, "contoso.onmicrosoft.com");

    let pair = CredentialSpec::PemPair {
        cert: admin.certificate.clone().unwrap(),
        key: admin.private_key.clone().unwrap(),
        password: None,
    };
    let pem = Connection::open(sim.settings("exorun-admin", pair)).unwrap();
    assert_eq!(org_name(&pem).await, "contoso.onmicrosoft.com");

    let combined = [
        std::fs::read(admin.certificate.clone().unwrap()).unwrap(),
        std::fs::read(admin.private_key.clone().unwrap()).unwrap(),
    ]
    .concat();
    let combined = sim.write("combined.pem", combined);
    let one_file = Connection::open(sim.settings(
        "exorun-admin",
        CredentialSpec::CertificateFile {
            path: combined,
            password: None,
        },
    ))
    .unwrap();
    assert_eq!(org_name(&one_file).await, "contoso.onmicrosoft.com");

    let secret = Connection::open(sim.secret_settings("exorun-admin")).unwrap();
    assert_eq!(org_name(&secret).await, "contoso.onmicrosoft.com");
}

#[tokio::test]
async fn legacy_pfx_and_encrypted_pem_keys_load() {
    let sim = start().await;
    let (cert, key) = admin_cert_and_key(&sim);
    // Older Windows exports: RC2-40 for the certificate bag, 3DES for the key, SHA-1 MAC.
    let _legacy = openssl::provider::Provider::try_load(None, "legacy", true).unwrap();
    let legacy = Pkcs12::builder()
        .name("legacy")
        .pkey(&key)
        .cert(&cert)
        .cert_algorithm(Nid::PBE_WITHSHA1AND40BITRC2_CBC)
        .key_algorithm(Nid::PBE_WITHSHA1AND3_KEY_TRIPLEDES_CBC)
        .mac_md(MessageDigest::sha1())
        .build2("old-windows")
        .unwrap()
        .to_der()
        .unwrap();
    let legacy = sim.write("legacy.pfx", legacy);
    let password = sim.write("legacy.pw", "old-windows\n");
    let spec = CredentialSpec::CertificateFile {
        path: legacy,
        password: Some(SecretSource::File(password)),
    };
    let connection = Connection::open(sim.settings("exorun-admin", spec)).unwrap();
    assert_eq!(org_name(&connection).await, "contoso.onmicrosoft.com");

    let encrypted = key
        .private_key_to_pem_pkcs8_passphrase(Cipher::aes_256_cbc(), b"key-pass")
        .unwrap();
    let key_file = sim.write("encrypted.key", encrypted);
    let key_password = sim.write("key.pw", "key-pass");
    let spec = CredentialSpec::PemPair {
        cert: sim.app("exorun-admin").certificate.unwrap(),
        key: key_file.clone(),
        password: Some(SecretSource::File(key_password)),
    };
    let connection = Connection::open(sim.settings("exorun-admin", spec)).unwrap();
    assert_eq!(org_name(&connection).await, "contoso.onmicrosoft.com");

    let spec = CredentialSpec::PemPair {
        cert: sim.app("exorun-admin").certificate.unwrap(),
        key: key_file,
        password: None,
    };
    let error = Connection::open(sim.settings("exorun-admin", spec))
        .err()
        .unwrap()
        .to_string();
    assert!(
        error.contains("is encrypted and no password was given")
            && error.contains("--certificate-password-file FILE"),
        "{error}"
    );
}

#[tokio::test]
async fn both_assertion_forms_and_x5c_are_accepted() {
    let sim = start().await;
    for (alg, x5c) in [
        (AssertionAlg::Ps256, false),
        (AssertionAlg::Rs256, false),
        (AssertionAlg::Ps256, true),
    ] {
        let mut settings = sim.pfx_settings("exorun-admin");
        settings.assertion = Some(alg);
        settings.x5c = Some(x5c);
        let connection = Connection::open(settings).unwrap();
        assert_eq!(
            org_name(&connection).await,
            "contoso.onmicrosoft.com",
            "{alg:?} x5c={x5c}"
        );
    }
}

#[tokio::test]
async fn ready_tokens_commands_and_managed_identity() {
    let sim = start().await;
    let admin = Connection::open(sim.secret_settings("exorun-admin")).unwrap();
    let token = admin.tokens().token(Resource::Exchange).await.unwrap();
    let token_file = sim.write("token.txt", format!("{}\n", token.secret.expose()));

    let from_file = Connection::open(sim.settings(
        "exorun-admin",
        CredentialSpec::AccessTokenFile(token_file.clone()),
    ))
    .unwrap();
    assert_eq!(org_name(&from_file).await, "contoso.onmicrosoft.com");

    let command =
        CredentialSpec::AccessTokenCommand(vec!["cat".into(), token_file.display().to_string()]);
    let from_command = Connection::open(sim.settings("exorun-admin", command)).unwrap();
    assert_eq!(org_name(&from_command).await, "contoso.onmicrosoft.com");

    let header = sim.write("identity-header", &sim.info().identity_header);
    let identity = CredentialSpec::ManagedIdentity {
        endpoint: sim.info().identity_endpoint.clone(),
        header: SecretSource::File(header),
        client_id: None,
    };
    let mi = Connection::open(sim.settings("exorun-identity", identity)).unwrap();
    let claims = mi.token_claims(Resource::Exchange).await.unwrap();
    assert_eq!(claims.app_id, sim.app("exorun-identity").client_id);
    assert_eq!(org_name(&mi).await, "contoso.onmicrosoft.com");
}

#[tokio::test]
async fn ready_tokens_and_managed_identity_name_the_tenant_themselves() {
    let sim = start().await;
    let tenant_id = sim.info().tenant_id.clone();
    let admin = Connection::open(sim.secret_settings("exorun-admin")).unwrap();
    let token = admin.tokens().token(Resource::Exchange).await.unwrap();
    let token_file = sim.write("token.txt", token.secret.expose());
    let header = sim.write("identity-header", &sim.info().identity_header);
    let unnamed = |app: &str, spec: CredentialSpec| {
        let mut settings = sim.settings(app, spec);
        settings.organization = None;
        settings
    };

    // A static token (a variable, or a file read once) is read at open: its tid is the
    // organization.
    let from_env = Connection::open(unnamed(
        "exorun-admin",
        CredentialSpec::AccessToken(SecretSource::File(token_file.clone())),
    ))
    .unwrap();
    assert_eq!(
        from_env.organization().map(ToString::to_string),
        Some(tenant_id.clone())
    );
    assert_eq!(org_name(&from_env).await, "contoso.onmicrosoft.com");

    // A file, a command and a managed identity: the tenant is learnt from the first token.
    for (app, spec) in [
        (
            "exorun-admin",
            CredentialSpec::AccessTokenFile(token_file.clone()),
        ),
        (
            "exorun-admin",
            CredentialSpec::AccessTokenCommand(vec![
                "cat".into(),
                token_file.display().to_string(),
            ]),
        ),
        (
            "exorun-identity",
            CredentialSpec::ManagedIdentity {
                endpoint: sim.info().identity_endpoint.clone(),
                header: SecretSource::File(header.clone()),
                client_id: None,
            },
        ),
    ] {
        let connection = Connection::open(unnamed(app, spec)).unwrap();
        assert!(connection.organization().is_none());
        assert_eq!(org_name(&connection).await, "contoso.onmicrosoft.com");
    }
    let invokes: Vec<_> = sim
        .requests()
        .await
        .into_iter()
        .filter(|e| e.endpoint == "invoke")
        .collect();
    assert_eq!(invokes.len(), 4);
    for entry in invokes {
        assert!(entry.tenant.eq_ignore_ascii_case(&tenant_id), "{entry:?}");
        assert!(entry.anchor_mailbox.is_some_and(|a| {
            a.to_lowercase()
                .ends_with(&format!("@{}", tenant_id.to_lowercase()))
        }));
    }

    // A configured organization wins over the token's tenant.
    let mut settings = sim.settings("exorun-admin", CredentialSpec::AccessTokenFile(token_file));
    settings.organization = Some("contoso.onmicrosoft.com".into());
    let named = Connection::open(settings).unwrap();
    assert_eq!(
        named.organization().map(ToString::to_string).as_deref(),
        Some("contoso.onmicrosoft.com")
    );

    // App credentials still need it, and a token without a tid cannot stand in for it.
    let mut settings = sim.pfx_settings("exorun-admin");
    settings.organization = None;
    let e = open_err(settings).to_string();
    assert!(
        e.contains("no organization\n  fix: pass --organization"),
        "{e}"
    );
    let opaque = sim.write("opaque-token.txt", "opaque-token");
    let e = open_err(unnamed(
        "exorun-admin",
        CredentialSpec::AccessToken(SecretSource::File(opaque)),
    ))
    .to_string();
    assert!(
        e.contains("does not name its tenant") && e.contains("--organization"),
        "{e}"
    );
}

fn open_err(settings: exorun::config::Settings) -> ConnectError {
    Connection::open(settings)
        .err()
        .expect("the settings are refused")
}

#[tokio::test]
async fn names_are_checked_before_anything_is_sent() {
    let sim = start().await;
    let mut settings = sim.pfx_settings("exorun-admin");
    settings.app_id = Some("Payroll Sync".into());
    let e = open_err(settings).to_string();
    assert!(
        e.contains("looks like a display name") && e.contains("Application (client) ID"),
        "{e}"
    );
    let mut settings = sim.pfx_settings("exorun-admin");
    settings.organization = Some("contoso".into());
    let e = open_err(settings).to_string();
    assert!(e.contains("contoso.onmicrosoft.com"), "{e}");
    let mut settings = sim.pfx_settings("exorun-admin");
    settings.organization = None;
    assert!(matches!(open_err(settings), ConnectError::Missing(_)));
    assert!(
        sim.requests().await.is_empty(),
        "nothing reached the service"
    );
}

fn make_cert(key: &PKey<openssl::pkey::Private>, start_days: i64, end_days: i64) -> X509 {
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", "test").unwrap();
    let name = name.build();
    let mut b = X509::builder().unwrap();
    b.set_version(2).unwrap();
    b.set_subject_name(&name).unwrap();
    b.set_issuer_name(&name).unwrap();
    b.set_pubkey(key).unwrap();
    let now = chrono::Utc::now().timestamp();
    b.set_not_before(&Asn1Time::from_unix(now + start_days * 86_400).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::from_unix(now + end_days * 86_400).unwrap())
        .unwrap();
    b.sign(key, MessageDigest::sha256()).unwrap();
    b.build()
}

fn pem_pair(
    sim: &Sim,
    name: &str,
    cert: &X509,
    key: &PKey<openssl::pkey::Private>,
) -> CredentialSpec {
    CredentialSpec::PemPair {
        cert: sim.write(&format!("{name}.pem"), cert.to_pem().unwrap()),
        key: sim.write(
            &format!("{name}.key"),
            key.private_key_to_pem_pkcs8().unwrap(),
        ),
        password: None,
    }
}

#[tokio::test]
async fn bad_certificates_are_refused_with_the_reason() {
    let sim = start().await;
    let rsa = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
    let expired = pem_pair(&sim, "expired", &make_cert(&rsa, -400, -30), &rsa);
    let e = open_err(sim.settings("exorun-admin", expired)).to_string();
    assert!(
        e.contains("expired")
            && e.contains(
                &(chrono::Utc::now() - chrono::Duration::days(30))
                    .format("%Y-%m-%d")
                    .to_string()
            ),
        "{e}"
    );
    let future = pem_pair(&sim, "future", &make_cert(&rsa, 10, 400), &rsa);
    let e = open_err(sim.settings("exorun-admin", future)).to_string();
    assert!(
        e.contains("is not valid until") && e.contains("clock"),
        "{e}"
    );

    let small = PKey::from_rsa(Rsa::generate(1024).unwrap()).unwrap();
    let e = open_err(sim.settings(
        "exorun-admin",
        pem_pair(&sim, "small", &make_cert(&small, -1, 30), &small),
    ))
    .to_string();
    assert!(e.contains("1024") && e.contains("2048"), "{e}");

    let group = openssl::ec::EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    let ec = PKey::from_ec_key(openssl::ec::EcKey::generate(&group).unwrap()).unwrap();
    let e = open_err(sim.settings(
        "exorun-admin",
        pem_pair(&sim, "ec", &make_cert(&ec, -1, 30), &ec),
    ))
    .to_string();
    assert!(e.contains("RSA"), "{e}");

    let (cert, _) = admin_cert_and_key(&sim);
    let mismatch = pem_pair(&sim, "mismatch", &cert, &rsa);
    let e = open_err(sim.settings("exorun-admin", mismatch)).to_string();
    let (cert_file, key_file) = (
        sim.dir.path().join("mismatch.pem"),
        sim.dir.path().join("mismatch.key"),
    );
    assert!(
        e.starts_with(&format!(
            "the private key in {} does not belong to the certificate in {}",
            key_file.display(),
            cert_file.display()
        )),
        "{e}"
    );

    let mut wrong_password = sim.pfx_settings("exorun-admin");
    if let Some(CredentialSpec::CertificateFile { password, .. }) = &mut wrong_password.credential {
        *password = Some(SecretSource::File(sim.write("wrong.pw", "not-it")));
    }
    let e = open_err(wrong_password).to_string();
    assert!(
        e.starts_with(&format!(
            "the password from the file {} is wrong for {}",
            sim.dir.path().join("wrong.pw").display(),
            sim.app("exorun-admin").pfx.unwrap().display()
        )),
        "{e}"
    );
    assert!(!e.contains("not-it"), "{e}");
}

async fn sign_in_error(settings: exorun::config::Settings) -> AuthError {
    let connection = Connection::open(settings).unwrap();
    connection
        .token_claims(Resource::Exchange)
        .await
        .expect_err("sign-in fails")
}

#[tokio::test]
async fn entra_errors_name_the_fix() {
    let sim = start().await;
    let mut unknown_app = sim.pfx_settings("exorun-admin");
    unknown_app.app_id = Some("00000000-1111-4222-8333-444444444444".into());
    match sign_in_error(unknown_app).await {
        AuthError::Entra {
            code: 700016, hint, ..
        } => assert!(
            hint.contains("00000000-1111-4222-8333-444444444444"),
            "{hint}"
        ),
        other => panic!("{other}"),
    }

    let rsa = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
    let not_uploaded = make_cert(&rsa, -1, 30);
    let thumbprint: String = not_uploaded
        .digest(MessageDigest::sha1())
        .unwrap()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect();
    match sign_in_error(sim.settings("exorun-admin", pem_pair(&sim, "new", &not_uploaded, &rsa)))
        .await
    {
        AuthError::Entra {
            code: 700027, hint, ..
        } => assert!(
            hint.contains(&thumbprint) && hint.contains("Upload certificate"),
            "{hint}"
        ),
        other => panic!("{other}"),
    }

    let mut unknown_tenant = sim.pfx_settings("exorun-admin");
    unknown_tenant.organization = Some("fabrikam.onmicrosoft.com".into());
    match sign_in_error(unknown_tenant).await {
        AuthError::Entra {
            code: 90002, hint, ..
        } => assert!(hint.contains("fabrikam.onmicrosoft.com"), "{hint}"),
        other => panic!("{other}"),
    }

    let mut wrong_secret = sim.secret_settings("exorun-admin");
    wrong_secret.credential = Some(CredentialSpec::ClientSecret(SecretSource::File(
        sim.write("bad.secret", "nope"),
    )));
    match sign_in_error(wrong_secret).await {
        AuthError::Entra {
            code: 7000215,
            hint,
            ..
        } => assert!(hint.contains("Value"), "{hint}"),
        other => panic!("{other}"),
    }
}

#[tokio::test]
async fn exchange_401_and_403_say_consent_and_role() {
    let sim = start().await;
    let no_consent = Connection::open(sim.pfx_settings("exorun-noconsent")).unwrap();
    match no_consent
        .exchange()
        .invoke(Surface::Exchange, "Get-Mailbox", Map::new())
        .await
    {
        Err(ExchangeError::Unauthorized { message }) => assert!(
            message.contains("Exchange.ManageAsApp") && message.contains("consent"),
            "{message}"
        ),
        other => panic!("{other:?}"),
    }
    let no_role = Connection::open(sim.pfx_settings("exorun-norole")).unwrap();
    match no_role
        .exchange()
        .invoke(Surface::Exchange, "Get-Mailbox", Map::new())
        .await
    {
        Err(e @ ExchangeError::NoRole { .. }) => {
            let text = e.to_string();
            assert!(
                text.contains("Exchange Administrator") && text.contains("Global Reader"),
                "{text}"
            );
        }
        other => panic!("{other:?}"),
    }
}
