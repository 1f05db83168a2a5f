use super::*;
use crate::plugin::artifact::pack;
use crate::plugin::manifest::Manifest;

/// A small artifact: a component holding a core module (standing in for code) and a manifest.
fn artifact() -> Vec<u8> {
    let mut module = wasm_encoder::Module::new();
    module.section(&wasm_encoder::CustomSection {
        name: "code".into(),
        data: b"the plugin's code".into(),
    });
    let mut component = wasm_encoder::Component::new();
    component.section(&wasm_encoder::ModuleSection(&module));
    let manifest = Manifest::parse("name = 'p'\nversion = '1.0.0'\ndescription = 'd'").unwrap();
    pack(&component.finish(), &manifest, "p.wasm").unwrap()
}

/// `artifact` with `signature` embedded, its trusted comment `comment`.
fn signed(artifact: &[u8], key: &SecretKey, comment: &str) -> Vec<u8> {
    let signature = sign_artifact(artifact, key, comment, "p.wasm").unwrap();
    embed(artifact, &signature, "p.wasm").unwrap()
}

fn find(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .position(|w| w == needle)
        .unwrap()
}

#[test]
fn an_unsigned_artifact_is_its_own_signed_bytes() {
    let unsigned = artifact();
    assert_eq!(signed_bytes(&unsigned), unsigned);
    assert_eq!(content_digest(&unsigned), sha256_hex(&unsigned));
    assert!(embedded_signatures(&unsigned).is_empty());
    let verified = verify(&unsigned, None, &[]).unwrap();
    assert!(verified.signers.is_empty() && verified.untrusted.is_empty());
    let key = SecretKey::generate().unwrap();
    let error = verified
        .require_signer(key.key_id())
        .unwrap_err()
        .to_string();
    assert!(error.contains("carries no signature"), "{error}");
}

#[test]
fn author_and_reviewer_signatures_sit_side_by_side_and_leave_the_content_digest_alone() {
    let unsigned = artifact();
    let (author, reviewer) = (
        SecretKey::generate().unwrap(),
        SecretKey::generate().unwrap(),
    );
    let by_author = signed(&unsigned, &author, "built by ann");
    let both = signed(&by_author, &reviewer, "reviewed by bob");
    assert_eq!(signed_bytes(&both), unsigned);
    assert_eq!(content_digest(&both), content_digest(&unsigned));
    assert_ne!(sha256_hex(&both), sha256_hex(&unsigned));
    crate::plugin::artifact::read_manifest(&both, "p.wasm").unwrap();

    let comments: Vec<String> = embedded_signatures(&both)
        .into_iter()
        .map(|s| s.unwrap().trusted_comment().to_string())
        .collect();
    assert_eq!(comments, ["built by ann", "reviewed by bob"]);

    let trusted = [author.public_key(), reviewer.public_key()];
    let verified = verify(&both, None, &trusted).unwrap();
    assert_eq!(verified.content_digest, content_digest(&unsigned));
    assert_eq!(verified.signers.len(), 2);
    assert_eq!(verified.signers[1].key_id, reviewer.key_id());
    assert_eq!(verified.signers[1].trusted_comment, "reviewed by bob");
    assert_eq!(verified.signers[1].placement, Placement::Embedded);
    verified.require_signer(author.key_id()).unwrap();
    verified.require_signer(reviewer.key_id()).unwrap();

    // Only the reviewer trusted: the author's signature is listed as untrusted.
    let verified = verify(&both, None, &[reviewer.public_key()]).unwrap();
    assert_eq!(verified.signers.len(), 1);
    assert_eq!(
        verified.untrusted,
        [UntrustedSignature {
            key_id: author.key_id(),
            placement: Placement::Embedded
        }]
    );
    let stranger = SecretKey::generate().unwrap();
    let error = verified
        .require_signer(stranger.key_id())
        .unwrap_err()
        .to_string();
    assert!(
        error.starts_with(&format!(
            "signed by key {} and {}, but the trusted key is {}",
            reviewer.key_id(),
            author.key_id(),
            stranger.key_id()
        )),
        "{error}"
    );

    // Signing again replaces the same key's signature.
    let again = signed(&both, &author, "rebuilt by ann");
    assert_eq!(embedded_signatures(&again).len(), 2);
    let verified = verify(&again, None, &trusted).unwrap();
    assert_eq!(verified.signers[1].trusted_comment, "rebuilt by ann");
}

#[test]
fn a_detached_signature_covers_the_same_bytes() {
    let unsigned = artifact();
    let (author, reviewer) = (
        SecretKey::generate().unwrap(),
        SecretKey::generate().unwrap(),
    );
    let detached = sign_artifact(&unsigned, &reviewer, "reviewed", "p.wasm")
        .unwrap()
        .to_text();
    let by_author = signed(&unsigned, &author, "built");
    let verified = verify(
        &by_author,
        Some(&detached),
        &[author.public_key(), reviewer.public_key()],
    )
    .unwrap();
    assert_eq!(verified.signers.len(), 2);
    assert_eq!(verified.signers[1].placement, Placement::Detached);
    let error = verify(&by_author, Some("untrusted comment: x\n"), &[]).unwrap_err();
    assert!(
        matches!(
            error,
            SigningError::GarbledSignature {
                placement: Placement::Detached,
                ..
            }
        ),
        "{error}"
    );
}

#[test]
fn every_changed_byte_outside_the_signatures_is_caught() {
    let unsigned = artifact();
    let key = SecretKey::generate().unwrap();
    let trusted = [key.public_key()];
    let both = signed(&unsigned, &key, "built");
    let modified = |changed: &[u8]| {
        matches!(
            verify(changed, None, &trusted),
            Err(SigningError::Modified { key_id, .. }) if key_id == key.key_id()
        )
    };
    // The signature section comes after the content, so the content is `both[..unsigned.len()]`.
    for i in 0..unsigned.len() {
        let mut changed = both.clone();
        changed[i] ^= 0x01;
        assert!(verify(&changed, None, &trusted).is_err(), "byte {i}");
    }
    let mut in_code = both.clone();
    in_code[find(&both, b"the plugin's code")] ^= 0x20;
    assert!(modified(&in_code));
    let mut in_manifest = both.clone();
    in_manifest[find(&both, b"version = ")] ^= 0x20;
    assert!(modified(&in_manifest));
    let mut appended = both.clone();
    appended.push(0);
    assert!(modified(&appended));
    let error = verify(&appended, None, &trusted).unwrap_err().to_string();
    assert!(
        error.starts_with(&format!(
            "the artifact was modified after it was signed by key {}",
            key.key_id()
        )),
        "{error}"
    );

    // Cut short, with no signature left to vouch for it.
    let error = verify(&unsigned[..unsigned.len() - 3], None, &trusted).unwrap_err();
    assert!(matches!(error, SigningError::Damaged { .. }), "{error}");
}

#[test]
fn a_changed_trusted_comment_or_a_garbled_signature_is_an_error() {
    let unsigned = artifact();
    let key = SecretKey::generate().unwrap();
    let mut signature = sign_artifact(&unsigned, &key, "reviewed", "p.wasm").unwrap();
    signature.trusted_comment = "approved for production".into();
    let tampered = embed(&unsigned, &signature, "p.wasm").unwrap();
    let error = verify(&tampered, None, &[key.public_key()]).unwrap_err();
    assert!(
        matches!(error, SigningError::CommentModified { .. }),
        "{error}"
    );

    let garbled = wasm_encoder::CustomSection {
        name: SIGNATURE_SECTION.into(),
        data: b"untrusted comment: cut".into(),
    };
    let mut with_garbled = unsigned.clone();
    with_garbled.push(wasm_encoder::ComponentSection::id(&garbled));
    wasm_encoder::Encode::encode(&garbled, &mut with_garbled);
    assert_eq!(signed_bytes(&with_garbled), unsigned);
    assert!(embedded_signatures(&with_garbled)[0].is_err());
    let error = verify(&with_garbled, None, &[]).unwrap_err();
    assert!(
        matches!(
            error,
            SigningError::GarbledSignature {
                placement: Placement::Embedded,
                ..
            }
        ),
        "{error}"
    );
    // Signing drops the unreadable one.
    let resigned = signed(&with_garbled, &key, "reviewed");
    assert_eq!(embedded_signatures(&resigned).len(), 1);
    verify(&resigned, None, &[key.public_key()]).unwrap();
}

#[test]
fn only_components_are_signed() {
    let key = SecretKey::generate().unwrap();
    let error = sign_artifact(b"# README", &key, "c", "README.md").unwrap_err();
    assert!(
        error
            .to_string()
            .contains("README.md is not a WebAssembly component"),
        "{error}"
    );
}
