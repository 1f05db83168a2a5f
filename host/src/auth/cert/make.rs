//! What `exorun cert new` makes: a self-signed certificate for the app registration and the
//! files to upload (`.cer`) and to keep (`.pem`, `.pfx`).

use std::io::Write as _;
use std::path::{Path, PathBuf};

use chrono::{DateTime, TimeDelta, Utc};
use openssl::asn1::Asn1Time;
use openssl::bn::{BigNum, MsbOption};
use openssl::error::ErrorStack;
use openssl::hash::MessageDigest;
use openssl::pkcs12::Pkcs12;
use openssl::pkey::{HasPrivate, PKey, PKeyRef};
use openssl::rsa::Rsa;
use openssl::x509::X509;
use openssl::x509::extension::{ExtendedKeyUsage, KeyUsage, SubjectKeyIdentifier};

use super::subject::Subject;
use super::{CertError, Certificate, Password};

/// RSA key size for new certificates: above Entra ID's 2048-bit floor with room to spare.
const NEW_KEY_BITS: u32 = 3072;
/// New certificates start this far in the past so a slightly slow clock at Entra ID accepts them at once.
const BACKDATE: TimeDelta = TimeDelta::minutes(5);
/// The longest validity `exorun cert new` makes (about 100 years).
const MAX_DAYS: u32 = 36_500;

/// The files [`write_bundle`] wrote, and the thumbprint to configure exorun with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundle {
    /// The certificate in DER, to upload to the app registration in the Azure portal.
    pub cer: PathBuf,
    /// The certificate and its unencrypted PKCS#8 key, readable only by the owner.
    pub pem: PathBuf,
    /// The certificate and key as a password-protected PKCS#12 file, readable only by the owner.
    pub pfx: PathBuf,
    /// The PFX password, when [`write_bundle`] was asked to keep it (mode 0600).
    pub password: Option<PathBuf>,
    /// SHA-1 thumbprint, upper-case hex, as the Azure portal will show it after upload.
    pub thumbprint: String,
}

/// Makes a self-signed certificate for app-only auth: RSA 3072 with SHA-256, a random serial,
/// key usage digitalSignature + keyEncipherment and extended key usage clientAuth, valid from
/// five minutes ago for `days` days. `subject` is a plain name or a distinguished name (see
/// [`Subject::parse`]).
pub fn new_self_signed(subject: &str, days: u32) -> Result<Certificate, CertError> {
    let invalid = |reason: String| CertError::InvalidNewCertificate { reason };
    let subject = Subject::parse(subject)?;
    if days == 0 || days > MAX_DAYS {
        return Err(invalid(format!(
            "the validity must be 1 to {MAX_DAYS} days, not {days}; 365 is typical"
        )));
    }
    let rsa = Rsa::generate(NEW_KEY_BITS).map_err(CertError::crypto("generating the RSA key"))?;
    let key = PKey::from_rsa(rsa).map_err(CertError::crypto("generating the RSA key"))?;
    let now = Utc::now();
    let not_after = now + TimeDelta::days(i64::from(days));
    let x509 = build_self_signed(&subject, &key, now - BACKDATE, not_after)
        .map_err(CertError::crypto("building the certificate"))?;
    let origin = format!("new certificate {subject}");
    Certificate::assemble(x509, key, &origin, &origin)
}

/// Builds a self-signed client-authentication certificate for `key`; also used by tests to make
/// certificates with unusual keys and dates.
pub(super) fn build_self_signed<T: HasPrivate>(
    subject: &Subject,
    key: &PKeyRef<T>,
    not_before: DateTime<Utc>,
    not_after: DateTime<Utc>,
) -> Result<X509, ErrorStack> {
    let name = subject.to_x509_name()?;
    let mut serial = BigNum::new()?;
    serial.rand(159, MsbOption::MAYBE_ZERO, false)?;
    let mut builder = X509::builder()?;
    builder.set_version(2)?;
    let serial = serial.to_asn1_integer()?;
    builder.set_serial_number(&serial)?;
    builder.set_subject_name(&name)?;
    builder.set_issuer_name(&name)?;
    builder.set_pubkey(key)?;
    let not_before = Asn1Time::from_unix(not_before.timestamp())?;
    let not_after = Asn1Time::from_unix(not_after.timestamp())?;
    builder.set_not_before(&not_before)?;
    builder.set_not_after(&not_after)?;
    builder.append_extension(
        KeyUsage::new()
            .critical()
            .digital_signature()
            .key_encipherment()
            .build()?,
    )?;
    builder.append_extension(ExtendedKeyUsage::new().client_auth().build()?)?;
    let key_id = SubjectKeyIdentifier::new().build(&builder.x509v3_context(None, None))?;
    builder.append_extension(key_id)?;
    builder.sign(key, MessageDigest::sha256())?;
    Ok(builder.build())
}

/// Writes `<stem>.cer` (DER, for the Azure portal), `<stem>.pem` (certificate and unencrypted
/// PKCS#8 key, mode 0600), `<stem>.pfx` (PKCS#12 with AES-256 and a SHA-256 MAC under
/// `pfx_password`, mode 0600) and, with `keep_password`, `<stem>.pfx-password` (mode 0600) into
/// `dir`, which is created if missing. Never replaces an existing file; if any exists nothing
/// is written. Each file appears whole or not at all (written aside, then linked into place),
/// and a failed write removes the files already written.
pub fn write_bundle(
    cert: &Certificate,
    dir: &Path,
    stem: &str,
    pfx_password: &Password,
    keep_password: bool,
) -> Result<Bundle, CertError> {
    if stem.is_empty() || stem == "." || stem == ".." || stem.contains(['/', '\\', '\0']) {
        return Err(CertError::InvalidNewCertificate {
            reason: format!(
                "the file name {stem:?} must be a plain name without slashes, such as \"exorun\""
            ),
        });
    }
    let bundle = Bundle {
        cer: dir.join(format!("{stem}.cer")),
        pem: dir.join(format!("{stem}.pem")),
        pfx: dir.join(format!("{stem}.pfx")),
        password: keep_password.then(|| dir.join(format!("{stem}.pfx-password"))),
        thumbprint: cert.thumbprint_sha1_hex(),
    };
    if let Some(existing) = [&bundle.cer, &bundle.pem, &bundle.pfx]
        .into_iter()
        .chain(&bundle.password)
        .find(|p| p.symlink_metadata().is_ok())
    {
        return Err(CertError::WouldOverwrite {
            path: existing.clone(),
        });
    }
    if pfx_password.expose().contains('\0') {
        return Err(CertError::PasswordNotUsable {
            origin: bundle.pfx.display().to_string(),
            password: pfx_password.source().clone(),
        });
    }
    let key_pem = cert
        .key()
        .private_key_to_pem_pkcs8()
        .map_err(CertError::crypto("encoding the private key"))?;
    let pem = [cert.cert_pem().into_bytes(), key_pem].concat();
    let pfx = Pkcs12::builder()
        .name(stem)
        .pkey(cert.key())
        .cert(cert.x509())
        .mac_md(MessageDigest::sha256())
        .build2(pfx_password.expose())
        .and_then(|pfx| pfx.to_der())
        .map_err(CertError::crypto("building the PFX"))?;
    std::fs::create_dir_all(dir).map_err(|source| CertError::Write {
        path: dir.to_owned(),
        source,
    })?;

    let mut files = vec![
        (&bundle.cer, cert.der(), false),
        (&bundle.pem, pem, true),
        (&bundle.pfx, pfx, true),
    ];
    if let Some(path) = &bundle.password {
        files.push((path, pfx_password.expose().as_bytes().to_vec(), true));
    }
    let mut written: Vec<&PathBuf> = Vec::new();
    for (path, contents, private) in &files {
        if let Err(error) = write_new(path, contents, *private) {
            for done in written {
                // Best effort: the original error is what the operator needs to see.
                let _ = std::fs::remove_file(done);
            }
            return Err(error);
        }
        written.push(path);
    }
    Ok(bundle)
}

/// Creates `path`, failing if it exists, with `contents`; `private` files are mode 0600. The
/// contents are written to a temporary file beside it and synced first, so `path` never holds
/// part of them.
fn write_new(path: &Path, contents: &[u8], private: bool) -> Result<(), CertError> {
    let write_error = |source: std::io::Error| CertError::Write {
        path: path.to_owned(),
        source,
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    // A temporary file is created readable only by its owner.
    let mut file = tempfile::Builder::new()
        .prefix(".exorun-new-")
        .tempfile_in(dir)
        .map_err(write_error)?;
    #[cfg(unix)]
    if !private {
        use std::os::unix::fs::PermissionsExt as _;
        file.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))
            .map_err(write_error)?;
    }
    #[cfg(not(unix))]
    let _ = private;
    file.write_all(contents)
        .and_then(|()| file.as_file().sync_all())
        .map_err(write_error)?;
    file.persist_noclobber(path).map_err(|e| {
        if e.error.kind() == std::io::ErrorKind::AlreadyExists {
            CertError::WouldOverwrite {
                path: path.to_owned(),
            }
        } else {
            write_error(e.error)
        }
    })?;
    Ok(())
}

#[cfg(test)]
#[path = "make_tests.rs"]
mod tests;
