//! Turns a scenario into a live directory, and writes the credentials of generated apps into the
//! state directory so any client can use them.

use std::path::{Path, PathBuf};

use openssl::pkey::PKey;
use openssl::x509::X509;
use serde::Serialize;

use crate::SimError;
use crate::directory::generate::generate;
use crate::directory::{
    App, DirectoryRole, RecipientStore, RegisteredCert, RegisteredSecret, Tenant,
};
use crate::pki::{KeyPair, self_signed_client};
use crate::scenario::{AppSpec, TenantSpec, derived_guid};

/// An app added with `--register-cert`, for a certificate the caller made.
#[derive(Clone, Debug, PartialEq)]
pub struct RegisterCert {
    /// PEM file holding the certificate (a key in the same file is ignored).
    pub cert: PathBuf,
    /// Client id (default: derived from the certificate thumbprint).
    pub app_id: Option<uuid::Uuid>,
    /// Directory role (default: Exchange Administrator).
    pub role: Option<String>,
}

/// Where an app's credentials were written, and what to call it with.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct AppInfo {
    /// Display name.
    pub name: String,
    /// Application (client) id.
    pub client_id: String,
    /// Directory roles by display name.
    pub roles: Vec<String>,
    /// Consent to `Exchange.ManageAsApp`.
    pub consent: bool,
    /// A managed identity.
    pub managed_identity: bool,
    /// Certificate PEM file.
    pub certificate: Option<PathBuf>,
    /// Private key PEM file (unencrypted PKCS#8).
    pub private_key: Option<PathBuf>,
    /// PKCS#12 file.
    pub pfx: Option<PathBuf>,
    /// File holding the PFX password.
    pub pfx_password_file: Option<PathBuf>,
    /// SHA-1 thumbprint as the portal shows it.
    pub thumbprint: Option<String>,
    /// File holding the client secret.
    pub secret_file: Option<PathBuf>,
}

/// A tenant as the ready line describes it.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct TenantInfo {
    /// Short name.
    pub name: String,
    /// Tenant GUID.
    pub id: String,
    /// Initial `*.onmicrosoft.com` domain.
    pub domain: String,
    /// Every accepted domain.
    pub domains: Vec<String>,
    /// Recipients generated.
    pub recipients: usize,
    /// Apps and their credential files.
    pub apps: Vec<AppInfo>,
    /// Service API apps whose callers get tokens (`entra/caller-tokens`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub apis: Vec<crate::entra::callers::ServiceApi>,
    /// Test users who call them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<crate::entra::callers::TestUser>,
}

const SECRET_LIFETIME: i64 = 2 * 365 * 86_400;

/// Builds a tenant from its spec; generated credentials go to `state_dir/<tenant>/`.
pub fn build_tenant(
    spec: &TenantSpec,
    state_dir: &Path,
    now: i64,
) -> Result<(Tenant, TenantInfo), SimError> {
    let initial_domain = format!("{}.onmicrosoft.com", spec.name.to_lowercase());
    let domains = spec
        .domains
        .clone()
        .unwrap_or_else(|| vec![format!("{}.com", spec.name.to_lowercase())]);
    let display_name = spec
        .display_name
        .clone()
        .unwrap_or_else(|| capitalize(&spec.name));
    let mut recipients = RecipientStore::new(&initial_domain);
    let default_domain = domains
        .first()
        .cloned()
        .unwrap_or_else(|| initial_domain.clone());
    generate(
        &mut recipients,
        &spec.population(),
        spec.seed,
        &default_domain,
        &initial_domain,
        now,
    );
    let mut tenant = Tenant {
        id: spec.tenant_id(),
        display_name,
        initial_domain: initial_domain.clone(),
        domains: domains.clone(),
        apps: Vec::new(),
        recipients,
        compliance_searches: Vec::new(),
        compliance_region: spec.compliance_region.clone(),
    };
    let dir = state_dir.join(spec.name.to_lowercase());
    std::fs::create_dir_all(&dir)
        .map_err(|e| SimError::Io(format!("cannot create {}: {e}", dir.display())))?;
    let mut specs = if spec.default_apps {
        default_apps()
    } else {
        Vec::new()
    };
    specs.extend(spec.apps.iter().cloned());
    let mut apps = Vec::new();
    for app_spec in &specs {
        let (app, info) = build_app(&tenant, app_spec, &dir, now)?;
        tenant.apps.push(app);
        apps.push(info);
    }
    let info = TenantInfo {
        name: spec.name.clone(),
        id: tenant.id.to_string(),
        domain: initial_domain,
        domains,
        recipients: tenant.recipients.len(),
        apps,
        apis: Vec::new(),
        users: Vec::new(),
    };
    Ok((tenant, info))
}

/// The ready-made apps of a tenant without setup.
fn default_apps() -> Vec<AppSpec> {
    let app = |name: &str, roles: &[&str], consent: bool, secret: bool, identity: bool| AppSpec {
        name: name.into(),
        client_id: None,
        roles: roles.iter().map(|r| r.to_string()).collect(),
        consent,
        certificates: Vec::new(),
        generate_certificate: !identity,
        generate_secret: secret,
        managed_identity: identity,
    };
    vec![
        app(
            "exorun-admin",
            &["Exchange Administrator"],
            true,
            true,
            false,
        ),
        app("exorun-reader", &["Global Reader"], true, false, false),
        app("exorun-norole", &[], true, false, false),
        app(
            "exorun-noconsent",
            &["Exchange Administrator"],
            false,
            false,
            false,
        ),
        app(
            "exorun-compliance",
            &["Compliance Administrator"],
            true,
            false,
            false,
        ),
        app(
            "exorun-identity",
            &["Exchange Administrator"],
            true,
            false,
            true,
        ),
    ]
}

fn build_app(
    tenant: &Tenant,
    spec: &AppSpec,
    dir: &Path,
    now: i64,
) -> Result<(App, AppInfo), SimError> {
    let roles: Vec<DirectoryRole> = spec
        .roles
        .iter()
        .map(|r| {
            DirectoryRole::parse(r)
                .ok_or_else(|| SimError::Config(format!("unknown directory role '{r}'")))
        })
        .collect::<Result<_, _>>()?;
    let tenant_id = tenant.id.to_string();
    let client_id = spec
        .client_id
        .unwrap_or_else(|| derived_guid(&["app", &tenant_id, &spec.name]));
    let mut app = App {
        client_id,
        object_id: derived_guid(&["sp", &tenant_id, &spec.name]),
        display_name: spec.name.clone(),
        certificates: Vec::new(),
        secrets: Vec::new(),
        exchange_consent: spec.consent,
        roles: roles.clone(),
        managed_identity: spec.managed_identity,
    };
    let mut info = AppInfo {
        name: spec.name.clone(),
        client_id: client_id.to_string(),
        roles: roles.iter().map(|r| r.display_name().to_string()).collect(),
        consent: spec.consent,
        managed_identity: spec.managed_identity,
        certificate: None,
        private_key: None,
        pfx: None,
        pfx_password_file: None,
        thumbprint: None,
        secret_file: None,
    };
    for path in &spec.certificates {
        let cert = read_cert(path)?;
        app.certificates.push(RegisteredCert::from_x509(&cert)?);
    }
    if spec.generate_certificate {
        let pair = load_or_make_client_cert(dir, &spec.name)?;
        let registered = RegisteredCert::from_x509(&pair.cert)?;
        info.thumbprint = Some(registered.thumbprint());
        app.certificates.push(registered);
        let stem = dir.join(&spec.name);
        let password = load_or_make(&stem.with_extension("pfx-password"), || random_text(24))?;
        write(
            &stem.with_extension("pfx"),
            &pair.pfx(&password, &spec.name)?,
        )?;
        info.certificate = Some(stem.with_extension("pem"));
        info.private_key = Some(stem.with_extension("key"));
        info.pfx = Some(stem.with_extension("pfx"));
        info.pfx_password_file = Some(stem.with_extension("pfx-password"));
    }
    if spec.generate_secret {
        let path = dir.join(&spec.name).with_extension("secret");
        let value = load_or_make(&path, entra_like_secret)?;
        app.secrets.push(RegisteredSecret {
            value,
            expires: now + SECRET_LIFETIME,
        });
        info.secret_file = Some(path);
    }
    Ok((app, info))
}

/// Registers a caller-made certificate as a new app in `tenant`.
pub fn register_cert(tenant: &mut Tenant, request: &RegisterCert) -> Result<AppInfo, SimError> {
    let cert = read_cert(&request.cert)?;
    let registered = RegisteredCert::from_x509(&cert)?;
    let role_name = request
        .role
        .clone()
        .unwrap_or_else(|| "Exchange Administrator".into());
    let role = DirectoryRole::parse(&role_name).ok_or_else(|| {
        SimError::Config(format!(
            "unknown directory role '{role_name}'; known roles: {}",
            DirectoryRole::ALL.map(|r| r.display_name()).join(", ")
        ))
    })?;
    let thumbprint = registered.thumbprint();
    let client_id = request
        .app_id
        .unwrap_or_else(|| derived_guid(&["registered", &thumbprint]));
    let name = format!("registered-{}", &thumbprint[..8].to_lowercase());
    if let Some(existing) = tenant.apps.iter_mut().find(|a| a.client_id == client_id) {
        existing.certificates.push(registered);
    } else {
        tenant.apps.push(App {
            client_id,
            object_id: derived_guid(&["sp", &client_id.to_string()]),
            display_name: name.clone(),
            certificates: vec![registered],
            secrets: Vec::new(),
            exchange_consent: true,
            roles: vec![role],
            managed_identity: false,
        });
    }
    Ok(AppInfo {
        name,
        client_id: client_id.to_string(),
        roles: vec![role.display_name().to_string()],
        consent: true,
        managed_identity: false,
        certificate: Some(request.cert.clone()),
        private_key: None,
        pfx: None,
        pfx_password_file: None,
        thumbprint: Some(thumbprint),
        secret_file: None,
    })
}

fn read_cert(path: &Path) -> Result<X509, SimError> {
    let bytes = std::fs::read(path)
        .map_err(|e| SimError::Io(format!("cannot read certificate {}: {e}", path.display())))?;
    X509::from_pem(&bytes)
        .or_else(|_| X509::from_der(&bytes))
        .map_err(|_| {
            SimError::Config(format!(
                "{} holds no PEM or DER certificate",
                path.display()
            ))
        })
}

/// Reuses `<name>.pem`/`<name>.key` from an earlier run (stable thumbprints), or makes them.
fn load_or_make_client_cert(dir: &Path, name: &str) -> Result<KeyPair, SimError> {
    let stem = dir.join(name);
    let (cert_path, key_path) = (stem.with_extension("pem"), stem.with_extension("key"));
    if let (Ok(cert), Ok(key)) = (std::fs::read(&cert_path), std::fs::read(&key_path))
        && let (Ok(cert), Ok(key)) = (X509::from_pem(&cert), PKey::private_key_from_pem(&key))
        && crate::time::asn1_to_unix(cert.not_after()) > crate::time::now() + 86_400
    {
        return Ok(KeyPair { cert, key });
    }
    let pair = self_signed_client(name, 2048, 730)?;
    write(&cert_path, &pair.cert_pem()?)?;
    write(&key_path, &pair.key_pem()?)?;
    Ok(pair)
}

fn load_or_make(path: &Path, make: impl FnOnce() -> String) -> Result<String, SimError> {
    if let Ok(text) = std::fs::read_to_string(path) {
        let text = text.trim().to_string();
        if !text.is_empty() {
            return Ok(text);
        }
    }
    let value = make();
    write(path, value.as_bytes())?;
    Ok(value)
}

/// Writes a file readable only by its owner (it may hold a key or a secret).
pub fn write(path: &Path, bytes: &[u8]) -> Result<(), SimError> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    options.mode(0o600);
    options
        .open(path)
        .and_then(|mut f| f.write_all(bytes))
        .map_err(|e| SimError::Io(format!("cannot write {}: {e}", path.display())))
}

/// Random text from the OS's CSPRNG.
fn random_text(len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let mut bytes = vec![0u8; len];
    // openssl's rand_bytes only fails if the CSPRNG is not seeded; fall back to fastrand then.
    if openssl::rand::rand_bytes(&mut bytes).is_err() {
        bytes.iter_mut().for_each(|b| *b = fastrand::u8(..));
    }
    bytes
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect()
}

/// A secret in the shape Entra issues (`xxx8Q~` + 34 characters).
fn entra_like_secret() -> String {
    let body = random_text(37);
    format!("{}8Q~{}", &body[..3], &body[3..])
}

fn capitalize(name: &str) -> String {
    let mut chars = name.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}
