//! The one HTTPS client configuration: system roots plus an optional extra CA (for a private
//! endpoint or exorun-sim). There is deliberately no way to turn certificate checks off.

use std::path::Path;
use std::time::Duration;

/// Why the HTTPS client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The CA file is unreadable or not a certificate.
    #[error("cannot use {path} as a trusted CA: {reason}")]
    BadCa {
        /// The file.
        path: String,
        /// What was wrong.
        reason: String,
    },
    /// The TLS backend refused the configuration.
    #[error("cannot build the HTTPS client: {0}")]
    Build(String),
}

/// Builds the client: HTTPS only, redirects not followed (the Exchange client handles the
/// Security & Compliance redirect itself, keeping the POST), a connect timeout, and the
/// 16-minute request timeout Exchange's own module uses.
pub fn client(extra_ca: Option<&Path>) -> Result<reqwest::Client, HttpError> {
    let mut builder = reqwest::Client::builder()
        .https_only(true)
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(30))
        .timeout(Duration::from_secs(960))
        .pool_idle_timeout(Duration::from_secs(90))
        .user_agent(concat!("exorun/", env!("CARGO_PKG_VERSION")));
    if let Some(path) = extra_ca {
        let bad = |reason: String| HttpError::BadCa {
            path: path.display().to_string(),
            reason,
        };
        let pem = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| bad(e.to_string()))?;
        if certs.is_empty() {
            return Err(bad("the file holds no PEM certificate".into()));
        }
        builder = builder.tls_certs_merge(certs);
    }
    builder.build().map_err(|e| HttpError::Build(e.to_string()))
}
