//! The sign-in options of the commands that sign in (`connect`, `invoke`, `doctor`, `run`),
//! turned into the flags layer of the settings. They are accepted before the command too
//! (`exorun --app-id … invoke …`); given in both places, the ones after the command win.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use exorun::audit;
use exorun::auth::cert::AssertionAlg;
use exorun::config::{self, CommandLine, ConfigFile, CredentialSpec, Layered, Origin, Settings};
use exorun::exchange::MAX_PAGE_SIZE;
use exorun::secret::SecretSource;

use super::secret_names::{SecretFile, SecretKind, VariableName};

/// Assertion algorithm names on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Alg {
    /// PS256 with `x5t#S256` (current Entra documentation).
    Ps256,
    /// RS256 with `x5t` (older form).
    Rs256,
}

/// The help heading the sign-in options are listed under.
pub const SIGN_IN_HEADING: &str = "Sign-in options";

/// How to reach the tenant. Passwords and secrets are never taken as values here: name an
/// environment variable or a file, or let exorun prompt.
///
/// The `[env: …]` notes name the variables `config::from_env` reads for the same setting; they
/// are written in the help text rather than given to clap, so a variable never outranks an
/// option given before the command, and no variable's value is ever shown.
#[derive(Args, Debug, Clone, Default, PartialEq, Eq)]
#[command(next_help_heading = SIGN_IN_HEADING)]
pub struct ConnectionArgs {
    /// Profile in the config file [env: EXORUN_PROFILE]
    #[arg(long)]
    pub profile: Option<String>,
    /// Config file with profiles (default ~/.config/exorun/config.toml) [env: EXORUN_CONFIG]
    #[arg(long)]
    pub config_file: Option<PathBuf>,
    /// Application (client) ID of the Entra app [env: AZURE_CLIENT_ID]
    #[arg(long, visible_alias = "client-id")]
    pub app_id: Option<String>,
    /// Tenant: primary domain (contoso.onmicrosoft.com) or tenant ID; not needed with an access
    /// token or a managed identity, whose token names it [env: AZURE_TENANT_ID]
    #[arg(long, visible_alias = "tenant")]
    pub organization: Option<String>,
    /// Certificate: PFX/P12, or PEM with certificate and key [env: AZURE_CLIENT_CERTIFICATE_PATH,
    /// its password in AZURE_CLIENT_CERTIFICATE_PASSWORD]
    #[arg(long)]
    pub certificate: Option<PathBuf>,
    /// Separate PEM private key for --certificate.
    #[arg(long, requires = "certificate")]
    pub key: Option<PathBuf>,
    /// Variable holding the PFX (or key) password (its name: never the password itself).
    #[arg(long, value_name = "VARIABLE", value_parser = VariableName(SecretKind::Password))]
    pub certificate_password_env: Option<String>,
    /// File holding the PFX (or key) password.
    #[arg(long, value_name = "FILE", value_parser = SecretFile(SecretKind::Password))]
    pub certificate_password_file: Option<PathBuf>,
    /// Ask for the PFX (or key) password on the terminal.
    #[arg(long)]
    pub prompt_password: bool,
    /// Certificate thumbprint to find in the certificate stores [stores: EXORUN_CERT_STORE_USER,
    /// EXORUN_CERT_STORE_MACHINE]
    #[arg(long)]
    pub thumbprint: Option<String>,
    /// Variable holding the client secret (its name: never the secret itself) [env:
    /// AZURE_CLIENT_SECRET holds the secret itself]
    #[arg(long, value_name = "VARIABLE", value_parser = VariableName(SecretKind::ClientSecret))]
    pub client_secret_env: Option<String>,
    /// File holding the client secret.
    #[arg(long, value_name = "FILE", value_parser = SecretFile(SecretKind::ClientSecret))]
    pub client_secret_file: Option<PathBuf>,
    /// Variable holding a ready access token (its name: never the token itself) [env:
    /// EXORUN_ACCESS_TOKEN holds the token itself]
    #[arg(long, value_name = "VARIABLE", value_parser = VariableName(SecretKind::AccessToken))]
    pub access_token_env: Option<String>,
    /// File holding a ready access token (read again when it nears expiry).
    #[arg(long, value_name = "FILE", value_parser = SecretFile(SecretKind::AccessToken))]
    pub access_token_file: Option<PathBuf>,
    /// Command that prints an access token, as one quoted string split like a shell would, e.g.
    /// 'az account get-access-token --resource {resource} --query accessToken -o tsv'; {resource}
    /// becomes the resource URL. It is run again when the token nears expiry
    #[arg(long, value_name = "COMMAND", value_parser = token_command)]
    pub access_token_command: Option<TokenCommandLine>,
    /// Use this host's managed identity, also used unasked when no credential is given [env:
    /// IDENTITY_ENDPOINT, IDENTITY_HEADER]
    #[arg(long)]
    pub managed_identity: bool,
    /// Entra authority host (default https://login.microsoftonline.com) [env: AZURE_AUTHORITY_HOST]
    #[arg(long)]
    pub authority: Option<String>,
    /// Exchange Online base URL (default https://outlook.office365.com) [env: EXORUN_EXCHANGE_URL]
    #[arg(long)]
    pub exchange_url: Option<String>,
    /// Security & Compliance base URL (default https://ps.compliance.protection.outlook.com)
    /// [env: EXORUN_COMPLIANCE_URL]
    #[arg(long)]
    pub compliance_url: Option<String>,
    /// An extra CA certificate (PEM) to trust, e.g. exorun-sim's [env: EXORUN_CA_FILE]
    #[arg(long)]
    pub ca_file: Option<PathBuf>,
    /// Client assertion algorithm.
    #[arg(long, value_enum)]
    pub assertion: Option<Alg>,
    /// Send the certificate in the assertion (x5c).
    #[arg(long)]
    pub x5c: bool,
    /// Rows per page (1–1000, default 1000)
    #[arg(long, value_parser = page_size)]
    pub page_size: Option<usize>,
    /// Concurrent requests per tenant (at least 1, default 4)
    #[arg(long, value_parser = at_least_one)]
    pub max_concurrency: Option<usize>,
    /// The audit log every token and cmdlet is appended to (default
    /// ~/.local/state/exorun/audit.jsonl) [env: EXORUN_AUDIT_LOG]
    #[arg(long, value_name = "FILE")]
    pub audit_log: Option<PathBuf>,
    /// The file holding the audit key each record's MAC is made with (`exorun audit key new
    /// FILE` makes one; keep it apart from the log) [env: EXORUN_AUDIT_KEY]
    #[arg(long, value_name = "FILE")]
    pub audit_key: Option<PathBuf>,
}

/// `--access-token-command`: the program and its arguments, split from one string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenCommandLine(pub Vec<String>);

/// Parses `--access-token-command` like a shell would split it.
fn token_command(text: &str) -> Result<TokenCommandLine, String> {
    CommandLine::Line(text.to_string())
        .words()
        .map(TokenCommandLine)
}

/// `--page-size`: a whole number from 1 to the largest page Exchange serves.
fn page_size(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if (1..=MAX_PAGE_SIZE).contains(&n) => Ok(n),
        _ => Err(format!(
            "the page size is a whole number from 1 to {MAX_PAGE_SIZE} (Exchange serves at most {MAX_PAGE_SIZE} rows a page)"
        )),
    }
}

/// `--max-concurrency`: a whole number, at least 1.
fn at_least_one(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err("a whole number, at least 1".into()),
    }
}

impl ConnectionArgs {
    /// These options (given after the command) over `lower` (given before it): each option
    /// given here wins, a switch is on if it is on in either.
    pub fn over(self, lower: ConnectionArgs) -> ConnectionArgs {
        ConnectionArgs {
            profile: self.profile.or(lower.profile),
            config_file: self.config_file.or(lower.config_file),
            app_id: self.app_id.or(lower.app_id),
            organization: self.organization.or(lower.organization),
            certificate: self.certificate.or(lower.certificate),
            key: self.key.or(lower.key),
            certificate_password_env: self
                .certificate_password_env
                .or(lower.certificate_password_env),
            certificate_password_file: self
                .certificate_password_file
                .or(lower.certificate_password_file),
            prompt_password: self.prompt_password || lower.prompt_password,
            thumbprint: self.thumbprint.or(lower.thumbprint),
            client_secret_env: self.client_secret_env.or(lower.client_secret_env),
            client_secret_file: self.client_secret_file.or(lower.client_secret_file),
            access_token_env: self.access_token_env.or(lower.access_token_env),
            access_token_file: self.access_token_file.or(lower.access_token_file),
            access_token_command: self.access_token_command.or(lower.access_token_command),
            managed_identity: self.managed_identity || lower.managed_identity,
            authority: self.authority.or(lower.authority),
            exchange_url: self.exchange_url.or(lower.exchange_url),
            compliance_url: self.compliance_url.or(lower.compliance_url),
            ca_file: self.ca_file.or(lower.ca_file),
            assertion: self.assertion.or(lower.assertion),
            x5c: self.x5c || lower.x5c,
            page_size: self.page_size.or(lower.page_size),
            max_concurrency: self.max_concurrency.or(lower.max_concurrency),
            audit_log: self.audit_log.or(lower.audit_log),
            audit_key: self.audit_key.or(lower.audit_key),
        }
    }

    /// Checks that each variable and file named for a secret is there; one that is not may be
    /// the secret itself, given where its name belongs, so it is never named back.
    fn check_secret_names(&self) -> anyhow::Result<()> {
        let variables = [
            (&self.certificate_password_env, SecretKind::Password),
            (&self.client_secret_env, SecretKind::ClientSecret),
            (&self.access_token_env, SecretKind::AccessToken),
        ];
        for (name, kind) in variables {
            if let Some(name) = name {
                kind.check_variable(name)
                    .map_err(|e| super::usage(anyhow::anyhow!(e)))?;
            }
        }
        let files = [
            (&self.certificate_password_file, SecretKind::Password),
            (&self.client_secret_file, SecretKind::ClientSecret),
            (&self.access_token_file, SecretKind::AccessToken),
        ];
        for (path, kind) in files {
            if let Some(path) = path {
                kind.check_file(path)
                    .map_err(|e| super::usage(anyhow::anyhow!(e)))?;
            }
        }
        Ok(())
    }

    fn flags_layer(&self) -> anyhow::Result<Settings> {
        self.check_secret_names()?;
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
        if let Some(TokenCommandLine(command)) = &self.access_token_command {
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
            policy: None,
            audit_log: self.audit_log.clone(),
            audit_key: self.audit_key.clone(),
        })
    }

    /// The config file: see [`config_path`].
    fn config_path(&self) -> (Option<PathBuf>, bool) {
        config_path(self.config_file.clone())
    }

    /// The settings of profile `name`, which a policy or workflow names for a plugin's runs:
    /// see [`Profiles::settings`]. For many profiles, read the config file once with
    /// [`Self::profiles`].
    pub fn profile_settings(&self, name: &str) -> anyhow::Result<Settings> {
        self.profiles()?.settings(name)
    }

    /// The config file, read and parsed once, for the settings of the profiles a policy or
    /// workflow names (one per tenant of a run over many tenants).
    pub fn profiles(&self) -> anyhow::Result<Profiles> {
        let file = match self.config_path() {
            (Some(path), must_exist) => match ConfigFile::load(&path, true) {
                Ok(file) => Some(Ok((file, path))),
                // The default file need not exist until a profile is asked of it.
                Err(error) if !must_exist => Some(Err(error.to_string())),
                Err(error) => return Err(error.into()),
            },
            (None, _) => None,
        };
        Ok(Profiles {
            file,
            flags: reach(self.flags_layer()?),
            env: reach(config::from_env(|name| std::env::var(name).ok())?),
        })
    }

    /// Flags over environment over profile; the audit log defaults to
    /// [`audit::default_log_path`], as the command line always keeps one.
    pub fn settings(&self) -> anyhow::Result<Settings> {
        Ok(self.layered()?.settings)
    }

    /// [`Self::settings`] with where each came from (`connect` and `doctor` show it). The
    /// environment and a profile may not disagree, nor give the credential and its app id
    /// separately (see [`config::layer`]).
    pub fn layered(&self) -> anyhow::Result<Layered> {
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let (path, must_exist) = self.config_path();
        let profile_name = self.profile.clone().or_else(|| env("EXORUN_PROFILE"));
        let profile = match &path {
            Some(path) => {
                let file = ConfigFile::load(path, must_exist)?;
                let settings = file.settings(profile_name.as_deref(), path)?;
                file.profile_name(profile_name.as_deref()).map(|name| {
                    let origin = Origin::Profile {
                        name: name.to_string(),
                        file: path.clone(),
                    };
                    (settings, origin)
                })
            }
            None if profile_name.is_some() => {
                anyhow::bail!("--profile needs a config file: pass --config-file")
            }
            None => None,
        };
        let env = config::from_env(|name| std::env::var(name).ok())?;
        let mut layered = config::layer(self.flags_layer()?, env, profile)?;
        let settings = &mut layered.settings;
        settings.audit_log = settings.audit_log.take().or_else(audit::default_log_path);
        if settings.audit_log.is_none() {
            anyhow::bail!(
                "there is no home directory for the audit log's default place\n  fix: pass --audit-log FILE or set EXORUN_AUDIT_LOG"
            );
        }
        Ok(layered)
    }
}

/// A config file read once, with the flags and environment that say how to reach the
/// service: the settings of each profile it names ([`ConnectionArgs::profiles`]).
pub struct Profiles {
    /// The parsed file and its path, or why the default file could not be read; `None` when
    /// there is none to read.
    file: Option<Result<(ConfigFile, PathBuf), String>>,
    /// Where and how the service is reached, from the flags.
    flags: Settings,
    /// The same, from the environment.
    env: Settings,
}

impl Profiles {
    /// The settings of profile `name`: the app id, tenant and credential are the profile's
    /// alone (the sign-in flags and the environment never override them); where and how the
    /// service is reached (authority, URLs, CA file, paging, concurrency) comes from them
    /// where the profile does not say, and may not disagree with the profile.
    pub fn settings(&self, name: &str) -> anyhow::Result<Settings> {
        let (file, path) = match &self.file {
            Some(Ok(read)) => read,
            Some(Err(unread)) => anyhow::bail!("{unread}"),
            None => anyhow::bail!(
                "there is no config file to read profile '{name}' from: pass --config-file"
            ),
        };
        let profile = file.settings(Some(name), path)?;
        let origin = Origin::Profile {
            name: name.to_string(),
            file: path.clone(),
        };
        Ok(config::layer(
            self.flags.clone(),
            self.env.clone(),
            Some((profile, origin)),
        )?
        .settings)
    }
}

/// Only where and how the service is reached, of `settings`.
fn reach(settings: Settings) -> Settings {
    Settings {
        authority: settings.authority,
        exchange_url: settings.exchange_url,
        compliance_url: settings.compliance_url,
        ca_file: settings.ca_file,
        page_size: settings.page_size,
        max_concurrency: settings.max_concurrency,
        ..Settings::default()
    }
}

/// The config file: `flag` (`--config-file`) or `EXORUN_CONFIG`, which must exist, else the
/// default path, which may not; and whether it must exist.
pub fn config_path(flag: Option<PathBuf>) -> (Option<PathBuf>, bool) {
    match flag.or_else(|| {
        std::env::var("EXORUN_CONFIG")
            .ok()
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    }) {
        Some(path) => (Some(path), true),
        None => (config::default_config_path(), false),
    }
}

#[cfg(test)]
mod tests {
    use clap::{Args as _, FromArgMatches as _};

    use super::*;

    /// Every sign-in option given, with `value` where it takes one.
    fn all_given(value: &str) -> ConnectionArgs {
        let command = ConnectionArgs::augment_args(clap::Command::new("t"));
        let mut argv = vec!["t".to_string()];
        for arg in command.get_arguments() {
            argv.push(format!("--{}", arg.get_long().unwrap()));
            if arg.get_action().takes_values() {
                let possible = arg.get_possible_values();
                argv.push(match possible.first() {
                    Some(first) => first.get_name().to_string(),
                    None if arg.get_id() == "page_size" || arg.get_id() == "max_concurrency" => {
                        "7".into()
                    }
                    None => value.to_string(),
                });
            }
        }
        let matches = command.try_get_matches_from(argv).unwrap();
        ConnectionArgs::from_arg_matches(&matches).unwrap()
    }

    fn parse(argv: &[&str]) -> Result<ConnectionArgs, clap::Error> {
        let command = ConnectionArgs::augment_args(clap::Command::new("t"));
        let matches =
            command.try_get_matches_from(std::iter::once("t").chain(argv.iter().copied()))?;
        ConnectionArgs::from_arg_matches(&matches)
    }

    #[test]
    fn page_size_and_concurrency_are_range_checked() {
        assert_eq!(parse(&["--page-size", "1"]).unwrap().page_size, Some(1));
        assert_eq!(
            parse(&["--page-size", "1000"]).unwrap().page_size,
            Some(1000)
        );
        for bad in ["0", "1001", "5000", "-1", "many"] {
            let e = parse(&[&format!("--page-size={bad}")]).unwrap_err();
            assert_eq!(e.kind(), clap::error::ErrorKind::ValueValidation, "{bad}");
            assert!(e.to_string().contains("from 1 to 1000"), "{e}");
        }
        assert_eq!(
            parse(&["--max-concurrency", "1"]).unwrap().max_concurrency,
            Some(1)
        );
        for bad in ["0", "-2", "x"] {
            let e = parse(&[&format!("--max-concurrency={bad}")]).unwrap_err();
            assert_eq!(e.kind(), clap::error::ErrorKind::ValueValidation, "{bad}");
        }
    }

    #[test]
    fn the_token_command_is_one_value_split_like_a_shell() {
        let args = parse(&[
            "--access-token-command",
            "az account get-access-token --resource {resource} --query \"access Token\" -o tsv",
        ])
        .unwrap();
        assert_eq!(
            args.access_token_command.unwrap().0,
            [
                "az",
                "account",
                "get-access-token",
                "--resource",
                "{resource}",
                "--query",
                "access Token",
                "-o",
                "tsv"
            ]
        );
        for bad in ["get-token 'unclosed", "", "  "] {
            let e = parse(&["--access-token-command", bad]).unwrap_err();
            assert_eq!(
                e.kind(),
                clap::error::ErrorKind::ValueValidation,
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn options_after_the_command_win_and_none_is_forgotten() {
        let after = all_given("after");
        let before = all_given("before");
        assert_ne!(after, ConnectionArgs::default());
        assert_eq!(after.clone().over(before.clone()), after);
        assert_eq!(ConnectionArgs::default().over(before.clone()), before);
        assert_eq!(after.clone().over(ConnectionArgs::default()), after);
    }
}
