//! A certificate password together with where it was read from, so a refusal can say which
//! password did not work (the variable, the file, the prompt) without ever showing it.

use std::fmt;

use crate::secret::{Secret, SecretError, SecretSource};

/// The password of a PFX or of an encrypted private key, and where it came from.
///
/// `Debug` shows the source, never the password.
#[derive(Clone, Debug)]
pub struct Password {
    secret: Secret,
    source: PasswordSource,
}

impl Password {
    /// Reads the password from a variable, a file or the terminal, remembering which for messages.
    pub fn read(source: &SecretSource) -> Result<Password, SecretError> {
        Ok(Password {
            secret: source.read()?,
            source: PasswordSource::Read(source.clone()),
        })
    }

    /// A password that the program using the library hands over itself.
    pub fn given(secret: Secret) -> Password {
        Password {
            secret,
            source: PasswordSource::Given,
        }
    }

    /// Where the password came from.
    pub fn source(&self) -> &PasswordSource {
        &self.source
    }

    /// The password, for the one place that decrypts or encrypts with it.
    pub(super) fn expose(&self) -> &str {
        self.secret.expose()
    }
}

/// Where a certificate password came from, named in messages in place of the password itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PasswordSource {
    /// Read from an environment variable, a file or the terminal prompt.
    Read(SecretSource),
    /// Handed over by the program using the library.
    Given,
}

impl PasswordSource {
    /// What to check so the password is the one `protected` needs, for the fix of a refusal.
    pub(super) fn check_advice(&self, protected: &str) -> String {
        match self {
            PasswordSource::Read(SecretSource::Env(name)) => format!(
                "check that the environment variable {name} holds the password of {protected}"
            ),
            PasswordSource::Read(SecretSource::File(path)) => format!(
                "check that the file {} holds the password of {protected}, alone on one line",
                path.display()
            ),
            PasswordSource::Read(SecretSource::Prompt(_)) => {
                format!("run again and type the password of {protected}")
            }
            PasswordSource::Given => format!("pass the password of {protected}"),
        }
    }
}

/// The source as the end of "the password …": "from the file /etc/exorun/app.pw".
impl fmt::Display for PasswordSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PasswordSource::Read(SecretSource::Env(name)) => {
                write!(f, "from the environment variable {name}")
            }
            PasswordSource::Read(SecretSource::File(path)) => {
                write!(f, "from the file {}", path.display())
            }
            PasswordSource::Read(SecretSource::Prompt(_)) => f.write_str("typed at the prompt"),
            PasswordSource::Given => f.write_str("given by the calling program"),
        }
    }
}
