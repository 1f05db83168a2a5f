//! Reading a text file a person wrote (a policy, a workflow, a plugin's input): it must be
//! UTF-8, and when it is not, the error says what it looks like instead (UTF-16 as Windows
//! Notepad and PowerShell 5 save it, Latin-1, a binary file) and how to convert it, rather than
//! the standard library's "stream did not contain valid UTF-8".

use std::path::Path;

/// Why a text file cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum TextError {
    /// The file cannot be opened or read.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The file is not UTF-8 text.
    #[error("it is not UTF-8 text: {looks_like}\n  fix: {fix}")]
    NotUtf8 {
        /// What the bytes look like instead.
        looks_like: &'static str,
        /// How to make it UTF-8.
        fix: &'static str,
    },
}

/// The contents of the text file at `path`, a leading UTF-8 byte-order mark dropped.
pub fn read(path: &Path) -> Result<String, TextError> {
    let bytes = std::fs::read(path)?;
    decode(bytes)
}

/// `bytes` as UTF-8 text, or what they look like instead.
fn decode(bytes: Vec<u8>) -> Result<String, TextError> {
    match String::from_utf8(bytes) {
        Ok(text) => Ok(text
            .strip_prefix('\u{feff}')
            .map(str::to_string)
            .unwrap_or(text)),
        Err(e) => Err(not_utf8(e.as_bytes())),
    }
}

fn not_utf8(bytes: &[u8]) -> TextError {
    let utf16 = bytes.starts_with(&[0xFF, 0xFE])
        || bytes.starts_with(&[0xFE, 0xFF])
        || (bytes.len() >= 4 && (bytes[1] == 0 && bytes[3] == 0 || bytes[0] == 0 && bytes[2] == 0));
    if utf16 {
        TextError::NotUtf8 {
            looks_like: "it looks like UTF-16, as Windows Notepad (\"Unicode\") and Windows PowerShell 5 (Out-File, >) save text",
            fix: "save it as UTF-8: in PowerShell, Get-Content FILE | Set-Content -Encoding utf8 NEWFILE; on Linux, iconv -f UTF-16 -t UTF-8 FILE > NEWFILE",
        }
    } else if bytes.contains(&0) {
        TextError::NotUtf8 {
            looks_like: "it has NUL bytes, so it looks like a binary file, not text",
            fix: "give the text file (check the path: this may be another file)",
        }
    } else {
        TextError::NotUtf8 {
            looks_like: "it looks like Latin-1 or Windows-1252 (an accented letter saved by an older editor)",
            fix: "save it as UTF-8: in PowerShell, Get-Content FILE | Set-Content -Encoding utf8 NEWFILE; on Linux, iconv -f WINDOWS-1252 -t UTF-8 FILE > NEWFILE",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_is_read_and_other_encodings_are_named() {
        assert_eq!(
            decode(b"\xef\xbb\xbfname = 1".to_vec()).unwrap(),
            "name = 1"
        );
        let utf16: Vec<u8> = std::iter::once(0xFEFFu16)
            .chain("name = 1".encode_utf16())
            .flat_map(|u| u.to_le_bytes())
            .collect();
        let e = decode(utf16).unwrap_err().to_string();
        assert!(e.contains("UTF-16") && e.contains("iconv -f UTF-16"), "{e}");
        let e = decode(b"ren\xe9".to_vec()).unwrap_err().to_string();
        assert!(e.contains("Latin-1") && e.contains("WINDOWS-1252"), "{e}");
        let e = decode(vec![0x9f, 0x92, 0, 1]).unwrap_err().to_string();
        assert!(e.contains("binary"), "{e}");
    }
}
