//! The key that encrypts a minisign secret key: scrypt run as libsodium's
//! `crypto_pwhash_scryptsalsa208sha256` runs it, from the operations and memory limits stored in
//! the key file, through OpenSSL's scrypt.

use crate::secret::Secret;

use super::error::SigningError;

/// libsodium's scrypt limits, as a minisign secret key stores them (little-endian u64s).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct ScryptLimits {
    /// The operations limit.
    pub opslimit: u64,
    /// The memory limit in bytes.
    pub memlimit: u64,
}

/// scrypt's own cost parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct ScryptParams {
    log2_n: u32,
    r: u32,
    p: u32,
}

/// The most scrypt memory a key may ask for: 4 GiB, four times what `minisign -G` uses.
const MAX_MEMORY: u64 = 4 << 30;

/// The most scrypt work (N·r·p) a key may ask for: 32 times what `minisign -G` uses, so a
/// hand-edited key file cannot hold the process for hours.
const MAX_WORK: u64 = 1 << 28;

impl ScryptLimits {
    /// What `minisign -G` uses (libsodium's `..._SENSITIVE`): 1 GiB and about 2 s.
    pub const SENSITIVE: ScryptLimits = ScryptLimits {
        opslimit: 33_554_432,
        memlimit: 1_073_741_824,
    };

    /// scrypt's N, r and p for these limits, exactly as libsodium's `pickparams` picks them.
    fn params(self) -> ScryptParams {
        let opslimit = self.opslimit.max(32_768);
        let r: u32 = 8;
        let first_above = |max_n: u64| (1..63).find(|&k| 1u64 << k > max_n / 2).unwrap_or(63);
        if opslimit < self.memlimit / 32 {
            let log2_n = first_above(opslimit / (u64::from(r) * 4));
            ScryptParams { log2_n, r, p: 1 }
        } else {
            let log2_n = first_above(self.memlimit / (u64::from(r) * 128));
            let max_rp = ((opslimit / 4) >> log2_n).min(0x3fff_ffff);
            ScryptParams {
                log2_n,
                r,
                p: max_rp as u32 / r,
            }
        }
    }

    /// Fills `out` with the key stream for `password` and `salt`.
    pub fn derive(
        self,
        password: &Secret,
        salt: &[u8],
        out: &mut [u8],
    ) -> Result<(), SigningError> {
        let ScryptParams { log2_n, r, p } = self.params();
        let (r, p) = (u64::from(r), u64::from(p));
        let unusable = || SigningError::KdfLimits {
            opslimit: self.opslimit,
            memlimit: self.memlimit,
        };
        let n = 1u64.checked_shl(log2_n).ok_or_else(unusable)?;
        // OpenSSL needs 128·r·(N + 2) bytes for scrypt's table and 128·r·p for its blocks.
        let memory = n
            .checked_add(2 + p)
            .and_then(|blocks| blocks.checked_mul(128 * r))
            .filter(|&bytes| bytes <= MAX_MEMORY)
            .ok_or_else(unusable)?;
        let work = n.checked_mul(r * p).filter(|&work| work <= MAX_WORK);
        if p == 0 || work.is_none() {
            return Err(unusable());
        }
        openssl::pkcs5::scrypt(
            password.expose().as_bytes(),
            salt,
            n,
            r,
            p,
            memory + (1 << 20),
            out,
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_parameters_libsodium_picks() {
        // libsodium's SENSITIVE and INTERACTIVE limits give N = 2^20 and 2^14, r = 8, p = 1.
        assert_eq!(
            ScryptLimits::SENSITIVE.params(),
            ScryptParams {
                log2_n: 20,
                r: 8,
                p: 1
            }
        );
        let interactive = ScryptLimits {
            opslimit: 524_288,
            memlimit: 16_777_216,
        };
        assert_eq!(
            interactive.params(),
            ScryptParams {
                log2_n: 14,
                r: 8,
                p: 1
            }
        );
        // More operations than memory: p grows.
        let wide = ScryptLimits {
            opslimit: 1 << 24,
            memlimit: 1 << 20,
        };
        assert_eq!(
            wide.params(),
            ScryptParams {
                log2_n: 10,
                r: 8,
                p: 512
            }
        );
    }

    #[test]
    fn refuses_limits_that_would_take_too_long_or_too_much_memory() {
        let password = Secret::new("pw");
        let mut out = [0u8; 16];
        for limits in [
            ScryptLimits {
                opslimit: u64::MAX,
                memlimit: u64::MAX,
            },
            ScryptLimits {
                opslimit: 1 << 40,
                memlimit: 1 << 20,
            },
        ] {
            let error = limits.derive(&password, &[0; 32], &mut out).unwrap_err();
            assert!(matches!(error, SigningError::KdfLimits { .. }), "{error}");
        }
        let cheap = ScryptLimits {
            opslimit: 32_768,
            memlimit: 1 << 24,
        };
        cheap.derive(&password, &[0; 32], &mut out).unwrap();
        assert_ne!(out, [0u8; 16]);
    }
}
