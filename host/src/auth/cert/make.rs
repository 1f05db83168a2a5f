//! What `exorun cert new` makes: a self-signed certificate for the app registration and the
//! files to upload (`.cer`) and to keep (`.pem`, `.pfx`).

use std::fs::OpenOptions;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use chrono::{DateTime, TimeDelta, Utc};
use openssl::asn1::Asn1Time;
use openssl::bn::{BigNum, MsbOption};
use openssl::error::ErrorStack;
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkcs12::Pkcs12;
use openssl::pkey::{HasPrivate, PKey, PKeyRef};
use openssl::rsa::Rsa;
use openssl::x509::extension::{ExtendedKeyUsage, KeyUsage, SubjectKeyIdentifier};
use openssl::x509::{X509, X509NameBuilder};

use super::{CertError, Certificate, Password};

/// RSA key size for new certificates: above Entra ID's 2048-bit floor with room to spare.
const NEW_KEY_BITS: u32 = 3072;
/// New certificates start this far in the past so a slightly slow clock at Entra ID accepts them at once.
const BACKDATE: TimeDelta = TimeDelta::minutes(5);
/// The longest validity `exorun cert new` makes (about 100 years).
const MAX_DAYS: u32 = 36_500;
/// X.509's upper bound for a common name.
const MAX_CN_CHARS: usize = 64;

/// The files [`write_bundle`] wrote, and the thumbprint to configure exorun with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundle {
    /// The certificate in DER, to upload to the app registration in the Azure portal.
    pub cer: PathBuf,
    /// The certificate and its unencrypted PKCS#8 key, readable only by the owner.
    pub pem: PathBuf,
    /// The certificate and key as a password-protected PKCS#12 file, readable only by the owner.
    pub pfx: PathBuf,
    /// SHA-1 thumbprint, upper-case hex, as the Azure portal will show it after upload.
    pub thumbprint: String,
}

/// Makes a self-signed certificate for app-only auth: RSA 3072 with SHA-256, a random serial,
/// key usage digitalSignature + keyEncipherment and extended key usage clientAuth, valid from
/// five minutes ago for `days` days.
pub fn new_self_signed(subject_cn: &str, days: u32) -> Result<Certificate, CertError> {
    let invalid = |reason: String| CertError::InvalidNewCertificate { reason };
    let chars = subject_cn.chars().count();
    if chars == 0 || chars > MAX_CN_CHARS || subject_cn.contains('\0') {
        return Err(invalid(format!(
            "the subject name {subject_cn:?} must be 1 to {MAX_CN_CHARS} characters without NUL; pick a short name \
             such as \"exorun-automation\""
        )));
    }
    if days == 0 || days > MAX_DAYS {
        return Err(invalid(format!(
            "the validity must be 1 to {MAX_DAYS} days, not {days}; 365 is typical"
        )));
    }
    let rsa = Rsa::generate(NEW_KEY_BITS).map_err(CertError::crypto("generating the RSA key"))?;
    let key = PKey::from_rsa(rsa).map_err(CertError::crypto("generating the RSA key"))?;
    let now = Utc::now();
    let not_after = now + TimeDelta::days(i64::from(days));
    let x509 = build_self_signed(subject_cn, &key, now - BACKDATE, not_after)
        .map_err(CertError::crypto("building the certificate"))?;
    let origin = format!("new certificate CN={subject_cn}");
    Certificate::assemble(x509, key, &origin, &origin)
}

/// Builds a self-signed client-authentication certificate for `key`; also used by tests to make
/// certificates with unusual keys and dates.
pub(super) fn build_self_signed<T: HasPrivate>(
    subject_cn: &str,
    key: &PKeyRef<T>,
    not_before: DateTime<Utc>,
    not_after: DateTime<Utc>,
) -> Result<X509, ErrorStack> {
    let mut name = X509NameBuilder::new()?;
    name.append_entry_by_nid(Nid::COMMONNAME, subject_cn)?;
    let name = name.build();
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
/// PKCS#8 key, mode 0600) and `<stem>.pfx` (PKCS#12 with AES-256 and a SHA-256 MAC under
/// `pfx_password`, mode 0600) into `dir`. Never replaces an existing file; if any of the three
/// exists nothing is written, and a failed write removes the files already written.
pub fn write_bundle(
    cert: &Certificate,
    dir: &Path,
    stem: &str,
    pfx_password: &Password,
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
        thumbprint: cert.thumbprint_sha1_hex(),
    };
    if let Some(existing) = [&bundle.cer, &bundle.pem, &bundle.pfx]
        .into_iter()
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

    let files = [
        (&bundle.cer, cert.der(), false),
        (&bundle.pem, pem, true),
        (&bundle.pfx, pfx, true),
    ];
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

/// Creates `path`, failing if it exists, and writes `contents`; `private` files are mode 0600.
#[cfg_attr(not(unix), allow(unused_variables))]
fn write_new(path: &Path, contents: &[u8], private: bool) -> Result<(), CertError> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(if private { 0o600 } else { 0o644 });
    }
    let write_error = |source: std::io::Error| CertError::Write {
        path: path.to_owned(),
        source,
    };
    let mut file = options.open(path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::AlreadyExists {
            CertError::WouldOverwrite {
                path: path.to_owned(),
            }
        } else {
            write_error(source)
        }
    })?;
    file.write_all(contents)
        .and_then(|()| file.sync_all())
        .map_err(write_error)
}

#[cfg(test)]
#[path = "make_tests.rs"]
mod tests;
