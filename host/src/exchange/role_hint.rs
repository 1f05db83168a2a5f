//! What a 403 means for this app, read from the roles its own token carries: Exchange answers a
//! missing role and an unknown cmdlet alike (an empty 403, docs/protocol.md §2.5), but the token says
//! which directory roles the app has, so the hint can tell "assign a role" from "the role only
//! reads" from "the cmdlet does not exist".

use std::fmt;

use super::catalogue::Catalogue;
use super::{Surface, is_mutating};
use crate::auth::claims;

/// What a role lets an app do on one surface.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Access {
    /// Nothing.
    None,
    /// Reading cmdlets only.
    Read,
    /// Reading and changing.
    Write,
}

/// How each directory role supported for app-only access (docs/protocol.md §4.4) works on Exchange
/// Online and on Security & Compliance, by the name [`claims::decode`] gives it.
fn access(role: &str, surface: Surface) -> Access {
    let (exchange, compliance) = match role {
        "Global Administrator" => (Access::Write, Access::Write),
        "Exchange Administrator" | "Exchange Recipient Administrator" => {
            (Access::Write, Access::None)
        }
        "Compliance Administrator" | "Security Administrator" => (Access::Read, Access::Write),
        "Global Reader" | "Security Reader" => (Access::Read, Access::Read),
        "Helpdesk Administrator" => (Access::Read, Access::None),
        _ => (Access::None, Access::None),
    };
    match surface {
        Surface::Exchange => exchange,
        Surface::Compliance => compliance,
    }
}

/// The reading of a 403 that the token's roles support.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RoleHint {
    /// The token is not a JWT, so its roles cannot be read.
    Unreadable,
    /// The app has no directory role that works on this surface.
    NoRole {
        /// The surface.
        surface: Surface,
    },
    /// The cmdlet changes things and the app's roles only read.
    ReadOnly {
        /// The surface.
        surface: Surface,
        /// The app's roles.
        roles: Vec<String>,
    },
    /// The app's roles allow this kind of cmdlet, so the cmdlet itself is most likely unknown.
    NoSuchCmdlet {
        /// The surface.
        surface: Surface,
        /// The app's roles that allow it.
        roles: Vec<String>,
        /// Catalogued cmdlets with the closest names.
        suggestions: Vec<String>,
    },
}

impl RoleHint {
    /// Reads the roles of the token a 403 answered (its audience tells the surface).
    pub fn from_token(token: &str, cmdlet: &str) -> RoleHint {
        let Some(claims) = claims::decode(token) else {
            return RoleHint::Unreadable;
        };
        let surface = if claims.audience.contains("compliance") {
            Surface::Compliance
        } else {
            Surface::Exchange
        };
        let best = claims
            .directory_roles
            .iter()
            .map(|role| access(role, surface))
            .max()
            .unwrap_or(Access::None);
        let needed = if is_mutating(cmdlet) {
            Access::Write
        } else {
            Access::Read
        };
        let roles = || {
            claims
                .directory_roles
                .iter()
                .filter(|role| access(role, surface) >= needed.min(best))
                .cloned()
                .collect::<Vec<_>>()
        };
        if best == Access::None {
            RoleHint::NoRole { surface }
        } else if best < needed {
            RoleHint::ReadOnly {
                surface,
                roles: roles(),
            }
        } else {
            let catalogue = Catalogue::get();
            let suggestions = match catalogue.cmdlet(cmdlet) {
                Some(_) => Vec::new(),
                None => catalogue
                    .closest_cmdlets(cmdlet)
                    .into_iter()
                    .map(String::from)
                    .collect(),
            };
            RoleHint::NoSuchCmdlet {
                surface,
                roles: roles(),
                suggestions,
            }
        }
    }
}

fn service(surface: Surface) -> &'static str {
    match surface {
        Surface::Exchange => "Exchange Online",
        Surface::Compliance => "Security & Compliance",
    }
}

fn writer_roles(surface: Surface) -> &'static str {
    match surface {
        Surface::Exchange => "Exchange Administrator or Exchange Recipient Administrator",
        Surface::Compliance => "Compliance Administrator",
    }
}

/// "role X" or "roles X and Y".
fn role_list(roles: &[String]) -> String {
    match roles {
        [one] => format!("role {one}"),
        [first @ .., last] => format!("roles {} and {last}", first.join(", ")),
        [] => "roles".into(),
    }
}

/// The rest of the sentence after "<cmdlet> was refused (…)", with the fix; `cmdlet` is the
/// refused cmdlet.
pub struct Explained<'a> {
    /// The refused cmdlet.
    pub cmdlet: &'a str,
    /// What the token said.
    pub hint: &'a RoleHint,
}

impl fmt::Display for Explained<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cmdlet = self.cmdlet;
        match self.hint {
            RoleHint::Unreadable => write!(
                f,
                ": the app has no Exchange role that allows {cmdlet}, or the cmdlet does not exist\n  fix: check the cmdlet's name; assign the app a directory role such as Exchange Administrator, Exchange Recipient Administrator (recipients) or Global Reader (read-only) — Compliance Administrator for Security & Compliance cmdlets — in Entra ID > Roles and administrators, then reconnect"
            ),
            RoleHint::NoRole { surface } => write!(
                f,
                ": the app's token carries no directory role that works with {}\n  fix: assign the app a directory role in Entra ID > Roles and administrators ({} to change things, Global Reader to only read), then reconnect",
                service(*surface),
                writer_roles(*surface)
            ),
            RoleHint::ReadOnly { surface, roles } => write!(
                f,
                ": {cmdlet} changes things and the app's {} only read{}\n  fix: assign the app {} in Entra ID > Roles and administrators (then reconnect), or run a cmdlet that only reads",
                role_list(roles),
                if roles.len() == 1 { "s" } else { "" },
                writer_roles(*surface)
            ),
            RoleHint::NoSuchCmdlet {
                surface,
                roles,
                suggestions,
            } => {
                write!(
                    f,
                    ": the app's {} allow{} such cmdlets, so {cmdlet} most likely does not exist in {} (or is not available to apps)",
                    role_list(roles),
                    if roles.len() == 1 { "s" } else { "" },
                    service(*surface)
                )?;
                match suggestions.as_slice() {
                    [] => write!(f, "\n  fix: check the cmdlet's name"),
                    names => write!(
                        f,
                        "\n  fix: check the cmdlet's name: did you mean {}?",
                        names.join(", ")
                    ),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    use super::*;

    fn token(aud: &str, wids: &[&str]) -> String {
        let claims =
            serde_json::json!({"aud": aud, "wids": wids, "roles": ["Exchange.ManageAsApp"]});
        format!(
            "e30.{}.sig",
            URL_SAFE_NO_PAD.encode(claims.to_string().as_bytes())
        )
    }

    const EXCHANGE: &str = "https://outlook.office365.com";
    const ADMIN: &str = "29232cdf-9323-42fd-ade2-1d097af3e4de";
    const READER: &str = "f2ef992c-3afb-46b9-b7cf-a126ee74c451";

    fn explain(token: &str, cmdlet: &str) -> String {
        let hint = RoleHint::from_token(token, cmdlet);
        format!(
            "{cmdlet} was refused{}",
            Explained {
                cmdlet,
                hint: &hint
            }
        )
    }

    #[test]
    fn an_admin_refused_is_told_the_cmdlet_does_not_exist_with_the_closest_names() {
        let text = explain(&token(EXCHANGE, &[ADMIN]), "Get-Mailboxx");
        assert_eq!(
            text,
            "Get-Mailboxx was refused: the app's role Exchange Administrator allows such cmdlets, so Get-Mailboxx most likely does not exist in Exchange Online (or is not available to apps)\n  fix: check the cmdlet's name: did you mean Get-Mailbox?"
        );
    }

    #[test]
    fn a_reader_changing_something_is_told_its_role_only_reads() {
        let text = explain(&token(EXCHANGE, &[READER]), "Set-Mailbox");
        assert!(
            text.starts_with("Set-Mailbox was refused: Set-Mailbox changes things and the app's role Global Reader only reads"),
            "{text}"
        );
        assert!(
            text.contains(
                "assign the app Exchange Administrator or Exchange Recipient Administrator"
            ),
            "{text}"
        );
        assert!(!text.contains("or Global Reader"), "{text}");
    }

    #[test]
    fn no_role_and_unreadable_tokens_keep_the_general_advice() {
        let text = explain(
            &token(EXCHANGE, &["0997a1d0-0d1d-4acb-b408-d5ca73121e90"]),
            "Get-Mailbox",
        );
        assert!(
            text.contains("carries no directory role that works with Exchange Online"),
            "{text}"
        );
        let text = explain(
            &token("https://ps.compliance.protection.outlook.com", &[ADMIN]),
            "Get-ComplianceSearch",
        );
        assert!(
            text.contains("no directory role that works with Security & Compliance"),
            "{text}"
        );
        assert!(text.contains("Compliance Administrator"), "{text}");
        assert_eq!(
            RoleHint::from_token("opaque", "Get-Mailbox"),
            RoleHint::Unreadable
        );
    }
}
