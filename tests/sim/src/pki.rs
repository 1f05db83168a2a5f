//! Certificates the emulator makes: its CA, its HTTPS server certificate, and the app
//! certificates of the ready-made tenant. All real X.509 through OpenSSL.

use openssl::asn1::{Asn1Integer, Asn1Time};
use openssl::bn::{BigNum, MsbOption};
use openssl::error::ErrorStack;
use openssl::hash::MessageDigest;
use openssl::pkcs12::Pkcs12;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::ssl::{AlpnError, SslAcceptor, SslMethod};
use openssl::x509::extension::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAlternativeName,
    SubjectKeyIdentifier,
};
use openssl::x509::{X509, X509Builder, X509NameBuilder};

/// A certificate with its private key.
pub struct KeyPair {
    /// The certificate.
    pub cert: X509,
    /// Its private key.
    pub key: PKey<Private>,
}

impl KeyPair {
    /// The certificate as PEM.
    pub fn cert_pem(&self) -> Result<Vec<u8>, ErrorStack> {
        self.cert.to_pem()
    }

    /// The private key as unencrypted PKCS#8 PEM.
    pub fn key_pem(&self) -> Result<Vec<u8>, ErrorStack> {
        self.key.private_key_to_pem_pkcs8()
    }

    /// A PKCS#12 file protected by `password` (modern AES/SHA-256, as current tools write).
    pub fn pfx(&self, password: &str, name: &str) -> Result<Vec<u8>, ErrorStack> {
        Pkcs12::builder()
            .name(name)
            .pkey(&self.key)
            .cert(&self.cert)
            .build2(password)?
            .to_der()
    }
}

fn serial() -> Result<Asn1Integer, ErrorStack> {
    let mut bn = BigNum::new()?;
    bn.rand(127, MsbOption::MAYBE_ZERO, false)?;
    bn.to_asn1_integer()
}

fn builder(cn: &str, key: &PKey<Private>, days: u32) -> Result<X509Builder, ErrorStack> {
    let mut name = X509NameBuilder::new()?;
    name.append_entry_by_text("CN", cn)?;
    let name = name.build();
    let mut b = X509::builder()?;
    b.set_version(2)?;
    let serial = serial()?;
    b.set_serial_number(&serial)?;
    b.set_subject_name(&name)?;
    b.set_issuer_name(&name)?;
    b.set_pubkey(key)?;
    // Backdated an hour so a freshly made certificate is valid on a slightly slow clock.
    let start = Asn1Time::from_unix(crate::time::now() - 3600)?;
    b.set_not_before(&start)?;
    let end = Asn1Time::days_from_now(days)?;
    b.set_not_after(&end)?;
    Ok(b)
}

/// Makes an RSA key of `bits`.
pub fn rsa_key(bits: u32) -> Result<PKey<Private>, ErrorStack> {
    PKey::from_rsa(Rsa::generate(bits)?)
}

/// The emulator's own certificate authority.
pub fn generate_ca() -> Result<KeyPair, ErrorStack> {
    let key = rsa_key(2048)?;
    let mut b = builder("exorun-sim local CA", &key, 3650)?;
    b.append_extension(BasicConstraints::new().critical().ca().build()?)?;
    b.append_extension(
        KeyUsage::new()
            .critical()
            .key_cert_sign()
            .crl_sign()
            .build()?,
    )?;
    let ski = SubjectKeyIdentifier::new().build(&b.x509v3_context(None, None))?;
    b.append_extension(ski)?;
    b.sign(&key, MessageDigest::sha256())?;
    Ok(KeyPair {
        cert: b.build(),
        key,
    })
}

/// A server certificate for loopback (`127.0.0.1`, `::1`, `localhost`) issued by `ca`.
pub fn issue_server_cert(ca: &KeyPair) -> Result<KeyPair, ErrorStack> {
    let key = rsa_key(2048)?;
    let mut b = builder("localhost", &key, 825)?;
    b.set_issuer_name(ca.cert.subject_name())?;
    b.append_extension(BasicConstraints::new().build()?)?;
    b.append_extension(
        KeyUsage::new()
            .critical()
            .digital_signature()
            .key_encipherment()
            .build()?,
    )?;
    b.append_extension(ExtendedKeyUsage::new().server_auth().build()?)?;
    let san = SubjectAlternativeName::new()
        .dns("localhost")
        .ip("127.0.0.1")
        .ip("::1")
        .build(&b.x509v3_context(Some(&ca.cert), None))?;
    b.append_extension(san)?;
    let aki = AuthorityKeyIdentifier::new()
        .keyid(false)
        .build(&b.x509v3_context(Some(&ca.cert), None))?;
    b.append_extension(aki)?;
    b.sign(&ca.key, MessageDigest::sha256())?;
    Ok(KeyPair {
        cert: b.build(),
        key,
    })
}

/// A self-signed client certificate such as admins make for app-only auth.
pub fn self_signed_client(cn: &str, bits: u32, days: u32) -> Result<KeyPair, ErrorStack> {
    let key = rsa_key(bits)?;
    let mut b = builder(cn, &key, days)?;
    b.append_extension(
        KeyUsage::new()
            .digital_signature()
            .key_encipherment()
            .build()?,
    )?;
    b.append_extension(ExtendedKeyUsage::new().client_auth().build()?)?;
    b.sign(&key, MessageDigest::sha256())?;
    Ok(KeyPair {
        cert: b.build(),
        key,
    })
}

/// A TLS acceptor serving `server` (with `ca` as the chain) and offering HTTP/2 and HTTP/1.1.
pub fn acceptor(server: &KeyPair, ca: &X509) -> Result<SslAcceptor, ErrorStack> {
    let mut b = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server())?;
    b.set_private_key(&server.key)?;
    b.set_certificate(&server.cert)?;
    b.add_extra_chain_cert(ca.clone())?;
    b.check_private_key()?;
    b.set_alpn_select_callback(|_, client| {
        openssl::ssl::select_next_proto(b"\x02h2\x08http/1.1", client).ok_or(AlpnError::NOACK)
    });
    Ok(b.build())
}

/// Loads a PEM certificate and key pair from files (an operator-supplied CA).
pub fn load_pair(
    cert_file: &std::path::Path,
    key_file: &std::path::Path,
) -> Result<KeyPair, crate::SimError> {
    let read = |p: &std::path::Path| {
        std::fs::read(p).map_err(|e| crate::SimError::Io(format!("reading {}: {e}", p.display())))
    };
    let cert = X509::from_pem(&read(cert_file)?).map_err(|e| {
        crate::SimError::Config(format!(
            "{} is not a PEM certificate: {e}",
            cert_file.display()
        ))
    })?;
    let key = PKey::private_key_from_pem(&read(key_file)?).map_err(|e| {
        crate::SimError::Config(format!(
            "{} is not a PEM private key: {e}",
            key_file.display()
        ))
    })?;
    Ok(KeyPair { cert, key })
}

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::stack::Stack;
    use openssl::x509::X509StoreContext;
    use openssl::x509::store::X509StoreBuilder;

    #[test]
    fn server_certificate_chains_to_the_ca() {
        let ca = generate_ca().unwrap();
        let server = issue_server_cert(&ca).unwrap();
        let mut store = X509StoreBuilder::new().unwrap();
        store.add_cert(ca.cert.clone()).unwrap();
        let store = store.build();
        let mut ctx = X509StoreContext::new().unwrap();
        let ok = ctx
            .init(&store, &server.cert, &Stack::new().unwrap(), |c| {
                c.verify_cert()
            })
            .unwrap();
        assert!(ok);
    }

    #[test]
    fn pfx_round_trips_with_its_password() {
        let pair = self_signed_client("app", 2048, 30).unwrap();
        let der = pair.pfx("pw", "app").unwrap();
        let parsed = Pkcs12::from_der(&der).unwrap().parse2("pw").unwrap();
        assert_eq!(
            parsed.cert.unwrap().to_der().unwrap(),
            pair.cert.to_der().unwrap()
        );
        assert!(Pkcs12::from_der(&der).unwrap().parse2("wrong").is_err());
    }
}
