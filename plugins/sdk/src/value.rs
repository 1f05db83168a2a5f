//! Reading the value formats Exchange prints, and writing values into the filters it reads.

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

/// `text` as an OPATH string literal for a `-Filter`: in single quotes, with each single quote
/// doubled, so a value such as a distinguished name (`CN=Dara O'Neil,OU=...`) cannot end the
/// literal early or add to the filter.
///
/// ```
/// use exorun_plugin::value::opath_string;
///
/// assert_eq!(opath_string("CN=Dara O'Neil,OU=x"), "'CN=Dara O''Neil,OU=x'");
/// let filter = format!("Members -eq {}", opath_string("CN=Ann Smith,OU=x"));
/// assert_eq!(filter, "Members -eq 'CN=Ann Smith,OU=x'");
/// ```
pub fn opath_string(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opath_strings_double_their_quotes() {
        assert_eq!(opath_string(""), "''");
        assert_eq!(opath_string("a"), "'a'");
        assert_eq!(
            opath_string("' -or Name -like '*"),
            "''' -or Name -like ''*'"
        );
        assert_eq!(opath_string("say \"hi\""), "'say \"hi\"'");
    }

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
