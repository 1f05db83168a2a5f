//! The one HTTPS client configuration: rustls with the system's trust store (as OpenSSL-based
//! tools find it: `SSL_CERT_FILE`, `SSL_CERT_DIR`, the distribution's bundle) plus an optional
//! extra CA (for a private endpoint or exorun-sim). The trust store is read once per process for
//! each extra CA (none, or the one `--ca-file` names), when the first client needing it is
//! built, and every later client shares it ([`client`]): a run over 2,000 tenants reads it once,
//! not 2,000 times. There is deliberately no way to turn certificate checks off.
//!
//! Why rustls rather than OpenSSL here: OpenSSL 3 parses the whole system bundle (~145
//! certificates) into its store at start, twice per client, ~70–95 ms on these machines; the
//! rustls verifier reads the same store in ~5 ms (BENCHMARKS.md, "Start-up"). OpenSSL stays for
//! certificates, PKCS#12 and JWT signing.

use std::collections::HashMap;
use std::error::Error as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

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
    /// The machine has no CA certificates to trust (and no `--ca-file` was given).
    #[error(
        "no trusted CA certificates were found on this machine (looked at SSL_CERT_FILE, SSL_CERT_DIR and the system bundle)\n  fix: install the ca-certificates package, point SSL_CERT_FILE at a CA bundle, or give the endpoint's CA with --ca-file"
    )]
    NoTrustStore,
    /// The TLS backend refused the configuration.
    #[error("cannot build the HTTPS client: {0}")]
    Build(String),
}

/// Builds a client: HTTPS only, HTTP/2 when the server offers it, redirects not followed (the
/// Exchange client handles the Security & Compliance redirect itself, keeping the POST), a
/// connect timeout, and the 16-minute request timeout Exchange's own module uses.
///
/// The TLS settings (trust store included) are built once per process for each `extra_ca` and
/// shared ([`tls`]); each client has its own connection pool, so callers that talk to the same
/// hosts share one client (`Connector` does, for every tenant of a run).
pub fn client(extra_ca: Option<&Path>) -> Result<reqwest::Client, HttpError> {
    let tls = tls(extra_ca)?;
    reqwest::Client::builder()
        .tls_backend_preconfigured(rustls::ClientConfig::clone(&tls))
        .https_only(true)
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(30))
        .timeout(Duration::from_secs(960))
        .pool_idle_timeout(Duration::from_secs(90))
        // A 1000-row page of mailboxes is ~2.4 MB: with hyper's 2 MB stream window the server
        // stopped on every page until a window update came back (BENCHMARKS.md, C).
        .http2_max_frame_size(Some(1 << 20))
        .http2_initial_stream_window_size(Some(8 << 20))
        .http2_initial_connection_window_size(Some(16 << 20))
        .user_agent(concat!("exorun/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| HttpError::Build(describe(&e)))
}

/// The TLS settings trusting the system's roots plus `extra_ca`: built the first time they are
/// asked for and kept for the rest of the process (reading the system store is ~5 ms, parsing
/// ~145 certificates). A failure is not kept: the next call tries again.
fn tls(extra_ca: Option<&Path>) -> Result<Arc<rustls::ClientConfig>, HttpError> {
    static BUILT: Mutex<Option<HashMap<Option<PathBuf>, Arc<rustls::ClientConfig>>>> =
        Mutex::new(None);
    let key = extra_ca.map(Path::to_path_buf);
    // Held while building, so two first callers do not both read the store.
    let mut built = BUILT.lock().unwrap_or_else(PoisonError::into_inner);
    let built = built.get_or_insert_with(HashMap::new);
    if let Some(tls) = built.get(&key) {
        return Ok(tls.clone());
    }
    let tls = Arc::new(build_tls(extra_ca)?);
    built.insert(key, tls.clone());
    Ok(tls)
}

/// Reads the trust store and builds the TLS settings: rustls, the platform verifier over the
/// system's roots and `extra_ca`, HTTP/2 and HTTP/1.1 offered.
fn build_tls(extra_ca: Option<&Path>) -> Result<rustls::ClientConfig, HttpError> {
    let extra = match extra_ca {
        Some(path) => extra_roots(path)?,
        None => Vec::new(),
    };
    // ring, named here rather than left to the process default: aws-lc's first use seeds its
    // random generator from CPU jitter, ~35 ms of every start (BENCHMARKS.md, "Start-up").
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier =
        rustls_platform_verifier::Verifier::new_with_extra_roots(extra, provider.clone()).map_err(
            |e| {
                let text = e.to_string();
                // The verifier says so only in words.
                if text.contains("No CA certificates were loaded") {
                    HttpError::NoTrustStore
                } else {
                    HttpError::Build(text)
                }
            },
        )?;
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| HttpError::Build(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(tls)
}

/// The CA certificates in a PEM file given with `--ca-file`.
fn extra_roots(path: &Path) -> Result<Vec<CertificateDer<'static>>, HttpError> {
    let bad = |reason: String| HttpError::BadCa {
        path: path.display().to_string(),
        reason,
    };
    let pem = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(format!("{e:?}")))?;
    if certs.is_empty() {
        return Err(bad("the file holds no PEM certificate".into()));
    }
    Ok(certs)
}

/// True when a request failed because the server's certificate did not verify: trying again
/// cannot help, trusting the right CA can.
pub fn is_untrusted_server(error: &reqwest::Error) -> bool {
    certificate_error(error).is_some()
}

/// A request error as one line an admin can act on: the URL left out (a URL may carry query
/// secrets elsewhere; keep one rule), each cause once, and for a certificate that does not
/// verify, what to do about it.
pub fn describe(error: &reqwest::Error) -> String {
    if let Some(problem) = certificate_error(error) {
        let host = error
            .url()
            .and_then(|u| u.host_str())
            .unwrap_or("the server");
        return format!(
            "the certificate of {host} did not verify ({problem})\n  fix: if the endpoint uses a private CA (exorun-sim, a TLS-inspecting proxy), trust it with --ca-file FILE.pem or EXORUN_CA_FILE; otherwise check the host name and the machine's clock and CA bundle (SSL_CERT_FILE, SSL_CERT_DIR). Certificate checks cannot be turned off"
        );
    }
    let mut text = error.to_string();
    if let Some(url) = error.url() {
        text = text.replace(url.as_str(), "<endpoint>");
    }
    let mut source = error.source();
    while let Some(inner) = source {
        let said = inner.to_string();
        if !text.contains(&said) {
            text.push_str(": ");
            text.push_str(&said);
        }
        source = inner.source();
    }
    text
}

/// The certificate problem behind a failed request, in rustls' words, if that is what it was.
fn certificate_error(error: &reqwest::Error) -> Option<String> {
    let mut source = error.source();
    while let Some(inner) = source {
        if let Some(rustls::Error::InvalidCertificate(problem)) = rustls_error(inner) {
            return Some(certificate_problem(problem));
        }
        source = inner.source();
    }
    None
}

/// The rustls error in `error`, looking inside `io::Error`s, which the TLS stream and the
/// connector each wrap around it.
fn rustls_error<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    if let Some(tls) = error.downcast_ref::<rustls::Error>() {
        return Some(tls);
    }
    let io = error.downcast_ref::<std::io::Error>()?;
    let inner: &(dyn std::error::Error + 'static) = io.get_ref()?;
    rustls_error(inner)
}

/// rustls' certificate error in an admin's words.
fn certificate_problem(problem: &rustls::CertificateError) -> String {
    use rustls::CertificateError as E;
    match problem {
        E::UnknownIssuer => "it is not issued by a CA this machine trusts".into(),
        E::Expired | E::ExpiredContext { .. } => "it has expired".into(),
        E::NotValidYet | E::NotValidYetContext { .. } => "it is not valid yet".into(),
        E::NotValidForName | E::NotValidForNameContext { .. } => {
            "it was issued for another host name".into()
        }
        E::Revoked => "it has been revoked".into(),
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_trust_store_is_read_once_and_shared_by_every_client() {
        let first = tls(None).unwrap();
        let second = tls(None).unwrap();
        assert!(Arc::ptr_eq(&first, &second));
        let (a, b) = (client(None).unwrap(), client(None).unwrap());
        drop((a, b));
        assert!(Arc::ptr_eq(&first, &tls(None).unwrap()));
    }

    #[test]
    fn a_ca_file_that_cannot_be_used_is_named_each_time_it_is_asked_for() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.pem");
        for _ in 0..2 {
            let error = tls(Some(&path)).unwrap_err().to_string();
            assert!(
                error.starts_with(&format!("cannot use {} as a trusted CA: ", path.display())),
                "{error}"
            );
        }
    }
}
