//! Admission through the library (`Policy::vet`, `workflow::admission::vet_step`): the checks
//! every front door relies on, with no CLI in between.

use std::path::Path;

use exorun::policy::{AdmissionError, Policy, Submitted};
use exorun::runtime::{Runtime, RuntimeSettings};
use exorun::signing::{SecretKey, content_digest, embed, sign_artifact};

use crate::support::artifact;

/// `artifact` signed (embedded) by each of `keys`.
fn signed_by(artifact: &[u8], keys: &[&SecretKey]) -> Vec<u8> {
    let mut bytes = artifact.to_vec();
    for key in keys {
        let signature = sign_artifact(&bytes, key, "test", "the test plugin").unwrap();
        bytes = embed(&bytes, &signature, "the test plugin").unwrap();
    }
    bytes
}

fn policy(text: &str) -> Policy {
    Policy::parse(text, "policy.toml").unwrap()
}

#[test]
fn a_key_the_policy_revokes_refuses_a_plugin_another_trusted_key_admits() {
    let echo = std::fs::read(artifact("echo")).unwrap();
    let (alice, mallory) = (
        SecretKey::generate().unwrap(),
        SecretKey::generate().unwrap(),
    );
    let bytes = signed_by(&echo, &[&alice, &mallory]);
    let trusting_alice = format!(
        "[trusted_keys]\nalice = \"{}\"\n\n[[plugin]]\nname = \"echo\"\nsigned_by = [\"alice\"]\n",
        alice.public_key().to_base64()
    );
    let admitted = policy(&trusting_alice)
        .vet(Submitted::from_bytes("echo.wasm", bytes.clone(), None))
        .unwrap();
    assert_eq!(admitted.grant.signers, ["alice"]);
    assert_eq!(admitted.content_digest, content_digest(&echo));

    // The same rule, with mallory's key (which also signed, untrusted) revoked: refused by the
    // library itself, not only by a front door.
    let revoking_mallory = format!(
        "revoked_keys = [\"{}\"]\n{trusting_alice}",
        mallory.key_id()
    );
    let error = policy(&revoking_mallory)
        .vet(Submitted::from_bytes("echo.wasm", bytes, None))
        .unwrap_err();
    assert!(
        matches!(&error, AdmissionError::RevokedKey { key, line: 1, .. } if *key == mallory.key_id()),
        "{error:?}"
    );
    assert!(
        error.to_string().contains(&format!(
            "plugin echo 0.1.0 (echo.wasm) is refused: it is signed by key {}, which policy.toml revokes (line 1)",
            mallory.key_id()
        )),
        "{error}"
    );
}

#[test]
fn a_signature_that_no_longer_matches_is_refused_before_any_rule_is_read() {
    let echo = std::fs::read(artifact("echo")).unwrap();
    let alice = SecretKey::generate().unwrap();
    let mut bytes = signed_by(&echo, &[&alice]);
    bytes[echo.len() / 2] ^= 1;
    let text = format!(
        "[trusted_keys]\nalice = \"{}\"\n\n[[plugin]]\nname = \"echo\"\nsigned_by = [\"alice\"]\n",
        alice.public_key().to_base64()
    );
    let error = policy(&text)
        .vet(Submitted::from_bytes("echo.wasm", bytes, None))
        .unwrap_err();
    assert!(
        matches!(error, AdmissionError::Signature { .. }),
        "{error:?}"
    );
}

#[test]
fn a_plugin_no_rule_names_says_how_to_admit_it() {
    let error = policy("")
        .vet(Submitted::read(&artifact("echo")).unwrap())
        .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("is not admitted by policy.toml: no rule names 'echo'"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_runtime_loads_the_bytes_that_were_vetted_not_the_file_again() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plugin.wasm");
    std::fs::copy(artifact("echo"), &path).unwrap();
    let echo = std::fs::read(&path).unwrap();
    let text = format!(
        "[[plugin]]\nname = \"echo\"\ndigest = \"{}\"\n",
        content_digest(&echo)
    );
    let vetted = policy(&text).vet(Submitted::read(&path).unwrap()).unwrap();
    // Swapped after the check: what runs is still what was checked.
    std::fs::copy(artifact("hostile"), &path).unwrap();
    let runtime = Runtime::new(RuntimeSettings {
        cache_dir: None,
        ..RuntimeSettings::default()
    })
    .unwrap();
    let plugin = runtime.load(&vetted).await.unwrap();
    assert_eq!(plugin.manifest().name, "echo");
    assert_eq!(plugin.digest(), vetted.file_digest);
    assert_eq!(vetted.origin(), path.display().to_string());
    assert!(Path::new(vetted.origin()).exists());
}
