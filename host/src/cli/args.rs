//! The connection flags every command shares, turned into the flags layer of the settings.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use exorun::auth::cert::AssertionAlg;
use exorun::config::{self, ConfigFile, CredentialSpec, Settings};
use exorun::secret::SecretSource;

/// Assertion algorithm names on the command line.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Alg {
    /// PS256 with `x5t#S256` (current Entra documentation).
    Ps256,
    /// RS256 with `x5t` (older form).
    Rs256,
}

/// How to reach the tenant. Passwords and secrets are never taken as values here: name an
/// environment variable or a file, or let exorun prompt.
#[derive(Args, Debug, Clone, Default)]
pub struct ConnectionArgs {
    /// Profile in the config file.
    #[arg(long, env = "EXORUN_PROFILE", global = true)]
    pub profile: Option<String>,
    /// Config file with profiles (default ~/.config/exorun/config.toml).
    #[arg(long, env = "EXORUN_CONFIG", global = true)]
    pub config_file: Option<PathBuf>,
    /// Application (client) ID of the Entra app.
    #[arg(long, visible_alias = "client-id", global = true)]
    pub app_id: Option<String>,
    /// Tenant: primary domain (contoso.onmicrosoft.com) or tenant ID.
    #[arg(long, visible_alias = "tenant", global = true)]
    pub organization: Option<String>,
    /// Certificate: PFX/P12, or PEM with certificate and key.
    #[arg(long, global = true)]
    pub certificate: Option<PathBuf>,
    /// Separate PEM private key for --certificate.
    #[arg(long, global = true, requires = "certificate")]
    pub key: Option<PathBuf>,
    /// Variable holding the PFX (or key) password.
    #[arg(long, global = true)]
    pub certificate_password_env: Option<String>,
    /// File holding the PFX (or key) password.
    #[arg(long, global = true)]
    pub certificate_password_file: Option<PathBuf>,
    /// Ask for the PFX (or key) password on the terminal.
    #[arg(long, global = true)]
    pub prompt_password: bool,
    /// Certificate thumbprint to find in the certificate stores.
    #[arg(long, global = true)]
    pub thumbprint: Option<String>,
    /// Variable holding the client secret.
    #[arg(long, global = true)]
    pub client_secret_env: Option<String>,
    /// File holding the client secret.
    #[arg(long, global = true)]
    pub client_secret_file: Option<PathBuf>,
    /// Variable holding a ready access token.
    #[arg(long, global = true)]
    pub access_token_env: Option<String>,
    /// File holding a ready access token (read again when it nears expiry).
    #[arg(long, global = true)]
    pub access_token_file: Option<PathBuf>,
    /// Command that prints an access token, run again when it nears expiry ({resource} is replaced).
    #[arg(long, global = true, num_args = 1.., value_name = "PROGRAM [ARGS]...", allow_hyphen_values = true, value_terminator = ";")]
    pub access_token_command: Option<Vec<String>>,
    /// Use this host's managed identity (IDENTITY_ENDPOINT / IDENTITY_HEADER).
    #[arg(long, global = true)]
    pub managed_identity: bool,
    /// Entra authority host (default https://login.microsoftonline.com; env AZURE_AUTHORITY_HOST).
    #[arg(long, global = true)]
    pub authority: Option<String>,
    /// Exchange Online base URL.
    #[arg(long, global = true)]
    pub exchange_url: Option<String>,
    /// Security & Compliance base URL.
    #[arg(long, global = true)]
    pub compliance_url: Option<String>,
    /// An extra CA certificate (PEM) to trust, e.g. exorun-sim's.
    #[arg(long, global = true)]
    pub ca_file: Option<PathBuf>,
    /// Client assertion algorithm.
    #[arg(long, global = true, value_enum)]
    pub assertion: Option<Alg>,
    /// Send the certificate in the assertion (x5c).
    #[arg(long, global = true)]
    pub x5c: bool,
    /// Rows per page (1–1000).
    #[arg(long, global = true)]
    pub page_size: Option<usize>,
    /// Concurrent requests per tenant.
    #[arg(long, global = true)]
    pub max_concurrency: Option<usize>,
}

impl ConnectionArgs {
    fn flags_layer(&self) -> anyhow::Result<Settings> {
        let password = if self.prompt_password {
            Some(SecretSource::Prompt("Certificate password".into()))
        } else {
            self.certificate_password_env
                .clone()
                .map(SecretSource::Env)
                .or_else(|| {
                    self.certificate_password_file
                        .clone()
                        .map(SecretSource::File)
                })
        };
        let mut candidates = Vec::new();
        if let Some(cert) = &self.certificate {
            candidates.push(match &self.key {
                Some(key) => CredentialSpec::PemPair {
                    cert: cert.clone(),
                    key: key.clone(),
                    password: password.clone(),
                },
                None => CredentialSpec::CertificateFile {
                    path: cert.clone(),
                    password: password.clone(),
                },
            });
        }
        if let Some(thumbprint) = &self.thumbprint {
            candidates.push(CredentialSpec::Thumbprint {
                thumbprint: thumbprint.clone(),
                password,
            });
        }
        if let Some(secret) = self
            .client_secret_env
            .clone()
            .map(SecretSource::Env)
            .or_else(|| self.client_secret_file.clone().map(SecretSource::File))
        {
            candidates.push(CredentialSpec::ClientSecret(secret));
        }
        if let Some(env) = &self.access_token_env {
            candidates.push(CredentialSpec::AccessToken(SecretSource::Env(env.clone())));
        }
        if let Some(file) = &self.access_token_file {
            candidates.push(CredentialSpec::AccessTokenFile(file.clone()));
        }
        if let Some(command) = &self.access_token_command {
            candidates.push(CredentialSpec::AccessTokenCommand(command.clone()));
        }
        if self.managed_identity {
            candidates.push(CredentialSpec::ManagedIdentity {
                endpoint: std::env::var("IDENTITY_ENDPOINT").unwrap_or_default(),
                header: SecretSource::Env("IDENTITY_HEADER".into()),
                client_id: None,
            });
        }
        if candidates.len() > 1 {
            anyhow::bail!(
                "the command line names more than one credential; keep exactly one of --certificate, --thumbprint, --client-secret-*, --access-token-*, --managed-identity"
            );
        }
        Ok(Settings {
            app_id: self.app_id.clone(),
            organization: self.organization.clone(),
            credential: candidates.pop(),
            authority: self.authority.clone(),
            exchange_url: self.exchange_url.clone(),
            compliance_url: self.compliance_url.clone(),
            ca_file: self.ca_file.clone(),
            assertion: self.assertion.map(|a| match a {
                Alg::Ps256 => AssertionAlg::Ps256,
                Alg::Rs256 => AssertionAlg::Rs256,
            }),
            x5c: self.x5c.then_some(true),
            page_size: self.page_size,
            max_concurrency: self.max_concurrency,
            dry_run: None,
        })
    }

    /// Flags over environment over profile.
    pub fn settings(&self) -> anyhow::Result<Settings> {
        let (path, must_exist) = match &self.config_file {
            Some(path) => (Some(path.clone()), true),
            None => (config::default_config_path(), false),
        };
        let profile = match &path {
            Some(path) => {
                ConfigFile::load(path, must_exist)?.settings(self.profile.as_deref(), path)?
            }
            None if self.profile.is_some() => {
                anyhow::bail!("--profile needs a config file: pass --config-file")
            }
            None => Settings::default(),
        };
        let env = config::from_env(|name| std::env::var(name).ok())?;
        Ok(self.flags_layer()?.over(env.over(profile)))
    }
}
