//! `exorun run <plugin>`: runs one plugin against the tenant in the sandbox, streaming its
//! records to stdout and its progress to the terminal.

use std::io::{BufWriter, Stdout};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;

use exorun::Connection;
use exorun::runtime::{
    FileCheckpoints, LogProgress, ProgressSink, Record, RecordSink, RunRequest, Runtime,
    RuntimeSettings,
};

use super::ConnectionArgs;
use super::output::{Format, Progress, RowSink, count};

/// Run a plugin in the sandbox.
#[derive(Args, Debug)]
pub struct RunCmd {
    /// The plugin artifact (.wasm, built with scripts/build-plugins.sh).
    plugin: PathBuf,
    /// The plugin's input: JSON, or @FILE to read it from a file.
    #[arg(long, default_value = "{}")]
    input: String,
    /// A value for the plugin's config (repeatable): key=value.
    #[arg(long = "config", value_name = "KEY=VALUE")]
    config: Vec<String>,
    /// Record changing cmdlets instead of sending them.
    #[arg(long)]
    dry_run: bool,
    /// Output format of the plugin's records.
    #[arg(long, value_enum, default_value = "table")]
    output: Format,
    /// Wall-clock limit, e.g. 90s, 10m, 1h (default: the manifest's, else 10m).
    #[arg(long)]
    timeout: Option<String>,
    /// Memory limit, e.g. 256MiB, 1GiB (default: the manifest's, else 64 MiB).
    #[arg(long)]
    memory: Option<String>,
    /// Fuel limit (roughly, WebAssembly instructions).
    #[arg(long)]
    fuel: Option<u64>,
    /// Where compiled plugins are cached (default ~/.cache/exorun/compiled).
    #[arg(long)]
    cache_dir: Option<PathBuf>,
    /// Where checkpoints are kept so an interrupted run can resume (default ~/.local/state/exorun/checkpoints).
    #[arg(long)]
    checkpoint_dir: Option<PathBuf>,
}

/// Parses `90`, `90s`, `10m`, `1h`.
fn parse_duration(text: &str) -> anyhow::Result<Duration> {
    let text = text.trim();
    let (number, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(text.len()),
    );
    let value: f64 = number
        .parse()
        .with_context(|| format!("'{text}' is not a duration like 90s, 10m or 1h"))?;
    let seconds = match unit {
        "" | "s" => value,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        "ms" => value / 1000.0,
        _ => bail!("'{text}' is not a duration like 90s, 10m or 1h"),
    };
    if seconds <= 0.0 {
        bail!("the timeout must be positive");
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// Parses `1048576`, `64MiB`, `64M`, `1GiB`, `1G`.
fn parse_bytes(text: &str) -> anyhow::Result<u64> {
    let text = text.trim();
    let (number, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let value: u64 = number
        .parse()
        .with_context(|| format!("'{text}' is not a size like 256MiB or 1GiB"))?;
    let factor = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" | "kb" => 1 << 10,
        "m" | "mib" | "mb" => 1 << 20,
        "g" | "gib" | "gb" => 1 << 30,
        _ => bail!("'{text}' is not a size like 256MiB or 1GiB"),
    };
    Ok(value.saturating_mul(factor))
}

fn state_dir() -> Option<PathBuf> {
    std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::home_dir().map(|h| h.join(".local").join("state")))
        .map(|d| d.join("exorun").join("checkpoints"))
}

/// Records to stdout in the chosen format, clearing the spinner around each one when they
/// share the terminal.
struct StdoutSink {
    rows: Mutex<Option<RowSink<BufWriter<Stdout>>>>,
    progress: Arc<Progress>,
    written: AtomicUsize,
}

impl StdoutSink {
    fn with<R: Default>(
        &self,
        act: impl FnOnce(&mut RowSink<BufWriter<Stdout>>) -> std::io::Result<R>,
    ) -> std::io::Result<R> {
        match self
            .rows
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_mut()
        {
            Some(sink) => act(sink),
            None => Ok(R::default()),
        }
    }
}

impl RecordSink for StdoutSink {
    fn emit(&self, record: Record) -> std::io::Result<()> {
        let row = serde_json::Value::Object(record);
        if self.progress.shares_terminal() {
            self.progress.around(|| {
                self.with(|sink| {
                    sink.write_row(&row)?;
                    sink.flush()
                })
            })
        } else {
            self.with(|sink| sink.write_row(&row))
        }
    }

    fn flush(&self) -> std::io::Result<()> {
        self.with(RowSink::flush)
    }

    fn finish(&self) -> std::io::Result<()> {
        if let Some(sink) = self
            .rows
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            self.written.store(sink.finish()?, Ordering::Relaxed);
        }
        Ok(())
    }
}

/// A plugin's progress on the terminal spinner.
struct BarProgress(Arc<Progress>);

impl ProgressSink for BarProgress {
    fn report(&self, plugin: &str, done: u64, total: u64, message: &str) {
        let of = if total > 0 {
            format!("/{total}")
        } else {
            String::new()
        };
        self.0.message(format!("{plugin}: {done}{of} {message}"));
    }
}

impl RunCmd {
    fn input(&self) -> anyhow::Result<String> {
        let text = match self.input.strip_prefix('@') {
            Some(path) => std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the input file {path}"))?,
            None => self.input.clone(),
        };
        let value: serde_json::Value =
            serde_json::from_str(&text).context("--input is not JSON")?;
        if !value.is_object() {
            bail!(
                "--input must be a JSON object, e.g. '{{\"identities\": [\"ann@contoso.com\"]}}'"
            );
        }
        Ok(text)
    }

    /// Runs the command.
    pub async fn run(self, args: &ConnectionArgs) -> anyhow::Result<ExitCode> {
        let input = self.input()?;
        let config = self
            .config
            .iter()
            .map(|kv| {
                kv.split_once('=')
                    .map(|(k, v)| (k.trim().to_string(), v.to_string()))
                    .with_context(|| format!("--config '{kv}' is not key=value"))
            })
            .collect::<anyhow::Result<_>>()?;
        let mut settings = args.settings()?;
        if self.dry_run {
            settings.dry_run = Some(true);
        }
        let connection = Connection::open(settings)?;
        let mut runtime_settings = RuntimeSettings::default();
        if let Some(dir) = &self.cache_dir {
            runtime_settings.cache_dir = Some(dir.clone());
        }
        let runtime = Runtime::new(runtime_settings)?;
        let plugin = runtime.load(self.plugin.as_path()).await?;
        let mut limits = plugin.default_limits();
        if let Some(timeout) = &self.timeout {
            limits.timeout = parse_duration(timeout)?;
        }
        if let Some(memory) = &self.memory {
            limits.memory_bytes = parse_bytes(memory)?;
        }
        limits.fuel = self.fuel;
        let checkpoint_dir = self
            .checkpoint_dir
            .clone()
            .or_else(state_dir)
            .context("no checkpoint directory: pass --checkpoint-dir")?;
        let shown = Arc::new(Progress::start());
        let progress: Arc<dyn ProgressSink> = if shown.is_drawn() {
            Arc::new(BarProgress(shown.clone()))
        } else {
            Arc::new(LogProgress)
        };
        let sink = Arc::new(StdoutSink {
            rows: Mutex::new(Some(RowSink::new(
                BufWriter::new(std::io::stdout()),
                self.output,
                Vec::new(),
            ))),
            progress: shown.clone(),
            written: AtomicUsize::new(0),
        });
        let manifest = plugin.manifest().clone();
        let result = runtime
            .run(
                &plugin,
                RunRequest {
                    input,
                    config,
                    exchange: connection.exchange().clone(),
                    limits,
                    sink: sink.clone(),
                    checkpoints: Arc::new(FileCheckpoints::new(checkpoint_dir)),
                    progress,
                },
            )
            .await;
        sink.finish()?;
        match &result {
            Ok(_) => shown.finish(&count(
                sink.written.load(Ordering::Relaxed),
                "record",
                "records",
            )),
            Err(_) => shown.clear(),
        }
        for call in connection.exchange().dry_run_log() {
            eprintln!(
                "dry run: {} was not sent ({})",
                call.cmdlet,
                serde_json::Value::Object(call.params)
            );
        }
        let outcome = result
            .with_context(|| format!("plugin {} {} failed", manifest.name, manifest.version))?;
        eprintln!(
            "{} {}: {} records, {} cmdlet calls, {} denied; summary {}",
            manifest.name,
            manifest.version,
            outcome.records,
            outcome.cmdlet_calls,
            outcome.denied,
            outcome.summary
        );
        Ok(ExitCode::SUCCESS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_parse_like_an_admin_writes_them() {
        assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("10m").unwrap(), Duration::from_secs(600));
        assert_eq!(parse_duration("1.5h").unwrap(), Duration::from_secs(5400));
        assert!(parse_duration("soon").is_err());
        assert_eq!(parse_bytes("64MiB").unwrap(), 64 << 20);
        assert_eq!(parse_bytes("1G").unwrap(), 1 << 30);
        assert!(parse_bytes("lots").is_err());
    }
}
