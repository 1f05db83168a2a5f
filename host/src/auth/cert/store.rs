//! Finding a certificate by thumbprint in certificate-store directories, the Linux counterpart of
//! `Connect-ExchangeOnline -CertificateThumbprint` on Windows.
//!
//! .NET (and so PowerShell) on Linux keeps the CurrentUser\My store as password-less PFX files
//! named `<THUMBPRINT>.pfx` under `~/.dotnet/corefx/cryptography/x509stores/my`. File names are not
//! trusted: every file's certificate is hashed and compared.

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};

use super::load::{open_pfx, pem_certificates};
use super::{CertError, Certificate, Password, x509_thumbprint};

/// Which certificate store a directory stands for, as Windows names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StoreLocation {
    /// The running user's personal store (`CurrentUser\My`), searched first.
    CurrentUser,
    /// The machine-wide store (`LocalMachine\My`), for service accounts sharing one certificate.
    LocalMachine,
}

impl fmt::Display for StoreLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StoreLocation::CurrentUser => "CurrentUser\\My",
            StoreLocation::LocalMachine => "LocalMachine\\My",
        })
    }
}

/// A directory searched for certificates, standing for one Windows store location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertStore {
    /// Which store this directory stands for.
    pub location: StoreLocation,
    /// The directory holding `*.pfx`, `*.p12` and `*.pem` files.
    pub dir: PathBuf,
}

/// Overrides the CurrentUser store directory.
const USER_STORE_VAR: &str = "EXORUN_CERT_STORE_USER";
/// Overrides the LocalMachine store directory.
const MACHINE_STORE_VAR: &str = "EXORUN_CERT_STORE_MACHINE";
/// Where .NET on Linux keeps CurrentUser\My, under `$HOME`.
const DOTNET_USER_STORE: &str = ".dotnet/corefx/cryptography/x509stores/my";
/// exorun's machine-wide store.
const MACHINE_STORE: &str = "/etc/exorun/x509stores/my";

impl CertStore {
    /// The stores to search, CurrentUser first, from the process environment.
    pub fn defaults() -> Vec<CertStore> {
        CertStore::from_env(|name| std::env::var_os(name))
    }

    /// The stores to search, CurrentUser first, reading `HOME`, `EXORUN_CERT_STORE_USER` and
    /// `EXORUN_CERT_STORE_MACHINE` through `lookup` so callers and tests control the environment.
    /// Without an override or `HOME` there is no CurrentUser store.
    pub fn from_env(lookup: impl Fn(&str) -> Option<OsString>) -> Vec<CertStore> {
        let set = |name: &str| {
            lookup(name)
                .filter(|value| !value.is_empty())
                .map(PathBuf::from)
        };
        let user =
            set(USER_STORE_VAR).or_else(|| set("HOME").map(|home| home.join(DOTNET_USER_STORE)));
        let machine = set(MACHINE_STORE_VAR).unwrap_or_else(|| PathBuf::from(MACHINE_STORE));
        user.map(|dir| CertStore {
            location: StoreLocation::CurrentUser,
            dir,
        })
        .into_iter()
        .chain([CertStore {
            location: StoreLocation::LocalMachine,
            dir: machine,
        }])
        .collect()
    }
}

/// Normalises a thumbprint as people paste it: drops spaces, colons, hyphens and the invisible
/// left-to-right mark the Windows certificate dialog copies, and upper-cases it. Anything that is
/// then not 40 hex characters is refused, since a SHA-1 thumbprint is exactly that.
pub fn normalize_thumbprint(given: &str) -> Result<String, CertError> {
    let cleaned: String = given
        .chars()
        .filter(|c| {
            !c.is_whitespace() && !matches!(c, ':' | '-' | '\u{200E}' | '\u{200F}' | '\u{FEFF}')
        })
        .collect::<String>()
        .to_ascii_uppercase();
    if cleaned.len() == 40 && cleaned.chars().all(|c| c.is_ascii_hexdigit()) {
        Ok(cleaned)
    } else {
        Err(CertError::BadThumbprint {
            given: given.to_owned(),
        })
    }
}

/// Finds the certificate whose SHA-1 thumbprint is `thumbprint` in `stores`, in order. PFX files
/// are opened with no password first, then with `password`; PEM keys use `password` if encrypted.
/// A store directory that does not exist is skipped. When nothing matches, the error lists every
/// directory searched and how many certificates each held.
pub fn find_by_thumbprint(
    stores: &[CertStore],
    thumbprint: &str,
    password: Option<&Password>,
) -> Result<Certificate, CertError> {
    let wanted = normalize_thumbprint(thumbprint)?;
    let mut searched = Vec::new();
    let mut unreadable = Vec::new();
    for store in stores {
        let mut seen = 0;
        for (path, kind) in certificate_files(&store.dir, &mut unreadable) {
            match inspect(&path, kind, &wanted, password) {
                Inspected::Match(result) => return result,
                Inspected::Other => seen += 1,
                Inspected::Unreadable => unreadable.push(path),
                Inspected::NotACertificate => {}
            }
        }
        searched.push((store.location, store.dir.clone(), seen));
    }
    Err(CertError::ThumbprintNotFound {
        thumbprint: wanted,
        searched,
        unreadable,
    })
}

/// What one store file turned out to be.
enum Inspected {
    /// It holds the wanted certificate: the loaded certificate, or why it cannot be used.
    Match(Result<Certificate, CertError>),
    /// It holds some other certificate.
    Other,
    /// It could not be read or opened.
    Unreadable,
    /// It holds no certificate (e.g. a lone PEM key), so it is not counted.
    NotACertificate,
}

/// The `*.pfx`, `*.p12` and `*.pem` files in a store directory, sorted by name. A missing directory
/// has none; one that cannot be listed is noted as unreadable.
fn certificate_files(dir: &Path, unreadable: &mut Vec<PathBuf>) -> Vec<(PathBuf, FileKind)> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
        Err(error) => {
            tracing::warn!(dir = %dir.display(), %error, "cannot list certificate store");
            unreadable.push(dir.to_owned());
            return Vec::new();
        }
    };
    let mut files: Vec<(PathBuf, FileKind)> = entries
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.is_file())
        .filter_map(|path| file_kind(&path).map(|kind| (path, kind)))
        .collect();
    files.sort_by(|a, b| a.0.cmp(&b.0));
    files
}

/// The kinds of file a store holds, by extension.
#[derive(Clone, Copy)]
enum FileKind {
    Pkcs12,
    Pem,
}

/// Which kind of store file `path` is, if any.
fn file_kind(path: &Path) -> Option<FileKind> {
    let extension = path.extension()?.to_str()?.to_ascii_lowercase();
    match extension.as_str() {
        "pfx" | "p12" => Some(FileKind::Pkcs12),
        "pem" => Some(FileKind::Pem),
        _ => None,
    }
}

/// Reads one store file and compares its certificate with `wanted` before touching the key.
fn inspect(path: &Path, kind: FileKind, wanted: &str, password: Option<&Password>) -> Inspected {
    let origin = path.display().to_string();
    let Ok(bytes) = std::fs::read(path) else {
        return Inspected::Unreadable;
    };
    match kind {
        FileKind::Pkcs12 => inspect_pfx(&bytes, wanted, password, &origin),
        FileKind::Pem => inspect_pem(&bytes, wanted, password, &origin),
    }
}

/// Opens a store PFX with no password, then with `password`, and loads it if it is the one.
fn inspect_pfx(bytes: &[u8], wanted: &str, password: Option<&Password>, origin: &str) -> Inspected {
    let opened = match (open_pfx(bytes, None, origin), password) {
        (Err(CertError::NeedsPassword { .. }), Some(password)) => {
            open_pfx(bytes, Some(password), origin)
        }
        (first, _) => first,
    };
    let Ok(contents) = opened else {
        return Inspected::Unreadable;
    };
    let Some(cert) = contents.cert else {
        return Inspected::Unreadable;
    };
    match x509_thumbprint(&cert) {
        Ok(thumbprint) if thumbprint == wanted => Inspected::Match(match contents.key {
            Some(key) => Certificate::assemble(cert, key, origin, origin),
            None => Err(CertError::NoPrivateKey {
                origin: origin.to_owned(),
            }),
        }),
        Ok(_) => Inspected::Other,
        Err(_) => Inspected::Unreadable,
    }
}

/// Compares a store PEM's first certificate (the leaf, by convention) and loads the file if it
/// is the one.
fn inspect_pem(bytes: &[u8], wanted: &str, password: Option<&Password>, origin: &str) -> Inspected {
    let certs = match pem_certificates(bytes, origin) {
        Ok(certs) => certs,
        Err(CertError::NoCertificate { .. }) => return Inspected::NotACertificate,
        Err(_) => return Inspected::Unreadable,
    };
    match certs.first().map(x509_thumbprint) {
        Some(Ok(thumbprint)) if thumbprint == wanted => Inspected::Match(
            Certificate::from_pem_file_contents(bytes, password, origin).and_then(|cert| {
                if cert.thumbprint_sha1_hex() == wanted {
                    Ok(cert)
                } else {
                    Err(CertError::KeyMismatch {
                        cert_origin: origin.to_owned(),
                        key_origin: origin.to_owned(),
                    })
                }
            }),
        ),
        Some(Ok(_)) => Inspected::Other,
        _ => Inspected::Unreadable,
    }
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
