//! What can go wrong: a cmdlet that did not run ([`CmdletError`], the contract's `cmdlet-error`
//! plus one plugin-side case) and a plugin's own failure ([`PluginError`]).

use std::fmt;

use crate::bindings::exorun::plugin::exchange as wit;

/// Why a cmdlet did not run or failed. Every case carries the host's (or Exchange's) text.
///
/// The first eight cases mirror the contract's `cmdlet-error`; [`CmdletError::Decode`] is raised
/// inside the plugin when a result object does not fit the type the plugin asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CmdletError {
    /// The plugin's manifest (or the operator's policy) does not allow this cmdlet or parameter.
    Denied(String),
    /// The object named by `-Identity` does not exist (Exchange's 404).
    NotFound(String),
    /// A parameter is unknown or its value is wrong (Exchange's 400); also raised by the SDK,
    /// before anything is sent, when the parameters are not a JSON object.
    InvalidParameter(String),
    /// The app is not allowed: missing consent, no Exchange role, or a refused token.
    Unauthorized(String),
    /// Exchange kept throttling after the host's retries.
    Throttled(String),
    /// The network failed after the host's retries.
    Transport(String),
    /// Any other service failure.
    Service(String),
    /// The run is a dry run and this cmdlet changes something: it was recorded, not sent.
    DryRun(String),
    /// The cmdlet ran, but a result object does not fit the type the plugin reads it into
    /// (the text names the cmdlet and the property).
    Decode(String),
}

impl CmdletError {
    /// The text that came with the error.
    pub fn message(&self) -> &str {
        match self {
            CmdletError::Denied(m)
            | CmdletError::NotFound(m)
            | CmdletError::InvalidParameter(m)
            | CmdletError::Unauthorized(m)
            | CmdletError::Throttled(m)
            | CmdletError::Transport(m)
            | CmdletError::Service(m)
            | CmdletError::DryRun(m)
            | CmdletError::Decode(m) => m,
        }
    }

    /// The case's name as the contract spells it (`"not-found"`, `"dry-run"`...); `"decode"` for
    /// [`CmdletError::Decode`].
    pub fn kind(&self) -> &'static str {
        match self {
            CmdletError::Denied(_) => "denied",
            CmdletError::NotFound(_) => "not-found",
            CmdletError::InvalidParameter(_) => "invalid-parameter",
            CmdletError::Unauthorized(_) => "unauthorized",
            CmdletError::Throttled(_) => "throttled",
            CmdletError::Transport(_) => "transport",
            CmdletError::Service(_) => "service",
            CmdletError::DryRun(_) => "dry-run",
            CmdletError::Decode(_) => "decode",
        }
    }

    /// True if the manifest or the operator's policy refused the call.
    pub fn is_denied(&self) -> bool {
        matches!(self, CmdletError::Denied(_))
    }

    /// True if the object named by `-Identity` does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, CmdletError::NotFound(_))
    }

    /// True if a parameter was unknown or had a wrong value.
    pub fn is_invalid_parameter(&self) -> bool {
        matches!(self, CmdletError::InvalidParameter(_))
    }

    /// True if the app lacks consent, an Exchange role or a valid token.
    pub fn is_unauthorized(&self) -> bool {
        matches!(self, CmdletError::Unauthorized(_))
    }

    /// True if Exchange kept throttling after the host's retries.
    pub fn is_throttled(&self) -> bool {
        matches!(self, CmdletError::Throttled(_))
    }

    /// True if the network failed after the host's retries.
    pub fn is_transport(&self) -> bool {
        matches!(self, CmdletError::Transport(_))
    }

    /// True for any other service failure.
    pub fn is_service(&self) -> bool {
        matches!(self, CmdletError::Service(_))
    }

    /// True if the run is a dry run and the change was recorded, not sent.
    pub fn is_dry_run(&self) -> bool {
        matches!(self, CmdletError::DryRun(_))
    }

    /// True if a result object did not fit the plugin's type.
    pub fn is_decode(&self) -> bool {
        matches!(self, CmdletError::Decode(_))
    }
}

impl fmt::Display for CmdletError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind(), self.message())
    }
}

impl std::error::Error for CmdletError {}

impl From<wit::CmdletError> for CmdletError {
    fn from(error: wit::CmdletError) -> Self {
        match error {
            wit::CmdletError::Denied(m) => CmdletError::Denied(m),
            wit::CmdletError::NotFound(m) => CmdletError::NotFound(m),
            wit::CmdletError::InvalidParameter(m) => CmdletError::InvalidParameter(m),
            wit::CmdletError::Unauthorized(m) => CmdletError::Unauthorized(m),
            wit::CmdletError::Throttled(m) => CmdletError::Throttled(m),
            wit::CmdletError::Transport(m) => CmdletError::Transport(m),
            wit::CmdletError::Service(m) => CmdletError::Service(m),
            wit::CmdletError::DryRun(m) => CmdletError::DryRun(m),
        }
    }
}

/// A plugin's failure: the message the operator sees as the run's error.
///
/// Anything the SDK can fail with converts into it, so `?` works in a plugin's `run` returning
/// `Result<_, PluginError>`; so do `String` and `&str` for the plugin's own messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PluginError {
    message: String,
}

impl PluginError {
    /// A failure with this message.
    pub fn new(message: impl Into<String>) -> Self {
        PluginError {
            message: message.into(),
        }
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The same failure with `context` (what was being done) in front: `context: message`.
    pub fn context(self, context: impl fmt::Display) -> Self {
        PluginError {
            message: format!("{context}: {}", self.message),
        }
    }
}

impl fmt::Display for PluginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for PluginError {}

impl From<CmdletError> for PluginError {
    fn from(error: CmdletError) -> Self {
        PluginError::new(error.to_string())
    }
}

impl From<serde_json::Error> for PluginError {
    fn from(error: serde_json::Error) -> Self {
        PluginError::new(format!("JSON: {error}"))
    }
}

impl From<String> for PluginError {
    fn from(message: String) -> Self {
        PluginError::new(message)
    }
}

impl From<&str> for PluginError {
    fn from(message: &str) -> Self {
        PluginError::new(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cmdlet_errors_say_their_kind_and_text() {
        let e = CmdletError::from(wit::CmdletError::NotFound("no mailbox 'ghost'".into()));
        assert!(e.is_not_found() && !e.is_denied());
        assert_eq!(e.to_string(), "not-found: no mailbox 'ghost'");
        assert_eq!(e.message(), "no mailbox 'ghost'");
        let e = CmdletError::from(wit::CmdletError::DryRun("recorded".into()));
        assert!(e.is_dry_run());
        assert_eq!(e.kind(), "dry-run");
    }

    #[test]
    fn plugin_errors_convert_and_take_context() {
        let e = PluginError::from(CmdletError::Denied("Set-Mailbox is not declared".into()));
        assert_eq!(e.to_string(), "denied: Set-Mailbox is not declared");
        let e = PluginError::from("bad").context("reading the input");
        assert_eq!(e.message(), "reading the input: bad");
    }
}
