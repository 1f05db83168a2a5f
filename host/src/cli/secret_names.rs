//! The options that name where a secret is (`--certificate-password-env`, `--client-secret-file`,
//! …): what they are given must be a variable's name or a file's path, never the secret itself.
//! An admin who writes `--client-secret-env "$SECRET"` has put the secret on the command line;
//! exorun refuses it without ever echoing the value, and says how to pass one.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use clap::builder::TypedValueParser;
use clap::error::ErrorKind;
use exorun::secret::is_variable_name;

/// Which secret an option names the place of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecretKind {
    /// A PFX's or PEM key's password.
    Password,
    /// An app's client secret.
    ClientSecret,
    /// A ready access token.
    AccessToken,
    /// The password `cert new` protects the new PFX with.
    NewPfxPassword,
}

impl SecretKind {
    fn what(self) -> &'static str {
        match self {
            SecretKind::Password => "the certificate's password",
            SecretKind::ClientSecret => "the client secret",
            SecretKind::AccessToken => "the access token",
            SecretKind::NewPfxPassword => "the new PFX's password",
        }
    }

    fn env_flag(self) -> &'static str {
        match self {
            SecretKind::Password => "--certificate-password-env",
            SecretKind::ClientSecret => "--client-secret-env",
            SecretKind::AccessToken => "--access-token-env",
            SecretKind::NewPfxPassword => "--password-env",
        }
    }

    fn file_flag(self) -> &'static str {
        match self {
            SecretKind::Password => "--certificate-password-file",
            SecretKind::ClientSecret => "--client-secret-file",
            SecretKind::AccessToken => "--access-token-file",
            SecretKind::NewPfxPassword => "--password-file",
        }
    }

    fn example_variable(self) -> &'static str {
        match self {
            SecretKind::Password | SecretKind::NewPfxPassword => "PFX_PASSWORD",
            SecretKind::ClientSecret => "EXO_CLIENT_SECRET",
            SecretKind::AccessToken => "EXO_TOKEN",
        }
    }

    /// The refusal of what `flag` was given: `problem` says what is wrong with it, never what it
    /// is; then why, and how to pass the secret.
    fn refusal(self, flag: &str, holder: &str, problem: &str) -> String {
        let prompt = if self == SecretKind::Password {
            ", or --prompt-password to type it"
        } else {
            ""
        };
        format!(
            "{flag} takes the name of {holder} holding {what}, and {problem}; it is not shown here, in case it is the secret itself. \
             Secrets are refused on the command line on purpose: they stay in shell history and show in process listings.\n  \
             fix: put it in a variable and name the variable (read -rs {var}; export {var}; then {env} {var}), or in a file only you can read and name the file ({file} FILE){prompt}",
            what = self.what(),
            var = self.example_variable(),
            env = self.env_flag(),
            file = self.file_flag(),
        )
    }

    /// Checks that the variable named is set: one that is not may be the secret itself, so it
    /// is not named back.
    pub fn check_variable(self, name: &str) -> Result<(), String> {
        match std::env::var_os(name) {
            Some(value) if !value.is_empty() => Ok(()),
            _ => Err(self.refusal(
                self.env_flag(),
                "an environment variable",
                "what was given names no variable that is set (or it is empty)",
            )),
        }
    }

    /// Checks that the file named exists: a path to nothing may be the secret itself, so it is
    /// not named back.
    pub fn check_file(self, path: &Path) -> Result<(), String> {
        match path.try_exists() {
            Ok(true) => Ok(()),
            _ => Err(self.refusal(
                self.file_flag(),
                "a file",
                "what was given names no file that exists",
            )),
        }
    }
}

/// The value parser of an option naming a variable that holds a secret: a variable's name, and
/// nothing is echoed when it is not one (clap's own errors quote the value).
#[derive(Clone, Copy, Debug)]
pub struct VariableName(pub SecretKind);

impl TypedValueParser for VariableName {
    type Value = String;

    fn parse_ref(
        &self,
        _command: &clap::Command,
        _arg: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<String, clap::Error> {
        let flag = self.0.env_flag();
        let text = value.to_str().unwrap_or_default();
        if is_variable_name(text) {
            return Ok(text.to_string());
        }
        let message = match text.strip_prefix('$') {
            // `'$PW'` quoted: the name, with the shell's `$` left on; naming it is safe.
            Some(name) if is_variable_name(name) => {
                format!("{flag} takes the variable's name without the $: {flag} {name}")
            }
            _ => self.0.refusal(
                flag,
                "an environment variable",
                "what was given is not a variable's name",
            ),
        };
        // clap prints a raw message as it is: the line ends here.
        Err(clap::Error::raw(ErrorKind::ValueValidation, message + "\n"))
    }
}

/// The value parser of an option naming a file that holds a secret: any path (it is checked to
/// exist when the settings are read, see [`SecretKind::check_file`]).
#[derive(Clone, Copy, Debug)]
pub struct SecretFile(pub SecretKind);

impl TypedValueParser for SecretFile {
    type Value = PathBuf;

    fn parse_ref(
        &self,
        _command: &clap::Command,
        _arg: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<PathBuf, clap::Error> {
        if value.is_empty() {
            return Err(clap::Error::raw(
                ErrorKind::ValueValidation,
                format!(
                    "{} is empty: name the file that holds {}\n",
                    self.0.file_flag(),
                    self.0.what()
                ),
            ));
        }
        Ok(PathBuf::from(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_never_contains_what_was_given() {
        let command = clap::Command::new("t");
        for given in ["p@ss word!", "Xy8Q~abc.def"] {
            let e = VariableName(SecretKind::ClientSecret)
                .parse_ref(&command, None, OsStr::new(given))
                .unwrap_err()
                .to_string();
            assert!(!e.contains(given), "{e}");
            assert!(e.contains("--client-secret-env takes the name of"), "{e}");
            assert!(e.contains("--client-secret-file FILE"), "{e}");
        }
        let e = SecretKind::Password
            .check_variable("EXORUN_TEST_SURELY_UNSET_4711")
            .unwrap_err();
        assert!(!e.contains("EXORUN_TEST_SURELY_UNSET_4711"), "{e}");
        assert!(e.contains("--prompt-password"), "{e}");
        let e = SecretKind::AccessToken
            .check_file(Path::new("eyJ.not.a.file"))
            .unwrap_err();
        assert!(!e.contains("eyJ"), "{e}");
    }
}
