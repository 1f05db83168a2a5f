//! Entra ID's token-endpoint error responses (docs/protocol.md §4.5): the exact JSON shape, the
//! AADSTS code and text, and the HTTP status each comes with.

use serde_json::{Value, json};
use uuid::Uuid;

/// One AADSTS error, ready to be sent.
#[derive(Debug, Clone, PartialEq)]
pub struct AadError {
    /// HTTP status (400 or 401).
    pub status: u16,
    /// OAuth `error` code, e.g. `invalid_client`.
    pub error: &'static str,
    /// The AADSTS number.
    pub code: u32,
    /// The text after `AADSTS<code>: `.
    pub text: String,
}

impl AadError {
    fn new(status: u16, error: &'static str, code: u32, text: String) -> AadError {
        AadError {
            status,
            error,
            code,
            text,
        }
    }

    /// 90002: the tenant in the URL does not exist. `error` is `invalid_tenant` on discovery.
    pub fn tenant_not_found(tenant: &str, discovery: bool) -> AadError {
        AadError::new(
            400,
            if discovery {
                "invalid_tenant"
            } else {
                "invalid_request"
            },
            90002,
            format!(
                "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant."
            ),
        )
    }

    /// 700016: no app with this client id in the tenant (also what a display name gets).
    pub fn app_not_found(client_id: &str, tenant_name: &str) -> AadError {
        AadError::new(
            400,
            "unauthorized_client",
            700016,
            format!(
                "Application with identifier '{client_id}' was not found in the directory '{tenant_name}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant."
            ),
        )
    }

    /// 700027: the assertion's signature does not verify.
    pub fn bad_signature() -> AadError {
        AadError::new(
            401,
            "invalid_client",
            700027,
            "Client assertion failed signature validation.".into(),
        )
    }

    /// 700027: the assertion names a certificate that is not registered on the app.
    pub fn cert_not_registered(thumbprint: &str, client_id: &str) -> AadError {
        AadError::new(
            401,
            "invalid_client",
            700027,
            format!(
                "The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '{thumbprint}', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '{client_id}'. Review the documentation at https://docs.microsoft.com/en-us/graph/deployments to determine the corresponding service endpoint and https://docs.microsoft.com/en-us/graph/api/application-get?view=graph-rest-1.0&tabs=http to build a query request URL, such as 'https://graph.microsoft.com/beta/applications/{client_id}']"
            ),
        )
    }

    /// 700027: the registered certificate has expired (or is not yet valid).
    pub fn cert_expired(thumbprint: &str, start: &str, end: &str) -> AadError {
        AadError::new(
            401,
            "invalid_client",
            700027,
            format!(
                "Client assertion contains an invalid signature. [Reason - The key used is expired., Thumbprint of key used by client: '{thumbprint}', Found key 'Start={start}, End={end}']"
            ),
        )
    }

    /// 700024: the assertion is expired or not yet valid.
    pub fn assertion_time(now: &str, from: &str, to: &str) -> AadError {
        AadError::new(
            401,
            "invalid_client",
            700024,
            format!(
                "Client assertion is not within its valid time range. Current time: {now}, assertion valid from {from}, expiry time of assertion {to}. Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials ."
            ),
        )
    }

    /// 7000218: neither an assertion nor a secret was sent.
    pub fn missing_credential() -> AadError {
        AadError::new(
            401,
            "invalid_client",
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.".into(),
        )
    }

    /// 7000215: the secret is wrong.
    pub fn bad_secret(client_id: &str) -> AadError {
        AadError::new(
            401,
            "invalid_client",
            7000215,
            format!(
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{client_id}'."
            ),
        )
    }

    /// 7000222: every secret of the app has expired.
    pub fn secret_expired(client_id: &str) -> AadError {
        AadError::new(
            401,
            "invalid_client",
            7000222,
            format!(
                "The provided client secret keys for app '{client_id}' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds"
            ),
        )
    }

    /// 50048: `sub` differs from `iss` in the assertion.
    pub fn subject_mismatch() -> AadError {
        AadError::new(
            401,
            "invalid_client",
            50048,
            "Subject mismatches Issuer claim in the client assertion.".into(),
        )
    }

    /// 700021: the assertion's issuer is not the `client_id` sent.
    pub fn issuer_mismatch() -> AadError {
        AadError::new(
            401,
            "invalid_client",
            700021,
            "Client assertion application identifier doesn't match 'client_id' parameter. Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials .".into(),
        )
    }

    /// 50027: the assertion's `aud` is not this token endpoint ("does not match Realm issuer").
    pub fn wrong_audience(aud: &str, expected: &str) -> AadError {
        AadError::new(
            401,
            "invalid_client",
            50027,
            format!(
                "Client assertion audience claim does not match Realm issuer. The assertion's 'aud' is '{aud}'; it must be the token endpoint '{expected}'."
            ),
        )
    }

    /// 50027: the assertion is not a well-formed JWT.
    pub fn malformed_assertion(why: &str) -> AadError {
        AadError::new(
            400,
            "invalid_request",
            50027,
            format!("JWT token is invalid or is malformed. {why}"),
        )
    }

    /// 900144: a required form field is missing.
    pub fn missing_parameter(name: &str) -> AadError {
        AadError::new(
            400,
            "invalid_request",
            900144,
            format!("The request body must contain the following parameter: '{name}'."),
        )
    }

    /// 70003: a grant type other than client credentials.
    pub fn unsupported_grant(grant: &str) -> AadError {
        AadError::new(
            400,
            "unsupported_grant_type",
            70003,
            format!("The app requested an unsupported grant type '{grant}'."),
        )
    }

    /// 70011: the scope is not `<resource>/.default`.
    pub fn invalid_scope(scope: &str) -> AadError {
        AadError::new(
            400,
            "invalid_scope",
            70011,
            format!(
                "The provided request must include a 'scope' input parameter. The provided value for the input parameter 'scope' is not valid. The scope {scope} is not valid. The .default scope must be used with the client credentials flow."
            ),
        )
    }

    /// 700022: the scope names more than one resource.
    pub fn multiple_resources(scope: &str) -> AadError {
        AadError::new(
            400,
            "invalid_scope",
            700022,
            format!(
                "The provided value for the input parameter scope is not valid because it contains more than one resource. Scope {scope} is not valid."
            ),
        )
    }

    /// 500011: the resource is not known in the tenant.
    pub fn unknown_resource(resource: &str, tenant_name: &str) -> AadError {
        AadError::new(
            400,
            "invalid_resource",
            500011,
            format!(
                "The resource principal named {resource} was not found in the tenant named {tenant_name}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant."
            ),
        )
    }

    /// The `client_assertion_type` is not the JWT bearer type.
    pub fn unsupported_assertion_type(kind: &str) -> AadError {
        AadError::new(
            400,
            "invalid_request",
            700023,
            format!(
                "Client assertion type '{kind}' is not supported. Use 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'."
            ),
        )
    }

    /// The JSON body with fresh trace and correlation ids.
    pub fn body(&self, now: i64, correlation_id: Option<&str>) -> Value {
        let trace = Uuid::new_v4().to_string();
        let correlation = correlation_id
            .and_then(|c| Uuid::parse_str(c).ok())
            .unwrap_or_else(Uuid::new_v4)
            .to_string();
        let timestamp = crate::time::aad_timestamp(now);
        json!({
            "error": self.error,
            "error_description": format!(
                "AADSTS{}: {}\r\nTrace ID: {trace}\r\nCorrelation ID: {correlation}\r\nTimestamp: {timestamp}",
                self.code, self.text
            ),
            "error_codes": [self.code],
            "timestamp": timestamp,
            "trace_id": trace,
            "correlation_id": correlation,
            "error_uri": format!("https://login.microsoftonline.com/error?code={}", self.code),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_has_the_entra_shape() {
        let body = AadError::app_not_found("Payroll Sync", "contoso").body(1_767_225_600, None);
        assert_eq!(body["error"], "unauthorized_client");
        assert_eq!(body["error_codes"], json!([700016]));
        assert_eq!(body["timestamp"], "2026-01-01 00:00:00Z");
        let description = body["error_description"].as_str().unwrap();
        assert!(
            description.starts_with("AADSTS700016: Application with identifier 'Payroll Sync'")
        );
        assert!(description.contains("\r\nTrace ID: "));
        assert!(description.ends_with("Timestamp: 2026-01-01 00:00:00Z"));
        assert_eq!(
            body["error_uri"],
            "https://login.microsoftonline.com/error?code=700016"
        );
    }
}
