//! Loading a plugin: its manifest read without running any of its code, its digest, and its
//! compiled code — compiled now, mapped from the disk cache, or already in this process.

use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError};

use wasmtime::Engine;
use wasmtime::component::Component;

use super::bindings::AutomationPre;
use super::cache::CompileCache;
use super::error::RuntimeError;
use super::run::RunLimits;
use super::state::RunState;
use super::{Metering, Runtime};
use crate::digest::sha256_hex;
use crate::plugin::artifact::read_manifest;
use crate::plugin::input::InputSchema;
use crate::plugin::manifest::Manifest;
use crate::policy::Vetted;

/// A plugin artifact to load: a file, or its bytes.
#[derive(Clone, Debug)]
pub enum Artifact {
    /// A packed component file (`.wasm`).
    File(PathBuf),
    /// A packed component's bytes.
    Bytes(Arc<[u8]>),
    /// The bytes a policy admitted ([`Policy::vet`](crate::policy::Policy::vet)), named by
    /// where they were read from: what was checked is what is compiled.
    Vetted {
        /// Where the artifact was read from, for messages.
        origin: String,
        /// The checked bytes.
        bytes: Arc<[u8]>,
    },
}

impl From<&Vetted> for Artifact {
    fn from(vetted: &Vetted) -> Artifact {
        Artifact::Vetted {
            origin: vetted.origin().to_string(),
            bytes: vetted.bytes().clone(),
        }
    }
}

impl From<PathBuf> for Artifact {
    fn from(path: PathBuf) -> Artifact {
        Artifact::File(path)
    }
}

impl From<&Path> for Artifact {
    fn from(path: &Path) -> Artifact {
        Artifact::File(path.to_path_buf())
    }
}

impl From<Vec<u8>> for Artifact {
    fn from(bytes: Vec<u8>) -> Artifact {
        Artifact::Bytes(bytes.into())
    }
}

impl Artifact {
    /// The artifact's bytes.
    pub(crate) async fn read(&self) -> Result<Arc<[u8]>, RuntimeError> {
        match self {
            Artifact::File(path) => tokio::fs::read(path)
                .await
                .map(Arc::from)
                .map_err(|source| RuntimeError::Read {
                    path: path.clone(),
                    source,
                }),
            Artifact::Bytes(bytes) | Artifact::Vetted { bytes, .. } => Ok(bytes.clone()),
        }
    }

    /// How messages name it.
    pub(crate) fn origin(&self) -> String {
        match self {
            Artifact::File(path) => path.display().to_string(),
            Artifact::Bytes(_) => "the plugin".into(),
            Artifact::Vetted { origin, .. } => origin.clone(),
        }
    }
}

/// Where a loaded plugin's compiled code came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoadKind {
    /// Compiled now (Cranelift), and written to the disk cache when there is one.
    Compiled,
    /// Mapped from the disk cache, compiled by an earlier process.
    DiskCache,
    /// Already loaded in this process: nothing was compiled or read from the cache.
    Memory,
}

/// A loaded plugin, ready to run any number of times (each run gets a fresh instance).
#[derive(Clone)]
pub struct Plugin {
    pub(crate) manifest: Arc<Manifest>,
    pub(crate) digest: String,
    pub(crate) loaded: LoadKind,
    pub(crate) pre: AutomationPre<RunState>,
    pub(crate) artifact: Artifact,
    /// Its manifest's input schema, compiled once; every run's input is checked against it.
    pub(crate) input_schema: Option<Arc<InputSchema>>,
}

impl Plugin {
    /// Its manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The SHA-256 of its artifact, lowercase hex: what policies pin.
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// Where its compiled code came from.
    pub fn loaded(&self) -> LoadKind {
        self.loaded
    }

    /// The limits its manifest asks for: `memory_mb` (default 64 MiB) and `timeout_secs`
    /// (default 600 s), no fuel limit.
    pub fn default_limits(&self) -> RunLimits {
        RunLimits::for_manifest(&self.manifest)
    }
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin")
            .field("name", &self.manifest.name)
            .field("version", &self.manifest.version)
            .field("digest", &self.digest)
            .field("loaded", &self.loaded)
            .finish_non_exhaustive()
    }
}

/// A component ready to instantiate, and the manifest it carries.
#[derive(Clone)]
pub(crate) struct Prepared {
    pub(crate) manifest: Arc<Manifest>,
    pub(crate) pre: AutomationPre<RunState>,
}

/// What compiling needs, owned so it can move to a blocking thread.
struct CompileJob {
    engine: Engine,
    fingerprint: String,
    cache: Option<Arc<CompileCache>>,
    bytes: Arc<[u8]>,
    digest: String,
    plugin: String,
}

impl CompileJob {
    /// The component from the disk cache when a trusted entry is there, else compiled (and
    /// cached). A cache that cannot be used is logged and passed by, never fatal.
    fn run(self) -> Result<(Component, LoadKind), RuntimeError> {
        let Some(cache) = &self.cache else {
            return Ok((self.compile()?, LoadKind::Compiled));
        };
        let entry = cache.entry(&self.digest, &self.fingerprint);
        match cache.load(&entry, &self.digest) {
            Ok(Some(code)) => {
                // SAFETY: `deserialize` maps native code and runs it without checking it. The
                // code is what this user compiled from this very plugin: `load` checked that the
                // entry and its directory belong to this user and that nobody else can write
                // either (no other user, and no plugin, which has no file system, can have
                // planted it), that it was written for this plugin's digest, and that the code
                // is unchanged since (its SHA-256). wasmtime still checks that it was compiled
                // by this wasmtime version with this engine configuration.
                #[expect(
                    unsafe_code,
                    reason = "loading a compiled plugin this user wrote, see SAFETY"
                )]
                let loaded = unsafe { Component::deserialize(&self.engine, &code) };
                match loaded {
                    Ok(component) => return Ok((component, LoadKind::DiskCache)),
                    Err(error) => {
                        tracing::warn!(entry = %entry.display(), %error, "a compiled plugin in the cache cannot be loaded; compiling again");
                        cache.discard(&entry);
                    }
                }
            }
            Ok(None) => {}
            Err(error) => {
                tracing::warn!(%error, "not using the compile cache entry; compiling the plugin");
                if error.kind() == std::io::ErrorKind::InvalidData {
                    cache.discard(&entry);
                }
            }
        }
        let component = self.compile()?;
        match component.serialize() {
            Ok(code) => {
                if let Err(error) = cache.store(&entry, &self.digest, &code) {
                    tracing::warn!(dir = %cache.dir().display(), %error, "cannot write the compiled plugin to the cache");
                }
            }
            Err(error) => {
                tracing::warn!(%error, "cannot serialize the compiled plugin for the cache")
            }
        }
        Ok((component, LoadKind::Compiled))
    }

    fn compile(&self) -> Result<Component, RuntimeError> {
        Component::new(&self.engine, &*self.bytes).map_err(|e| RuntimeError::Compile {
            plugin: self.plugin.clone(),
            message: format!("{e:#}"),
        })
    }
}

impl Runtime {
    /// Loads a plugin: reads its manifest (without running any of its code) and digest, then
    /// takes its compiled code from this process when it is already loaded, else from the disk
    /// cache, else compiles it (seconds for a Python plugin, on a blocking thread).
    pub async fn load(&self, artifact: impl Into<Artifact>) -> Result<Arc<Plugin>, RuntimeError> {
        let artifact = artifact.into();
        let bytes = artifact.read().await?;
        let digest = sha256_hex(&bytes);
        let (prepared, loaded) = self
            .prepare(Metering::Off, bytes, &digest, &artifact)
            .await?;
        let input_schema = prepared
            .manifest
            .compiled_input_schema()
            .map_err(|e| RuntimeError::Artifact(e.into()))?
            .map(Arc::new);
        Ok(Arc::new(Plugin {
            input_schema,
            manifest: prepared.manifest,
            digest,
            loaded,
            pre: prepared.pre,
            artifact,
        }))
    }

    /// `plugin` ready for a fuel-metered run: compiled for the metering engine, whose code
    /// counts fuel. Prepared on first use, from the artifact read again and checked against
    /// the digest it had when loaded.
    pub(crate) async fn metered(
        &self,
        plugin: &Plugin,
    ) -> Result<AutomationPre<RunState>, RuntimeError> {
        if let Some(prepared) = self.prepared(&plugin.digest, Metering::Fuel) {
            return Ok(prepared.pre);
        }
        let bytes = plugin.artifact.read().await?;
        if sha256_hex(&bytes) != plugin.digest {
            return Err(RuntimeError::Changed {
                origin: plugin.artifact.origin(),
                expected: plugin.digest.clone(),
            });
        }
        let (prepared, _) = self
            .prepare(Metering::Fuel, bytes, &plugin.digest, &plugin.artifact)
            .await?;
        Ok(prepared.pre)
    }

    fn prepared(&self, digest: &str, metering: Metering) -> Option<Prepared> {
        self.prepared
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&(digest.to_string(), metering))
            .cloned()
    }

    /// The plugin with `digest` ready to instantiate on the `metering` engine. Two loads of the
    /// same new plugin at once may both compile it; the second one's result is kept.
    async fn prepare(
        &self,
        metering: Metering,
        bytes: Arc<[u8]>,
        digest: &str,
        artifact: &Artifact,
    ) -> Result<(Prepared, LoadKind), RuntimeError> {
        if let Some(prepared) = self.prepared(digest, metering) {
            return Ok((prepared, LoadKind::Memory));
        }
        let manifest = Arc::new(read_manifest(&bytes, &artifact.origin())?);
        let engines = self.engines(metering)?;
        let job = CompileJob {
            engine: engines.engine.clone(),
            fingerprint: engines.fingerprint.clone(),
            cache: self.cache.clone(),
            bytes,
            digest: digest.to_string(),
            plugin: manifest.name.clone(),
        };
        let (component, loaded) = tokio::task::spawn_blocking(move || job.run())
            .await
            .map_err(|e| RuntimeError::Compile {
                plugin: manifest.name.clone(),
                message: format!("the compiler failed: {e}"),
            })??;
        let link = |e: wasmtime::Error| RuntimeError::Link {
            plugin: manifest.name.clone(),
            message: format!("{e:#}"),
        };
        let pre = AutomationPre::new(engines.linker.instantiate_pre(&component).map_err(link)?)
            .map_err(link)?;
        let prepared = Prepared { manifest, pre };
        self.prepared
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert((digest.to_string(), metering), prepared.clone());
        Ok((prepared, loaded))
    }
}
