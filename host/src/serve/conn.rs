//! Serving one accepted connection (HTTPS after its handshake, or the Unix socket) with the
//! same limits: HTTP/1 or HTTP/2, a client that does not finish sending its request's headers
//! within [`HEADER_READ`] is cut off (a slow client holds no connection for long), and a stop
//! of the service ends the connection gracefully.

use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;

/// How long a client may take to send a request's headers.
pub const HEADER_READ: Duration = Duration::from_secs(10);

/// Serves `io` with `app` until the client is done, is too slow, or `stop` changes.
pub async fn serve_connection<I>(io: I, app: Router, mut stop: watch::Receiver<bool>, peer: &str)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ);
    let connection = builder.serve_connection(TokioIo::new(io), TowerToHyperService::new(app));
    tokio::pin!(connection);
    tokio::select! {
        result = connection.as_mut() => {
            if let Err(e) = result {
                tracing::debug!(peer, "connection ended: {e}");
            }
        }
        _ = stop.changed() => {
            connection.as_mut().graceful_shutdown();
            let _ = connection.await;
        }
    }
}
