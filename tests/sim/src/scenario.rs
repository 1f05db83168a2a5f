//! The scenario: which tenants, apps and recipients the emulator starts with.
//!
//! With no scenario file the emulator is ready without setup: tenant `contoso` with a fixed GUID
//! and the ready-made apps (admin, reader, no role, no consent, managed identity). A TOML file can
//! describe more tenants and apps; flags adjust the first tenant.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use uuid::Uuid;

use crate::SimError;
use crate::directory::generate::Population;
use crate::entra::callers::{ServiceApiSpec, TestUserSpec};

/// The fixed GUID of the default `contoso` tenant.
pub const CONTOSO_ID: Uuid = Uuid::from_u128(0x6f0b2c3e_1d4a_4b8e_9c7f_2a5d8e1b4c60);

/// A whole scenario file.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// The tenants.
    #[serde(rename = "tenant")]
    pub tenants: Vec<TenantSpec>,
}

/// One tenant.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TenantSpec {
    /// Short name: the initial domain is `<name>.onmicrosoft.com`.
    pub name: String,
    /// Tenant GUID (default: derived from the name; `contoso` gets [`CONTOSO_ID`]).
    pub id: Option<Uuid>,
    /// Organization display name (default: the name, capitalized).
    pub display_name: Option<String>,
    /// Custom accepted domains (default: `<name>.com`).
    pub domains: Option<Vec<String>>,
    /// Generator seed.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Mailboxes of all kinds.
    #[serde(default = "default_mailboxes")]
    pub mailboxes: usize,
    /// Mail users (default: mailboxes / 20).
    pub mail_users: Option<usize>,
    /// Mail contacts (default: mailboxes / 10).
    pub mail_contacts: Option<usize>,
    /// Distribution groups (default: mailboxes / 50).
    pub distribution_groups: Option<usize>,
    /// Security & Compliance region the tenant is redirected to.
    #[serde(default = "default_region")]
    pub compliance_region: String,
    /// Create the ready-made apps.
    #[serde(default = "yes")]
    pub default_apps: bool,
    /// Further apps.
    #[serde(default, rename = "app")]
    pub apps: Vec<AppSpec>,
    /// Service API apps whose callers get tokens (`[[tenant.api]]`; no `tenant` key here).
    #[serde(default, rename = "api")]
    pub apis: Vec<ServiceApiSpec>,
    /// Test users who call them (`[[tenant.user]]`; no `tenant` key here).
    #[serde(default, rename = "user")]
    pub users: Vec<TestUserSpec>,
}

/// One app registration.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AppSpec {
    /// Display name; also the file name stem of generated credentials.
    pub name: String,
    /// Client id (default: derived from tenant and name).
    pub client_id: Option<Uuid>,
    /// Directory roles by name or template id.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Admin consent to `Exchange.ManageAsApp`.
    #[serde(default = "yes")]
    pub consent: bool,
    /// PEM certificates to register (relative paths are relative to the scenario file).
    #[serde(default)]
    pub certificates: Vec<PathBuf>,
    /// Make a certificate (written to the state directory).
    #[serde(default)]
    pub generate_certificate: bool,
    /// Make a client secret (written to the state directory).
    #[serde(default)]
    pub generate_secret: bool,
    /// A managed identity: tokens come from the identity endpoint.
    #[serde(default)]
    pub managed_identity: bool,
}

fn default_seed() -> u64 {
    1
}
fn default_mailboxes() -> usize {
    100
}
fn default_region() -> String {
    "nam12b".into()
}
fn yes() -> bool {
    true
}

impl TenantSpec {
    /// A tenant with defaults for everything but the name.
    pub fn named(name: &str) -> TenantSpec {
        TenantSpec {
            name: name.to_string(),
            id: None,
            display_name: None,
            domains: None,
            seed: default_seed(),
            mailboxes: default_mailboxes(),
            mail_users: None,
            mail_contacts: None,
            distribution_groups: None,
            compliance_region: default_region(),
            default_apps: true,
            apps: Vec::new(),
            apis: Vec::new(),
            users: Vec::new(),
        }
    }

    /// The tenant GUID.
    pub fn tenant_id(&self) -> Uuid {
        self.id.unwrap_or_else(|| {
            if self.name.eq_ignore_ascii_case("contoso") {
                CONTOSO_ID
            } else {
                derived_guid(&["tenant", &self.name.to_lowercase()])
            }
        })
    }

    /// How many recipients of each kind to generate.
    pub fn population(&self) -> Population {
        let base = Population::around_mailboxes(self.mailboxes);
        Population {
            mailboxes: self.mailboxes,
            mail_users: self.mail_users.unwrap_or(base.mail_users),
            mail_contacts: self.mail_contacts.unwrap_or(base.mail_contacts),
            distribution_groups: self.distribution_groups.unwrap_or(base.distribution_groups),
        }
    }
}

impl Default for Scenario {
    fn default() -> Scenario {
        Scenario {
            tenants: vec![TenantSpec::named("contoso")],
        }
    }
}

impl Scenario {
    /// Reads a scenario file; relative certificate paths become relative to it.
    pub fn load(path: &Path) -> Result<Scenario, SimError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            SimError::Config(format!("cannot read scenario {}: {e}", path.display()))
        })?;
        let mut scenario: Scenario = toml::from_str(&text).map_err(|e| {
            SimError::Config(format!("scenario {} is not valid: {e}", path.display()))
        })?;
        let dir = path.parent().unwrap_or(Path::new("."));
        for tenant in &mut scenario.tenants {
            for app in &mut tenant.apps {
                for cert in &mut app.certificates {
                    if cert.is_relative() {
                        *cert = dir.join(&*cert);
                    }
                }
            }
        }
        scenario.check()?;
        Ok(scenario)
    }

    /// Refuses scenarios that cannot work (no tenants, duplicate names, unknown roles).
    pub fn check(&self) -> Result<(), SimError> {
        if self.tenants.is_empty() {
            return Err(SimError::Config("the scenario has no [[tenant]]".into()));
        }
        for (i, t) in self.tenants.iter().enumerate() {
            if t.name.is_empty()
                || !t
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-')
            {
                return Err(SimError::Config(format!(
                    "tenant name '{}' must be letters, digits and '-' (it becomes <name>.onmicrosoft.com)",
                    t.name
                )));
            }
            if self.tenants[..i]
                .iter()
                .any(|o| o.name.eq_ignore_ascii_case(&t.name) || o.tenant_id() == t.tenant_id())
            {
                return Err(SimError::Config(format!(
                    "tenant '{}' is defined twice",
                    t.name
                )));
            }
            let apis = t
                .apis
                .iter()
                .filter(|a| a.tenant.is_some())
                .map(|a| &a.name);
            let users = t
                .users
                .iter()
                .filter(|u| u.tenant.is_some())
                .map(|u| &u.upn);
            if let Some(name) = apis.chain(users).next() {
                return Err(SimError::Config(format!(
                    "tenant '{}': '{name}' names a tenant; in a scenario an api or user belongs to the [[tenant]] it is written under",
                    t.name
                )));
            }
            for app in &t.apps {
                for role in &app.roles {
                    if crate::directory::DirectoryRole::parse(role).is_none() {
                        return Err(SimError::Config(format!(
                            "app '{}': unknown directory role '{role}'; known roles: {}",
                            app.name,
                            crate::directory::DirectoryRole::ALL
                                .map(|r| r.display_name())
                                .join(", ")
                        )));
                    }
                }
            }
        }
        Ok(())
    }
}

/// A GUID derived from names, stable across runs (SHA-256, stamped as a version-4 GUID).
pub fn derived_guid(parts: &[&str]) -> Uuid {
    let digest = openssl::sha::sha256(parts.join("/").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_scenario_with_defaults() {
        let s: Scenario = toml::from_str(
            r#"
            [[tenant]]
            name = "fabrikam"
            mailboxes = 10
            [[tenant.app]]
            name = "payroll"
            roles = ["Exchange Recipient Administrator"]
            generate_certificate = true
            "#,
        )
        .unwrap();
        s.check().unwrap();
        let t = &s.tenants[0];
        assert_eq!(t.population().mail_contacts, 1);
        assert!(t.default_apps && t.apps[0].consent);
        assert_eq!(t.tenant_id(), derived_guid(&["tenant", "fabrikam"]));
        assert_eq!(TenantSpec::named("Contoso").tenant_id(), CONTOSO_ID);
    }

    #[test]
    fn the_example_scenario_loads() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../examples/sim-scenario.toml");
        let s = Scenario::load(&path).unwrap();
        assert_eq!(s.tenants.len(), 2);
        assert_eq!(s.tenants[1].compliance_region, "eur02b");
        assert_eq!(
            s.tenants[0].apis[0].app_id_uri.as_deref(),
            Some("api://exorun")
        );
        assert_eq!(s.tenants[0].users[0].upn, "ann@contoso.com");
    }

    #[test]
    fn an_api_or_user_belongs_to_the_tenant_it_is_written_under() {
        let s: Scenario =
            toml::from_str("[[tenant]]\nname='a'\n[[tenant.user]]\nupn='ann@a.com'\ntenant='b'")
                .unwrap();
        assert_eq!(
            s.check().unwrap_err().to_string(),
            "tenant 'a': 'ann@a.com' names a tenant; in a scenario an api or user belongs to the [[tenant]] it is written under"
        );
    }

    #[test]
    fn rejects_unknown_fields_and_roles() {
        assert!(toml::from_str::<Scenario>("[[tenant]]\nname='a'\nmailbox=3").is_err());
        let s: Scenario =
            toml::from_str("[[tenant]]\nname='a'\n[[tenant.app]]\nname='x'\nroles=['Boss']")
                .unwrap();
        let e = s.check().unwrap_err().to_string();
        assert!(
            e.contains("unknown directory role 'Boss'") && e.contains("Exchange Administrator"),
            "{e}"
        );
    }
}
