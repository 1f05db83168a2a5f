//! Why a key, a signature or an artifact's signatures are unusable. Each message says what
//! failed, why, and (after `fix:`) what to do now. No message holds a secret key or a password.

use super::key_id::{self, KeyId};

/// Which kind of minisign file was expected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    /// A public key (`minisign.pub`).
    Public,
    /// A secret key (`minisign.key`).
    Secret,
}

impl std::fmt::Display for KeyKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            KeyKind::Public => "public key",
            KeyKind::Secret => "secret key",
        })
    }
}

/// Where a signature was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Placement {
    /// In an `exorun-signature` section of the artifact.
    Embedded,
    /// In a `.minisig` file beside it.
    Detached,
}

impl std::fmt::Display for Placement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Placement::Embedded => "embedded",
            Placement::Detached => "detached",
        })
    }
}

/// What went wrong with a key, a signature, or an artifact's signatures.
#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    /// The text is not a minisign key of the expected kind.
    #[error("this is not a minisign {kind}: {reason}\n  fix: {}", key_fix(*kind))]
    NotAKey {
        /// The kind expected.
        kind: KeyKind,
        /// What is wrong with it.
        reason: String,
    },
    /// A minisign key made with an algorithm exorun does not know.
    #[error(
        "the minisign {kind} uses {what} `{found}`, which exorun does not know (it knows Ed25519 keys \
         encrypted with scrypt or not at all, checksummed with BLAKE2b)\n  fix: make a new key pair with \
         `exorun plugin keygen` or `minisign -G`"
    )]
    UnsupportedKey {
        /// The kind of key.
        kind: KeyKind,
        /// Which field: "signature algorithm", "key derivation" or "checksum".
        what: &'static str,
        /// The two bytes found, escaped.
        found: String,
    },
    /// An encrypted secret key and no password.
    #[error(
        "the secret key is encrypted and no password was given\n  fix: give its password on the \
         terminal or with --password-file"
    )]
    PasswordNeeded,
    /// The password does not decrypt the secret key.
    #[error(
        "wrong password for the secret key: it does not decrypt to a key with a valid checksum\n  fix: \
         give the password the key was made with (minisign -G or exorun plugin keygen)"
    )]
    WrongPassword,
    /// An unencrypted secret key whose bytes do not hang together.
    #[error(
        "the secret key {key_id} is damaged: its checksum or its public half does not match its secret \
         half\n  fix: restore the key file from a backup, or make a new key pair"
    )]
    DamagedSecretKey {
        /// The key's id.
        key_id: KeyId,
    },
    /// The scrypt limits stored in a secret key are outside what exorun accepts.
    #[error(
        "the secret key asks scrypt for opslimit {opslimit} and memlimit {memlimit} bytes, which \
         exorun refuses (at most 4 GiB and 32 times the work of `minisign -G`)\n  fix: re-encrypt \
         it with `minisign -C`, or make a new key pair"
    )]
    KdfLimits {
        /// The operations limit in the key file.
        opslimit: u64,
        /// The memory limit in the key file.
        memlimit: u64,
    },
    /// A comment to sign holds a line break.
    #[error(
        "the {which} comment holds a line break; a minisign comment is one line\n  fix: put it on one line"
    )]
    CommentNotOneLine {
        /// "trusted" or "untrusted".
        which: &'static str,
    },
    /// A signature (file or embedded section) that cannot be read.
    #[error(
        "the {placement} signature is not a minisign signature: {reason}\n  fix: give the .minisig file \
         `exorun plugin sign --detached` or `minisign -S` wrote, unchanged"
    )]
    GarbledSignature {
        /// Where it was.
        placement: Placement,
        /// What is wrong with it.
        reason: String,
    },
    /// Not signed by the key that must have signed.
    #[error("{}", not_signed_by(*required, signed_by))]
    NotSignedBy {
        /// The trusted key that must have signed.
        required: KeyId,
        /// The keys that did sign (none: not signed at all).
        signed_by: Vec<KeyId>,
    },
    /// A trusted key's signature that does not match the signed bytes.
    #[error(
        "the artifact was modified after it was signed by key {key_id}: the {placement} signature no \
         longer matches its content (sha256 {content_digest} now)\n  fix: do not run it; get the \
         artifact again from whoever signed it"
    )]
    Modified {
        /// The key that signed.
        key_id: KeyId,
        /// Where the signature was.
        placement: Placement,
        /// The sha256 of the signed bytes as they are now.
        content_digest: String,
    },
    /// A trusted key's signature whose trusted comment was changed.
    #[error(
        "the trusted comment of the {placement} signature by key {key_id} was changed after signing\n  \
         fix: do not trust this signature; get it again from whoever signed"
    )]
    CommentModified {
        /// The key that signed.
        key_id: KeyId,
        /// Where the signature was.
        placement: Placement,
    },
    /// The artifact's sections cannot be read to the end, and no trusted signature vouches for
    /// what was read.
    #[error(
        "the artifact is damaged ({reason}): it was changed or cut short after it was made\n  fix: do \
         not run it; get it again from whoever built or signed it"
    )]
    Damaged {
        /// Where and why reading its sections stopped.
        reason: String,
    },
    /// What to sign or embed into is not a plugin artifact.
    #[error(transparent)]
    Artifact(#[from] crate::plugin::artifact::ArtifactError),
    /// OpenSSL failed (out of memory, a broken installation).
    #[error("OpenSSL failed: {0}")]
    Crypto(#[from] openssl::error::ErrorStack),
}

fn key_fix(kind: KeyKind) -> &'static str {
    match kind {
        KeyKind::Public => {
            "give the .pub file `minisign -G` or `exorun plugin keygen` wrote, or its second line (RW...)"
        }
        KeyKind::Secret => "give the .key file `minisign -G` or `exorun plugin keygen` wrote",
    }
}

fn not_signed_by(required: KeyId, signed_by: &[KeyId]) -> String {
    if signed_by.is_empty() {
        format!(
            "the artifact carries no signature, and key {required} must have signed it\n  fix: sign it \
             (exorun plugin sign) or give its .minisig file"
        )
    } else {
        format!(
            "signed by key {}, but the trusted key is {required}\n  fix: have the holder of key {required} \
             sign it, or trust the key that signed if you know whose it is",
            key_id::list(signed_by)
        )
    }
}
