//! HTTPS for callers with Entra ID tokens: TLS (OpenSSL, as the rest of exorun) on a TCP
//! listener, each connection's handshake in its own task with a time limit (a slow client holds
//! up no one), then HTTP/1.1 or HTTP/2 through hyper. Each request carries the peer's address
//! for the audit log.

use std::net::SocketAddr;
use std::path::Path;
use std::pin::Pin;
use std::time::Duration;

use axum::{Extension, Router};
use openssl::ssl::{Ssl, SslAcceptor, SslFiletype, SslMethod};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_openssl::SslStream;

/// How long a client may take to finish its TLS handshake.
const HANDSHAKE: Duration = Duration::from_secs(10);

/// Where an HTTPS request came from.
#[derive(Clone, Copy, Debug)]
pub struct Remote(pub SocketAddr);

/// A TLS acceptor with the service's certificate chain and key (PEM files).
pub fn acceptor(certificate: &Path, key: &Path) -> Result<SslAcceptor, String> {
    let mut builder = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls())
        .map_err(|e| format!("cannot set up TLS: {e}"))?;
    builder
        .set_certificate_chain_file(certificate)
        .map_err(|e| {
            format!(
                "cannot read the certificate chain {}: {e}",
                certificate.display()
            )
        })?;
    builder
        .set_private_key_file(key, SslFiletype::PEM)
        .map_err(|e| format!("cannot read the private key {}: {e}", key.display()))?;
    builder.check_private_key().map_err(|_| {
        format!(
            "the private key {} does not belong to the certificate {}",
            key.display(),
            certificate.display()
        )
    })?;
    Ok(builder.build())
}

/// Serves `app` over TLS on `listener` until `stop` turns true.
pub async fn serve(
    listener: TcpListener,
    acceptor: SslAcceptor,
    app: Router,
    mut stop: watch::Receiver<bool>,
) {
    let acceptor = std::sync::Arc::new(acceptor);
    loop {
        let (tcp, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    tracing::warn!("HTTPS accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stop.changed() => return,
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let app = app.clone().layer(Extension(Remote(remote)));
        let stop = stop.clone();
        tokio::spawn(async move {
            let Ok(ssl) = Ssl::new(acceptor.context()) else {
                return;
            };
            let Ok(mut stream) = SslStream::new(ssl, tcp) else {
                return;
            };
            match tokio::time::timeout(HANDSHAKE, Pin::new(&mut stream).accept()).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    tracing::debug!(%remote, "TLS handshake failed: {e}");
                    return;
                }
                Err(_) => {
                    tracing::debug!(%remote, "TLS handshake took too long");
                    return;
                }
            }
            super::conn::serve_connection(stream, app, stop, &remote.to_string()).await;
        });
    }
}
