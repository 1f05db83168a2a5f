//! Reading the service's error bodies (docs/protocol.md §2.4–§2.5): OData envelopes whose useful text
//! hides in `details` or `innererror`, and bodies that are NUL bytes, HTML or nothing at all,
//! which are described rather than refused.

use std::fmt;

use serde_json::Value;

/// What the service said about a failure: the human text and, when the envelope has them, the
/// .NET exception type and Exchange's error id; plus the ids Microsoft support asks for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServiceMessage {
    /// The human text (or a description of a body that had none).
    pub text: String,
    /// The .NET exception type, e.g. `…ManagementObjectNotFoundException`.
    pub exception: Option<String>,
    /// Exchange's error id, e.g. `Ex6F9304`.
    pub error_id: Option<String>,
    /// The service's `request-id` response header.
    pub request_id: Option<String>,
    /// The `client-request-id` this client sent.
    pub client_request_id: Option<String>,
}

impl fmt::Display for ServiceMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// The longest stretch of a non-JSON body quoted in a message.
const QUOTE_LIMIT: usize = 300;

impl ServiceMessage {
    /// Reads an error body. In the OData envelope the text is `details[0].message`
    /// (`ErrorId|Type|text`), else `innererror.internalexception.message`, else `error.message`
    /// (the module's order). Anything else — NUL bytes, HTML, plain text, nothing — is described
    /// rather than refused.
    pub fn from_body(status: u16, body: &[u8]) -> ServiceMessage {
        serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|json| from_envelope(&json))
            .unwrap_or_else(|| ServiceMessage {
                text: describe_body(status, body),
                ..ServiceMessage::default()
            })
    }
}

fn non_empty(value: Option<&Value>) -> Option<&str> {
    value
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

fn from_envelope(json: &Value) -> Option<ServiceMessage> {
    let error = json.get("error")?;
    if let Some(detail) = non_empty(error.pointer("/details/0/message")) {
        let parts: Vec<&str> = detail.splitn(3, '|').collect();
        return Some(match parts.as_slice() {
            [id, exception, text] => ServiceMessage {
                text: text.trim().to_string(),
                exception: Some(exception.trim().to_string()).filter(|e| !e.is_empty()),
                error_id: Some(id.trim().to_string()).filter(|i| !i.is_empty()),
                ..ServiceMessage::default()
            },
            _ => ServiceMessage {
                text: detail.to_string(),
                ..ServiceMessage::default()
            },
        });
    }
    if let Some(inner) = non_empty(error.pointer("/innererror/internalexception/message")) {
        return Some(ServiceMessage {
            text: inner.to_string(),
            exception: innermost_type(error.pointer("/innererror/internalexception")),
            ..ServiceMessage::default()
        });
    }
    non_empty(error.get("message")).map(|text| ServiceMessage {
        text: text.to_string(),
        error_id: non_empty(error.get("code")).map(str::to_string),
        ..ServiceMessage::default()
    })
}

/// The type of the innermost `internalexception`: the outer ones are wrappers
/// (`DirectInvokeCmdletExecutionException`), the inner one says what went wrong.
fn innermost_type(mut exception: Option<&Value>) -> Option<String> {
    let mut found = None;
    while let Some(current) = exception {
        found = non_empty(current.get("type")).or(found);
        exception = current.get("internalexception");
    }
    found.map(str::to_string)
}

/// Describes a body that is not an error envelope, e.g. "HTTP 403 with an empty body".
fn describe_body(status: u16, body: &[u8]) -> String {
    if body.iter().all(u8::is_ascii_whitespace) {
        return format!("HTTP {status} with an empty body");
    }
    if body.iter().all(|&b| b == 0) {
        return format!(
            "HTTP {status} with an empty body ({} NUL bytes)",
            body.len()
        );
    }
    let text = String::from_utf8_lossy(body);
    let words = without_tags(&text)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let printable = words
        .chars()
        .filter(|c| !c.is_control() && *c != char::REPLACEMENT_CHARACTER)
        .count();
    if printable * 2 < words.chars().count() || words.is_empty() {
        return format!(
            "HTTP {status} with a body that is not text ({} bytes)",
            body.len()
        );
    }
    let mut quoted: String = words.chars().take(QUOTE_LIMIT).collect();
    if quoted.len() < words.len() {
        quoted.push('…');
    }
    format!("HTTP {status}: {quoted}")
}

/// Text with `<…>` markup removed (error pages from proxies and the front door are HTML).
fn without_tags(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_tag = false;
    for c in text.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                out.push(' ');
            }
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parse(status: u16, body: &Value) -> ServiceMessage {
        ServiceMessage::from_body(status, body.to_string().as_bytes())
    }

    #[test]
    fn details_message_is_split_into_id_type_and_text() {
        let m = parse(
            404,
            &json!({"error": {"code": "NotFound", "message": "Error executing cmdlet",
                "details": [{"code": "Client", "target": "", "message": "Ex6F9304|Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException|The operation couldn't be performed because object 'nobody' couldn't be found on 'DC01'."}],
                "innererror": {"internalexception": {"message": "ignored", "type": "X"}}}}),
        );
        assert_eq!(
            m.text,
            "The operation couldn't be performed because object 'nobody' couldn't be found on 'DC01'."
        );
        assert_eq!(m.error_id.as_deref(), Some("Ex6F9304"));
        assert!(
            m.exception
                .unwrap()
                .ends_with("ManagementObjectNotFoundException")
        );
    }

    #[test]
    fn empty_error_id_and_pipes_in_text_are_kept_apart() {
        let m = parse(
            400,
            &json!({"error": {"details": [{"message": "|Some.Exception|a|b text"}]}}),
        );
        assert_eq!(
            (m.error_id, m.exception.as_deref(), m.text.as_str()),
            (None, Some("Some.Exception"), "a|b text")
        );
        let m = parse(
            400,
            &json!({"error": {"details": [{"message": "no pipes here"}]}}),
        );
        assert_eq!((m.text.as_str(), m.exception), ("no pipes here", None));
    }

    #[test]
    fn innererror_only_envelope() {
        let m = parse(
            400,
            &json!({"error": {"code": "BadRequest", "message": "Invalid Operation", "details": [],
                "innererror": {"message": "Invalid Operation", "internalexception": {
                    "message": "Cannot process argument transformation on parameter 'Type'.",
                    "type": "Microsoft.Exchange.Management.PSDirectInvoke.DirectInvokeCmdletExecutionException",
                    "internalexception": {
                        "message": "Cannot process argument transformation on parameter 'Type'.",
                        "type": "Microsoft.Exchange.Management.AdminApiProvider.ParameterTransformationException",
                        "internalexception": {"message": "innermost without a type"}}}}}}),
        );
        assert_eq!(
            m.text,
            "Cannot process argument transformation on parameter 'Type'."
        );
        assert!(
            m.exception
                .unwrap()
                .ends_with("ParameterTransformationException")
        );
    }

    #[test]
    fn generic_message_is_the_last_resort() {
        let m = parse(
            500,
            &json!({"error": {"code": "InternalServerError", "message": "Boom"}}),
        );
        assert_eq!(
            (m.text.as_str(), m.error_id.as_deref()),
            ("Boom", Some("InternalServerError"))
        );
    }

    #[test]
    fn bodies_that_are_not_envelopes_are_described() {
        assert_eq!(
            ServiceMessage::from_body(403, &[0; 8]).text,
            "HTTP 403 with an empty body (8 NUL bytes)"
        );
        assert_eq!(
            ServiceMessage::from_body(403, b"").text,
            "HTTP 403 with an empty body"
        );
        assert_eq!(
            ServiceMessage::from_body(
                503,
                b"<html><body><h1>503 Service Unavailable</h1></body></html>"
            )
            .text,
            "HTTP 503: 503 Service Unavailable"
        );
        assert_eq!(
            ServiceMessage::from_body(
                429,
                b"You have reached the maximum number of concurrent requests per tenant."
            )
            .text,
            "HTTP 429: You have reached the maximum number of concurrent requests per tenant."
        );
        assert_eq!(
            ServiceMessage::from_body(502, &[0x1f, 0x8b, 0x08, 0x00, 0xff, 0xfe, 0x01, 0x02]).text,
            "HTTP 502 with a body that is not text (8 bytes)"
        );
        assert_eq!(
            ServiceMessage::from_body(500, br#"{"unexpected": true}"#).text,
            r#"HTTP 500: {"unexpected": true}"#
        );
        let long = "x".repeat(1000);
        let text = ServiceMessage::from_body(500, long.as_bytes()).text;
        assert!(text.ends_with('…') && text.len() < 320, "{text}");
    }
}
