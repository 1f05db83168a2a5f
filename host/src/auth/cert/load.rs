//! Loading a certificate and its key from PKCS#12 (PFX) or PEM, as administrators export them.

use std::path::Path;
use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use openssl::error::ErrorStack;
use openssl::pkcs12::Pkcs12;
use openssl::pkey::{PKey, Private};
use openssl::provider::Provider;
use openssl::x509::X509;

use super::{CertError, Certificate, ContentKind, Damage, Password, Protected};

/// The OpenSSL legacy provider, loaded once and kept for the life of the process: dropping a
/// `Provider` unloads it, and older Windows PFX exports need its RC2-40 cipher.
static LEGACY_PROVIDER: OnceLock<Option<Provider>> = OnceLock::new();

/// Loads the OpenSSL legacy provider (once per process) so RC2-40 PFX files can be opened;
/// returns whether it is available. Failure only matters for such files, so it is logged, not fatal.
pub(super) fn ensure_legacy_provider() -> bool {
    LEGACY_PROVIDER
        .get_or_init(|| match Provider::try_load(None, "legacy", true) {
            Ok(provider) => Some(provider),
            Err(error) => {
                tracing::warn!(%error, "the OpenSSL legacy provider is not available; RC2-40 PFX files cannot be read");
                None
            }
        })
        .is_some()
}

/// What a PKCS#12 file holds, before the key is checked: the store looks at the certificate first.
pub(super) struct PfxContents {
    /// The certificate that goes with the private key.
    pub(super) cert: Option<X509>,
    /// The private key.
    pub(super) key: Option<PKey<Private>>,
}

/// Opens a PKCS#12 file with `password`; `None` opens files exported without one.
pub(super) fn open_pfx(
    bytes: &[u8],
    password: Option<&Password>,
    origin: &str,
) -> Result<PfxContents, CertError> {
    ensure_legacy_provider();
    let pfx = Pkcs12::from_der(bytes).map_err(|_| not_pkcs12(bytes, origin))?;
    let passphrase = password.map_or("", Password::expose);
    if let Some(password) = password.filter(|_| passphrase.contains('\0')) {
        return Err(CertError::PasswordNotUsable {
            origin: origin.to_owned(),
            password: password.source().clone(),
        });
    }
    let parsed = pfx
        .parse2(passphrase)
        .map_err(|error| classify_pfx_error(&error, password, origin))?;
    Ok(PfxContents {
        cert: parsed.cert,
        key: parsed.pkey,
    })
}

/// Says what bytes that OpenSSL will not decode as PKCS#12 are: a damaged or truncated PKCS#12
/// file, or something else entirely.
fn not_pkcs12(bytes: &[u8], origin: &str) -> CertError {
    match Damage::of_pkcs12(bytes) {
        Some(damage) => CertError::DamagedPkcs12 {
            origin: origin.to_owned(),
            damage,
        },
        None => CertError::NotPkcs12 {
            origin: origin.to_owned(),
            content: ContentKind::of(bytes),
        },
    }
}

/// Turns OpenSSL's PKCS#12 failure into the cause an administrator can act on: a failed MAC
/// check means a wrong password when one was given, and a missing one when none was.
fn classify_pfx_error(error: &ErrorStack, password: Option<&Password>, origin: &str) -> CertError {
    let has_reason = |needle: &str| {
        error.errors().iter().any(|e| {
            e.reason()
                .is_some_and(|r| r.to_ascii_lowercase().contains(needle))
        })
    };
    let origin = origin.to_owned();
    if has_reason("mac verify failure") {
        match password {
            Some(password) => CertError::WrongPassword {
                origin,
                password: password.source().clone(),
                protected: Protected::Pkcs12File,
            },
            None => CertError::NeedsPassword {
                origin,
                protected: Protected::Pkcs12File,
            },
        }
    } else if has_reason("unsupported") {
        CertError::LegacyAlgorithmUnavailable { origin }
    } else {
        CertError::UnreadablePkcs12 {
            origin,
            detail: error.to_string(),
        }
    }
}

impl Certificate {
    /// Loads a PKCS#12 (.pfx/.p12) file, including the RC2-40 and 3DES files older Windows
    /// versions export. `password` is `None` for files exported without one; `origin` names the
    /// source in error messages.
    pub fn from_pfx(
        bytes: &[u8],
        password: Option<&Password>,
        origin: &str,
    ) -> Result<Certificate, CertError> {
        let contents = open_pfx(bytes, password, origin)?;
        let key = contents.key.ok_or_else(|| CertError::NoPrivateKey {
            origin: origin.to_owned(),
        })?;
        let cert = contents.cert.ok_or_else(|| CertError::NoCertificate {
            origin: origin.to_owned(),
        })?;
        Certificate::assemble(cert, key, origin, origin)
    }

    /// Loads a PEM certificate and a PEM private key (PKCS#8, traditional RSA, or encrypted
    /// PKCS#8, which needs `key_password`) held in memory; `origin` names both in messages. If
    /// `cert_pem` holds a chain, the certificate that matches the key is used.
    pub fn from_pem(
        cert_pem: &[u8],
        key_pem: &[u8],
        key_password: Option<&Password>,
        origin: &str,
    ) -> Result<Certificate, CertError> {
        pem_pair((cert_pem, origin), (key_pem, origin), key_password)
    }

    /// Loads a PEM certificate file and a separate PEM private key file, naming each file in
    /// messages, so a key that belongs to another certificate is reported against both.
    pub fn from_pem_files(
        cert: &Path,
        key: &Path,
        key_password: Option<&Password>,
    ) -> Result<Certificate, CertError> {
        let cert_pem = read_pem_file(cert)?;
        let key_pem = read_pem_file(key)?;
        pem_pair(
            (&cert_pem, &cert.display().to_string()),
            (&key_pem, &key.display().to_string()),
            key_password,
        )
    }

    /// Loads one PEM file that holds both the certificate and its private key, in either order.
    pub fn from_pem_file_contents(
        bytes: &[u8],
        key_password: Option<&Password>,
        origin: &str,
    ) -> Result<Certificate, CertError> {
        Certificate::from_pem(bytes, bytes, key_password, origin)
    }

    /// Loads a certificate file, telling PKCS#12 from PEM by its content rather than its name.
    /// `password` opens the PFX or the encrypted PEM key. A PEM whose key is in a separate file
    /// needs [`Certificate::from_pem_files`] instead.
    pub fn from_path(path: &Path, password: Option<&Password>) -> Result<Certificate, CertError> {
        let bytes = read_file(path)?;
        let origin = path.display().to_string();
        let content = ContentKind::of(&bytes);
        match content {
            ContentKind::Pem => {
                return Certificate::from_pem_file_contents(&bytes, password, &origin);
            }
            ContentKind::Pkcs12 => return Certificate::from_pfx(&bytes, password, &origin),
            ContentKind::DerCertificate => return Err(CertError::NoPrivateKey { origin }),
            ContentKind::Empty | ContentKind::Text | ContentKind::Binary => {}
        }
        // Azure Key Vault downloads a PFX as base64 text.
        if let Some(decoded) = base64_text(&bytes).filter(|der| Pkcs12::from_der(der).is_ok()) {
            return Certificate::from_pfx(&decoded, password, &origin);
        }
        if let Some(damage) = Damage::of_pkcs12(&bytes)
            .or_else(|| base64_text(&bytes).and_then(|der| Damage::of_pkcs12(&der)))
        {
            return Err(CertError::DamagedPkcs12 { origin, damage });
        }
        let extension = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        if matches!(extension.as_deref(), Some("pfx" | "p12")) {
            return Err(CertError::NotPkcs12 { origin, content });
        }
        Err(CertError::UnknownFormat { origin, content })
    }
}

/// Reads a certificate or key file.
fn read_file(path: &Path) -> Result<Vec<u8>, CertError> {
    std::fs::read(path).map_err(|reason| CertError::Read {
        path: path.to_owned(),
        reason,
    })
}

/// Reads a file that must be PEM, saying what it is instead when it is not (a PFX given with
/// `--key`, a DER certificate, an empty file).
fn read_pem_file(path: &Path) -> Result<Vec<u8>, CertError> {
    let bytes = read_file(path)?;
    match ContentKind::of(&bytes) {
        ContentKind::Pem => Ok(bytes),
        content => Err(CertError::NotPem {
            origin: path.display().to_string(),
            content,
        }),
    }
}

/// Pairs the certificate in `cert` with the key in `key`, each given as bytes and where they
/// came from. If the certificate PEM holds a chain, the certificate that matches the key is used.
fn pem_pair(
    (cert_pem, cert_origin): (&[u8], &str),
    (key_pem, key_origin): (&[u8], &str),
    key_password: Option<&Password>,
) -> Result<Certificate, CertError> {
    let certs = pem_certificates(cert_pem, cert_origin)?;
    let key_block = pem_blocks(key_pem)
        .into_iter()
        .find(|block| block.label.ends_with("PRIVATE KEY"))
        .ok_or_else(|| CertError::NoPrivateKey {
            origin: key_origin.to_owned(),
        })?;
    let key = decode_key(&key_block, key_password, key_origin)?;
    let position = certs
        .iter()
        .position(|cert| cert.public_key().is_ok_and(|public| public.public_eq(&key)))
        .unwrap_or(0);
    let cert = certs
        .into_iter()
        .nth(position)
        .ok_or_else(|| CertError::NoCertificate {
            origin: cert_origin.to_owned(),
        })?;
    Certificate::assemble(cert, key, cert_origin, key_origin)
}

/// One `-----BEGIN <label>-----` … `-----END <label>-----` block, markers included.
struct PemBlock<'a> {
    /// The label, e.g. `CERTIFICATE` or `ENCRYPTED PRIVATE KEY`.
    label: String,
    /// The whole block, as OpenSSL's PEM readers take it.
    text: &'a [u8],
}

/// Finds every PEM block in a file, so certificate and key can come from one file in any order.
fn pem_blocks(bytes: &[u8]) -> Vec<PemBlock<'_>> {
    const BEGIN: &[u8] = b"-----BEGIN ";
    const DASHES: &[u8] = b"-----";
    let mut blocks = Vec::new();
    let mut at = 0;
    while let Some(begin) = find(bytes, BEGIN, at) {
        let label_start = begin + BEGIN.len();
        let Some(label_end) = find(bytes, DASHES, label_start) else {
            break;
        };
        let label = String::from_utf8_lossy(&bytes[label_start..label_end]).into_owned();
        let end_marker = format!("-----END {label}-----");
        let Some(end) = find(bytes, end_marker.as_bytes(), label_end) else {
            break;
        };
        let block_end = end + end_marker.len();
        blocks.push(PemBlock {
            label,
            text: &bytes[begin..block_end],
        });
        at = block_end;
    }
    blocks
}

/// Parses every `CERTIFICATE` block; a file without one is an error.
pub(super) fn pem_certificates(bytes: &[u8], origin: &str) -> Result<Vec<X509>, CertError> {
    let certs = pem_blocks(bytes)
        .into_iter()
        .filter(|block| block.label == "CERTIFICATE")
        .map(|block| {
            X509::from_pem(block.text).map_err(|e| CertError::UnreadableCertificate {
                origin: origin.to_owned(),
                detail: e.to_string(),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    if certs.is_empty() {
        return Err(CertError::NoCertificate {
            origin: origin.to_owned(),
        });
    }
    Ok(certs)
}

/// Decodes a private key block. The password is always passed explicitly: with none, OpenSSL
/// would prompt on the terminal, which would hang an unattended run.
fn decode_key(
    block: &PemBlock<'_>,
    password: Option<&Password>,
    origin: &str,
) -> Result<PKey<Private>, CertError> {
    let encrypted = block.label == "ENCRYPTED PRIVATE KEY"
        || find(block.text, b"Proc-Type: 4,ENCRYPTED", 0).is_some();
    let password = match (encrypted, password) {
        (true, None) => {
            return Err(CertError::NeedsPassword {
                origin: origin.to_owned(),
                protected: Protected::PrivateKey,
            });
        }
        (true, Some(password)) => Some(password),
        (false, _) => None,
    };
    let passphrase = password.map_or("", Password::expose);
    if let Some(password) = password.filter(|_| passphrase.contains('\0')) {
        return Err(CertError::PasswordNotUsable {
            origin: origin.to_owned(),
            password: password.source().clone(),
        });
    }
    PKey::private_key_from_pem_passphrase(block.text, passphrase.as_bytes()).map_err(|error| {
        match password {
            Some(password) => CertError::WrongPassword {
                origin: origin.to_owned(),
                password: password.source().clone(),
                protected: Protected::PrivateKey,
            },
            None => CertError::UnreadableKey {
                origin: origin.to_owned(),
                detail: error.to_string(),
            },
        }
    })
}

/// Decodes a file that is nothing but base64 text (line breaks allowed).
fn base64_text(bytes: &[u8]) -> Option<Vec<u8>> {
    let compact: Vec<u8> = bytes
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    if compact.is_empty() {
        return None;
    }
    STANDARD.decode(compact).ok()
}

/// Position of a non-empty `needle` in `haystack` at or after `from`.
fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|window| window == needle)
        .map(|position| position + from)
}

#[cfg(test)]
#[path = "load_tests.rs"]
mod tests;
