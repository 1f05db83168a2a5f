//! Key ids: the 8 random bytes minisign puts in every key and signature, so a signature names
//! the key that made it.

use std::fmt;

/// A minisign key id. Shown as minisign shows it: the 8 bytes read as a little-endian number,
/// in uppercase hex without leading zeros (`378E18C04D1A9CD7`, `A26C67D582891E6`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(pub [u8; 8]);

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:X}", u64::from_le_bytes(self.0))
    }
}

impl KeyId {
    /// A key id as minisign shows it (up to 16 hex digits, any case).
    pub fn from_hex(text: &str) -> Option<KeyId> {
        let text = text.trim();
        if text.is_empty() || text.len() > 16 || text.starts_with('+') {
            return None;
        }
        u64::from_str_radix(text, 16)
            .ok()
            .map(|n| KeyId(n.to_le_bytes()))
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

/// Key ids as a list for messages: `A, B and C`.
pub(super) fn list(ids: &[KeyId]) -> String {
    let names: Vec<String> = ids.iter().map(KeyId::to_string).collect();
    match names.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shows_as_minisign_does() {
        // From a key minisign 0.11 made: "minisign public key 378E18C04D1A9CD7".
        let id = KeyId([0xd7, 0x9c, 0x1a, 0x4d, 0xc0, 0x18, 0x8e, 0x37]);
        assert_eq!(KeyId::from_hex("378e18c04d1a9cd7"), Some(id));
        assert_eq!(KeyId::from_hex("378E18C04D1A9CD7A"), None);
        // minisign prints no leading zeros: "minisign public key A26C67D582891E6".
        let short = KeyId(0x0A26_C67D_5828_91E6_u64.to_le_bytes());
        assert_eq!(short.to_string(), "A26C67D582891E6");
        assert_eq!(KeyId::from_hex("A26C67D582891E6"), Some(short));
        assert_eq!(id.to_string(), "378E18C04D1A9CD7");
        assert_eq!(format!("{id:?}"), "KeyId(378E18C04D1A9CD7)");
        let other = KeyId([1, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(other.to_string(), "1");
        assert_eq!(list(&[]), "");
        assert_eq!(list(&[id]), "378E18C04D1A9CD7");
        assert_eq!(
            list(&[id, other, id]),
            "378E18C04D1A9CD7, 1 and 378E18C04D1A9CD7"
        );
    }
}
