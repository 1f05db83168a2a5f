//! What the service runs from: the operator's policy, the plugin store (a directory of
//! artifacts) and the workflow files, read together and vetted exactly as `exorun run` vets a
//! plugin and `exorun workflow run` a workflow's steps. A policy that does not check is refused
//! with its errors and the one in force stays; an artifact the policy does not admit, or a
//! workflow with a step it does not admit, is listed as refused, never run. Callers only read it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use exorun::digest::sha256_hex;
use exorun::policy::{Policy, Submitted, Vetted};
use exorun::workflow::Workflow;
use exorun::workflow::admission::vet_step;

/// A plugin of the store, as the policy admits it.
#[derive(Clone, Debug)]
pub struct StoredPlugin {
    /// The admitted artifact, its grant and its bytes.
    pub vetted: Vetted,
}

/// A workflow the service may run, its steps' plugins vetted by the policy read with it.
#[derive(Debug)]
pub struct StoredWorkflow {
    /// The checked workflow.
    pub workflow: Workflow,
    /// Its file.
    pub path: PathBuf,
    /// The SHA-256 of its file (lowercase hex): a run names the exact file it was asked of.
    pub digest: String,
    /// Each step's admitted plugin, by step id.
    pub steps: BTreeMap<String, Vetted>,
}

/// The policy and the store, read at one moment.
#[derive(Debug)]
pub struct Loaded {
    /// The policy in force.
    pub policy: Policy,
    /// Admitted plugins, by content digest.
    pub plugins: BTreeMap<String, Arc<StoredPlugin>>,
    /// The workflows, by name.
    pub workflows: BTreeMap<String, Arc<StoredWorkflow>>,
    /// Artifacts of the store the policy refuses, and workflows that cannot run, with why (for
    /// the operator's log).
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
    /// No workflow by that name can run.
    #[error("the service has no workflow '{0}' that can run")]
    MissingWorkflow(String),
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
    /// Reads the policy at `policy`, vets every artifact of the store `plugins` and every step
    /// of the workflow files in `workflows`.
    pub fn read(policy: &Path, plugins: &Path, workflows: Option<&Path>) -> Result<Loaded, String> {
        let fingerprint = fingerprint(policy, plugins, workflows);
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
        let workflows = match workflows {
            Some(dir) => read_workflows(&policy, dir, &mut refused)?,
            None => BTreeMap::new(),
        };
        Ok(Loaded {
            policy,
            plugins: admitted,
            workflows,
            refused,
            fingerprint,
        })
    }

    /// The workflow named `name`.
    pub fn workflow(&self, name: &str) -> Result<&Arc<StoredWorkflow>, Lookup> {
        self.workflows
            .get(name)
            .ok_or_else(|| Lookup::MissingWorkflow(name.to_string()))
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

/// The `.toml` files of `dir`, in name order.
fn toml_files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read the workflows directory {}: {e}", dir.display()))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml") && p.is_file())
        .collect();
    files.sort();
    Ok(files)
}

/// Every workflow file of `dir` that checks and whose every step `policy` admits, by name; the
/// others go to `refused` with why.
fn read_workflows(
    policy: &Policy,
    dir: &Path,
    refused: &mut Vec<String>,
) -> Result<BTreeMap<String, Arc<StoredWorkflow>>, String> {
    let mut workflows = BTreeMap::new();
    for path in toml_files(dir)? {
        match read_workflow(policy, &path) {
            Ok(stored) => {
                let name = stored.workflow.name.clone();
                if let Some(earlier) = workflows
                    .get(&name)
                    .map(|w: &Arc<StoredWorkflow>| w.path.clone())
                {
                    refused.push(format!(
                        "{}: workflow '{name}' is also in {}: neither runs until one is renamed",
                        path.display(),
                        earlier.display()
                    ));
                    workflows.remove(&name);
                    continue;
                }
                workflows.insert(name, Arc::new(stored));
            }
            Err(why) => refused.push(why),
        }
    }
    Ok(workflows)
}

/// The workflow file at `path`, checked, with each step's plugin vetted.
fn read_workflow(policy: &Policy, path: &Path) -> Result<StoredWorkflow, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the workflow {}: {e}", path.display()))?;
    let workflow = Workflow::parse(&text, path).map_err(|e| e.to_string())?;
    let mut steps = BTreeMap::new();
    for step in &workflow.steps {
        let vetted = vet_step(policy, &workflow, step).map_err(|e| e.to_string())?;
        steps.insert(step.id.clone(), vetted);
    }
    Ok(StoredWorkflow {
        digest: sha256_hex(text.as_bytes()),
        path: path.to_path_buf(),
        workflow,
        steps,
    })
}

/// Names, sizes and modification times of the policy, the store's files and the workflow
/// files: changes when any is edited, replaced or added to.
pub fn fingerprint(policy: &Path, plugins: &Path, workflows: Option<&Path>) -> String {
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
    for dir in std::iter::once(plugins).chain(workflows) {
        if let Ok(entries) = std::fs::read_dir(dir) {
            let mut paths: Vec<PathBuf> =
                entries.filter_map(Result::ok).map(|e| e.path()).collect();
            paths.sort();
            for path in paths {
                out.push_str(&stamp(&path));
            }
        }
    }
    out
}
