//! What a file that should hold a certificate really holds, so a refusal can say "it is empty",
//! "it is PEM text" or "this PKCS#12 file is cut short" rather than only "not a PKCS#12 file".

use std::fmt;

use openssl::pkcs12::Pkcs12;
use openssl::x509::X509;

/// What the bytes of a file look like, when they are not the kind of file that was expected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContentKind {
    /// No bytes at all.
    Empty,
    /// PEM text (`-----BEGIN …-----` blocks).
    Pem,
    /// A whole PKCS#12 (.pfx/.p12) file.
    Pkcs12,
    /// A DER certificate alone, like the .cer uploaded to the app registration.
    DerCertificate,
    /// Text that is not PEM.
    Text,
    /// Binary data that is neither PKCS#12 nor a certificate.
    Binary,
}

impl ContentKind {
    /// Looks at `bytes` to say what they are.
    pub(super) fn of(bytes: &[u8]) -> ContentKind {
        if bytes.is_empty() {
            ContentKind::Empty
        } else if bytes.windows(11).any(|w| w == b"-----BEGIN ") {
            ContentKind::Pem
        } else if Pkcs12::from_der(bytes).is_ok() {
            ContentKind::Pkcs12
        } else if X509::from_der(bytes).is_ok() {
            ContentKind::DerCertificate
        } else if std::str::from_utf8(bytes)
            .is_ok_and(|text| !text.chars().any(|c| c.is_control() && !c.is_whitespace()))
        {
            ContentKind::Text
        } else {
            ContentKind::Binary
        }
    }

    /// What to give instead of a file with this content.
    pub(super) fn fix(self) -> &'static str {
        match self {
            ContentKind::Empty => {
                "copy the certificate file again: the export or copy that made this one wrote nothing"
            }
            ContentKind::Pem => {
                "give a PEM file as --certificate FILE when it holds the certificate and its key, or as \
                 --certificate FILE --key KEYFILE when the key is in another file"
            }
            ContentKind::Pkcs12 => {
                "give a PKCS#12 file as --certificate FILE alone, without --key, with its password \
                 (--certificate-password-file FILE)"
            }
            ContentKind::DerCertificate => {
                "exorun also needs the private key: give the .pfx exported \"with private key\", or the \
                 PEM certificate as --certificate FILE with its key as --key KEYFILE"
            }
            ContentKind::Text | ContentKind::Binary => {
                "check that the path names the certificate, not another file: give the .pfx exported \
                 \"with private key\", or a PEM certificate and key"
            }
        }
    }
}

/// The content as the end of "it is …".
impl fmt::Display for ContentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ContentKind::Empty => "empty (0 bytes)",
            ContentKind::Pem => "PEM text",
            ContentKind::Pkcs12 => "a PKCS#12 (.pfx/.p12) file",
            ContentKind::DerCertificate => {
                "a certificate without its private key (DER, like the .cer uploaded to the app registration)"
            }
            ContentKind::Text => "text, not a certificate file",
            ContentKind::Binary => "binary data that is neither PKCS#12 nor a certificate",
        })
    }
}

/// How a file that starts like PKCS#12 but does not decode is broken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Damage {
    /// It ends before its outer structure does: an interrupted download or copy.
    Truncated {
        /// Bytes in the file.
        size: usize,
        /// Bytes its outer header says the file has.
        expected: usize,
    },
    /// It is long enough but its contents do not decode: bytes were changed on the way.
    Malformed,
}

impl Damage {
    /// How `bytes`, which OpenSSL would not decode as PKCS#12, are damaged; `None` when they do
    /// not start like PKCS#12 (a DER SEQUENCE whose first element is the version, INTEGER 3).
    pub(super) fn of_pkcs12(bytes: &[u8]) -> Option<Damage> {
        let (header, length) = der_sequence_header(bytes)?;
        if bytes.get(header..header + 3)? != [0x02, 0x01, 0x03] {
            return None;
        }
        Some(match length.map(|length| header + length) {
            Some(expected) if bytes.len() < expected => Damage::Truncated {
                size: bytes.len(),
                expected,
            },
            _ => Damage::Malformed,
        })
    }
}

/// What is wrong, as the end of "… damaged or truncated: …".
impl fmt::Display for Damage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Damage::Truncated { size, expected } => {
                write!(f, "it has {size} bytes where its header says {expected}")
            }
            Damage::Malformed => f.write_str("its contents do not decode"),
        }
    }
}

/// The size of a DER SEQUENCE header and the length it declares (`None` for BER's indefinite
/// length), or `None` when `bytes` do not start with a whole SEQUENCE header.
fn der_sequence_header(bytes: &[u8]) -> Option<(usize, Option<usize>)> {
    if *bytes.first()? != 0x30 {
        return None;
    }
    let first = *bytes.get(1)?;
    match first {
        0x80 => Some((2, None)),
        0x00..=0x7f => Some((2, Some(usize::from(first)))),
        0x81..=0x84 => {
            let count = usize::from(first & 0x7f);
            let digits = bytes.get(2..2 + count)?;
            let length = digits
                .iter()
                .fold(0usize, |length, digit| (length << 8) | usize::from(*digit));
            Some((2 + count, Some(length)))
        }
        _ => None,
    }
}

#[cfg(test)]
#[path = "sniff_tests.rs"]
mod tests;
