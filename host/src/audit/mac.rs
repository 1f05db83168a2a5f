//! HMAC-SHA-256 (RFC 2104) with the key's work done once: the two SHA-256 states that have
//! absorbed the key's inner and outer pad blocks are kept, and each record clones them. OpenSSL
//! 3's `HMAC()` and `EVP_MAC` fetch the algorithm and schedule the key on every call, which
//! costs more than hashing a record (BENCHMARKS.md, "policy grant + audit log"); two primed
//! low-level states cost two block compressions per record over a plain hash.

use openssl::sha::Sha256;

/// SHA-256's block size in bytes.
const BLOCK: usize = 64;

/// An HMAC-SHA-256 key, prepared: cheap to clone, never shows the key (its `Debug` says only
/// what it is). The primed states let nobody read the key back out of this value's output:
/// each MAC is a hash over them.
#[derive(Clone)]
pub(crate) struct Hmac {
    inner: Sha256,
    outer: Sha256,
}

impl Hmac {
    /// Prepares `key` (any length; a key longer than a block is hashed first, as RFC 2104 says).
    pub(crate) fn new(key: &[u8]) -> Hmac {
        let mut block = [0u8; BLOCK];
        if key.len() > BLOCK {
            let mut hasher = Sha256::new();
            hasher.update(key);
            block[..32].copy_from_slice(&hasher.finish());
        } else {
            block[..key.len()].copy_from_slice(key);
        }
        let primed = |pad: u8| {
            let mut padded = block;
            padded.iter_mut().for_each(|b| *b ^= pad);
            let mut hasher = Sha256::new();
            hasher.update(&padded);
            hasher
        };
        Hmac {
            inner: primed(0x36),
            outer: primed(0x5c),
        }
    }

    /// The HMAC-SHA-256 of `message`.
    pub(crate) fn mac(&self, message: &[u8]) -> [u8; 32] {
        let mut inner = self.inner.clone();
        inner.update(message);
        let mut outer = self.outer.clone();
        outer.update(&inner.finish());
        outer.finish()
    }
}

impl std::fmt::Debug for Hmac {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Hmac(HMAC-SHA-256, key not shown)")
    }
}

#[cfg(test)]
mod tests {
    use openssl::hash::MessageDigest;
    use openssl::pkey::PKey;
    use openssl::sign::Signer;

    use super::*;
    use crate::digest::hex;

    #[test]
    fn it_gives_the_rfc_4231_test_vectors() {
        // RFC 4231 §4.2, §4.3, §4.7 (test cases 1, 2 and 6: a key of 20 bytes, a short key, a
        // key longer than a block).
        let cases = [
            (
                vec![0x0b; 20],
                b"Hi There".to_vec(),
                "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
            ),
            (
                b"Jefe".to_vec(),
                b"what do ya want for nothing?".to_vec(),
                "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
            ),
            (
                vec![0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First".to_vec(),
                "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
            ),
        ];
        for (key, message, expected) in cases {
            assert_eq!(hex(&Hmac::new(&key).mac(&message)), expected);
        }
    }

    #[test]
    fn it_agrees_with_openssls_own_hmac_and_a_state_serves_many_messages() {
        let key = b"0123456789abcdef0123456789abcdef";
        let hmac = Hmac::new(key);
        let pkey = PKey::hmac(key).unwrap();
        for length in [0, 1, 55, 56, 63, 64, 65, 500, 4096] {
            let message: Vec<u8> = (0..length).map(|i| (i * 7 % 251) as u8).collect();
            let mut signer = Signer::new(MessageDigest::sha256(), &pkey).unwrap();
            signer.update(&message).unwrap();
            assert_eq!(
                hmac.mac(&message).to_vec(),
                signer.sign_to_vec().unwrap(),
                "{length}"
            );
        }
    }

    #[test]
    fn debug_shows_no_key_material() {
        assert_eq!(
            format!("{:?}", Hmac::new(b"secret key")),
            "Hmac(HMAC-SHA-256, key not shown)"
        );
    }
}
