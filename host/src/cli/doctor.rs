//! `exorun doctor`: checks the setup one step at a time (settings, files, key, validity, AppId,
//! tenant, token, consent, role, a real cmdlet) and prints ✓ or ✗ with the fix for each ✗.
//! Steps that depend on a failed one are skipped, so the first ✗ is the thing to fix.

use std::path::PathBuf;
use std::process::ExitCode;

use chrono::Utc;
use clap::Args;

use exorun::Connection;
use exorun::auth::Resource;
use exorun::auth::identity::{AppId, Organization};
use exorun::config::{CredentialSpec, Settings};
use exorun::connection::load_certificate;
use exorun::exchange::Surface;
use exorun::secret::SecretSource;

use super::ConnectionArgs;

/// Check the whole setup step by step.
#[derive(Args, Debug)]
pub struct DoctorCmd {}

/// One line of the checklist.
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

/// Files a credential needs to read.
fn credential_files(spec: &CredentialSpec) -> Vec<PathBuf> {
    let password = |p: &Option<SecretSource>| match p {
        Some(SecretSource::File(f)) => vec![f.clone()],
        _ => vec![],
    };
    match spec {
        CredentialSpec::CertificateFile { path, password: p } => {
            [vec![path.clone()], password(p)].concat()
        }
        CredentialSpec::PemPair {
            cert,
            key,
            password: p,
        } => [vec![cert.clone(), key.clone()], password(p)].concat(),
        CredentialSpec::Thumbprint { password: p, .. } => password(p),
        CredentialSpec::ClientSecret(SecretSource::File(f))
        | CredentialSpec::AccessToken(SecretSource::File(f)) => vec![f.clone()],
        CredentialSpec::AccessTokenFile(f) => vec![f.clone()],
        _ => vec![],
    }
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

async fn checks(settings: Settings) -> Vec<Check> {
    let mut out = Vec::new();
    match settings.organization.as_deref().map(Organization::parse) {
        Some(Ok(org)) => out.push(ok("tenant", format!("organization {org}"))),
        Some(Err(e)) => out.push(fail(
            "tenant",
            e.to_string(),
            "set --organization to contoso.onmicrosoft.com or the tenant ID",
        )),
        None if settings
            .credential
            .as_ref()
            .is_some_and(CredentialSpec::names_its_tenant) =>
        {
            out.push(ok("tenant", "the tenant the access token names (its tid)"));
        }
        None => out.push(fail(
            "tenant",
            "no organization",
            "pass --organization, set AZURE_TENANT_ID, or add organization to the profile",
        )),
    }
    let Some(spec) = settings.credential.clone() else {
        out.push(fail(
            "credential",
            "no credential configured",
            "pass --certificate FILE, --thumbprint, --client-secret-file, an access token or --managed-identity (or set AZURE_CLIENT_CERTIFICATE_PATH / AZURE_CLIENT_SECRET)",
        ));
        return out;
    };
    if needs_app_id(&spec) {
        match settings.app_id.as_deref().map(AppId::parse) {
            Some(Ok(id)) => out.push(ok("AppId", id.to_string())),
            Some(Err(e)) => out.push(fail(
                "AppId",
                e.to_string(),
                "use the Application (client) ID GUID from the app's Overview page",
            )),
            None => out.push(fail(
                "AppId",
                "no AppId",
                "pass --app-id, set AZURE_CLIENT_ID, or add app_id to the profile",
            )),
        }
    }
    let missing: Vec<String> = credential_files(&spec)
        .into_iter()
        .filter(|f| std::fs::File::open(f).is_err())
        .map(|f| f.display().to_string())
        .collect();
    if missing.is_empty() {
        out.push(ok("files", "every credential file is readable"));
    } else {
        out.push(fail(
            "files",
            format!("cannot read {}", missing.join(", ")),
            "check the paths and that this user may read them",
        ));
    }
    match load_certificate(&spec) {
        Ok(Some(cert)) => {
            out.push(ok(
                "key",
                format!(
                    "RSA {} bits, matches certificate {} ({})",
                    cert.key_bits(),
                    cert.thumbprint_sha1_hex(),
                    cert.subject()
                ),
            ));
            match cert.check(Utc::now()) {
                Ok(()) => out.push(ok(
                    "validity",
                    format!(
                        "{} to {}",
                        cert.not_before().format("%Y-%m-%d"),
                        cert.not_after().format("%Y-%m-%d")
                    ),
                )),
                Err(e) => out.push(fail(
                    "validity",
                    e.to_string(),
                    "make a new certificate with `exorun cert new` and upload its .cer",
                )),
            }
        }
        Ok(None) => {}
        Err(e) => out.push(fail(
            "key",
            e.to_string(),
            "fix the certificate as the message says",
        )),
    }
    if out.iter().any(|c| c.result.is_err()) {
        return out;
    }
    let connection = match Connection::open(settings) {
        Ok(c) => c,
        Err(e) => {
            out.push(fail("token", e.to_string(), "fix the settings above"));
            return out;
        }
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
            out.push(fail("token", e.to_string(), "see the fix in the message"));
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
        Err(e) => out.push(fail(
            "exchange",
            e.to_string(),
            "see the fix in the message",
        )),
    }
    out
}

impl DoctorCmd {
    /// Runs the checklist.
    pub async fn run(self, args: &ConnectionArgs) -> anyhow::Result<ExitCode> {
        let settings = args.settings()?;
        let results = checks(settings).await;
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
