//! Reading one InvokeCommand response: a page, a redirect, a refused token, something worth
//! trying again (throttling, an unavailable service, a body that broke off), or a final error
//! (docs/protocol.md §2.1–§2.6).

use std::time::Duration;

use bytes::Bytes;
use bytestring::ByteString;
use reqwest::Url;
use reqwest::header::{HeaderMap, LOCATION, RETRY_AFTER};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use serde_json::value::RawValue;

use super::Page;
use super::endpoint::resolve_location;
use super::error::{ExchangeError, diagnostics_reason};
use super::query::RawRow;
use super::retry::Failure;
use super::role_hint::RoleHint;
use super::service_message::ServiceMessage;
use crate::secret::Secret;

/// The plain-text 429 body of the per-tenant concurrency limit (also seen with other statuses).
const CONCURRENCY_TEXT: &[u8] = b"maximum number of concurrent requests per tenant";

/// A page (rows of type `R`) and the link to the next one.
pub struct Fetched<R> {
    /// The HTTP status it came with.
    pub status: u16,
    /// The page.
    pub page: Page<R>,
    /// `@odata.nextLink`, when more pages follow.
    pub next_link: Option<String>,
}

/// How one try ended.
pub enum Outcome<R> {
    /// A page.
    Page(Fetched<R>),
    /// Go to `location` and send the same request there.
    Redirect {
        /// The 3xx status.
        status: u16,
        /// Where to.
        location: Url,
    },
    /// 401: `token` was refused, for the `x-ms-diagnostics` reason.
    Rejected {
        /// The refused token.
        token: Secret,
        /// Why, if the service said.
        reason: Option<String>,
    },
    /// Worth trying again.
    Retry(Failure),
}

/// The success envelope, read leniently (docs/protocol.md §2.1).
#[derive(Deserialize)]
#[serde(bound = "R: DeserializeOwned")]
pub struct Envelope<R> {
    #[serde(default = "Vec::new")]
    value: Vec<R>,
    #[serde(default, rename = "@adminapi.warnings")]
    warnings: Option<Vec<Value>>,
    #[serde(default, rename = "@odata.nextLink")]
    next_link: Option<String>,
}

/// How one page's rows are read from the body: parsed ([`Value`]), or kept as the service's text
/// inside the page ([`RawRow`]).
pub trait PageRow: Sized {
    /// Reads the envelope of a 2xx body.
    fn envelope(body: &Bytes) -> serde_json::Result<Envelope<Self>>;
}

impl PageRow for Value {
    fn envelope(body: &Bytes) -> serde_json::Result<Envelope<Value>> {
        serde_json::from_slice(body)
    }
}

impl PageRow for RawRow {
    /// The body is checked and kept as it came (no copy); each row is a range of it.
    fn envelope(body: &Bytes) -> serde_json::Result<Envelope<RawRow>> {
        let text = ByteString::try_from(body.clone())
            .map_err(<serde_json::Error as serde::de::Error>::custom)?;
        let borrowed: BorrowedEnvelope<'_> = serde_json::from_str(&text)?;
        let base = text.as_ptr() as usize;
        let value = borrowed
            .value
            .iter()
            .map(|row| {
                let start = row.get().as_ptr() as usize - base;
                RawRow::new(text.clone(), start..start + row.get().len())
            })
            .collect();
        Ok(Envelope {
            value,
            warnings: borrowed.warnings,
            next_link: borrowed.next_link,
        })
    }
}

/// [`Envelope`] with its rows left in the body's text.
#[derive(Deserialize)]
struct BorrowedEnvelope<'a> {
    #[serde(default, borrow)]
    value: Vec<&'a RawValue>,
    #[serde(default, rename = "@adminapi.warnings")]
    warnings: Option<Vec<Value>>,
    #[serde(default, rename = "@odata.nextLink")]
    next_link: Option<String>,
}

/// A complete HTTP response to one try.
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// Response headers.
    pub headers: HeaderMap,
    /// The whole body.
    pub body: Bytes,
    /// The `client-request-id` the request carried.
    pub client_request_id: String,
}

impl Reply {
    fn header(&self, name: impl reqwest::header::AsHeaderName) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn message(&self) -> Box<ServiceMessage> {
        Box::new(ServiceMessage {
            request_id: self.header("request-id").map(str::to_string),
            client_request_id: Some(self.client_request_id.clone()),
            ..ServiceMessage::from_body(self.status, &self.body)
        })
    }

    /// Decides what the response means (docs/protocol.md §2.4–§2.6).
    pub fn classify<R: PageRow>(
        self,
        cmdlet: &str,
        url: &str,
        token: Secret,
    ) -> Result<Outcome<R>, ExchangeError> {
        let cmdlet = cmdlet.to_string();
        let status = self.status;
        match status {
            200..=299 => Ok(self.page()),
            301 | 302 | 307 | 308 => match self
                .headers
                .get(LOCATION)
                .and_then(|l| resolve_location(url, l))
            {
                Some(location) => Ok(Outcome::Redirect { status, location }),
                None => {
                    let mut message = self.message();
                    message.text = format!("HTTP {status} without a usable Location header");
                    Err(ExchangeError::Service { status, message })
                }
            },
            401 => Ok(Outcome::Rejected {
                token,
                reason: self.header("x-ms-diagnostics").and_then(diagnostics_reason),
            }),
            _ if status == 429 || contains_ignore_case(&self.body, CONCURRENCY_TEXT) => {
                Ok(Outcome::Retry(Failure::Throttled {
                    retry_after: self.header(RETRY_AFTER).and_then(parse_retry_after),
                }))
            }
            502..=504 => Ok(Outcome::Retry(Failure::Unavailable {
                status,
                message: self.message(),
            })),
            400 => Err(ExchangeError::InvalidParameter {
                cmdlet,
                message: self.message(),
            }),
            403 => Err(ExchangeError::NoRole {
                hint: RoleHint::from_token(token.expose(), &cmdlet),
                cmdlet,
                message: self.message(),
            }),
            404 => Err(ExchangeError::NotFound {
                cmdlet,
                message: self.message(),
            }),
            _ => Err(ExchangeError::Service {
                status,
                message: self.message(),
            }),
        }
    }

    /// A 2xx body as a page (an empty body is an empty page); one that is not a whole
    /// envelope was most likely cut short.
    fn page<R: PageRow>(self) -> Outcome<R> {
        let parsed = if self.body.iter().all(u8::is_ascii_whitespace) {
            Ok(Envelope {
                value: Vec::new(),
                warnings: None,
                next_link: None,
            })
        } else {
            R::envelope(&self.body)
        };
        let Ok(envelope) = parsed else {
            return Outcome::Retry(Failure::Broken {
                reason: format!(
                    "the HTTP {} response is not a complete InvokeCommand reply ({} bytes)",
                    self.status,
                    self.body.len()
                ),
                sent: true,
            });
        };
        let warnings = envelope
            .warnings
            .unwrap_or_default()
            .into_iter()
            .map(|w| match w {
                Value::String(text) => text,
                other => other.to_string(),
            })
            .collect();
        Outcome::Page(Fetched {
            status: self.status,
            page: Page {
                rows: envelope.value,
                warnings,
                request_id: self.header("request-id").map(str::to_string),
                client_request_id: self.client_request_id,
            },
            next_link: envelope.next_link,
        })
    }
}

fn contains_ignore_case(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

/// `Retry-After` as seconds (fractions allowed, as the module reads it) or an HTTP date.
fn parse_retry_after(text: &str) -> Option<Duration> {
    let text = text.trim();
    if let Ok(seconds) = text.parse::<f64>() {
        return Duration::try_from_secs_f64(seconds).ok();
    }
    let at = chrono::DateTime::parse_from_rfc2822(text).ok()?;
    let wait = at.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(wait.to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_is_seconds_or_a_date() {
        assert_eq!(parse_retry_after("0.2"), Some(Duration::from_millis(200)));
        assert_eq!(parse_retry_after(" 3 "), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after("-1"), None);
        assert_eq!(parse_retry_after("NaN"), None);
        assert_eq!(parse_retry_after("soon"), None);
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(Duration::ZERO),
            "a date in the past means now"
        );
        let later = (chrono::Utc::now() + chrono::Duration::seconds(30)).to_rfc2822();
        let wait = parse_retry_after(&later).unwrap();
        assert!(
            wait > Duration::from_secs(25) && wait <= Duration::from_secs(30),
            "{wait:?}"
        );
    }

    #[test]
    fn concurrency_text_is_found_in_any_case() {
        assert!(contains_ignore_case(
            b"You have reached the Maximum Number of Concurrent Requests per Tenant. Please wait",
            CONCURRENCY_TEXT
        ));
        assert!(!contains_ignore_case(b"short", CONCURRENCY_TEXT));
    }

    fn reply(status: u16, headers: &[(&'static str, &'static str)], body: &[u8]) -> Reply {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.insert(*name, reqwest::header::HeaderValue::from_static(value));
        }
        Reply {
            status,
            headers: map,
            body: Bytes::copy_from_slice(body),
            client_request_id: "crid".into(),
        }
    }

    fn classify(reply: Reply) -> Result<Outcome<Value>, ExchangeError> {
        reply.classify(
            "Get-Mailbox",
            "https://h.example.com/a/InvokeCommand",
            Secret::new("t"),
        )
    }

    #[test]
    fn responses_are_classified() {
        let page = br#"{"value":[{"a":1}],"@adminapi.warnings":["w"],"@odata.nextLink":"https://h.example.com/n"}"#;
        let Ok(Outcome::Page(f)) = classify(reply(200, &[("request-id", "rid")], page)) else {
            panic!("page")
        };
        assert_eq!((f.page.rows.len(), f.page.warnings[0].as_str()), (1, "w"));
        assert_eq!(f.page.request_id.as_deref(), Some("rid"));
        assert_eq!(f.next_link.as_deref(), Some("https://h.example.com/n"));

        let Ok(Outcome::Page(f)) = classify(reply(200, &[], b"")) else {
            panic!("empty page")
        };
        assert!(f.page.rows.is_empty() && f.next_link.is_none());

        let cut = classify(reply(200, &[], &page[..40]));
        assert!(matches!(
            cut,
            Ok(Outcome::Retry(Failure::Broken { sent: true, .. }))
        ));

        let moved = classify(reply(302, &[("location", "/b/InvokeCommand")], b""));
        let Ok(Outcome::Redirect { location, .. }) = moved else {
            panic!("redirect")
        };
        assert_eq!(location.as_str(), "https://h.example.com/b/InvokeCommand");
        assert!(matches!(
            classify(reply(307, &[], b"")),
            Err(ExchangeError::Service { status: 307, .. })
        ));

        let refused = classify(reply(
            401,
            &[("x-ms-diagnostics", r#"2000003;reason="expired";x="y""#)],
            b"",
        ));
        let Ok(Outcome::Rejected { reason, .. }) = refused else {
            panic!("401")
        };
        assert_eq!(reason.as_deref(), Some("expired"));

        let throttled = classify(reply(429, &[("retry-after", "0.2")], b"{}"));
        assert!(
            matches!(throttled, Ok(Outcome::Retry(Failure::Throttled { retry_after: Some(d) })) if d == Duration::from_millis(200))
        );
        let busy = classify(reply(
            500,
            &[],
            b"You have reached the maximum number of concurrent requests per tenant.",
        ));
        assert!(matches!(
            busy,
            Ok(Outcome::Retry(Failure::Throttled { retry_after: None }))
        ));
        let html = classify(reply(
            503,
            &[],
            b"<html><h1>503 Service Unavailable</h1></html>",
        ));
        let Ok(Outcome::Retry(Failure::Unavailable {
            status: 503,
            message,
        })) = html
        else {
            panic!("503")
        };
        assert_eq!(message.text, "HTTP 503: 503 Service Unavailable");
        assert_eq!(message.client_request_id.as_deref(), Some("crid"));

        assert!(matches!(
            classify(reply(400, &[], b"{}")),
            Err(ExchangeError::InvalidParameter { .. })
        ));
        assert!(matches!(
            classify(reply(403, &[], &[0; 8])),
            Err(ExchangeError::NoRole { .. })
        ));
        assert!(matches!(
            classify(reply(404, &[], b"")),
            Err(ExchangeError::NotFound { .. })
        ));
        assert!(matches!(
            classify(reply(500, &[], b"boom")),
            Err(ExchangeError::Service { status: 500, .. })
        ));
    }

    #[test]
    fn raw_rows_are_the_service_text_inside_the_page() {
        let body = br##"{"@odata.context":"c","adminapi.warnings@odata.type":"#Collection(String)","@adminapi.warnings":["w"],"value":[ {"A" : 1} ,{"B":"\u00e9"}],"@odata.nextLink":"https://h.example.com/next"}"##;
        let envelope = <RawRow as PageRow>::envelope(&Bytes::from_static(body)).unwrap();
        let rows: Vec<&str> = envelope.value.iter().map(RawRow::get).collect();
        assert_eq!(rows, [r#"{"A" : 1}"#, r#"{"B":"\u00e9"}"#]);
        assert_eq!(envelope.warnings, Some(vec![Value::from("w")]));
        assert_eq!(
            envelope.next_link.as_deref(),
            Some("https://h.example.com/next")
        );
        assert!(<RawRow as PageRow>::envelope(&Bytes::from_static(&body[..60])).is_err());
        assert!(
            <RawRow as PageRow>::envelope(&Bytes::from_static(b"{\"value\":[\"\xff\"]}")).is_err()
        );
    }
}
