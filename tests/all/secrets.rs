//! Secrets never leak: with `RUST_LOG=trace`, known passwords, secrets and tokens appear in no
//! output, log line or error, whether the run succeeds or fails.

use std::process::Command;

use exorun::Connection;
use exorun::auth::Resource;
use exorun::config::CredentialSpec;
use exorun::secret::{Secret, SecretSource};

use crate::cli::exorun;
use crate::support::start;

fn everything(command: &mut Command) -> String {
    let output = command.env("RUST_LOG", "trace").output().unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_appears_in_any_output_or_log() {
    let sim = start().await;
    let admin = sim.app("exorun-admin");
    let pfx_password = std::fs::read_to_string(admin.pfx_password_file.clone().unwrap())
        .unwrap()
        .trim()
        .to_string();
    let client_secret = std::fs::read_to_string(admin.secret_file.clone().unwrap())
        .unwrap()
        .trim()
        .to_string();
    let token = Connection::open(sim.secret_settings("exorun-admin"))
        .unwrap()
        .tokens()
        .token(Resource::Exchange)
        .await
        .unwrap();
    let token = token.secret.expose().to_string();

    let pfx = [
        "--app-id",
        &admin.client_id,
        "--certificate",
        admin.pfx.as_ref().unwrap().to_str().unwrap(),
    ];
    let outputs = [
        everything(exorun(&sim).args(pfx).env("PFX_PW", &pfx_password).args([
            "--certificate-password-env",
            "PFX_PW",
            "connect",
            "--test",
        ])),
        everything(
            exorun(&sim)
                .args(pfx)
                .env("PFX_PW", "wrong-password-1234")
                .args(["--certificate-password-env", "PFX_PW", "connect"]),
        ),
        everything(
            exorun(&sim)
                .env("AZURE_CLIENT_ID", &admin.client_id)
                .env("AZURE_CLIENT_SECRET", &client_secret)
                .args(["invoke", "Get-Mailbox", "-ResultSize", "5"]),
        ),
        everything(
            exorun(&sim)
                .env("AZURE_CLIENT_ID", &admin.client_id)
                .env("AZURE_CLIENT_SECRET", "wrong-secret-5678")
                .args(["connect"]),
        ),
        everything(exorun(&sim).env("EXORUN_ACCESS_TOKEN", &token).args([
            "invoke",
            "Get-OrganizationConfig",
            "--output",
            "json",
        ])),
        everything(exorun(&sim).args(pfx).env("PFX_PW", &pfx_password).args([
            "--certificate-password-env",
            "PFX_PW",
            "doctor",
        ])),
        everything(
            exorun(&sim)
                .args(pfx)
                .env("PFX_PW", "wrong-password-1234")
                .args(["--certificate-password-env", "PFX_PW", "doctor"]),
        ),
        everything(
            exorun(&sim)
                .args(pfx)
                .env("AZURE_CLIENT_CERTIFICATE_PASSWORD", &pfx_password)
                .arg("doctor"),
        ),
        everything(
            exorun(&sim)
                .args(pfx)
                .arg("--certificate-password-file")
                .arg(sim.write("wrong.pw", "wrong-password-1234"))
                .args(["invoke", "Get-Mailbox"]),
        ),
    ];
    let all = outputs.join("\n");
    assert!(all.contains("Signed in to"), "the runs did run: {all}");
    assert!(
        all.contains("the password from the environment variable PFX_PW is wrong")
            && all.contains("is password-protected and no password was given")
            && all.contains("the password from the file"),
        "the refusals were reached: {all}"
    );
    for (what, secret) in [
        ("PFX password", pfx_password.as_str()),
        ("wrong PFX password", "wrong-password-1234"),
        ("client secret", client_secret.as_str()),
        ("wrong client secret", "wrong-secret-5678"),
        ("access token", token.as_str()),
    ] {
        assert!(!all.contains(secret), "the {what} leaked");
    }
    assert!(
        !all.contains("eyJ"),
        "no JWT (token or client assertion) is ever printed"
    );
    assert!(!all.contains("panicked"), "{all}");
}

#[test]
fn debug_output_redacts() {
    let spec = CredentialSpec::ClientSecret(SecretSource::Env("AZURE_CLIENT_SECRET".into()));
    assert!(!format!("{spec:?}").contains("shh"));
    let secret = Secret::new("shh-very-secret");
    assert!(!format!("{secret:?} {secret}").contains("shh"));
    let credential = exorun::auth::entra::ClientCredential::Secret(secret);
    assert!(!format!("{credential:?}").contains("shh"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_given_where_a_name_belongs_is_refused_and_never_shown() {
    let sim = start().await;
    let admin = sim.app("exorun-admin");
    let pfx = admin.pfx.clone().unwrap();
    for (flag, secret) in [
        ("--certificate-password-env", "p@ss word!2026"),
        ("--certificate-password-env", "Summer2026"),
        ("--client-secret-env", "Xy8Q~abc.def_ghi-jkl"),
        ("--client-secret-file", "Xy8Q~abc.def_ghi-jkl"),
        ("--certificate-password-file", "p@ss word!2026"),
        ("--access-token-env", "eyJhbGciOi.x.y"),
    ] {
        for before in [true, false] {
            let mut command = exorun(&sim);
            command.args(["--app-id", &admin.client_id]);
            if flag.starts_with("--certificate") {
                command.arg("--certificate").arg(&pfx);
            }
            if before {
                command.args([flag, secret, "connect"]);
            } else {
                command.args(["connect", flag, secret]);
            }
            let output = command.env("RUST_LOG", "trace").output().unwrap();
            let all = format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
            assert_eq!(output.status.code(), Some(2), "{flag}: {all}");
            assert!(!all.contains(secret), "{flag} echoed its value: {all}");
            assert!(
                all.contains(&format!("{flag} takes the name of"))
                    && all.contains("it is not shown here, in case it is the secret itself")
                    && all.contains("Secrets are refused on the command line on purpose"),
                "{flag}: {all}"
            );
        }
    }
    assert!(sim.requests().await.is_empty(), "nothing was sent");

    // A variable written with its `$` is named back without it (it is a name, not a secret).
    let output = exorun(&sim)
        .args(["--app-id", &admin.client_id, "--certificate"])
        .arg(&pfx)
        .args(["--certificate-password-env", "$PFX_PW", "connect"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--certificate-password-env takes the variable's name without the $: --certificate-password-env PFX_PW"),
        "{err}"
    );
}

#[test]
fn cert_new_never_echoes_a_password_given_where_its_name_belongs() {
    let dir = tempfile::tempdir().unwrap();
    for (flag, secret) in [
        ("--password-env", "hunter2 pw!"),
        ("--password-env", "Summer2026"),
        ("--password-file", "hunter2pw"),
    ] {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_exorun"))
            .env_clear()
            .args(["cert", "new", "--subject", "x", "--out"])
            .arg(dir.path().join("out"))
            .args([flag, secret])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{flag}: {err}");
        assert!(!err.contains(secret), "{flag} echoed its value: {err}");
        assert!(
            err.contains(&format!("{flag} takes the name of"))
                && err.contains("refused on the command line on purpose"),
            "{flag}: {err}"
        );
        assert!(!dir.path().join("out").exists(), "nothing was written");
    }
}
