//! Signatures on plugin artifacts. A signature covers the artifact without its signature
//! sections: the component and its manifest, everything that runs or asks for rights. So
//! signatures travel inside the artifact (top-level custom sections named
//! [`SIGNATURE_SECTION`], each holding a `.minisig` text) or beside it as a `.minisig` file, and
//! adding a reviewer's signature changes neither the other signatures nor [`content_digest`],
//! the digest a policy pins.

use crate::digest::sha256_hex;
use crate::plugin::artifact::{Layout, component_layout};

use super::error::{Placement, SigningError};
use super::key_id::KeyId;
use super::public_key::{Check, PublicKey};
use super::secret_key::SecretKey;
use super::signature::{Signature, SignedData};

/// Name of the custom sections holding embedded signatures (minisig text each).
pub const SIGNATURE_SECTION: &str = "exorun-signature";

/// A valid signature by a trusted key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signer {
    /// The key that signed.
    pub key_id: KeyId,
    /// Its trusted comment (verified with the signature).
    pub trusted_comment: String,
    /// Where the signature was.
    pub placement: Placement,
}

/// A signature by a key not in the trusted set: not checked, as there is no key to check it with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UntrustedSignature {
    /// The key it names.
    pub key_id: KeyId,
    /// Where the signature was.
    pub placement: Placement,
}

/// What [`verify`] found: every signature by a trusted key checked out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    /// Valid signatures by trusted keys, embedded ones first in file order, then the detached one.
    pub signers: Vec<Signer>,
    /// Signatures by keys not in the trusted set.
    pub untrusted: Vec<UntrustedSignature>,
    /// SHA-256 (lowercase hex) of the signed bytes: [`content_digest`] of the artifact.
    pub content_digest: String,
}

impl Verified {
    /// The valid signature by `key_id`, or an error naming the keys that did sign.
    pub fn require_signer(&self, key_id: KeyId) -> Result<&Signer, SigningError> {
        self.signers
            .iter()
            .find(|s| s.key_id == key_id)
            .ok_or_else(|| SigningError::NotSignedBy {
                required: key_id,
                signed_by: self
                    .signers
                    .iter()
                    .map(|s| s.key_id)
                    .chain(self.untrusted.iter().map(|s| s.key_id))
                    .collect(),
            })
    }
}

/// The bytes a signature covers: `artifact` without its top-level [`SIGNATURE_SECTION`]s.
/// Bytes past a point where the sections cannot be read are kept: they are content too.
pub fn signed_bytes(artifact: &[u8]) -> Vec<u8> {
    strip(artifact, &Layout::read(artifact), |_| true)
}

/// SHA-256 (lowercase hex) of [`signed_bytes`]: what a policy pins, unchanged when signatures
/// are added or removed. For an unsigned artifact it is the file's own sha256.
pub fn content_digest(artifact: &[u8]) -> String {
    sha256_hex(&signed_bytes(artifact))
}

/// Signs an artifact's [`signed_bytes`] with `key`. `origin` names the artifact in errors.
pub fn sign_artifact(
    artifact: &[u8],
    key: &SecretKey,
    trusted_comment: &str,
    origin: &str,
) -> Result<Signature, SigningError> {
    let layout = component_layout(artifact, origin)?;
    key.sign(&strip(artifact, &layout, |_| true), trusted_comment)
}

/// The artifact with `signature` embedded as a [`SIGNATURE_SECTION`] at its end. An earlier
/// embedded signature by the same key is replaced, and unreadable ones are dropped; the others
/// stay. The signature is not checked here: [`verify`] does that.
pub fn embed(
    artifact: &[u8],
    signature: &Signature,
    origin: &str,
) -> Result<Vec<u8>, SigningError> {
    let layout = component_layout(artifact, origin)?;
    let mut out = strip(artifact, &layout, |text| {
        Signature::parse(text, Placement::Embedded).map_or(true, |s| s.key_id == signature.key_id)
    });
    let section = wasm_encoder::CustomSection {
        name: SIGNATURE_SECTION.into(),
        data: signature.to_text().into_bytes().into(),
    };
    out.push(wasm_encoder::ComponentSection::id(&section));
    wasm_encoder::Encode::encode(&section, &mut out);
    Ok(out)
}

/// The signatures embedded in an artifact, in file order; an unreadable one is an error in its
/// place. Nothing is verified: a signature names a key id, not who holds the key.
pub fn embedded_signatures(artifact: &[u8]) -> Vec<Result<Signature, SigningError>> {
    embedded(artifact, &Layout::read(artifact))
}

/// Verifies the artifact's embedded signatures and the `detached` one (`.minisig` text) against
/// `trusted_keys`. A signature by a trusted key that does not match is an error (the artifact
/// was modified after it was signed); signatures by other keys are listed, not checked. Which
/// keys must have signed is the caller's decision: see [`Verified::require_signer`].
pub fn verify(
    artifact: &[u8],
    detached: Option<&str>,
    trusted_keys: &[PublicKey],
) -> Result<Verified, SigningError> {
    let layout = Layout::read(artifact);
    let content = strip(artifact, &layout, |_| true);
    let mut found = Vec::new();
    for signature in embedded(artifact, &layout) {
        found.push((Placement::Embedded, signature?));
    }
    if let Some(text) = detached {
        found.push((
            Placement::Detached,
            Signature::parse(text, Placement::Detached)?,
        ));
    }
    let data = SignedData::new(&content);
    let mut verified = Verified {
        signers: Vec::new(),
        untrusted: Vec::new(),
        content_digest: sha256_hex(&content),
    };
    for (placement, signature) in found {
        let key_id = signature.key_id();
        let Some(key) = trusted_keys.iter().find(|k| k.key_id() == key_id) else {
            verified
                .untrusted
                .push(UntrustedSignature { key_id, placement });
            continue;
        };
        match key.check(&data, &signature)? {
            Check::Valid => verified.signers.push(Signer {
                key_id,
                trusted_comment: signature.trusted_comment().into(),
                placement,
            }),
            Check::DataChanged => {
                return Err(SigningError::Modified {
                    key_id,
                    placement,
                    content_digest: verified.content_digest,
                });
            }
            Check::CommentChanged => {
                return Err(SigningError::CommentModified { key_id, placement });
            }
        }
    }
    match layout.unreadable {
        Some(reason) if verified.signers.is_empty() => Err(SigningError::Damaged { reason }),
        _ => Ok(verified),
    }
}

/// `artifact` without the signature sections whose text `drop` picks (a section that is not
/// text is always dropped).
fn strip(artifact: &[u8], layout: &Layout, drop: impl Fn(&str) -> bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(artifact.len());
    let mut kept_from = 0;
    for section in layout.custom_sections(SIGNATURE_SECTION) {
        let text = section
            .custom
            .as_ref()
            .and_then(|c| std::str::from_utf8(&artifact[c.data.clone()]).ok());
        if text.is_none_or(&drop) {
            out.extend_from_slice(&artifact[kept_from..section.range.start]);
            kept_from = section.range.end;
        }
    }
    out.extend_from_slice(&artifact[kept_from..]);
    out
}

fn embedded(artifact: &[u8], layout: &Layout) -> Vec<Result<Signature, SigningError>> {
    layout
        .custom_sections(SIGNATURE_SECTION)
        .filter_map(|section| section.custom.as_ref())
        .map(|custom| {
            let text = std::str::from_utf8(&artifact[custom.data.clone()]).map_err(|_| {
                SigningError::GarbledSignature {
                    placement: Placement::Embedded,
                    reason: "it is not UTF-8 text".into(),
                }
            })?;
            Signature::parse(text, Placement::Embedded)
        })
        .collect()
}

#[cfg(test)]
#[path = "artifact_tests.rs"]
mod tests;
