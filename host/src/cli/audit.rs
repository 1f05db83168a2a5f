//! `exorun audit verify` checks the audit log's chain (and, with the key, each record's MAC);
//! `exorun audit show` lists its records; `exorun audit key new` makes a key. Also the line
//! `invoke` and `run` end with, naming the chain's head so it can be kept elsewhere and given
//! to `verify --head` later.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use chrono::{DateTime, NaiveDate, Utc};
use clap::{Args, Subcommand, ValueEnum};
use serde_json::Value;

use exorun::audit::redact::redact;
use exorun::audit::{
    self, Audit, AuditKey, Call, Decision, Entry, Event, Filter, Head, Outcome, Record, RunEnd,
    RunId, RunStart, TokenAcquisition,
};
use exorun::exchange::Rehearsal;

use super::ConnectionArgs;
use super::output::count;

/// Check and read the audit log.
#[derive(Subcommand, Debug)]
pub enum AuditCmd {
    /// Check that no record was changed, removed, inserted or reordered; exit 1 if one was.
    #[command(after_help = super::examples::AUDIT_VERIFY)]
    Verify(VerifyCmd),
    /// List the records, all or those that match.
    #[command(after_help = super::examples::AUDIT_SHOW)]
    Show(ShowCmd),
    /// The key each record's MAC is made with.
    #[command(subcommand)]
    Key(KeyCmd),
}

/// `exorun audit key …`.
#[derive(Subcommand, Debug)]
pub enum KeyCmd {
    /// Make a new random key in FILE (mode 600; never overwrites one). Keep it apart from the
    /// log, and give it to every command with --audit-key FILE (EXORUN_AUDIT_KEY).
    New {
        /// Where to write the key.
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
}

/// Which log: the same option, variable and default every command uses.
#[derive(Args, Debug)]
struct LogOption {
    /// The audit log (default ~/.local/state/exorun/audit.jsonl) [env: EXORUN_AUDIT_LOG]
    #[arg(long = "audit-log", visible_alias = "log", value_name = "FILE")]
    log: Option<PathBuf>,
}

/// The variable `name`, if set and not empty, as a path.
fn env_path(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

impl LogOption {
    /// `--audit-log` given after the command, else before it (`exorun --audit-log FILE audit
    /// …`), else `EXORUN_AUDIT_LOG`, else the default place.
    fn path(&self, before: &ConnectionArgs) -> anyhow::Result<PathBuf> {
        self.log
            .clone()
            .or_else(|| before.audit_log.clone())
            .or_else(|| env_path("EXORUN_AUDIT_LOG"))
            .or_else(audit::default_log_path)
            .context(
                "there is no home directory to find the audit log in\n  fix: pass --audit-log FILE or set EXORUN_AUDIT_LOG",
            )
    }
}

/// Options of `audit verify`.
#[derive(Args, Debug)]
pub struct VerifyCmd {
    #[command(flatten)]
    log: LogOption,
    /// The head an earlier `invoke` or `run` printed, kept elsewhere: it must still be in the
    /// log, so records cut off the end are found too.
    #[arg(long, value_name = "HASH", value_parser = parse_head)]
    head: Option<String>,
    /// The audit key the log was written with: every record's MAC is checked, which finds a
    /// log rewritten with its hashes recomputed [env: EXORUN_AUDIT_KEY]
    #[arg(long = "audit-key", visible_alias = "key", value_name = "FILE")]
    key: Option<PathBuf>,
}

/// Options of `audit show`.
#[derive(Args, Debug)]
pub struct ShowCmd {
    #[command(flatten)]
    log: LogOption,
    /// Only the records of this run (its id, or the first characters of it).
    #[arg(long, value_name = "ID")]
    run: Option<String>,
    /// Only records written since then: a time (2025-06-01T08:00:00Z), a date (2025-06-01, UTC)
    /// or how long ago (90m, 24h, 7d).
    #[arg(long, value_name = "TIME", value_parser = parse_since)]
    since: Option<DateTime<Utc>>,
    /// Only records about this plugin.
    #[arg(long, value_name = "NAME")]
    plugin: Option<String>,
    /// Only cmdlet calls that were refused, and requests to the service that were refused.
    #[arg(long)]
    denied: bool,
    /// Only records of what this caller asked the service for (a UPN, app:ID, unix:NAME or
    /// schedule:NAME): their runs, calls and refused requests.
    #[arg(long, value_name = "PRINCIPAL")]
    caller: Option<String>,
    /// Output format: JSON and JSON Lines give the records as they are written in the log.
    #[arg(long, value_enum, default_value = "table")]
    output: ShowFormat,
}

/// How `audit show` writes records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum ShowFormat {
    /// One line per record, in words.
    Table,
    /// One JSON array of the records.
    Json,
    /// The records' lines as they are in the log.
    Jsonl,
}

/// The one line `invoke` and `run` end with: how many records the log has and the hash of the
/// last this process wrote, to keep elsewhere for `audit verify --head`. Nothing when the
/// command wrote no record (the head is still `before`: it stopped before doing anything).
pub fn print_head(audit: &Audit, run: RunId, before: Option<Head>) {
    if let (Some(head), Some(path)) = (audit.head(), audit.path())
        && Some(&head) != before.as_ref()
    {
        eprintln!(
            "audit: {}, head {} (run {run}, log {})",
            count(head.seq, "record", "records"),
            head.hash,
            path.display()
        );
    }
}

/// `--head`: a SHA-256 in hex.
fn parse_head(text: &str) -> Result<String, String> {
    let text = text.trim();
    if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(text.to_ascii_lowercase())
    } else {
        Err("a head is the 64-character SHA-256 that `exorun invoke` and `exorun run` print at their end (audit: … head HASH)".into())
    }
}

/// `--since`: a time, a date, or how long ago.
fn parse_since(text: &str) -> Result<DateTime<Utc>, String> {
    since_at(text, Utc::now())
}

fn since_at(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let text = text.trim();
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Ok(time.with_timezone(&Utc));
    }
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(date.and_time(chrono::NaiveTime::MIN).and_utc());
    }
    let ago = exorun::duration::parse(text).and_then(|ago| chrono::Duration::from_std(ago).ok());
    ago.and_then(|ago| now.checked_sub_signed(ago)).ok_or_else(|| {
        "--since takes a time (2025-06-01T08:00:00Z), a date (2025-06-01) or how long ago (90m, 24h, 7d)".into()
    })
}

impl AuditCmd {
    /// Runs the subcommand; `before` holds the options given before `audit` (`--audit-log`,
    /// `--audit-key`).
    pub fn run(self, before: &ConnectionArgs) -> anyhow::Result<ExitCode> {
        match self {
            AuditCmd::Verify(cmd) => cmd.run(before),
            AuditCmd::Show(cmd) => cmd.run(before),
            AuditCmd::Key(KeyCmd::New { file }) => {
                AuditKey::create(&file)?;
                println!(
                    "wrote a new audit key to {0} (mode 600)\n  use it: --audit-key {0} (or EXORUN_AUDIT_KEY={0}) on every command that writes or verifies the log; keep it apart from the log, where the log's writers cannot read it",
                    file.display()
                );
                Ok(ExitCode::SUCCESS)
            }
        }
    }
}

impl VerifyCmd {
    fn run(self, before: &ConnectionArgs) -> anyhow::Result<ExitCode> {
        let path = self.log.path(before)?;
        let key = self
            .key
            .or_else(|| before.audit_key.clone())
            .or_else(|| env_path("EXORUN_AUDIT_KEY"))
            .map(|file| AuditKey::load(&file))
            .transpose()?;
        let report = audit::verify_with_key(&path, self.head.as_deref(), key.as_ref())?;
        let mut out = std::io::stdout().lock();
        let Some(problem) = &report.problem else {
            let macs = match (&key, report.keyed) {
                (Some(_), _) => ", every MAC matches the key",
                (None, 0) => "",
                (None, _) => " (its records carry MACs: pass --key FILE to check them)",
            };
            match &report.head {
                Some(head) if key.is_some() && report.unkeyed > 0 => {
                    let (n, total) = (report.unkeyed, report.intact);
                    let which = if n == total {
                        "no record carries a MAC: the log was written without a key, or its MACs were stripped; the key vouches for none of it".to_string()
                    } else {
                        format!(
                            "records 1 to {n} carry no MAC: they were written before the log was keyed, or their MACs were stripped; the key vouches only for records {} to {total}",
                            n + 1
                        )
                    };
                    writeln!(
                        out,
                        "✗ {}: {which}\n  the chain is intact ({}, head {})\n  fix: if the log was keyed from its start, it was rewritten; else keep the head printed before the key was set and check it with --head",
                        path.display(),
                        count(total, "record", "records"),
                        head.hash
                    )?;
                    return Ok(ExitCode::FAILURE);
                }
                Some(head) => writeln!(
                    out,
                    "✓ {}: {}, chain intact{macs}, head {}",
                    path.display(),
                    count(report.intact, "record", "records"),
                    head.hash
                )?,
                None => writeln!(out, "✓ {}: no records yet", path.display())?,
            }
            if let Some(line) = report.given_head_line {
                let newer = report.intact - line;
                writeln!(
                    out,
                    "  the given head is record {line}; {} written after it",
                    count(newer, "record was", "records were")
                )?;
            }
            return Ok(ExitCode::SUCCESS);
        };
        writeln!(out, "✗ {}: {problem}", path.display())?;
        let intact = report.intact.min(problem.line.saturating_sub(1));
        if intact > 0 && !matches!(problem.kind, audit::ProblemKind::HeadMissing { .. }) {
            writeln!(out, "  records 1 to {intact} are intact")?;
        }
        Ok(ExitCode::FAILURE)
    }
}

impl ShowCmd {
    fn run(self, before: &ConnectionArgs) -> anyhow::Result<ExitCode> {
        let path = self.log.path(before)?;
        let filter = Filter {
            run: self.run,
            since: self.since,
            plugin: self.plugin,
            denied: self.denied,
            caller: self.caller,
        };
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        let mut shown = 0u64;
        if self.output == ShowFormat::Table {
            writeln!(
                out,
                "{:>5}  {:<19}  {:<9}  {:<8}  WHAT",
                "SEQ", "TIME (UTC)", "EVENT", "RUN"
            )?;
        }
        for entry in audit::entries(&path)? {
            let Entry { line, text, record } = entry?;
            let record = match record {
                Ok(record) => record,
                Err(reason) => {
                    eprintln!(
                        "exorun: warning: line {line} of {} is not an audit record ({reason}); `exorun audit verify` checks the log",
                        path.display()
                    );
                    continue;
                }
            };
            if !filter.matches(&record) {
                continue;
            }
            match self.output {
                ShowFormat::Table => writeln!(out, "{}", row(&record))?,
                ShowFormat::Jsonl => writeln!(out, "{text}")?,
                ShowFormat::Json => {
                    let sep = if shown == 0 { "[\n  " } else { ",\n  " };
                    write!(out, "{sep}{text}")?;
                }
            }
            shown += 1;
        }
        if self.output == ShowFormat::Json {
            writeln!(out, "{}", if shown == 0 { "[]" } else { "\n]" })?;
        }
        out.flush()?;
        Ok(ExitCode::SUCCESS)
    }
}

/// A record as one table row.
fn row(record: &Record) -> String {
    let (event, what) = match &record.event {
        Event::RunStart(start) => ("run-start", run_start(start)),
        Event::RunEnd(end) => ("run-end", run_end(end)),
        Event::Token(token) => ("token", token_text(token)),
        Event::Call(call) => ("call", call_text(call)),
        Event::Refused(refused) => (
            "refused",
            format!(
                "{} ({}): {} refused: {}",
                refused.caller.principal,
                refused.caller.authenticated_by,
                refused.request,
                first_line(&refused.reason)
            ),
        ),
    };
    let run = record
        .event
        .run()
        .map(|r| r.to_string())
        .unwrap_or_default();
    format!(
        "{:>5}  {}  {event:<9}  {:<8}  {what}",
        record.seq,
        record.time.format("%Y-%m-%d %H:%M:%S"),
        run.get(..8).unwrap_or(&run)
    )
}

/// The start of a hash, enough to tell hashes apart by eye.
fn short(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}

/// A dry run's report of a change it did not send, secret values redacted.
pub fn not_sent(change: &Rehearsal) -> String {
    format!(
        "dry run: {} was not sent ({})",
        change.cmdlet,
        Value::Object(redact(&change.cmdlet, &change.params))
    )
}

/// The first line of a message (its fix is in the JSON).
fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default()
}

fn seconds(ms: u64) -> String {
    format!("{:.1} s", ms as f64 / 1000.0)
}

fn run_start(start: &RunStart) -> String {
    let plugin = &start.plugin;
    let mut text = format!(
        "{} {} started (sha256 {}…), input sha256 {}…",
        plugin.name,
        plugin.version,
        short(&plugin.digest),
        short(&start.input_digest)
    );
    if !start.signers.is_empty() {
        text.push_str(&format!(", signed by {}", start.signers.join(", ")));
    }
    if let Some(policy) = &start.policy_digest {
        text.push_str(&format!(", policy sha256 {}…", short(policy)));
    }
    if start.dry_run {
        text.push_str(", dry run");
    }
    if let Some(caller) = &start.caller {
        text.push_str(&format!(", asked by {}", caller.principal));
        if !caller.approved_by.is_empty() {
            text.push_str(&format!(", approved by {}", caller.approved_by.join(", ")));
        }
    }
    text
}

fn run_end(end: &RunEnd) -> String {
    let plugin = &end.plugin;
    let did = format!(
        "{}, {}, {} denied",
        count(end.records, "record", "records"),
        count(end.calls, "call", "calls"),
        end.denied
    );
    match (end.outcome, &end.error) {
        (Outcome::Failed, Some(error)) => format!(
            "{} {} failed after {} ({did}): {}",
            plugin.name,
            plugin.version,
            seconds(end.duration_ms),
            first_line(error)
        ),
        (outcome, _) => format!(
            "{} {} {} in {}: {did}",
            plugin.name,
            plugin.version,
            if outcome == Outcome::Succeeded {
                "succeeded"
            } else {
                "failed"
            },
            seconds(end.duration_ms)
        ),
    }
}

fn token_text(token: &TokenAcquisition) -> String {
    let who = [
        Some(token.credential.clone()),
        token.app_id.as_ref().map(|a| format!("app {a}")),
        token.tenant.as_ref().map(|t| format!("tenant {t}")),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(", ");
    if token.intent {
        return format!("asking for a token for {} ({who})", token.resource);
    }
    match (&token.error, token.expires_at) {
        (Some(error), _) => format!(
            "no token for {} ({who}): {}",
            token.resource,
            first_line(error)
        ),
        (None, Some(expires)) => format!(
            "token for {} ({who}), expires {}",
            token.resource,
            expires.format("%Y-%m-%d %H:%M:%S")
        ),
        (None, None) => format!("token for {} ({who})", token.resource),
    }
}

fn call_text(call: &Call) -> String {
    let mut text = call.cmdlet.clone();
    for (name, value) in &call.params {
        text.push_str(&format!(" -{name} {}", param_value(value)));
    }
    let outcome = if call.decision == Decision::Denied {
        format!(
            "DENIED: {}",
            call.why.as_deref().unwrap_or("no reason given")
        )
    } else if call.dry_run {
        "dry run: recorded, not sent".into()
    } else if call.intent {
        "sending (its outcome follows in a later record)".into()
    } else {
        let mut parts = Vec::new();
        if let Some(status) = call.status {
            parts.push(format!("HTTP {status}"));
        }
        if call.error.is_none() {
            parts.push(count(call.rows, "row", "rows"));
        }
        if let Some(ms) = call.duration_ms {
            parts.push(format!("{ms} ms"));
        }
        if let Some(page) = call.page.filter(|p| *p > 1) {
            parts.push(format!("page {page}"));
        }
        if let Some(error) = &call.error {
            parts.push(first_line(error).to_string());
        }
        parts.join(", ")
    };
    format!("{text} → {outcome}")
}

/// A parameter value as PowerShell would be given it.
fn param_value(value: &Value) -> String {
    match value {
        Value::Bool(true) => "$true".into(),
        Value::Bool(false) => "$false".into(),
        Value::Null => "$null".into(),
        Value::String(text) if !text.is_empty() && !text.contains([' ', '\'', ',']) => text.clone(),
        Value::String(text) => format!("'{}'", text.replace('\'', "''")),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn since_is_a_time_a_date_or_how_long_ago() {
        let now = DateTime::parse_from_rfc3339("2025-06-02T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let at = |text| since_at(text, now).map(|t| t.to_rfc3339());
        assert_eq!(
            at("2025-06-01T08:00:00+02:00").unwrap(),
            "2025-06-01T06:00:00+00:00"
        );
        assert_eq!(at("2025-06-01").unwrap(), "2025-06-01T00:00:00+00:00");
        assert_eq!(at("90m").unwrap(), "2025-06-02T10:30:00+00:00");
        assert_eq!(at("7d").unwrap(), "2025-05-26T12:00:00+00:00");
        for bad in ["yesterday", "5y", "", "99999999999999999999d"] {
            assert!(at(bad).is_err(), "{bad}");
        }
        assert!(parse_head(&"AB".repeat(32)).is_ok_and(|h| h == "ab".repeat(32)));
        assert!(parse_head("3f2a").is_err());
    }

    #[test]
    fn calls_read_like_the_command_that_made_them() {
        let mut call = Call::new(
            &Default::default(),
            "Set-Mailbox",
            json!({"Identity": "Smith, John", "HiddenFromAddressListsEnabled": false, "ResultSize": 5})
                .as_object()
                .unwrap(),
        );
        call.status = Some(200);
        call.duration_ms = Some(42);
        assert_eq!(
            call_text(&call),
            "Set-Mailbox -Identity 'Smith, John' -HiddenFromAddressListsEnabled $false -ResultSize 5 → HTTP 200, 0 rows, 42 ms"
        );
        call.decision = Decision::Denied;
        call.why = Some("not granted".into());
        assert!(call_text(&call).ends_with("→ DENIED: not granted"));
    }
}
