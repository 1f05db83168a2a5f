//! The service's OpenAPI document: generated from the code, it lists every route the service
//! serves and passes an independent validator (the `openapi-spec-validator` Python package).

use std::collections::BTreeSet;
use std::io::Write as _;
use std::process::{Command, Stdio};

use crate::serve::{Service, configure, helpdesk_rule};
use crate::support::start;

#[tokio::test(flavor = "multi_thread")]
async fn the_openapi_document_lists_every_route_and_is_valid() {
    let sim = start().await;
    configure(&sim, &["auto-reply"], &helpdesk_rule());
    let service = Service::start(&sim);
    let text = service.text("/api/v1/openapi.json").await;
    let document: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert!(
        document["openapi"].as_str().unwrap().starts_with("3.1"),
        "{document}"
    );
    let paths: BTreeSet<&str> = document["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let served = [
        "/healthz",
        "/readyz",
        "/metrics",
        "/api/v1/openapi.json",
        "/api/v1/me",
        "/api/v1/plugins",
        "/api/v1/workflows",
        "/api/v1/runs",
        "/api/v1/runs/{id}",
        "/api/v1/runs/{id}/records",
        "/api/v1/runs/{id}/report",
        "/api/v1/runs/{id}/events",
        "/api/v1/runs/{id}/cancel",
        "/api/v1/runs/{id}/resume",
        "/api/v1/runs/{id}/approve",
        "/api/v1/runs/{id}/reject",
        "/api/v1/approvals",
        "/api/v1/audit",
        "/api/v1/schedules",
    ];
    assert_eq!(paths, served.into_iter().collect(), "{document:#}");
    // Every documented route answers (with data or a problem), none with the fallback's 404.
    for path in served {
        let path = path.replace("{id}", "00000000-0000-0000-0000-000000000000");
        let (status, body) = service.get(&path).await;
        assert!(
            body["detail"]
                .as_str()
                .is_none_or(|d| !d.starts_with("no such endpoint")),
            "{path}: {status} {body}"
        );
    }
    assert_eq!(
        document["paths"]["/api/v1/runs"]["post"]["requestBody"]["content"]["application/json"]["schema"]
            ["$ref"],
        "#/components/schemas/SubmitBody"
    );
    assert_eq!(
        document["components"]["securitySchemes"]["entra_token"]["scheme"],
        "bearer"
    );

    let mut validator = Command::new("python3")
        .args([
            "-c",
            "import json, sys\nfrom openapi_spec_validator import validate\nvalidate(json.load(sys.stdin))\nprint('valid')",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    validator
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = validator.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the OpenAPI document does not validate: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
