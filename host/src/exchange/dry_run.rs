//! Dry run: which cmdlets change a tenant, and a change that was rehearsed instead of sent, so
//! an admin sees exactly what a run would do before it does it.

use super::Surface;
use super::params::Parameters;

/// Verbs of cmdlets that only read. Everything else (Set, New, Add, Remove, Enable, Start…) is
/// treated as a change, so an unknown verb is never sent by accident in a dry run.
const READING_VERBS: [&str; 5] = ["Get", "Test", "Search", "Export", "Resolve"];

/// Whether `cmdlet` changes something: its verb (the part before the first `-`, any case) is
/// not one of Get, Test, Search, Export or Resolve. A name without a verb counts as a change.
pub fn is_mutating(cmdlet: &str) -> bool {
    let verb = cmdlet.trim().split_once('-').map(|(verb, _)| verb);
    !verb.is_some_and(|verb| READING_VERBS.iter().any(|r| r.eq_ignore_ascii_case(verb)))
}

/// A changing cmdlet that a dry run recorded (in the audit log) and showed instead of sending.
#[derive(Clone, Debug, PartialEq)]
pub struct Rehearsal {
    /// Where it would have gone.
    pub surface: Surface,
    /// The cmdlet.
    pub cmdlet: String,
    /// Its parameters, exactly as they would have been sent.
    pub params: Parameters,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reading_verbs_are_not_changes() {
        for reading in [
            "Get-Mailbox",
            "get-mailbox",
            "Get-EXOMailbox",
            "Test-OAuthConnectivity",
            "Search-UnifiedAuditLog",
            "Export-QuarantineMessage",
            "Resolve-Recipient",
            " GET-User ",
        ] {
            assert!(!is_mutating(reading), "{reading}");
        }
    }

    #[test]
    fn everything_else_is_a_change() {
        for changing in [
            "Set-Mailbox",
            "New-ComplianceSearch",
            "Add-MailboxPermission",
            "Remove-MailContact",
            "Enable-Mailbox",
            "Start-ComplianceSearch",
            "Getter-Thing",
            "Mailbox",
            "",
            "-Get",
        ] {
            assert!(is_mutating(changing), "{changing}");
        }
    }
}
