//! Runs one step's items for one tenant: each item in its own plugin instance (the runtime's
//! pooled instances of the one compiled plugin), at most `max_parallel` at once, each try
//! journaled, each failure retried as the step says, a failing item never stopping its siblings
//! unless the step says `fail`. An item an earlier attempt of the run finished is not run again:
//! its output comes from the journal and its records from the step's records file.
//!
//! An item's end is written to the journal only once its records are on disk, and, when it
//! made changes, the item is reported done only once its end (with what its changes gave back)
//! is on disk too: the syncs are grouped between the items in flight
//! ([`crate::durable::Syncs`]).

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead as _, BufReader, BufWriter, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::StreamExt as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::journal::{
    Entry, ItemId, ItemJournal, ItemOutcome, Journal, JournalError, JournalState,
};
use super::slots::{Slots, Waits, alive};
use crate::durable::{Syncs, create_dir_synced, drop_cut_line, sync_dir};
use crate::exchange::{ExchangeClient, Rehearsal};
use crate::group_commit::Ticket;
use crate::policy::Grant;
use crate::runtime::{
    MemoryCheckpoints, Plugin, ProgressSink, Record, RecordSink, RunError, RunLimits, RunRequest,
    Runtime,
};

/// How often an item is tried, and how long to wait between tries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retry {
    /// Tries in all, the first included (at least 1).
    pub attempts: u32,
    /// The wait before the second try; it doubles for each try after.
    pub backoff: Duration,
}

impl Retry {
    /// One try, no retry.
    pub const NONE: Retry = Retry {
        attempts: 1,
        backoff: Duration::ZERO,
    };
}

/// What an item that failed (after its retries) does to the step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnError {
    /// No further item of the step starts (those running finish), and the run stops after it.
    Fail,
    /// The other items go on; the step succeeds with the failure listed.
    Continue,
}

/// One item of a step, ready to run.
#[derive(Clone, Debug, PartialEq)]
pub struct Item {
    /// Its key in the journal ([`ItemId::item`]).
    pub key: String,
    /// How people see it in progress, logs and reports (e.g. the mailbox's address).
    pub label: String,
    /// The plugin's input, JSON.
    pub input: String,
}

/// What one step runs, against one tenant.
pub struct StepPlan {
    /// The step's id.
    pub step: String,
    /// The tenant (profile name).
    pub tenant: String,
    /// The plugin, loaded once for every item.
    pub plugin: Arc<Plugin>,
    /// What the policy lets it do.
    pub grant: Arc<Grant>,
    /// The tenant's client; its context names the workflow run.
    pub exchange: ExchangeClient,
    /// The plugin's `config` values.
    pub config: BTreeMap<String, String>,
    /// Each item's run limits.
    pub limits: RunLimits,
    /// Changes are rehearsed, not sent.
    pub dry_run: bool,
    /// Items in flight at once (at least 1).
    pub max_parallel: usize,
    /// How failed items are retried.
    pub retry: Retry,
    /// What a failed item does to the step.
    pub on_error: OnError,
    /// Keep each item's records in memory (a later step reads them).
    pub keep_records: bool,
}

/// How one item went.
#[derive(Clone, Debug, PartialEq)]
pub struct ItemResult {
    /// Its key.
    pub key: String,
    /// How people see it.
    pub label: String,
    /// How it ended.
    pub outcome: ItemOutcome,
    /// The plugin's summary (JSON), when its plugin returned one (also when the summary says
    /// some of its work failed, which fails the item).
    pub output: Option<Value>,
    /// Why it failed.
    pub error: Option<String>,
    /// Records it emitted.
    pub records: u64,
    /// The records themselves, when the plan keeps them.
    pub kept: Vec<Record>,
    /// Changes a dry run rehearsed.
    pub rehearsals: Vec<Rehearsal>,
    /// Tries made in this attempt of the run (0: finished by an earlier attempt).
    pub tries: u32,
}

/// How a step went for one tenant: each item's result in the items' order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StepResult {
    /// The items.
    pub items: Vec<ItemResult>,
    /// An item failed and the step says `fail`: items not started were left undone.
    pub stopped: bool,
}

impl StepResult {
    /// Items that failed.
    pub fn failed(&self) -> usize {
        self.count(ItemOutcome::Failed)
    }

    /// Items with `outcome`.
    pub fn count(&self, outcome: ItemOutcome) -> usize {
        self.items.iter().filter(|i| i.outcome == outcome).count()
    }
}

/// What the engine is told as a step goes, for progress bars and logs.
pub trait StepEvents: Send + Sync {
    /// The step starts `total` items for `tenant` (`done` of them finished earlier).
    fn started(&self, step: &str, tenant: &str, total: usize, done: usize);
    /// An item ended.
    fn item_ended(&self, step: &str, tenant: &str, item: &ItemResult);
    /// An item failed and will be tried again after `wait`.
    fn retrying(&self, step: &str, tenant: &str, label: &str, error: &str, wait: Duration);
    /// The step's throttling waits changed (shown live: a storm of 429s otherwise looks like
    /// a stalled run). Displays that do not show them need not listen.
    fn throttled(&self, _step: &str, _tenant: &str, _waits: Waits) {}
}

/// Why a step could not go on: the run must stop (a failed item is not this).
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    /// The journal could not be written.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// The step's records file could not be written, synced or read.
    #[error(
        "the records of step '{step}' could not be {doing} ({path}): {source}\nfix: check the permissions, free space and health (dmesg) of the disk the runs are on, then resume the run"
    )]
    Records {
        /// The step.
        step: String,
        /// "written", "synced to disk" or "read".
        doing: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The audit log could not be written: nothing more may run.
    #[error("{0}")]
    Audit(RunError),
}

/// Where a workflow run keeps its state: the journal, what it said at start, the records.
pub struct RunFiles<'a> {
    /// The journal, open for appending.
    pub journal: &'a Arc<Journal>,
    /// What the journal said when this attempt of the run started.
    pub earlier: &'a JournalState,
    /// The run's directory (records go under `records/`).
    pub dir: &'a Path,
}

/// One line of a step's records file: whose record it is.
#[derive(Serialize, Deserialize)]
struct RecordLine<'a> {
    item: std::borrow::Cow<'a, str>,
    attempt: u32,
    record: Record,
}

/// Runs `items` of `plan`'s step against its tenant.
pub async fn run_step(
    runtime: &Runtime,
    files: &RunFiles<'_>,
    plan: &StepPlan,
    items: Vec<Item>,
    progress: Arc<dyn ProgressSink>,
    events: &dyn StepEvents,
) -> Result<StepResult, StepError> {
    let path = records_path(files.dir, &plan.tenant, &plan.step);
    let id = |item: &Item| ItemId {
        step: plan.step.clone(),
        tenant: plan.tenant.clone(),
        item: item.key.clone(),
    };
    let finished: Vec<Option<ItemResult>> = items
        .iter()
        .map(|item| earlier_result(files.earlier, &id(item), item))
        .collect();
    let mut kept_earlier = if plan.keep_records && finished.iter().any(Option::is_some) {
        read_records(&path, files.earlier, &plan.step)?
    } else {
        BTreeMap::new()
    };
    let done = finished.iter().filter(|f| f.is_some()).count();
    events.started(&plan.step, &plan.tenant, items.len(), done);
    let writer = Arc::new(RecordsFile::open(&path, &plan.step)?);
    let stop = AtomicBool::new(false);
    let slots = Slots::new(plan.max_parallel);
    // Unordered, so an item waiting out a throttling `Retry-After` holds up no other; the
    // results are put back in the items' order after.
    let running = futures::stream::iter(items.into_iter().zip(finished).enumerate())
        .map(|(index, (item, finished))| {
            let (writer, stop, progress, slots) = (writer.clone(), &stop, progress.clone(), &slots);
            let earlier_changes = files
                .earlier
                .changes
                .get(&id(&item))
                .cloned()
                .unwrap_or_default();
            let attempt = files.earlier.attempts.get(&id(&item)).copied().unwrap_or(0);
            let kept = kept_earlier.remove(&item.key);
            let ran = async move {
                if let Some(mut result) = finished {
                    result.kept = kept.unwrap_or_default();
                    return Ok(result);
                }
                let tries = Tries {
                    runtime,
                    plan,
                    journal: files.journal,
                    writer: &writer,
                    slots,
                    stop,
                    progress,
                    events,
                };
                let result = tries
                    .run(&item, id(&item), attempt, earlier_changes)
                    .await?;
                if result.outcome == ItemOutcome::Failed && plan.on_error == OnError::Fail {
                    stop.store(true, Ordering::Relaxed);
                }
                events.item_ended(&plan.step, &plan.tenant, &result);
                Ok(result)
            };
            async move { (index, ran.await) }
        })
        .buffer_unordered(alive(plan.max_parallel))
        .collect::<Vec<(usize, Result<ItemResult, StepError>)>>();
    let mut results = with_waits_shown(running, &slots, |waits| {
        events.throttled(&plan.step, &plan.tenant, waits);
    })
    .await;
    writer.flush()?;
    results.sort_unstable_by_key(|(index, _)| *index);
    let items = results
        .into_iter()
        .map(|(_, result)| result)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(StepResult {
        stopped: stop.load(Ordering::Relaxed),
        items,
    })
}

impl ItemResult {
    /// The result of an item that did not run (skipped, nothing in it): what the others start
    /// from.
    pub fn skipped(key: String, label: String) -> ItemResult {
        ItemResult {
            key,
            label,
            outcome: ItemOutcome::Skipped,
            output: None,
            error: None,
            records: 0,
            kept: Vec::new(),
            rehearsals: Vec::new(),
            tries: 0,
        }
    }
}

/// `item`'s result with nothing in it yet.
fn blank(item: &Item) -> ItemResult {
    ItemResult::skipped(item.key.clone(), item.label.clone())
}

/// The result an earlier attempt of the run journaled for `id`, if it succeeded or was skipped
/// (a failed item runs again).
fn earlier_result(earlier: &JournalState, id: &ItemId, item: &Item) -> Option<ItemResult> {
    match earlier.ended.get(id)? {
        Entry::ItemEnd {
            outcome: outcome @ (ItemOutcome::Succeeded | ItemOutcome::Skipped),
            output,
            records,
            ..
        } => Some(ItemResult {
            outcome: *outcome,
            output: output.clone(),
            records: *records,
            ..blank(item)
        }),
        _ => None,
    }
}

/// Drives `running` to its end, telling `show` the step's throttling waits whenever they
/// changed, at most every [`WAITS_SHOWN_EVERY`].
async fn with_waits_shown<T>(
    running: impl std::future::Future<Output = T>,
    slots: &Slots,
    show: impl Fn(Waits),
) -> T {
    let mut running = std::pin::pin!(running);
    let mut tick = tokio::time::interval(WAITS_SHOWN_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut shown = Waits::default();
    loop {
        tokio::select! {
            done = &mut running => return done,
            _ = tick.tick() => {
                let waits = slots.waits();
                if waits != shown {
                    show(waits);
                    shown = waits;
                }
            }
        }
    }
}

/// How often a step's throttling waits are looked at for the progress display.
const WAITS_SHOWN_EVERY: Duration = Duration::from_millis(250);

/// The tries of one item.
struct Tries<'a> {
    runtime: &'a Runtime,
    plan: &'a StepPlan,
    journal: &'a Arc<Journal>,
    writer: &'a Arc<RecordsFile>,
    slots: &'a Arc<Slots>,
    stop: &'a AtomicBool,
    progress: Arc<dyn ProgressSink>,
    events: &'a dyn StepEvents,
}

impl Tries<'_> {
    /// Runs `item` until it succeeds or its tries are used up; `attempt` tries were made by
    /// earlier attempts of the run, whose finished changes are `changes`.
    async fn run(
        &self,
        item: &Item,
        id: ItemId,
        mut attempt: u32,
        changes: std::collections::HashMap<crate::changes::ChangeKey, crate::changes::ChangeResult>,
    ) -> Result<ItemResult, StepError> {
        let plan = self.plan;
        let item_journal: Arc<ItemJournal> =
            Arc::new(ItemJournal::new(self.journal.clone(), id.clone(), changes));
        let mut tries = 0;
        loop {
            // The runtime's turn first, then the step's: an item never holds a working slot
            // while it waits for an instance that items waiting out a retry hold.
            let reserved = self.runtime.reserve().await;
            let slot = Arc::new(self.slots.take().await);
            if tries == 0 && self.stop.load(Ordering::Relaxed) {
                return Ok(ItemResult {
                    outcome: ItemOutcome::Skipped,
                    error: Some(
                        "not started: an earlier item failed and the step says on_error = \"fail\""
                            .into(),
                    ),
                    ..blank(item)
                });
            }
            attempt += 1;
            tries += 1;
            self.journal.write(&Entry::ItemStart {
                id: id.clone(),
                attempt,
            })?;
            kill_point!("journal-item-start-written");
            let sink = Arc::new(ItemSink {
                writer: self.writer.clone(),
                item: item.key.clone(),
                attempt,
                records: AtomicU64::new(0),
                kept: plan.keep_records.then(|| Mutex::new(Vec::new())),
                rehearsals: Mutex::new(Vec::new()),
            });
            let request = RunRequest {
                input: item.input.clone(),
                config: plan.config.clone(),
                exchange: plan.exchange.clone().with_retry_wait(slot.clone()),
                dry_run: plan.dry_run,
                journal: Some(item_journal.clone()),
                grant: plan.grant.clone(),
                limits: plan.limits,
                sink: sink.clone(),
                checkpoints: Arc::new(MemoryCheckpoints::new()),
                progress: self.progress.clone(),
            };
            let ran = match reserved {
                Ok(reserved) => {
                    self.runtime
                        .run_reserved(reserved, &plan.plugin, request)
                        .await
                }
                Err(error) => Err(error),
            };
            slot.release();
            let records = self.writer.flush()?;
            let records = (sink.records.load(Ordering::Relaxed) > 0).then_some(records);
            let mut result = ItemResult {
                records: sink.records.load(Ordering::Relaxed),
                kept: sink.take_kept(),
                rehearsals: std::mem::take(
                    &mut *sink
                        .rehearsals
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner),
                ),
                tries,
                ..blank(item)
            };
            // Why the try failed, and whether another could go differently.
            let (text, retry) = match ran {
                Ok(outcome) => {
                    result.output = Some(
                        serde_json::from_str(&outcome.summary)
                            .unwrap_or(Value::String(outcome.summary)),
                    );
                    if !outcome.failures.any() {
                        result.outcome = ItemOutcome::Succeeded;
                        self.end(&id, attempt, &result, records, &item_journal)
                            .await?;
                        return Ok(result);
                    }
                    // Its plugin went on past failed units: the item is failed work, tried
                    // again (the change journal answers the changes already made).
                    (format!("the plugin says {}", outcome.failures), true)
                }
                Err(error @ RunError::Audit(_)) => return Err(StepError::Audit(error)),
                Err(error) => (error.to_string(), worth_retrying(&error)),
            };
            if tries < plan.retry.attempts && retry {
                let wait = plan.retry.backoff.saturating_mul(1 << (tries - 1).min(16));
                self.events
                    .retrying(&plan.step, &plan.tenant, &item.label, &text, wait);
                tokio::time::sleep(wait).await;
                continue;
            }
            result.outcome = ItemOutcome::Failed;
            result.error = Some(text);
            self.end(&id, attempt, &result, records, &item_journal)
                .await?;
            return Ok(result);
        }
    }

    /// Ends the item's last try ([`end_item`]).
    async fn end(
        &self,
        id: &ItemId,
        attempt: u32,
        result: &ItemResult,
        records: Option<Ticket>,
        changes: &ItemJournal,
    ) -> Result<(), StepError> {
        let end = Entry::ItemEnd {
            id: id.clone(),
            attempt,
            outcome: result.outcome,
            output: result.output.clone(),
            error: result.error.clone(),
            records: result.records,
        };
        end_item(self.journal, self.writer, end, records, changes.changed()).await
    }
}

/// Writes an item's `end` to the journal once its records (the ticket of its last try's flush,
/// if it emitted any) are on disk: a journal that says a try finished never outlives its
/// records. When the item `changed` something, waits for the end (and with it what the changes
/// gave back) to be on disk too, before the item is reported done.
async fn end_item(
    journal: &Journal,
    records: &RecordsFile,
    end: Entry,
    flushed: Option<Ticket>,
    changed: bool,
) -> Result<(), StepError> {
    if let Some(flushed) = flushed {
        records.stored(flushed).await?;
        kill_point!("records-synced");
    }
    let ended = journal.write(&end)?;
    kill_point!("journal-item-end-written");
    if changed {
        journal.stored(ended).await?;
    }
    Ok(())
}

/// Whether another try could go differently: not for an input, schema or setting the plugin
/// refused, which the next try would refuse the same way.
fn worth_retrying(error: &RunError) -> bool {
    !matches!(
        error,
        RunError::Input(_) | RunError::InputSchema { .. } | RunError::Config(_)
    )
}

/// The directory of a run's records files, in the run's directory.
pub const RECORDS_DIR: &str = "records";

/// `records/<tenant>/<step>.jsonl` in the run's directory.
pub fn records_path(dir: &Path, tenant: &str, step: &str) -> PathBuf {
    dir.join(RECORDS_DIR)
        .join(tenant)
        .join(format!("{step}.jsonl"))
}

/// Every record of `step` in `path` that belongs to an item's finished try (as `earlier`
/// journaled it), by item.
fn read_records(
    path: &Path,
    earlier: &JournalState,
    step: &str,
) -> Result<BTreeMap<String, Vec<Record>>, StepError> {
    let mut by_item: BTreeMap<String, Vec<Record>> = BTreeMap::new();
    each_record(path, earlier, step, |item, record| {
        by_item
            .entry(item.to_string())
            .or_default()
            .push(record.clone());
    })
    .map_err(|source| StepError::Records {
        step: step.to_string(),
        doing: "read",
        path: path.to_path_buf(),
        source,
    })?;
    Ok(by_item)
}

/// Calls `each` with every record of `step` in `path` that belongs to an item's finished try
/// (as `state` journaled it), and the item's key, one at a time: for reading a big step's
/// records back without holding them (the run's report charts them). A line cut by a kill
/// belongs to a try that did not finish, and is skipped (the run that appended after it ended
/// it first).
pub fn each_record(
    path: &Path,
    state: &JournalState,
    step: &str,
    mut each: impl FnMut(&str, &Record),
) -> io::Result<()> {
    let finished: std::collections::HashMap<&str, u32> = state
        .ended
        .iter()
        .filter(|(id, _)| id.step == step)
        .filter_map(|(id, entry)| match entry {
            Entry::ItemEnd { attempt, .. } => Some((id.item.as_str(), *attempt)),
            _ => None,
        })
        .collect();
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for line in BufReader::new(file).split(b'\n') {
        let line = line?;
        let Ok(line) = serde_json::from_slice::<RecordLine<'_>>(&line) else {
            continue;
        };
        if finished.get(line.item.as_ref()) == Some(&line.attempt) {
            each(&line.item, &line.record);
        }
    }
    Ok(())
}

/// A step's records file, shared by its items.
struct RecordsFile {
    step: String,
    path: PathBuf,
    out: Mutex<BufWriter<File>>,
    syncs: Arc<Syncs>,
}

impl RecordsFile {
    /// Opens the step's records file to append to it: a new one is made with its directory
    /// and synced into it; an existing one (a resumed run) has a last line a kill cut ended
    /// first, so the next record is not appended onto it and lost with it, and is synced, so
    /// what an earlier attempt wrote is on disk before this one reports anything done.
    fn open(path: &Path, step: &str) -> Result<RecordsFile, StepError> {
        let failed = |source| StepError::Records {
            step: step.to_string(),
            doing: "written",
            path: path.to_path_buf(),
            source,
        };
        let dir = path.parent().unwrap_or(Path::new("."));
        create_dir_synced(dir).map_err(failed)?;
        let options = |new| {
            let mut options = OpenOptions::new();
            options.read(true).append(true).create_new(new);
            options
        };
        let file = match options(true).open(path) {
            Ok(file) => {
                sync_dir(dir).map_err(failed)?;
                file
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                let file = options(false).open(path).map_err(failed)?;
                drop_cut_line(&file).map_err(failed)?;
                file.sync_data().map_err(failed)?;
                file
            }
            Err(e) => return Err(failed(e)),
        };
        Ok(RecordsFile {
            step: step.to_string(),
            path: path.to_path_buf(),
            syncs: Syncs::new(&file).map_err(failed)?,
            out: Mutex::new(BufWriter::new(file)),
        })
    }

    fn write(&self, item: &str, attempt: u32, record: Record) -> io::Result<()> {
        let line = RecordLine {
            item: item.into(),
            attempt,
            record,
        };
        let mut out = self.out.lock().unwrap_or_else(PoisonError::into_inner);
        serde_json::to_writer(&mut *out, &line)?;
        out.write_all(b"\n")?;
        kill_point!("records-written");
        Ok(())
    }

    /// Writes out what is buffered; the ticket waits for it to be on disk.
    fn flush(&self) -> Result<Ticket, StepError> {
        self.out
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .flush()
            .map_err(|source| StepError::Records {
                step: self.step.clone(),
                doing: "written",
                path: self.path.clone(),
                source,
            })?;
        kill_point!("records-flushed");
        Ok(self.syncs.wrote())
    }

    /// Returns once what the flush `ticket` counts is on disk (the wait off the async worker,
    /// one sync for every flush meanwhile).
    async fn stored(&self, ticket: Ticket) -> Result<(), StepError> {
        self.syncs
            .stored(ticket)
            .await
            .map_err(|source| StepError::Records {
                step: self.step.clone(),
                doing: "synced to disk",
                path: self.path.clone(),
                source: io::Error::new(source.kind(), source.to_string()),
            })
    }
}

/// Where one try of an item puts its records: the step's file, a count, and a copy if kept.
struct ItemSink {
    writer: Arc<RecordsFile>,
    item: String,
    attempt: u32,
    records: AtomicU64,
    kept: Option<Mutex<Vec<Record>>>,
    rehearsals: Mutex<Vec<Rehearsal>>,
}

impl ItemSink {
    fn take_kept(&self) -> Vec<Record> {
        self.kept
            .as_ref()
            .map(|kept| std::mem::take(&mut *kept.lock().unwrap_or_else(PoisonError::into_inner)))
            .unwrap_or_default()
    }
}

impl RecordSink for ItemSink {
    fn emit(&self, record: Record) -> io::Result<()> {
        self.records.fetch_add(1, Ordering::Relaxed);
        if let Some(kept) = &self.kept {
            kept.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(record.clone());
        }
        self.writer.write(&self.item, self.attempt, record)
    }

    fn rehearsed(&self, change: &Rehearsal) {
        self.rehearsals
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(change.clone());
    }

    fn flush(&self) -> io::Result<()> {
        self.writer
            .out
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .flush()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::workflow::journal::testkit::header;

    fn journal(dir: &Path) -> Journal {
        Journal::create(dir, &header("r1")).unwrap()
    }

    fn id(item: &str) -> ItemId {
        ItemId {
            step: "list".into(),
            tenant: "contoso".into(),
            item: item.into(),
        }
    }

    fn ended(item: &str, records: u64) -> Entry {
        Entry::ItemEnd {
            id: id(item),
            attempt: 1,
            outcome: ItemOutcome::Succeeded,
            output: None,
            error: None,
            records,
        }
    }

    fn record(n: u64) -> Record {
        json!({ "n": n }).as_object().unwrap().clone()
    }

    /// Every record `each_record` gives back for step `list`, as the journal in `dir` says.
    fn read_back(dir: &Path) -> Vec<(String, Record)> {
        let state = JournalState::read(dir).unwrap();
        let mut seen = Vec::new();
        each_record(
            &records_path(dir, "contoso", "list"),
            &state,
            "list",
            |item, record| seen.push((item.to_string(), record.clone())),
        )
        .unwrap();
        seen
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_item_s_end_is_written_only_once_its_records_are_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let journal = journal(dir.path());
        let path = records_path(dir.path(), "contoso", "list");
        let records = RecordsFile::open(&path, "list").unwrap();
        // At each sync of the records: whether the journal holds the item's end yet.
        let journal_path = journal.path().to_path_buf();
        let order = Arc::new(Mutex::new(Vec::new()));
        let at_sync = order.clone();
        records.syncs.on_sync(move || {
            let text = std::fs::read_to_string(&journal_path).unwrap();
            at_sync
                .lock()
                .unwrap()
                .push(("records synced", text.contains("item-end")));
            Ok(())
        });
        let at_journal_sync = order.clone();
        journal.syncs().on_sync(move || {
            at_journal_sync
                .lock()
                .unwrap()
                .push(("journal synced", true));
            Ok(())
        });
        records.write("k", 1, record(1)).unwrap();
        let flushed = records.flush().unwrap();
        end_item(&journal, &records, ended("k", 1), Some(flushed), true)
            .await
            .unwrap();
        assert_eq!(
            *order.lock().unwrap(),
            [("records synced", false), ("journal synced", true)],
            "records on disk before the end is written; the end on disk before the item is done"
        );
        assert_eq!(read_back(dir.path()), [("k".to_string(), record(1))]);

        // An item that emitted nothing and changed nothing waits for no disk.
        end_item(&journal, &records, ended("quiet", 0), None, false)
            .await
            .unwrap();
        assert_eq!(order.lock().unwrap().len(), 2);
    }

    /// Step `list`'s records file in `dir` with item `a`'s one record, `a` ended in the
    /// journal, and then `cut` appended (the next item's record a kill cut short): the
    /// journal and the file's path.
    fn records_ending_in(dir: &Path, cut: &[u8]) -> (Journal, PathBuf) {
        let journal = journal(dir);
        let path = records_path(dir, "contoso", "list");
        let records = RecordsFile::open(&path, "list").unwrap();
        records.write("a", 1, record(1)).unwrap();
        records.flush().unwrap();
        drop(records);
        journal.write(&ended("a", 1)).unwrap();
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(cut).unwrap();
        (journal, path)
    }

    #[test]
    fn a_record_appended_after_a_cut_line_is_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let (journal, path) =
            records_ending_in(dir.path(), br#"{"item":"b","attempt":1,"record":{"n""#);

        let records = RecordsFile::open(&path, "list").unwrap();
        records.write("b", 1, record(2)).unwrap();
        records.flush().unwrap();
        journal.write(&ended("b", 1)).unwrap();
        let mut seen = read_back(dir.path());
        seen.sort_by(|x, y| x.0.cmp(&y.0));
        assert_eq!(
            seen,
            [("a".to_string(), record(1)), ("b".to_string(), record(2))]
        );
    }

    /// A record cut in the middle of a character (a lost machine) is skipped, not an error
    /// that hides every record before it; a resumed run removes it.
    #[test]
    fn a_record_cut_inside_a_character_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let (_journal, path) = records_ending_in(
            dir.path(),
            b"{\"item\":\"b\",\"attempt\":1,\"record\":{\"Name\":\"Zo\xc3",
        );
        assert_eq!(read_back(dir.path()), [("a".to_string(), record(1))]);

        drop(RecordsFile::open(&path, "list").unwrap());
        let text = std::fs::read(&path).unwrap();
        assert!(
            text.ends_with(b"}\n") && !text.contains(&0xc3),
            "the cut record is removed"
        );
    }
}
