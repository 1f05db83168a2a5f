//! Why a caller's token was refused, in words the caller can act on, and the RFC 6750
//! challenge that carries the reason back. No variant holds the token or its signature; the
//! values it does hold (an audience, an issuer, a key id) are shown cut short and stripped of
//! control characters, because they come from whoever sent the token.

use std::fmt;

/// The challenge for a request that presented no token (RFC 6750 §3: no error code then).
pub const CHALLENGE: &str = "Bearer realm=\"exorun\"";

/// Why a token was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenRefusal {
    /// Not a compact JWS (three base64url parts of JSON).
    #[error(
        "the bearer token is not a JWT ({problem}): send the access token Entra ID issued for this service, as `Authorization: Bearer <token>`"
    )]
    Malformed {
        /// What is wrong with its shape.
        problem: &'static str,
    },
    /// Signed with an algorithm other than RS256 (or not signed: `none`).
    #[error("the token is signed with algorithm {alg}: only RS256 is accepted")]
    Algorithm {
        /// The header's `alg`.
        alg: Shown,
    },
    /// The header names no key.
    #[error(
        "the token's header names no signing key (kid): Entra ID access tokens always do; get a new token from Entra ID"
    )]
    NoKeyId,
    /// The tenant's key set does not list the key, even after a refetch.
    #[error(
        "the token is signed with key {kid}, which the tenant's published signing keys do not list{refetch}: it was not issued by this tenant's Entra ID; get a new token for this service"
    )]
    UnknownKey {
        /// The header's `kid`.
        kid: Shown,
        /// How the keys were checked, e.g. " (refetched 3 s ago)".
        refetch: String,
    },
    /// The signature does not verify with the key the header names.
    #[error(
        "the token's signature does not verify with the tenant's key {kid}: the token was altered after it was issued, or forged; get a new token from Entra ID"
    )]
    Signature {
        /// The header's `kid`.
        kid: Shown,
    },
    /// A v1.0 token where v2.0 is configured, or the other way round.
    #[error(
        "the token is a version {found} token; this service accepts version {expected} tokens only (the API app's accessTokenAcceptedVersion decides which version Entra ID issues): ask the service's operator"
    )]
    Version {
        /// The token's `ver`.
        found: Shown,
        /// The configured version.
        expected: &'static str,
    },
    /// Issued by another tenant or authority.
    #[error(
        "the token was issued by {found}, this service accepts tokens issued by {expected}: get a token from the service's tenant"
    )]
    Issuer {
        /// The token's `iss`.
        found: Shown,
        /// The configured issuer.
        expected: String,
    },
    /// `tid` is another tenant.
    #[error(
        "the token is for tenant {found}, this service accepts tenant {expected}: get a token from the service's tenant"
    )]
    Tenant {
        /// The token's `tid`.
        found: Shown,
        /// The configured tenant.
        expected: String,
    },
    /// For another API.
    #[error(
        "the token is for audience {found}, this service is {expected}: ask Entra ID for a token for this service (scope {expected}/.default or its delegated scope)"
    )]
    Audience {
        /// The token's `aud`.
        found: Shown,
        /// The configured audience.
        expected: String,
    },
    /// Past `exp` (beyond the skew).
    #[error("the token expired at {at} (UTC): get a new one")]
    Expired {
        /// `exp`, as a UTC time.
        at: String,
    },
    /// Before `nbf` (beyond the skew).
    #[error(
        "the token is not valid before {from} (UTC): check this machine's clock and the caller's, or wait"
    )]
    NotYetValid {
        /// `nbf`, as a UTC time.
        from: String,
    },
    /// A claim the checks need is missing or of the wrong type.
    #[error(
        "the token's {claim} claim is missing or not {expected}: it is not an Entra ID access token for this service; get a new token"
    )]
    Claim {
        /// The claim.
        claim: &'static str,
        /// What it should be.
        expected: &'static str,
    },
    /// Claims that contradict each other (e.g. `idtyp: app` with delegated scopes).
    #[error("the token's claims contradict each other ({problem}): get a new token")]
    Contradiction {
        /// What contradicts what.
        problem: &'static str,
    },
    /// The tenant's keys could not be fetched: the service's problem, not the caller's.
    #[error(
        "cannot check the token: the tenant's signing keys could not be fetched from {url} ({reason}); the service's operator should check its network access to the authority, its [entra] authority and ca_file"
    )]
    KeysUnavailable {
        /// The URL tried.
        url: String,
        /// Why it failed.
        reason: String,
    },
}

impl TokenRefusal {
    /// True when the service, not the caller, is at fault ([`TokenRefusal::KeysUnavailable`]):
    /// answer 503, not 401.
    pub fn is_service_fault(&self) -> bool {
        matches!(self, TokenRefusal::KeysUnavailable { .. })
    }

    /// The `WWW-Authenticate` value for a 401 (RFC 6750 §3): `Bearer realm="exorun",
    /// error="invalid_token", error_description="…"`, the description being this refusal's
    /// text restricted to the characters the RFC allows there.
    pub fn www_authenticate(&self) -> String {
        format!(
            "{CHALLENGE}, error=\"invalid_token\", error_description=\"{}\"",
            description(&self.to_string())
        )
    }
}

/// Text restricted to RFC 6750's `error_description` characters (printable ASCII but `"` and
/// `\`), on one line, at most 400 characters.
fn description(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(400));
    for c in text.chars() {
        if out.len() >= 400 {
            break;
        }
        out.push(match c {
            '"' => '\'',
            '\\' => '/',
            '\n' | '\t' => ' ',
            ' '..='~' => c,
            _ => '?',
        });
    }
    out
}

/// A value taken from a token, as shown in a refusal: quoted, at most 80 characters, control
/// characters replaced.
#[derive(Clone, PartialEq, Eq)]
pub struct Shown(String);

impl Shown {
    /// Shows `value`.
    pub fn new(value: &str) -> Shown {
        let mut text: String = value
            .chars()
            .take(80)
            .map(|c| if c.is_control() { '?' } else { c })
            .collect();
        if value.chars().count() > 80 {
            text.push('…');
        }
        Shown(text)
    }
}

impl fmt::Display for Shown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "'{}'", self.0)
    }
}

impl fmt::Debug for Shown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_say_what_to_do() {
        let expired = TokenRefusal::Expired {
            at: "2026-12-07 15:00:00".into(),
        };
        assert_eq!(
            expired.to_string(),
            "the token expired at 2026-12-07 15:00:00 (UTC): get a new one"
        );
        assert!(!expired.is_service_fault());
        let audience = TokenRefusal::Audience {
            found: Shown::new("api://other"),
            expected: "api://exorun".into(),
        };
        assert_eq!(
            audience.to_string(),
            "the token is for audience 'api://other', this service is api://exorun: ask Entra ID for a token for this service (scope api://exorun/.default or its delegated scope)"
        );
        assert_eq!(
            TokenRefusal::Algorithm {
                alg: Shown::new("none")
            }
            .to_string(),
            "the token is signed with algorithm 'none': only RS256 is accepted"
        );
        assert!(
            TokenRefusal::KeysUnavailable {
                url: "https://x".into(),
                reason: "timed out".into()
            }
            .is_service_fault()
        );
    }

    #[test]
    fn the_challenge_carries_the_reason_without_quotes_or_control_characters() {
        let refusal = TokenRefusal::Audience {
            found: Shown::new("a\"b\\c\r\nd é"),
            expected: "x".into(),
        };
        let value = refusal.www_authenticate();
        assert_eq!(
            value,
            "Bearer realm=\"exorun\", error=\"invalid_token\", error_description=\"the token is for audience 'a'b/c??d ?', this service is x: ask Entra ID for a token for this service (scope x/.default or its delegated scope)\""
        );
        let inner = value
            .strip_prefix("Bearer realm=\"exorun\", error=\"invalid_token\", error_description=\"")
            .and_then(|v| v.strip_suffix('"'))
            .unwrap();
        assert!(
            inner
                .chars()
                .all(|c| matches!(c, ' '..='!' | '#'..='[' | ']'..='~'))
        );
    }

    #[test]
    fn shown_values_are_cut_short() {
        let long = "k".repeat(500);
        let shown = Shown::new(&long).to_string();
        assert_eq!(shown.chars().count(), 83);
        let refusal = TokenRefusal::UnknownKey {
            kid: Shown::new(&long),
            refetch: String::new(),
        };
        assert!(refusal.www_authenticate().len() < 500);
    }
}
