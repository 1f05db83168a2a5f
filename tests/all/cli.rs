//! The `exorun` binary as an admin runs it: `connect --test`, `invoke`, `doctor`, `cert new`,
//! thumbprint lookup, and settings from flags, environment and profiles.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};

use crate::support::{Sim, start};

/// `exorun` with the emulator's endpoints and CA, and a clean environment.
pub fn exorun(sim: &Sim) -> Command {
    let info = sim.info();
    let mut command = Command::new(env!("CARGO_BIN_EXE_exorun"));
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", sim.dir.path())
        .env("AZURE_AUTHORITY_HOST", &info.base_url)
        .env("EXORUN_EXCHANGE_URL", &info.base_url)
        .env(
            "EXORUN_COMPLIANCE_URL",
            format!("{}/compliance", info.base_url),
        )
        .env("EXORUN_CA_FILE", &info.ca_file)
        .env("AZURE_TENANT_ID", &info.tenant_domain);
    command
}

fn text(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

pub fn run(command: &mut Command) -> (bool, String, String) {
    let output = command.output().unwrap();
    let (out, err) = text(&output);
    (output.status.success(), out, err)
}

/// The first `n` mailboxes' UPNs of the tenant, read through `exorun invoke` as the admin app.
pub fn mailboxes(sim: &Sim, n: usize) -> Vec<String> {
    let (ok, out, err) = run(exorun(sim).args(pfx_flags(sim, "exorun-admin")).args([
        "invoke",
        "Get-Mailbox",
        "-ResultSize",
        &n.to_string(),
        "--output",
        "jsonl",
    ]));
    assert!(ok, "{err}");
    upns(&out)
}

/// The `UserPrincipalName` of each JSON line of `out`.
pub fn upns(out: &str) -> Vec<String> {
    out.lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["UserPrincipalName"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

/// A policy admitting the built `plugins` with what their manifests ask for, written by
/// `exorun policy init` as the test's `policy.toml`.
pub fn policy(sim: &Sim, plugins: &[&str]) -> PathBuf {
    let (ok, out, err) = run(exorun(sim).args(["policy", "init"]).args(
        plugins
            .iter()
            .map(|p| crate::workflow_run::plugins_dir().join(format!("{p}.wasm"))),
    ));
    assert!(ok, "{err}");
    sim.write("policy.toml", out)
}

pub fn pfx_flags(sim: &Sim, app: &str) -> Vec<String> {
    let a = sim.app(app);
    vec![
        "--app-id".into(),
        a.client_id,
        "--certificate".into(),
        a.pfx.unwrap().display().to_string(),
        "--certificate-password-file".into(),
        a.pfx_password_file.unwrap().display().to_string(),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_test_shows_claims_and_runs_get_organization_config() {
    let sim = start().await;
    let (ok, out, err) = run(exorun(&sim)
        .args(pfx_flags(&sim, "exorun-admin"))
        .args(["connect", "--test"]));
    assert!(ok, "{out}{err}");
    assert!(
        out.contains("Signed in to contoso.onmicrosoft.com"),
        "{out}"
    );
    assert!(
        out.contains("Exchange.ManageAsApp") && out.contains("Exchange Administrator"),
        "{out}"
    );
    assert!(out.contains("token expires:"), "{out}");
    assert!(
        out.contains("Get-OrganizationConfig: ✓ Contoso (contoso.onmicrosoft.com)"),
        "{out}"
    );

    let secret = sim.app("exorun-admin").secret_file.unwrap();
    let (ok, out, err) = run(exorun(&sim)
        .env("AZURE_CLIENT_ID", sim.app("exorun-admin").client_id)
        .env(
            "AZURE_CLIENT_SECRET",
            std::fs::read_to_string(secret).unwrap().trim(),
        )
        .args(["connect", "--test"]));
    assert!(ok, "AZURE_* variables alone are enough: {out}{err}");

    let (ok, out, _) = run(exorun(&sim)
        .args(pfx_flags(&sim, "exorun-noconsent"))
        .args(["connect"]));
    assert!(!ok);
    assert!(out.contains("lacks Exchange.ManageAsApp"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invoke_streams_every_page_in_each_format() {
    let sim = crate::support::start_with(|c| c.scenario.tenants[0].mailboxes = 1200).await;
    let flags = pfx_flags(&sim, "exorun-admin");
    let (ok, out, err) = run(exorun(&sim).args(&flags).args([
        "--page-size",
        "500",
        "invoke",
        "Get-Mailbox",
        "-ResultSize",
        "Unlimited",
        "--output",
        "json",
    ]));
    assert!(ok, "{err}");
    let rows: Vec<Value> = serde_json::from_str(&out).unwrap();
    assert_eq!(rows.len(), 1200);
    assert!(
        rows[0].get("Guid@odata.type").is_none(),
        "annotations are dropped"
    );

    let (ok, out, err) = run(exorun(&sim).args(&flags).args([
        "invoke",
        "--output",
        "csv",
        "--property",
        "UserPrincipalName,RecipientTypeDetails",
        "Get-Mailbox",
        "-RecipientTypeDetails",
        "SharedMailbox",
        "-ResultSize",
        "5",
    ]));
    assert!(ok, "{err}");
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("UserPrincipalName,RecipientTypeDetails"));
    assert!(lines.all(|l| l.ends_with(",SharedMailbox")));

    let (ok, out, err) = run(exorun(&sim).args(&flags).args([
        "invoke",
        "Get-Mailbox",
        "-Identity",
        "nobody@contoso.com",
    ]));
    assert!(!ok);
    assert!(err.contains("couldn't be found"), "{out}{err}");

    let (ok, out, err) =
        run(exorun(&sim)
            .args(&flags)
            .args(["invoke", "Get-Mailbox", "-ResultSize", "3"]));
    assert!(ok, "{err}");
    assert_eq!(
        out.lines().count(),
        2 + 3,
        "header, rule and three rows: {out}"
    );
    assert!(
        err.contains("more results available"),
        "the truncation warning is shown: {err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invoke_dry_run_sends_no_change() {
    let sim = start().await;
    let flags = pfx_flags(&sim, "exorun-admin");
    let (ok, _, err) = run(exorun(&sim).args(&flags).args([
        "invoke",
        "--dry-run",
        "Set-Mailbox",
        "-Identity",
        "room1",
        "-HiddenFromAddressListsEnabled",
        "$true",
    ]));
    assert!(ok, "{err}");
    assert!(err.contains("dry run: Set-Mailbox was not sent"), "{err}");
    let log = sim.requests().await;
    assert!(
        log.iter()
            .all(|e| e.cmdlet.as_deref() != Some("Set-Mailbox"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_checks_each_step_and_names_the_fix() {
    let sim = start().await;
    let (ok, out, _) = run(exorun(&sim)
        .args(pfx_flags(&sim, "exorun-admin"))
        .arg("doctor"));
    assert!(ok, "{out}");
    for step in [
        "tenant", "AppId", "files", "key", "validity", "token", "consent", "role", "exchange",
    ] {
        assert!(
            out.lines().any(|l| l.starts_with('✓') && l.contains(step)),
            "{step}: {out}"
        );
    }

    let (ok, out, _) = run(exorun(&sim)
        .args(pfx_flags(&sim, "exorun-norole"))
        .arg("doctor"));
    assert!(!ok);
    assert!(
        out.contains("✗ role") && out.contains("fix: Entra ID > Roles and administrators"),
        "{out}"
    );

    let (ok, out, _) = run(exorun(&sim)
        .args(pfx_flags(&sim, "exorun-noconsent"))
        .arg("doctor"));
    assert!(!ok);
    assert!(
        out.contains("✗ consent") && out.contains("Grant admin consent"),
        "{out}"
    );

    let mut flags = pfx_flags(&sim, "exorun-admin");
    flags[1] = "Payroll Sync".into();
    let (ok, out, _) = run(exorun(&sim).args(&flags).arg("doctor"));
    assert!(!ok);
    assert!(
        out.contains("✗ AppId") && out.contains("display name"),
        "{out}"
    );
}

/// The `✗` line of `step` and its fix line, from doctor's output.
fn failed_step<'a>(out: &'a str, step: &str) -> (&'a str, &'a str) {
    let mut lines = out.lines();
    let failed = lines
        .find(|l| l.starts_with(&format!("✗ {step} ")))
        .unwrap_or_else(|| panic!("no ✗ {step}: {out}"));
    (failed, lines.next().unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_says_which_password_is_wrong_and_how_to_give_a_missing_one() {
    let sim = start().await;
    let admin = sim.app("exorun-admin");
    let pfx = admin.pfx.clone().unwrap();
    let wrong = sim.write("wrong.pw", "Not-The-Password-5150\n");
    let (ok, out, _) = run(exorun(&sim)
        .args(["--app-id", &admin.client_id, "--certificate"])
        .arg(&pfx)
        .arg("--certificate-password-file")
        .arg(&wrong)
        .arg("doctor"));
    assert!(!ok, "{out}");
    let (failed, fix) = failed_step(&out, "key");
    assert_eq!(
        failed,
        format!(
            "✗ key        the password from the file {} is wrong for {}: the file's integrity check \
             (MAC) fails with it",
            wrong.display(),
            pfx.display()
        )
    );
    assert_eq!(
        fix,
        format!(
            "    fix: check that the file {} holds the password of {}, alone on one line; if it \
             certainly does, {} is damaged: export it again",
            wrong.display(),
            pfx.display(),
            pfx.display()
        )
    );
    assert!(!out.contains("Not-The-Password-5150"), "{out}");

    let (ok, out, _) = run(exorun(&sim)
        .args(["--app-id", &admin.client_id, "--certificate"])
        .arg(&pfx)
        .arg("doctor"));
    assert!(!ok, "{out}");
    let (failed, fix) = failed_step(&out, "key");
    assert_eq!(
        failed,
        format!(
            "✗ key        {} is password-protected and no password was given",
            pfx.display()
        )
    );
    assert_eq!(
        fix,
        "    fix: give the password with --certificate-password-file FILE, --certificate-password-env VAR or \
         --prompt-password (in a profile: certificate_password_file or certificate_password_env); when the \
         certificate comes from AZURE_CLIENT_CERTIFICATE_PATH, set AZURE_CLIENT_CERTIFICATE_PASSWORD"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_gives_a_concrete_fix_for_each_certificate_problem() {
    let sim = start().await;
    let admin = sim.app("exorun-admin");
    let other = sim.app("exorun-norole");
    let whole = std::fs::read(admin.pfx.clone().unwrap()).unwrap();
    let cut = sim.write("cut.pfx", &whole[..500]);
    let key = other.private_key.clone().unwrap();
    let cert = admin.certificate.clone().unwrap();
    let gone = sim.dir.path().join("gone.pfx");
    let cases: [(&[&std::ffi::OsStr], &str, String); 3] = [
        (
            &[
                "--certificate".as_ref(),
                cut.as_os_str(),
                "--certificate-password-file".as_ref(),
                admin.pfx_password_file.as_ref().unwrap().as_os_str(),
            ],
            "key",
            "    fix: export the certificate again with its private key, or copy the file again in binary mode"
                .into(),
        ),
        (
            &[
                "--certificate".as_ref(),
                cert.as_os_str(),
                "--key".as_ref(),
                key.as_os_str(),
            ],
            "key",
            format!(
                "    fix: give the key that was made with this certificate; to compare, `openssl x509 -noout \
                 -pubkey -in {}` and `openssl pkey -pubout -in {}`",
                cert.display(),
                key.display()
            ),
        ),
        (
            &["--certificate".as_ref(), gone.as_os_str()],
            "files",
            "    fix: check the path (relative paths in a profile are taken from the config file's directory)"
                .into(),
        ),
    ];
    for (flags, step, fix) in cases {
        let (ok, out, _) = run(exorun(&sim)
            .args(["--app-id", &admin.client_id])
            .args(flags)
            .arg("doctor"));
        assert!(!ok, "{out}");
        let (_, shown) = failed_step(&out, step);
        assert!(shown.starts_with(&fix), "{fix}\n{out}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invoke_names_the_key_file_when_the_key_belongs_to_another_certificate() {
    let sim = start().await;
    let admin = sim.app("exorun-admin");
    let cert = admin.certificate.clone().unwrap();
    let key = sim.app("exorun-norole").private_key.unwrap();
    let (ok, _, err) = run(exorun(&sim)
        .args(["--app-id", &admin.client_id, "--certificate"])
        .arg(&cert)
        .arg("--key")
        .arg(&key)
        .args(["invoke", "Get-Mailbox"]));
    assert!(!ok);
    assert!(
        err.starts_with(&format!(
            "exorun: the private key in {} does not belong to the certificate in {} (their public keys differ)\n  fix: give the key that was made with this certificate",
            key.display(),
            cert.display()
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!("`openssl pkey -pubout -in {}`", key.display())),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cert_new_writes_a_certificate_the_service_accepts() {
    let sim = start().await;
    let out_dir = sim.dir.path().join("newcert");
    let (ok, out, err) = run(exorun(&sim)
        .args([
            "cert",
            "new",
            "--subject",
            "exorun-automation",
            "--days",
            "30",
            "--out",
        ])
        .arg(&out_dir));
    assert!(ok, "{err}");
    let thumbprint = out
        .lines()
        .next()
        .unwrap()
        .trim_start_matches("Thumbprint: ")
        .to_string();
    assert_eq!(thumbprint.len(), 40, "{out}");
    for ext in ["cer", "pem", "pfx", "pfx-password"] {
        assert!(
            out_dir.join(format!("exorun-automation.{ext}")).exists(),
            "{ext}"
        );
    }
    let cer = std::fs::read(out_dir.join("exorun-automation.cer")).unwrap();
    let cert = openssl::x509::X509::from_der(&cer).unwrap();
    assert_eq!(cert.public_key().unwrap().rsa().unwrap().size() * 8, 3072);

    let app_id = "22222222-3333-4444-8555-666666666666";
    let registered = sim
        .http()
        .post(sim.control("apps"))
        .json(&json!({"certificate": out_dir.join("exorun-automation.cer"), "app_id": app_id}))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), 201);
    let body: Value = registered.json().await.unwrap();
    assert_eq!(
        body["thumbprint"],
        thumbprint.as_str(),
        "the printed thumbprint is the portal's"
    );

    let (ok, out, err) = run(exorun(&sim)
        .args(["--app-id", app_id, "--certificate"])
        .arg(out_dir.join("exorun-automation.pfx"))
        .arg("--certificate-password-file")
        .arg(out_dir.join("exorun-automation.pfx-password"))
        .args(["connect", "--test"]));
    assert!(ok, "{out}{err}");
    let (ok, out, err) = run(exorun(&sim)
        .args(["--app-id", app_id, "--certificate"])
        .arg(out_dir.join("exorun-automation.pem"))
        .args(["connect", "--test"]));
    assert!(ok, "{out}{err}");

    let (ok, _, err) = run(exorun(&sim)
        .args(["cert", "new", "--subject", "exorun-automation", "--out"])
        .arg(&out_dir));
    assert!(!ok && err.contains("exists"), "never overwrites: {err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thumbprint_is_found_in_the_user_store_in_any_spelling() {
    let sim = start().await;
    let store = sim.dir.path().join("store-user");
    std::fs::create_dir_all(&store).unwrap();
    let admin = sim.app("exorun-admin");
    let combined = [
        std::fs::read(admin.certificate.clone().unwrap()).unwrap(),
        std::fs::read(admin.private_key.clone().unwrap()).unwrap(),
    ]
    .concat();
    std::fs::write(store.join("automation.pem"), combined).unwrap();
    let thumbprint = admin.thumbprint.clone().unwrap();
    let spaced: String = thumbprint
        .to_lowercase()
        .as_bytes()
        .chunks(2)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ");
    let machine = sim.dir.path().join("store-machine");
    let (ok, out, err) = run(exorun(&sim)
        .env("EXORUN_CERT_STORE_USER", &store)
        .env("EXORUN_CERT_STORE_MACHINE", &machine)
        .args([
            "--app-id",
            &admin.client_id,
            "--thumbprint",
            &spaced,
            "connect",
            "--test",
        ]));
    assert!(ok, "{out}{err}");

    let (ok, _, err) = run(exorun(&sim)
        .env("EXORUN_CERT_STORE_USER", &store)
        .env("EXORUN_CERT_STORE_MACHINE", &machine)
        .args([
            "--app-id",
            &admin.client_id,
            "--thumbprint",
            "0000000000000000000000000000000000000000",
            "connect",
        ]));
    assert!(!ok);
    assert!(
        err.contains(store.to_str().unwrap()) && err.contains(machine.to_str().unwrap()),
        "lists where it looked: {err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profiles_supply_settings_and_flags_override_them() {
    let sim = start().await;
    let admin = sim.app("exorun-admin");
    let config = sim.write(
        "config.toml",
        format!(
            "default_profile = \"contoso\"\n[profiles.contoso]\nclient_id = \"{}\"\ntenant = \"{}\"\ncertificate_path = \"{}\"\ncertificate_password_file = \"{}\"\n",
            admin.client_id,
            sim.info().tenant_domain,
            admin.pfx.unwrap().display(),
            admin.pfx_password_file.unwrap().display()
        ),
    );
    let (ok, out, err) = run(exorun(&sim)
        .env_remove("AZURE_TENANT_ID")
        .arg("--config-file")
        .arg(&config)
        .args(["connect", "--test"]));
    assert!(ok, "{out}{err}");
    let (ok, _, err) =
        run(exorun(&sim)
            .arg("--config-file")
            .arg(&config)
            .args(["--profile", "nope", "connect"]));
    assert!(!ok && err.contains("no profile 'nope'"), "{err}");
    let (ok, _, err) = run(exorun(&sim)
        .arg("--config-file")
        .arg(&config)
        .args(["--tenant", "contoso", "connect"]));
    assert!(
        !ok && err.contains("contoso.onmicrosoft.com"),
        "the flag wins and is checked: {err}"
    );
    assert!(Path::new(&config).exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_written_to_a_file_have_no_colour_codes() {
    let sim = start().await;
    let log = sim.dir.path().join("exorun.log");
    let status = exorun(&sim)
        .args(pfx_flags(&sim, "exorun-admin"))
        .args(["invoke", "Get-OrganizationConfig"])
        .env("RUST_LOG", "exorun=debug")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .status()
        .unwrap();
    assert!(status.success());
    let bytes = std::fs::read(&log).unwrap();
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.contains("DEBUG"), "debug lines were logged: {text}");
    assert!(!bytes.contains(&0x1b), "no escape codes in a file: {text}");
}

#[test]
fn completions_cover_every_command_for_each_shell() {
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let (ok, out, err) =
            run(Command::new(env!("CARGO_BIN_EXE_exorun")).args(["completions", shell]));
        assert!(ok, "{shell}: {err}");
        for word in [
            "connect",
            "invoke",
            "doctor",
            "run",
            "plugin",
            "inspect",
            "cert",
            "completions",
            "audit",
            "verify",
            "output",
            "app-id",
        ] {
            assert!(out.contains(word), "the {shell} script lacks {word}");
        }
    }
    let (ok, _, err) =
        run(Command::new(env!("CARGO_BIN_EXE_exorun")).args(["completions", "tcsh"]));
    assert!(!ok && err.contains("possible values"), "{err}");
}

/// An Exchange token of the emulator's admin app, fetched through the library.
async fn admin_token(sim: &Sim) -> exorun::auth::AccessToken {
    let admin = exorun::Connection::open(sim.secret_settings("exorun-admin")).unwrap();
    admin
        .tokens()
        .token(exorun::auth::Resource::Exchange)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_access_token_needs_no_organization() {
    let sim = start().await;
    let token = admin_token(&sim).await;
    let (ok, out, err) = run(exorun(&sim)
        .env_remove("AZURE_TENANT_ID")
        .env("EXORUN_ACCESS_TOKEN", token.secret.expose())
        .args(["invoke", "Get-OrganizationConfig", "--output", "json"]));
    assert!(ok, "{err}");
    assert!(out.contains("contoso.onmicrosoft.com"), "{out}");
    let token_file = sim.write("token.txt", token.secret.expose());
    let (ok, out, err) = run(exorun(&sim)
        .env_remove("AZURE_TENANT_ID")
        .arg("--access-token-command")
        .arg(format!("cat '{}'", token_file.display()))
        .args(["connect", "--test"]));
    assert!(ok, "{err}");
    assert!(
        out.contains(&format!("Signed in to tenant {}", sim.info().tenant_id)),
        "{out}"
    );
    let (ok, out, _) = run(exorun(&sim)
        .env_remove("AZURE_TENANT_ID")
        .arg("--access-token-file")
        .arg(&token_file)
        .arg("doctor"));
    assert!(ok, "{out}");
    assert!(out.contains("✓ tenant"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_command_is_one_quoted_string_before_or_after_the_command() {
    let sim = start().await;
    let token = admin_token(&sim).await;
    let dir = sim.dir.path().join("token dir");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("token.txt");
    std::fs::write(&file, token.secret.expose()).unwrap();
    // {resource} is replaced inside the words; the quoted path with a space stays one word.
    let command = format!(
        r#"sh -c 'test "$1" = https://outlook.office365.com && cat "$2"' sh {{resource}} '{}'"#,
        file.display()
    );
    for args in [
        vec![
            "--access-token-command",
            &command,
            "invoke",
            "Get-OrganizationConfig",
        ],
        vec![
            "invoke",
            "--access-token-command",
            &command,
            "Get-OrganizationConfig",
        ],
    ] {
        let (ok, out, err) = run(exorun(&sim).args(&args).args(["--output", "json"]));
        assert!(ok, "{args:?}: {err}");
        assert!(out.contains("contoso.onmicrosoft.com"), "{out}");
    }
}

#[test]
fn every_command_has_help() {
    for args in [
        vec!["--help"],
        vec!["connect", "--help"],
        vec!["invoke", "--help"],
        vec!["doctor", "--help"],
        vec!["cert", "new", "--help"],
        vec!["run", "--help"],
        vec!["plugin", "inspect", "--help"],
        vec!["plugin", "check", "--help"],
        vec!["plugin", "pack", "--help"],
        vec!["completions", "--help"],
        vec!["audit", "verify", "--help"],
        vec!["audit", "show", "--help"],
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_exorun"))
            .args(&args)
            .output()
            .unwrap();
        assert!(output.status.success(), "{args:?}");
        assert!(!output.stdout.is_empty());
    }
}

#[test]
fn help_ends_with_examples_to_copy() {
    for (command, example) in [
        ("connect", "exorun connect --profile contoso --compliance"),
        (
            "invoke",
            "exorun invoke Get-Mailbox -ResultSize Unlimited --output csv",
        ),
        (
            "invoke",
            "-Identity ann@contoso.com -HiddenFromAddressListsEnabled '$false'",
        ),
        (
            "run",
            r#"exorun run target/plugins/mailbox-inventory.wasm --input '{"statistics": true}'"#,
        ),
    ] {
        for help in ["-h", "--help"] {
            let (ok, out, _) =
                run(Command::new(env!("CARGO_BIN_EXE_exorun")).args([command, help]));
            assert!(ok);
            assert!(
                out.contains("\nExamples:\n") && out.contains(example),
                "{command} {help}: {out}"
            );
        }
    }
}

#[test]
fn help_names_the_variables_and_never_their_values() {
    let variables = [
        ("AZURE_CLIENT_ID", "--app-id"),
        ("AZURE_TENANT_ID", "--organization"),
        ("AZURE_CLIENT_CERTIFICATE_PATH", "--certificate"),
        ("AZURE_CLIENT_CERTIFICATE_PASSWORD", "--certificate"),
        ("AZURE_CLIENT_SECRET", "--client-secret-env"),
        ("EXORUN_ACCESS_TOKEN", "--access-token-env"),
        ("AZURE_AUTHORITY_HOST", "--authority"),
        ("EXORUN_EXCHANGE_URL", "--exchange-url"),
        ("EXORUN_COMPLIANCE_URL", "--compliance-url"),
        ("EXORUN_CA_FILE", "--ca-file"),
        ("EXORUN_PROFILE", "--profile"),
        ("EXORUN_CONFIG", "--config-file"),
        ("EXORUN_AUDIT_LOG", "--audit-log"),
    ];
    let mut command = Command::new(env!("CARGO_BIN_EXE_exorun"));
    for (i, (name, _)) in variables.iter().enumerate() {
        command.env(name, format!("value-{i}-never-shown"));
    }
    let (ok, out, err) = run(command.args(["invoke", "--help"]));
    assert!(ok, "{err}");
    assert!(!out.contains("never-shown"), "a value is shown: {out}");
    for (name, option) in variables {
        let block: Vec<&str> = out
            .lines()
            .skip_while(|l| !l.trim_start().starts_with(&format!("{option} ")))
            .take_while(|l| !l.is_empty())
            .collect();
        let block = block.join("\n");
        assert!(
            block.contains(name),
            "{option} does not name {name}: {block}"
        );
    }
}

#[test]
fn bad_values_are_usage_errors() {
    for args in [
        ["--page-size", "0", "invoke", "Get-Mailbox"].as_slice(),
        &["invoke", "--page-size", "5000", "Get-Mailbox"],
        &["invoke", "--max-concurrency", "0", "Get-Mailbox"],
        &["run", "p.wasm", "--timeout", "abc"],
        &["run", "p.wasm", "--timeout", "-5s"],
        &["run", "p.wasm", "--memory", "lots"],
        &["run", "p.wasm", "--config", "ignore_trustees"],
        &["run", "p.wasm", "--input", "{statistics: true}"],
        &["invoke", "Get-Mailbox", "--output", "xml"],
        &[
            "invoke",
            "Get-Mailbox",
            "-ResultSize",
            "5",
            "--output",
            "xml",
        ],
        &["invoke", "Get-Mailbox", "-ResultSize", "5", "--output"],
        &[
            "invoke",
            "Get-Mailbox",
            "-ResultSize",
            "5",
            "--Identity",
            "ann",
        ],
        &["invoke", "Get-Mailbox", "-ResultSize", "5", "--app-id", "x"],
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_exorun"))
            .args(args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.starts_with("error: ") && err.contains("try '--help'"),
            "{args:?}: {err}"
        );
    }
    // Failures that are not usage errors stay exit code 1.
    let output = Command::new(env!("CARGO_BIN_EXE_exorun"))
        .env_clear()
        .args(["run", "no-such-plugin.wasm", "--timeout", "90s"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let output = Command::new(env!("CARGO_BIN_EXE_exorun"))
        .env_clear()
        .args(["run", "p.wasm", "--input", "@no-such-input.json"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
}

#[test]
fn only_commands_that_sign_in_list_the_sign_in_options() {
    let help = |args: &[&str]| {
        let (ok, out, err) = run(Command::new(env!("CARGO_BIN_EXE_exorun")).args(args));
        assert!(ok, "{args:?}: {err}");
        out
    };
    for command in ["connect", "invoke", "doctor", "run"] {
        let out = help(&[command, "--help"]);
        assert!(
            out.contains("Sign-in options:")
                && out.contains("--app-id")
                && out.contains("--ca-file"),
            "{command}: {out}"
        );
    }
    for args in [
        ["plugin", "--help"].as_slice(),
        &["plugin", "inspect", "--help"],
        &["plugin", "check", "--help"],
        &["cert", "new", "--help"],
        &["completions", "--help"],
        &["--help"],
    ] {
        let out = help(args);
        assert!(
            !out.contains("--app-id <") && !out.contains("--certificate-password-file"),
            "{args:?} lists sign-in options: {out}"
        );
    }
}

/// Runs `exorun` to completion with stdout discarded and returns its peak RSS in KiB.
pub fn peak_rss_kib(command: &mut Command) -> u64 {
    let mut child = command
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    loop {
        if let Ok(status) = std::fs::read_to_string(&status_file) {
            let hwm = status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.split_whitespace().next()?.parse().ok());
            peak = peak.max(hwm.unwrap_or(0));
        }
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "exorun failed");
            return peak;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streaming_100000_mailboxes_keeps_memory_flat() {
    let sim = crate::support::start_with(|c| c.scenario.tenants[0].mailboxes = 100_000).await;
    let flags = pfx_flags(&sim, "exorun-admin");
    let invoke = |limit: &str| {
        let mut command = exorun(&sim);
        command.args(&flags).args([
            "invoke",
            "Get-Mailbox",
            "-ResultSize",
            limit,
            "--output",
            "jsonl",
        ]);
        command
    };
    // 10,000 rows already reach the steady state: a page written, one waiting, one fetched.
    let small = peak_rss_kib(&mut invoke("10000"));
    let large = peak_rss_kib(&mut invoke("Unlimited"));
    assert!(
        large < small + 16 * 1024,
        "streaming 100,000 mailboxes took {large} KiB at peak, 10,000 took {small} KiB: memory grows with the result"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cert_new_checks_everything_before_writing_and_reads_a_distinguished_name() {
    let sim = start().await;
    let out_dir = sim.dir.path().join("certs");
    let cert_new = |args: &[&str]| {
        let output = exorun(&sim)
            .args(["cert", "new", "--out"])
            .arg(&out_dir)
            .args(args)
            .output()
            .unwrap();
        let (out, err) = text(&output);
        (output.status.code(), out, err)
    };
    let written = || {
        std::fs::read_dir(&out_dir)
            .map(|d| d.count())
            .unwrap_or_default()
    };
    for (args, expected) in [
        (
            &["--subject", "exorun-automation", "--days", "0"][..],
            "1 to 36500",
        ),
        (
            &["--subject", "CN=x, FOO=bar"],
            "FOO is not an attribute exorun writes",
        ),
        (&["--subject", "O=Contoso"], "has no CN"),
    ] {
        let (code, _, err) = cert_new(args);
        assert_eq!(code, Some(2), "{args:?}: {err}");
        assert!(err.contains(expected), "{args:?}: {err}");
        assert_eq!(written(), 0, "{args:?}: nothing was written");
    }
    let (code, _, err) = cert_new(&["--subject", "exorun-automation", "--days", "30"]);
    assert_eq!(code, Some(0), "the corrected rerun works: {err}");

    let (code, out, err) = cert_new(&["--subject", "CN=x, O=Contoso\\, Ltd, C=US"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.contains("x.cer"),
        "the files are named by the CN: {out}"
    );
    let cer = std::fs::read(out_dir.join("x.cer")).unwrap();
    let cert = openssl::x509::X509::from_der(&cer).unwrap();
    let entries: Vec<(String, String)> = cert
        .subject_name()
        .entries()
        .map(|e| {
            (
                e.object().nid().short_name().unwrap().to_string(),
                e.data().to_string().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        entries,
        [
            ("C".to_string(), "US".to_string()),
            ("O".to_string(), "Contoso, Ltd".to_string()),
            ("CN".to_string(), "x".to_string())
        ],
        "stored in reverse, so viewers show it as written"
    );
    assert!(
        out.contains("subject:  CN=x, O=Contoso\\, Ltd, C=US"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_from_a_profile_and_the_environment_never_mix_silently() {
    let sim = start().await;
    let (admin, reader) = (sim.app("exorun-admin"), sim.app("exorun-reader"));
    let profile = |with_app_id: bool| {
        let app_id = if with_app_id {
            format!("app_id = \"{}\"\n", reader.client_id)
        } else {
            String::new()
        };
        sim.write(
            "config.toml",
            format!(
                "[profiles.reader]\n{app_id}certificate_path = \"{}\"\ncertificate_password_file = \"{}\"\n",
                reader.pfx.clone().unwrap().display(),
                reader.pfx_password_file.clone().unwrap().display()
            ),
        )
    };
    let with_profile = |config: &Path, command: &str| {
        let mut c = exorun(&sim);
        c.arg("--config-file")
            .arg(config)
            .args(["--profile", "reader", command]);
        c
    };

    // The profile's app id and an ambient AZURE_CLIENT_ID disagree: an error naming both.
    let config = profile(true);
    let (ok, _, err) =
        run(with_profile(&config, "connect").env("AZURE_CLIENT_ID", &admin.client_id));
    assert!(!ok);
    assert!(
        err.contains(&format!(
            "the app id is given two ways: AZURE_CLIENT_ID says {}, and profile 'reader' ({}) says {}; exorun does not pick one silently",
            admin.client_id,
            config.display(),
            reader.client_id
        )) && err.contains("fix: unset AZURE_CLIENT_ID to use the profile's, or pass --app-id"),
        "{err}"
    );
    // The profile gives the certificate and the environment the app id: also an error.
    let config = profile(false);
    let (ok, _, err) =
        run(with_profile(&config, "connect").env("AZURE_CLIENT_ID", &admin.client_id));
    assert!(!ok);
    assert!(
        err.contains(&format!(
            "the credential comes from profile 'reader' ({}) but the app id from AZURE_CLIENT_ID",
            config.display()
        )),
        "{err}"
    );
    assert!(sim.requests().await.is_empty(), "nothing was sent");

    // Without the conflict, connect and doctor say where each setting came from.
    let config = profile(true);
    for command in ["connect", "doctor"] {
        let (ok, out, err) = run(&mut with_profile(&config, command));
        assert!(ok, "{command}: {out}{err}");
        let from_profile = format!("profile 'reader' ({})", config.display());
        for line in [
            format!("app id          {from_profile}"),
            "organization    AZURE_TENANT_ID".to_string(),
            format!("credential      {from_profile}"),
            "authority       AZURE_AUTHORITY_HOST".to_string(),
            "ca file         EXORUN_CA_FILE".to_string(),
        ] {
            assert!(out.contains(&line), "{command}: {line}\n{out}");
        }
    }
    let (ok, out, err) = run(exorun(&sim)
        .args(pfx_flags(&sim, "exorun-admin"))
        .arg("connect"));
    assert!(ok, "{err}");
    assert!(
        out.contains("app id          --app-id") && out.contains("credential      --certificate"),
        "{out}"
    );
}
