//! Minisign secret keys. The file's second line is base64 of 158 bytes:
//!
//! ```text
//! "Ed"  kdf ("Sc" scrypt, or "\0\0" for `minisign -G -W`)  "B2"  salt (32)  opslimit (8, LE)
//! memlimit (8, LE)  then, XORed with the scrypt stream when encrypted:
//! key id (8)  Ed25519 seed (32)  public key (32)  BLAKE2b-256 checksum (32)
//! ```
//!
//! The checksum covers "Ed", the key id and the 64 key bytes; a wrong password shows as a checksum
//! that does not match. `minisign -G -W` leaves it zero.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use openssl::pkey::{Id, PKey, Private};
use openssl::sign::Signer;

use crate::secret::Secret;

use super::error::{KeyKind, SigningError};
use super::kdf::ScryptLimits;
use super::key_id::KeyId;
use super::public_key::{PublicKey, SECRET_KEY_BYTES};
use super::signature::{
    Algorithm, DEFAULT_UNTRUSTED_COMMENT, Signature, SignedData, UNTRUSTED_PREFIX,
};

/// Where each field of the decoded key lies.
const KDF: std::ops::Range<usize> = 2..4;
const CHECKSUM_ALGORITHM: std::ops::Range<usize> = 4..6;
const SALT: std::ops::Range<usize> = 6..38;
const OPSLIMIT: std::ops::Range<usize> = 38..46;
const MEMLIMIT: std::ops::Range<usize> = 46..54;
/// The part encrypted: key id, seed, public key, checksum.
const SECRET_PART: std::ops::Range<usize> = 54..158;

/// A secret key file as read, still encrypted if it was: unlock it with its password.
pub struct SecretKeyFile {
    bytes: Box<[u8; SECRET_KEY_BYTES]>,
}

/// An Ed25519 secret key with its minisign key id: what signs. It never prints.
pub struct SecretKey {
    key_id: KeyId,
    pkey: PKey<Private>,
    public: [u8; 32],
}

impl SecretKeyFile {
    /// Reads a `minisign.key` file's text. Errors never quote the text.
    pub fn parse(text: &str) -> Result<SecretKeyFile, SigningError> {
        let not_a_key = |reason: &str| SigningError::NotAKey {
            kind: KeyKind::Secret,
            reason: reason.into(),
        };
        let lines: Vec<&str> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        let line = match lines.as_slice() {
            [] => return Err(not_a_key("it is empty")),
            [only] => only,
            [_, second, ..] => second,
        };
        // The decoder's own message would quote a character of the key.
        let bytes = STANDARD
            .decode(line)
            .map_err(|_| not_a_key("its key line is not base64"))?;
        let bytes: Box<[u8; SECRET_KEY_BYTES]> = bytes.try_into().map_err(|b: Vec<u8>| {
            not_a_key(match b.len() {
                42 => "it is a public key: give the .key file",
                74 => "it is a signature",
                _ => "its key line is not 158 bytes long",
            })
        })?;
        if &bytes[..2] != b"Ed" {
            return Err(unsupported("signature algorithm", &bytes[..2]));
        }
        if &bytes[CHECKSUM_ALGORITHM] != b"B2" {
            return Err(unsupported("checksum", &bytes[CHECKSUM_ALGORITHM]));
        }
        if !matches!(&bytes[KDF], b"Sc" | b"\0\0") {
            return Err(unsupported("key derivation", &bytes[KDF]));
        }
        Ok(SecretKeyFile { bytes })
    }

    /// Whether unlocking needs a password.
    pub fn is_encrypted(&self) -> bool {
        &self.bytes[KDF] == b"Sc"
    }

    /// The key, decrypted with `password` if it is encrypted (a password given for an
    /// unencrypted key is not needed and not used).
    pub fn unlock(&self, password: Option<&Secret>) -> Result<SecretKey, SigningError> {
        let mut part: [u8; 104] = self.bytes[SECRET_PART].try_into().expect("104 bytes");
        if self.is_encrypted() {
            let password = password.ok_or(SigningError::PasswordNeeded)?;
            let limits = ScryptLimits {
                opslimit: u64::from_le_bytes(self.bytes[OPSLIMIT].try_into().expect("8 bytes")),
                memlimit: u64::from_le_bytes(self.bytes[MEMLIMIT].try_into().expect("8 bytes")),
            };
            let mut stream = [0u8; 104];
            limits.derive(password, &self.bytes[SALT], &mut stream)?;
            part.iter_mut().zip(stream).for_each(|(b, s)| *b ^= s);
        }
        let key_id = KeyId(part[..8].try_into().expect("8 bytes"));
        let keys: &[u8; 64] = part[8..72].try_into().expect("64 bytes");
        let stored = &part[72..];
        if !openssl::memcmp::eq(stored, &checksum(key_id, keys)) {
            if self.is_encrypted() {
                return Err(SigningError::WrongPassword);
            }
            if stored != [0u8; 32] {
                return Err(SigningError::DamagedSecretKey { key_id });
            }
        }
        let key = SecretKey::from_seed(key_id, &keys[..32])?;
        if key.public != keys[32..] {
            return Err(SigningError::DamagedSecretKey { key_id });
        }
        Ok(key)
    }
}

impl SecretKey {
    /// A new random key pair with a random key id.
    pub fn generate() -> Result<SecretKey, SigningError> {
        let mut key_id = [0u8; 8];
        openssl::rand::rand_bytes(&mut key_id)?;
        let pkey = PKey::generate_ed25519()?;
        SecretKey::from_seed(KeyId(key_id), &pkey.raw_private_key()?)
    }

    fn from_seed(key_id: KeyId, seed: &[u8]) -> Result<SecretKey, SigningError> {
        let pkey = PKey::private_key_from_raw_bytes(seed, Id::ED25519)?;
        let public = pkey
            .raw_public_key()?
            .try_into()
            .expect("an Ed25519 public key is 32 bytes");
        Ok(SecretKey {
            key_id,
            pkey,
            public,
        })
    }

    /// The key's id.
    pub fn key_id(&self) -> KeyId {
        self.key_id
    }

    /// The public half, to give to whoever verifies.
    pub fn public_key(&self) -> PublicKey {
        PublicKey::from_parts(self.key_id, self.public)
    }

    /// Signs `data` the way `minisign -S` does (prehashed, "ED"), with `trusted_comment` (one
    /// line) signed too.
    pub fn sign(&self, data: &[u8], trusted_comment: &str) -> Result<Signature, SigningError> {
        if trusted_comment.contains(['\n', '\r']) {
            return Err(SigningError::CommentNotOneLine { which: "trusted" });
        }
        let algorithm = Algorithm::Prehashed;
        let message = SignedData::new(data);
        let signature = self.ed25519(message.message(algorithm)?)?;
        let mut signature = Signature {
            algorithm,
            key_id: self.key_id,
            signature,
            untrusted_comment: DEFAULT_UNTRUSTED_COMMENT.into(),
            trusted_comment: trusted_comment.into(),
            global_signature: [0; 64],
        };
        signature.global_signature = self.ed25519(&signature.global_message())?;
        Ok(signature)
    }

    fn ed25519(&self, message: &[u8]) -> Result<[u8; 64], SigningError> {
        let signature = Signer::new_without_digest(&self.pkey)?.sign_oneshot_to_vec(message)?;
        Ok(signature
            .try_into()
            .expect("an Ed25519 signature is 64 bytes"))
    }

    /// The text of a `minisign.key` file for this key: encrypted with `password` as
    /// `minisign -G` does (scrypt at libsodium's "sensitive" limits: 1 GiB, about 2 s), or
    /// unencrypted as `minisign -G -W` writes it. A secret itself, so it comes as a [`Secret`].
    pub fn to_file_text(&self, password: Option<&Secret>) -> Result<Secret, SigningError> {
        self.to_file_text_with(password, ScryptLimits::SENSITIVE)
    }

    pub(super) fn to_file_text_with(
        &self,
        password: Option<&Secret>,
        limits: ScryptLimits,
    ) -> Result<Secret, SigningError> {
        let mut keys = [0u8; 64];
        keys[..32].copy_from_slice(&self.pkey.raw_private_key()?);
        keys[32..].copy_from_slice(&self.public);
        let mut part = [0u8; 104];
        part[..8].copy_from_slice(&self.key_id.0);
        part[8..72].copy_from_slice(&keys);
        part[72..].copy_from_slice(&checksum(self.key_id, &keys));

        let mut bytes = [0u8; SECRET_KEY_BYTES];
        bytes[..2].copy_from_slice(b"Ed");
        bytes[CHECKSUM_ALGORITHM].copy_from_slice(b"B2");
        if let Some(password) = password {
            bytes[KDF].copy_from_slice(b"Sc");
            openssl::rand::rand_bytes(&mut bytes[SALT])?;
            bytes[OPSLIMIT].copy_from_slice(&limits.opslimit.to_le_bytes());
            bytes[MEMLIMIT].copy_from_slice(&limits.memlimit.to_le_bytes());
            let mut stream = [0u8; 104];
            limits.derive(password, &bytes[SALT], &mut stream)?;
            part.iter_mut().zip(stream).for_each(|(b, s)| *b ^= s);
        }
        bytes[SECRET_PART].copy_from_slice(&part);
        Ok(Secret::new(format!(
            "{UNTRUSTED_PREFIX}minisign encrypted secret key\n{}\n",
            STANDARD.encode(bytes)
        )))
    }
}

/// minisign's checksum of a secret key: BLAKE2b-256 of "Ed", the key id and the 64 key bytes.
fn checksum(key_id: KeyId, keys: &[u8; 64]) -> [u8; 32] {
    let mut input = Vec::with_capacity(74);
    input.extend_from_slice(b"Ed");
    input.extend_from_slice(&key_id.0);
    input.extend_from_slice(keys);
    use blake2::Digest as _;
    blake2::Blake2b::<blake2::digest::consts::U32>::digest(&input).into()
}

fn unsupported(what: &'static str, found: &[u8]) -> SigningError {
    SigningError::UnsupportedKey {
        kind: KeyKind::Secret,
        what,
        found: found.escape_ascii().to_string(),
    }
}

impl fmt::Debug for SecretKeyFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretKeyFile")
            .field("encrypted", &self.is_encrypted())
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretKey")
            .field("key_id", &self.key_id)
            .field("secret", &format_args!("[redacted]"))
            .finish()
    }
}

#[cfg(test)]
#[path = "secret_key_tests.rs"]
mod tests;
