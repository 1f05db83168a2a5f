//! `exorun connect`: sign in, show the token's non-secret claims, and with `--test` run
//! Get-OrganizationConfig to prove the whole chain works.

use std::process::ExitCode;

use anyhow::Context;
use chrono::Utc;
use clap::Args;

use exorun::Connection;
use exorun::auth::Resource;
use exorun::config::Layered;
use exorun::exchange::Surface;

use super::ConnectionArgs;

/// Sign in and show who you are.
#[derive(Args, Debug)]
pub struct ConnectCmd {
    /// Also run Get-OrganizationConfig.
    #[arg(long)]
    test: bool,
    /// Sign in to Security & Compliance instead of Exchange Online.
    #[arg(long)]
    compliance: bool,
}

impl ConnectCmd {
    /// Runs the command.
    pub async fn run(self, args: &ConnectionArgs) -> anyhow::Result<ExitCode> {
        let layered = args.layered()?;
        let connection = Connection::open(layered.settings.clone())?;
        let resource = if self.compliance {
            Resource::Compliance
        } else {
            Resource::Exchange
        };
        let claims = connection
            .token_claims(resource)
            .await
            .context("signing in failed")?;
        match connection.organization() {
            Some(organization) => {
                println!("Signed in to {organization} ({})", claims.tenant_id);
            }
            None => println!("Signed in to tenant {} (from the token)", claims.tenant_id),
        }
        println!(
            "  app:              {} ({})",
            claims.app_name, claims.app_id
        );
        if let Some(cert) = connection.certificate() {
            println!(
                "  certificate:      {} {} (valid until {})",
                cert.thumbprint_sha1_hex(),
                cert.subject(),
                cert.not_after().format("%Y-%m-%d")
            );
        }
        println!("  audience:         {}", claims.audience);
        println!(
            "  app roles:        {}",
            if claims.roles.is_empty() {
                "(none)".into()
            } else {
                claims.roles.join(", ")
            }
        );
        println!(
            "  directory roles:  {}",
            if claims.directory_roles.is_empty() {
                "(none)".into()
            } else {
                claims.directory_roles.join(", ")
            }
        );
        if let Some(expires) = claims.expires_at {
            println!(
                "  token expires:    {} (in {} min)",
                expires.format("%Y-%m-%d %H:%M:%S UTC"),
                (expires - Utc::now()).num_minutes()
            );
        }
        for line in sources(&layered) {
            println!("{line}");
        }
        let mut healthy = true;
        if !claims.roles.iter().any(|r| r == "Exchange.ManageAsApp") {
            healthy = false;
            println!(
                "  ! the token lacks Exchange.ManageAsApp: grant admin consent for the Office 365 Exchange Online application permission Exchange.ManageAsApp (App registrations > API permissions)"
            );
        }
        if claims.directory_roles.is_empty() {
            healthy = false;
            println!(
                "  ! the app has no directory role: assign Exchange Administrator, Exchange Recipient Administrator or Global Reader (Entra ID > Roles and administrators)"
            );
        }
        if self.test {
            let surface = if self.compliance {
                Surface::Compliance
            } else {
                Surface::Exchange
            };
            let cmdlet = if self.compliance {
                "Get-ComplianceSearch"
            } else {
                "Get-OrganizationConfig"
            };
            let rows = connection
                .exchange()
                .invoke(surface, cmdlet, serde_json::Map::new())
                .await
                .with_context(|| format!("{cmdlet} failed"))?;
            match rows.first() {
                Some(org) if !self.compliance => println!(
                    "{cmdlet}: ✓ {} ({})",
                    org["DisplayName"].as_str().unwrap_or_default(),
                    org["Name"].as_str().unwrap_or_default()
                ),
                _ => println!("{cmdlet}: ✓ {} row(s)", rows.len()),
            }
        }
        Ok(if healthy {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(2)
        })
    }
}

/// Where each setting came from, one line each, for `connect` and `doctor`: settings from
/// flags, variables and a profile are never mixed silently.
pub(super) fn sources(layered: &Layered) -> Vec<String> {
    let mut lines = vec!["  settings from:".to_string()];
    for (setting, source) in &layered.sources {
        lines.push(format!("    {:<16}{source}", setting.label()));
    }
    lines
}
