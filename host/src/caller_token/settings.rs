//! What the operator configures for callers' Entra ID tokens: the `[entra]` table of the
//! service's configuration.

use std::fmt;
use std::path::PathBuf;

use serde::Deserialize;
use uuid::Uuid;

/// The authority of Entra ID's public cloud.
pub const PUBLIC_AUTHORITY: &str = "https://login.microsoftonline.com";

/// The largest clock skew accepted: past it an expired token would live on for long.
pub const MAX_CLOCK_SKEW_SECS: u64 = 300;

/// The `[entra]` table: which tenant's tokens, for which API app, in which version.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenSettings {
    /// The tenant's id (the directory's GUID, as in the tokens' `tid`): only its tokens are
    /// accepted, signed with its keys and issued by its issuer.
    pub tenant: String,
    /// The service API app the tokens must be for (`aud`): its application (client) id for
    /// v2.0 tokens; for v1.0 tokens the value callers ask for, usually the app ID URI
    /// (`api://exorun`), or the client id if callers ask with that.
    pub audience: String,
    /// The token version the API app issues (its manifest's `accessTokenAcceptedVersion`:
    /// `2` → `"2.0"`, `null` or `1` → `"1.0"`). Exactly this version is accepted.
    #[serde(default)]
    pub token_version: TokenVersion,
    /// Where the tenant's OpenID configuration and keys are fetched from, and (v2.0) the
    /// issuer's host. Default `https://login.microsoftonline.com`.
    #[serde(default = "default_authority")]
    pub authority: String,
    /// An extra CA certificate (PEM) to trust for the authority, beside the system's (a
    /// TLS-inspecting proxy's, or exorun-sim's in tests).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// How far `exp` and `nbf` may be off the service's clock, in seconds (default 60, at most
    /// 300).
    #[serde(default = "default_skew")]
    pub clock_skew_secs: u64,
}

fn default_authority() -> String {
    PUBLIC_AUTHORITY.into()
}

fn default_skew() -> u64 {
    60
}

/// An access token version.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
pub enum TokenVersion {
    /// v1.0: `iss=https://sts.windows.net/{tid}/`, `appid`, `upn`.
    #[serde(rename = "1.0")]
    V1,
    /// v2.0: `iss={authority}/{tid}/v2.0`, `azp`, `preferred_username`.
    #[default]
    #[serde(rename = "2.0")]
    V2,
}

impl TokenVersion {
    /// The `ver` claim's value.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenVersion::V1 => "1.0",
            TokenVersion::V2 => "2.0",
        }
    }
}

impl fmt::Display for TokenVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why the `[entra]` settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// `tenant` is not a GUID.
    #[error(
        "[entra] tenant '{value}' is not a tenant id\n  fix: give the directory (tenant) id, a GUID as in the tokens' tid claim (Entra admin center → Overview → Tenant ID), not a domain name"
    )]
    Tenant {
        /// What was given.
        value: String,
    },
    /// A v2.0 audience that is not the client id.
    #[error(
        "[entra] audience '{value}' cannot match v2.0 tokens: their aud is always the API app's application (client) id\n  fix: set audience to the app's client id (a GUID), or token_version = \"1.0\" if the app issues v1.0 tokens"
    )]
    V2Audience {
        /// What was given.
        value: String,
    },
    /// `audience` is empty.
    #[error(
        "[entra] audience is empty\n  fix: set it to the API app's client id (v2.0) or the app ID URI callers ask for (v1.0)"
    )]
    NoAudience,
    /// `authority` is not an https URL.
    #[error(
        "[entra] authority '{value}' is not an https:// URL\n  fix: leave it out for {PUBLIC_AUTHORITY}, or give the authority's https URL"
    )]
    Authority {
        /// What was given.
        value: String,
    },
    /// `clock_skew_secs` is too large.
    #[error(
        "[entra] clock_skew_secs = {value} is more than {MAX_CLOCK_SKEW_SECS}\n  fix: keep the skew small (the default 60 is enough for a clock kept by NTP)"
    )]
    Skew {
        /// What was given.
        value: u64,
    },
    /// The HTTPS client (for the keys) could not be built.
    #[error("[entra] cannot fetch the tenant's signing keys: {0}")]
    Http(#[from] crate::http::HttpError),
}

/// The settings, checked: what the validator compares tokens with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Expected {
    /// The tenant id, lowercase.
    pub tenant: Uuid,
    /// The audience.
    pub audience: String,
    /// The version.
    pub version: TokenVersion,
    /// The issuer, exactly.
    pub issuer: String,
    /// The OpenID configuration URL.
    pub discovery: String,
    /// The skew in seconds.
    pub skew: i64,
}

impl TokenSettings {
    /// Checks the settings and works out what tokens must say.
    pub(crate) fn expected(&self) -> Result<Expected, SettingsError> {
        let tenant = Uuid::parse_str(self.tenant.trim()).map_err(|_| SettingsError::Tenant {
            value: self.tenant.clone(),
        })?;
        let audience = self.audience.trim().to_string();
        if audience.is_empty() {
            return Err(SettingsError::NoAudience);
        }
        if self.token_version == TokenVersion::V2 && Uuid::parse_str(&audience).is_err() {
            return Err(SettingsError::V2Audience { value: audience });
        }
        let authority = self.authority.trim().trim_end_matches('/').to_string();
        if !authority.starts_with("https://") || authority.len() <= "https://".len() {
            return Err(SettingsError::Authority {
                value: self.authority.clone(),
            });
        }
        if self.clock_skew_secs > MAX_CLOCK_SKEW_SECS {
            return Err(SettingsError::Skew {
                value: self.clock_skew_secs,
            });
        }
        let issuer = match self.token_version {
            TokenVersion::V1 => format!("https://sts.windows.net/{tenant}/"),
            TokenVersion::V2 => format!("{authority}/{tenant}/v2.0"),
        };
        Ok(Expected {
            tenant,
            audience,
            version: self.token_version,
            issuer,
            discovery: format!("{authority}/{tenant}/v2.0/.well-known/openid-configuration"),
            skew: self.clock_skew_secs as i64,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TENANT: &str = "6f0b2c3e-1d4a-4b8e-9c7f-2a5d8e1b4c60";
    const CLIENT: &str = "2b0f7a4c-86d4-4a39-8f1e-9e7c2d5a1b30";

    fn parse(text: &str) -> Result<TokenSettings, toml::de::Error> {
        toml::from_str(text)
    }

    #[test]
    fn defaults_give_v2_on_the_public_cloud() {
        let s = parse(&format!("tenant = \"{TENANT}\"\naudience = \"{CLIENT}\"")).unwrap();
        let e = s.expected().unwrap();
        assert_eq!(e.version, TokenVersion::V2);
        assert_eq!(e.skew, 60);
        assert_eq!(
            e.issuer,
            format!("https://login.microsoftonline.com/{TENANT}/v2.0")
        );
        assert_eq!(
            e.discovery,
            format!(
                "https://login.microsoftonline.com/{TENANT}/v2.0/.well-known/openid-configuration"
            )
        );
    }

    #[test]
    fn v1_uses_the_sts_issuer_and_may_name_the_app_id_uri() {
        let s = parse(&format!(
            "tenant = \"{TENANT}\"\naudience = \"api://exorun\"\ntoken_version = \"1.0\"\nauthority = \"https://127.0.0.1:8443/\""
        ))
        .unwrap();
        let e = s.expected().unwrap();
        assert_eq!(e.issuer, format!("https://sts.windows.net/{TENANT}/"));
        assert!(e.discovery.starts_with("https://127.0.0.1:8443/6f0b"));
    }

    #[test]
    fn settings_that_cannot_work_say_what_to_set() {
        assert!(
            parse(&format!(
                "tenant = \"{TENANT}\"\naudience = \"x\"\nallowed_apps = []"
            ))
            .unwrap_err()
            .to_string()
            .contains("unknown field `allowed_apps`")
        );
        assert!(
            parse(&format!(
                "tenant = \"{TENANT}\"\naudience = \"x\"\ntoken_version = \"2\""
            ))
            .unwrap_err()
            .to_string()
            .contains("expected `1.0` or `2.0`")
        );
        let refused = |text: String| parse(&text).unwrap().expected().unwrap_err().to_string();
        assert_eq!(
            refused(format!("tenant = \"contoso.com\"\naudience = \"{CLIENT}\"")),
            "[entra] tenant 'contoso.com' is not a tenant id\n  fix: give the directory (tenant) id, a GUID as in the tokens' tid claim (Entra admin center → Overview → Tenant ID), not a domain name"
        );
        assert!(
            refused(format!(
                "tenant = \"{TENANT}\"\naudience = \"api://exorun\""
            ))
            .starts_with("[entra] audience 'api://exorun' cannot match v2.0 tokens")
        );
        assert!(
            refused(format!(
                "tenant = \"{TENANT}\"\naudience = \"{CLIENT}\"\nauthority = \"http://login\""
            ))
            .starts_with("[entra] authority 'http://login' is not an https:// URL")
        );
        assert!(
            refused(format!(
                "tenant = \"{TENANT}\"\naudience = \"{CLIENT}\"\nclock_skew_secs = 3600"
            ))
            .starts_with("[entra] clock_skew_secs = 3600 is more than 300")
        );
    }
}
