//! `exorun doctor`: checks the setup one step at a time (settings, files, key, validity, AppId,
//! tenant, audit log, token, consent, role, a real cmdlet) and prints ✓ or ✗ with the fix for each ✗.
//! Steps that depend on a failed one are skipped, so the first ✗ is the thing to fix.

use std::fmt;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use chrono::Utc;
use clap::Args;

use exorun::Connection;
use exorun::audit::{Audit, AuditKey};
use exorun::auth::identity::{AppId, Organization};
use exorun::auth::{AuthError, Resource};
use exorun::config::{CredentialSpec, Settings};
use exorun::connection::ConnectError;
use exorun::connection::load_certificate;
use exorun::exchange::ExchangeError;
use exorun::exchange::Surface;
use exorun::secret::SecretSource;

use super::ConnectionArgs;
use super::output::count;

/// Check the whole setup step by step.
#[derive(Args, Debug)]
pub struct DoctorCmd {}

/// One line of the checklist: what it found, or what is wrong and what to do about it.
struct Check {
    name: &'static str,
    result: Result<String, (String, String)>,
}

fn ok(name: &'static str, detail: impl Into<String>) -> Check {
    Check {
        name,
        result: Ok(detail.into()),
    }
}

fn fail(name: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Check {
    Check {
        name,
        result: Err((detail.into(), fix.into())),
    }
}

/// What exorun's errors put between what went wrong and what to do (certificate, secret, setting,
/// Entra ID and Exchange errors all do).
const FIX: &str = "\n  fix: ";

/// A failed step from an error: its message up to [`FIX`] is the detail and the rest the fix;
/// `fallback` gives the fix for a message that carries none.
fn fail_with(
    name: &'static str,
    error: &impl fmt::Display,
    fallback: impl FnOnce() -> String,
) -> Check {
    let message = error.to_string();
    match message.split_once(FIX) {
        Some((detail, fix)) => fail(name, detail, fix),
        None => fail(name, message, fallback()),
    }
}

/// The fix for an audit log exorun cannot append to (its errors carry their own fix).
const AUDIT_FIX: &str = "let the user exorun runs as write the audit log, or name another with --audit-log (EXORUN_AUDIT_LOG)";

/// The fix for a token error whose message does not carry one.
fn auth_fix(error: &AuthError) -> String {
    match error {
        AuthError::BadAppId(_) => {
            "use the Application (client) ID GUID from Entra ID > App registrations > the app > Overview".into()
        }
        AuthError::BadOrganization(_) => {
            "set --organization to the tenant's primary domain (contoso.onmicrosoft.com) or its tenant ID".into()
        }
        AuthError::Transport { endpoint, .. } => format!(
            "check that {endpoint} can be reached from this host (DNS, proxy, firewall) and that --authority \
             (AZURE_AUTHORITY_HOST) names the Entra ID authority"
        ),
        AuthError::ReadyToken(_) => "give a current access token for https://outlook.office365.com with \
             --access-token-env, --access-token-file or --access-token-command, or sign in with the app's \
             certificate instead"
            .into(),
        AuthError::Certificate(_) => {
            "check the certificate file and its password, or make a new one with `exorun cert new`".into()
        }
        AuthError::Secret(_) => "check the variable or file that holds the secret".into(),
        AuthError::Entra { hint, .. } => hint.clone(),
        AuthError::NoTenant { .. } => {
            "pass --organization contoso.onmicrosoft.com (or the tenant ID), set AZURE_TENANT_ID, or put organization in the profile".into()
        }
        AuthError::Audit(_) => AUDIT_FIX.into(),
    }
}

/// The fix for a connection that could not be set up although the settings checks passed.
fn connect_fix(error: &ConnectError) -> String {
    match error {
        ConnectError::Auth(error) => auth_fix(error),
        ConnectError::Http(_) => {
            "check that --ca-file (EXORUN_CA_FILE, ca_file in the profile) names a readable \
             PEM CA certificate, or leave it unset to trust the system's CAs"
                .into()
        }
        ConnectError::Missing(_) => {
            "give the setting the message names (flag, environment variable or profile key)".into()
        }
        ConnectError::Audit(_) => AUDIT_FIX.into(),
    }
}

/// The fix for a failed Get-OrganizationConfig whose message does not carry one.
fn exchange_fix(error: &ExchangeError) -> String {
    match error {
        ExchangeError::Auth(error) => auth_fix(error),
        _ => "check exchange_url (EXORUN_EXCHANGE_URL) and that the app has an Exchange role in Entra ID > \
             Roles and administrators"
            .into(),
    }
}

/// Files the settings name and exorun must read: the credential's and the trusted CA.
fn setting_files(settings: &Settings) -> Vec<PathBuf> {
    let password = |p: &Option<SecretSource>| match p {
        Some(SecretSource::File(f)) => vec![f.clone()],
        _ => vec![],
    };
    let credential = match &settings.credential {
        Some(CredentialSpec::CertificateFile { path, password: p }) => {
            [vec![path.clone()], password(p)].concat()
        }
        Some(CredentialSpec::PemPair {
            cert,
            key,
            password: p,
        }) => [vec![cert.clone(), key.clone()], password(p)].concat(),
        Some(CredentialSpec::Thumbprint { password: p, .. }) => password(p),
        Some(
            CredentialSpec::ClientSecret(SecretSource::File(f))
            | CredentialSpec::AccessToken(SecretSource::File(f)),
        ) => vec![f.clone()],
        Some(CredentialSpec::AccessTokenFile(f)) => vec![f.clone()],
        _ => vec![],
    };
    credential
        .into_iter()
        .chain(settings.ca_file.clone())
        .collect()
}

fn needs_app_id(spec: &CredentialSpec) -> bool {
    matches!(
        spec,
        CredentialSpec::CertificateFile { .. }
            | CredentialSpec::PemPair { .. }
            | CredentialSpec::Thumbprint { .. }
            | CredentialSpec::ClientSecret(_)
    )
}

/// The organization, which a ready token or managed identity may leave to the token's `tid`.
fn check_tenant(organization: Option<&str>, names_its_tenant: bool) -> Check {
    match organization.map(Organization::parse) {
        Some(Ok(org)) => ok("tenant", format!("organization {org}")),
        Some(Err(e)) => fail(
            "tenant",
            e.to_string(),
            "set --organization to contoso.onmicrosoft.com or the tenant ID",
        ),
        None if names_its_tenant => ok("tenant", "the tenant the access token names (its tid)"),
        None => fail(
            "tenant",
            "no organization",
            "pass --organization, set AZURE_TENANT_ID, or add organization to the profile",
        ),
    }
}

fn check_app_id(app_id: Option<&str>) -> Check {
    match app_id.map(AppId::parse) {
        Some(Ok(id)) => ok("AppId", id.to_string()),
        Some(Err(e)) => fail(
            "AppId",
            e.to_string(),
            "use the Application (client) ID GUID from the app's Overview page",
        ),
        None => fail(
            "AppId",
            "no AppId",
            "pass --app-id, set AZURE_CLIENT_ID, or add app_id to the profile",
        ),
    }
}

/// Every file must open; the fix depends on whether it is missing or not readable by this user.
fn check_files(files: &[PathBuf]) -> Check {
    let failures: Vec<(&PathBuf, std::io::Error)> = files
        .iter()
        .filter_map(|f| std::fs::File::open(f).err().map(|e| (f, e)))
        .collect();
    if failures.is_empty() {
        return ok("files", "every file the settings name is readable");
    }
    let detail = failures
        .iter()
        .map(|(f, e)| format!("cannot read {} ({e})", f.display()))
        .collect::<Vec<_>>()
        .join("; ");
    let mut fixes = Vec::new();
    if failures
        .iter()
        .any(|(_, e)| e.kind() == ErrorKind::NotFound)
    {
        fixes.push(
            "check the path (relative paths in a profile are taken from the config file's directory)",
        );
    }
    if failures
        .iter()
        .any(|(_, e)| e.kind() != ErrorKind::NotFound)
    {
        fixes.push(
            "let the user exorun runs as read the file (for example `chown` it to that user and `chmod 600` it)",
        );
    }
    fail("files", detail, fixes.join("; "))
}

/// Loads the certificate (if the credential is one) and checks its validity dates.
fn check_certificate(spec: &CredentialSpec) -> Vec<Check> {
    let cert = match load_certificate(spec) {
        Ok(Some(cert)) => cert,
        Ok(None) => return Vec::new(),
        Err(e) => return vec![fail_with("key", &e, || auth_fix(&e))],
    };
    let key = ok(
        "key",
        format!(
            "RSA {} bits, matches certificate {} ({})",
            cert.key_bits(),
            cert.thumbprint_sha1_hex(),
            cert.subject()
        ),
    );
    let validity = match cert.check(Utc::now()) {
        Ok(()) => ok(
            "validity",
            format!(
                "{} to {}",
                cert.not_before().format("%Y-%m-%d"),
                cert.not_after().format("%Y-%m-%d")
            ),
        ),
        Err(e) => fail_with("validity", &e, || {
            "make a new certificate with `exorun cert new` and upload its .cer".into()
        }),
    };
    vec![key, validity]
}

/// The checks that send nothing: names, files, the certificate.
fn setup_checks(settings: &Settings) -> Vec<Check> {
    let names_its_tenant = settings
        .credential
        .as_ref()
        .is_some_and(CredentialSpec::names_its_tenant);
    let mut out = vec![check_tenant(
        settings.organization.as_deref(),
        names_its_tenant,
    )];
    let Some(spec) = &settings.credential else {
        out.push(fail(
            "credential",
            "no credential configured",
            "pass --certificate FILE, --thumbprint, --client-secret-file, an access token or --managed-identity (or set AZURE_CLIENT_CERTIFICATE_PATH / AZURE_CLIENT_SECRET)",
        ));
        return out;
    };
    if needs_app_id(spec) {
        out.push(check_app_id(settings.app_id.as_deref()));
    }
    out.push(check_files(&setting_files(settings)));
    out.extend(check_certificate(spec));
    if let Some(path) = &settings.audit_log {
        out.push(check_audit(path, settings.audit_key.as_deref()));
    }
    out
}

/// The audit log must take records: it is opened (created if need be) and its last record read.
fn check_audit(path: &Path, key: Option<&Path>) -> Check {
    let key = match key.map(AuditKey::load).transpose() {
        Ok(key) => key,
        Err(e) => return fail_with("audit", &e, || AUDIT_FIX.into()),
    };
    match Audit::open_keyed(path, key) {
        Ok(audit) => ok(
            "audit",
            format!(
                "{} ({} so far)",
                path.display(),
                count(audit.head().map_or(0, |head| head.seq), "record", "records")
            ),
        ),
        Err(e) => fail_with("audit", &e, || AUDIT_FIX.into()),
    }
}

/// The checks against the service: token, consent, role, a real cmdlet.
async fn service_checks(settings: Settings) -> Vec<Check> {
    let mut out = Vec::new();
    let connection = match Connection::open(settings) {
        Ok(c) => c,
        Err(e) => return vec![fail_with("token", &e, || connect_fix(&e))],
    };
    let claims = match connection.token_claims(Resource::Exchange).await {
        Ok(claims) => {
            out.push(ok(
                "token",
                format!(
                    "issued for app {} in tenant {}",
                    claims.app_id, claims.tenant_id
                ),
            ));
            claims
        }
        Err(e) => {
            out.push(fail_with("token", &e, || auth_fix(&e)));
            return out;
        }
    };
    if claims.roles.iter().any(|r| r == "Exchange.ManageAsApp") {
        out.push(ok("consent", "Exchange.ManageAsApp is granted"));
    } else {
        out.push(fail(
            "consent",
            "the token lacks the Exchange.ManageAsApp app role",
            "App registrations > API permissions > Add > APIs my organization uses > Office 365 Exchange Online > Application permissions > Exchange.ManageAsApp, then Grant admin consent",
        ));
    }
    if claims.directory_roles.is_empty() {
        out.push(fail(
            "role",
            "no directory role is assigned to the app",
            "Entra ID > Roles and administrators > Exchange Administrator (or Exchange Recipient Administrator, or Global Reader for read-only) > Add assignments > the app",
        ));
    } else {
        out.push(ok("role", claims.directory_roles.join(", ")));
    }
    match connection
        .exchange()
        .invoke(
            Surface::Exchange,
            "Get-OrganizationConfig",
            serde_json::Map::new(),
        )
        .await
    {
        Ok(rows) => out.push(ok(
            "exchange",
            format!(
                "Get-OrganizationConfig answered for {}",
                rows.first()
                    .and_then(|r| r["Name"].as_str())
                    .unwrap_or("the tenant")
            ),
        )),
        Err(e) => out.push(fail_with("exchange", &e, || exchange_fix(&e))),
    }
    out
}

/// Every check in order; the service is asked only when the setup checks all pass.
async fn checks(settings: Settings) -> Vec<Check> {
    let mut out = setup_checks(&settings);
    if out.iter().all(|c| c.result.is_ok()) {
        out.extend(service_checks(settings).await);
    }
    out
}

impl DoctorCmd {
    /// Runs the checklist.
    pub async fn run(self, args: &ConnectionArgs) -> anyhow::Result<ExitCode> {
        let layered = args.layered()?;
        for line in super::connect::sources(&layered) {
            println!("{}", line.trim_start_matches("  "));
        }
        let results = checks(layered.settings).await;
        let mut failed = false;
        for check in &results {
            match &check.result {
                Ok(detail) => println!("✓ {:<10} {detail}", check.name),
                Err((detail, fix)) => {
                    failed = true;
                    println!("✗ {:<10} {detail}\n    fix: {fix}", check.name);
                }
            }
        }
        if failed {
            println!("\nFix the first ✗ and run `exorun doctor` again.");
            Ok(ExitCode::FAILURE)
        } else {
            println!("\nAll checks passed.");
            Ok(ExitCode::SUCCESS)
        }
    }
}

#[cfg(test)]
#[path = "doctor_tests.rs"]
mod tests;
