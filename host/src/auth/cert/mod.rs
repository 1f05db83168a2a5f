//! The app-only credential: an X.509 certificate with its RSA private key.
//!
//! Entra ID app-only auth for Exchange Online proves the app's identity with a JWT (the client
//! assertion) signed by the private key of a certificate uploaded to the app registration. This
//! module loads that certificate from the places administrators keep it (a PFX, PEM files, or a
//! certificate-store directory looked up by thumbprint), checks it up front so a bad one fails with
//! an actionable message rather than an opaque `AADSTS` error, signs the assertion, and makes new
//! self-signed certificates for `exorun cert new`.

mod assertion;
mod error;
mod load;
mod make;
mod password;
mod sniff;
mod store;
mod subject;
#[cfg(test)]
mod testkit;

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, TimeDelta, Utc};
use openssl::asn1::{Asn1Time, Asn1TimeRef};
use openssl::hash::MessageDigest;
use openssl::pkey::{Id, PKey, Private};
use openssl::x509::{X509, X509NameRef};

pub use assertion::{AssertionAlg, client_assertion};
pub use error::{CertError, Protected};
pub use make::{Bundle, new_self_signed, write_bundle};
pub use password::{Password, PasswordSource};
pub use sniff::{ContentKind, Damage};
pub use store::{CertStore, StoreLocation, find_by_thumbprint, normalize_thumbprint};
pub use subject::Subject;

/// The smallest RSA key Entra ID accepts for certificate credentials.
const MIN_RSA_BITS: u32 = 2048;

/// How long before expiry [`Certificate::check`] starts warning, so renewal happens before runs fail.
const EXPIRY_WARNING: TimeDelta = TimeDelta::days(30);

/// An X.509 certificate with its RSA private key, checked and ready to sign client assertions.
///
/// A value of this type always holds an RSA key of at least 2048 bits that matches the
/// certificate; validity dates are checked separately by [`Certificate::check`] because they
/// depend on the clock. `Debug` shows the subject, thumbprint and validity, never key material.
#[derive(Clone)]
pub struct Certificate {
    x509: X509,
    key: PKey<Private>,
    origin: String,
    subject: String,
    sha1: Vec<u8>,
    sha256: Vec<u8>,
    der: Vec<u8>,
    pem: String,
    not_before: DateTime<Utc>,
    not_after: DateTime<Utc>,
}

impl Certificate {
    /// Pairs a certificate with its private key after checking the key is RSA, at least 2048 bits
    /// and belongs to the certificate, so every later failure is about something else. The origins
    /// name where each came from (the same file for a PFX or a combined PEM).
    fn assemble(
        x509: X509,
        key: PKey<Private>,
        origin: &str,
        key_origin: &str,
    ) -> Result<Certificate, CertError> {
        check_key(&x509, &key, origin, key_origin)?;
        let unreadable = |detail: String| CertError::UnreadableCertificate {
            origin: origin.to_owned(),
            detail,
        };
        let der = x509.to_der().map_err(|e| unreadable(e.to_string()))?;
        let pem = x509.to_pem().map_err(|e| unreadable(e.to_string()))?;
        let pem = String::from_utf8(pem).map_err(|e| unreadable(e.to_string()))?;
        let sha1 = x509
            .digest(MessageDigest::sha1())
            .map_err(CertError::crypto("hashing the certificate"))?;
        let sha256 = x509
            .digest(MessageDigest::sha256())
            .map_err(CertError::crypto("hashing the certificate"))?;
        let not_before = asn1_to_utc(x509.not_before()).map_err(&unreadable)?;
        let not_after = asn1_to_utc(x509.not_after()).map_err(&unreadable)?;
        Ok(Certificate {
            subject: distinguished_name(x509.subject_name()),
            x509,
            key,
            origin: origin.to_owned(),
            sha1: sha1.to_vec(),
            sha256: sha256.to_vec(),
            der,
            pem,
            not_before,
            not_after,
        })
    }

    /// SHA-1 thumbprint in upper-case hex, as the Azure portal and Windows show it.
    pub fn thumbprint_sha1_hex(&self) -> String {
        thumbprint_hex(&self.sha1)
    }

    /// The JWT `x5t` header value: base64url (no padding) of the certificate's SHA-1 digest.
    pub fn x5t(&self) -> String {
        URL_SAFE_NO_PAD.encode(&self.sha1)
    }

    /// The JWT `x5t#S256` header value: base64url (no padding) of the certificate's SHA-256 digest.
    pub fn x5t_s256(&self) -> String {
        URL_SAFE_NO_PAD.encode(&self.sha256)
    }

    /// The subject distinguished name, most specific part first, e.g. `CN=exorun-automation`.
    pub fn subject(&self) -> String {
        self.subject.clone()
    }

    /// When the certificate becomes valid.
    pub fn not_before(&self) -> DateTime<Utc> {
        self.not_before
    }

    /// When the certificate stops being valid.
    pub fn not_after(&self) -> DateTime<Utc> {
        self.not_after
    }

    /// Size of the RSA key in bits.
    pub fn key_bits(&self) -> u32 {
        self.key.bits()
    }

    /// The certificate in DER, as the JWT `x5c` header and the `.cer` upload need it.
    pub fn der(&self) -> Vec<u8> {
        self.der.clone()
    }

    /// The certificate (without key) as a PEM `CERTIFICATE` block.
    pub fn cert_pem(&self) -> String {
        self.pem.clone()
    }

    /// Where the certificate was loaded from, for messages.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Checks the certificate is inside its validity period at `now`, so an expired credential is
    /// reported as such rather than as an `AADSTS700027` from Entra ID. Logs a warning when fewer
    /// than 30 days remain, giving time to renew before unattended runs start failing.
    pub fn check(&self, now: DateTime<Utc>) -> Result<(), CertError> {
        if now < self.not_before {
            return Err(CertError::NotYetValid {
                thumbprint: self.thumbprint_sha1_hex(),
                not_before: self.not_before,
            });
        }
        if now > self.not_after {
            return Err(CertError::Expired {
                thumbprint: self.thumbprint_sha1_hex(),
                not_after: self.not_after,
            });
        }
        let left = self.not_after - now;
        if left < EXPIRY_WARNING {
            tracing::warn!(
                thumbprint = %self.thumbprint_sha1_hex(),
                not_after = %self.not_after,
                days_left = left.num_days(),
                "the app-only certificate expires soon: create a new one with `exorun cert new` and upload it"
            );
        }
        Ok(())
    }

    /// The certificate as OpenSSL holds it, for building PKCS#12 files.
    fn x509(&self) -> &X509 {
        &self.x509
    }

    /// The private key, for signing and export; never leaves the `cert` module.
    fn key(&self) -> &PKey<Private> {
        &self.key
    }
}

impl fmt::Debug for Certificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Certificate")
            .field("subject", &self.subject)
            .field("thumbprint", &self.thumbprint_sha1_hex())
            .field("not_before", &self.not_before)
            .field("not_after", &self.not_after)
            .field("key", &format_args!("RSA {} bits", self.key_bits()))
            .field("origin", &self.origin)
            .finish()
    }
}

/// Refuses keys Exchange app-only auth cannot use, before anything is sent to Entra ID.
fn check_key(
    x509: &X509,
    key: &PKey<Private>,
    cert_origin: &str,
    key_origin: &str,
) -> Result<(), CertError> {
    let kind = match key.id() {
        Id::RSA => None,
        Id::EC => Some("EC"),
        Id::ED25519 => Some("Ed25519"),
        Id::ED448 => Some("Ed448"),
        Id::DSA => Some("DSA"),
        Id::RSA_PSS => Some("RSA-PSS-only"),
        _ => Some("unrecognised"),
    };
    if let Some(kind) = kind {
        return Err(CertError::UnsupportedKey {
            origin: key_origin.to_owned(),
            kind: kind.to_owned(),
        });
    }
    if key.bits() < MIN_RSA_BITS {
        return Err(CertError::KeyTooSmall {
            bits: key.bits(),
            origin: key_origin.to_owned(),
        });
    }
    let matches = x509
        .public_key()
        .map(|public| public.public_eq(key))
        .unwrap_or(false);
    if !matches {
        return Err(CertError::KeyMismatch {
            cert_origin: cert_origin.to_owned(),
            key_origin: key_origin.to_owned(),
        });
    }
    Ok(())
}

/// Upper-case hex of a digest.
fn thumbprint_hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02X}")).collect()
}

/// The SHA-1 thumbprint of a bare certificate, used to match store entries before loading keys.
fn x509_thumbprint(x509: &X509) -> Result<String, CertError> {
    let digest = x509
        .digest(MessageDigest::sha1())
        .map_err(CertError::crypto("hashing the certificate"))?;
    Ok(thumbprint_hex(&digest))
}

/// Converts an ASN.1 time to UTC by measuring it from the Unix epoch.
fn asn1_to_utc(time: &Asn1TimeRef) -> Result<DateTime<Utc>, String> {
    let epoch = Asn1Time::from_unix(0).map_err(|e| e.to_string())?;
    let diff = epoch.diff(time).map_err(|e| e.to_string())?;
    let secs = i64::from(diff.days) * 86_400 + i64::from(diff.secs);
    DateTime::from_timestamp(secs, 0)
        .ok_or_else(|| format!("validity date {secs} s from 1970 is out of range"))
}

/// A distinguished name as Windows and the Azure portal write it: `CN=…, O=…`, most specific first.
fn distinguished_name(name: &X509NameRef) -> String {
    let parts: Vec<String> = name
        .entries()
        .map(|entry| {
            let key = entry.object().nid().short_name().unwrap_or("?");
            let value = entry.data().to_string().unwrap_or_default();
            format!("{key}={value}")
        })
        .collect();
    parts.into_iter().rev().collect::<Vec<_>>().join(", ")
}
