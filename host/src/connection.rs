//! A connection to one tenant: settings checked, credential loaded, token provider and
//! Exchange client ready. This is the library's entry point for other Rust programs.

use std::sync::Arc;

use crate::audit::{Audit, AuditError};
use crate::auth::cert::{AssertionAlg, CertStore, Certificate, Password, find_by_thumbprint};
use crate::auth::claims::{self, TokenClaims};
use crate::auth::entra::{ClientCredential, ClientCredentials, DEFAULT_AUTHORITY};
use crate::auth::identity::{AppId, Organization};
use crate::auth::provider::{CredentialLabel, TokenProvider};
use crate::auth::sources::{ManagedIdentity, StaticToken, TokenCommand, TokenFile};
use crate::auth::{AuthError, Resource, TokenSource};
use crate::config::{CredentialSpec, Settings};
use crate::connector::Connector;
use crate::exchange::{ExchangeClient, ExchangeSettings, RetryPolicy};
use crate::http::HttpError;
use crate::secret::{Secret, SecretSource};

/// Why a connection could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// A required setting is missing.
    #[error("{0}")]
    Missing(String),
    /// The credential or names are unusable.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// The HTTPS client could not be built.
    #[error(transparent)]
    Http(#[from] HttpError),
    /// The audit log cannot be appended to.
    #[error(transparent)]
    Audit(#[from] AuditError),
}

/// A ready connection to one tenant's Exchange Online.
///
/// ```no_run
/// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
/// use exorun::config::{CredentialSpec, Settings};
/// use exorun::exchange::Surface;
/// use exorun::secret::SecretSource;
///
/// let settings = Settings {
///     app_id: Some("1f7e0b59-3c3a-4d8e-9a57-2b4c8d1e6f30".into()),
///     organization: Some("contoso.onmicrosoft.com".into()),
///     credential: Some(CredentialSpec::CertificateFile {
///         path: "/etc/exorun/automation.pfx".into(),
///         password: Some(SecretSource::Env("EXORUN_PFX_PASSWORD".into())),
///     }),
///     ..Settings::default()
/// };
/// let connection = exorun::Connection::open(settings)?;
/// let mut params = serde_json::Map::new();
/// params.insert("ResultSize".into(), "Unlimited".into());
/// let mut query = connection.exchange().query(Surface::Exchange, "Get-Mailbox", params);
/// while let Some(page) = query.next_page().await? {
///     for mailbox in page.rows {
///         println!("{}", mailbox["UserPrincipalName"]);
///     }
/// }
/// # Ok(())
/// # }
/// ```
pub struct Connection {
    exchange: ExchangeClient,
    tokens: Arc<TokenProvider>,
    audit: Audit,
    organization: Option<Organization>,
    certificate: Option<Arc<Certificate>>,
}

/// What `--organization` and friends say when there is none and the credential needs one.
const NO_ORGANIZATION: &str = "no organization\n  fix: pass --organization contoso.onmicrosoft.com (or the tenant ID), set AZURE_TENANT_ID, or put organization in the profile (with an access token or a managed identity it may be left out: the token names the tenant)";

impl Connection {
    /// Checks the settings, loads the credential, opens the audit log (when the settings name
    /// one) and prepares the client. Nothing is sent yet.
    ///
    /// The organization may be left out with a ready access token or a managed identity: the
    /// token's `tid` claim names the tenant. A static token is read here; a token file, command
    /// or managed identity is asked on first use. A configured organization always wins (a
    /// tenant ID that differs from the token's is logged as a warning).
    ///
    /// A connection opened here shares nothing with another; to open many (one per tenant),
    /// open them through one [`Connector`], which shares the HTTPS client and audit log.
    pub fn open(settings: Settings) -> Result<Connection, ConnectError> {
        Connector::new().open(settings)
    }

    /// [`Connection::open`], counting its requests, throttling waits and tokens in
    /// `telemetry` (a long-running process's metrics).
    pub fn open_observed(
        settings: Settings,
        telemetry: Arc<crate::telemetry::Telemetry>,
    ) -> Result<Connection, ConnectError> {
        Connector::observed(telemetry).open(settings)
    }

    /// [`Connection::open`] with `connector`'s HTTPS client and audit log handle.
    pub(crate) fn open_in(
        settings: Settings,
        connector: &Connector,
    ) -> Result<Connection, ConnectError> {
        let configured = settings
            .organization
            .as_deref()
            .map(Organization::parse)
            .transpose()?;
        let spec = settings.credential.clone().or_else(managed_identity_from_env).ok_or_else(|| {
            ConnectError::Missing(
                "no credential\n  fix: give --certificate FILE (PFX or PEM), --thumbprint, --client-secret-file/--client-secret-env, an access token, or --managed-identity; or set AZURE_CLIENT_CERTIFICATE_PATH or AZURE_CLIENT_SECRET".into(),
            )
        })?;
        if configured.is_none() && !spec.names_its_tenant() {
            return Err(ConnectError::Missing(NO_ORGANIZATION.into()));
        }
        // Before any secret is read or prompted for: a log that cannot be written stops here.
        let audit = match &settings.audit_log {
            Some(path) => connector.audit(path, settings.audit_key.as_deref())?,
            None => Audit::disabled(),
        };
        let http = connector.http(settings.ca_file.as_deref())?;
        let credential = token_source(&settings, &spec, configured.as_ref(), &http)?;
        let organization = match (configured, credential.tenant) {
            (Some(configured), Some(from_token)) => {
                if matches!(configured, Organization::Id(_)) && configured != from_token {
                    tracing::warn!(
                        organization = %configured,
                        token_tenant = %from_token,
                        "the access token is for another tenant than the configured organization; using the organization"
                    );
                }
                Some(configured)
            }
            (configured, from_token) => configured.or(from_token),
        };
        let label = CredentialLabel {
            kind: spec.kind().to_string(),
            app_id: settings.app_id.clone(),
            tenant: organization.as_ref().map(ToString::to_string),
        };
        let mut tokens = TokenProvider::new(credential.source).audited(audit.clone(), label);
        if let Some(telemetry) = connector.telemetry() {
            tokens = tokens.observed(telemetry.clone());
        }
        let tokens = Arc::new(tokens);
        let mut exchange_settings = ExchangeSettings {
            organization: organization.as_ref().map(ToString::to_string),
            ..ExchangeSettings::default()
        };
        if let Some(url) = &settings.exchange_url {
            exchange_settings.exchange_url = url.trim_end_matches('/').to_string();
        }
        if let Some(url) = &settings.compliance_url {
            exchange_settings.compliance_url = url.trim_end_matches('/').to_string();
        }
        if let Some(n) = settings.page_size {
            exchange_settings.page_size = n.clamp(1, 1000);
        }
        if let Some(n) = settings.max_concurrency {
            exchange_settings.max_concurrency = n.max(1);
        }
        exchange_settings.retry = RetryPolicy::default();
        let exchange =
            ExchangeClient::new(http, tokens.clone(), exchange_settings).with_audit(audit.clone());
        Ok(Connection {
            exchange,
            tokens,
            audit,
            organization,
            certificate: credential.certificate,
        })
    }

    /// The Exchange client (InvokeCommand, paging, retries).
    pub fn exchange(&self) -> &ExchangeClient {
        &self.exchange
    }

    /// The audit log tokens and cmdlets are recorded in (disabled when the settings name none).
    pub fn audit(&self) -> &Audit {
        &self.audit
    }

    /// The token provider (tokens are cached and refreshed here).
    pub fn tokens(&self) -> &Arc<TokenProvider> {
        &self.tokens
    }

    /// The tenant, when configured or read from a static token at open; `None` when it is
    /// learnt from the first token (see [`Connection::open`]).
    pub fn organization(&self) -> Option<&Organization> {
        self.organization.as_ref()
    }

    /// The certificate in use, if the credential is one.
    pub fn certificate(&self) -> Option<&Arc<Certificate>> {
        self.certificate.as_ref()
    }

    /// Gets a token for `resource` and decodes its non-secret claims.
    pub async fn token_claims(&self, resource: Resource) -> Result<TokenClaims, AuthError> {
        let token = self.tokens.token(resource).await?;
        claims::decode(token.secret.expose()).ok_or_else(|| {
            AuthError::ReadyToken(
                "the access token is not a JWT, so its claims cannot be shown".into(),
            )
        })
    }
}

fn app_id(settings: &Settings) -> Result<AppId, ConnectError> {
    let text = settings.app_id.as_deref().ok_or_else(|| {
        ConnectError::Missing(
            "no AppId\n  fix: pass --app-id <Application (client) ID>, set AZURE_CLIENT_ID, or put app_id in the profile".into(),
        )
    })?;
    Ok(AppId::parse(text)?)
}

fn read(source: &SecretSource) -> Result<Secret, AuthError> {
    Ok(source.read()?)
}

/// Loads a certificate credential as configured; the password, if any, is read first and its
/// source named in any refusal.
pub fn load_certificate(spec: &CredentialSpec) -> Result<Option<Certificate>, AuthError> {
    let read_password =
        |source: &Option<SecretSource>| source.as_ref().map(Password::read).transpose();
    Ok(Some(match spec {
        CredentialSpec::CertificateFile { path, password } => {
            Certificate::from_path(path, read_password(password)?.as_ref())?
        }
        CredentialSpec::PemPair {
            cert,
            key,
            password,
        } => Certificate::from_pem_files(cert, key, read_password(password)?.as_ref())?,
        CredentialSpec::Thumbprint {
            thumbprint,
            password,
        } => find_by_thumbprint(
            &CertStore::defaults(),
            thumbprint,
            read_password(password)?.as_ref(),
        )?,
        _ => return Ok(None),
    }))
}

/// The token source of a credential, with what it tells at once.
struct Credential {
    source: Arc<dyn TokenSource>,
    /// The certificate, for a certificate credential.
    certificate: Option<Arc<Certificate>>,
    /// The tenant a static token names (its `tid`).
    tenant: Option<Organization>,
}

impl Credential {
    fn new(source: Arc<dyn TokenSource>) -> Credential {
        Credential {
            source,
            certificate: None,
            tenant: None,
        }
    }
}

fn token_source(
    settings: &Settings,
    spec: &CredentialSpec,
    organization: Option<&Organization>,
    http: &reqwest::Client,
) -> Result<Credential, ConnectError> {
    let authority = settings
        .authority
        .clone()
        .unwrap_or_else(|| DEFAULT_AUTHORITY.to_string());
    let required_organization = || {
        organization
            .cloned()
            .ok_or_else(|| ConnectError::Missing(NO_ORGANIZATION.into()))
    };
    let client = |credential: ClientCredential| -> Result<Credential, ConnectError> {
        Ok(Credential::new(Arc::new(ClientCredentials::new(
            http.clone(),
            &authority,
            required_organization()?,
            app_id(settings)?,
            credential,
        ))))
    };
    Ok(match spec {
        CredentialSpec::CertificateFile { .. }
        | CredentialSpec::PemPair { .. }
        | CredentialSpec::Thumbprint { .. } => {
            let app = app_id(settings)?;
            let cert = load_certificate(spec)?
                .map(Arc::new)
                .ok_or_else(|| ConnectError::Missing("no certificate".into()))?;
            cert.check(chrono::Utc::now()).map_err(AuthError::from)?;
            let credential = ClientCredential::Certificate {
                cert: cert.clone(),
                alg: settings.assertion.unwrap_or(AssertionAlg::Ps256),
                x5c: settings.x5c.unwrap_or(false),
            };
            let source: Arc<dyn TokenSource> = Arc::new(ClientCredentials::new(
                http.clone(),
                &authority,
                required_organization()?,
                app,
                credential,
            ));
            Credential {
                source,
                certificate: Some(cert),
                tenant: None,
            }
        }
        CredentialSpec::ClientSecret(source) => client(ClientCredential::Secret(read(source)?))?,
        CredentialSpec::AccessToken(source) => {
            let origin = match source {
                SecretSource::Env(name) => name.clone(),
                SecretSource::File(path) => path.display().to_string(),
                SecretSource::Prompt(label) => label.clone(),
            };
            let token = read(source)?;
            let tenant =
                claims::decode(token.expose()).and_then(|c| Organization::parse(&c.tenant_id).ok());
            if tenant.is_none() && organization.is_none() {
                return Err(AuthError::NoTenant {
                    source_name: origin,
                }
                .into());
            }
            Credential {
                tenant,
                ..Credential::new(Arc::new(StaticToken::new(token, origin)))
            }
        }
        CredentialSpec::AccessTokenFile(path) => {
            Credential::new(Arc::new(TokenFile::new(path.clone())))
        }
        CredentialSpec::AccessTokenCommand(command) => {
            let (program, args) = command
                .split_first()
                .ok_or_else(|| ConnectError::Missing("the access-token command is empty\n  fix: give the program that prints a token after --access-token-command".into()))?;
            Credential::new(Arc::new(TokenCommand::new(program.clone(), args.to_vec())))
        }
        CredentialSpec::ManagedIdentity {
            endpoint,
            header,
            client_id,
        } => {
            if endpoint.is_empty() {
                return Err(ConnectError::Missing(
                    "managed identity asked for, but IDENTITY_ENDPOINT is not set\n  fix: run on a host with a managed identity, or choose another credential".into(),
                ));
            }
            let header = read(header)?;
            Credential::new(Arc::new(ManagedIdentity::new(
                http.clone(),
                endpoint.clone(),
                header,
                client_id.clone(),
            )))
        }
    })
}

/// A managed identity is used unasked only when the host provides one and nothing else is set.
fn managed_identity_from_env() -> Option<CredentialSpec> {
    let endpoint = std::env::var("IDENTITY_ENDPOINT")
        .ok()
        .filter(|e| !e.is_empty())?;
    std::env::var_os("IDENTITY_HEADER")?;
    Some(CredentialSpec::ManagedIdentity {
        endpoint,
        header: SecretSource::Env("IDENTITY_HEADER".into()),
        client_id: std::env::var("AZURE_CLIENT_ID").ok(),
    })
}
