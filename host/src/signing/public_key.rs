//! Minisign public keys: a comment line, then base64 of "Ed", the 8-byte key id and the 32-byte
//! Ed25519 key. The same base64 alone is what `minisign -P` takes.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use openssl::pkey::{Id, PKey};
use openssl::sign::Verifier;

use super::error::{KeyKind, SigningError};
use super::key_id::KeyId;
use super::signature::{Signature, SignedData, UNTRUSTED_PREFIX};

/// Bytes in a decoded public key: "Ed", key id, key.
const PUBLIC_KEY_BYTES: usize = 42;
/// Bytes in a decoded secret key, to tell one given by mistake.
pub(super) const SECRET_KEY_BYTES: usize = 158;

/// A minisign (Ed25519) public key: whose signatures to trust.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PublicKey {
    key_id: KeyId,
    key: [u8; 32],
}

/// What a signature check found, when it ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Check {
    /// The signature and its trusted comment are the key's.
    Valid,
    /// The signature does not match the data.
    DataChanged,
    /// The signature matches but the trusted comment was changed.
    CommentChanged,
}

impl PublicKey {
    /// Reads a public key: a `minisign.pub` file's text (the key is its second line, the first
    /// being a comment), or the base64 line alone (`RW...`), as `minisign -P` takes it.
    pub fn parse(text: &str) -> Result<PublicKey, SigningError> {
        let not_a_key = |reason: String| SigningError::NotAKey {
            kind: KeyKind::Public,
            reason,
        };
        let lines: Vec<&str> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        let line = match lines.as_slice() {
            [] => return Err(not_a_key("it is empty".into())),
            [only] => only,
            [_, second, ..] => second,
        };
        let bytes = STANDARD
            .decode(line)
            .map_err(|e| not_a_key(format!("its key line is not base64 ({e})")))?;
        if bytes.len() != PUBLIC_KEY_BYTES {
            let hint = match bytes.len() {
                SECRET_KEY_BYTES => " (it is a secret key: give the .pub file, never the .key)",
                74 => " (it is a signature)",
                _ => "",
            };
            return Err(not_a_key(format!(
                "its key line holds {} bytes where {PUBLIC_KEY_BYTES} belong{hint}",
                bytes.len()
            )));
        }
        if &bytes[..2] != b"Ed" {
            return Err(SigningError::UnsupportedKey {
                kind: KeyKind::Public,
                what: "signature algorithm",
                found: bytes[..2].escape_ascii().to_string(),
            });
        }
        Ok(PublicKey {
            key_id: KeyId(bytes[2..10].try_into().expect("8 bytes")),
            key: bytes[10..].try_into().expect("32 bytes"),
        })
    }

    pub(super) fn from_parts(key_id: KeyId, key: [u8; 32]) -> PublicKey {
        PublicKey { key_id, key }
    }

    /// The key's id, which its signatures carry.
    pub fn key_id(&self) -> KeyId {
        self.key_id
    }

    /// The key as one base64 line (`RW...`), for a policy file or `minisign -P`.
    pub fn to_base64(&self) -> String {
        let mut bytes = Vec::with_capacity(PUBLIC_KEY_BYTES);
        bytes.extend_from_slice(b"Ed");
        bytes.extend_from_slice(&self.key_id.0);
        bytes.extend_from_slice(&self.key);
        STANDARD.encode(bytes)
    }

    /// The text of a `minisign.pub` file, as minisign writes it.
    pub fn to_file_text(&self) -> String {
        format!(
            "{UNTRUSTED_PREFIX}minisign public key {}\n{}\n",
            self.key_id,
            self.to_base64()
        )
    }

    /// Checks a signature by this key (the caller has matched the key ids) over `data`, then
    /// its trusted comment.
    pub(super) fn check(
        &self,
        data: &SignedData<'_>,
        signature: &Signature,
    ) -> Result<Check, SigningError> {
        let pkey = PKey::public_key_from_raw_bytes(&self.key, Id::ED25519)?;
        let message = data.message(signature.algorithm)?;
        if !Verifier::new_without_digest(&pkey)?.verify_oneshot(&signature.signature, message)? {
            return Ok(Check::DataChanged);
        }
        let global = signature.global_message();
        if !Verifier::new_without_digest(&pkey)?
            .verify_oneshot(&signature.global_signature, &global)?
        {
            return Ok(Check::CommentChanged);
        }
        Ok(Check::Valid)
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.key_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signing::error::Placement;
    use crate::signing::fixtures::{
        MINISIGN_LEGACY_SIGNATURE, MINISIGN_PUBLIC_KEY, MINISIGN_SECRET_KEY, MINISIGN_SIGNATURE,
        SIGNED_TEXT,
    };

    fn check(signature: &str, data: &[u8]) -> Check {
        let key = PublicKey::parse(MINISIGN_PUBLIC_KEY).unwrap();
        let signature = Signature::parse(signature, Placement::Detached).unwrap();
        assert_eq!(signature.key_id(), key.key_id());
        key.check(&SignedData::new(data), &signature).unwrap()
    }

    #[test]
    fn reads_and_writes_minisign_public_keys() {
        let key = PublicKey::parse(MINISIGN_PUBLIC_KEY).unwrap();
        assert_eq!(key.key_id().to_string(), "378E18C04D1A9CD7");
        assert_eq!(key.to_file_text(), MINISIGN_PUBLIC_KEY);
        let line = MINISIGN_PUBLIC_KEY.lines().nth(1).unwrap();
        assert_eq!(key.to_base64(), line);
        assert_eq!(PublicKey::parse(line).unwrap(), key);
        assert_eq!(PublicKey::parse(&format!("  {line}\n\n")).unwrap(), key);
        assert_eq!(format!("{key:?}"), "PublicKey(378E18C04D1A9CD7)");
    }

    #[test]
    fn verifies_minisign_signatures_prehashed_and_legacy() {
        assert_eq!(check(MINISIGN_SIGNATURE, SIGNED_TEXT), Check::Valid);
        assert_eq!(check(MINISIGN_LEGACY_SIGNATURE, SIGNED_TEXT), Check::Valid);
        for signature in [MINISIGN_SIGNATURE, MINISIGN_LEGACY_SIGNATURE] {
            assert_eq!(check(signature, b"hello!"), Check::DataChanged);
            assert_eq!(check(signature, b""), Check::DataChanged);
        }
        let changed_comment = MINISIGN_SIGNATURE.replace("tc here", "tc there");
        assert_eq!(check(&changed_comment, SIGNED_TEXT), Check::CommentChanged);
    }

    #[test]
    fn other_files_are_not_public_keys_and_say_what_they_are() {
        let error = |text: &str| PublicKey::parse(text).unwrap_err().to_string();
        assert!(error("").contains("it is empty"));
        assert!(error("not base64 at all!").contains("not base64"));
        assert!(error(MINISIGN_SECRET_KEY).contains("it is a secret key"));
        assert!(error(MINISIGN_SIGNATURE).contains("it is a signature"));
        assert!(error("untrusted comment: x\nAAAA\n").contains("holds 3 bytes where 42 belong"));
        let other_algorithm = MINISIGN_PUBLIC_KEY.replace("RWTX", "RUTX");
        assert!(error(&other_algorithm).contains("signature algorithm `ED`"));
        for end in 0..MINISIGN_PUBLIC_KEY.len() {
            let _ = PublicKey::parse(&MINISIGN_PUBLIC_KEY[..end]);
        }
    }
}
