//! Which database holds the service's state: embedded SQLite in `state_dir` by default, or a
//! PostgreSQL server that several replicas share (`database = "postgres://…"` in serve.toml, or
//! `--database`). Its URL may carry a password, so [`DatabaseUrl`] never shows it: `Display` and
//! `Debug` print `***` in its place, and [`DatabaseUrl::scrub`] takes it out of any text (a
//! driver's error) before that text is logged or answered. The password may also come from a
//! file (`database_password_file`), which keeps it out of the configuration and the command line.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

/// What is wrong with a database URL or its password file. No variant holds the password.
#[derive(Debug, thiserror::Error)]
pub enum DatabaseUrlError {
    /// Not a URL at all.
    #[error(
        "the database URL is not a URL ({reason}): write it as postgres://USER@HOST:PORT/DATABASE"
    )]
    NotUrl {
        /// The parser's reason (it never quotes the text).
        reason: String,
    },
    /// A scheme other than PostgreSQL's.
    #[error(
        "the database URL's scheme is '{scheme}': only PostgreSQL is supported (postgres://USER@HOST:PORT/DATABASE); leave `database` out to keep the state in SQLite in state_dir"
    )]
    Scheme {
        /// The scheme given.
        scheme: String,
    },
    /// No host to connect to.
    #[error("the database URL names no host: write it as postgres://USER@HOST:PORT/DATABASE")]
    NoHost,
    /// A password both in the URL and in a file.
    #[error(
        "the database URL carries a password and database_password_file names another: give it in one place (the file keeps it out of the configuration)"
    )]
    TwoPasswords,
    /// The password file cannot be read.
    #[error("cannot read the database password file {path}: {reason}")]
    PasswordFile {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
}

/// A PostgreSQL URL whose password is never shown.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    url: url::Url,
}

impl FromStr for DatabaseUrl {
    type Err = DatabaseUrlError;

    fn from_str(text: &str) -> Result<DatabaseUrl, DatabaseUrlError> {
        let url = url::Url::parse(text.trim()).map_err(|e| DatabaseUrlError::NotUrl {
            reason: e.to_string(),
        })?;
        if !matches!(url.scheme(), "postgres" | "postgresql") {
            return Err(DatabaseUrlError::Scheme {
                scheme: url.scheme().to_string(),
            });
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(DatabaseUrlError::NoHost);
        }
        Ok(DatabaseUrl { url })
    }
}

impl DatabaseUrl {
    /// The same URL with the password read from `path` (its first line; a trailing newline is
    /// not part of it).
    pub fn with_password_file(mut self, path: &Path) -> Result<DatabaseUrl, DatabaseUrlError> {
        if self.url.password().is_some() {
            return Err(DatabaseUrlError::TwoPasswords);
        }
        let unreadable = |reason: String| DatabaseUrlError::PasswordFile {
            path: path.display().to_string(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| unreadable(e.to_string()))?;
        let password = text.lines().next().unwrap_or("");
        if password.is_empty() {
            return Err(unreadable(
                "it is empty: write the password on its first line".into(),
            ));
        }
        self.url
            .set_password(Some(password))
            .map_err(|()| unreadable("the URL cannot carry a password".into()))?;
        Ok(self)
    }

    /// The full URL, password included: only for the driver, never to print.
    pub fn expose(&self) -> &str {
        self.url.as_str()
    }

    /// `text` with the password (as written in the URL and decoded) replaced by `***`.
    pub fn scrub(&self, text: &str) -> String {
        let Some(encoded) = self.url.password() else {
            return text.to_string();
        };
        let decoded = percent_decode(encoded);
        let mut text = text.replace(encoded, "***");
        if !decoded.is_empty() {
            text = text.replace(&decoded, "***");
        }
        text
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut shown = self.url.clone();
        if shown.password().is_some() {
            let _ = shown.set_password(Some("***"));
        }
        f.write_str(shown.as_str())
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({self})")
    }
}

/// Decodes `%XX` escapes (what a URL's password is written with).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| text.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_is_never_shown() {
        let url: DatabaseUrl = "postgres://exorun:s3cr%40t@db.internal:5432/exorun"
            .parse()
            .unwrap();
        assert_eq!(
            url.to_string(),
            "postgres://exorun:***@db.internal:5432/exorun"
        );
        assert!(!format!("{url:?}").contains("s3cr"));
        assert_eq!(
            url.scrub("auth failed for s3cr@t and s3cr%40t"),
            "auth failed for *** and ***"
        );
        assert!(url.expose().contains("s3cr%40t"));
    }

    #[test]
    fn the_password_file_fills_the_url_once() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pw");
        std::fs::write(&file, "p@ss word\n").unwrap();
        let url: DatabaseUrl = "postgres://exorun@db/exorun".parse().unwrap();
        let filled = url.with_password_file(&file).unwrap();
        assert_eq!(filled.to_string(), "postgres://exorun:***@db/exorun");
        assert!(filled.expose().contains("p%40ss%20word"));
        assert_eq!(filled.scrub("x p@ss word y"), "x *** y");
        let err = filled.with_password_file(&file).unwrap_err().to_string();
        assert!(err.contains("give it in one place"), "{err}");
        std::fs::write(&file, "\n").unwrap();
        let url: DatabaseUrl = "postgres://exorun@db/exorun".parse().unwrap();
        let err = url.with_password_file(&file).unwrap_err().to_string();
        assert!(err.contains("it is empty"), "{err}");
    }

    #[test]
    fn only_postgres_urls_with_a_host_are_taken() {
        let err = |text: &str| text.parse::<DatabaseUrl>().unwrap_err().to_string();
        assert!(err("mysql://u:pw@h/db").contains("only PostgreSQL is supported"));
        assert!(err("sqlite:///var/lib/exorun.db").contains("only PostgreSQL"));
        let not_url = err("//exorun:pw@db.internal/exorun");
        assert!(not_url.contains("is not a URL"), "{not_url}");
        assert!(!not_url.contains("pw@"), "{not_url}");
        assert!(err("postgres:///exorun").contains("names no host"));
        assert!("postgresql://u@h/db".parse::<DatabaseUrl>().is_ok());
    }
}
