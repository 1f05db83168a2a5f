//! SHA-256 and lowercase hex: the one place digests are made, for artifacts, policies, audit
//! records, journals, checkpoints and the compile cache. A leaf module: it depends on nothing
//! of the crate, so every module may use it without an import cycle.

/// The SHA-256 of `bytes`. OpenSSL 3's one-shot `SHA256()` (`openssl::sha::sha256`) looks the
/// algorithm up in its provider on every call, which made hashing an audit record take 6 µs
/// instead of under one; the low-level hasher does not.
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    let mut hasher = openssl::sha::Sha256::new();
    hasher.update(bytes);
    hasher.finish()
}

/// The SHA-256 of `bytes` as lowercase hex: what policies pin and records name.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&sha256(bytes))
}

/// `bytes` as lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        text.push(char::from(DIGITS[usize::from(b >> 4)]));
        text.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_gives_the_known_digests() {
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(hex(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
    }
}
