//! The kill suite: exorun killed with SIGKILL at chosen points — its own kill points
//! (RELIABILITY.md: the audit log's appends and syncs, the run journal's lines, a change just
//! before and just after it is sent, the records files, checkpoints, `invoke`'s rows) or
//! exorun-sim's `hold_after` (the nth request is carried out and never answered: a change
//! applied whose answer was lost) — through `exorun invoke`, `exorun run`, a fan-out workflow
//! and the audit log's writes. After each kill the work is resumed or run again to the end and
//! checked against the emulator's request log: every change applied, once (twice only for a
//! change in flight at the kill, at most one per item in flight), every record there once, the
//! audit log verified and covering every change the service applied, the journal read back.
//!
//! Which hit of a point is the kill (and whether a workflow is restarted by `workflow resume`
//! or by `workflow run --run-id`) is drawn from a fixed seed, so a failure happens again the same
//! way; a failing case prints its seed and point. `EXORUN_KILL_SEED=N` draws another set.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::RangeInclusive;
use std::os::unix::process::ExitStatusExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use exorun::workflow::journal::{ItemOutcome, JournalState};
use exorun_sim::control::LogEntry;

use crate::cli::{exorun, mailboxes, pfx_flags, policy, run, upns};
use crate::support::{Sim, artifact, start, start_with};
use crate::workflow_run::{plugins_dir, workflow_cmd};

/// The seed the suite draws its kills from unless `EXORUN_KILL_SEED` says otherwise.
const SEED: u64 = 17;

/// Where a case kills exorun.
#[derive(Clone, Debug)]
enum At {
    /// At the kill point `name`, on a hit drawn from the range (every run of the case passes
    /// the point at least as many times as the range's end).
    Point(&'static str, RangeInclusive<u32>),
    /// When exorun-sim holds from the nth request on (`hold_after`, n drawn from the range),
    /// and the nth has arrived.
    Hold(RangeInclusive<u64>),
}

/// The kill a case drew.
#[derive(Clone, Copy, Debug)]
enum Kill {
    /// The `hit`-th pass of the point `name`.
    Point { name: &'static str, hit: u32 },
    /// Once the `after`-th InvokeCommand request was carried out (and is never answered).
    Hold { after: u64 },
}

impl fmt::Display for Kill {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Kill::Point { name, hit } => write!(f, "kill point {name}, hit {hit}"),
            Kill::Hold { after } => write!(f, "exorun-sim hold_after {after}"),
        }
    }
}

/// One kill case: its name, its seed and what it drew. A case that fails says all three.
struct Case {
    name: &'static str,
    seed: u64,
    kill: Kill,
    rng: fastrand::Rng,
}

impl Case {
    /// The case `name`, killing at `at` on a hit drawn from the suite's seed.
    fn new(name: &'static str, at: At) -> Case {
        let seed = match std::env::var("EXORUN_KILL_SEED") {
            Ok(text) => text
                .trim()
                .parse()
                .unwrap_or_else(|_| panic!("EXORUN_KILL_SEED={text} is not a whole number")),
            Err(_) => SEED,
        };
        // Each case its own draw, whichever cases run and in whatever order.
        let mut rng = fastrand::Rng::with_seed(seed ^ fnv1a(name));
        let kill = match at {
            At::Point(name, hits) => Kill::Point {
                name,
                hit: rng.u32(hits),
            },
            At::Hold(requests) => Kill::Hold {
                after: rng.u64(requests),
            },
        };
        let case = Case {
            name,
            seed,
            kill,
            rng,
        };
        eprintln!("{case}");
        case
    }
}

impl fmt::Display for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "kill suite: case {}, {} (seed {}; EXORUN_KILL_SEED=N draws other hits)",
            self.name, self.kill, self.seed
        )
    }
}

impl Drop for Case {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("FAILED: {self}");
        }
    }
}

/// FNV-1a of `text`: a case's part of its seed, stable across builds.
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// What the killed process left: the emulator's request log at the kill, and its output.
struct Killed {
    log: Vec<LogEntry>,
    stdout: String,
}

/// Runs `command` until `case`'s kill and checks it was one.
async fn kill(sim: &Sim, case: &Case, mut command: Command) -> Killed {
    sim.http()
        .delete(sim.control("requests"))
        .send()
        .await
        .unwrap();
    let out = sim.dir.path().join("killed.out");
    let err = sim.dir.path().join("killed.err");
    command
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap());
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = match case.kill {
        Kill::Point { name, hit } => {
            // The first `hit - 1` passes do nothing; the next kills.
            let actions = match hit {
                1 => "return".to_string(),
                n => format!("{}*off->return", n - 1),
            };
            command.env("FAIL_POINTS", format!("{name}={actions}"));
            let mut child = command.spawn().unwrap();
            loop {
                if let Some(status) = child.try_wait().unwrap() {
                    break status;
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    panic!("exorun was neither killed nor done in 60 s");
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        Kill::Hold { after } => {
            sim.put_control("faults", json!({ "hold_after": after }))
                .await;
            let mut child = command.spawn().unwrap();
            loop {
                let invokes = sim
                    .requests()
                    .await
                    .iter()
                    .filter(|e| e.endpoint == "invoke")
                    .count() as u64;
                if invokes >= after {
                    break;
                }
                if let Some(status) = child.try_wait().unwrap() {
                    panic!(
                        "exorun ended ({status}) after {invokes} requests, before the held one\n{}",
                        std::fs::read_to_string(&err).unwrap_or_default()
                    );
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    panic!("request {after} never arrived in 60 s");
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            child.kill().unwrap();
            let status = child.wait().unwrap();
            // Lets go of the held request; what came after it was not carried out.
            sim.put_control("faults", json!({})).await;
            status
        }
    };
    assert_killed(status, &err);
    Killed {
        log: sim.requests().await,
        stdout: std::fs::read_to_string(&out).unwrap(),
    }
}

/// Fails unless `status` is a SIGKILL's (say, the point was passed fewer times than drawn).
fn assert_killed(status: ExitStatus, stderr: &Path) {
    assert_eq!(
        status.signal(),
        Some(9),
        "exorun was not killed but ended ({status}): the kill point is passed fewer times than drawn\n{}",
        std::fs::read_to_string(stderr).unwrap_or_default()
    );
}

/// The audit log every command of a case writes.
fn audit_log(sim: &Sim) -> PathBuf {
    sim.dir.path().join("audit.jsonl")
}

/// `exorun` as the admin app, audited in the case's log.
fn admin(sim: &Sim) -> Command {
    let mut command = exorun(sim);
    command
        .env("EXORUN_AUDIT_LOG", audit_log(sim))
        .args(pfx_flags(sim, "exorun-admin"));
    command
}

/// The changes of `cmdlet` the emulator carried out (answered 200), counted by identity.
fn applied(log: &[LogEntry], cmdlet: &str) -> BTreeMap<String, usize> {
    let mut by_identity = BTreeMap::new();
    for entry in log {
        if entry.cmdlet.as_deref() == Some(cmdlet) && entry.status == 200 {
            let identity = entry.parameters.as_ref().unwrap()["Identity"]
                .as_str()
                .unwrap()
                .to_string();
            *by_identity.entry(identity).or_default() += 1;
        }
    }
    by_identity
}

/// Checks the case's audit log with `exorun audit verify`, and gives its records.
fn verified_audit(sim: &Sim) -> Vec<Value> {
    let (ok, out, err) = run(exorun(sim)
        .args(["audit", "verify", "--log"])
        .arg(audit_log(sim)));
    assert!(
        ok,
        "the audit log does not verify after the kill:\n{out}\n{err}"
    );
    let (ok, _, err) = run(exorun(sim)
        .args(["audit", "show", "--log"])
        .arg(audit_log(sim)));
    assert!(ok, "the audit log does not read back:\n{err}");
    std::fs::read_to_string(audit_log(sim))
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// The audit log's changes of `cmdlet`: (intents by identity, runs with an intent but no
/// outcome, counted by run).
fn audited(records: &[Value], cmdlet: &str) -> (BTreeMap<String, usize>, BTreeMap<String, i64>) {
    let mut intents = BTreeMap::new();
    let mut open: BTreeMap<String, i64> = BTreeMap::new();
    for record in records
        .iter()
        .filter(|r| r["event"] == "call" && r["cmdlet"] == cmdlet)
    {
        let run = record["run"].as_str().unwrap_or_default().to_string();
        if record["intent"] == true {
            let identity = record["params"]["Identity"].as_str().unwrap().to_string();
            *intents.entry(identity).or_default() += 1;
            *open.entry(run).or_default() += 1;
        } else if record["status"].is_number() || record["error"].is_string() {
            *open.entry(run).or_default() -= 1;
        }
    }
    open.retain(|_, n| *n != 0);
    (intents, open)
}

/// Every change the emulator applied has its intent in the audit log, and no process left more
/// than `in_flight` changes without an outcome.
fn assert_audit_covers(records: &[Value], cmdlet: &str, log: &[LogEntry], in_flight: i64) {
    let (intents, open) = audited(records, cmdlet);
    for (identity, sent) in applied(log, cmdlet) {
        let recorded = intents.get(&identity).copied().unwrap_or(0);
        assert!(
            recorded >= sent,
            "{cmdlet} {identity} was applied {sent} times, and the audit log has {recorded} intents"
        );
    }
    assert!(
        open.values().all(|&n| (0..=in_flight).contains(&n)),
        "changes without an outcome, by run: {open:?} (at most {in_flight} in flight at a kill)"
    );
}

/// Fails unless `counts` has each of `expected` once and nothing else, naming what is missing,
/// doubled or foreign.
fn assert_once_each(counts: &BTreeMap<String, usize>, expected: &[String], what: &str) {
    let missing: Vec<&String> = expected
        .iter()
        .filter(|k| !counts.contains_key(*k))
        .collect();
    let doubled: Vec<(&String, &usize)> = counts.iter().filter(|(_, n)| **n > 1).collect();
    let foreign: Vec<&String> = counts.keys().filter(|k| !expected.contains(k)).collect();
    assert!(
        missing.is_empty() && doubled.is_empty() && foreign.is_empty(),
        "{what}: {} expected once each; missing {missing:?}, more than once {doubled:?}, not expected {foreign:?}",
        expected.len()
    );
}

/// The UPNs `exorun invoke Get-Mailbox ARGS` lists, read before any kill.
fn listed(sim: &Sim, args: &[&str]) -> Vec<String> {
    let (ok, out, err) = run(admin(sim)
        .args(["invoke", "Get-Mailbox", "-ResultSize", "Unlimited"])
        .args(args)
        .args(["--output", "jsonl"]));
    assert!(ok, "{err}");
    upns(&out)
}

// ---------------------------------------------------------------------------------------------
// A fan-out workflow: echo lists six people, auto-reply changes each, three at once.

/// People in the workflow cases.
const PEOPLE: usize = 6;
/// Items of the fan-out at once.
const MAX_PARALLEL: usize = 3;

/// The workflow: echo lists the people, then an auto-reply for each, `MAX_PARALLEL` at once.
fn replies_workflow(sim: &Sim) -> PathBuf {
    sim.write(
        "replies.toml",
        format!(
            r#"name = "replies"
plugin_dir = "{}"

[inputs.people]
type = "list"

[[steps]]
id = "list"
plugin = "echo"
input = {{ value = "listed", records = "${{inputs.people}}" }}

[[steps]]
id = "reply"
plugin = "auto-reply"
for_each = "${{steps.list.records}}"
max_parallel = {MAX_PARALLEL}
input = {{ identities = ["${{item.upn}}"], state = "Enabled", internal_message = "Away" }}

[outputs]
replied = "${{steps.reply.counts.succeeded}}"
"#,
            plugins_dir().display()
        ),
    )
}

/// `exorun workflow ARGS` as the admin app, audited in the case's log.
fn workflow(sim: &Sim, args: &[&str]) -> Command {
    let mut command = workflow_cmd(sim, args);
    command.env("EXORUN_AUDIT_LOG", audit_log(sim));
    command
}

/// `exorun workflow records RUN STEP` as JSON Lines, parsed.
fn step_records(sim: &Sim, id: &str, step: &str) -> Vec<Value> {
    let (ok, out, err) = run(exorun(sim)
        .args([
            "workflow",
            "records",
            id,
            step,
            "--output",
            "jsonl",
            "--runs-dir",
        ])
        .arg(sim.dir.path().join("runs")));
    assert!(ok, "workflow records {step}: {err}");
    out.lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// How many records of `records` have each value of `field`.
fn counted(records: &[Value], field: &str) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for record in records {
        *counts
            .entry(record[field].as_str().unwrap_or_default().to_string())
            .or_default() += 1;
    }
    counts
}

/// The fan-out workflow killed at `at`, restarted to its end, checked.
async fn workflow_case(name: &'static str, at: At) {
    let mut case = Case::new(name, at);
    let sim = start_with(|c| c.scenario.tenants[0].mailboxes = 10).await;
    let (file, policy) = (
        replies_workflow(&sim),
        policy(&sim, &["echo", "auto-reply"]),
    );
    let people = mailboxes(&sim, PEOPLE);
    let input = format!(
        "people={}",
        Value::Array(people.iter().map(|u| json!({ "upn": u })).collect())
    );
    let id = "kill-run";
    let start = || {
        let mut command = workflow(&sim, &["run"]);
        command
            .arg(&file)
            .args(["--input", &input, "--run-id", id, "--policy"])
            .arg(&policy);
        command
    };
    let killed = kill(&sim, &case, start()).await;

    // What was in flight at the kill, as the journal says (nothing if it has no header yet).
    let dir = sim.dir.path().join("runs").join(id);
    let in_flight = JournalState::read(&dir).map_or(0, |state| {
        let mut items: Vec<_> = state.in_flight.iter().map(|(item, _)| item).collect();
        let changes = items.len();
        items.sort();
        items.dedup();
        assert_eq!(
            items.len(),
            changes,
            "one change in flight per item at most"
        );
        changes
    });
    assert!(
        in_flight <= MAX_PARALLEL,
        "{in_flight} changes in flight with {MAX_PARALLEL} items at once"
    );

    // Restarted as an admin would (`workflow resume`) or as a scheduler does (the same
    // command with its --run-id), to the end. A run without its header can only start over.
    let headerless = matches!(
        case.kill,
        Kill::Point {
            name: "journal-created",
            ..
        }
    );
    let by_resume = !headerless && case.rng.bool();
    let mut restart = if by_resume {
        let mut command = workflow(&sim, &["resume", id]);
        command.arg("--policy").arg(&policy);
        command
    } else {
        start()
    };
    let (ok, out, err) = run(&mut restart);
    let how = if by_resume {
        "workflow resume"
    } else {
        "workflow run --run-id"
    };
    assert!(ok, "{how} after the kill failed:\n{out}\n{err}");
    assert!(
        out.contains(&format!("output replied = {PEOPLE}")),
        "{how}: {out}"
    );

    // Every change applied, twice only if it was in flight at the kill.
    let log = sim.requests().await;
    let sets = applied(&log, "Set-MailboxAutoReplyConfiguration");
    assert_eq!(
        sets.keys().cloned().collect::<Vec<_>>(),
        {
            let mut sorted = people.clone();
            sorted.sort();
            sorted
        },
        "every person's change applied"
    );
    let again: usize = sets.values().map(|n| n - 1).sum();
    assert!(
        sets.values().all(|&n| n <= 2) && again <= in_flight,
        "changes applied twice: {again}, with {in_flight} in flight at the kill: {sets:?}"
    );
    let at_kill = applied(&killed.log, "Set-MailboxAutoReplyConfiguration");
    for (identity, n) in &sets {
        assert!(
            *n == 1 || at_kill.contains_key(identity),
            "{identity} was changed twice, and not by the killed process"
        );
    }

    // Every record once.
    assert_once_each(
        &counted(&step_records(&sim, id, "list"), "upn"),
        &people,
        "the list step's records",
    );
    assert_once_each(
        &counted(&step_records(&sim, id, "reply"), "Identity"),
        &people,
        "the reply step's records",
    );

    // The audit log verifies and has every applied change's intent; the journal reads back.
    let records = verified_audit(&sim);
    assert_audit_covers(
        &records,
        "Set-MailboxAutoReplyConfiguration",
        &log,
        MAX_PARALLEL as i64,
    );
    let state = JournalState::read(&dir).unwrap();
    assert_eq!(state.finished, Some(true), "the run ended, succeeded");
    let replied = state
        .ended
        .keys()
        .filter(|item| item.step == "reply" && state.outcome(item) == Some(ItemOutcome::Succeeded))
        .count();
    assert_eq!(
        replied, PEOPLE,
        "every item ended, succeeded, in the journal"
    );
}

/// Declares kill cases, one a line: the test's name, the function that runs the case, where
/// it kills.
macro_rules! cases {
    ($($name:ident: $case:ident, $at:expr;)*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            $case(stringify!($name), $at).await;
        }
    )*};
}

/// How many items the workflow has (the list's one, then one per person), as a hit count.
const ITEMS: u32 = 1 + PEOPLE as u32;
/// The people, as a hit count.
const EACH: u32 = PEOPLE as u32;

cases! {
    // Before the header is written: the journal is empty.
    workflow_killed_with_an_empty_journal: workflow_case, At::Point("journal-created", 1..=1);
    workflow_killed_after_its_header: workflow_case, At::Point("journal-header-written", 1..=1);
    workflow_killed_after_an_item_start: workflow_case, At::Point("journal-item-start-written", 1..=ITEMS);
    workflow_killed_after_a_change_intent_is_journaled: workflow_case, At::Point("journal-intent-written", 1..=EACH);
    workflow_killed_after_a_change_intent_is_synced: workflow_case, At::Point("journal-intent-synced", 1..=EACH);
    // A token's record, then each change's intent.
    workflow_killed_after_an_audit_sync: workflow_case, At::Point("audit-synced", 1..=EACH);
    workflow_killed_just_before_a_change_is_sent: workflow_case, At::Point("change-sending", 1..=EACH);
    workflow_killed_just_after_a_change_is_answered: workflow_case, At::Point("change-answered", 1..=EACH);
    workflow_killed_after_a_change_outcome_is_journaled: workflow_case, At::Point("journal-outcome-written", 1..=EACH);
    // The list's records, then one of each reply.
    workflow_killed_after_a_record_is_written: workflow_case, At::Point("records-written", 1..=2 * EACH);
    // After each item's try, and after each step.
    workflow_killed_after_records_are_flushed: workflow_case, At::Point("records-flushed", 1..=ITEMS + 2);
    // Each item's records on disk, before its end is journaled.
    workflow_killed_after_records_are_synced: workflow_case, At::Point("records-synced", 1..=ITEMS);
    workflow_killed_after_an_item_end: workflow_case, At::Point("journal-item-end-written", 1..=ITEMS);
    workflow_killed_after_the_run_end: workflow_case, At::Point("journal-run-end-written", 1..=1);
    // Tokens, each plugin run's start and end, each change's intent and outcome.
    workflow_killed_after_an_audit_record: workflow_case, At::Point("audit-appended", 1..=4 * EACH);
    // A change applied, its answer lost (each item asks for at least one request).
    workflow_killed_with_a_change_applied_and_its_answer_lost: workflow_case, At::Hold(1..=PEOPLE as u64);
    workflow_killed_with_another_change_applied_and_its_answer_lost: workflow_case, At::Hold(1..=PEOPLE as u64);
}

/// A step whose records overflow the records file's buffer, killed part way: the file is left
/// with a cut last line, and the resumed try's records follow it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workflow_killed_with_its_records_file_cut_mid_line() {
    const RECORDS: u32 = 120;
    let case = Case::new(
        "workflow_killed_with_its_records_file_cut_mid_line",
        // Past the first 8 KiB of records (~200 bytes each), so some have gone to the file,
        // the last of them cut.
        At::Point("records-written", RECORDS / 2..=RECORDS - 1),
    );
    let sim = start_with(|c| c.scenario.tenants[0].mailboxes = 2).await;
    let policy = policy(&sim, &["echo"]);
    let rows: Vec<String> = (0..RECORDS).map(|i| format!("row-{i:03}")).collect();
    let records = Value::Array(
        rows.iter()
            .map(|r| json!({ "name": r, "padding": "x".repeat(150) }))
            .collect(),
    );
    let file = sim.write(
        "list.toml",
        format!(
            "name = \"list\"\nplugin_dir = \"{}\"\n\n[inputs.rows]\ntype = \"list\"\n\n[[steps]]\nid = \"list\"\nplugin = \"echo\"\ninput = {{ records = \"${{inputs.rows}}\" }}\n",
            plugins_dir().display()
        ),
    );
    let mut start = workflow(&sim, &["run"]);
    start
        .arg(&file)
        .args([
            "--input",
            &format!("rows={records}"),
            "--run-id",
            "cut",
            "--policy",
        ])
        .arg(&policy);
    kill(&sim, &case, start).await;
    let mut resume = workflow(&sim, &["resume", "cut"]);
    let (ok, out, err) = run(resume.arg("--policy").arg(&policy));
    assert!(ok, "workflow resume after the kill failed:\n{out}\n{err}");
    assert_once_each(
        &counted(&step_records(&sim, "cut", "list"), "name"),
        &rows,
        "the step's records after the resume",
    );
    verified_audit(&sim);
}

// ---------------------------------------------------------------------------------------------
// `exorun invoke`: one change, and a read of several pages.

/// `exorun invoke Set-Mailbox` killed at `at`, then given again: the change is applied by the
/// second command (and by the first too only if the kill came after it was sent), and the audit
/// log has the intent of every change the service applied.
async fn invoke_change_case(name: &'static str, at: At) {
    let case = Case::new(name, at);
    let sim = start().await;
    let change = [
        "invoke",
        "Set-Mailbox",
        "-Identity",
        "room1",
        "-HiddenFromAddressListsEnabled:true",
    ];
    let mut first = admin(&sim);
    first.args(change);
    let killed = kill(&sim, &case, first).await;
    let at_kill = applied(&killed.log, "Set-Mailbox")
        .get("room1")
        .copied()
        .unwrap_or(0);
    assert!(
        at_kill <= 1,
        "the killed process sent the change {at_kill} times"
    );

    let (ok, out, err) = run(admin(&sim).args(change));
    assert!(ok, "the same invoke after the kill failed:\n{out}\n{err}");
    let log = sim.requests().await;
    assert_eq!(
        applied(&log, "Set-Mailbox"),
        BTreeMap::from([("room1".to_string(), at_kill + 1)]),
        "the change, once by each process that sent it"
    );
    assert_audit_covers(&verified_audit(&sim), "Set-Mailbox", &log, 1);
}

/// `exorun invoke Get-Mailbox` over several pages killed at `at`, then given again: the second
/// writes every row, and the audit log verifies.
async fn invoke_pages_case(name: &'static str, at: At) {
    let case = Case::new(name, at);
    // Four pages of ten at least.
    let sim = start_with(|c| c.scenario.tenants[0].mailboxes = 40).await;
    let every = listed(&sim, &[]);
    let read = [
        "--page-size",
        "10",
        "invoke",
        "Get-Mailbox",
        "-ResultSize",
        "Unlimited",
        "--output",
        "jsonl",
    ];
    let mut first = admin(&sim);
    first.args(read);
    kill(&sim, &case, first).await;
    let (ok, out, err) = run(admin(&sim).args(read));
    assert!(ok, "the same invoke after the kill failed:\n{err}");
    let mut rows = BTreeMap::new();
    for upn in upns(&out) {
        *rows.entry(upn).or_default() += 1;
    }
    assert_once_each(&rows, &every, "the rows of the invoke after the kill");
    verified_audit(&sim);
}

cases! {
    // The token, the change's intent, its outcome.
    invoke_killed_after_an_audit_record: invoke_change_case, At::Point("audit-appended", 1..=3);
    // The token's record, the change's intent.
    invoke_killed_after_an_audit_sync: invoke_change_case, At::Point("audit-synced", 1..=2);
    invoke_killed_just_before_its_change_is_sent: invoke_change_case, At::Point("change-sending", 1..=1);
    invoke_killed_just_after_its_change_is_answered: invoke_change_case, At::Point("change-answered", 1..=1);
    invoke_killed_with_its_change_applied_and_the_answer_lost: invoke_change_case, At::Hold(1..=1);
    // Four pages of ten.
    invoke_killed_after_a_page_of_rows_is_written: invoke_pages_case, At::Point("invoke-rows-written", 1..=3);
    invoke_killed_waiting_for_a_page: invoke_pages_case, At::Hold(1..=3);
}

// ---------------------------------------------------------------------------------------------
// `exorun run auto-reply` (changes) and `exorun run mailbox-inventory` (checkpoints).

/// Mailboxes `exorun run auto-reply` changes.
const IDENTITIES: usize = 4;

/// `exorun run auto-reply` for four mailboxes killed at `at`, then run again to its end. `run`
/// keeps no change journal, so the second run sends each change again: what is checked is
/// that every mailbox has its change, that every change the service applied is in the audit
/// log as an intent, and that the killed run left at most its one change in flight without an
/// outcome.
async fn run_case(name: &'static str, at: At) {
    let case = Case::new(name, at);
    let sim = start_with(|c| c.scenario.tenants[0].mailboxes = 8).await;
    let policy = policy(&sim, &["auto-reply"]);
    let identities = mailboxes(&sim, IDENTITIES);
    let input = json!({ "identities": identities, "state": "Enabled" }).to_string();
    let command = || {
        let mut command = admin(&sim);
        command
            .arg("run")
            .arg(artifact("auto-reply"))
            .args(["--input", &input, "--output", "jsonl", "--policy"])
            .arg(&policy)
            .arg("--cache-dir")
            .arg(Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-plugin-cache"))
            .arg("--checkpoint-dir")
            .arg(sim.dir.path().join("checkpoints"));
        command
    };
    let killed = kill(&sim, &case, command()).await;
    let at_kill: usize = applied(&killed.log, "Set-MailboxAutoReplyConfiguration")
        .values()
        .sum();

    let (ok, out, err) = run(&mut command());
    assert!(ok, "the same run after the kill failed:\n{out}\n{err}");
    let log = sim.requests().await;
    let sets = applied(&log, "Set-MailboxAutoReplyConfiguration");
    assert_eq!(
        sets.len(),
        IDENTITIES,
        "every mailbox has its change: {sets:?}"
    );
    assert_eq!(
        sets.values().sum::<usize>(),
        at_kill + IDENTITIES,
        "the killed run's changes, then every change again: {sets:?}"
    );
    assert_once_each(
        &counted(
            &out.lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect::<Vec<Value>>(),
            "Identity",
        ),
        &identities,
        "the second run's records",
    );
    assert_audit_covers(
        &verified_audit(&sim),
        "Set-MailboxAutoReplyConfiguration",
        &log,
        1,
    );
}

/// Mailboxes in the inventory's tenant (most of them user mailboxes, listed five a page).
const INVENTORY: usize = 20;

/// `exorun run mailbox-inventory`, five mailboxes a page, killed at `at` around a checkpoint,
/// then run again: the second run goes on from the checkpoint, so the two outputs hold every
/// mailbox once — or, killed before the checkpoint replaced the one before, one page twice.
async fn checkpoint_case(name: &'static str, at: At) {
    let case = Case::new(name, at);
    let sim = start_with(|c| c.scenario.tenants[0].mailboxes = INVENTORY).await;
    let policy = policy(&sim, &["mailbox-inventory"]);
    let every = listed(&sim, &["-RecipientTypeDetails", "UserMailbox"]);
    let command = || {
        let mut command = admin(&sim);
        command
            .args(["--page-size", "5", "run"])
            .arg(artifact("mailbox-inventory"))
            .args([
                "--input",
                r#"{"statistics": false, "recipient_type_details": "UserMailbox"}"#,
                "--output",
                "jsonl",
                "--policy",
            ])
            .arg(&policy)
            .arg("--cache-dir")
            .arg(Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-plugin-cache"))
            .arg("--checkpoint-dir")
            .arg(sim.dir.path().join("checkpoints"));
        command
    };
    let killed = kill(&sim, &case, command()).await;
    let (ok, out, err) = run(&mut command());
    assert!(ok, "the same run after the kill failed:\n{out}\n{err}");
    let rows: Vec<Value> = killed
        .stdout
        .lines()
        .chain(out.lines())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let listed = counted(&rows, "UserPrincipalName");
    assert_eq!(
        listed.keys().collect::<BTreeSet<_>>(),
        every.iter().collect::<BTreeSet<_>>(),
        "every mailbox listed by one run or the other"
    );
    let twice = listed.values().filter(|&&n| n > 1).count();
    let most = match case.kill {
        Kill::Point {
            name: "checkpoint-saved",
            ..
        } => 0,
        _ => 5,
    };
    assert!(
        listed.values().all(|&n| n <= 2) && twice <= most,
        "{twice} mailboxes listed twice (at most {most}): {listed:?}"
    );
    verified_audit(&sim);
}

cases! {
    // The token, the run's start, each change's intent and outcome.
    run_killed_after_an_audit_record: run_case, At::Point("audit-appended", 1..=2 + 2 * IDENTITIES as u32);
    // The token's record, then each change's intent.
    run_killed_after_an_audit_sync: run_case, At::Point("audit-synced", 1..=IDENTITIES as u32);
    run_killed_just_before_a_change_is_sent: run_case, At::Point("change-sending", 1..=IDENTITIES as u32);
    run_killed_just_after_a_change_is_answered: run_case, At::Point("change-answered", 1..=IDENTITIES as u32);
    run_killed_with_a_change_applied_and_its_answer_lost: run_case, At::Hold(1..=IDENTITIES as u64);
    // Four pages, a checkpoint after each.
    run_killed_before_a_checkpoint_replaces_the_last: checkpoint_case, At::Point("checkpoint-written", 1..=3);
    run_killed_after_a_checkpoint_is_saved: checkpoint_case, At::Point("checkpoint-saved", 1..=3);
}
