//! Early checks of the two names every connection needs: the app's Application (client) ID and
//! the organization. Admins lose hours to a display name given as AppId or a bare tenant name;
//! these checks say so before any request is sent.

use std::fmt;

use uuid::Uuid;

use super::AuthError;

/// An Application (client) ID.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AppId(pub Uuid);

impl AppId {
    /// Parses an AppId; anything but a GUID gets an error saying what it looks like.
    pub fn parse(text: &str) -> Result<AppId, AuthError> {
        let trimmed = text.trim().trim_matches(|c| c == '{' || c == '}');
        if let Ok(id) = Uuid::parse_str(trimmed) {
            return Ok(AppId(id));
        }
        let looks_like = if trimmed.contains(char::is_whitespace)
            || trimmed
                .chars()
                .any(|c| c.is_ascii_alphabetic() && !c.is_ascii_hexdigit())
        {
            "it looks like a display name"
        } else {
            "it is not a GUID"
        };
        Err(AuthError::BadAppId(format!(
            "'{trimmed}' is not an Application (client) ID: {looks_like}. Use the Application (client) ID GUID shown in Entra ID > App registrations > your app > Overview (e.g. 1f7e0b59-3c3a-4d8e-9a57-2b4c8d1e6f30)."
        )))
    }
}

impl fmt::Display for AppId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The tenant: its ID (GUID) or one of its domains.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Organization {
    /// Tenant ID.
    Id(Uuid),
    /// A verified domain, usually `<name>.onmicrosoft.com`.
    Domain(String),
}

impl Organization {
    /// Parses an organization, refusing what Exchange will not accept.
    pub fn parse(text: &str) -> Result<Organization, AuthError> {
        let trimmed = text.trim();
        if let Ok(id) = Uuid::parse_str(trimmed) {
            return Ok(Organization::Id(id));
        }
        let fix = "Use the tenant's primary domain (e.g. contoso.onmicrosoft.com) or its tenant ID (a GUID, Entra ID > Overview).";
        if trimmed.is_empty() {
            return Err(AuthError::BadOrganization(format!(
                "the organization is empty. {fix}"
            )));
        }
        if let Some((_, domain)) = trimmed.split_once('@') {
            return Err(AuthError::BadOrganization(format!(
                "'{trimmed}' is a user or mailbox address, not an organization. {fix} (here perhaps {domain})"
            )));
        }
        if !trimmed.contains('.') {
            return Err(AuthError::BadOrganization(format!(
                "'{trimmed}' is neither a domain nor a tenant ID. {fix} (here perhaps {}.onmicrosoft.com)",
                trimmed.to_lowercase()
            )));
        }
        let valid = trimmed.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
        if !valid {
            return Err(AuthError::BadOrganization(format!(
                "'{trimmed}' is not a valid domain name. {fix}"
            )));
        }
        Ok(Organization::Domain(trimmed.to_lowercase()))
    }
}

impl fmt::Display for Organization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Organization::Id(id) => id.fmt(f),
            Organization::Domain(d) => f.write_str(d),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_id_must_be_a_guid() {
        assert!(AppId::parse("{1F7E0B59-3C3A-4D8E-9A57-2B4C8D1E6F30}").is_ok());
        let e = AppId::parse("Payroll Sync").unwrap_err().to_string();
        assert!(
            e.contains("looks like a display name") && e.contains("Application (client) ID"),
            "{e}"
        );
        let e = AppId::parse("1234").unwrap_err().to_string();
        assert!(e.contains("not a GUID"), "{e}");
    }

    #[test]
    fn organization_is_a_domain_or_a_guid() {
        assert_eq!(
            Organization::parse("Contoso.onmicrosoft.com").unwrap(),
            Organization::Domain("contoso.onmicrosoft.com".into())
        );
        assert!(matches!(
            Organization::parse("6f0b2c3e-1d4a-4b8e-9c7f-2a5d8e1b4c60").unwrap(),
            Organization::Id(_)
        ));
        let e = Organization::parse("contoso").unwrap_err().to_string();
        assert!(e.contains("contoso.onmicrosoft.com"), "{e}");
        let e = Organization::parse("admin@contoso.com")
            .unwrap_err()
            .to_string();
        assert!(e.contains("user or mailbox address"), "{e}");
        assert!(Organization::parse("bad_domain.com").is_err());
    }
}
