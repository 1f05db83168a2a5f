//! Token sources that are not an app credential: a ready access token (from the environment or a
//! file), a command that prints one (the MSP case: a partner tool hands out tenant tokens), and a
//! managed identity (`IDENTITY_ENDPOINT` / `IDENTITY_HEADER`).

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use serde_json::Value;

use super::{AccessToken, AuthError, Resource, TokenSource, claims};
use crate::http;
use crate::secret::Secret;

/// Expiry of a token: its `exp` claim when it is a JWT, else an hour from now.
fn expiry_of(token: &str) -> DateTime<Utc> {
    claims::decode(token)
        .and_then(|c| c.expires_at)
        .unwrap_or_else(|| Utc::now() + chrono::Duration::hours(1))
}

fn ready(token: &str, origin: &str) -> Result<AccessToken, AuthError> {
    let token = token.trim();
    if token.is_empty() {
        return Err(AuthError::ReadyToken(format!(
            "{origin} gave an empty access token"
        )));
    }
    let token = token.strip_prefix("Bearer ").unwrap_or(token);
    let expires_at = expiry_of(token);
    if expires_at <= Utc::now() {
        return Err(AuthError::ReadyToken(format!(
            "the access token from {origin} expired at {expires_at}; get a fresh one"
        )));
    }
    Ok(AccessToken {
        secret: Secret::new(token),
        expires_at,
        refresh_at: None,
    })
}

/// A token handed over as is (e.g. `EXORUN_ACCESS_TOKEN`); it cannot be refreshed.
pub struct StaticToken {
    token: Secret,
    origin: String,
}

impl StaticToken {
    /// Wraps a token; `origin` names where it came from, for messages.
    pub fn new(token: Secret, origin: impl Into<String>) -> StaticToken {
        StaticToken {
            token,
            origin: origin.into(),
        }
    }
}

impl TokenSource for StaticToken {
    fn acquire(&self, _: Resource) -> BoxFuture<'_, Result<AccessToken, AuthError>> {
        Box::pin(async move { ready(self.token.expose(), &self.origin) })
    }

    fn describe(&self) -> String {
        format!("a ready access token from {}", self.origin)
    }
}

/// A token read from a file each time one is needed (another process keeps the file fresh).
pub struct TokenFile {
    path: PathBuf,
}

impl TokenFile {
    /// Reads tokens from `path`.
    pub fn new(path: PathBuf) -> TokenFile {
        TokenFile { path }
    }
}

impl TokenSource for TokenFile {
    fn acquire(&self, _: Resource) -> BoxFuture<'_, Result<AccessToken, AuthError>> {
        Box::pin(async move {
            let text = tokio::fs::read_to_string(&self.path).await.map_err(|e| {
                AuthError::ReadyToken(format!(
                    "cannot read the token file {}: {e}",
                    self.path.display()
                ))
            })?;
            ready(&text, &format!("the token file {}", self.path.display()))
        })
    }

    fn describe(&self) -> String {
        format!("an access token read from {}", self.path.display())
    }
}

/// A command that prints a token: either the bare token, or JSON with `accessToken`/
/// `access_token` and optionally `expires_on`/`expiresOn` (as `az account get-access-token`
/// prints). It is run again whenever the token nears expiry.
pub struct TokenCommand {
    program: String,
    args: Vec<String>,
}

impl TokenCommand {
    /// Runs `program` with `args`; `{resource}` in an argument becomes the resource identifier.
    pub fn new(program: impl Into<String>, args: Vec<String>) -> TokenCommand {
        TokenCommand {
            program: program.into(),
            args,
        }
    }

    async fn run(&self, resource: Resource) -> Result<AccessToken, AuthError> {
        let args: Vec<String> = self
            .args
            .iter()
            .map(|a| a.replace("{resource}", resource.identifier()))
            .collect();
        let output = tokio::process::Command::new(&self.program)
            .args(&args)
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true)
            .output()
            .await
            .map_err(|e| {
                AuthError::ReadyToken(format!(
                    "cannot run the token command '{}': {e}",
                    self.program
                ))
            })?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let first_line = stderr.lines().next().unwrap_or_default();
            return Err(AuthError::ReadyToken(format!(
                "the token command '{}' failed ({}): {first_line}",
                self.program, output.status
            )));
        }
        let stdout = String::from_utf8_lossy(&output.stdout);
        let origin = format!("the token command '{}'", self.program);
        let text = stdout.trim();
        if !text.starts_with('{') {
            return ready(text, &origin);
        }
        let json: Value = serde_json::from_str(text).map_err(|e| {
            AuthError::ReadyToken(format!("{origin} printed JSON that does not parse: {e}"))
        })?;
        let token = json["accessToken"]
            .as_str()
            .or_else(|| json["access_token"].as_str())
            .ok_or_else(|| {
                AuthError::ReadyToken(format!(
                    "{origin} printed JSON without 'accessToken' or 'access_token'"
                ))
            })?;
        let mut access = ready(token, &origin)?;
        if let Some(at) = json["expires_on"]
            .as_i64()
            .or_else(|| json["expires_on"].as_str().and_then(|s| s.parse().ok()))
            .and_then(|s| DateTime::from_timestamp(s, 0))
        {
            access.expires_at = at;
        }
        Ok(access)
    }
}

impl TokenSource for TokenCommand {
    fn acquire(&self, resource: Resource) -> BoxFuture<'_, Result<AccessToken, AuthError>> {
        Box::pin(self.run(resource))
    }

    fn describe(&self) -> String {
        format!("access tokens printed by the command '{}'", self.program)
    }
}

/// A managed identity's token endpoint (App Service / Functions / Arc style).
pub struct ManagedIdentity {
    http: reqwest::Client,
    endpoint: String,
    header: Secret,
    client_id: Option<String>,
}

impl ManagedIdentity {
    /// Uses `IDENTITY_ENDPOINT` and `IDENTITY_HEADER` values; `client_id` picks a user-assigned identity.
    pub fn new(
        http: reqwest::Client,
        endpoint: String,
        header: Secret,
        client_id: Option<String>,
    ) -> ManagedIdentity {
        ManagedIdentity {
            http,
            endpoint,
            header,
            client_id,
        }
    }

    async fn request(&self, resource: Resource) -> Result<AccessToken, AuthError> {
        let transport = |reason: String| AuthError::Transport {
            endpoint: self.endpoint.clone(),
            reason,
        };
        let mut query = vec![
            ("api-version", "2019-08-01"),
            ("resource", resource.identifier()),
        ];
        if let Some(id) = &self.client_id {
            query.push(("client_id", id));
        }
        let response = self
            .http
            .get(&self.endpoint)
            .query(&query)
            .header("X-IDENTITY-HEADER", self.header.expose())
            .send()
            .await
            .map_err(|e| transport(http::describe(&e)))?;
        let status = response.status();
        let body: Value = response
            .json()
            .await
            .map_err(|e| transport(format!("HTTP {status}: {}", http::describe(&e))))?;
        if !status.is_success() {
            let why = body["error_description"]
                .as_str()
                .or_else(|| body["message"].as_str())
                .unwrap_or("no detail");
            return Err(transport(format!(
                "HTTP {status}: {why}. Check that this host has a managed identity and that IDENTITY_ENDPOINT/IDENTITY_HEADER come from its environment"
            )));
        }
        let token = body["access_token"]
            .as_str()
            .ok_or_else(|| transport("no access_token in the response".into()))?;
        let mut access = ready(token, "the managed identity endpoint")?;
        if let Some(at) = body["expires_on"]
            .as_str()
            .and_then(|s| s.parse::<i64>().ok())
            .or_else(|| body["expires_on"].as_i64())
            .and_then(|s| DateTime::from_timestamp(s, 0))
        {
            access.expires_at = at;
        }
        Ok(access)
    }
}

impl TokenSource for ManagedIdentity {
    fn acquire(&self, resource: Resource) -> BoxFuture<'_, Result<AccessToken, AuthError>> {
        Box::pin(self.request(resource))
    }

    fn describe(&self) -> String {
        match &self.client_id {
            Some(id) => format!("the managed identity {id} via {}", self.endpoint),
            None => format!("the managed identity via {}", self.endpoint),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn command_tokens_may_be_bare_or_json() {
        let bare = TokenCommand::new("echo", vec!["opaque-token-{resource}".into()]);
        let t = bare.acquire(Resource::Exchange).await.unwrap();
        assert_eq!(
            t.secret.expose(),
            "opaque-token-https://outlook.office365.com"
        );
        let json = TokenCommand::new(
            "echo",
            vec![r#"{"accessToken": "abc", "expires_on": 4102444800}"#.into()],
        );
        let t = json.acquire(Resource::Exchange).await.unwrap();
        assert_eq!(
            (t.secret.expose(), t.expires_at.timestamp()),
            ("abc", 4_102_444_800)
        );
        let failing = TokenCommand::new("false", vec![]);
        let e = failing
            .acquire(Resource::Exchange)
            .await
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("token command 'false' failed"), "{e}");
    }

    #[tokio::test]
    async fn expired_ready_tokens_are_refused_with_the_time() {
        use base64::Engine;
        let claims = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(r#"{"exp": 1000}"#);
        let source = StaticToken::new(
            Secret::new(format!("e30.{claims}.x")),
            "EXORUN_ACCESS_TOKEN",
        );
        let e = source
            .acquire(Resource::Exchange)
            .await
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("EXORUN_ACCESS_TOKEN") && e.contains("expired"),
            "{e}"
        );
    }
}
