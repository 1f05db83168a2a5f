//! Where exorun keeps the user's files, by the XDG base directory rules, in one place: the
//! configuration (`$XDG_CONFIG_HOME/exorun`, else `~/.config/exorun`), the state — audit log,
//! runs, checkpoints — (`$XDG_STATE_HOME/exorun`, else `~/.local/state/exorun`) and the cache
//! (`$XDG_CACHE_HOME/exorun`, else `~/.cache/exorun`). A relative `XDG_*_HOME` is invalid by
//! the specification and ignored.

use std::path::PathBuf;

/// Which of the user's directories.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Base {
    /// Configuration: profiles, `serve.toml`.
    Config,
    /// State that outlives a run: the audit log, runs, checkpoints.
    State,
    /// What can be made again: compiled plugins.
    Cache,
}

impl Base {
    /// Its variable and its place under the home directory.
    fn spec(self) -> (&'static str, &'static str) {
        match self {
            Base::Config => ("XDG_CONFIG_HOME", ".config"),
            Base::State => ("XDG_STATE_HOME", ".local/state"),
            Base::Cache => ("XDG_CACHE_HOME", ".cache"),
        }
    }
}

/// exorun's directory of kind `base`; `None` when neither the variable nor a home directory
/// gives one.
pub fn dir(base: Base) -> Option<PathBuf> {
    let (variable, _) = base.spec();
    dir_from(
        base,
        std::env::var_os(variable).map(PathBuf::from),
        std::env::home_dir(),
    )
}

/// The rule, from the variable's value and the home directory.
fn dir_from(base: Base, xdg: Option<PathBuf>, home: Option<PathBuf>) -> Option<PathBuf> {
    let (_, under_home) = base.spec();
    let root = xdg
        .filter(|p| p.is_absolute())
        .or_else(|| home.map(|h| h.join(under_home)))?;
    Some(root.join("exorun"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_directory_follows_its_variable_then_home() {
        let home = Some(PathBuf::from("/home/ann"));
        for (base, under_home) in [
            (Base::Config, "/home/ann/.config/exorun"),
            (Base::State, "/home/ann/.local/state/exorun"),
            (Base::Cache, "/home/ann/.cache/exorun"),
        ] {
            assert_eq!(
                dir_from(base, Some("/x".into()), home.clone()),
                Some(PathBuf::from("/x/exorun"))
            );
            // A relative value is invalid, and ignored.
            assert_eq!(
                dir_from(base, Some("relative".into()), home.clone()),
                Some(PathBuf::from(under_home))
            );
            assert_eq!(
                dir_from(base, None, home.clone()),
                Some(PathBuf::from(under_home))
            );
            assert_eq!(dir_from(base, None, None), None);
        }
    }
}
