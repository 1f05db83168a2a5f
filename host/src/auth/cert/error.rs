//! Everything that can go wrong loading, checking, finding, using or making a certificate.

use std::path::PathBuf;

use chrono::{DateTime, Utc};

use super::StoreLocation;

/// Why a certificate could not be loaded, checked, found, used or made.
///
/// Each message says what failed, why, and what the operator can do about it, because these
/// errors are read by an administrator looking at the log of an unattended run.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    /// A certificate file could not be read from disk.
    #[error(
        "cannot read the certificate file {path}: {source}; check the path and its permissions"
    )]
    Read {
        /// The file that could not be read.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },

    /// The bytes given as a PFX are not PKCS#12 at all.
    #[error(
        "{origin} is not a PKCS#12 (.pfx/.p12) file; export the certificate \"with private key\" as a .pfx, or give \
         a PEM certificate and key instead"
    )]
    NotPkcs12 {
        /// Where the bytes came from (a path or a description).
        origin: String,
    },

    /// The PKCS#12 structure is valid but OpenSSL could not decrypt or decode its contents.
    #[error(
        "cannot read the contents of the PKCS#12 file {origin} ({detail}); re-export it from the source"
    )]
    UnreadablePkcs12 {
        /// Where the bytes came from.
        origin: String,
        /// OpenSSL's explanation.
        detail: String,
    },

    /// The PFX uses RC2-40 (older Windows exports) and OpenSSL's legacy provider is not available.
    #[error(
        "{origin} is encrypted with a legacy algorithm (RC2-40 or similar) and the OpenSSL legacy provider could \
         not be loaded; install it (on Debian it ships in libssl3 as ossl-modules/legacy.so) or re-export the \
         certificate with AES-256 encryption"
    )]
    LegacyAlgorithmUnavailable {
        /// Where the bytes came from.
        origin: String,
    },

    /// The password does not open the PFX or the encrypted private key.
    #[error(
        "the password for {origin} is wrong (PKCS#12 MAC check failed or the key did not decrypt); check \
         AZURE_CLIENT_CERTIFICATE_PASSWORD or the password file"
    )]
    WrongPassword {
        /// Where the bytes came from.
        origin: String,
    },

    /// The password contains a NUL character, which OpenSSL cannot take and no real password has.
    #[error(
        "the password for {origin} contains a NUL character, so it cannot be right; check how \
         AZURE_CLIENT_CERTIFICATE_PASSWORD or the password file was written"
    )]
    PasswordNotUsable {
        /// Where the password was to be used.
        origin: String,
    },

    /// The private key is encrypted and no password was given.
    #[error(
        "the private key in {origin} is encrypted and no password was given; set \
         AZURE_CLIENT_CERTIFICATE_PASSWORD or give a password file"
    )]
    KeyNeedsPassword {
        /// Where the key came from.
        origin: String,
    },

    /// The file holds a certificate but not its private key.
    #[error(
        "{origin} has no private key, and exorun signs with the certificate's private key; export the PFX \
         \"with private key\", or give the PEM key (in the same file or as a separate key file)"
    )]
    NoPrivateKey {
        /// Where the bytes came from.
        origin: String,
    },

    /// The file holds no certificate.
    #[error(
        "{origin} has no certificate (no \"BEGIN CERTIFICATE\" block or PKCS#12 certificate); give the file that \
         holds the certificate uploaded to the app registration"
    )]
    NoCertificate {
        /// Where the bytes came from.
        origin: String,
    },

    /// A certificate was found but OpenSSL could not parse it.
    #[error(
        "the certificate in {origin} cannot be parsed ({detail}); check that the file is not truncated"
    )]
    UnreadableCertificate {
        /// Where the bytes came from.
        origin: String,
        /// OpenSSL's explanation.
        detail: String,
    },

    /// A private key block was found but OpenSSL could not parse it.
    #[error(
        "the private key in {origin} cannot be parsed ({detail}); give a PKCS#8 or RSA PEM key \
         (\"BEGIN PRIVATE KEY\" or \"BEGIN RSA PRIVATE KEY\")"
    )]
    UnreadableKey {
        /// Where the bytes came from.
        origin: String,
        /// OpenSSL's explanation.
        detail: String,
    },

    /// The file is neither PKCS#12 nor PEM.
    #[error(
        "{origin} is neither a PKCS#12 (.pfx/.p12) file nor a PEM file; give a .pfx exported with its private \
         key, or a PEM certificate and key"
    )]
    UnknownFormat {
        /// Where the bytes came from.
        origin: String,
    },

    /// The key is not RSA.
    #[error(
        "{origin} uses an {kind} key; Exchange app-only auth needs an RSA key of at least 2048 bits: make one \
         with `exorun cert new`"
    )]
    UnsupportedKey {
        /// Where the key came from.
        origin: String,
        /// The kind of key found, e.g. "EC" or "Ed25519".
        kind: String,
    },

    /// The RSA key is shorter than Entra ID accepts.
    #[error(
        "{origin} has a {bits}-bit RSA key; Entra ID needs at least 2048 bits: make a new certificate with \
         `exorun cert new` and upload it to the app registration"
    )]
    KeyTooSmall {
        /// The key size found.
        bits: u32,
        /// Where the key came from.
        origin: String,
    },

    /// The private key belongs to a different certificate.
    #[error(
        "the private key in {origin} does not belong to its certificate (the public keys differ); give the key \
         that was created with this certificate"
    )]
    KeyMismatch {
        /// Where the key came from.
        origin: String,
    },

    /// The certificate's validity period has ended.
    #[error(
        "certificate {thumbprint} expired on {not_after}; Entra ID will refuse it: create a new certificate \
         (`exorun cert new`), upload its .cer to the app registration and point exorun at it"
    )]
    Expired {
        /// SHA-1 thumbprint, upper-case hex.
        thumbprint: String,
        /// When the certificate stopped being valid.
        not_after: DateTime<Utc>,
    },

    /// The certificate's validity period has not started.
    #[error(
        "certificate {thumbprint} is not valid until {not_before}; wait until then, or if it was just made \
         check this machine's clock for skew"
    )]
    NotYetValid {
        /// SHA-1 thumbprint, upper-case hex.
        thumbprint: String,
        /// When the certificate becomes valid.
        not_before: DateTime<Utc>,
    },

    /// The text given as a thumbprint is not one.
    #[error(
        "{given:?} is not a certificate thumbprint: a SHA-1 thumbprint is 40 hex characters (spaces and colons \
         are ignored); copy it from the app registration's \"Certificates & secrets\" page"
    )]
    BadThumbprint {
        /// What was given.
        given: String,
    },

    /// No certificate store holds a certificate with this thumbprint.
    #[error("{}", not_found_message(thumbprint, searched, unreadable))]
    ThumbprintNotFound {
        /// The normalised thumbprint that was looked for.
        thumbprint: String,
        /// Each store searched, its directory and how many certificates it held.
        searched: Vec<(StoreLocation, PathBuf, usize)>,
        /// Store files or directories that could not be read (permissions, other password, damage).
        unreadable: Vec<PathBuf>,
    },

    /// Writing a new certificate file would replace an existing one.
    #[error(
        "{path} already exists and exorun will not overwrite it; choose another name or directory"
    )]
    WouldOverwrite {
        /// The file that exists.
        path: PathBuf,
    },

    /// A new certificate file could not be written.
    #[error("cannot write {path}: {source}; check that the directory exists and is writable")]
    Write {
        /// The file being written.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },

    /// `exorun cert new` was asked for something it cannot make.
    #[error("cannot make the certificate: {reason}")]
    InvalidNewCertificate {
        /// What is wrong with the request and what is allowed.
        reason: String,
    },

    /// OpenSSL failed at a step that does not depend on the input (signing, hashing, encoding).
    #[error(
        "OpenSSL failed while {action}: {source}; this is unexpected, check the OpenSSL installation"
    )]
    Crypto {
        /// What was being done, e.g. "signing the client assertion".
        action: &'static str,
        /// OpenSSL's error stack.
        source: openssl::error::ErrorStack,
    },
}

impl CertError {
    /// Wraps an OpenSSL failure in a step that the input cannot cause.
    pub(super) fn crypto(
        action: &'static str,
    ) -> impl FnOnce(openssl::error::ErrorStack) -> CertError {
        move |source| CertError::Crypto { action, source }
    }
}

/// The message for [`CertError::ThumbprintNotFound`]: every place searched, and how to fix it.
fn not_found_message(
    thumbprint: &str,
    searched: &[(StoreLocation, PathBuf, usize)],
    unreadable: &[PathBuf],
) -> String {
    let mut msg = format!("no certificate with thumbprint {thumbprint} was found; searched:");
    for (location, dir, count) in searched {
        let plural = if *count == 1 { "" } else { "s" };
        msg.push_str(&format!(
            "\n  {location}: {} ({count} certificate{plural})",
            dir.display()
        ));
    }
    if !unreadable.is_empty() {
        msg.push_str("\nthese could not be read (permissions, a password other than the one given, or damage):");
        for path in unreadable {
            msg.push_str(&format!("\n  {}", path.display()));
        }
    }
    let user_dir = searched
        .iter()
        .find(|(location, _, _)| *location == StoreLocation::CurrentUser);
    let fix = match user_dir {
        Some((_, dir, _)) => format!(
            "copy the certificate, exported with its private key and no password, to \
             {}/{thumbprint}.pfx (or set EXORUN_CERT_STORE_USER or EXORUN_CERT_STORE_MACHINE to \
             search other directories)",
            dir.display()
        ),
        None => format!(
            "set EXORUN_CERT_STORE_USER to a directory and copy the certificate there, exported with \
             its private key and no password, as {thumbprint}.pfx"
        ),
    };
    msg.push_str(&format!(
        "\nto fix: {fix}, or give a certificate file instead of a thumbprint"
    ));
    msg
}
