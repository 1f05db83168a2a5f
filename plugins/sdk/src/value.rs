//! Reading the value formats Exchange prints.

/// The byte count of an Exchange size (`ByteQuantifiedSize`), such as `"1.2 GB (1,288,490,189
/// bytes)"`; also takes a plain number. `None` for `"Unlimited"` or anything else.
///
/// ```
/// assert_eq!(exorun_plugin::value::byte_size("1.2 GB (1,288,490,189 bytes)"), Some(1_288_490_189));
/// assert_eq!(exorun_plugin::value::byte_size("Unlimited"), None);
/// ```
pub fn byte_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let digits = match text.rfind('(') {
        Some(open) => text[open + 1..]
            .strip_suffix(')')?
            .trim()
            .strip_suffix("bytes")?
            .trim_end(),
        None => text,
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit() || b == b',') {
        return None;
    }
    digits
        .bytes()
        .filter(u8::is_ascii_digit)
        .try_fold(0u64, |n, d| {
            n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_as_exchange_prints_them() {
        assert_eq!(
            byte_size("99 GB (106,300,440,576 bytes)"),
            Some(106_300_440_576)
        );
        assert_eq!(byte_size("0 B (0 bytes)"), Some(0));
        assert_eq!(byte_size("1.5 KB (1,536 bytes)"), Some(1536));
        assert_eq!(byte_size(" 1234 "), Some(1234));
        assert_eq!(byte_size("Unlimited"), None);
        assert_eq!(byte_size("1 GB"), None);
        assert_eq!(byte_size("1 GB ( bytes)"), None);
        assert_eq!(byte_size("1 GB (1,2x bytes)"), None);
        assert_eq!(byte_size("(99,999,999,999,999,999,999 bytes)"), None);
        assert_eq!(byte_size(""), None);
    }
}
