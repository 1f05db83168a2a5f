//! A PowerShell habit on exorun's own command line: `-Identity:ann` or `-WhatIf` after
//! `exorun run …`. clap reads such a word as the short option `-I` (or `-W`) and names only that
//! letter, which sends the admin looking for an option that does not exist; this names the whole
//! word and says where parameters go in exorun.

use std::ffi::OsString;

use clap::error::{ContextKind, ContextValue, ErrorKind};

/// `error` as it is, unless it is clap's unknown short option cut from a PowerShell-style
/// parameter among `args`: then an error of the same kind naming the whole word.
pub fn powershell_parameter(
    command: &mut clap::Command,
    args: &[OsString],
    error: clap::Error,
) -> clap::Error {
    if error.kind() != ErrorKind::UnknownArgument {
        return error;
    }
    let Some(ContextValue::String(short)) = error.get(ContextKind::InvalidArg) else {
        return error;
    };
    let word = args
        .iter()
        .skip(1)
        .filter_map(|a| a.to_str())
        .find(|a| a.starts_with(short.as_str()) && looks_like_powershell(a));
    match word {
        Some(word) => command.error(
            ErrorKind::UnknownArgument,
            format!(
                "'{word}' is written as a PowerShell parameter, and exorun's options start with -- (see --help)\n  \
                 fix: a plugin's parameters go in its input as JSON (--input '{{\"identity\": \"ann@contoso.com\"}}'); \
                 a cmdlet's go after its name (exorun invoke Get-Mailbox -Identity ann); --dry-run rehearses a run as -WhatIf would"
            ),
        ),
        None => error,
    }
}

/// `-Name` or `-Name:value`, the name capitalised and at least two letters: PowerShell's way,
/// never one of exorun's short options.
fn looks_like_powershell(word: &str) -> bool {
    let Some(rest) = word.strip_prefix('-') else {
        return false;
    };
    let name = rest.split(':').next().unwrap_or_default();
    name.len() >= 2
        && name.starts_with(|c: char| c.is_ascii_uppercase())
        && name.chars().all(|c| c.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn powershell_parameters_are_told_from_short_options() {
        for word in [
            "-Identity:ann",
            "-WhatIf",
            "-ResultSize:10",
            "-Confirm:$false",
        ] {
            assert!(looks_like_powershell(word), "{word}");
        }
        for word in ["-h", "--input", "-", "-x1", "-identity", "ann", "-I"] {
            assert!(!looks_like_powershell(word), "{word}");
        }
    }

    #[test]
    fn the_whole_word_is_named() {
        let mut command = clap::Command::new("exorun").arg(clap::Arg::new("input").long("input"));
        let args: Vec<OsString> = ["exorun", "--input", "{}", "-Identity:ann"]
            .map(OsString::from)
            .to_vec();
        let error = command.try_get_matches_from_mut(&args).unwrap_err();
        let error = powershell_parameter(&mut command, &args, error);
        assert_eq!(error.kind(), ErrorKind::UnknownArgument);
        let text = error.to_string();
        assert!(
            text.contains("'-Identity:ann' is written as a PowerShell parameter")
                && !text.contains("'-I'"),
            "{text}"
        );
    }
}
