//! What a killed process or a lost machine leaves in a run's directory, and what the next
//! attempt makes of it: a records file whose last line is cut (every record read back once
//! after a resume), and a journal whose header never reached the disk (listed, refused by
//! `resume` with what to do, started over by `run --run-id`).

use std::fs::OpenOptions;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::cli::{exorun, policy, run};
use crate::support::{Sim, start_with};
use crate::workflow_run::{plugins_dir, workflow_cmd};

/// A workflow that lists people (echo) and, for each, emits them again as a record (echo),
/// two at once: a fan-out whose records file gets one line per item.
fn workflow(sim: &Sim) -> PathBuf {
    sim.write(
        "people.toml",
        format!(
            r#"name = "people"
description = "Each person, one record an item"
plugin_dir = "{}"

[inputs.people]
type = "list"
description = "objects with an upn"

[[steps]]
id = "list"
plugin = "echo"
input = {{ value = "listed", records = "${{inputs.people}}" }}

[[steps]]
id = "each"
plugin = "echo"
for_each = "${{steps.list.records}}"
max_parallel = 2
input = {{ value = "${{item.upn}}", records = ["${{item}}"] }}

[outputs]
each = "${{steps.each.counts.succeeded}}"
"#,
            plugins_dir().display()
        ),
    )
}

fn people(n: usize) -> (Vec<String>, String) {
    let upns: Vec<String> = (0..n).map(|i| format!("p{i}@contoso.com")).collect();
    let list = Value::Array(upns.iter().map(|u| json!({"upn": u})).collect());
    (upns, format!("people={list}"))
}

/// `workflow run` of the people workflow under the run id `id`.
fn run_named(sim: &Sim, file: &Path, input: &str, id: &str) -> (bool, String, String) {
    run(workflow_cmd(sim, &["run"])
        .arg(file)
        .args(["--input", input, "--run-id", id, "--policy"])
        .arg(policy(sim, &["echo"])))
}

/// The upns of step `each`'s records as `workflow records` gives them back, sorted.
fn records_of(sim: &Sim, id: &str) -> Vec<String> {
    let (ok, out, err) = run(exorun(sim)
        .args(["workflow", "records", id, "each", "--output", "jsonl"])
        .arg("--runs-dir")
        .arg(sim.dir.path().join("runs")));
    assert!(ok, "{out}\n{err}");
    let mut upns: Vec<String> = out
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["upn"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    upns.sort();
    upns
}

fn run_dir(sim: &Sim, id: &str) -> PathBuf {
    sim.dir.path().join("runs").join(id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_appended_after_a_line_a_kill_cut_is_read_back_once() {
    let sim = start_with(|_| {}).await;
    let file = workflow(&sim);
    let (mut upns, input) = people(6);
    let (ok, out, err) = run_named(&sim, &file, &input, "cut-records");
    assert!(ok, "{out}\n{err}");
    let dir = run_dir(&sim, "cut-records");

    // As a kill leaves it: the last two items of `each` never ended (their ends and the run's
    // end are not in the journal, their records not in the file), and the record being
    // written when it came is cut short.
    let journal = std::fs::read_to_string(dir.join("journal.jsonl")).unwrap();
    let ends: Vec<&str> = journal
        .lines()
        .filter(|l| l.contains(r#""entry":"item-end""#) && l.contains(r#""step":"each""#))
        .collect();
    let undone: Vec<String> = ends[ends.len() - 2..]
        .iter()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["item"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let kept: String = journal
        .lines()
        .filter(|l| !ends[ends.len() - 2..].contains(l) && !l.contains(r#""entry":"run-end""#))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(dir.join("journal.jsonl"), kept).unwrap();
    let records_file = dir.join("records/default/each.jsonl");
    let records = std::fs::read_to_string(&records_file).unwrap();
    let kept: String = records
        .lines()
        .filter(|l| {
            !undone
                .iter()
                .any(|key| l.contains(&format!(r#""item":"{key}""#)))
        })
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&records_file, kept).unwrap();
    let mut cut = OpenOptions::new().append(true).open(&records_file).unwrap();
    cut.write_all(br#"{"item":"x","attempt":1,"record":{"upn":"p9"#)
        .unwrap();
    drop(cut);
    assert_eq!(records_of(&sim, "cut-records").len(), 4);

    let (ok, out, err) = run(workflow_cmd(&sim, &["resume", "cut-records"])
        .arg("--policy")
        .arg(policy(&sim, &["echo"])));
    assert!(ok, "{out}\n{err}");
    assert!(out.contains("output each = 6"), "{out}");
    upns.sort();
    assert_eq!(
        records_of(&sim, "cut-records"),
        upns,
        "every record once, the one appended after the cut line too"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_whose_journal_header_never_reached_the_disk_is_listed_and_started_over() {
    let sim = start_with(|_| {}).await;
    let file = workflow(&sim);
    let (mut upns, input) = people(3);
    upns.sort();
    let header = r#"{"entry":"run","id":"half","workflow":"people","file":"/tmp/people.toml","#;
    for (id, cut) in [("empty", ""), ("half", header)] {
        // A machine lost as the run started: its journal empty or cut in its first line,
        // a record of an item that is not in it.
        let dir = run_dir(&sim, id);
        std::fs::create_dir_all(dir.join("records/default")).unwrap();
        std::fs::write(dir.join("journal.jsonl"), cut).unwrap();
        std::fs::write(
            dir.join("records/default/each.jsonl"),
            "{\"item\":\"k\",\"attempt\":1,\"record\":{\"upn\":\"stale@contoso.com\"}}\n",
        )
        .unwrap();

        let (ok, listed, err) = run(&mut workflow_cmd(&sim, &["runs"]));
        assert!(ok, "{listed}\n{err}");
        let line = listed
            .lines()
            .find(|l| l.starts_with(id))
            .unwrap_or_else(|| panic!("{id} is listed: {listed}"));
        assert!(line.contains("cut at start: run it again"), "{listed}");

        let (ok, out, err) = run(workflow_cmd(&sim, &["resume", id])
            .arg("--policy")
            .arg(policy(&sim, &["echo"])));
        assert!(!ok, "{out}\n{err}");
        let journal = dir.join("journal.jsonl");
        assert!(
            err.contains(&format!(
                "the run journal {} is empty or its first line (the run's header) is cut: run {id} stopped as it started, before anything was recorded, so it cannot be resumed\nfix: start it over with `exorun workflow run FILE --run-id {id}` (the workflow file and inputs it was meant to run with); what its first attempt left is set aside, not reused",
                journal.display()
            )),
            "{err}"
        );

        let (ok, out, err) = run_named(&sim, &file, &input, id);
        assert!(ok, "{out}\n{err}");
        assert!(
            err.contains(&format!("exorun: run {id} stopped as it started, before its journal's header was on disk: starting it over")),
            "{err}"
        );
        assert!(out.contains("output each = 3"), "{out}");
        assert_eq!(records_of(&sim, id), upns, "none of the stale records");
        let aside: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with("set-aside-")
            })
            .collect();
        assert_eq!(aside.len(), 1, "{aside:?}");
        assert_eq!(
            std::fs::read_to_string(aside[0].join("journal.jsonl")).unwrap(),
            cut
        );
        assert!(aside[0].join("records/default/each.jsonl").is_file());

        let (ok, listed, _) = run(&mut workflow_cmd(&sim, &["runs"]));
        assert!(ok);
        let line = listed.lines().find(|l| l.starts_with(id)).unwrap();
        assert!(
            line.contains("people") && line.contains("succeeded"),
            "{listed}"
        );
    }
}
