//! `exorun run <plugin>`: runs one plugin against the tenant in the sandbox, streaming its
//! records to stdout and its progress to the terminal; the run is audited, and the audit log's
//! head is printed at the end.

use std::io::{BufWriter, Stdout};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::Context;
use clap::Args;

use exorun::Connection;
use exorun::audit::{CallContext, RunId};
use exorun::config;
use exorun::exchange::Rehearsal;
use exorun::policy::Submitted;
use exorun::runtime::{
    FileCheckpoints, LogProgress, ProgressSink, Record, RecordSink, Requested, RunRequest, Runtime,
    RuntimeSettings,
};

use super::ConnectionArgs;
use super::audit::{not_sent, print_head};
use super::client::ServerArgs;
use super::output::{Format, Progress, RowSink, count};
use super::policy::PolicyArg;

/// Run a plugin in the sandbox.
#[derive(Args, Debug)]
pub struct RunCmd {
    /// The plugin artifact (.wasm, built with scripts/build-plugins.sh); with --server, the name
    /// (or sha256:DIGEST) of a plugin of the service's store.
    plugin: PathBuf,
    /// Ask the service (`exorun serve`) to run it: the service holds the credential and its
    /// caller rules decide.
    #[command(flatten)]
    server: ServerArgs,
    /// With --server: a run id of your choosing, so that sending the same command again never
    /// runs it twice (a ticket number, say).
    #[arg(long, value_name = "ID", requires = "server")]
    run_id: Option<String>,
    /// With --server: print the run's id once it is queued instead of waiting for its end.
    #[arg(long, requires = "server")]
    no_wait: bool,
    /// The plugin's input: a JSON object, or @FILE to read it from a file.
    #[arg(long, default_value = "{}", value_parser = parse_input)]
    input: Input,
    /// A value for the plugin's config (repeatable): key=value.
    #[arg(long = "config", value_name = "KEY=VALUE", value_parser = parse_setting)]
    config: Vec<(String, String)>,
    /// Record changing cmdlets instead of sending them.
    #[arg(long)]
    dry_run: bool,
    /// Output format of the plugin's records.
    #[arg(long, value_enum, default_value = "table")]
    output: Format,
    /// Wall-clock limit, e.g. 90s, 10m, 1h (default: the manifest's, else 10m).
    #[arg(long, value_parser = parse_duration)]
    timeout: Option<Duration>,
    /// Memory limit, e.g. 256MiB, 1GiB (default: the manifest's, else 64 MiB).
    #[arg(long, value_parser = parse_bytes)]
    memory: Option<u64>,
    /// Fuel limit (roughly, WebAssembly instructions).
    #[arg(long)]
    fuel: Option<u64>,
    /// Where compiled plugins are cached (default ~/.cache/exorun/compiled).
    #[arg(long)]
    cache_dir: Option<PathBuf>,
    /// Where checkpoints are kept so an interrupted run can resume (default ~/.local/state/exorun/checkpoints).
    #[arg(long)]
    checkpoint_dir: Option<PathBuf>,
    #[command(flatten)]
    policy: PolicyArg,
}

/// `--input`: a JSON object given inline, or `@FILE`.
#[derive(Clone, Debug)]
enum Input {
    /// The JSON text, already checked to be an object.
    Inline(String),
    /// A file holding it, read when the run starts.
    File(PathBuf),
}

/// The JSON object an input must be, or why it is not.
fn json_object(text: &str) -> Result<(), String> {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(value) if value.is_object() => Ok(()),
        Ok(_) => Err(
            r#"the input must be a JSON object, e.g. '{"identities": ["ann@contoso.com"]}'"#.into(),
        ),
        Err(e) => Err(format!("the input is not JSON: {e}")),
    }
}

/// Parses `--input`: `@FILE`, or inline JSON that must be an object.
fn parse_input(text: &str) -> Result<Input, String> {
    match text.strip_prefix('@') {
        Some(path) => Ok(Input::File(PathBuf::from(path))),
        None => json_object(text).map(|()| Input::Inline(text.to_string())),
    }
}

/// Parses `--config key=value`.
fn parse_setting(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => {
            Ok((key.trim().to_string(), value.to_string()))
        }
        _ => Err("a setting is KEY=VALUE, e.g. ignore_trustees=svc-backup".into()),
    }
}

/// Parses `90` (seconds), `90s`, `10m`, `1.5h`, `1m30s` (see [`exorun::duration`]).
fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let duration = exorun::duration::parse(text)
        .or_else(|| {
            text.parse::<f64>()
                .ok()
                .filter(|s| s.is_finite())
                .and_then(|s| Duration::try_from_secs_f64(s).ok())
        })
        .ok_or_else(|| "a duration is a number with s, m or h, like 90s, 10m or 1h".to_string())?;
    if duration.is_zero() {
        return Err("the time limit must be positive".into());
    }
    Ok(duration)
}

/// Parses `1048576`, `64MiB`, `64M`, `1GiB`, `1G`.
fn parse_bytes(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let (number, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let not_a_size = || "a size is a number with KiB, MiB or GiB, like 256MiB or 1GiB".to_string();
    let value: u64 = number.parse().map_err(|_| not_a_size())?;
    let factor = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" | "kb" => 1 << 10,
        "m" | "mib" | "mb" => 1 << 20,
        "g" | "gib" | "gb" => 1 << 30,
        _ => return Err(not_a_size()),
    };
    Ok(value.saturating_mul(factor))
}

/// Records to stdout in the chosen format, clearing the spinner around each one when they
/// share the terminal.
struct StdoutSink {
    rows: Mutex<Option<RowSink<BufWriter<Stdout>>>>,
    progress: Arc<Progress>,
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

    fn rehearsed(&self, change: &Rehearsal) {
        self.progress.note(&not_sent(change));
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
            sink.finish()?;
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
        match &self.input {
            Input::Inline(text) => Ok(text.clone()),
            Input::File(path) => {
                let text = exorun::text::read(path)
                    .with_context(|| format!("cannot read the input file {}", path.display()))?;
                json_object(&text).map_err(|e| anyhow::anyhow!("{e} (in {})", path.display()))?;
                Ok(text)
            }
        }
    }

    /// Runs the command: the plugin runs only if the policy admits it, with the grant's
    /// rights, limits and credential profile.
    pub async fn run(self, args: &ConnectionArgs) -> anyhow::Result<ExitCode> {
        if self.server.server.is_some() {
            return self
                .run_on(args.access_token_command.clone().map(|c| c.0))
                .await;
        }
        let input = self.input()?;
        let config = self.config.iter().cloned().collect();
        let mut settings = args.settings()?;
        let policy = self
            .policy
            .load(settings.policy.clone(), &[self.plugin.as_path()])?;
        let mut runtime_settings = RuntimeSettings::default();
        if let Some(dir) = &self.cache_dir {
            runtime_settings.cache_dir = Some(dir.clone());
        }
        let runtime = Runtime::new(runtime_settings)?;
        let vetted = policy.vet(Submitted::read(&self.plugin)?)?;
        let plugin = runtime.load(&vetted).await?;
        let grant = vetted.grant;
        for withheld in &grant.withheld {
            eprintln!("exorun: policy: {} runs without {withheld}", grant.plugin);
        }
        if let Some(profile) = &grant.profile {
            // The policy's credential; the command line's audit log still records it.
            let (audit_log, audit_key) = (settings.audit_log.clone(), settings.audit_key.clone());
            settings = args.profile_settings(profile).with_context(|| {
                format!(
                    "the policy ({}) runs {} with profile '{profile}'",
                    grant.source, grant.plugin
                )
            })?;
            (settings.audit_log, settings.audit_key) = (audit_log, audit_key);
        }
        let connection = Connection::open(settings)?;
        let before = connection.audit().head();
        let limits = plugin.default_limits().requested(
            Requested {
                timeout: self.timeout,
                memory_bytes: self.memory,
                fuel: self.fuel,
            },
            &grant,
        )?;
        let checkpoint_dir = self
            .checkpoint_dir
            .clone()
            .or_else(|| config::state_dir().map(|dir| dir.join("checkpoints")))
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
        });
        let manifest = plugin.manifest().clone();
        let run = RunId::new();
        let exchange = connection.exchange().clone().with_context(CallContext {
            run: Some(run),
            ..CallContext::default()
        });
        let result = runtime
            .run(
                &plugin,
                RunRequest {
                    input,
                    config,
                    exchange,
                    dry_run: self.dry_run,
                    journal: None,
                    grant: Arc::new(grant),
                    limits,
                    sink: sink.clone(),
                    checkpoints: Arc::new(FileCheckpoints::new(checkpoint_dir)),
                    progress,
                },
            )
            .await;
        shown.clear();
        sink.finish()?;
        let outcome = result.map_err(|error| {
            let what = if error.before_start() {
                "was not run"
            } else {
                "failed"
            };
            anyhow::Error::new(error).context(format!(
                "plugin {} {} {what}",
                manifest.name, manifest.version
            ))
        });
        if let Ok(outcome) = &outcome {
            eprintln!(
                "{} {}: {}, {}, {} denied; summary {}",
                manifest.name,
                manifest.version,
                count(outcome.records, "record", "records"),
                count(outcome.cmdlet_calls, "cmdlet call", "cmdlet calls"),
                outcome.denied,
                outcome.summary
            );
        }
        print_head(connection.audit(), run, before);
        let outcome = outcome?;
        if outcome.failures.any() {
            // A line a cron log shows as it is: how many, and where the details are.
            eprintln!(
                "exorun: FAILED: plugin {} {} ran, but {}\n  the records it wrote say which units failed and why; fix the cause and run it again",
                manifest.name, manifest.version, outcome.failures
            );
            return Ok(ExitCode::FAILURE);
        }
        Ok(ExitCode::SUCCESS)
    }
}

impl RunCmd {
    /// Asks the service at `server` to run the plugin, follows the run and prints its records
    /// as a local run does.
    /// `token_command`: the sign-in `--access-token-command`, which with --server prints your
    /// token for the service.
    async fn run_on(&self, token_command: Option<Vec<String>>) -> anyhow::Result<ExitCode> {
        if !self.config.is_empty()
            || self.timeout.is_some()
            || self.memory.is_some()
            || self.fuel.is_some()
        {
            anyhow::bail!(
                "--config, --timeout, --memory and --fuel are the operator's to set on the service: leave them out with --server"
            );
        }
        let client = self.server.client(token_command).await?;
        let input: serde_json::Value = serde_json::from_str(&self.input()?)?;
        let body = serde_json::json!({
            "plugin": self.plugin.display().to_string(),
            "input": input,
            "dry_run": self.dry_run,
        });
        let Some(done) = client
            .submit_and_follow(body, self.run_id.as_deref(), self.no_wait)
            .await?
        else {
            return Ok(ExitCode::SUCCESS);
        };
        let id = done["id"].as_str().unwrap_or_default().to_string();
        let format = match self.output {
            Format::Table | Format::Jsonl => "jsonl",
            Format::Json => "json",
            Format::Csv => "csv",
        };
        let records = client
            .get_text(&format!("/runs/{id}/records?format={format}"))
            .await?;
        if self.output == Format::Table {
            let mut sink =
                RowSink::new(BufWriter::new(std::io::stdout()), Format::Table, Vec::new());
            for line in records.lines() {
                sink.write_row(&serde_json::from_str(line)?)?;
            }
            sink.finish()?;
        } else {
            std::io::Write::write_all(&mut std::io::stdout(), records.as_bytes())?;
        }
        eprintln!(
            "{} {}: {} on the service (run {id}): {}, {}, {} denied; summary {}",
            done["target"].as_str().unwrap_or_default(),
            done["version"].as_str().unwrap_or_default(),
            done["state"].as_str().unwrap_or_default(),
            count(done["records"].as_u64().unwrap_or(0), "record", "records"),
            count(
                done["calls"].as_u64().unwrap_or(0),
                "cmdlet call",
                "cmdlet calls"
            ),
            done["denied"].as_u64().unwrap_or(0),
            done["summary"]
        );
        if done["state"] == "succeeded" {
            return Ok(ExitCode::SUCCESS);
        }
        eprintln!(
            "exorun: FAILED: run {id} on the service: {}",
            done["error"].as_str().unwrap_or("it did not succeed")
        );
        Ok(ExitCode::FAILURE)
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
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("1e400").is_err());
        assert_eq!(
            parse_setting("ignore_trustees = a=b").unwrap(),
            ("ignore_trustees".into(), " a=b".into())
        );
        assert!(parse_setting("ignore_trustees").is_err());
        assert!(parse_setting("=x").is_err());
        assert!(
            matches!(parse_input("@in.json"), Ok(Input::File(p)) if p == std::path::Path::new("in.json"))
        );
        assert!(parse_input(r#"{"days": 3}"#).is_ok());
        assert!(parse_input("[1]").unwrap_err().contains("JSON object"));
        assert!(parse_input("{days: 3}").unwrap_err().contains("not JSON"));
    }
}
