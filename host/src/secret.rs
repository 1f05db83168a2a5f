//! Secrets (passwords, client secrets, tokens) as a type that cannot be printed by accident, and
//! the places a secret may come from: an environment variable, a file, or a prompt. Never a
//! command-line value: those end up in shell history and process listings.

use std::fmt;
use std::io::IsTerminal;
use std::path::PathBuf;

/// A value that must never be printed (password, client secret, token, private key PEM).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value, for the one place that must send it (a request body, a header, a decryptor).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Whether `text` can be an environment variable's name (as a POSIX shell names them). A setting
/// that must name a variable holding a secret but holds something else may hold the secret
/// itself: such a value is refused and never shown.
pub fn is_variable_name(text: &str) -> bool {
    let mut chars = text.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Where a secret is read from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecretSource {
    /// An environment variable (named, not its value).
    Env(String),
    /// A file whose content (trimmed of the final newline) is the secret.
    File(PathBuf),
    /// Ask on the terminal, with this prompt.
    Prompt(String),
}

/// Why a secret could not be read. Each message ends with `\n  fix: ` and what to do.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// The variable is unset or empty.
    #[error(
        "environment variable {0} is not set\n  fix: set {0} in the environment exorun runs in (for a \
         service, in its unit or task definition), or keep the secret in a file and name that file instead"
    )]
    EnvMissing(String),
    /// The file could not be read.
    #[error(
        "cannot read the secret file {path}: {reason}\n  fix: check the path and that this user may read the file"
    )]
    File {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        reason: String,
    },
    /// The file is empty.
    #[error("the secret file {0} is empty\n  fix: write the secret into it, alone on one line")]
    EmptyFile(PathBuf),
    /// A prompt is needed but nobody can answer it.
    #[error(
        "{0} is needed but there is no terminal to ask on\n  fix: keep it in a file or an environment \
         variable and name that instead of prompting"
    )]
    NoTerminal(String),
}

impl SecretSource {
    /// Reads the secret.
    pub fn read(&self) -> Result<Secret, SecretError> {
        self.read_with(|name| std::env::var(name).ok())
    }

    /// Reads the secret, looking variables up with `env` (tests pass their own).
    pub fn read_with(&self, env: impl Fn(&str) -> Option<String>) -> Result<Secret, SecretError> {
        match self {
            SecretSource::Env(name) => env(name)
                .filter(|v| !v.is_empty())
                .map(Secret::new)
                .ok_or_else(|| SecretError::EnvMissing(name.clone())),
            SecretSource::File(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| SecretError::File {
                    path: path.clone(),
                    reason: e.to_string(),
                })?;
                let value = text.strip_suffix('\n').unwrap_or(&text);
                let value = value.strip_suffix('\r').unwrap_or(value);
                if value.is_empty() {
                    return Err(SecretError::EmptyFile(path.clone()));
                }
                Ok(Secret::new(value))
            }
            SecretSource::Prompt(label) => {
                if !std::io::stdin().is_terminal() {
                    return Err(SecretError::NoTerminal(label.clone()));
                }
                rpassword::prompt_password(format!("{label}: "))
                    .map(Secret::new)
                    .map_err(|_| SecretError::NoTerminal(label.clone()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?} {s}"), "Secret([redacted]) [redacted]");
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn variable_names_are_shell_names() {
        for good in ["PW", "_x", "PFX_PASSWORD_2"] {
            assert!(is_variable_name(good), "{good}");
        }
        for bad in ["", "2PW", "p@ss", "a b", "$PW", "Xy8Q~abc", "a-b"] {
            assert!(!is_variable_name(bad), "{bad}");
        }
    }

    #[test]
    fn reads_from_env_and_file() {
        let env = |n: &str| (n == "PW").then(|| "from-env".to_string());
        assert_eq!(
            SecretSource::Env("PW".into())
                .read_with(env)
                .unwrap()
                .expose(),
            "from-env"
        );
        let missing = SecretSource::Env("NOPE".into()).read_with(env).unwrap_err();
        assert!(missing.to_string().contains("NOPE"));
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pw");
        std::fs::write(&file, "s3cret\n").unwrap();
        assert_eq!(
            SecretSource::File(file.clone()).read().unwrap().expose(),
            "s3cret"
        );
        std::fs::write(&file, "").unwrap();
        assert!(matches!(
            SecretSource::File(file).read(),
            Err(SecretError::EmptyFile(_))
        ));
    }
}
