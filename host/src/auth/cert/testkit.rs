//! Keys, certificates and files made on the fly for the certificate tests.

use std::sync::OnceLock;

use chrono::{TimeDelta, Utc};
use openssl::ec::{EcGroup, EcKey};
use openssl::nid::Nid;
use openssl::pkcs12::Pkcs12;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::symm::Cipher;
use openssl::x509::X509;

use super::Password;
use super::make::build_self_signed;
use super::subject::Subject;
use crate::secret::Secret;

/// Result type for tests, so setup failures report instead of panicking mid-line.
pub(super) type TestResult = Result<(), Box<dyn std::error::Error>>;

/// A fresh RSA key.
pub(super) fn rsa_key(bits: u32) -> PKey<Private> {
    let rsa = Rsa::generate(bits).expect("RSA key generation");
    PKey::from_rsa(rsa).expect("wrapping the RSA key")
}

/// One RSA-2048 key shared by tests where the key itself does not matter, to keep them fast.
pub(super) fn shared_key() -> PKey<Private> {
    static KEY: OnceLock<PKey<Private>> = OnceLock::new();
    KEY.get_or_init(|| rsa_key(2048)).clone()
}

/// A P-256 key, which Exchange app-only auth does not accept.
pub(super) fn ec_key() -> PKey<Private> {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).expect("P-256");
    let ec = EcKey::generate(&group).expect("EC key generation");
    PKey::from_ec_key(ec).expect("wrapping the EC key")
}

/// A self-signed certificate for `key` valid between the given offsets (in days) from now.
pub(super) fn cert_between(key: &PKey<Private>, cn: &str, from_days: i64, to_days: i64) -> X509 {
    let now = Utc::now();
    build_self_signed(
        &Subject::common_name_only(cn),
        key,
        now + TimeDelta::days(from_days),
        now + TimeDelta::days(to_days),
    )
    .expect("building the test certificate")
}

/// A certificate valid from yesterday for a year.
pub(super) fn valid_cert(key: &PKey<Private>, cn: &str) -> X509 {
    cert_between(key, cn, -1, 365)
}

/// PKCS#12 bytes; `legacy` picks the cipher for both bags (as older Windows exports do), `None`
/// is OpenSSL 3's default AES-256/SHA-256.
pub(super) fn pfx_bytes(
    cert: &X509,
    key: &PKey<Private>,
    password: &str,
    legacy: Option<(Nid, Nid)>,
) -> Vec<u8> {
    let mut builder = Pkcs12::builder();
    builder.pkey(key).cert(cert);
    if let Some((key_alg, cert_alg)) = legacy {
        builder.key_algorithm(key_alg).cert_algorithm(cert_alg);
    }
    let pfx = builder.build2(password).expect("building the test PFX");
    pfx.to_der().expect("encoding the test PFX")
}

/// The certificate as PEM.
pub(super) fn cert_pem(cert: &X509) -> Vec<u8> {
    cert.to_pem().expect("encoding the certificate")
}

/// The key as unencrypted PKCS#8 PEM (`BEGIN PRIVATE KEY`).
pub(super) fn pkcs8_pem(key: &PKey<Private>) -> Vec<u8> {
    key.private_key_to_pem_pkcs8().expect("encoding the key")
}

/// The key as traditional RSA PEM (`BEGIN RSA PRIVATE KEY`).
pub(super) fn rsa_pem(key: &PKey<Private>) -> Vec<u8> {
    let rsa = key.rsa().expect("not an RSA key");
    rsa.private_key_to_pem().expect("encoding the key")
}

/// The key as encrypted PKCS#8 PEM (`BEGIN ENCRYPTED PRIVATE KEY`).
pub(super) fn encrypted_pkcs8_pem(key: &PKey<Private>, password: &str) -> Vec<u8> {
    key.private_key_to_pem_pkcs8_passphrase(Cipher::aes_256_cbc(), password.as_bytes())
        .expect("encrypting the key")
}

/// A password as a program hands it over.
pub(super) fn password(value: &str) -> Password {
    Password::given(Secret::new(value))
}
