//! People's mistakes, as one table: each case gives the real `exorun` binary a bad file, flag,
//! config, certificate, policy, workflow, plugin input or service address (or meets a service
//! fault), and checks the exit code, the words of the message, that nothing (or no change) was
//! sent to exorun-sim, that no secret was echoed, and that nothing was left half-written: the
//! home directory (config, policy, audit log, runs, checkpoints, output files) is byte for byte
//! what it was before the case, but for the audit records of requests that were really sent.
//!
//! One emulator serves every case, one after the other (a case's requests are the log entries
//! after the ones before it). `RELIABILITY.md` ("Bad input") lists the cases with the first line
//! each prints; `EXORUN_BAD_INPUTS_SHOW=1` prints that list from the run.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use openssl::asn1::Asn1Time;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::x509::{X509, X509NameBuilder};
use serde_json::{Value, json};

use crate::support::{Sim, artifact, start};

/// What a case may have sent to the emulator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sent {
    /// Not one request: refused before signing in.
    Nothing,
    /// Sign-in and reads at most: no InvokeCommand that changes anything.
    NoChange,
}

/// One bad input.
struct Case {
    /// What the person did wrong, as the table names it.
    name: &'static str,
    /// The command line after `exorun` (setup files are already written).
    args: Vec<String>,
    /// Extra environment variables.
    env: Vec<(String, String)>,
    /// Faults the emulator is set to for this case (reset after it).
    faults: Option<Value>,
    /// The exit code.
    code: i32,
    /// Words the message (stderr) must contain.
    says: Vec<String>,
    /// What may reach the emulator.
    sent: Sent,
    /// Text that must appear nowhere in the output (a secret given in the wrong place).
    hidden: Option<String>,
    /// The audit log may gain records (the case really reached the service).
    audited: bool,
}

impl Case {
    fn new(name: &'static str, args: impl IntoIterator<Item = impl ToString>) -> Case {
        Case {
            name,
            args: args.into_iter().map(|a| a.to_string()).collect(),
            env: Vec::new(),
            faults: None,
            code: 1,
            says: Vec::new(),
            sent: Sent::Nothing,
            hidden: None,
            audited: false,
        }
    }

    /// The exit code and the words of the message.
    fn exits(mut self, code: i32, says: &[&str]) -> Case {
        self.code = code;
        self.says = says.iter().map(|s| s.to_string()).collect();
        self
    }

    fn env(mut self, name: &str, value: &str) -> Case {
        self.env.push((name.into(), value.into()));
        self
    }

    fn faults(mut self, faults: Value) -> Case {
        self.faults = Some(faults);
        self
    }

    /// Reads and sign-in may be sent (and audited), no change.
    fn reaches_service(mut self) -> Case {
        self.sent = Sent::NoChange;
        self.audited = true;
        self
    }

    fn hides(mut self, secret: &str) -> Case {
        self.hidden = Some(secret.into());
        self
    }
}

/// The shared emulator, the home directory every case runs in, and its setup files.
struct Bench {
    sim: Sim,
    home: tempfile::TempDir,
}

impl Bench {
    /// A path in the home directory, as a string for a command line.
    fn path(&self, name: &str) -> String {
        self.home.path().join(name).display().to_string()
    }

    /// Writes a setup file in the home directory and returns its path.
    fn file(&self, name: &str, contents: impl AsRef<[u8]>) -> String {
        let path = self.home.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, contents).unwrap();
        path.display().to_string()
    }

    /// `exorun` with the emulator's endpoints, a clean environment and the bench's home.
    fn exorun(&self) -> Command {
        let info = self.sim.info();
        let mut command = Command::new(env!("CARGO_BIN_EXE_exorun"));
        command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.home.path())
            .env("AZURE_AUTHORITY_HOST", &info.base_url)
            .env("EXORUN_EXCHANGE_URL", &info.base_url)
            .env(
                "EXORUN_COMPLIANCE_URL",
                format!("{}/compliance", info.base_url),
            )
            .env("EXORUN_CA_FILE", &info.ca_file)
            .env("AZURE_TENANT_ID", &info.tenant_domain)
            .current_dir(self.home.path());
        command
    }

    /// The sign-in flags of an app with its PFX.
    fn pfx(&self, app: &str) -> Vec<String> {
        crate::cli::pfx_flags(&self.sim, app)
    }

    /// Every file and directory under the home directory but the compiled-plugin cache, with
    /// its contents.
    fn snapshot(&self) -> BTreeMap<PathBuf, Option<Vec<u8>>> {
        fn walk(dir: &Path, root: &Path, into: &mut BTreeMap<PathBuf, Option<Vec<u8>>>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                let relative = path.strip_prefix(root).unwrap().to_path_buf();
                if relative.starts_with(".cache") {
                    continue;
                }
                let meta = std::fs::symlink_metadata(&path).unwrap();
                if meta.is_dir() {
                    into.insert(relative, None);
                    walk(&path, root, into);
                } else if meta.is_file() && meta.permissions().readonly() {
                    into.insert(relative, Some(b"(read-only)".to_vec()));
                } else if meta.is_file() {
                    into.insert(relative, Some(std::fs::read(&path).unwrap()));
                } else {
                    into.insert(relative, Some(b"(link)".to_vec()));
                }
            }
        }
        let mut files = BTreeMap::new();
        walk(self.home.path(), self.home.path(), &mut files);
        files
    }
}

/// The audit log's place under the bench's home.
const AUDIT_LOG: &str = ".local/state/exorun/audit.jsonl";

/// A self-signed certificate valid from `start_days` to `end_days` from now.
fn certificate(key: &PKey<Private>, start_days: i64, end_days: i64) -> X509 {
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", "exorun-automation")
        .unwrap();
    let name = name.build();
    let mut builder = X509::builder().unwrap();
    builder.set_version(2).unwrap();
    builder.set_subject_name(&name).unwrap();
    builder.set_issuer_name(&name).unwrap();
    builder.set_pubkey(key).unwrap();
    let now = chrono::Utc::now().timestamp();
    builder
        .set_not_before(&Asn1Time::from_unix(now + start_days * 86_400).unwrap())
        .unwrap();
    builder
        .set_not_after(&Asn1Time::from_unix(now + end_days * 86_400).unwrap())
        .unwrap();
    builder.sign(key, MessageDigest::sha256()).unwrap();
    builder.build()
}

/// `args` after the sign-in flags of `flags`.
fn signed_in(flags: &[String], args: &[&str]) -> Vec<String> {
    flags
        .iter()
        .cloned()
        .chain(args.iter().map(|a| a.to_string()))
        .collect()
}

/// The table: every case, its setup files written into the bench's home.
fn cases(bench: &Bench) -> Vec<Case> {
    let admin = bench.pfx("exorun-admin");
    let app = bench.sim.app("exorun-admin");
    let app_id = app.client_id.clone();
    let pfx = app.pfx.clone().unwrap().display().to_string();
    let pfx_password = app.pfx_password_file.clone().unwrap().display().to_string();
    let auto_reply = artifact("auto-reply").display().to_string();
    let with_cert = |certificate: &str, rest: &[&str]| {
        let mut args = vec![
            "--app-id".to_string(),
            app_id.clone(),
            "--certificate".into(),
            certificate.into(),
            "--certificate-password-file".into(),
            pfx_password.clone(),
        ];
        args.extend(rest.iter().map(|a| a.to_string()));
        args
    };
    let run_auto_reply = |input: &str, rest: &[&str]| {
        let mut args = signed_in(
            &admin,
            &["run", &auto_reply, "--output", "jsonl", "--input", input],
        );
        args.extend(rest.iter().map(|a| a.to_string()));
        args
    };
    let good_input = r#"{"identities": ["ann@contoso.com"], "state": "Enabled"}"#;

    // Setup files.
    let empty = bench.file("files/empty.pfx", "");
    let binary = bench.file("files/binary.toml", [0u8, 159, 146, 150, 0, 255, 1, 2, 3]);
    let latin1 = bench.file(
        "files/latin1.json",
        b"{\"identities\": [\"ren\xe9@contoso.com\"], \"state\": \"Enabled\"}",
    );
    let utf16: Vec<u8> = std::iter::once(0xFEFFu16)
        .chain("name = \"w\"\n".encode_utf16())
        .flat_map(|u| u.to_le_bytes())
        .collect();
    let utf16 = bench.file("files/utf16.toml", utf16);
    std::fs::create_dir_all(bench.home.path().join("files/a-directory")).unwrap();
    let directory = bench.path("files/a-directory");
    let dangling = bench.path("files/dangling.pfx");
    std::os::unix::fs::symlink(bench.home.path().join("files/gone.pfx"), &dangling).unwrap();
    let empty_password = bench.file("files/empty.pw", "");
    let unreadable = bench.file("files/unreadable.pfx", std::fs::read(&pfx).unwrap());
    std::fs::set_permissions(&unreadable, std::fs::Permissions::from_mode(0o000)).unwrap();
    // Root reads it all the same: the case is left out then.
    let unreadable = std::fs::read(&unreadable).is_err().then_some(unreadable);
    let text_plugin = bench.file("files/notes.wasm", "this is not a plugin\n");

    let profiles = format!(
        "[profiles.ops]\napp_id = \"{app_id}\"\ncertificate_path = \"{pfx}\"\ncertificate_password_file = \"{pfx_password}\"\n"
    );
    let config = bench.file("config/config.toml", &profiles);
    let bad_toml = bench.file(
        "config/bad.toml",
        format!("[profiles.ops]\napp_id = {app_id}\n"),
    );
    let unknown_key = bench.file(
        "config/typo.toml",
        profiles.replace("certificate_path", "certificate_pth"),
    );
    let config_secret = "Qx8~rT2vLm.Np4_sW9zKj3-Hb6yFd1cVg";
    let secret_in_config = bench.file(
        "config/secret.toml",
        format!("[profiles.ops]\napp_id = \"{app_id}\"\nclient_secret_env = \"{config_secret}\"\n"),
    );
    let flag_secret = "Zk3~pQ8vWm.Lr5_tY2xNc7-Gs4bHe9jUa";

    let wrong_password = bench.file("certs/wrong.pw", "Summer2026!");
    let not_a_cert = bench.file(
        "certs/not-a-cert.pem",
        "-----BEGIN CERTIFICATE-----\nthis is the thumbprint, not the certificate\n-----END CERTIFICATE-----\n",
    );
    let rsa = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
    let key_pem = rsa.private_key_to_pem_pkcs8().unwrap();
    let expired_cert = bench.file(
        "certs/expired.pem",
        certificate(&rsa, -400, -30).to_pem().unwrap(),
    );
    let expired_key = bench.file("certs/expired.key", &key_pem);
    let other_key = bench.file("certs/other.key", &key_pem);
    let admin_cert = app.certificate.clone().unwrap().display().to_string();

    // Policies: the default one (~/.config/exorun/policy.toml) admits auto-reply.
    let init = bench
        .exorun()
        .args(["policy", "init", &auto_reply])
        .output()
        .unwrap();
    assert!(
        init.status.success(),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );
    let policy = String::from_utf8(init.stdout).unwrap();
    bench.file(".config/exorun/policy.toml", &policy);
    let digest = policy
        .lines()
        .find_map(|l| l.strip_prefix("digest = \""))
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_string();
    let bad_policy = bench.file("policies/bad.toml", "[[plugin]\nname = \"auto-reply\"\n");
    let typo_policy = bench.file(
        "policies/typo.toml",
        policy.replace(
            "name = \"Set-MailboxAutoReplyConfiguration\"",
            "name = \"Set-MailboxAutoReplyConfiguraton\"",
        ),
    );
    let glob_policy = bench.file(
        "policies/glob.toml",
        policy.replace("Identity = {", "Identity = { glob = \"*@contoso.com \", "),
    );
    let other_digest = bench.file(
        "policies/other-digest.toml",
        policy.replace(&digest, &"0".repeat(64)),
    );
    let signed_policy = bench.file(
        "policies/signed.toml",
        format!(
            "[trusted_keys]\nsecurity-review = \"RWQE2qqAxSnDVQWpG75UK8t3BAUctlLiXt24qdF7CSo1+ZKJkbmmwRda\"\n\n{}",
            policy.replacen(
                &format!("digest = \"{digest}\""),
                "signed_by = [\"security-review\"]",
                1
            )
        ),
    );

    // Workflows.
    let invalid = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/workflows/invalid");
    let invalid = |name: &str| invalid.join(name).display().to_string();
    let plugins = artifact("auto-reply")
        .parent()
        .unwrap()
        .display()
        .to_string();
    let typed = bench.file(
        "workflows/typed.toml",
        format!(
            "name = \"typed\"\nplugin_dir = \"{plugins}\"\n\n[inputs.user]\ntype = \"string\"\n\n[inputs.days]\ntype = \"integer\"\n\n[[steps]]\nid = \"reply\"\nplugin = \"auto-reply\"\ninput = {{ identities = [\"${{inputs.user}}\"], state = \"Enabled\" }}\n"
        ),
    );

    // The service.
    let serve_toml = bench.file(
        "serve/serve.toml",
        format!(
            "config = \"{config}\"\npolicy = \"{}\"\nplugins = \"{}\"\naudit_log = \"{}\"\nstate_dir = \"{}\"\nsocket = \"{}\"\nworker = 2\n",
            bench.path(".config/exorun/policy.toml"),
            bench.path("serve/store"),
            bench.path("serve/audit.jsonl"),
            bench.path("serve/state"),
            bench.path("serve/exorun.sock"),
        ),
    );
    let no_socket = format!("unix:{}", bench.path("serve/exorun.sock"));

    // One more throttle than exorun tries a request.
    let throttles = vec!["throttle"; 7];
    let mut cases = vec![
        // Files.
        Case::new(
            "certificate file missing",
            with_cert(&bench.path("files/gone.pfx"), &["connect"]),
        )
        .exits(
            1,
            &[
                "cannot read the certificate file",
                "files/gone.pfx",
                "fix: check the path",
            ],
        ),
        Case::new(
            "certificate is a directory",
            with_cert(&directory, &["connect"]),
        )
        .exits(1, &["a-directory", "Is a directory"]),
        Case::new(
            "certificate is a dangling link",
            with_cert(&dangling, &["connect"]),
        )
        .exits(1, &["dangling.pfx", "No such file"]),
        Case::new("certificate file empty", with_cert(&empty, &["connect"])).exits(
            1,
            &[
                "empty.pfx is not a PKCS#12 (.pfx/.p12) file: it is empty",
                "fix: copy the certificate file again",
            ],
        ),
        Case::new(
            "password file empty",
            vec![
                "--app-id".into(),
                app_id.clone(),
                "--certificate".into(),
                pfx.clone(),
                "--certificate-password-file".into(),
                empty_password.clone(),
                "connect".into(),
            ],
        )
        .exits(
            1,
            &[
                "the secret file",
                "empty.pw is empty",
                "fix: write the secret into it",
            ],
        ),
        Case::new("policy file binary", ["policy", "check", &binary]).exits(
            1,
            &[
                "cannot read the policy",
                "binary.toml: it is not UTF-8 text",
                "binary file",
            ],
        ),
        Case::new(
            "plugin input in Latin-1",
            run_auto_reply(&format!("@{latin1}"), &[]),
        )
        .exits(
            1,
            &[
                "cannot read the input file",
                "latin1.json",
                "it is not UTF-8 text: it looks like Latin-1",
                "fix: save it as UTF-8",
            ],
        ),
        Case::new(
            "plugin input file missing",
            run_auto_reply(&format!("@{}", bench.path("files/missing.json")), &[]),
        )
        .exits(
            1,
            &["cannot read the input file", "missing.json", "No such file"],
        ),
        Case::new(
            "plugin input is a directory",
            run_auto_reply(&format!("@{directory}"), &[]),
        )
        .exits(
            1,
            &[
                "cannot read the input file",
                "a-directory",
                "Is a directory",
            ],
        ),
        Case::new(
            "workflow file missing",
            signed_in(&admin, &["workflow", "run", "nightly.toml"]),
        )
        .exits(
            1,
            &["cannot read the workflow nightly.toml", "No such file"],
        ),
        Case::new(
            "workflow file in UTF-16",
            signed_in(&admin, &["workflow", "run", &utf16]),
        )
        .exits(
            1,
            &[
                "cannot read the workflow",
                "utf16.toml: it is not UTF-8 text: it looks like UTF-16",
                "fix: save it as UTF-8",
            ],
        ),
        Case::new(
            "plugin is a text file",
            signed_in(&admin, &["run", &text_plugin]),
        )
        .exits(
            1,
            &[
                "notes.wasm is refused: the artifact is damaged",
                "WebAssembly header",
            ],
        ),
        // Flags.
        Case::new(
            "unknown flag",
            signed_in(&admin, &["connect", "--tenant-id", "contoso"]),
        )
        .exits(2, &["unexpected argument '--tenant-id'"]),
        Case::new(
            "PowerShell -Identity:ann on run",
            run_auto_reply(good_input, &["-Identity:ann"]),
        )
        .exits(
            2,
            &[
                "'-Identity:ann' is written as a PowerShell parameter",
                "--input",
            ],
        ),
        Case::new(
            "$true dropped by bash",
            signed_in(
                &admin,
                &[
                    "invoke",
                    "Set-Mailbox",
                    "-Identity",
                    "room1",
                    "-HiddenFromAddressListsEnabled",
                ],
            ),
        )
        .exits(
            2,
            &[
                "-HiddenFromAddressListsEnabled needs a value: $true or $false",
                "single quotes",
            ],
        ),
        Case::new(
            "ambiguous parameter prefix",
            signed_in(
                &admin,
                &[
                    "invoke",
                    "Set-Mailbox",
                    "-Identity",
                    "room2",
                    "-MessageCopy",
                    "$true",
                ],
            ),
        )
        .exits(2, &["-MessageCopy"]),
        Case::new(
            "workflow --input without =",
            signed_in(
                &admin,
                &["workflow", "run", &typed, "--input", "ann@contoso.com"],
            ),
        )
        .exits(2, &["is not NAME=VALUE", "--input user=ann@contoso.com"]),
        Case::new(
            "a word where a number goes (cmdlet)",
            signed_in(&admin, &["invoke", "Get-Mailbox", "-ResultSize", "lots"]),
        )
        .exits(2, &["-ResultSize", "lots"]),
        Case::new(
            "a word where a number goes (flag)",
            signed_in(
                &admin,
                &["--max-concurrency", "four", "invoke", "Get-Mailbox"],
            ),
        )
        .exits(2, &["--max-concurrency", "four"]),
        Case::new(
            "plugin input not JSON",
            run_auto_reply("{identities: [ann@contoso.com]}", &[]),
        )
        .exits(2, &["--input"]),
        // Configs.
        Case::new(
            "profile missing",
            vec![
                "--config-file".into(),
                config.clone(),
                "--profile".into(),
                "reader".into(),
                "connect".into(),
            ],
        )
        .exits(1, &["there is no profile 'reader' in", "(profiles: ops)"]),
        Case::new(
            "config file missing",
            vec![
                "--config-file".into(),
                bench.path("config/nowhere.toml"),
                "--profile".into(),
                "ops".into(),
                "connect".into(),
            ],
        )
        .exits(1, &["cannot read the config file", "nowhere.toml"]),
        Case::new(
            "config not TOML",
            vec![
                "--config-file".into(),
                bad_toml,
                "--profile".into(),
                "ops".into(),
                "connect".into(),
            ],
        )
        .exits(
            1,
            &[
                "bad.toml is not valid: TOML parse error at line 2",
                "string values must be quoted",
            ],
        ),
        Case::new(
            "config key misspelt",
            vec![
                "--config-file".into(),
                unknown_key,
                "--profile".into(),
                "ops".into(),
                "connect".into(),
            ],
        )
        .exits(
            1,
            &["typo.toml is not valid", "unknown field `certificate_pth`"],
        ),
        Case::new(
            "secret in the config where its name belongs",
            vec![
                "--config-file".into(),
                secret_in_config,
                "--profile".into(),
                "ops".into(),
                "connect".into(),
            ],
        )
        .exits(
            1,
            &[
                "client_secret_env takes the name of an environment variable",
                "it is not shown here",
                "fix: put the secret in a variable",
            ],
        )
        .hides(config_secret),
        Case::new(
            "secret on the command line where its name belongs",
            vec![
                "--app-id".into(),
                app_id.clone(),
                "--client-secret-env".into(),
                flag_secret.into(),
                "connect".into(),
            ],
        )
        .exits(
            2,
            &[
                "--client-secret-env takes the name of",
                "refused on the command line on purpose",
            ],
        )
        .hides(flag_secret),
        // Certificates.
        Case::new(
            "wrong PFX password",
            vec![
                "--app-id".into(),
                app_id.clone(),
                "--certificate".into(),
                pfx.clone(),
                "--certificate-password-file".into(),
                wrong_password,
                "connect".into(),
            ],
        )
        .exits(1, &["the password from the file", "wrong.pw is wrong for"])
        .hides("Summer2026!"),
        Case::new(
            "PEM that is not a certificate",
            vec![
                "--app-id".into(),
                app_id.clone(),
                "--certificate".into(),
                not_a_cert,
                "--key".into(),
                other_key.clone(),
                "connect".into(),
            ],
        )
        .exits(
            1,
            &["the certificate in", "not-a-cert.pem cannot be parsed"],
        ),
        Case::new(
            "expired certificate",
            vec![
                "--app-id".into(),
                app_id.clone(),
                "--certificate".into(),
                expired_cert,
                "--key".into(),
                expired_key,
                "connect".into(),
            ],
        )
        .exits(
            1,
            &[
                "expired on",
                "so Entra ID will refuse it",
                "fix: create a new certificate",
            ],
        ),
        Case::new(
            "key that does not match the certificate",
            vec![
                "--app-id".into(),
                app_id.clone(),
                "--certificate".into(),
                admin_cert,
                "--key".into(),
                other_key,
                "connect".into(),
            ],
        )
        .exits(1, &["does not belong to the certificate"]),
        // Policies.
        Case::new(
            "policy not TOML",
            run_auto_reply(good_input, &["--policy", &bad_policy]),
        )
        .exits(
            1,
            &[
                "policies/bad.toml: TOML parse error at line 1",
                "unclosed array table",
            ],
        ),
        Case::new(
            "policy rule names an unknown cmdlet",
            run_auto_reply(good_input, &["--policy", &typo_policy]),
        )
        .exits(
            1,
            &[
                "asks for more than its rule",
                "cmdlet Set-MailboxAutoReplyConfiguration: add to the rule",
            ],
        ),
        Case::new(
            "policy glob that cannot match",
            run_auto_reply(good_input, &["--policy", &glob_policy]),
        )
        .exits(1, &["FAILED", "does not match *@contoso.com "])
        .reaches_service(),
        Case::new(
            "policy pins another digest",
            run_auto_reply(good_input, &["--policy", &other_digest]),
        )
        .exits(1, &["pins digest", &digest]),
        Case::new(
            "policy wants a signature the plugin lacks",
            run_auto_reply(good_input, &["--policy", &signed_policy]),
        )
        .exits(
            1,
            &[
                "needs 1 signature(s) of security-review;",
                "it has 0 (missing: security-review)",
            ],
        ),
        // Workflows.
        Case::new(
            "workflow cycle",
            signed_in(&admin, &["workflow", "run", &invalid("cycle.toml")]),
        )
        .exits(1, &["steps need each other in a cycle"]),
        Case::new(
            "workflow needs an unknown step",
            signed_in(&admin, &["workflow", "run", &invalid("unknown-needs.toml")]),
        )
        .exits(
            1,
            &[
                "unknown-needs.toml:10:10: error: step 'convert' needs 'lookpu'",
                "did you mean 'lookup'?",
            ],
        ),
        Case::new(
            "workflow template expression",
            signed_in(
                &admin,
                &["workflow", "run", &invalid("bad-expression.toml")],
            ),
        )
        .exits(1, &["'=' alone is not an operator; compare with =="]),
        Case::new(
            "workflow input of the wrong type",
            signed_in(
                &admin,
                &[
                    "workflow",
                    "run",
                    &typed,
                    "--input",
                    "user=ann@contoso.com",
                    "--input",
                    "days=many",
                ],
            ),
        )
        .exits(1, &["input 'days' is an integer, and 'many' is not"]),
        Case::new(
            "workflow input it does not declare",
            signed_in(
                &admin,
                &[
                    "workflow",
                    "run",
                    &typed,
                    "--input",
                    "user=ann@contoso.com",
                    "--input",
                    "days=3",
                    "--input",
                    "colour=red",
                ],
            ),
        )
        .exits(
            1,
            &["the workflow has no input 'colour' (it has: user, days)"],
        ),
        Case::new(
            "workflow input missing",
            signed_in(&admin, &["workflow", "run", &typed, "--input", "days=3"]),
        )
        .exits(
            1,
            &["input 'user' (string) is required: give it with --input user="],
        ),
        // Plugin parameters.
        Case::new(
            "plugin input: a string where a list goes",
            run_auto_reply(
                r#"{"identities": "ann@contoso.com", "state": "Enabled"}"#,
                &[],
            ),
        )
        .exits(
            1,
            &[
                "plugin auto-reply 0.1.0 was not run",
                "/identities: \"ann@contoso.com\" is not of type \"array\"",
                "fix: correct the input",
            ],
        ),
        Case::new(
            "plugin input: a value outside its choices",
            run_auto_reply(r#"{"identities": ["ann@contoso.com"], "state": "On"}"#, &[]),
        )
        .exits(
            1,
            &[
                "plugin auto-reply 0.1.0 was not run",
                "/state: \"On\" is not one of \"Enabled\", \"Disabled\" or \"Scheduled\"",
            ],
        ),
        Case::new(
            "plugin input: a property it does not take",
            run_auto_reply(
                r#"{"identities": ["ann@contoso.com"], "state": "Enabled", "message": "Away"}"#,
                &[],
            ),
        )
        .exits(
            1,
            &[
                "plugin auto-reply 0.1.0 was not run",
                "('message' was unexpected)",
            ],
        ),
        Case::new(
            "plugin input: a required property missing",
            run_auto_reply(r#"{"identities": ["ann@contoso.com"]}"#, &[]),
        )
        .exits(
            1,
            &[
                "plugin auto-reply 0.1.0 was not run",
                "\"state\" is a required property",
            ],
        ),
        // Service errors.
        Case::new(
            "wrong client secret (401 from the token endpoint)",
            vec![
                "--app-id".into(),
                app_id.clone(),
                "--client-secret-env".into(),
                "WRONG_SECRET".into(),
                "connect".into(),
            ],
        )
        .exits(
            1,
            &[
                "signing in failed",
                "AADSTS7000215",
                "fix: the client secret is wrong",
            ],
        )
        .reaches_service()
        .env("WRONG_SECRET", "not-the-secret"),
        Case::new(
            "app id not registered",
            vec![
                "--app-id".into(),
                "0b7e3f52-2c1d-4c4e-9d7a-5d0f2f6a1b99".into(),
                "--certificate".into(),
                pfx.clone(),
                "--certificate-password-file".into(),
                pfx_password.clone(),
                "connect".into(),
            ],
        )
        .exits(
            1,
            &["AADSTS700016", "fix: no app with Application (client) ID"],
        )
        .reaches_service(),
        Case::new("token endpoint throttles", signed_in(&admin, &["connect"]))
            .exits(
                1,
                &[
                    "signing in failed",
                    "AADSTS50196",
                    "fix: Entra ID is throttling token requests (HTTP 429, still after 4 tries)",
                ],
            )
            .reaches_service()
            .faults(json!({"token_throttle_rate": 1.0, "retry_after": 0.05})),
        Case::new(
            "403 from Exchange",
            signed_in(
                &bench.pfx("exorun-norole"),
                &["invoke", "Get-Mailbox", "-ResultSize", "1"],
            ),
        )
        .exits(
            1,
            &[
                "Get-Mailbox was refused (HTTP 403",
                "fix: assign the app a directory role",
            ],
        )
        .reaches_service(),
        Case::new(
            "throttled past the retries",
            signed_in(&admin, &["invoke", "Get-Mailbox", "-ResultSize", "1"]),
        )
        .exits(
            1,
            &[
                "Get-Mailbox failed",
                "still throttling after 6 attempts",
                "fix: lower max_concurrency",
            ],
        )
        .reaches_service()
        .faults(json!({
            "retry_after": 0.05,
            "script": throttles,
        })),
        // The service (`exorun serve`, `--server`).
        Case::new(
            "--server socket that does not exist",
            ["runs", "--server", &no_socket],
        )
        .exits(
            1,
            &["there is no service socket at", "is `exorun serve` running"],
        ),
        Case::new(
            "--server address of no known kind",
            ["runs", "--server", "exorun.example.com"],
        )
        .exits(
            1,
            &[
                "--server 'exorun.example.com' is not a service address",
                "unix:",
            ],
        ),
        Case::new(
            "serve.toml key misspelt",
            ["serve", "--config", &serve_toml],
        )
        .exits(
            1,
            &[
                "serve.toml: TOML parse error at line 7",
                "unknown field `worker`",
                "`workers`",
            ],
        ),
        Case::new(
            "serve.toml missing",
            ["serve", "--config", &bench.path("serve/missing.toml")],
        )
        .exits(
            1,
            &["cannot read the service configuration", "missing.toml"],
        ),
    ];
    if let Some(unreadable) = unreadable {
        cases.push(
            Case::new(
                "certificate unreadable",
                with_cert(&unreadable, &["connect"]),
            )
            .exits(1, &["unreadable.pfx", "Permission denied"]),
        );
    }
    cases
}

/// What one case did: its problems, if any, and the error line it printed.
struct Outcome {
    code: Option<i32>,
    first_line: String,
    problems: Vec<String>,
}

/// The line a person reads as the error: the first that exorun or clap starts with its name for
/// an error (log lines and the run's summary may come before it).
fn message_line(err: &str) -> &str {
    err.lines()
        .find(|l| l.starts_with("exorun: ") || l.starts_with("error: ") || l.contains(": error: "))
        .or_else(|| err.lines().next())
        .unwrap_or_default()
}

async fn run_case(bench: &Bench, case: &Case) -> Outcome {
    let before = bench.snapshot();
    let logged = bench.sim.requests().await.len();
    if let Some(faults) = &case.faults {
        bench.sim.put_control("faults", faults.clone()).await;
    }
    let mut command = bench.exorun();
    command.args(&case.args);
    for (name, value) in &case.env {
        command.env(name, value);
    }
    let output = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    if case.faults.is_some() {
        bench.sim.put_control("faults", json!({})).await;
    }
    let out = String::from_utf8_lossy(&output.stdout).into_owned();
    let err = String::from_utf8_lossy(&output.stderr).into_owned();
    let mut problems = Vec::new();
    let code = output.status.code();
    if code != Some(case.code) {
        problems.push(format!("exit code {code:?}, not {}", case.code));
    }
    for words in &case.says {
        if !err.contains(words.as_str()) {
            problems.push(format!("the message lacks {words:?}"));
        }
    }
    // A cause already said in the lines above it is noise: the message says each thing once.
    for (i, line) in err.lines().enumerate() {
        if let Some(cause) = line.trim_start().strip_prefix("caused by: ")
            && err.lines().take(i).any(|above| above.contains(cause))
        {
            problems.push(format!("the message repeats its cause {cause:?}"));
        }
    }
    if let Some(secret) = &case.hidden
        && (out.contains(secret.as_str()) || err.contains(secret.as_str()))
    {
        problems.push("the secret was echoed".into());
    }
    let requests = bench.sim.requests().await;
    let new = &requests[logged.min(requests.len())..];
    match case.sent {
        Sent::Nothing if !new.is_empty() => problems.push(format!(
            "{} request(s) were sent: {:?}",
            new.len(),
            new.iter().map(|e| &e.endpoint).collect::<Vec<_>>()
        )),
        Sent::NoChange => {
            let changes: Vec<&str> = new
                .iter()
                .filter_map(|e| e.cmdlet.as_deref())
                .filter(|c| !c.starts_with("Get-"))
                .collect();
            if !changes.is_empty() {
                problems.push(format!("changes were sent: {changes:?}"));
            }
        }
        Sent::Nothing => {}
    }
    let mut after = bench.snapshot();
    if case.audited {
        let (old, new) = (
            before.get(Path::new(AUDIT_LOG)).cloned().flatten(),
            after.remove(Path::new(AUDIT_LOG)).flatten(),
        );
        if let Some(new) = new
            && !new.starts_with(old.as_deref().unwrap_or_default())
        {
            problems.push("the audit log was rewritten, not appended to".into());
        }
        for parent in Path::new(AUDIT_LOG).ancestors().skip(1) {
            if !before.contains_key(parent) {
                after.remove(parent);
            }
        }
    }
    let mut before = before;
    if case.audited {
        before.remove(Path::new(AUDIT_LOG));
    }
    // Signing in opens (creates) the audit log before any secret is read, so that a log that
    // cannot be written stops the command first: an empty log may be left, nothing in it.
    if !before.contains_key(Path::new(AUDIT_LOG))
        && after.get(Path::new(AUDIT_LOG)) == Some(&Some(Vec::new()))
    {
        for path in Path::new(AUDIT_LOG).ancestors() {
            if !before.contains_key(path) {
                after.remove(path);
            }
        }
    }
    if before != after {
        let changed: Vec<String> = before
            .keys()
            .chain(after.keys())
            .filter(|k| before.get(*k) != after.get(*k))
            .map(|k| k.display().to_string())
            .collect();
        problems.push(format!("files were left or changed: {changed:?}"));
    }
    if std::env::var_os("EXORUN_BAD_INPUTS_SHOW").is_some() {
        println!("=== {}\n{err}", case.name);
    }
    Outcome {
        code,
        first_line: message_line(&err).to_string(),
        problems,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_bad_input_is_refused_with_a_clear_message_and_nothing_sent_or_left() {
    let bench = Bench {
        sim: start().await,
        home: tempfile::tempdir().unwrap(),
    };
    let cases = cases(&bench);
    assert!(cases.len() >= 40, "{} cases", cases.len());
    let mut wrong = Vec::new();
    let mut shown = String::new();
    for case in &cases {
        let outcome = run_case(&bench, case).await;
        let home = bench.home.path().display().to_string();
        let sim_dir = bench.sim.dir.path().display().to_string();
        let root = format!("{}/../", env!("CARGO_MANIFEST_DIR"));
        shown.push_str(&format!(
            "| {} | {} | `{}` |\n",
            case.name,
            outcome.code.map_or("-".into(), |c| c.to_string()),
            outcome
                .first_line
                .replace(&home, "~")
                .replace(&sim_dir, "$SIM")
                .replace(&root, "")
                .replace('|', "\\|")
        ));
        if !outcome.problems.is_empty() {
            wrong.push(format!(
                "{}: {}\n    {:?}\n    first line: {}",
                case.name,
                outcome.problems.join("; "),
                case.args,
                outcome.first_line
            ));
        }
    }
    if std::env::var_os("EXORUN_BAD_INPUTS_SHOW").is_some() {
        println!("{shown}");
    }
    assert!(
        wrong.is_empty(),
        "{} of {} cases went wrong:\n{}",
        wrong.len(),
        cases.len(),
        wrong.join("\n")
    );
}
