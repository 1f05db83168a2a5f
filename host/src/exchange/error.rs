//! What can go wrong talking to Exchange Online, as errors a plugin can act on and an admin can
//! fix.

use std::time::Duration;

use super::role_hint::{Explained, RoleHint};
use super::service_message::ServiceMessage;
use crate::auth::AuthError;

/// A failed cmdlet or request. Messages say what failed, why and what to do; they never hold
/// the access token.
#[derive(Debug, thiserror::Error)]
pub enum ExchangeError {
    /// HTTP 404: the object the cmdlet was pointed at does not exist.
    #[error(
        "{cmdlet}: {message}\n  fix: check the -Identity value (a name, alias, address or GUID of an object in this tenant)"
    )]
    NotFound {
        /// The cmdlet.
        cmdlet: String,
        /// What the service said.
        message: Box<ServiceMessage>,
    },
    /// HTTP 400: a parameter is unknown, missing or has a wrong value.
    #[error(
        "{cmdlet} refused its parameters: {message}\n  fix: check the parameter names and values against the cmdlet's documentation"
    )]
    InvalidParameter {
        /// The cmdlet.
        cmdlet: String,
        /// What the service said.
        message: Box<ServiceMessage>,
    },
    /// HTTP 400 to a next-page link: no parameters were sent, so it is the paging cursor that
    /// the service no longer has (Exchange keeps one for 30 minutes, docs/protocol.md §1.4).
    #[error(
        "{cmdlet}: the paging cursor expired before the next page was read ({message}): Exchange Online keeps a next-page link for 30 minutes\n  fix: run it again, and read the pages without long pauses: write them to a file (--output jsonl > rows.jsonl) and work on that, rather than pipe them into something slow"
    )]
    CursorExpired {
        /// The cmdlet.
        cmdlet: String,
        /// What the service said.
        message: Box<ServiceMessage>,
    },
    /// HTTP 401 even with a freshly issued token: consent or the token itself is wrong.
    #[error("Exchange Online refused the access token: {message}")]
    Unauthorized {
        /// The service's reason and the fix.
        message: String,
    },
    /// HTTP 403: the app's roles do not include the cmdlet, or the cmdlet does not exist; the
    /// token's roles tell which is likelier.
    #[error("{cmdlet} was refused ({message}){}", Explained { cmdlet, hint })]
    NoRole {
        /// The cmdlet.
        cmdlet: String,
        /// What the service said (usually only that the body was empty).
        message: Box<ServiceMessage>,
        /// What the token's roles say about it.
        hint: RoleHint,
    },
    /// Still throttled (HTTP 429) after every try.
    #[error(
        "Exchange Online is still throttling after {attempts} attempts{}\n  fix: lower max_concurrency, spread the work over a longer time, or run it later",
        last_wait(.retry_after)
    )]
    Throttled {
        /// Tries made.
        attempts: u32,
        /// The last `Retry-After` the service sent, if any.
        retry_after: Option<Duration>,
    },
    /// The connection failed or broke off, every try.
    #[error(
        "cannot talk to Exchange Online after {attempts} attempt(s): {reason}\n  fix: check the network, proxy and firewall towards the endpoint, then run it again"
    )]
    Transport {
        /// Tries made.
        attempts: u32,
        /// What went wrong the last time.
        reason: String,
    },
    /// The service's TLS certificate did not verify; trying again cannot help.
    #[error("cannot talk to Exchange Online: {reason}")]
    UntrustedServer {
        /// What did not verify, and the fix.
        reason: String,
    },
    /// Any other HTTP failure (5xx after every try, unexpected status, unreadable success body).
    #[error(
        "Exchange Online failed with HTTP {status}: {message}\n  fix: this is on the service side; run it again later"
    )]
    Service {
        /// HTTP status.
        status: u16,
        /// What the service said.
        message: Box<ServiceMessage>,
    },
    /// No token could be had.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// The service pointed somewhere the token must not go (another host or plain HTTP).
    #[error(
        "refused to send the request to {location}: it is not an HTTPS host of the configured service\n  fix: check exchange_url and compliance_url; if Microsoft moved the endpoint, update them"
    )]
    Redirect {
        /// Where the redirect or next-page link pointed.
        location: String,
    },
}

impl ExchangeError {
    /// The failure in a word, for metrics: `not-found`, `invalid-parameter`, `throttled`, …
    pub fn outcome(&self) -> &'static str {
        match self {
            ExchangeError::NotFound { .. } => "not-found",
            ExchangeError::InvalidParameter { .. } => "invalid-parameter",
            ExchangeError::CursorExpired { .. } => "cursor-expired",
            ExchangeError::Unauthorized { .. } => "unauthorized",
            ExchangeError::NoRole { .. } => "no-role",
            ExchangeError::Throttled { .. } => "throttled",
            ExchangeError::Transport { .. } => "transport-error",
            ExchangeError::UntrustedServer { .. } => "untrusted-server",
            ExchangeError::Service { .. } => "service-error",
            ExchangeError::Auth(_) => "sign-in-failed",
            ExchangeError::Redirect { .. } => "refused-redirect",
        }
    }

    /// The HTTP status the service last answered with, when the failure is its answer.
    pub fn status(&self) -> Option<u16> {
        match self {
            ExchangeError::InvalidParameter { .. } | ExchangeError::CursorExpired { .. } => {
                Some(400)
            }
            ExchangeError::Unauthorized { .. } => Some(401),
            ExchangeError::NoRole { .. } => Some(403),
            ExchangeError::NotFound { .. } => Some(404),
            ExchangeError::Throttled { .. } => Some(429),
            ExchangeError::Service { status, .. } => Some(*status),
            ExchangeError::Transport { .. }
            | ExchangeError::UntrustedServer { .. }
            | ExchangeError::Auth(_)
            | ExchangeError::Redirect { .. } => None,
        }
    }

    /// What the service said (with the request ids support asks for), when it said something.
    pub fn service_message(&self) -> Option<&ServiceMessage> {
        match self {
            ExchangeError::NotFound { message, .. }
            | ExchangeError::InvalidParameter { message, .. }
            | ExchangeError::CursorExpired { message, .. }
            | ExchangeError::NoRole { message, .. }
            | ExchangeError::Service { message, .. } => Some(message),
            _ => None,
        }
    }
}

fn last_wait(retry_after: &Option<Duration>) -> String {
    retry_after.map_or(String::new(), |d| {
        format!(" (it last asked to wait {:.1} s)", d.as_secs_f64())
    })
}

/// The `reason="…"` of an `x-ms-diagnostics` header (`2000003;reason="…";error_category="…"`).
pub fn diagnostics_reason(header: &str) -> Option<String> {
    let start = header.find("reason=\"")? + "reason=\"".len();
    let rest = &header[start..];
    let reason = rest.split('"').next()?.trim();
    (!reason.is_empty()).then(|| reason.to_string())
}

/// The text of [`ExchangeError::Unauthorized`] for a 401 with this `x-ms-diagnostics` reason.
pub fn unauthorized_message(reason: Option<&str>) -> String {
    match reason {
        Some(reason) if reason.contains("Exchange.ManageAsApp") => format!(
            "{reason}\n  fix: grant admin consent for the Exchange.ManageAsApp application permission (API: Office 365 Exchange Online) in Entra ID > App registrations > the app > API permissions, then run again"
        ),
        Some(reason) => format!(
            "a freshly issued token was refused too ({reason})\n  fix: check that the app belongs to this tenant and that the organization and endpoint settings are right"
        ),
        None => "a freshly issued token was refused too, and the service gave no reason\n  fix: check that the app belongs to this tenant and that the organization and endpoint settings are right".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diagnostics_reason_and_unauthorized_hint() {
        let header = r#"2000008;reason="The token does not contain the app role Exchange.ManageAsApp: grant admin consent.";error_category="insufficient_auth_strength""#;
        let reason = diagnostics_reason(header).unwrap();
        assert!(reason.starts_with("The token does not contain"));
        let message = unauthorized_message(Some(&reason));
        assert!(
            message.contains(
                "grant admin consent for the Exchange.ManageAsApp application permission"
            )
        );
        assert!(message.contains("Office 365 Exchange Online"));
        let other = unauthorized_message(
            diagnostics_reason(r#"2000003;reason="The token has expired.";x="y""#).as_deref(),
        );
        assert!(
            other.contains("freshly issued token was refused too (The token has expired.)"),
            "{other}"
        );
        assert!(diagnostics_reason("2000003;error_category=\"x\"").is_none());
        assert!(unauthorized_message(None).contains("gave no reason"));
    }

    #[test]
    fn errors_read_well() {
        let e = ExchangeError::Throttled {
            attempts: 6,
            retry_after: Some(Duration::from_millis(200)),
        };
        assert!(
            e.to_string().starts_with(
                "Exchange Online is still throttling after 6 attempts (it last asked to wait 0.2 s)"
            ),
            "{e}"
        );
        let e = ExchangeError::NoRole {
            cmdlet: "Get-Mailbox".into(),
            message: Box::new(ServiceMessage::from_body(403, &[0; 4])),
            hint: RoleHint::Unreadable,
        };
        let text = e.to_string();
        assert!(
            text.contains("the app has no Exchange role that allows Get-Mailbox"),
            "{text}"
        );
        assert!(
            text.contains("Entra ID > Roles and administrators, then reconnect"),
            "{text}"
        );
    }
}
