//! Runs one step's items for one tenant: each item in its own plugin instance (the runtime's
//! pooled instances of the one compiled plugin), at most `max_parallel` at once, each try
//! journaled, each failure retried as the step says, a failing item never stopping its siblings
//! unless the step says `fail`. An item an earlier attempt of the run finished is not run again:
//! its output comes from the journal and its records from the step's records file.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
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
use crate::exchange::{ExchangeClient, Rehearsal};
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
    /// The step's records file could not be written or read.
    #[error("the records of step '{step}' could not be {doing} ({path}): {source}")]
    Records {
        /// The step.
        step: String,
        /// "written" or "read".
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
            self.writer.flush()?;
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
                        self.end(&id, attempt, &result)?;
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
            self.end(&id, attempt, &result)?;
            return Ok(result);
        }
    }

    fn end(&self, id: &ItemId, attempt: u32, result: &ItemResult) -> Result<(), StepError> {
        self.journal.write(&Entry::ItemEnd {
            id: id.clone(),
            attempt,
            outcome: result.outcome,
            output: result.output.clone(),
            error: result.error.clone(),
            records: result.records,
        })?;
        kill_point!("journal-item-end-written");
        Ok(())
    }
}

/// Whether another try could go differently: not for an input, schema or setting the plugin
/// refused, which the next try would refuse the same way.
fn worth_retrying(error: &RunError) -> bool {
    !matches!(
        error,
        RunError::Input(_) | RunError::InputSchema { .. } | RunError::Config(_)
    )
}

/// `records/<tenant>/<step>.jsonl` in the run's directory.
pub fn records_path(dir: &Path, tenant: &str, step: &str) -> PathBuf {
    dir.join("records")
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
/// belongs to a try that did not finish.
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
    for line in BufReader::new(file).lines() {
        let Ok(line) = serde_json::from_str::<RecordLine<'_>>(&line?) else {
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
}

impl RecordsFile {
    fn open(path: &Path, step: &str) -> Result<RecordsFile, StepError> {
        let failed = |source| StepError::Records {
            step: step.to_string(),
            doing: "written",
            path: path.to_path_buf(),
            source,
        };
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).map_err(failed)?;
        }
        let file = OpenOptions::new()
            .append(true)
            .create(true)
            .open(path)
            .map_err(failed)?;
        Ok(RecordsFile {
            step: step.to_string(),
            path: path.to_path_buf(),
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

    fn flush(&self) -> Result<(), StepError> {
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
        Ok(())
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
