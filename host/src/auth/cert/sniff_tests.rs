use super::super::testkit::*;
use super::*;

/// A whole PFX, as `head -c` would cut it.
fn pfx() -> Vec<u8> {
    let key = shared_key();
    pfx_bytes(&valid_cert(&key, "sniff"), &key, "pw", None)
}

#[test]
fn a_cut_pfx_is_truncated_with_both_sizes() {
    let whole = pfx();
    let cut = &whole[..500];
    assert!(
        Pkcs12::from_der(cut).is_err(),
        "OpenSSL refuses the cut file"
    );
    assert_eq!(
        Damage::of_pkcs12(cut),
        Some(Damage::Truncated {
            size: 500,
            expected: whole.len()
        })
    );
    assert_eq!(
        Damage::of_pkcs12(cut).map(|d| d.to_string()).as_deref(),
        Some(format!("it has 500 bytes where its header says {}", whole.len()).as_str())
    );
}

#[test]
fn a_pfx_with_changed_structure_is_malformed() {
    let mut changed = pfx();
    // After the 4-byte outer header and the version (02 01 03) comes the content SEQUENCE tag.
    assert_eq!(changed[7], 0x30);
    changed[7] = 0x05;
    assert!(Pkcs12::from_der(&changed).is_err());
    assert_eq!(Damage::of_pkcs12(&changed), Some(Damage::Malformed));
}

#[test]
fn only_what_starts_like_pkcs12_is_called_damaged() -> TestResult {
    let der_cert = valid_cert(&shared_key(), "der").to_der()?;
    for bytes in [
        &der_cert[..300],
        b"".as_slice(),
        b"0123 text that starts with a zero",
        b"\x30\x82",
        b"\x30\x03\x02\x01",
        &[0xde, 0xad, 0xbe, 0xef],
    ] {
        assert_eq!(Damage::of_pkcs12(bytes), None, "{bytes:02x?}");
    }
    Ok(())
}

#[test]
fn content_says_what_a_file_is() -> TestResult {
    let key = shared_key();
    let x509 = valid_cert(&key, "content");
    let cases: [(&[u8], ContentKind); 6] = [
        (b"", ContentKind::Empty),
        (&cert_pem(&x509), ContentKind::Pem),
        (&pfx(), ContentKind::Pkcs12),
        (&x509.to_der()?, ContentKind::DerCertificate),
        (b"hunter2\n", ContentKind::Text),
        (&[0x00, 0xff, 0x13, 0x37], ContentKind::Binary),
    ];
    for (bytes, expected) in cases {
        assert_eq!(ContentKind::of(bytes), expected, "{expected:?}");
    }
    Ok(())
}
