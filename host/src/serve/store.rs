//! What the service runs from: the operator's policy and the plugin store (a directory of
//! artifacts), read together and vetted exactly as `exorun run` vets a plugin. A policy that does
//! not check is refused with its errors and the one in force stays; an artifact the policy does
//! not admit is listed as refused, never run. Callers only read it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use exorun::policy::{Policy, Submitted, Vetted};

/// A plugin of the store, as the policy admits it.
#[derive(Clone, Debug)]
pub struct StoredPlugin {
    /// The admitted artifact, its grant and its bytes.
    pub vetted: Vetted,
}

/// The policy and the store, read at one moment.
#[derive(Debug)]
pub struct Loaded {
    /// The policy in force.
    pub policy: Policy,
    /// Admitted plugins, by content digest.
    pub plugins: BTreeMap<String, Arc<StoredPlugin>>,
    /// Artifacts of the store the policy refuses, with why (for the operator's log).
    pub refused: Vec<String>,
    /// A fingerprint of the files read (names, sizes, times), to notice a change.
    pub fingerprint: String,
}

/// Why a plugin cannot be found.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Lookup {
    /// No admitted plugin by that name or digest.
    #[error("the store has no plugin '{0}' that the policy admits")]
    Missing(String),
    /// More than one admitted build has that name.
    #[error(
        "the store holds several admitted builds of plugin '{name}' ({digests}): name the one to run by its digest, sha256:…"
    )]
    Ambiguous {
        /// The name.
        name: String,
        /// Their digests.
        digests: String,
    },
}

impl Loaded {
    /// Reads the policy at `policy` and vets every artifact of the store `plugins`.
    pub fn read(policy: &Path, plugins: &Path) -> Result<Loaded, String> {
        let fingerprint = fingerprint(policy, plugins);
        let policy = Policy::load(policy).map_err(|e| e.to_string())?;
        let mut admitted = BTreeMap::new();
        let mut refused = Vec::new();
        let entries = std::fs::read_dir(plugins)
            .map_err(|e| format!("cannot read the plugin store {}: {e}", plugins.display()))?;
        let mut files: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "wasm") && p.is_file())
            .collect();
        files.sort();
        for file in files {
            let vetted = Submitted::read(&file)
                .map_err(|e| e.to_string())
                .and_then(|submitted| policy.vet(submitted).map_err(|e| e.to_string()));
            match vetted {
                Ok(vetted) => {
                    admitted.insert(
                        vetted.content_digest.clone(),
                        Arc::new(StoredPlugin { vetted }),
                    );
                }
                Err(why) => refused.push(why),
            }
        }
        Ok(Loaded {
            policy,
            plugins: admitted,
            refused,
            fingerprint,
        })
    }

    /// The admitted plugin named `name` (its manifest's name) or `sha256:DIGEST`.
    pub fn plugin(&self, name: &str) -> Result<&Arc<StoredPlugin>, Lookup> {
        if let Some(hex) = name.strip_prefix("sha256:") {
            return self
                .plugins
                .get(&hex.to_ascii_lowercase())
                .ok_or_else(|| Lookup::Missing(name.to_string()));
        }
        let named: Vec<&Arc<StoredPlugin>> = self
            .plugins
            .values()
            .filter(|p| p.vetted.manifest.name == name)
            .collect();
        match named.as_slice() {
            [] => Err(Lookup::Missing(name.to_string())),
            [one] => Ok(one),
            many => Err(Lookup::Ambiguous {
                name: name.to_string(),
                digests: many
                    .iter()
                    .map(|p| format!("sha256:{}", p.vetted.content_digest))
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
        }
    }
}

/// Names, sizes and modification times of the policy and the store's files: changes when
/// either is edited, replaced or added to.
pub fn fingerprint(policy: &Path, plugins: &Path) -> String {
    let stamp = |path: &Path| -> String {
        match std::fs::metadata(path) {
            Ok(meta) => format!(
                "{}:{}:{:?};",
                path.display(),
                meta.len(),
                meta.modified().ok()
            ),
            Err(_) => format!("{}:missing;", path.display()),
        }
    };
    let mut out = stamp(policy);
    if let Ok(entries) = std::fs::read_dir(plugins) {
        let mut paths: Vec<PathBuf> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
        paths.sort();
        for path in paths {
            out.push_str(&stamp(&path));
        }
    }
    out
}
