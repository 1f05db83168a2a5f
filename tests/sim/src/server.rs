//! Starting the emulator: build the directory, make or load the CA and server certificate, bind
//! loopback, serve HTTPS (HTTP/1.1 and HTTP/2) until shut down.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use axum::Router;
use axum::routing::{get, post, put};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use openssl::ssl::{Ssl, SslAcceptor};
use parking_lot::RwLock;
use serde::Serialize;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_openssl::SslStream;

use crate::SimError;
use crate::control::{FaultSettings, Faults, RequestLog};
use crate::directory::Directory;
use crate::entra::callers::CallerDirectory;
use crate::entra::issuer::{Lifetime, TokenIssuer};
use crate::exchange::paging::Cursors;
use crate::exchange::throttle::{Throttle, ThrottleSettings};
use crate::pki::{self, KeyPair};
use crate::scenario::Scenario;
use crate::setup::{AppInfo, RegisterCert, TenantInfo, build_tenant, register_cert, write};
use crate::state::SimState;
use crate::{control_api, entra, exchange};

/// How to start the emulator.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// Port on 127.0.0.1 (0 = any free port).
    pub port: u16,
    /// Where credentials of generated apps (and the CA) are written.
    pub state_dir: PathBuf,
    /// Extra copy of the CA certificate (PEM) for clients to trust.
    pub ca_out: Option<PathBuf>,
    /// Tenants, apps and recipients.
    pub scenario: Scenario,
    /// Certificates to register as apps of the first tenant.
    pub register: Vec<RegisterCert>,
    /// Access token lifetime.
    pub token_lifetime: Lifetime,
    /// Faults from the start.
    pub faults: FaultSettings,
    /// Throttling.
    pub throttle: ThrottleSettings,
    /// 403 bodies carry the AuthZ text.
    pub verbose_authz: bool,
}

impl SimConfig {
    /// The default scenario with state in `state_dir`.
    pub fn new(state_dir: impl Into<PathBuf>) -> SimConfig {
        SimConfig {
            port: 0,
            state_dir: state_dir.into(),
            ca_out: None,
            scenario: Scenario::default(),
            register: Vec::new(),
            token_lifetime: Lifetime::Default,
            faults: FaultSettings::default(),
            throttle: ThrottleSettings::default(),
            verbose_authz: false,
        }
    }
}

/// The one JSON line printed when the emulator is ready.
#[derive(Clone, Debug, Serialize)]
pub struct ReadyInfo {
    /// Always true: the emulator accepts requests.
    pub ready: bool,
    /// `https://127.0.0.1:<port>`: the authority host and the Exchange host.
    pub base_url: String,
    /// The CA certificate clients must trust.
    pub ca_file: PathBuf,
    /// Where credentials were written.
    pub state_dir: PathBuf,
    /// First tenant's GUID.
    pub tenant_id: String,
    /// First tenant's initial domain.
    pub tenant_domain: String,
    /// First tenant's token endpoint.
    pub token_url: String,
    /// First tenant's InvokeCommand URL.
    pub exchange_url: String,
    /// First tenant's Security & Compliance URL (answers with a regional redirect).
    pub compliance_url: String,
    /// `IDENTITY_ENDPOINT` for managed identities.
    pub identity_endpoint: String,
    /// `IDENTITY_HEADER` for managed identities.
    pub identity_header: String,
    /// Control endpoint base.
    pub control_url: String,
    /// Every tenant with its apps and credential files.
    pub tenants: Vec<TenantInfo>,
}

impl ReadyInfo {
    /// The first tenant's app with this name.
    pub fn app(&self, name: &str) -> Option<&AppInfo> {
        self.tenants.first()?.apps.iter().find(|a| a.name == name)
    }
}

/// A running emulator.
pub struct RunningSim {
    /// What the ready line says.
    pub info: ReadyInfo,
    /// Shared state (tests inspect the directory or the log directly).
    pub state: Arc<SimState>,
    /// The bound address.
    pub addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl RunningSim {
    /// Stops accepting connections and waits for the accept loop to end.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for RunningSim {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Builds everything and starts serving.
pub async fn start(config: SimConfig) -> Result<RunningSim, SimError> {
    config.scenario.check()?;
    std::fs::create_dir_all(&config.state_dir).map_err(|e| {
        SimError::Io(format!(
            "cannot create state directory {}: {e}",
            config.state_dir.display()
        ))
    })?;
    let listener = TcpListener::bind(("127.0.0.1", config.port))
        .await
        .map_err(|e| SimError::Io(format!("cannot bind 127.0.0.1:{}: {e}", config.port)))?;
    let addr = listener
        .local_addr()
        .map_err(|e| SimError::Io(e.to_string()))?;
    let base_url = format!("https://127.0.0.1:{}", addr.port());

    let ca = load_or_make_ca(&config.state_dir)?;
    let server_cert = pki::issue_server_cert(&ca)?;
    let ca_file = config.state_dir.join("ca.pem");
    if let Some(out) = &config.ca_out {
        write(out, &ca.cert_pem()?)?;
    }

    let now = crate::time::now();
    let mut directory = Directory::default();
    let mut tenants = Vec::new();
    for spec in &config.scenario.tenants {
        let (tenant, info) = build_tenant(spec, &config.state_dir, now)?;
        directory.tenants.push(tenant);
        tenants.push(info);
    }
    for request in &config.register {
        if let (Some(tenant), Some(info)) = (directory.tenants.first_mut(), tenants.first_mut()) {
            info.apps.push(register_cert(tenant, request)?);
        }
    }

    let callers = CallerDirectory::default();
    for ((spec, tenant), info) in config
        .scenario
        .tenants
        .iter()
        .zip(&directory.tenants)
        .zip(&mut tenants)
    {
        for api in &spec.apis {
            let registered = callers.register_api(tenant, api).map_err(|e| {
                SimError::Config(format!("tenant '{}': api '{}': {e}", spec.name, api.name))
            })?;
            info.apis.push(registered);
        }
        for user in &spec.users {
            info.users.push(callers.register_user(tenant, user));
        }
    }

    let identity_header = uuid::Uuid::new_v4().simple().to_string();
    let first = &tenants[0];
    let info = ReadyInfo {
        ready: true,
        base_url: base_url.clone(),
        ca_file: config.ca_out.clone().unwrap_or(ca_file),
        state_dir: config.state_dir.clone(),
        tenant_id: first.id.clone(),
        tenant_domain: first.domain.clone(),
        token_url: format!("{base_url}/{}/oauth2/v2.0/token", first.id),
        exchange_url: format!("{base_url}/adminapi/beta/{}/InvokeCommand", first.id),
        compliance_url: format!(
            "{base_url}/compliance/adminapi/beta/{}/InvokeCommand",
            first.id
        ),
        identity_endpoint: format!("{base_url}/msi/token"),
        identity_header: identity_header.clone(),
        control_url: format!("{base_url}/_sim"),
        tenants,
    };
    let state = Arc::new(SimState {
        directory: RwLock::new(directory),
        issuer: TokenIssuer::new(config.token_lifetime)?,
        callers,
        base_url,
        faults: Faults::new(config.faults.clone()),
        log: RequestLog::default(),
        throttle: Throttle::new(config.throttle.clone()),
        cursors: Cursors::default(),
        identity_header,
        verbose_authz: AtomicBool::new(config.verbose_authz),
    });
    let acceptor = Arc::new(pki::acceptor(&server_cert, &ca.cert)?);
    let (tx, rx) = oneshot::channel();
    let task = tokio::spawn(serve(listener, acceptor, router(state.clone()), rx));
    Ok(RunningSim {
        info,
        state,
        addr,
        shutdown: Some(tx),
        task: Some(task),
    })
}

/// Reuses the CA in the state directory (clients keep trusting it across restarts) or makes one.
fn load_or_make_ca(state_dir: &std::path::Path) -> Result<KeyPair, SimError> {
    let (cert, key) = (state_dir.join("ca.pem"), state_dir.join("ca.key"));
    if cert.exists() && key.exists() {
        let pair = pki::load_pair(&cert, &key)?;
        if crate::time::asn1_to_unix(pair.cert.not_after()) > crate::time::now() + 30 * 86_400 {
            return Ok(pair);
        }
    }
    let pair = pki::generate_ca()?;
    write(&cert, &pair.cert_pem()?)?;
    write(&key, &pair.key_pem()?)?;
    Ok(pair)
}

/// All routes.
pub fn router(state: Arc<SimState>) -> Router {
    let invoke = get(exchange::invoke::exchange).post(exchange::invoke::exchange);
    let regional = get(exchange::invoke::compliance).post(exchange::invoke::compliance);
    let front_door =
        get(exchange::invoke::compliance_front_door).post(exchange::invoke::compliance_front_door);
    Router::new()
        .route(
            "/{tenant}/v2.0/.well-known/openid-configuration",
            get(entra::openid_configuration),
        )
        .route("/{tenant}/discovery/v2.0/keys", get(entra::jwks))
        .route("/{tenant}/oauth2/v2.0/token", post(entra::token))
        .route("/msi/token", get(entra::managed_identity))
        .route("/adminapi/beta/{tenant}/InvokeCommand", invoke)
        .route(
            "/adminapi/beta/{tenant}/$batch",
            post(exchange::batch::batch),
        )
        .route(
            "/adminapi/beta/{tenant}/$metadata",
            get(exchange::discovery::metadata),
        )
        .route(
            "/adminapi/v1.0/{tenant}/EXOModuleFile",
            get(exchange::discovery::module_file),
        )
        .route(
            "/adminapi/v1.0/{tenant}/InvokeCommand",
            axum::routing::any(exchange::invoke::v1_not_allowed),
        )
        .route(
            "/compliance/adminapi/beta/{tenant}/InvokeCommand",
            front_door.clone(),
        )
        .route(
            "/compliance/adminapi/beta/{tenant}/EXOBanner('AutogenSession')",
            front_door,
        )
        .route(
            "/compliance/{region}/adminapi/beta/{tenant}/InvokeCommand",
            regional,
        )
        .route(
            "/_sim/requests",
            get(control_api::requests).delete(control_api::clear_requests),
        )
        .route(
            "/_sim/faults",
            get(control_api::faults).put(control_api::set_faults),
        )
        .route(
            "/_sim/throttle",
            get(control_api::throttle).put(control_api::set_throttle),
        )
        .route("/_sim/token-lifetime", put(control_api::set_token_lifetime))
        .route("/_sim/revoke-tokens", post(control_api::revoke_tokens))
        .route("/_sim/authz", put(control_api::set_authz))
        .route("/_sim/apps", post(control_api::register_app))
        .route("/_sim/entra/apis", post(control_api::register_api))
        .route("/_sim/entra/users", post(control_api::register_user))
        .route("/_sim/entra/caller-tokens", post(control_api::caller_token))
        .route(
            "/_sim/entra/signing-keys/roll",
            post(control_api::roll_signing_key),
        )
        .with_state(state)
}

/// Serves `app` over TLS on `listener` until `shutdown` fires (benchmarks also use it to
/// measure the bare HTTPS stack as a baseline).
pub async fn serve(
    listener: TcpListener,
    acceptor: Arc<SslAcceptor>,
    app: Router,
    mut shutdown: oneshot::Receiver<()>,
) {
    loop {
        let (tcp, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    tracing::warn!("accept failed: {e}");
                    continue;
                }
            },
            _ = &mut shutdown => return,
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let app = app.clone();
        tokio::spawn(async move {
            let Ok(ssl) = Ssl::new(acceptor.context()) else {
                return;
            };
            let Ok(mut stream) = SslStream::new(ssl, tcp) else {
                return;
            };
            if let Err(e) = Pin::new(&mut stream).accept().await {
                tracing::debug!("TLS handshake failed: {e}");
                return;
            }
            let service = TowerToHyperService::new(app);
            if let Err(e) = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!("connection ended: {e}");
            }
        });
    }
}
