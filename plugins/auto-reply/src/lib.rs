//! `auto-reply`: sets the automatic replies (out of office) of a list of mailboxes.
//!
//! Calls `Set-MailboxAutoReplyConfiguration` once per identity and emits one record per identity
//! saying what happened; a mailbox that fails does not stop the others, and is counted in the
//! summary's standard `failed`/`errors` fields, so the host reports the run as failed work. In a
//! dry run the host records each change instead of sending it, and the record says `DryRun`.

use exorun_plugin::{CmdletError, Failures, Parameters, PluginError, emit, info, progress, warn};
use serde::{Deserialize, Serialize};

const CMDLET: &str = "Set-MailboxAutoReplyConfiguration";

/// `-AutoReplyState`.
#[derive(Clone, Copy, Deserialize)]
enum State {
    Enabled,
    Disabled,
    Scheduled,
}

/// `-ExternalAudience`.
#[derive(Clone, Copy, Deserialize)]
enum Audience {
    All,
    Known,
    None,
}

/// The mailboxes and the settings to give them; settings left out are not changed.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Input {
    identities: Vec<String>,
    state: State,
    #[serde(default)]
    internal_message: Option<String>,
    #[serde(default)]
    external_message: Option<String>,
    #[serde(default)]
    external_audience: Option<Audience>,
    #[serde(default)]
    start_time: Option<String>,
    #[serde(default)]
    end_time: Option<String>,
}

/// What happened to one mailbox.
#[derive(Clone, Copy, Serialize)]
enum Outcome {
    Updated,
    NotFound,
    DryRun,
    Failed,
}

/// One emitted record.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Row<'a> {
    identity: &'a str,
    result: Outcome,
    detail: Option<String>,
}

/// The run's summary: how many mailboxes ended each way; the failed ones as the contract's
/// `failed` and `errors`.
#[derive(Default, Serialize)]
struct Summary {
    total: u64,
    updated: u64,
    not_found: u64,
    dry_run: u64,
    #[serde(flatten)]
    failures: Failures,
}

impl State {
    fn as_str(self) -> &'static str {
        match self {
            State::Enabled => "Enabled",
            State::Disabled => "Disabled",
            State::Scheduled => "Scheduled",
        }
    }
}

impl Audience {
    fn as_str(self) -> &'static str {
        match self {
            Audience::All => "All",
            Audience::Known => "Known",
            Audience::None => "None",
        }
    }
}

impl Input {
    /// The cmdlet's parameters for one mailbox.
    fn parameters(&self, identity: &str) -> Parameters {
        Parameters::new()
            .with("Identity", identity)
            .with("AutoReplyState", self.state.as_str())
            .with_some("InternalMessage", self.internal_message.as_deref())
            .with_some("ExternalMessage", self.external_message.as_deref())
            .with_some(
                "ExternalAudience",
                self.external_audience.map(Audience::as_str),
            )
            .with_some("StartTime", self.start_time.as_deref())
            .with_some("EndTime", self.end_time.as_deref())
    }
}

fn run(input: Input) -> Result<Summary, PluginError> {
    if input.identities.is_empty() {
        return Err(PluginError::new(
            "`identities` is empty: name at least one mailbox to change",
        ));
    }
    let total = input.identities.len() as u64;
    let mut summary = Summary {
        total,
        ..Summary::default()
    };
    for (done, identity) in (1..).zip(&input.identities) {
        let (result, detail) =
            match exorun_plugin::invoke::<serde_json::Value>(CMDLET, input.parameters(identity)) {
                Ok(_) => (Outcome::Updated, None),
                Err(CmdletError::DryRun(text)) => (Outcome::DryRun, Some(text)),
                Err(CmdletError::NotFound(text)) => (Outcome::NotFound, Some(text)),
                Err(e) => {
                    warn!("{identity}: {e}");
                    summary.failures.add(identity, &e);
                    (Outcome::Failed, Some(e.to_string()))
                }
            };
        match result {
            Outcome::Updated => summary.updated += 1,
            Outcome::NotFound => summary.not_found += 1,
            Outcome::DryRun => summary.dry_run += 1,
            Outcome::Failed => {}
        }
        emit(&Row {
            identity,
            result,
            detail,
        })?;
        progress(done, total, identity);
    }
    info!(
        "{} updated, {} not found, {} dry run, {} failed",
        summary.updated,
        summary.not_found,
        summary.dry_run,
        summary.failures.count()
    );
    Ok(summary)
}

exorun_plugin::export_plugin!(run);
