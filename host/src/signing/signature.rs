//! The minisign signature format (a `.minisig` file):
//!
//! ```text
//! untrusted comment: <free text, not covered by anything>
//! base64(<algorithm "ED" or "Ed"> <key id, 8 bytes> <Ed25519 signature, 64 bytes>)
//! trusted comment: <text covered by the global signature>
//! base64(<Ed25519 signature of signature ‖ trusted comment, 64 bytes>)
//! ```
//!
//! "ED" signs the BLAKE2b-512 of the data (what minisign 0.10 and later write); the legacy "Ed"
//! signs the data itself and is still verified.

use std::cell::OnceCell;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use openssl::hash::{MessageDigest, hash};

use super::error::{Placement, SigningError};
use super::key_id::KeyId;

/// What the first line of a signature starts with.
pub(super) const UNTRUSTED_PREFIX: &str = "untrusted comment: ";
/// What the third line of a signature starts with.
const TRUSTED_PREFIX: &str = "trusted comment: ";
/// The untrusted comment minisign writes, which exorun writes too.
pub(super) const DEFAULT_UNTRUSTED_COMMENT: &str = "signature from minisign secret key";

/// How the signed data was fed to Ed25519.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algorithm {
    /// "ED": the data's BLAKE2b-512 was signed, minisign's default since 0.10 and what exorun writes.
    Prehashed,
    /// "Ed": the data itself was signed (older minisign, `minisign -S -l`).
    Legacy,
}

impl Algorithm {
    fn id(self) -> &'static [u8; 2] {
        match self {
            Algorithm::Prehashed => b"ED",
            Algorithm::Legacy => b"Ed",
        }
    }
}

/// A minisign signature, as read from or written to a `.minisig` file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signature {
    pub(super) algorithm: Algorithm,
    pub(super) key_id: KeyId,
    pub(super) signature: [u8; 64],
    pub(super) untrusted_comment: String,
    pub(super) trusted_comment: String,
    pub(super) global_signature: [u8; 64],
}

impl Signature {
    /// Reads a `.minisig` file's text; `placement` names it in errors. Lines may end in `\r\n`;
    /// lines after the fourth are ignored, as minisign ignores them.
    pub fn parse(text: &str, placement: Placement) -> Result<Signature, SigningError> {
        let garbled = |reason: String| SigningError::GarbledSignature { placement, reason };
        let mut lines = text.split('\n').map(|l| l.trim_end_matches('\r'));
        let mut line = |n: usize, what: &str| {
            lines
                .next()
                .filter(|l| !l.is_empty())
                .ok_or_else(|| garbled(format!("it is cut short: line {n} ({what}) is missing")))
        };
        let untrusted = line(1, "the untrusted comment")?;
        let untrusted_comment = untrusted
            .strip_prefix(UNTRUSTED_PREFIX)
            .ok_or_else(|| garbled(format!("line 1 does not start with `{UNTRUSTED_PREFIX}`")))?
            .to_string();
        let bytes =
            decode::<74>(line(2, "the signature")?).map_err(|e| garbled(format!("line 2 {e}")))?;
        let algorithm = match &bytes[..2] {
            b"ED" => Algorithm::Prehashed,
            b"Ed" => Algorithm::Legacy,
            other => {
                return Err(garbled(format!(
                    "its algorithm is `{}`, not ED or Ed",
                    other.escape_ascii()
                )));
            }
        };
        let trusted_comment = line(3, "the trusted comment")?
            .strip_prefix(TRUSTED_PREFIX)
            .ok_or_else(|| garbled(format!("line 3 does not start with `{TRUSTED_PREFIX}`")))?
            .to_string();
        let global = line(4, "the global signature")?;
        let global_signature = decode::<64>(global).map_err(|e| garbled(format!("line 4 {e}")))?;
        Ok(Signature {
            algorithm,
            key_id: KeyId(bytes[2..10].try_into().expect("8 bytes")),
            signature: bytes[10..].try_into().expect("64 bytes"),
            untrusted_comment,
            trusted_comment,
            global_signature,
        })
    }

    /// The `.minisig` text, exactly as minisign writes it.
    pub fn to_text(&self) -> String {
        let mut bytes = Vec::with_capacity(74);
        bytes.extend_from_slice(self.algorithm.id());
        bytes.extend_from_slice(&self.key_id.0);
        bytes.extend_from_slice(&self.signature);
        format!(
            "{UNTRUSTED_PREFIX}{}\n{}\n{TRUSTED_PREFIX}{}\n{}\n",
            self.untrusted_comment,
            STANDARD.encode(bytes),
            self.trusted_comment,
            STANDARD.encode(self.global_signature)
        )
    }

    /// The id of the key that made it.
    pub fn key_id(&self) -> KeyId {
        self.key_id
    }

    /// The trusted comment (covered by the signature: verified with it).
    pub fn trusted_comment(&self) -> &str {
        &self.trusted_comment
    }

    /// The untrusted comment (anyone may change it).
    pub fn untrusted_comment(&self) -> &str {
        &self.untrusted_comment
    }

    /// How the data was signed.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// What the global signature covers: the signature, then the trusted comment.
    pub(super) fn global_message(&self) -> Vec<u8> {
        let mut message = self.signature.to_vec();
        message.extend_from_slice(self.trusted_comment.as_bytes());
        message
    }
}

/// Decodes one base64 line that must hold exactly `N` bytes.
fn decode<const N: usize>(line: &str) -> Result<[u8; N], String> {
    let bytes = STANDARD
        .decode(line.trim())
        .map_err(|e| format!("is not base64 ({e})"))?;
    let len = bytes.len();
    bytes
        .try_into()
        .map_err(|_| format!("holds {len} bytes where {N} belong"))
}

/// Signed data, with its BLAKE2b-512 computed once however many signatures check it.
pub(super) struct SignedData<'a> {
    data: &'a [u8],
    prehash: OnceCell<Vec<u8>>,
}

impl<'a> SignedData<'a> {
    pub(super) fn new(data: &'a [u8]) -> SignedData<'a> {
        SignedData {
            data,
            prehash: OnceCell::new(),
        }
    }

    /// What Ed25519 signs for `algorithm`: the data, or its BLAKE2b-512.
    pub(super) fn message(&self, algorithm: Algorithm) -> Result<&[u8], SigningError> {
        match algorithm {
            Algorithm::Legacy => Ok(self.data),
            Algorithm::Prehashed => {
                if let Some(prehash) = self.prehash.get() {
                    return Ok(prehash);
                }
                let digest = hash(blake2b512(), self.data)?;
                Ok(self.prehash.get_or_init(|| digest.to_vec()))
            }
        }
    }
}

/// BLAKE2b-512 from OpenSSL, which every OpenSSL 1.1.1 or later provides.
fn blake2b512() -> MessageDigest {
    MessageDigest::from_name("BLAKE2B512").expect("OpenSSL 1.1.1 or later provides BLAKE2b-512")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signing::fixtures::{MINISIGN_PUBLIC_KEY, MINISIGN_SIGNATURE};

    #[test]
    fn reads_and_writes_minisign_signatures_byte_for_byte() {
        let signature = Signature::parse(MINISIGN_SIGNATURE, Placement::Detached).unwrap();
        assert_eq!(signature.key_id().to_string(), "378E18C04D1A9CD7");
        assert_eq!(signature.algorithm(), Algorithm::Prehashed);
        assert_eq!(signature.trusted_comment(), "tc here");
        assert_eq!(
            signature.untrusted_comment(),
            "signature from minisign secret key"
        );
        assert_eq!(signature.to_text(), MINISIGN_SIGNATURE);
        let crlf = MINISIGN_SIGNATURE.replace('\n', "\r\n");
        assert_eq!(
            Signature::parse(&crlf, Placement::Detached).unwrap(),
            signature
        );
        let no_final_newline = MINISIGN_SIGNATURE.trim_end();
        assert_eq!(
            Signature::parse(no_final_newline, Placement::Detached).unwrap(),
            signature
        );
    }

    fn garbled(text: &str) -> String {
        match Signature::parse(text, Placement::Detached) {
            Err(e @ SigningError::GarbledSignature { .. }) => e.to_string(),
            other => panic!("{text:?} gave {other:?}"),
        }
    }

    #[test]
    fn garbled_and_truncated_signatures_are_errors_that_say_what_is_wrong() {
        let lines: Vec<&str> = MINISIGN_SIGNATURE.lines().collect();
        assert!(garbled("").contains("line 1 (the untrusted comment) is missing"));
        assert!(
            garbled(&lines[..2].join("\n")).contains("line 3 (the trusted comment) is missing")
        );
        assert!(
            garbled(&lines[..3].join("\n")).contains("line 4 (the global signature) is missing")
        );
        assert!(garbled(&format!("{}\n", lines[..3].join("\n"))).contains("line 4"));
        assert!(garbled(&MINISIGN_SIGNATURE.replace("untrusted", "trusted")).contains("line 1"));
        assert!(
            garbled(&MINISIGN_SIGNATURE.replace("RUTX", "R!TX")).contains("line 2 is not base64")
        );
        assert!(garbled(&MINISIGN_SIGNATURE.replace("sQc=", "")).contains("line 2"));
        assert!(garbled(&MINISIGN_SIGNATURE.replace("RUTX", "RVRX")).contains("algorithm is `ET`"));
        assert!(
            garbled(&MINISIGN_SIGNATURE.replace("trusted comment: tc", "tc")).contains("line 3")
        );
        assert!(garbled(&MINISIGN_SIGNATURE.replace("AA==", "")).contains("line 4"));
        assert!(garbled(MINISIGN_PUBLIC_KEY).contains("holds 42 bytes where 74 belong"));
    }

    #[test]
    fn no_input_makes_the_reader_panic() {
        // Every prefix, and every single-byte change, of a valid signature.
        for end in 0..MINISIGN_SIGNATURE.len() {
            let _ = Signature::parse(&MINISIGN_SIGNATURE[..end], Placement::Embedded);
        }
        let bytes = MINISIGN_SIGNATURE.as_bytes();
        for i in 0..bytes.len() {
            for flip in [0x01u8, 0x80] {
                let mut changed = bytes.to_vec();
                changed[i] ^= flip;
                let _ = Signature::parse(&String::from_utf8_lossy(&changed), Placement::Embedded);
            }
        }
    }
}
