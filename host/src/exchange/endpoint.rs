//! Where requests go, and where the bearer token may follow: the InvokeCommand URL of a base,
//! and the rule that decides whether a redirect or a next-page link stays within the service.
//!
//! Security & Compliance answers the first request with a redirect to the tenant's regional host
//! (`nam12b.ps.compliance.protection.outlook.com`); following it blindly would hand the token to
//! whatever host a `Location` header names, so only HTTPS hosts in the service's own domain are
//! accepted (docs/protocol.md §5).

use reqwest::Url;
use reqwest::header::HeaderValue;

/// The app-only routing hint the module sends, before `@<organization>` (docs/protocol.md §1.4).
const ANCHOR_MAILBOX: &str = "APP:SystemMailbox{bb558c35-97f1-4cb9-8ff7-d53741dc928c}";

/// Hosts that serve the same API under another name; observed: Exchange Online answers (and
/// links pages) from `outlook.office.com` as well as `outlook.office365.com` (docs/protocol.md §1.1).
const ALIASES: [(&str, &str); 1] = [("outlook.office365.com", "outlook.office.com")];

/// `{base}/adminapi/beta/{organization}/InvokeCommand`.
pub fn invoke_url(base: &str, organization: &str) -> String {
    format!(
        "{}/adminapi/beta/{}/InvokeCommand",
        base.trim_end_matches('/'),
        organization.trim()
    )
}

/// The `X-AnchorMailbox` header for app-only calls to `organization`.
pub fn anchor_mailbox(organization: &str) -> String {
    format!("{ANCHOR_MAILBOX}@{}", organization.trim())
}

/// Resolves a `Location` header against the URL that answered with it.
pub fn resolve_location(from: &str, location: &HeaderValue) -> Option<Url> {
    let text = location.to_str().ok()?.trim();
    Url::parse(from).ok()?.join(text).ok()
}

/// Whether the token of a request for `base` may be sent to `target`: `target` is HTTPS and its
/// host is the base's host, a known alias of it, or a subdomain of the base host's parent domain
/// (for `ps.compliance.protection.outlook.com`, any `*.compliance.protection.outlook.com`).
/// An IP-address base only matches itself.
pub fn within_service(base: &str, target: &Url) -> bool {
    let Some(base_host) = Url::parse(base).ok().as_ref().and_then(host_of) else {
        return false;
    };
    let Some(host) = host_of(target) else {
        return false;
    };
    if target.scheme() != "https" {
        return false;
    }
    if host.name == base_host.name {
        return true;
    }
    let pair = (base_host.name.as_str(), host.name.as_str());
    if ALIASES
        .iter()
        .any(|&(a, b)| pair == (a, b) || pair == (b, a))
    {
        return true;
    }
    if !base_host.is_domain || !host.is_domain {
        return false;
    }
    match base_host.name.split_once('.') {
        Some((_, parent)) if parent.contains('.') => host.name.ends_with(&format!(".{parent}")),
        _ => false,
    }
}

/// A URL host as the rule compares it.
struct Host {
    /// Lower-case host text, without a final dot.
    name: String,
    /// A DNS name rather than an IP address.
    is_domain: bool,
}

fn host_of(url: &Url) -> Option<Host> {
    let name = url.host_str()?.trim_end_matches('.').to_ascii_lowercase();
    let is_domain = !name.starts_with('[') && name.parse::<std::net::Ipv4Addr>().is_err();
    Some(Host { name, is_domain })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCC: &str = "https://ps.compliance.protection.outlook.com";

    fn ok(base: &str, target: &str) -> bool {
        within_service(base, &Url::parse(target).unwrap())
    }

    #[test]
    fn urls_and_anchor() {
        assert_eq!(
            invoke_url("https://outlook.office365.com/", "contoso.onmicrosoft.com"),
            "https://outlook.office365.com/adminapi/beta/contoso.onmicrosoft.com/InvokeCommand"
        );
        assert_eq!(
            invoke_url(
                "https://127.0.0.1:8443/compliance",
                "6f0b2c3e-1d4a-4b8e-9c7f-2a5d8e1b4c60"
            ),
            "https://127.0.0.1:8443/compliance/adminapi/beta/6f0b2c3e-1d4a-4b8e-9c7f-2a5d8e1b4c60/InvokeCommand"
        );
        assert_eq!(
            anchor_mailbox("contoso.onmicrosoft.com"),
            "APP:SystemMailbox{bb558c35-97f1-4cb9-8ff7-d53741dc928c}@contoso.onmicrosoft.com"
        );
    }

    #[test]
    fn regional_hosts_of_the_service_are_accepted() {
        assert!(ok(
            SCC,
            "https://nam12b.ps.compliance.protection.outlook.com/adminapi/beta/t/InvokeCommand"
        ));
        assert!(ok(
            SCC,
            "https://eur02b.compliance.protection.outlook.com/x"
        ));
        assert!(ok(SCC, "https://PS.Compliance.Protection.Outlook.com./x"));
        assert!(ok(
            SCC,
            "https://ps.compliance.protection.outlook.com:446/x"
        ));
        assert!(ok(
            "https://outlook.office365.com",
            "https://outlook.office.com/adminapi/beta/t/InvokeCommand?$skiptoken=1"
        ));
        assert!(ok(
            "https://outlook.office.com",
            "https://outlook.office365.com/x"
        ));
        assert!(ok(
            "https://127.0.0.1:9443/compliance",
            "https://127.0.0.1:9443/compliance/nam12b/adminapi/beta/t/InvokeCommand"
        ));
    }

    #[test]
    fn anything_else_is_refused() {
        assert!(
            !ok(SCC, "http://nam12b.ps.compliance.protection.outlook.com/x"),
            "plain HTTP"
        );
        assert!(!ok(SCC, "https://evil.example.com/x"));
        assert!(!ok(
            SCC,
            "https://compliance.protection.outlook.com.evil.com/x"
        ));
        assert!(
            !ok(SCC, "https://xcompliance.protection.outlook.com/x"),
            "not a subdomain"
        );
        assert!(
            !ok(SCC, "https://outlook.com/x"),
            "the grandparent is not enough"
        );
        assert!(
            !ok("https://contoso.com", "https://evil.com/x"),
            "a two-label base has no usable parent"
        );
        assert!(!ok("https://127.0.0.1:9443", "https://127.0.0.2:9443/x"));
        assert!(!ok("https://127.0.0.1", "https://0.0.1/x"));
        assert!(!ok("not a url", "https://x.y.z/"));
        assert!(!ok(
            "https://outlook.office365.com",
            "https://outlook.office.com.evil.net/x"
        ));
    }

    #[test]
    fn locations_resolve_against_the_request() {
        let from = "https://127.0.0.1:9443/compliance/adminapi/beta/t/InvokeCommand";
        let url = resolve_location(
            from,
            &HeaderValue::from_static("/compliance/nam12b/adminapi/beta/t/InvokeCommand"),
        )
        .unwrap();
        assert_eq!(
            url.as_str(),
            "https://127.0.0.1:9443/compliance/nam12b/adminapi/beta/t/InvokeCommand"
        );
        assert!(resolve_location("nonsense", &HeaderValue::from_static("/x")).is_none());
    }
}
