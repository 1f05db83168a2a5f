//! Entra ID directory roles and what each lets an app do in Exchange Online.
//!
//! App-only Exchange access needs the `Exchange.ManageAsApp` app permission *and* one of the
//! directory roles Microsoft supports for app-only EXO (docs/protocol.md §4.4). The role decides which
//! cmdlets the app's session contains: read-only roles see only reading cmdlets, and a role that is
//! not supported for EXO gives no cmdlets at all.

use serde::Serialize;

/// A directory role an app can be assigned, known by its template id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum DirectoryRole {
    /// Global Administrator: everything.
    GlobalAdministrator,
    /// Exchange Administrator: all Exchange cmdlets.
    ExchangeAdministrator,
    /// Exchange Recipient Administrator: recipient management.
    ExchangeRecipientAdministrator,
    /// Global Reader: read-only everywhere.
    GlobalReader,
    /// Security Reader: read-only, Exchange and Security & Compliance.
    SecurityReader,
    /// Security Administrator: Security & Compliance management, Exchange read.
    SecurityAdministrator,
    /// Compliance Administrator: Security & Compliance management, Exchange read.
    ComplianceAdministrator,
    /// Helpdesk Administrator: Exchange read.
    HelpdeskAdministrator,
    /// User Administrator: a real role that gives no Exchange app-only access.
    UserAdministrator,
}

/// What a role allows on one of the two Exchange surfaces.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Access {
    /// No cmdlets at all (403 for every call).
    None,
    /// Reading cmdlets only (`Get-*`, `Test-*`, `Search-*`).
    Read,
    /// Reading and recipient-changing cmdlets.
    Write,
}

impl DirectoryRole {
    /// Every role the emulator knows, for listings and name lookup.
    pub const ALL: [DirectoryRole; 9] = [
        DirectoryRole::GlobalAdministrator,
        DirectoryRole::ExchangeAdministrator,
        DirectoryRole::ExchangeRecipientAdministrator,
        DirectoryRole::GlobalReader,
        DirectoryRole::SecurityReader,
        DirectoryRole::SecurityAdministrator,
        DirectoryRole::ComplianceAdministrator,
        DirectoryRole::HelpdeskAdministrator,
        DirectoryRole::UserAdministrator,
    ];

    /// The role template id, as it appears in the access token's `wids` claim.
    pub fn template_id(self) -> &'static str {
        match self {
            DirectoryRole::GlobalAdministrator => "62e90394-69f5-4237-9190-012177145e10",
            DirectoryRole::ExchangeAdministrator => "29232cdf-9323-42fd-ade2-1d097af3e4de",
            DirectoryRole::ExchangeRecipientAdministrator => "31392ffb-586c-42d1-9346-e59415a2cc4e",
            DirectoryRole::GlobalReader => "f2ef992c-3afb-46b9-b7cf-a126ee74c451",
            DirectoryRole::SecurityReader => "5d6b6bb7-de71-4623-b4af-96380a352509",
            DirectoryRole::SecurityAdministrator => "194ae4cb-b126-40b2-bd5b-6091b380977d",
            DirectoryRole::ComplianceAdministrator => "17315797-102d-40b4-93e0-432062caca18",
            DirectoryRole::HelpdeskAdministrator => "729827e3-9c14-49f7-bb1b-9608f156bbb8",
            DirectoryRole::UserAdministrator => "fe930be7-5e62-47db-91af-98c3a49a38b1",
        }
    }

    /// The display name the Entra portal shows.
    pub fn display_name(self) -> &'static str {
        match self {
            DirectoryRole::GlobalAdministrator => "Global Administrator",
            DirectoryRole::ExchangeAdministrator => "Exchange Administrator",
            DirectoryRole::ExchangeRecipientAdministrator => "Exchange Recipient Administrator",
            DirectoryRole::GlobalReader => "Global Reader",
            DirectoryRole::SecurityReader => "Security Reader",
            DirectoryRole::SecurityAdministrator => "Security Administrator",
            DirectoryRole::ComplianceAdministrator => "Compliance Administrator",
            DirectoryRole::HelpdeskAdministrator => "Helpdesk Administrator",
            DirectoryRole::UserAdministrator => "User Administrator",
        }
    }

    /// Finds a role by display name (any case, spaces optional) or template id.
    pub fn parse(text: &str) -> Option<DirectoryRole> {
        let squash = |s: &str| {
            s.chars()
                .filter(|c| !c.is_whitespace() && *c != '-' && *c != '_')
                .collect::<String>()
                .to_ascii_lowercase()
        };
        let wanted = squash(text);
        DirectoryRole::ALL.into_iter().find(|role| {
            squash(role.display_name()) == wanted
                || role.template_id().eq_ignore_ascii_case(text.trim())
        })
    }

    /// Finds a role by its template id (from a token's `wids`).
    pub fn from_template_id(id: &str) -> Option<DirectoryRole> {
        DirectoryRole::ALL
            .into_iter()
            .find(|role| role.template_id().eq_ignore_ascii_case(id))
    }

    /// What this role allows on Exchange Online (`outlook.office365.com`).
    pub fn exchange_access(self) -> Access {
        match self {
            DirectoryRole::GlobalAdministrator
            | DirectoryRole::ExchangeAdministrator
            | DirectoryRole::ExchangeRecipientAdministrator => Access::Write,
            DirectoryRole::GlobalReader
            | DirectoryRole::SecurityReader
            | DirectoryRole::SecurityAdministrator
            | DirectoryRole::ComplianceAdministrator
            | DirectoryRole::HelpdeskAdministrator => Access::Read,
            DirectoryRole::UserAdministrator => Access::None,
        }
    }

    /// What this role allows on Security & Compliance (`ps.compliance.protection.outlook.com`).
    pub fn compliance_access(self) -> Access {
        match self {
            DirectoryRole::GlobalAdministrator
            | DirectoryRole::ComplianceAdministrator
            | DirectoryRole::SecurityAdministrator => Access::Write,
            DirectoryRole::GlobalReader | DirectoryRole::SecurityReader => Access::Read,
            _ => Access::None,
        }
    }
}

/// The `wids` entry present in every app-only token; it is not a directory role.
pub const APP_ONLY_WID: &str = "0997a1d0-0d1d-4acb-b408-d5ca73121e90";

/// The app permission (app role) Exchange requires for app-only access.
pub const MANAGE_AS_APP: &str = "Exchange.ManageAsApp";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_in_any_spelling_and_template_ids() {
        assert_eq!(
            DirectoryRole::parse("exchange administrator"),
            Some(DirectoryRole::ExchangeAdministrator)
        );
        assert_eq!(
            DirectoryRole::parse("GlobalReader"),
            Some(DirectoryRole::GlobalReader)
        );
        assert_eq!(
            DirectoryRole::parse("f2ef992c-3afb-46b9-b7cf-a126ee74c451"),
            Some(DirectoryRole::GlobalReader)
        );
        assert_eq!(DirectoryRole::parse("Printer Administrator"), None);
    }

    #[test]
    fn readers_cannot_write_and_user_admin_gets_nothing() {
        assert_eq!(DirectoryRole::GlobalReader.exchange_access(), Access::Read);
        assert_eq!(
            DirectoryRole::UserAdministrator.exchange_access(),
            Access::None
        );
        assert_eq!(
            DirectoryRole::ExchangeAdministrator.compliance_access(),
            Access::None
        );
    }
}
