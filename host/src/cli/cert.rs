//! `exorun cert new`: a certificate that works for Exchange app-only auth (RSA 3072), written
//! as the `.cer` to upload, a `.pem` and a password-protected `.pfx`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use exorun::auth::cert::{Password, Subject, new_self_signed, write_bundle};
use exorun::secret::{Secret, SecretSource};

use super::secret_names::{SecretFile, SecretKind, VariableName};

/// Certificate commands.
#[derive(Subcommand, Debug)]
pub enum CertCmd {
    /// Make a self-signed certificate for an Entra app.
    New(NewCert),
}

/// Options of `cert new`.
#[derive(Args, Debug)]
pub struct NewCert {
    /// Subject: a name (exorun-automation), or a distinguished name such as
    /// 'CN=exorun-automation, O=Contoso' (\, for a comma in a value).
    #[arg(long)]
    subject: String,
    /// Days of validity (1 to 36500).
    #[arg(long, default_value_t = 365, value_parser = days)]
    days: u32,
    /// Directory to write into (created if missing).
    #[arg(long)]
    out: PathBuf,
    /// File stem (default: the subject's common name).
    #[arg(long)]
    name: Option<String>,
    /// Variable holding the PFX password, by its name (default: a random one written to
    /// <name>.pfx-password).
    #[arg(long, value_name = "VARIABLE", value_parser = VariableName(SecretKind::NewPfxPassword))]
    password_env: Option<String>,
    /// File holding the PFX password.
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with = "password_env",
        value_parser = SecretFile(SecretKind::NewPfxPassword)
    )]
    password_file: Option<PathBuf>,
}

/// `--days`: checked before anything is made or written.
fn days(text: &str) -> Result<u32, String> {
    match text.parse::<u32>() {
        Ok(n) if (1..=MAX_DAYS).contains(&n) => Ok(n),
        _ => Err(format!(
            "the validity is a whole number of days from 1 to {MAX_DAYS}; 365 is typical"
        )),
    }
}

/// The longest validity `cert new` makes, as [`new_self_signed`] allows it.
const MAX_DAYS: u32 = 36_500;

impl CertCmd {
    /// Runs the command. Everything is checked, and the certificate made, before a file is
    /// written; the files are then written whole or not at all.
    pub fn run(self) -> anyhow::Result<ExitCode> {
        let CertCmd::New(cmd) = self;
        let subject = Subject::parse(&cmd.subject).map_err(super::usage)?;
        let stem = cmd.name.clone().unwrap_or_else(|| {
            subject.common_name().replace(
                |c: char| !c.is_ascii_alphanumeric() && c != '-' && c != '_',
                "-",
            )
        });
        let kind = SecretKind::NewPfxPassword;
        let (password, keep_password) = match (&cmd.password_env, &cmd.password_file) {
            (Some(env), _) => {
                kind.check_variable(env)
                    .map_err(|e| super::usage(anyhow::anyhow!(e)))?;
                (Password::read(&SecretSource::Env(env.clone()))?, false)
            }
            (None, Some(file)) => {
                kind.check_file(file)
                    .map_err(|e| super::usage(anyhow::anyhow!(e)))?;
                (Password::read(&SecretSource::File(file.clone()))?, false)
            }
            (None, None) => {
                let mut bytes = [0u8; 18];
                openssl::rand::rand_bytes(&mut bytes)?;
                let password = Secret::new(base64::Engine::encode(
                    &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                    bytes,
                ));
                (Password::given(password), true)
            }
        };
        let cert = new_self_signed(&cmd.subject, cmd.days).map_err(super::usage)?;
        let bundle = write_bundle(&cert, &cmd.out, &stem, &password, keep_password)?;
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
        if let Some(path) = &bundle.password {
            println!(
                "  password: {}  (PFX password; keep it with the PFX, readable only by you)",
                path.display()
            );
        }
        println!("  subject:  {subject}");
        println!(
            "  valid:    {} to {}",
            cert.not_before().format("%Y-%m-%d"),
            cert.not_after().format("%Y-%m-%d")
        );
        Ok(ExitCode::SUCCESS)
    }
}

/// Writes a new file only its owner can read, whole or not at all.
pub(super) fn write_private(path: &std::path::Path, text: &str) -> anyhow::Result<()> {
    exorun::atomic_file::create_private(path, text.as_bytes()).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            anyhow::anyhow!(
                "{} exists already: choose another file, or move it away first",
                path.display()
            )
        } else {
            anyhow::Error::new(e).context(format!("cannot create {}", path.display()))
        }
    })
}
