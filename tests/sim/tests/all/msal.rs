//! Python msal as an independent client (docs/protocol.md §6): certificate (PS256/x5c and RS256/x5t)
//! and secret credentials, the AADSTS error dict, and plain-requests paging.

use std::process::Command;

use serde_json::Value;

use crate::process::{arg, spawn};

#[test]
fn msal_gets_tokens_and_errors_from_the_emulator() {
    let dir = tempfile::tempdir().unwrap();
    let sim = spawn(&["--mailboxes", "1000", "--state-dir", arg(dir.path())]);
    let ready_file = dir.path().join("ready.json");
    std::fs::write(&ready_file, sim.ready.to_string()).unwrap();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/conformance/msal_conformance.py"
    );
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let output = Command::new(&python)
        .arg(script)
        .arg(&ready_file)
        .env_remove("REQUESTS_CA_BUNDLE")
        .env_remove("CURL_CA_BUNDLE")
        .output()
        .unwrap_or_else(|e| {
            panic!("{python} could not run ({e}); install Python 3 and `pip install msal==1.39.0`")
        });
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the msal conformance script failed (is msal installed? `pip install msal==1.39.0`):\n{stderr}"
    );
    let out: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(out["ps256_x5c"], true, "{out}");
    assert_eq!(out["cached_second_call"], true, "{out}");
    assert_eq!(out["rs256_x5t"], true, "{out}");
    assert_eq!(out["secret"], true, "{out}");
    let wrong = &out["wrong_certificate"];
    assert_eq!(wrong["error"], "invalid_client", "{wrong}");
    assert_eq!(wrong["error_codes"][0], 700027);
    assert!(
        wrong["error_description"]
            .as_str()
            .unwrap()
            .starts_with("AADSTS700027: ")
    );
    assert_eq!(out["unknown_app"]["error_codes"][0], 700016, "{out}");
    assert_eq!(out["mailboxes_paged"], 1000);
}
