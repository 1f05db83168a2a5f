//! Everything that can go wrong loading, checking, finding, using or making a certificate.

use std::path::PathBuf;

use chrono::{DateTime, Utc};

use super::{ContentKind, Damage, PasswordSource, StoreLocation};

/// Every way exorun reads a certificate password, for the fix when none was given.
const GIVE_PASSWORD: &str = "give the password with --certificate-password-file FILE, --certificate-password-env VAR \
     or --prompt-password (in a profile: certificate_password_file or certificate_password_env); when the \
     certificate comes from AZURE_CLIENT_CERTIFICATE_PATH, set AZURE_CLIENT_CERTIFICATE_PASSWORD";

/// What a certificate password protects: a whole PKCS#12 file, or a PEM private key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protected {
    /// A PKCS#12 (.pfx/.p12) file, whose integrity check (MAC) uses the password.
    Pkcs12File,
    /// An encrypted PEM private key.
    PrivateKey,
}

/// Why a certificate could not be loaded, checked, found, used or made.
///
/// Each message says what failed and why, then on its own line `  fix: ` and what the operator
/// can do about it, because these errors are read by an administrator looking at the log of an
/// unattended run (and `exorun doctor` shows the fix apart). Messages name the files and where a
/// password came from, never the password.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    /// A certificate file could not be read from disk.
    #[error(
        "cannot read the certificate file {path}: {reason}\n  fix: check the path and that this user may read the file"
    )]
    Read {
        /// The file that could not be read.
        path: PathBuf,
        /// What the operating system said (in the message, so not a source said twice).
        reason: std::io::Error,
    },

    /// The bytes given as a PFX are not PKCS#12, nor a damaged PKCS#12 file.
    #[error(
        "{origin} is not a PKCS#12 (.pfx/.p12) file: it is {content}\n  fix: {}",
        content.fix()
    )]
    NotPkcs12 {
        /// Where the bytes came from (a path or a description).
        origin: String,
        /// What the bytes look like instead.
        content: ContentKind,
    },

    /// The bytes start like a PKCS#12 file but are cut short or changed.
    #[error(
        "{origin} looks like a PKCS#12 (.pfx) file that is damaged or truncated: {damage}\n  fix: export the \
         certificate again with its private key, or copy the file again in binary mode (a text-mode transfer, \
         a clipboard or an interrupted download changes or cuts the bytes)"
    )]
    DamagedPkcs12 {
        /// Where the bytes came from.
        origin: String,
        /// How the file is broken.
        damage: Damage,
    },

    /// The PKCS#12 structure is valid but OpenSSL could not decrypt or decode its contents.
    #[error(
        "cannot read the contents of the PKCS#12 file {origin} ({detail})\n  fix: export it again from \
         the source, with its private key"
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
         not be loaded\n  fix: install the provider (on Debian it ships in libssl3 as ossl-modules/legacy.so), \
         or export the certificate again with AES-256 encryption"
    )]
    LegacyAlgorithmUnavailable {
        /// Where the bytes came from.
        origin: String,
    },

    /// A password was given but does not open the PFX or decrypt the private key.
    #[error("{}", wrong_password_message(origin, password, *protected))]
    WrongPassword {
        /// The file the password was for.
        origin: String,
        /// Where the password came from.
        password: PasswordSource,
        /// What it was to open.
        protected: Protected,
    },

    /// The PFX or the private key is password-protected and no password was given.
    #[error("{}", needs_password_message(origin, *protected))]
    NeedsPassword {
        /// The protected file.
        origin: String,
        /// What needs the password.
        protected: Protected,
    },

    /// The password contains a NUL character, which OpenSSL cannot take and no real password has.
    #[error(
        "the password {password} contains a NUL character, so it cannot be the password of {origin}\n  \
         fix: {}",
        password.check_advice(origin)
    )]
    PasswordNotUsable {
        /// Where the password was to be used.
        origin: String,
        /// Where the password came from.
        password: PasswordSource,
    },

    /// The file holds a certificate but not its private key.
    #[error(
        "{origin} has no private key, and exorun signs with the certificate's private key\n  fix: export \
         the PFX \"with private key\", or give the PEM key (in the same file, or as --key KEYFILE)"
    )]
    NoPrivateKey {
        /// Where the bytes came from.
        origin: String,
    },

    /// The file holds no certificate.
    #[error(
        "{origin} has no certificate (no \"BEGIN CERTIFICATE\" block or PKCS#12 certificate)\n  fix: give \
         the file that holds the certificate uploaded to the app registration"
    )]
    NoCertificate {
        /// Where the bytes came from.
        origin: String,
    },

    /// A file given as a PEM certificate or key is not PEM text.
    #[error("{origin} is not PEM text: it is {content}\n  fix: {}", content.fix())]
    NotPem {
        /// The file.
        origin: String,
        /// What it looks like instead.
        content: ContentKind,
    },

    /// A certificate was found but OpenSSL could not parse it.
    #[error(
        "the certificate in {origin} cannot be parsed ({detail})\n  fix: the file looks damaged or \
         truncated: export or copy the certificate again"
    )]
    UnreadableCertificate {
        /// Where the bytes came from.
        origin: String,
        /// OpenSSL's explanation.
        detail: String,
    },

    /// A private key block was found but OpenSSL could not parse it.
    #[error(
        "the private key in {origin} cannot be parsed ({detail})\n  fix: give a PKCS#8 or RSA PEM key \
         (\"BEGIN PRIVATE KEY\" or \"BEGIN RSA PRIVATE KEY\"); if it is one, it looks damaged: copy it again"
    )]
    UnreadableKey {
        /// Where the bytes came from.
        origin: String,
        /// OpenSSL's explanation.
        detail: String,
    },

    /// The file is neither PKCS#12 nor PEM.
    #[error(
        "{origin} is neither a PKCS#12 (.pfx/.p12) file nor a PEM file: it is {content}\n  fix: {}",
        content.fix()
    )]
    UnknownFormat {
        /// Where the bytes came from.
        origin: String,
        /// What the bytes look like.
        content: ContentKind,
    },

    /// The key is not RSA.
    #[error(
        "{origin} uses an {kind} key, and Exchange app-only auth needs an RSA key of at least 2048 bits\n  \
         fix: make a new certificate with `exorun cert new` and upload its .cer to the app registration"
    )]
    UnsupportedKey {
        /// Where the key came from.
        origin: String,
        /// The kind of key found, e.g. "EC" or "Ed25519".
        kind: String,
    },

    /// The RSA key is shorter than Entra ID accepts.
    #[error(
        "{origin} has a {bits}-bit RSA key, and Entra ID needs at least 2048 bits\n  fix: make a new \
         certificate with `exorun cert new` and upload its .cer to the app registration"
    )]
    KeyTooSmall {
        /// The key size found.
        bits: u32,
        /// Where the key came from.
        origin: String,
    },

    /// The private key belongs to a different certificate.
    #[error("{}", key_mismatch_message(cert_origin, key_origin))]
    KeyMismatch {
        /// Where the certificate came from.
        cert_origin: String,
        /// Where the private key came from (the same file for a PFX or a combined PEM).
        key_origin: String,
    },

    /// The certificate's validity period has ended.
    #[error(
        "certificate {thumbprint} expired on {not_after}, so Entra ID will refuse it\n  fix: create a new \
         certificate with `exorun cert new`, upload its .cer to the app registration (Certificates & secrets) \
         and point exorun at the new .pfx"
    )]
    Expired {
        /// SHA-1 thumbprint, upper-case hex.
        thumbprint: String,
        /// When the certificate stopped being valid.
        not_after: DateTime<Utc>,
    },

    /// The certificate's validity period has not started.
    #[error(
        "certificate {thumbprint} is not valid until {not_before}\n  fix: check this machine's clock \
         (`timedatectl`); if it is right, wait until then, or make a certificate that is valid now with \
         `exorun cert new` and upload its .cer to the app registration"
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
         are ignored)\n  fix: copy it from the app registration's \"Certificates & secrets\" page"
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
        "{path} already exists and exorun will not overwrite it\n  fix: choose another --name or --out directory"
    )]
    WouldOverwrite {
        /// The file that exists.
        path: PathBuf,
    },

    /// A new certificate file could not be written.
    #[error(
        "cannot write {path}: {source}\n  fix: check that the directory exists and this user may write to it"
    )]
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
        "OpenSSL failed while {action}: {source}\n  fix: this is unexpected: check the OpenSSL installation \
         (`openssl version`)"
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
        "\n  fix: {fix}, or give a certificate file instead of a thumbprint"
    ));
    msg
}

/// The message for [`CertError::WrongPassword`]: which password, for what, and what to check.
fn wrong_password_message(origin: &str, password: &PasswordSource, protected: Protected) -> String {
    match protected {
        Protected::Pkcs12File => format!(
            "the password {password} is wrong for {origin}: the file's integrity check (MAC) fails with it\n  \
             fix: {}; if it certainly does, {origin} is damaged: export it again",
            password.check_advice(origin)
        ),
        Protected::PrivateKey => format!(
            "the password {password} is wrong for the encrypted private key in {origin}: the key does not \
             decrypt with it\n  fix: {}",
            password.check_advice(&format!("the key in {origin}"))
        ),
    }
}

/// The message for [`CertError::NeedsPassword`]: what is protected, and every way to give it.
fn needs_password_message(origin: &str, protected: Protected) -> String {
    match protected {
        Protected::Pkcs12File => format!(
            "{origin} is password-protected and no password was given\n  fix: {GIVE_PASSWORD}"
        ),
        Protected::PrivateKey => format!(
            "the private key in {origin} is encrypted and no password was given\n  fix: {GIVE_PASSWORD}"
        ),
    }
}

/// The message for [`CertError::KeyMismatch`]: both files, and how to compare them.
fn key_mismatch_message(cert_origin: &str, key_origin: &str) -> String {
    if cert_origin == key_origin {
        format!(
            "the private key in {key_origin} does not belong to the certificate in the same file (their \
             public keys differ)\n  fix: export the certificate again together with its own private key"
        )
    } else {
        format!(
            "the private key in {key_origin} does not belong to the certificate in {cert_origin} (their \
             public keys differ)\n  fix: give the key that was made with this certificate; to compare, \
             `openssl x509 -noout -pubkey -in {cert_origin}` and `openssl pkey -pubout -in {key_origin}` \
             print the same public key for a matching pair"
        )
    }
}
