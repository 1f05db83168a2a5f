//! `exorun plugin ...`: pack a component with its manifest into an artifact, and show an
//! artifact's manifest without running any of its code.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};

use exorun::plugin::artifact::{digest, pack, read_manifest};
use exorun::plugin::manifest::Manifest;

/// Plugin artifact commands.
#[derive(Subcommand, Debug)]
pub enum PluginCmd {
    /// Show a plugin's manifest and digest (nothing is run).
    Inspect(Inspect),
    /// Pack a built component and its manifest.toml into one artifact.
    Pack(Pack),
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
    pub fn run(self) -> anyhow::Result<ExitCode> {
        match self {
            PluginCmd::Inspect(cmd) => cmd.run(),
            PluginCmd::Pack(cmd) => cmd.run(),
        }
    }
}

impl Inspect {
    fn run(self) -> anyhow::Result<ExitCode> {
        let bytes = std::fs::read(&self.plugin)
            .with_context(|| format!("cannot read {}", self.plugin.display()))?;
        let origin = self.plugin.display().to_string();
        let manifest = read_manifest(&bytes, &origin)?;
        let mut out = std::io::stdout().lock();
        if self.json {
            let mut value = serde_json::to_value(&manifest)?;
            value["sha256"] = digest(&bytes).into();
            writeln!(out, "{}", serde_json::to_string_pretty(&value)?)?;
            return Ok(ExitCode::SUCCESS);
        }
        writeln!(
            out,
            "{} {} — {}",
            manifest.name, manifest.version, manifest.description
        )?;
        writeln!(out, "  sha256:   {}", digest(&bytes))?;
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
        std::fs::write(&self.out, &artifact)
            .with_context(|| format!("cannot write {}", self.out.display()))?;
        println!(
            "{} {} -> {} ({} bytes, sha256 {})",
            manifest.name,
            manifest.version,
            self.out.display(),
            artifact.len(),
            digest(&artifact)
        );
        Ok(ExitCode::SUCCESS)
    }
}
