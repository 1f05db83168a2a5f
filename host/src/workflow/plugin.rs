//! A step's plugin: a name found in the plugin directory, or a path beside the workflow file;
//! with `Workflow::load`, the file must be there and match its pinned digest.

use std::path::{Component, Path, PathBuf};

use toml::Spanned;

use super::file::StepTable;
use super::load::Loader;
use super::spec::PluginRef;
use crate::signing::content_digest;

/// The plugin a step runs: a name found in the plugin directory, or a path.
pub(super) fn plugin(
    l: &mut Loader<'_>,
    raw: &StepTable,
    plugin_dir: &Path,
    plugin_dir_written: Option<&Spanned<String>>,
) -> PluginRef {
    let written = raw.plugin.get_ref();
    let at = raw.plugin.span().start;
    let by_path = written.contains(['/', '\\']) || written.ends_with(".wasm");
    let path = if by_path {
        normalize(&l.dir.join(written))
    } else {
        if written.is_empty()
            || !written
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            l.problem(
                at,
                format!("plugin '{written}' is neither a plugin name nor a path"),
                "a name is lowercase letters, digits and '-', as in the plugin's manifest (found as <plugin_dir>/<name>.wasm); a path holds '/' or ends in .wasm",
            );
        }
        normalize(&plugin_dir.join(format!("{written}.wasm")))
    };
    let digest = raw.digest.as_ref().and_then(|d| pinned(l, d));
    if l.check_files {
        let fix = if by_path {
            "fix the path (it is relative to this file), or build the plugin (bash scripts/build-plugins.sh)".to_string()
        } else {
            format!(
                "build the plugins (bash scripts/build-plugins.sh), or set plugin_dir to where they are ({})",
                match plugin_dir_written {
                    Some(dir) =>
                        format!("plugin_dir is \"{}\", relative to this file", dir.get_ref()),
                    None =>
                        "without plugin_dir, plugins are looked for beside this file".to_string(),
                }
            )
        };
        let pin = digest.as_deref().zip(raw.digest.as_ref());
        check_file(l, &path, (written, at, &fix), pin);
    }
    PluginRef {
        written: written.clone(),
        path,
        digest,
        at: l.location(at),
    }
}

/// The sha256 hex a `digest` pins (`sha256:` and 64 hex digits, any case), or a problem.
fn pinned(l: &mut Loader<'_>, digest: &Spanned<String>) -> Option<String> {
    let lower = digest.get_ref().trim().to_ascii_lowercase();
    let hex = lower.strip_prefix("sha256:").unwrap_or(&lower);
    if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Some(hex.to_string());
    }
    l.problem(
        digest.span().start,
        format!("digest '{}' is not a sha256 digest", digest.get_ref()),
        "copy the content digest from `exorun plugin inspect` (sha256: and 64 hex digits)",
    );
    None
}

/// Checks that the plugin file is at `path` (else the problem at the `plugin` value, as
/// `written` at `at`, with `fix`) and has the content digest `pin` pins (else the problem at
/// the `digest` value).
fn check_file(
    l: &mut Loader<'_>,
    path: &Path,
    (written, at, fix): (&str, usize, &str),
    pin: Option<(&str, &Spanned<String>)>,
) {
    let found = l
        .digests
        .entry(path.to_path_buf())
        .or_insert_with(|| match std::fs::read(path) {
            Ok(bytes) => Ok(content_digest(&bytes)),
            Err(e) => Err(e.to_string()),
        })
        .clone();
    match found {
        Err(_) if !path.exists() => l.problem(
            at,
            format!("plugin '{written}' is not at {}", path.display()),
            fix,
        ),
        Err(why) => l.problem(
            at,
            format!("cannot read plugin {}: {why}", path.display()),
            "check the file's permissions",
        ),
        Ok(actual) => {
            if let Some((pinned, digest)) = pin
                && pinned != actual
            {
                l.problem(
                    digest.span().start,
                    format!(
                        "{} has content digest sha256:{actual}, but the step pins sha256:{pinned}",
                        path.display()
                    ),
                    "if this build was reviewed, pin its digest (`exorun plugin inspect` shows it); otherwise put the pinned build there",
                );
            }
        }
    }
}

/// `path` without `.` and with `dir/..` taken out, as written (symbolic links are not
/// followed): what the messages show and the files opened.
pub(super) fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => match out.components().next_back() {
                Some(Component::Normal(_)) => {
                    out.pop();
                }
                Some(Component::RootDir | Component::Prefix(_)) => {}
                _ => out.push(".."),
            },
            other => out.push(other.as_os_str()),
        }
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}
