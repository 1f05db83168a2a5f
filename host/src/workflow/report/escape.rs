//! Escaping text for HTML and inline SVG, the one way any value reaches the report: the text
//! of a record, an error or a tenant's name may hold anything, and a report must never run or
//! load what a mailbox name says.

use std::fmt;

/// Text made safe for an HTML or SVG element's content or a quoted attribute's value: `&`, `<`,
/// `>`, `"` and `'` become character references and control characters (other than tab and
/// line breaks) the replacement character, so no value can close an element or attribute,
/// open a tag or smuggle a character the parser would treat specially.
///
/// It formats lazily (`format!("<td>{}</td>", Escaped(name))`), so a large value is not
/// copied first.
#[derive(Clone, Copy, Debug)]
pub struct Escaped<'a>(pub &'a str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(at) = rest.find(needs_escaping) {
            f.write_str(&rest[..at])?;
            let Some(c) = rest[at..].chars().next() else {
                break;
            };
            f.write_str(match c {
                '&' => "&amp;",
                '<' => "&lt;",
                '>' => "&gt;",
                '"' => "&quot;",
                '\'' => "&#39;",
                _ => "\u{FFFD}",
            })?;
            rest = &rest[at + c.len_utf8()..];
        }
        f.write_str(rest)
    }
}

/// Whether `c` cannot appear as itself in element content or a quoted attribute value.
fn needs_escaping(c: char) -> bool {
    matches!(c, '&' | '<' | '>' | '"' | '\'')
        || (c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn escaped(text: &str) -> String {
        Escaped(text).to_string()
    }

    #[test]
    fn markup_in_a_value_stays_text() {
        assert_eq!(
            escaped("</script><img src=x onerror=alert(1)>"),
            "&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;"
        );
        assert_eq!(
            escaped(r#"" onmouseover="alert(1)"#),
            "&quot; onmouseover=&quot;alert(1)"
        );
        assert_eq!(escaped("O'Brien & Sons"), "O&#39;Brien &amp; Sons");
        assert_eq!(escaped("&amp;"), "&amp;amp;");
        assert_eq!(escaped("]]><!--"), "]]&gt;&lt;!--");
    }

    #[test]
    fn other_text_is_kept_as_it_is() {
        for text in ["", "plain", "Zoë Müller — 日本語 🎉", "tab\tand\nlines\r\n"] {
            assert_eq!(escaped(text), text);
        }
    }

    #[test]
    fn control_characters_are_replaced() {
        assert_eq!(
            escaped("a\0b\u{1b}[31mc\u{7f}"),
            "a\u{FFFD}b\u{FFFD}[31mc\u{FFFD}"
        );
    }
}
