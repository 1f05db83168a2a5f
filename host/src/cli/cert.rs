//! `exorun cert new`: a certificate that works for Exchange app-only auth (RSA 3072), written
//! as the `.cer` to upload, a `.pem` and a password-protected `.pfx`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};

use exorun::auth::cert::{Password, new_self_signed, write_bundle};
use exorun::secret::{Secret, SecretSource};

/// Certificate commands.
#[derive(Subcommand, Debug)]
pub enum CertCmd {
    /// Make a self-signed certificate for an Entra app.
    New(NewCert),
}

/// Options of `cert new`.
#[derive(Args, Debug)]
pub struct NewCert {
    /// Subject common name, e.g. exorun-automation.
    #[arg(long)]
    subject: String,
    /// Days of validity.
    #[arg(long, default_value_t = 365)]
    days: u32,
    /// Directory to write into (created if missing).
    #[arg(long)]
    out: PathBuf,
    /// File stem (default: the subject).
    #[arg(long)]
    name: Option<String>,
    /// Variable holding the PFX password (default: a random one written to <name>.pfx-password).
    #[arg(long)]
    password_env: Option<String>,
    /// File holding the PFX password.
    #[arg(long, conflicts_with = "password_env")]
    password_file: Option<PathBuf>,
}

impl CertCmd {
    /// Runs the command.
    pub fn run(self) -> anyhow::Result<ExitCode> {
        let CertCmd::New(cmd) = self;
        let subject = cmd.subject.trim_start_matches("CN=").to_string();
        let stem = cmd.name.clone().unwrap_or_else(|| {
            subject.replace(
                |c: char| !c.is_ascii_alphanumeric() && c != '-' && c != '_',
                "-",
            )
        });
        std::fs::create_dir_all(&cmd.out)
            .with_context(|| format!("cannot create {}", cmd.out.display()))?;
        let (password, password_file) = match (&cmd.password_env, &cmd.password_file) {
            (Some(env), _) => (Password::read(&SecretSource::Env(env.clone()))?, None),
            (None, Some(file)) => (Password::read(&SecretSource::File(file.clone()))?, None),
            (None, None) => {
                let mut bytes = [0u8; 18];
                openssl::rand::rand_bytes(&mut bytes)?;
                let password = Secret::new(base64::Engine::encode(
                    &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                    bytes,
                ));
                let path = cmd.out.join(format!("{stem}.pfx-password"));
                write_private(&path, password.expose())?;
                (Password::given(password), Some(path))
            }
        };
        let cert = new_self_signed(&subject, cmd.days)?;
        let bundle = write_bundle(&cert, &cmd.out, &stem, &password)?;
        println!("Thumbprint: {}", bundle.thumbprint);
        println!(
            "  upload:   {}  (Entra ID > App registrations > your app > Certificates & secrets)",
            bundle.cer.display()
        );
        println!(
            "  pem:      {}  (certificate and private key)",
            bundle.pem.display()
        );
        println!("  pfx:      {}", bundle.pfx.display());
        if let Some(path) = password_file {
            println!(
                "  password: {}  (PFX password; keep it with the PFX, readable only by you)",
                path.display()
            );
        }
        println!(
            "  valid:    {} to {}",
            cert.not_before().format("%Y-%m-%d"),
            cert.not_after().format("%Y-%m-%d")
        );
        Ok(ExitCode::SUCCESS)
    }
}

/// Writes a file only its owner can read.
pub(super) fn write_private(path: &std::path::Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot create {} (does it exist already?)", path.display()))?;
    file.write_all(text.as_bytes())?;
    Ok(())
}
