//! Vetted plugin sharing: Ed25519 signatures on plugin artifacts, in minisign's formats, so teams
//! sign and check with the `minisign` tool they already use or with `exorun plugin sign|verify`.
//!
//! Keys ([`PublicKey`], [`SecretKeyFile`] → [`SecretKey`]) and signatures ([`Signature`]) read and
//! write the very bytes minisign does. A signature covers an artifact without its signature
//! sections ([`signed_bytes`]); it sits beside the artifact as a `.minisig` file or inside it
//! ([`embed`]), several per artifact (author, reviewer). [`verify`] checks them against the keys
//! an operator trusts, and [`content_digest`] is what a policy pins.

mod artifact;
mod error;
#[cfg(test)]
mod fixtures;
mod kdf;
mod key_id;
mod public_key;
mod secret_key;
mod signature;

pub use artifact::{
    SIGNATURE_SECTION, Signer, UntrustedSignature, Verified, content_digest, embed,
    embedded_signatures, sign_artifact, signed_bytes, verify,
};
pub use error::{KeyKind, Placement, SigningError};
pub use key_id::KeyId;
pub use public_key::PublicKey;
pub use secret_key::{SecretKey, SecretKeyFile};
pub use signature::{Algorithm, Signature};
