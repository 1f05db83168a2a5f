//! The Entra ID v2.0 token endpoint, client-credentials grant (docs/protocol.md §4): a certificate
//! assertion or a client secret in, an access token out, and every AADSTS error mapped to the
//! fix an admin needs.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures::future::BoxFuture;
use serde_json::Value;

use super::cert::{AssertionAlg, Certificate, client_assertion};
use super::identity::{AppId, Organization};
use super::{AccessToken, AuthError, Resource, TokenSource};
use crate::http;
use crate::secret::Secret;

/// Tries of one token request, the first included: a 429, a 5xx or a connection that fails is
/// tried again, after the `Retry-After` the answer asks for (else 2 s, 4 s, 8 s).
const TOKEN_TRIES: i32 = 4;

/// The public cloud's authority host (override with `AZURE_AUTHORITY_HOST`).
pub const DEFAULT_AUTHORITY: &str = "https://login.microsoftonline.com";

/// How the app proves who it is.
#[derive(Clone)]
pub enum ClientCredential {
    /// A certificate: a signed assertion is sent, the key never leaves this process.
    Certificate {
        /// Certificate and key.
        cert: Arc<Certificate>,
        /// PS256 (default) or RS256.
        alg: AssertionAlg,
        /// Send the certificate chain (`x5c`) for subject-name/issuer authentication.
        x5c: bool,
    },
    /// A client secret.
    Secret(Secret),
}

impl std::fmt::Debug for ClientCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientCredential::Certificate { cert, alg, x5c } => {
                write!(
                    f,
                    "Certificate {{ thumbprint: {}, alg: {alg:?}, x5c: {x5c} }}",
                    cert.thumbprint_sha1_hex()
                )
            }
            ClientCredential::Secret(_) => f.write_str("Secret([redacted])"),
        }
    }
}

/// An app registration's credential against one tenant's token endpoint.
#[derive(Clone, Debug)]
pub struct ClientCredentials {
    http: reqwest::Client,
    authority: String,
    organization: Organization,
    app_id: AppId,
    credential: ClientCredential,
}

impl ClientCredentials {
    /// Prepares the grant; nothing is sent yet.
    pub fn new(
        http: reqwest::Client,
        authority: &str,
        organization: Organization,
        app_id: AppId,
        credential: ClientCredential,
    ) -> ClientCredentials {
        ClientCredentials {
            http,
            authority: authority.trim_end_matches('/').to_string(),
            organization,
            app_id,
            credential,
        }
    }

    /// The token endpoint URL (also the assertion's audience).
    pub fn token_url(&self) -> String {
        format!("{}/{}/oauth2/v2.0/token", self.authority, self.organization)
    }

    /// The credential in use.
    pub fn credential(&self) -> &ClientCredential {
        &self.credential
    }

    async fn request(&self, resource: Resource) -> Result<AccessToken, AuthError> {
        let url = self.token_url();
        let scope = resource.scope();
        let client_id = self.app_id.to_string();
        let assertion;
        let mut form: Vec<(&str, &str)> = vec![
            ("grant_type", "client_credentials"),
            ("client_id", &client_id),
            ("scope", &scope),
        ];
        match &self.credential {
            ClientCredential::Certificate { cert, alg, x5c } => {
                cert.check(Utc::now())?;
                assertion = client_assertion(cert, &client_id, &url, *alg, *x5c, Utc::now())?;
                form.push((
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                ));
                form.push(("client_assertion", assertion.expose()));
            }
            ClientCredential::Secret(secret) => form.push(("client_secret", secret.expose())),
        }
        let transport = |reason: String| AuthError::Transport {
            endpoint: url.clone(),
            reason,
        };
        let mut attempt = 0;
        let response = loop {
            attempt += 1;
            match self.http.post(&url).form(&form).send().await {
                Ok(r)
                    if (r.status().as_u16() == 429 || r.status().is_server_error())
                        && attempt < TOKEN_TRIES =>
                {
                    let wait = r
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.parse::<f64>().ok())
                        .unwrap_or(2f64.powi(attempt));
                    tokio::time::sleep(Duration::from_secs_f64(wait.clamp(0.1, 30.0))).await;
                }
                Ok(r) => break r,
                Err(e)
                    if attempt < TOKEN_TRIES
                        && (e.is_connect() || e.is_timeout())
                        && !http::is_untrusted_server(&e) =>
                {
                    tokio::time::sleep(Duration::from_secs(1 << attempt)).await;
                }
                Err(e) => return Err(transport(http::describe(&e))),
            }
        };
        let status = response.status();
        let body: Value = response.json().await.map_err(|e| {
            transport(format!(
                "HTTP {status}, unreadable body: {}",
                http::describe(&e)
            ))
        })?;
        if status.is_success() {
            return parse_token(&body)
                .ok_or_else(|| transport("the response has no access_token".into()));
        }
        Err(self.map_error(&body, status.as_u16()))
    }

    /// Turns an AADSTS error body into the error with its fix.
    fn map_error(&self, body: &Value, status: u16) -> AuthError {
        let code = body["error_codes"][0]
            .as_u64()
            .and_then(|c| u32::try_from(c).ok())
            .unwrap_or(0);
        let description = body["error_description"].as_str().unwrap_or_default();
        let summary = description
            .split("\r\n")
            .next()
            .unwrap_or_default()
            .split_once(": ")
            .map_or(description, |(_, rest)| rest)
            .to_string();
        let app = self.app_id;
        let org = &self.organization;
        let hint = match code {
            700016 => format!(
                "no app with Application (client) ID {app} exists in tenant {org}: check the ID (Entra ID > App registrations > Overview) and that you are signing in to the tenant where the app is registered or consented"
            ),
            700027 => match &self.credential {
                ClientCredential::Certificate { cert, .. } if summary.contains("not registered") => format!(
                    "upload the certificate with thumbprint {} to app {app} (Entra ID > App registrations > Certificates & secrets > Upload certificate; `exorun cert new` writes the .cer to upload)",
                    cert.thumbprint_sha1_hex()
                ),
                ClientCredential::Certificate { cert, .. } => format!(
                    "the signature did not verify against the registered certificate {}: the private key does not belong to it, or the certificate has expired; use the key pair you uploaded",
                    cert.thumbprint_sha1_hex()
                ),
                ClientCredential::Secret(_) => "the app expects a certificate signature".into(),
            },
            90002 => format!(
                "tenant '{org}' does not exist: use the primary domain (e.g. contoso.onmicrosoft.com) or the tenant ID (GUID)"
            ),
            700024 => "the assertion's time window is off: check this machine's clock (NTP) and time zone".into(),
            7000215 => format!(
                "the client secret is wrong: use the secret's Value (shown once when created), not its Secret ID, for app {app}"
            ),
            7000222 => format!("the client secret of app {app} has expired: create a new one, or better, use a certificate"),
            7000218 => "no credential was sent: configure a certificate or a client secret".into(),
            500011 | 70011 | 700022 => "the scope is wrong: exorun asks for https://outlook.office365.com/.default; check the endpoint settings".into(),
            50048 | 700021 => "the assertion's issuer or subject is not the client ID: this is a bug in the client, please report it".into(),
            _ if status == 429 => format!(
                "Entra ID is throttling token requests (HTTP 429, still after {TOKEN_TRIES} tries): wait a few minutes and run again; if many runs or machines sign in with app {app} at once, start them apart"
            ),
            _ if status >= 500 => format!(
                "Entra ID is unavailable (HTTP {status}, still after {TOKEN_TRIES} tries): run again in a few minutes; https://status.cloud.microsoft says whether it is down"
            ),
            _ => format!("HTTP {status}; see https://login.microsoftonline.com/error?code={code}"),
        };
        AuthError::Entra {
            code,
            summary,
            hint,
        }
    }
}

/// Reads `{access_token, expires_in, refresh_in}`.
fn parse_token(body: &Value) -> Option<AccessToken> {
    let token = body["access_token"].as_str()?;
    let seconds = |v: &Value| {
        v.as_i64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
    };
    let now = Utc::now();
    let expires_in = seconds(&body["expires_in"]).unwrap_or(3600);
    Some(AccessToken {
        secret: Secret::new(token),
        expires_at: now + chrono::Duration::seconds(expires_in),
        refresh_at: seconds(&body["refresh_in"]).map(|r| now + chrono::Duration::seconds(r)),
    })
}

impl TokenSource for ClientCredentials {
    fn acquire(&self, resource: Resource) -> BoxFuture<'_, Result<AccessToken, AuthError>> {
        Box::pin(self.request(resource))
    }

    fn describe(&self) -> String {
        let how = match &self.credential {
            ClientCredential::Certificate { cert, .. } => {
                format!("certificate {}", cert.thumbprint_sha1_hex())
            }
            ClientCredential::Secret(_) => "client secret".into(),
        };
        format!(
            "app {} in {} with a {how} via {}",
            self.app_id, self.organization, self.authority
        )
    }
}
