//! `exorun plugin ...`: pack a component with its manifest into an artifact, show an
//! artifact's manifest and signers without running any of its code, check that it starts on this
//! host, and (in `signing.rs`) make keys, sign and verify.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};

use exorun::atomic_file::Access;
use exorun::digest::sha256_hex;
use exorun::plugin::artifact::{pack, read_manifest};
use exorun::plugin::manifest::Manifest;
use exorun::runtime::{LoadKind, Runtime, RuntimeSettings};
use exorun::signing::{content_digest, embedded_signatures};

use super::signing::{Keygen, Sign, Verify};

/// Plugin artifact commands.
#[derive(Subcommand, Debug)]
pub enum PluginCmd {
    /// Show a plugin's manifest, digests and embedded signers (nothing is run).
    Inspect(Inspect),
    /// Pack a built component and its manifest.toml into one artifact.
    Pack(Pack),
    /// Compile (or load from the cache) a plugin and start it in an empty sandbox, without
    /// a tenant and without calling its `run`: does it link and start on this host?
    Check(Check),
    /// Make a minisign-compatible key pair for signing plugins.
    Keygen(Keygen),
    /// Sign a plugin: embed the signature in the artifact, or write a detached .minisig.
    Sign(Sign),
    /// Check a plugin's signatures: exit 0 if every given key signed it, 1 if not.
    Verify(Verify),
}

/// Options of `plugin check`.
#[derive(Args, Debug)]
pub struct Check {
    /// The plugin artifacts (.wasm).
    #[arg(required = true)]
    plugins: Vec<PathBuf>,
    /// Where compiled plugins are cached (default ~/.cache/exorun/compiled).
    #[arg(long)]
    cache_dir: Option<PathBuf>,
}

/// Options of `plugin inspect`.
#[derive(Args, Debug)]
pub struct Inspect {
    /// The plugin artifact (.wasm).
    plugin: PathBuf,
    /// Print the manifest as JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// Options of `plugin pack`.
#[derive(Args, Debug)]
pub struct Pack {
    /// The component built for wasm32-wasip2.
    component: PathBuf,
    /// Its manifest.
    #[arg(long)]
    manifest: PathBuf,
    /// Where to write the artifact.
    #[arg(long)]
    out: PathBuf,
}

impl PluginCmd {
    /// Runs the command.
    pub async fn run(self) -> anyhow::Result<ExitCode> {
        match self {
            PluginCmd::Inspect(cmd) => cmd.run(),
            PluginCmd::Pack(cmd) => cmd.run(),
            PluginCmd::Check(cmd) => cmd.run().await,
            PluginCmd::Keygen(cmd) => cmd.run(),
            PluginCmd::Sign(cmd) => cmd.run(),
            PluginCmd::Verify(cmd) => cmd.run(),
        }
    }
}

impl Check {
    async fn run(self) -> anyhow::Result<ExitCode> {
        let mut settings = RuntimeSettings::default();
        if let Some(dir) = self.cache_dir {
            settings.cache_dir = Some(dir);
        }
        let runtime = Runtime::new(settings)?;
        let mut failed = 0;
        for path in &self.plugins {
            let started = std::time::Instant::now();
            let checked = match runtime.load(path.as_path()).await {
                Ok(plugin) => runtime
                    .check(&plugin)
                    .await
                    .map(|()| plugin)
                    .map_err(Into::into),
                Err(error) => Err(anyhow::Error::from(error)),
            };
            match checked {
                Ok(plugin) => {
                    let how = match plugin.loaded() {
                        LoadKind::Compiled => "compiled",
                        LoadKind::DiskCache => "from the compile cache",
                        LoadKind::Memory => "already loaded",
                    };
                    println!(
                        "ok      {} {} ({}): links and starts within {} MiB; {how} in {} ms",
                        plugin.manifest().name,
                        plugin.manifest().version,
                        path.display(),
                        plugin.default_limits().memory_bytes >> 20,
                        started.elapsed().as_millis()
                    );
                }
                Err(error) => {
                    failed += 1;
                    eprintln!("FAILED  {}: {error:#}", path.display());
                }
            }
        }
        Ok(if failed == 0 {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        })
    }
}

impl Inspect {
    fn run(self) -> anyhow::Result<ExitCode> {
        let bytes = std::fs::read(&self.plugin)
            .with_context(|| format!("cannot read {}", self.plugin.display()))?;
        let origin = self.plugin.display().to_string();
        let manifest = read_manifest(&bytes, &origin)?;
        let signatures = embedded_signatures(&bytes);
        let mut out = std::io::stdout().lock();
        if self.json {
            let mut value = serde_json::to_value(&manifest)?;
            value["sha256"] = sha256_hex(&bytes).into();
            value["content_sha256"] = content_digest(&bytes).into();
            value["signatures"] = signatures
                .iter()
                .map(|s| match s {
                    Ok(s) => serde_json::json!({
                        "key_id": s.key_id().to_string(),
                        "trusted_comment": s.trusted_comment(),
                    }),
                    Err(e) => serde_json::json!({ "error": e.to_string() }),
                })
                .collect();
            writeln!(out, "{}", serde_json::to_string_pretty(&value)?)?;
            return Ok(ExitCode::SUCCESS);
        }
        writeln!(
            out,
            "{} {} — {}",
            manifest.name, manifest.version, manifest.description
        )?;
        writeln!(out, "  sha256:   {}", sha256_hex(&bytes))?;
        writeln!(
            out,
            "  content:  {}  (sha256 without signatures: what a policy pins)",
            content_digest(&bytes)
        )?;
        if !signatures.is_empty() {
            writeln!(
                out,
                "  signed by (not verified here; `exorun plugin verify` checks):"
            )?;
            for signature in &signatures {
                match signature {
                    Ok(s) => writeln!(out, "    {}  {}", s.key_id(), s.trusted_comment())?,
                    Err(e) => writeln!(out, "    unreadable: {}", first_line(&e.to_string()))?,
                }
            }
        }
        writeln!(
            out,
            "  mutates:  {}",
            if manifest.mutates { "yes" } else { "no" }
        )?;
        writeln!(
            out,
            "  memory:   {} MiB",
            manifest.limits.memory_mb.unwrap_or(64)
        )?;
        writeln!(
            out,
            "  timeout:  {} s",
            manifest.limits.timeout_secs.unwrap_or(600)
        )?;
        writeln!(out, "  cmdlets:")?;
        for cmdlet in &manifest.cmdlets {
            let surface = if cmdlet.compliance {
                " (Security & Compliance)"
            } else {
                ""
            };
            let params = cmdlet
                .parameters
                .iter()
                .map(|p| format!("-{p}"))
                .collect::<Vec<_>>()
                .join(" ");
            writeln!(out, "    {}{surface} {params}", cmdlet.name)?;
        }
        if let Some(schema) = &manifest.input_schema {
            writeln!(out, "  input:    {schema}")?;
        }
        if !manifest.config.is_empty() {
            writeln!(out, "  settings (--config key=value):")?;
            for config in &manifest.config {
                writeln!(out, "    {}: {}", config.key, config.description)?;
            }
        }
        Ok(ExitCode::SUCCESS)
    }
}

impl Pack {
    fn run(self) -> anyhow::Result<ExitCode> {
        let component = std::fs::read(&self.component)
            .with_context(|| format!("cannot read {}", self.component.display()))?;
        let text = std::fs::read_to_string(&self.manifest)
            .with_context(|| format!("cannot read {}", self.manifest.display()))?;
        let manifest =
            Manifest::parse(&text).with_context(|| format!("in {}", self.manifest.display()))?;
        let artifact = pack(&component, &manifest, &self.component.display().to_string())?;
        if let Some(dir) = self.out.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        exorun::atomic_file::replace(&self.out, &artifact, Access::Shared)
            .with_context(|| format!("cannot write {}", self.out.display()))?;
        println!(
            "{} {} -> {} ({} bytes, sha256 {})",
            manifest.name,
            manifest.version,
            self.out.display(),
            artifact.len(),
            sha256_hex(&artifact)
        );
        Ok(ExitCode::SUCCESS)
    }
}

/// The first line of a message (the `fix:` line goes when it is listed).
fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default()
}
