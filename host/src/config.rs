//! Connection settings from three layers, highest first: command-line flags, the environment
//! variables admins already use (`AZURE_CLIENT_ID`, `AZURE_TENANT_ID`,
//! `AZURE_CLIENT_CERTIFICATE_PATH`, `AZURE_CLIENT_CERTIFICATE_PASSWORD`, `AZURE_CLIENT_SECRET`,
//! `AZURE_AUTHORITY_HOST`, `IDENTITY_ENDPOINT`/`IDENTITY_HEADER`), and a profile in the TOML
//! config file. A layer that names a credential replaces the credential of the layers below it;
//! naming two credentials in one layer is an error, never a silent choice. Flags choose for the
//! command they are given with; the environment and a profile must agree, and must not give the
//! credential and its app id separately ([`layer`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::auth::cert::AssertionAlg;
use crate::secret::{SecretSource, is_variable_name};

/// Where a profile file is looked for when `--config-file`/`EXORUN_CONFIG` do not say:
/// `config.toml` in [`user_config_dir`].
pub fn default_config_path() -> Option<PathBuf> {
    user_config_dir().map(|d| d.join("config.toml"))
}

/// exorun's directory of the user's configuration ([`crate::xdg`]); `None` without a home.
pub fn user_config_dir() -> Option<PathBuf> {
    crate::xdg::dir(crate::xdg::Base::Config)
}

/// exorun's state directory ([`crate::xdg`]); `None` without a home. It holds the audit log,
/// runs and checkpoints.
pub fn state_dir() -> Option<PathBuf> {
    crate::xdg::dir(crate::xdg::Base::State)
}

/// How the app authenticates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CredentialSpec {
    /// A PFX/P12 file, or a PEM file holding certificate and key.
    CertificateFile {
        /// The file.
        path: PathBuf,
        /// Its password (PFX) or the key's password (encrypted PEM).
        password: Option<SecretSource>,
    },
    /// A PEM certificate and a separate PEM key.
    PemPair {
        /// Certificate file.
        cert: PathBuf,
        /// Key file.
        key: PathBuf,
        /// Key password, if the key is encrypted.
        password: Option<SecretSource>,
    },
    /// A certificate found by thumbprint in the certificate stores.
    Thumbprint {
        /// SHA-1 thumbprint (spaces and any case accepted).
        thumbprint: String,
        /// PFX password for store files that have one.
        password: Option<SecretSource>,
    },
    /// A client secret.
    ClientSecret(SecretSource),
    /// A ready access token in a variable.
    AccessToken(SecretSource),
    /// A ready access token in a file, read again whenever a token is needed.
    AccessTokenFile(PathBuf),
    /// A command that prints an access token.
    AccessTokenCommand(Vec<String>),
    /// A managed identity.
    ManagedIdentity {
        /// `IDENTITY_ENDPOINT`.
        endpoint: String,
        /// Where `IDENTITY_HEADER` comes from.
        header: SecretSource,
        /// A user-assigned identity's client id.
        client_id: Option<String>,
    },
}

impl CredentialSpec {
    /// What kind of credential this is, as the audit log names it (never its secret):
    /// `certificate`, `certificate-thumbprint`, `client-secret`, `access-token`,
    /// `access-token-file`, `access-token-command` or `managed-identity`.
    pub fn kind(&self) -> &'static str {
        match self {
            CredentialSpec::CertificateFile { .. } | CredentialSpec::PemPair { .. } => {
                "certificate"
            }
            CredentialSpec::Thumbprint { .. } => "certificate-thumbprint",
            CredentialSpec::ClientSecret(_) => "client-secret",
            CredentialSpec::AccessToken(_) => "access-token",
            CredentialSpec::AccessTokenFile(_) => "access-token-file",
            CredentialSpec::AccessTokenCommand(_) => "access-token-command",
            CredentialSpec::ManagedIdentity { .. } => "managed-identity",
        }
    }

    /// Whether the tokens of this credential say which tenant they are for, so that no
    /// organization need be configured: ready tokens and managed identities. App credentials
    /// (certificate, secret) need the tenant to ask Entra ID for a token at all.
    pub fn names_its_tenant(&self) -> bool {
        matches!(
            self,
            CredentialSpec::AccessToken(_)
                | CredentialSpec::AccessTokenFile(_)
                | CredentialSpec::AccessTokenCommand(_)
                | CredentialSpec::ManagedIdentity { .. }
        )
    }
}

/// Every setting a connection needs; `None` means "not set in this layer".
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Settings {
    /// Application (client) ID.
    pub app_id: Option<String>,
    /// Tenant domain or ID.
    pub organization: Option<String>,
    /// The credential.
    pub credential: Option<CredentialSpec>,
    /// Entra authority host (default `https://login.microsoftonline.com`).
    pub authority: Option<String>,
    /// Exchange base URL (default `https://outlook.office365.com`).
    pub exchange_url: Option<String>,
    /// Security & Compliance base URL.
    pub compliance_url: Option<String>,
    /// An extra CA to trust (a private endpoint, exorun-sim).
    pub ca_file: Option<PathBuf>,
    /// Assertion algorithm (default PS256).
    pub assertion: Option<AssertionAlg>,
    /// Send the certificate in the assertion (`x5c`).
    pub x5c: Option<bool>,
    /// Rows per page (1–1000).
    pub page_size: Option<usize>,
    /// Concurrent requests per tenant.
    pub max_concurrency: Option<usize>,
    /// The operator's policy file for plugin runs with these settings.
    pub policy: Option<PathBuf>,
    /// The audit log every token and cmdlet is recorded in; `None`: nothing is audited (the
    /// command line always names one, see [`crate::audit::default_log_path`]).
    pub audit_log: Option<PathBuf>,
    /// The operator's audit key file ([`crate::audit::AuditKey`]): with one, every record
    /// carries a MAC made with it. Kept apart from the log; never a value on the command line.
    pub audit_key: Option<PathBuf>,
}

impl Settings {
    /// This layer over `lower`: every field set here wins.
    pub fn over(self, lower: Settings) -> Settings {
        Settings {
            app_id: self.app_id.or(lower.app_id),
            organization: self.organization.or(lower.organization),
            credential: self.credential.or(lower.credential),
            authority: self.authority.or(lower.authority),
            exchange_url: self.exchange_url.or(lower.exchange_url),
            compliance_url: self.compliance_url.or(lower.compliance_url),
            ca_file: self.ca_file.or(lower.ca_file),
            assertion: self.assertion.or(lower.assertion),
            x5c: self.x5c.or(lower.x5c),
            page_size: self.page_size.or(lower.page_size),
            max_concurrency: self.max_concurrency.or(lower.max_concurrency),
            policy: self.policy.or(lower.policy),
            audit_log: self.audit_log.or(lower.audit_log),
            audit_key: self.audit_key.or(lower.audit_key),
        }
    }
}

/// A setting whose source is shown (`connect`, `doctor`) and must not be given two ways.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Setting {
    /// The application (client) ID.
    AppId,
    /// The tenant.
    Organization,
    /// The credential.
    Credential,
    /// The Entra authority host.
    Authority,
    /// The Exchange Online URL.
    ExchangeUrl,
    /// The Security & Compliance URL.
    ComplianceUrl,
    /// The extra CA file.
    CaFile,
}

impl Setting {
    /// Every setting, in the order they are shown.
    pub const ALL: [Setting; 7] = [
        Setting::AppId,
        Setting::Organization,
        Setting::Credential,
        Setting::Authority,
        Setting::ExchangeUrl,
        Setting::ComplianceUrl,
        Setting::CaFile,
    ];

    /// Its name in messages.
    pub fn label(self) -> &'static str {
        match self {
            Setting::AppId => "app id",
            Setting::Organization => "organization",
            Setting::Credential => "credential",
            Setting::Authority => "authority",
            Setting::ExchangeUrl => "exchange url",
            Setting::ComplianceUrl => "compliance url",
            Setting::CaFile => "ca file",
        }
    }

    /// Its value in `settings`, as it may be shown (a credential by its kind and file, never a
    /// secret).
    fn shown(self, settings: &Settings) -> Option<String> {
        match self {
            Setting::AppId => settings.app_id.clone(),
            Setting::Organization => settings.organization.clone(),
            Setting::Credential => settings.credential.as_ref().map(describe_credential),
            Setting::Authority => settings.authority.clone(),
            Setting::ExchangeUrl => settings.exchange_url.clone(),
            Setting::ComplianceUrl => settings.compliance_url.clone(),
            Setting::CaFile => settings.ca_file.as_ref().map(|p| p.display().to_string()),
        }
    }

    /// The option that sets it (for a credential, the one of its kind).
    fn flag(self, settings: &Settings) -> &'static str {
        match self {
            Setting::AppId => "--app-id",
            Setting::Organization => "--organization",
            Setting::Credential => match settings.credential {
                Some(CredentialSpec::Thumbprint { .. }) => "--thumbprint",
                Some(CredentialSpec::ClientSecret(_)) => "--client-secret-env/--client-secret-file",
                Some(CredentialSpec::AccessToken(_)) => "--access-token-env",
                Some(CredentialSpec::AccessTokenFile(_)) => "--access-token-file",
                Some(CredentialSpec::AccessTokenCommand(_)) => "--access-token-command",
                Some(CredentialSpec::ManagedIdentity { .. }) => "--managed-identity",
                _ => "--certificate",
            },
            Setting::Authority => "--authority",
            Setting::ExchangeUrl => "--exchange-url",
            Setting::ComplianceUrl => "--compliance-url",
            Setting::CaFile => "--ca-file",
        }
    }

    /// The environment variable that sets it (for a credential, the one of its kind).
    fn variable(self, settings: &Settings) -> &'static str {
        match self {
            Setting::AppId => "AZURE_CLIENT_ID",
            Setting::Organization => "AZURE_TENANT_ID",
            Setting::Credential => match settings.credential {
                Some(CredentialSpec::ClientSecret(_)) => "AZURE_CLIENT_SECRET",
                Some(CredentialSpec::AccessToken(_)) => "EXORUN_ACCESS_TOKEN",
                _ => "AZURE_CLIENT_CERTIFICATE_PATH",
            },
            Setting::Authority => "AZURE_AUTHORITY_HOST",
            Setting::ExchangeUrl => "EXORUN_EXCHANGE_URL",
            Setting::ComplianceUrl => "EXORUN_COMPLIANCE_URL",
            Setting::CaFile => "EXORUN_CA_FILE",
        }
    }
}

/// A credential as it may be shown: its kind, and its file where it has one.
fn describe_credential(credential: &CredentialSpec) -> String {
    match credential {
        CredentialSpec::CertificateFile { path, .. }
        | CredentialSpec::PemPair { cert: path, .. } => {
            format!("certificate {}", path.display())
        }
        CredentialSpec::Thumbprint { thumbprint, .. } => format!("certificate {thumbprint}"),
        CredentialSpec::AccessTokenFile(path) => format!("access-token-file {}", path.display()),
        other => other.kind().to_string(),
    }
}

/// Where the settings of one layer come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Command-line options.
    Flags,
    /// Environment variables.
    Environment,
    /// A profile of a config file.
    Profile {
        /// The profile's name.
        name: String,
        /// The config file.
        file: PathBuf,
    },
}

impl Origin {
    /// Where `setting` came from, as `connect`, `doctor` and errors name it.
    fn of(&self, setting: Setting, settings: &Settings) -> String {
        match self {
            Origin::Flags => setting.flag(settings).to_string(),
            Origin::Environment => setting.variable(settings).to_string(),
            Origin::Profile { name, file } => format!("profile '{name}' ({})", file.display()),
        }
    }
}

/// The settings of all layers, with where each setting came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layered {
    /// The settings.
    pub settings: Settings,
    /// Each setting that is set, with where it came from (e.g. `AZURE_TENANT_ID`).
    pub sources: Vec<(Setting, String)>,
}

/// Flags over environment over a profile. Flags win, as they are given for this very command;
/// the environment and a profile must not disagree, nor may one give the credential and the
/// other the app id it belongs to: exorun never mixes them silently.
pub fn layer(
    flags: Settings,
    env: Settings,
    profile: Option<(Settings, Origin)>,
) -> Result<Layered, ConfigError> {
    let (profile, profile_origin) = profile.unwrap_or((Settings::default(), Origin::Flags));
    let layers = [
        (&flags, Origin::Flags),
        (&env, Origin::Environment),
        (&profile, profile_origin),
    ];
    let from = |setting: Setting| {
        layers
            .iter()
            .find(|(settings, _)| setting.shown(settings).is_some())
            .map(|(settings, origin)| (origin.clone(), origin.of(setting, settings)))
    };
    for setting in Setting::ALL {
        if setting.shown(&flags).is_some() {
            continue;
        }
        if let (Some(env_value), Some(profile_value)) =
            (setting.shown(&env), setting.shown(&profile))
            && env_value != profile_value
        {
            return Err(ConfigError::Conflict {
                setting: setting.label(),
                first: format!("{} says {env_value}", layers[1].1.of(setting, &env)),
                second: format!("{} says {profile_value}", layers[2].1.of(setting, &profile)),
                fix: format!(
                    "unset {} to use the profile's, or pass {} to choose for this command",
                    setting.variable(&env),
                    setting.flag(&env)
                ),
            });
        }
    }
    let app_credential = !flags
        .credential
        .as_ref()
        .or(env.credential.as_ref())
        .or(profile.credential.as_ref())
        .is_some_and(CredentialSpec::names_its_tenant);
    if app_credential
        && let (Some((app_origin, app_source)), Some((cred_origin, cred_source))) =
            (from(Setting::AppId), from(Setting::Credential))
        && app_origin != Origin::Flags
        && cred_origin != Origin::Flags
        && app_origin != cred_origin
    {
        return Err(ConfigError::Mixed {
            credential: cred_source,
            app_id: app_source,
        });
    }
    let sources = Setting::ALL
        .into_iter()
        .filter_map(|setting| from(setting).map(|(_, source)| (setting, source)))
        .collect();
    Ok(Layered {
        settings: flags.over(env.over(profile)),
        sources,
    })
}

/// Why settings could not be assembled.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file could not be read.
    #[error("cannot read the config file {path}: {reason}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The config file is not valid.
    #[error("the config file {path} is not valid: {reason}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What TOML or the schema said.
        reason: String,
    },
    /// The profile does not exist.
    #[error("there is no profile '{name}' in {path} (profiles: {known})")]
    NoProfile {
        /// Requested name.
        name: String,
        /// The file.
        path: PathBuf,
        /// Profiles that exist.
        known: String,
    },
    /// Two credentials in one layer.
    #[error("{layer} names more than one credential ({which}); keep exactly one")]
    TwoCredentials {
        /// Flags, environment or a profile.
        layer: String,
        /// Which ones.
        which: String,
    },
    /// Two places give one setting differently, or give parts of the app's identity.
    #[error(
        "the {setting} is given two ways: {first}, and {second}; exorun does not pick one silently\n  fix: {fix}"
    )]
    Conflict {
        /// The setting.
        setting: &'static str,
        /// The first place and what it says.
        first: String,
        /// The second place and what it says.
        second: String,
        /// What to do.
        fix: String,
    },
    /// The credential and the app id it belongs to come from different places.
    #[error(
        "the credential comes from {credential} but the app id from {app_id}: a credential belongs to one app, and exorun does not mix them silently\n  fix: give both in one place (app_id in the profile, or AZURE_CLIENT_ID with the credential's variable), or pass --app-id to choose for this command"
    )]
    Mixed {
        /// Where the credential came from.
        credential: String,
        /// Where the app id came from.
        app_id: String,
    },
    /// A key that names the variable holding a secret holds something that is no variable's
    /// name: perhaps the secret itself, so it is never shown.
    #[error(
        "{layer}: {key} takes the name of an environment variable holding {what}, and what it holds is not a variable's name; it is not shown here, in case it is the secret itself (anyone who can read the config file can read it)\n  fix: put the secret in a variable and write the variable's name here ({key} = \"{example}\"), or put it in a file only exorun's user can read and give {file_key} = \"PATH\" instead"
    )]
    NotAVariableName {
        /// The profile, with its file.
        layer: String,
        /// The key, e.g. `client_secret_env`.
        key: &'static str,
        /// The secret it is for.
        what: &'static str,
        /// A variable's name to show as an example.
        example: &'static str,
        /// The key that names a file instead.
        file_key: &'static str,
    },
    /// A key that names a variable holds the variable written with its shell `$`.
    #[error("{layer}: {key} takes the variable's name without the $: {key} = \"{name}\"")]
    DollarVariable {
        /// The profile, with its file.
        layer: String,
        /// The key.
        key: &'static str,
        /// The variable's name (a name, not a secret: safe to show).
        name: String,
    },
    /// A value is malformed.
    #[error("{0}")]
    Invalid(String),
}

/// Checks that `value`, given to `key` (a key naming the variable that holds a secret), is a
/// variable's name, never echoing it when it is not.
fn variable_name(
    layer: &str,
    key: &'static str,
    value: Option<&String>,
) -> Result<(), ConfigError> {
    let Some(value) = value else {
        return Ok(());
    };
    if is_variable_name(value) {
        return Ok(());
    }
    if let Some(name) = value.strip_prefix('$').filter(|n| is_variable_name(n)) {
        return Err(ConfigError::DollarVariable {
            layer: layer.to_string(),
            key,
            name: name.to_string(),
        });
    }
    let (what, example, file_key) = match key {
        "certificate_password_env" => (
            "the certificate's password",
            "PFX_PASSWORD",
            "certificate_password_file",
        ),
        "client_secret_env" => (
            "the client secret",
            "EXO_CLIENT_SECRET",
            "client_secret_file",
        ),
        _ => ("the access token", "EXO_TOKEN", "access_token_file"),
    };
    Err(ConfigError::NotAVariableName {
        layer: layer.to_string(),
        key,
        what,
        example,
        file_key,
    })
}

/// One profile of the config file (`[profiles.<name>]`).
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Application (client) ID.
    #[serde(alias = "client_id")]
    pub app_id: Option<String>,
    /// Tenant domain or ID.
    #[serde(alias = "tenant")]
    pub organization: Option<String>,
    /// PFX or PEM (certificate + key) file.
    pub certificate_path: Option<PathBuf>,
    /// Separate PEM key file.
    pub key_path: Option<PathBuf>,
    /// Variable holding the PFX or key password.
    pub certificate_password_env: Option<String>,
    /// File holding the PFX or key password.
    pub certificate_password_file: Option<PathBuf>,
    /// Certificate thumbprint to find in the certificate stores.
    pub certificate_thumbprint: Option<String>,
    /// Variable holding the client secret.
    pub client_secret_env: Option<String>,
    /// File holding the client secret.
    pub client_secret_file: Option<PathBuf>,
    /// Variable holding a ready access token.
    pub access_token_env: Option<String>,
    /// File holding a ready access token.
    pub access_token_file: Option<PathBuf>,
    /// Command printing an access token: one string split like a shell would, or the program
    /// and its arguments as a list.
    pub access_token_command: Option<CommandLine>,
    /// Use the managed identity of this host.
    pub managed_identity: Option<bool>,
    /// Client id of a user-assigned managed identity.
    pub managed_identity_client_id: Option<String>,
    /// Entra authority host.
    pub authority: Option<String>,
    /// Exchange base URL.
    pub exchange_url: Option<String>,
    /// Security & Compliance base URL.
    pub compliance_url: Option<String>,
    /// Extra CA file.
    pub ca_file: Option<PathBuf>,
    /// `ps256` (default) or `rs256`.
    pub assertion: Option<String>,
    /// Send `x5c`.
    pub x5c: Option<bool>,
    /// Rows per page.
    pub page_size: Option<usize>,
    /// Concurrent requests per tenant.
    pub max_concurrency: Option<usize>,
    /// The operator's policy file for plugin runs with this profile.
    pub policy: Option<PathBuf>,
}

/// A command as a profile writes it: `"az account get-access-token --resource {resource}"`, or
/// `["az", "account", "get-access-token", "--resource", "{resource}"]`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum CommandLine {
    /// One string, split like a POSIX shell would (quotes and backslashes respected).
    Line(String),
    /// The program and its arguments.
    Words(Vec<String>),
}

impl CommandLine {
    /// The program and its arguments; an unbalanced quote or an empty command is refused.
    pub fn words(&self) -> Result<Vec<String>, String> {
        let words = match self {
            CommandLine::Line(line) => split_command(line)?,
            CommandLine::Words(words) => words.clone(),
        };
        if words.first().is_none_or(|program| program.is_empty()) {
            return Err("the command is empty: name the program that prints the token".into());
        }
        Ok(words)
    }
}

/// Splits a command line the way a POSIX shell does (quotes and backslashes; no expansion).
pub fn split_command(line: &str) -> Result<Vec<String>, String> {
    shell_words::split(line).map_err(|_| {
        format!(
            "'{line}' has an unclosed quote: close it, or quote the whole command in single quotes"
        )
    })
}

/// The config file.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// Profile used when none is named.
    pub default_profile: Option<String>,
    /// Profiles by name.
    #[serde(default)]
    pub profiles: BTreeMap<String, Profile>,
}

impl ConfigFile {
    /// Reads a config file; a missing file at the default path is an empty config.
    pub fn load(path: &Path, must_exist: bool) -> Result<ConfigFile, ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !must_exist => {
                return Ok(ConfigFile::default());
            }
            Err(e) => {
                return Err(ConfigError::Read {
                    path: path.to_path_buf(),
                    reason: e.to_string(),
                });
            }
        };
        toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })
    }

    /// The profile `name` names, or the default profile when `name` is `None`.
    pub fn profile_name<'a>(&'a self, name: Option<&'a str>) -> Option<&'a str> {
        name.or(self.default_profile.as_deref())
    }

    /// The settings of profile `name` (or the default profile); relative paths are taken
    /// relative to the config file.
    pub fn settings(&self, name: Option<&str>, path: &Path) -> Result<Settings, ConfigError> {
        let Some(name) = name.or(self.default_profile.as_deref()) else {
            return Ok(Settings::default());
        };
        let profile = self
            .profiles
            .get(name)
            .ok_or_else(|| ConfigError::NoProfile {
                name: name.to_string(),
                path: path.to_path_buf(),
                known: if self.profiles.is_empty() {
                    "none".into()
                } else {
                    self.profiles.keys().cloned().collect::<Vec<_>>().join(", ")
                },
            })?;
        let base = path.parent().unwrap_or(Path::new("."));
        profile.settings(&format!("profile '{name}' ({})", path.display()), base)
    }
}

fn parse_alg(text: &str) -> Result<AssertionAlg, ConfigError> {
    match text.to_ascii_lowercase().as_str() {
        "ps256" => Ok(AssertionAlg::Ps256),
        "rs256" => Ok(AssertionAlg::Rs256),
        other => Err(ConfigError::Invalid(format!(
            "assertion '{other}' is not ps256 or rs256"
        ))),
    }
}

/// The one password source a layer gives (env wins over file when both are set).
fn password(env: Option<&String>, file: Option<&PathBuf>) -> Option<SecretSource> {
    env.map(|e| SecretSource::Env(e.clone()))
        .or_else(|| file.map(|f| SecretSource::File(f.clone())))
}

/// Picks the layer's credential, refusing two.
fn one_credential(
    layer: &str,
    candidates: Vec<(&str, CredentialSpec)>,
) -> Result<Option<CredentialSpec>, ConfigError> {
    if candidates.len() > 1 {
        let which = candidates
            .iter()
            .map(|(n, _)| *n)
            .collect::<Vec<_>>()
            .join(" and ");
        return Err(ConfigError::TwoCredentials {
            layer: layer.to_string(),
            which,
        });
    }
    Ok(candidates.into_iter().next().map(|(_, c)| c))
}

impl Profile {
    /// This profile as a settings layer.
    pub fn settings(&self, layer: &str, base: &Path) -> Result<Settings, ConfigError> {
        let rel = |p: &PathBuf| {
            if p.is_relative() {
                base.join(p)
            } else {
                p.clone()
            }
        };
        variable_name(
            layer,
            "certificate_password_env",
            self.certificate_password_env.as_ref(),
        )?;
        variable_name(layer, "client_secret_env", self.client_secret_env.as_ref())?;
        variable_name(layer, "access_token_env", self.access_token_env.as_ref())?;
        let pw = password(
            self.certificate_password_env.as_ref(),
            self.certificate_password_file.as_ref().map(rel).as_ref(),
        );
        let mut candidates = Vec::new();
        match (&self.certificate_path, &self.key_path) {
            (Some(cert), Some(key)) => candidates.push((
                "certificate_path",
                CredentialSpec::PemPair {
                    cert: rel(cert),
                    key: rel(key),
                    password: pw.clone(),
                },
            )),
            (Some(path), None) => candidates.push((
                "certificate_path",
                CredentialSpec::CertificateFile {
                    path: rel(path),
                    password: pw.clone(),
                },
            )),
            (None, Some(_)) => {
                return Err(ConfigError::Invalid(format!(
                    "{layer}: key_path needs certificate_path"
                )));
            }
            (None, None) => {}
        }
        if let Some(thumbprint) = &self.certificate_thumbprint {
            candidates.push((
                "certificate_thumbprint",
                CredentialSpec::Thumbprint {
                    thumbprint: thumbprint.clone(),
                    password: pw,
                },
            ));
        }
        if let Some(secret) = password(
            self.client_secret_env.as_ref(),
            self.client_secret_file.as_ref().map(rel).as_ref(),
        ) {
            candidates.push(("client_secret", CredentialSpec::ClientSecret(secret)));
        }
        if let Some(env) = &self.access_token_env {
            candidates.push((
                "access_token_env",
                CredentialSpec::AccessToken(SecretSource::Env(env.clone())),
            ));
        }
        if let Some(file) = &self.access_token_file {
            candidates.push((
                "access_token_file",
                CredentialSpec::AccessTokenFile(rel(file)),
            ));
        }
        if let Some(command) = &self.access_token_command {
            let words = command.words().map_err(|reason| {
                ConfigError::Invalid(format!("{layer}: access_token_command: {reason}"))
            })?;
            candidates.push((
                "access_token_command",
                CredentialSpec::AccessTokenCommand(words),
            ));
        }
        if self.managed_identity == Some(true) {
            candidates.push((
                "managed_identity",
                CredentialSpec::ManagedIdentity {
                    endpoint: std::env::var("IDENTITY_ENDPOINT").unwrap_or_default(),
                    header: SecretSource::Env("IDENTITY_HEADER".into()),
                    client_id: self.managed_identity_client_id.clone(),
                },
            ));
        }
        Ok(Settings {
            app_id: self.app_id.clone(),
            organization: self.organization.clone(),
            credential: one_credential(layer, candidates)?,
            authority: self.authority.clone(),
            exchange_url: self.exchange_url.clone(),
            compliance_url: self.compliance_url.clone(),
            ca_file: self.ca_file.as_ref().map(rel),
            assertion: self.assertion.as_deref().map(parse_alg).transpose()?,
            x5c: self.x5c,
            page_size: self.page_size,
            max_concurrency: self.max_concurrency,
            policy: self.policy.as_ref().map(rel),
            audit_log: None,
            audit_key: None,
        })
    }
}

/// The environment layer, read through `env` (tests pass their own).
pub fn from_env(env: impl Fn(&str) -> Option<String>) -> Result<Settings, ConfigError> {
    let get = |name: &str| env(name).filter(|v| !v.is_empty());
    let mut candidates = Vec::new();
    if let Some(path) = get("AZURE_CLIENT_CERTIFICATE_PATH") {
        let password = get("AZURE_CLIENT_CERTIFICATE_PASSWORD")
            .map(|_| SecretSource::Env("AZURE_CLIENT_CERTIFICATE_PASSWORD".into()));
        candidates.push((
            "AZURE_CLIENT_CERTIFICATE_PATH",
            CredentialSpec::CertificateFile {
                path: PathBuf::from(path),
                password,
            },
        ));
    }
    if get("AZURE_CLIENT_SECRET").is_some() {
        candidates.push((
            "AZURE_CLIENT_SECRET",
            CredentialSpec::ClientSecret(SecretSource::Env("AZURE_CLIENT_SECRET".into())),
        ));
    }
    if get("EXORUN_ACCESS_TOKEN").is_some() {
        candidates.push((
            "EXORUN_ACCESS_TOKEN",
            CredentialSpec::AccessToken(SecretSource::Env("EXORUN_ACCESS_TOKEN".into())),
        ));
    }
    Ok(Settings {
        app_id: get("AZURE_CLIENT_ID"),
        organization: get("AZURE_TENANT_ID"),
        credential: one_credential("the environment", candidates)?,
        authority: get("AZURE_AUTHORITY_HOST"),
        exchange_url: get("EXORUN_EXCHANGE_URL"),
        compliance_url: get("EXORUN_COMPLIANCE_URL"),
        ca_file: get("EXORUN_CA_FILE").map(PathBuf::from),
        audit_log: get("EXORUN_AUDIT_LOG").map(PathBuf::from),
        audit_key: get("EXORUN_AUDIT_KEY").map(PathBuf::from),
        ..Settings::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_parse_with_aliases_and_relative_paths() {
        let file: ConfigFile = toml::from_str(
            r#"
            default_profile = "contoso"
            [profiles.contoso]
            client_id = "1f7e0b59-3c3a-4d8e-9a57-2b4c8d1e6f30"
            tenant = "contoso.onmicrosoft.com"
            certificate_path = "certs/app.pfx"
            certificate_password_file = "certs/app.pw"
            assertion = "rs256"
            "#,
        )
        .unwrap();
        let s = file
            .settings(None, Path::new("/etc/exorun/config.toml"))
            .unwrap();
        assert_eq!(s.organization.as_deref(), Some("contoso.onmicrosoft.com"));
        assert_eq!(s.assertion, Some(AssertionAlg::Rs256));
        assert_eq!(
            s.credential,
            Some(CredentialSpec::CertificateFile {
                path: "/etc/exorun/certs/app.pfx".into(),
                password: Some(SecretSource::File("/etc/exorun/certs/app.pw".into()))
            })
        );
        let e = file
            .settings(Some("fabrikam"), Path::new("c.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("no profile 'fabrikam'") && e.contains("contoso"),
            "{e}"
        );
        assert!(
            toml::from_str::<ConfigFile>("[profiles.x]\nappid = 'x'").is_err(),
            "unknown keys are refused"
        );
    }

    #[test]
    fn a_secret_where_a_variable_name_belongs_is_refused_unshown() {
        let settings = |toml_text: &str| {
            let file: ConfigFile = toml::from_str(toml_text).unwrap();
            file.settings(Some("p"), Path::new("c.toml"))
        };
        for key in [
            "client_secret_env",
            "certificate_password_env",
            "access_token_env",
        ] {
            let secret = "Qx8~rT2vLm.Np4_sW9zKj3";
            let e = settings(&format!("[profiles.p]\n{key} = \"{secret}\""))
                .unwrap_err()
                .to_string();
            assert!(!e.contains(secret), "{e}");
            assert!(
                e.starts_with(&format!(
                    "profile 'p' (c.toml): {key} takes the name of an environment variable holding "
                )) && e.contains("it is not shown here, in case it is the secret itself"),
                "{e}"
            );
        }
        let e = settings("[profiles.p]\nclient_secret_env = \"$EXO_SECRET\"")
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "profile 'p' (c.toml): client_secret_env takes the variable's name without the $: client_secret_env = \"EXO_SECRET\""
        );
        settings("[profiles.p]\nclient_secret_env = \"EXO_SECRET\"").unwrap();
    }

    #[test]
    fn a_token_command_is_one_string_or_a_list() {
        let settings = |toml_text: &str| {
            let file: ConfigFile = toml::from_str(toml_text).unwrap();
            file.settings(Some("p"), Path::new("c.toml"))
        };
        let expected = Some(CredentialSpec::AccessTokenCommand(
            [
                "az",
                "account",
                "get-access-token",
                "--resource",
                "{resource}",
                "-o",
                "tsv x",
            ]
            .map(String::from)
            .to_vec(),
        ));
        let line = settings(
            r#"[profiles.p]
            access_token_command = "az account get-access-token --resource {resource} -o 'tsv x'""#,
        )
        .unwrap();
        assert_eq!(line.credential, expected);
        let list = settings(
            r#"[profiles.p]
            access_token_command = ["az", "account", "get-access-token", "--resource", "{resource}", "-o", "tsv x"]"#,
        )
        .unwrap();
        assert_eq!(list.credential, expected);
        let e = settings("[profiles.p]\naccess_token_command = \"get-token 'x\"")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("access_token_command") && e.contains("unclosed quote"),
            "{e}"
        );
        let e = settings("[profiles.p]\naccess_token_command = []")
            .unwrap_err()
            .to_string();
        assert!(e.contains("the command is empty"), "{e}");
    }

    #[test]
    fn two_credentials_in_one_layer_are_refused() {
        let profile = Profile {
            certificate_thumbprint: Some("AB".into()),
            client_secret_env: Some("S".into()),
            ..Profile::default()
        };
        let e = profile
            .settings("profile 'p'", Path::new("."))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("certificate_thumbprint and client_secret"),
            "{e}"
        );
    }

    #[test]
    fn layers_never_mix_silently_and_say_where_each_setting_came_from() {
        let profile = |app_id: Option<&str>| Settings {
            app_id: app_id.map(String::from),
            credential: Some(CredentialSpec::CertificateFile {
                path: "/etc/exorun/reader.pfx".into(),
                password: None,
            }),
            ..Settings::default()
        };
        let origin = Origin::Profile {
            name: "reader".into(),
            file: "/etc/exorun/config.toml".into(),
        };
        let env = Settings {
            app_id: Some("env-app".into()),
            organization: Some("contoso.onmicrosoft.com".into()),
            ..Settings::default()
        };
        let e = layer(
            Settings::default(),
            env.clone(),
            Some((profile(Some("reader-app")), origin.clone())),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("the app id is given two ways: AZURE_CLIENT_ID says env-app, and profile 'reader' (/etc/exorun/config.toml) says reader-app"),
            "{e}"
        );
        let e = layer(
            Settings::default(),
            env.clone(),
            Some((profile(None), origin.clone())),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("the credential comes from profile 'reader' (/etc/exorun/config.toml) but the app id from AZURE_CLIENT_ID"),
            "{e}"
        );
        // A flag chooses for this command; the same value twice is no conflict.
        let flags = Settings {
            app_id: Some("flag-app".into()),
            ..Settings::default()
        };
        let layered = layer(flags, env, Some((profile(Some("reader-app")), origin))).unwrap();
        assert_eq!(layered.settings.app_id.as_deref(), Some("flag-app"));
        assert_eq!(
            layered.sources,
            [
                (Setting::AppId, "--app-id".to_string()),
                (Setting::Organization, "AZURE_TENANT_ID".to_string()),
                (
                    Setting::Credential,
                    "profile 'reader' (/etc/exorun/config.toml)".to_string()
                ),
            ]
        );
    }

    #[test]
    fn environment_uses_azure_names_and_higher_layers_win() {
        let env = |name: &str| match name {
            "AZURE_CLIENT_ID" => Some("env-app".to_string()),
            "AZURE_CLIENT_SECRET" => Some("shh".to_string()),
            _ => None,
        };
        let from_env = from_env(env).unwrap();
        assert_eq!(
            from_env.credential,
            Some(CredentialSpec::ClientSecret(SecretSource::Env(
                "AZURE_CLIENT_SECRET".into()
            )))
        );
        let flags = Settings {
            app_id: Some("flag-app".into()),
            ..Settings::default()
        };
        let merged = flags.over(from_env);
        assert_eq!(merged.app_id.as_deref(), Some("flag-app"));
        assert!(merged.credential.is_some());
    }
}
