//! `exorun serve`: one long-running process holds the credentials, the policy, the plugin store,
//! the audit log and a state database, and runs what callers may run: the second front door over
//! the same library as the command line. Callers are authenticated here (the kernel's peer
//! credentials on the Unix socket); what they may do is decided by the policy's caller rules in
//! the library; runs are queued in the database and run by a worker pool.

pub mod api;
pub mod audit_api;
pub mod config;
pub mod conn;
pub mod database;
pub mod https;
pub mod live;
pub mod metrics;
pub mod openapi;
pub mod problem;
pub mod resume;
pub mod schedule;
pub mod scheduler;
pub mod service;
pub mod state;
pub mod store;
pub mod submit;
pub mod unix;
pub mod workflow_run;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::extract::DefaultBodyLimit;
use tokio::net::TcpListener;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;

use config::ServeConfig;
use service::Service;

/// How often the policy and store are checked for a change.
const WATCH_EVERY: Duration = Duration::from_secs(2);

/// Starts the service from its configuration file (its state in `database` when given, in
/// place of the file's) and serves until SIGTERM or SIGINT.
pub async fn serve(
    config_path: Option<PathBuf>,
    database: Option<database::DatabaseUrl>,
) -> anyhow::Result<()> {
    let mut config = ServeConfig::find(config_path.as_deref())?;
    if database.is_some() {
        config.database = database;
    }
    let service = Service::start(config)
        .await
        .context("the service cannot start")?;
    let requeued = service.state.requeue_expired().await?;
    if !requeued.is_empty() {
        tracing::warn!(runs = ?requeued, "runs a stopped service left are queued again");
    }
    let limit = service.config.max_body;
    let timeout = Duration::from_secs(service.config.request_timeout_secs);
    let app = api::router(service.clone())
        .layer(DefaultBodyLimit::max(limit))
        .layer(axum::middleware::from_fn(move |request, next| {
            time_limit(timeout, request, next)
        }));
    let (stop, stopped) = watch::channel(false);
    let mut listening = Vec::new();
    let mut servers = Vec::new();
    if let Some(https) = service.config.https.clone() {
        let acceptor =
            https::acceptor(&https.certificate, &https.key).map_err(anyhow::Error::msg)?;
        let listener = TcpListener::bind(https.listen)
            .await
            .with_context(|| format!("cannot listen on {}", https.listen))?;
        listening.push(format!("https://{}", listener.local_addr()?));
        servers.push(tokio::spawn(https::serve(
            listener,
            acceptor,
            app.clone(),
            stopped.clone(),
        )));
    }
    if let Some(socket) = service.config.socket.clone() {
        let listener = unix::bind(
            &socket,
            service.config.socket_mode,
            service.config.socket_group.as_deref(),
        )
        .with_context(|| format!("cannot listen on {}", socket.display()))?;
        listening.push(format!("unix:{}", socket.display()));
        let stopped = stopped.clone();
        let app = app.clone();
        servers.push(tokio::spawn(async move {
            unix::serve(listener, app, stopped).await;
            let _ = std::fs::remove_file(&socket);
        }));
    }
    service.spawn_workers();
    scheduler::spawn(&service);
    spawn_reloader(service.clone())?;
    let loaded = service.loaded();
    eprintln!(
        "exorun serve: {}: listening on {} ({} plugins admitted by {}, {} workers)",
        service.config.origin.display(),
        listening.join(" and "),
        loaded.plugins.len(),
        loaded.policy.origin(),
        service.config.workers
    );
    shutdown().await;
    stop.send_replace(true);
    for server in servers {
        let _ = server.await;
    }
    Ok(())
}

/// Answers 503 when a request takes longer than `limit` (a slow client, a stuck database).
async fn time_limit(
    limit: Duration,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => problem::Problem::unavailable(format!(
            "the request took longer than {} s and was stopped",
            limit.as_secs()
        ))
        .into_response(),
    }
}

/// Resolves on SIGTERM or SIGINT.
async fn shutdown() {
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    eprintln!("exorun serve: stopping");
}

/// Reloads the policy and store on SIGHUP, and when their files change.
fn spawn_reloader(service: Arc<Service>) -> anyhow::Result<()> {
    let mut hup = signal(SignalKind::hangup()).context("cannot watch for SIGHUP")?;
    tokio::spawn(async move {
        let mut seen = service.loaded().fingerprint.clone();
        loop {
            let asked = tokio::select! {
                _ = hup.recv() => true,
                () = tokio::time::sleep(WATCH_EVERY) => false,
            };
            let now = store::fingerprint(
                &service.config.policy,
                &service.config.plugins,
                service.config.workflows.as_deref(),
            );
            if !asked && now == seen {
                continue;
            }
            seen = now;
            let _ = service.reload();
        }
    });
    Ok(())
}
