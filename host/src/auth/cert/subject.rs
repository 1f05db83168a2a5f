//! The subject `exorun cert new` writes into a certificate: a plain name (`exorun-automation`,
//! the common name), or a distinguished name as PowerShell's `New-SelfSignedCertificate
//! -Subject` takes it (`CN=exorun, O=Contoso\, Ltd, C=US`). What is not understood is refused,
//! never written into the certificate as part of the common name.

use openssl::error::ErrorStack;
use openssl::nid::Nid;
use openssl::x509::{X509Name, X509NameBuilder};

use super::CertError;

/// The attributes a subject may have: what it is written as, its OID, and X.509's upper bound
/// on its length (RFC 5280 appendix A).
const ATTRIBUTES: [(&str, Nid, usize); 8] = [
    ("CN", Nid::COMMONNAME, 64),
    ("O", Nid::ORGANIZATIONNAME, 64),
    ("OU", Nid::ORGANIZATIONALUNITNAME, 64),
    ("L", Nid::LOCALITYNAME, 128),
    ("ST", Nid::STATEORPROVINCENAME, 128),
    ("C", Nid::COUNTRYNAME, 2),
    ("E", Nid::PKCS9_EMAILADDRESS, 255),
    ("DC", Nid::DOMAINCOMPONENT, 63),
];

/// Other spellings of the attributes (.NET and OpenSSL write these).
const ALIASES: [(&str, &str); 2] = [("S", "ST"), ("EMAILADDRESS", "E")];

/// A certificate's subject, in the order it was written (most specific first).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subject {
    entries: Vec<(&'static str, String)>,
}

fn invalid(reason: String) -> CertError {
    CertError::InvalidNewCertificate { reason }
}

impl Subject {
    /// Reads a subject: text without `=` is the common name; otherwise `TYPE=value` pairs
    /// separated by commas, where `\,` (a backslash before any character) or a double-quoted
    /// value keeps a comma in the value. Exactly one CN is needed.
    pub fn parse(text: &str) -> Result<Subject, CertError> {
        let text = text.trim();
        let parts = split_unescaped(text)?;
        let entries = if parts.iter().all(|(_, has_equals)| !has_equals) {
            vec![("CN", unescape(text))]
        } else {
            parts
                .iter()
                .map(|(part, _)| attribute(part))
                .collect::<Result<Vec<_>, _>>()?
        };
        let subject = Subject { entries };
        match subject.entries.iter().filter(|(t, _)| *t == "CN").count() {
            1 => {}
            0 => {
                return Err(invalid(format!(
                    "the subject {text:?} has no CN: name the certificate with CN=…, e.g. \"CN=exorun-automation, O=Contoso\""
                )));
            }
            _ => {
                return Err(invalid(format!(
                    "the subject {text:?} has more than one CN: keep one"
                )));
            }
        }
        if let Some((_, country)) = subject.entries.iter().find(|(n, _)| *n == "C")
            && (country.len() != 2 || !country.chars().all(|c| c.is_ascii_uppercase()))
        {
            return Err(invalid(format!(
                "C in the subject is a two-letter country code in capitals (US, DE), not {country:?}"
            )));
        }
        for (name, value) in &subject.entries {
            let max = ATTRIBUTES
                .iter()
                .find(|(n, _, _)| n == name)
                .map_or(64, |(_, _, max)| *max);
            let chars = value.chars().count();
            if chars == 0 || chars > max || value.contains('\0') {
                return Err(invalid(format!(
                    "{name} in the subject must be 1 to {max} characters without NUL, not {value:?}"
                )));
            }
        }
        Ok(subject)
    }

    /// A subject of only a common name, taken as it is (tests make odd ones).
    pub fn common_name_only(cn: &str) -> Subject {
        Subject {
            entries: vec![("CN", cn.to_string())],
        }
    }

    /// The common name.
    pub fn common_name(&self) -> &str {
        self.entries
            .iter()
            .find(|(n, _)| *n == "CN")
            .map_or("", |(_, v)| v.as_str())
    }

    /// The name as X.509 stores it: the reverse of the written order, so that viewers (the
    /// Azure portal, Windows, `openssl -nameopt RFC2253`) show it as it was written.
    pub(super) fn to_x509_name(&self) -> Result<X509Name, ErrorStack> {
        let mut name = X509NameBuilder::new()?;
        for (attribute, value) in self.entries.iter().rev() {
            let nid = ATTRIBUTES
                .iter()
                .find(|(n, _, _)| n == attribute)
                .map_or(Nid::COMMONNAME, |(_, nid, _)| *nid);
            name.append_entry_by_nid(nid, value)?;
        }
        Ok(name.build())
    }
}

impl std::fmt::Display for Subject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self
            .entries
            .iter()
            .map(|(n, v)| format!("{n}={}", v.replace('\\', "\\\\").replace(',', "\\,")))
            .collect();
        f.write_str(&parts.join(", "))
    }
}

/// Splits at the commas that are neither escaped nor quoted; each part says whether it has an
/// unescaped, unquoted `=`.
fn split_unescaped(text: &str) -> Result<Vec<(String, bool)>, CertError> {
    let mut parts = Vec::new();
    let (mut part, mut has_equals, mut quoted) = (String::new(), false, false);
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                part.push(c);
                match chars.next() {
                    Some(next) => part.push(next),
                    None => {
                        return Err(invalid(format!(
                            "the subject {text:?} ends in a lone backslash: write \\\\ for a backslash"
                        )));
                    }
                }
            }
            '"' => {
                quoted = !quoted;
                part.push(c);
            }
            ',' | ';' if !quoted => {
                parts.push((std::mem::take(&mut part), std::mem::take(&mut has_equals)))
            }
            '+' if !quoted && has_equals => {
                return Err(invalid(format!(
                    "the subject {text:?} has a multi-valued part (+), which exorun does not write: separate the attributes with commas, or write \\+ for a plus sign"
                )));
            }
            '=' if !quoted => {
                has_equals = true;
                part.push(c);
            }
            _ => part.push(c),
        }
    }
    if quoted {
        return Err(invalid(format!(
            "the subject {text:?} has a quote that is never closed"
        )));
    }
    parts.push((part, has_equals));
    Ok(parts)
}

/// One `TYPE=value` part.
fn attribute(part: &str) -> Result<(&'static str, String), CertError> {
    let Some((name, value)) = part.split_once('=') else {
        return Err(invalid(format!(
            "{:?} in the subject is not TYPE=value: separate the attributes with commas, and write \\, for a comma inside a value",
            part.trim()
        )));
    };
    let name = name.trim().to_ascii_uppercase();
    let name = ALIASES
        .iter()
        .find(|(alias, _)| *alias == name)
        .map_or(name.as_str(), |(_, canonical)| canonical);
    let Some((canonical, _, _)) = ATTRIBUTES.iter().find(|(n, _, _)| *n == name) else {
        let known: Vec<&str> = ATTRIBUTES.iter().map(|(n, _, _)| *n).collect();
        return Err(invalid(format!(
            "{name} is not an attribute exorun writes into a subject: use {}",
            known.join(", ")
        )));
    };
    Ok((canonical, unescape(value.trim())))
}

/// A value without its quotes and escapes.
fn unescape(value: &str) -> String {
    let value = match value.strip_prefix('"') {
        Some(rest) => rest.strip_suffix('"').unwrap_or(rest),
        None => value,
    };
    let mut out = String::new();
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.extend(chars.next()),
            '"' => {}
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(text: &str) -> Vec<(&'static str, String)> {
        Subject::parse(text).unwrap().entries
    }

    fn refusal(text: &str) -> String {
        Subject::parse(text).unwrap_err().to_string()
    }

    #[test]
    fn a_plain_name_is_the_common_name() {
        assert_eq!(
            entries("exorun-automation"),
            [("CN", "exorun-automation".into())]
        );
        assert_eq!(entries(" two words "), [("CN", "two words".into())]);
        assert_eq!(entries("a\\, b"), [("CN", "a, b".into())]);
    }

    #[test]
    fn a_distinguished_name_is_read_attribute_by_attribute() {
        assert_eq!(
            entries("CN=x, O=Contoso"),
            [("CN", "x".into()), ("O", "Contoso".into())]
        );
        assert_eq!(
            entries(r#"cn=x;o="Contoso, Ltd";ou=IT\, Ops;S=Bavaria;c=DE"#),
            [
                ("CN", "x".into()),
                ("O", "Contoso, Ltd".into()),
                ("OU", "IT, Ops".into()),
                ("ST", "Bavaria".into()),
                ("C", "DE".into())
            ]
        );
        assert_eq!(Subject::parse("CN=x, O=A\\, B").unwrap().common_name(), "x");
        assert_eq!(
            Subject::parse("CN=x, O=A\\, B").unwrap().to_string(),
            "CN=x, O=A\\, B"
        );
    }

    #[test]
    fn what_is_not_understood_is_refused() {
        assert!(refusal("CN=x, FOO=bar").contains("FOO is not an attribute exorun writes"));
        assert!(refusal("O=Contoso").contains("has no CN"));
        assert!(refusal("CN=a, CN=b").contains("more than one CN"));
        assert!(refusal("CN=x, Contoso").contains("is not TYPE=value"));
        assert!(refusal("CN=x+O=y").contains("multi-valued"));
        assert!(refusal("CN=x, C=Germany").contains("two-letter country code"));
        assert!(refusal("CN=").contains("1 to 64 characters"));
        assert!(refusal("").contains("1 to 64 characters"));
        assert!(refusal(&"x".repeat(65)).contains("1 to 64 characters"));
        assert!(refusal("CN=\"x").contains("never closed"));
        assert!(refusal("x\\").contains("lone backslash"));
    }
}
