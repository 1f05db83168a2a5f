//! Offsets inside a TOML string's value, mapped back to the file: an error in a template points
//! at the very character in the file, even when the string has escapes (`\"`, `\u00e9`) or is a
//! multi-line string.

/// The byte offset in `text` of byte `offset` of the value of the string literal that starts at
/// byte `start` of `text` (where its opening quote is). Falls back to `start` for anything that
/// is not a string literal.
pub(crate) fn offset_in_string(text: &str, start: usize, offset: usize) -> usize {
    let Some(raw) = text.get(start..) else {
        return start.min(text.len());
    };
    let (basic, delimiter) = if raw.starts_with("\"\"\"") {
        (true, 3)
    } else if raw.starts_with("'''") {
        (false, 3)
    } else if raw.starts_with('"') {
        (true, 1)
    } else if raw.starts_with('\'') {
        (false, 1)
    } else {
        return start;
    };
    let mut pos = start + delimiter;
    if delimiter == 3 {
        // A newline right after the opening delimiter is not part of the value.
        let after = &text[pos..];
        if after.starts_with("\r\n") {
            pos += 2;
        } else if after.starts_with('\n') {
            pos += 1;
        }
    }
    if !basic {
        return (pos + offset).min(text.len());
    }
    let mut produced = 0;
    loop {
        // Only a string the TOML parser took gets here, so escapes are whole; a position
        // inside a character would mean otherwise: give up rather than guess.
        let Some(rest) = text.get(pos..) else {
            return start;
        };
        let mut chars = rest.chars();
        let Some(c) = chars.next() else { break };
        let escape = if c == '\\' { chars.next() } else { None };
        let trims = delimiter == 3 && matches!(escape, Some(' ' | '\t' | '\r' | '\n'));
        if produced >= offset && !trims {
            break;
        }
        if c != '\\' {
            produced += c.len_utf8();
            pos += c.len_utf8();
            continue;
        }
        let Some(escape) = escape else { break };
        let (read, made) = match escape {
            'u' => (6, unicode(rest.get(2..6))),
            'U' => (10, unicode(rest.get(2..10))),
            'x' => (4, unicode(rest.get(2..4))),
            // A line-ending backslash drops the newline and the whitespace after it.
            ' ' | '\t' | '\r' | '\n' if delimiter == 3 => {
                let trimmed = rest[1..].trim_start_matches([' ', '\t', '\r', '\n']);
                (rest.len() - trimmed.len(), 0)
            }
            other => (1 + other.len_utf8(), 1),
        };
        produced += made;
        pos += read.min(rest.len());
    }
    pos
}

/// The UTF-8 length of the character a `\u`/`\U`/`\x` escape with these hex digits makes.
fn unicode(hex: Option<&str>) -> usize {
    hex.and_then(|h| u32::from_str_radix(h, 16).ok())
        .and_then(char::from_u32)
        .map_or(1, char::len_utf8)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Where in `line` the value character at `offset` of its only string is.
    fn found(line: &str, offset: usize) -> &str {
        let start = line.find(['"', '\'']).unwrap();
        &line[offset_in_string(line, start, offset)..]
    }

    #[test]
    fn plain_and_literal_strings_map_one_to_one() {
        assert!(found(r#"x = "ab${c}""#, 2).starts_with("${c}"));
        assert!(found(r#"x = 'ab${c}'"#, 2).starts_with("${c}"));
        assert!(found("x = '''\nab${c}'''", 2).starts_with("${c}"));
    }

    #[test]
    fn escapes_are_stepped_over() {
        // Value: a"é${c}  (é is two bytes)
        assert!(found(r#"x = "a\"\u00e9${c}""#, 4).starts_with("${c}"));
        assert!(found(r#"x = "\\\t${c}""#, 2).starts_with("${c}"));
        assert!(found("x = \"\"\"\nab \\\n    ${c}\"\"\"", 3).starts_with("${c}"));
    }

    #[test]
    fn nonsense_never_panics() {
        assert_eq!(offset_in_string("x = 1", 4, 3), 4);
        assert_eq!(offset_in_string("x", 10, 3), 1);
        assert_eq!(offset_in_string(r#""\u12"#, 0, 5), 5);
        assert_eq!(offset_in_string(r#""ab"#, 0, 50), 3);
    }
}
