//! Whole workflow files read into a [`Workflow`], and used the way the engine will use one.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};

use super::*;

fn parse(text: &str) -> Workflow {
    Workflow::parse(text, Path::new("flows/wf.toml")).unwrap_or_else(|e| panic!("{e}"))
}

/// The problems of a file that does not parse, as printed.
fn problems(text: &str) -> Vec<String> {
    match Workflow::parse(text, Path::new("wf.toml")) {
        Ok(_) => panic!("the workflow parsed"),
        Err(e) => e.to_string().lines().map(str::to_string).collect(),
    }
}

#[test]
fn steps_run_after_what_they_use_wherever_they_are_written() {
    let workflow = parse(
        r#"
name = "order"
[[steps]]
id = "report"
plugin = "mailbox-inventory"
input = { filter = "Name -eq ${opath(steps.lookup.output.name)}" }
needs = ["archive"]

[[steps]]
id = "lookup"
plugin = "mailbox-inventory"

[[steps]]
id = "archive"
plugin = "mailbox-inventory"
when = "steps.lookup.status == 'succeeded' and steps.lookup.records"
"#,
    );
    let ids: Vec<&str> = workflow.steps.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["lookup", "archive", "report"]);
    // Needs given and implied, each once, in run order.
    assert_eq!(
        workflow.step("report").unwrap().needs,
        ["lookup", "archive"]
    );
    assert_eq!(workflow.step("archive").unwrap().needs, ["lookup"]);
    assert!(workflow.step("lookup").unwrap().needs.is_empty());
    assert_eq!(
        workflow.step("report").unwrap().at,
        Location { line: 3, column: 1 }
    );
}

#[test]
fn plugins_are_found_by_name_in_plugin_dir_or_by_path_beside_the_file() {
    let workflow = parse(
        r#"
name = "plugins"
plugin_dir = "../target/plugins"
[[steps]]
id = "by-name"
plugin = "auto-reply"
digest = "SHA256:E58CA4140000000000000000000000000000000000000000000000000000ABCD"
[[steps]]
id = "by-path"
plugin = "./build/../custom.wasm"
[[steps]]
id = "absolute"
plugin = "/opt/exorun/plugins/x.wasm"
"#,
    );
    let plugin = |id: &str| workflow.step(id).unwrap().plugin.clone();
    assert_eq!(
        plugin("by-name").path,
        PathBuf::from("target/plugins/auto-reply.wasm")
    );
    assert_eq!(
        plugin("by-name").digest.as_deref(),
        Some("e58ca4140000000000000000000000000000000000000000000000000000abcd")
    );
    assert_eq!(
        plugin("by-name").at,
        Location {
            line: 6,
            column: 10
        }
    );
    assert_eq!(plugin("by-path").path, PathBuf::from("flows/custom.wasm"));
    assert_eq!(
        plugin("absolute").path,
        PathBuf::from("/opt/exorun/plugins/x.wasm")
    );
    let beside = Workflow::parse(
        "name = \"x\"\n[[steps]]\nid = \"a\"\nplugin = \"p\"\n",
        Path::new("wf.toml"),
    )
    .unwrap();
    assert_eq!(beside.steps[0].plugin.path, PathBuf::from("p.wasm"));
}

#[test]
fn load_looks_at_the_plugin_files_and_parse_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("wf.toml");
    let text = "name = \"x\"\n[[steps]]\nid = \"a\"\nplugin = \"p\"\n";
    std::fs::write(&file, text).unwrap();
    assert!(Workflow::parse(text, &file).is_ok());
    let Err(WorkflowError::Invalid { problems }) = Workflow::load(&file) else {
        panic!("the plugin is missing")
    };
    assert_eq!(problems.len(), 1);
    assert_eq!(
        problems[0].at,
        Location {
            line: 4,
            column: 10
        }
    );
    assert!(problems[0].what.contains("is not at"), "{}", problems[0]);
    std::fs::write(dir.path().join("p.wasm"), b"plugin").unwrap();
    let workflow = Workflow::load(&file).unwrap();
    let digest = crate::signing::content_digest(b"plugin");
    assert!(workflow.steps[0].plugin.admits(&digest));
    let e = Workflow::load(&dir.path().join("nope.toml")).unwrap_err();
    assert!(matches!(e, WorkflowError::Read { .. }), "{e}");
}

#[test]
fn keys_left_out_take_their_defaults() {
    let workflow = parse("name = \"x\"\n[[steps]]\nid = \"a\"\nplugin = \"p\"\n");
    let step = &workflow.steps[0];
    assert_eq!(step.on_error, OnError::FAIL);
    assert!(step.for_each.is_none() && step.when.is_none());
    assert_eq!(step.input, ValueTemplate::Object(Vec::new()));
    assert_eq!(workflow.target, Target::CommandLine);
    assert!(workflow.inputs.is_empty() && workflow.outputs.is_empty());
}

#[test]
fn on_error_reads_its_three_forms() {
    let on_error = |value: &str| {
        let text =
            format!("name = \"x\"\n[[steps]]\nid = \"a\"\nplugin = \"p\"\non_error = {value}\n");
        parse(&text).steps[0].on_error
    };
    assert_eq!(on_error("\"fail\""), OnError::FAIL);
    assert_eq!(on_error("\"continue\"").then, Then::Continue);
    assert_eq!(
        on_error("{ retry = 3, backoff = \"1m30s\", then = \"continue\" }"),
        OnError {
            retries: 3,
            backoff: Duration::from_secs(90),
            then: Then::Continue
        }
    );
    assert_eq!(
        on_error("{ retry = 2 }"),
        OnError {
            retries: 2,
            ..OnError::FAIL
        }
    );
    let wrong = problems(
        "name = \"x\"\n[[steps]]\nid = \"a\"\nplugin = \"p\"\non_error = { retry = 0, then = \"stop\" }\n",
    );
    assert_eq!(
        wrong,
        [
            "wf.toml:5:22: error: retry must be a whole number from 1 to 100; e.g. retry = 3 (retries after the first attempt)",
            "wf.toml:5:32: error: 'stop' is neither \"fail\" nor \"continue\"; write \"fail\", \"continue\" or { retry = 3, backoff = \"2s\", then = \"fail\" }",
        ]
    );
}

/// A workflow as the engine sees it while it runs: inputs bound from the command line, a
/// fan-out's items, a condition per item, an input rendered per item.
#[test]
fn an_engine_gets_items_conditions_and_inputs_from_a_context() {
    let workflow = parse(
        r#"
name = "shared-mailboxes"
tenants = ["contoso", "fabrikam"]

[inputs.max]
type = "integer"
default = 10
[inputs.kinds]
type = "list"

[[steps]]
id = "list"
plugin = "mailbox-inventory"
for_each = { partition = "first-character", property = "Name" }
max_parallel = 8
input = { filter = "(${item.filter}) -and RecipientTypeDetails -eq 'SharedMailbox'", size = "${inputs.max}" }
config = { note = "${tenant}: ${inputs.max}" }

[[steps]]
id = "audit"
plugin = "mailbox-permission-audit"
for_each = "${steps.list.records}"
when = "item.Size > inputs.max and not run.dry_run"
input = { identities = ["${item.Name}"] }

[outputs]
audited = "${steps.audit.items}"
"#,
    );
    assert_eq!(
        workflow.target.profiles(),
        [Some("contoso"), Some("fabrikam")]
    );
    let inputs = workflow
        .inputs
        .bind(&[("kinds".into(), "Shared,Room".into())])
        .unwrap();
    assert_eq!(
        Value::Object(inputs.clone()),
        json!({"max": 10, "kinds": ["Shared", "Room"]})
    );
    let mut context = json!({
        "inputs": inputs,
        "steps": {},
        "tenant": "contoso",
        "run": {"id": "r1", "dry_run": false},
    });
    let list = workflow.step("list").unwrap();
    let fan_out = list.for_each.as_ref().unwrap();
    assert_eq!(fan_out.max_parallel, 8);
    let items = fan_out.items(&context).unwrap();
    assert_eq!(items.len(), 37);
    context["item"] = items[0].clone();
    assert_eq!(
        list.input.render(&context).unwrap(),
        json!({"filter": "(Name -like 'a*') -and RecipientTypeDetails -eq 'SharedMailbox'", "size": 10})
    );
    assert_eq!(
        list.config[0].1.render_text(&context).unwrap(),
        "contoso: 10"
    );
    context["steps"] = json!({"list": {"status": "succeeded", "output": [], "records": [
        {"Name": "big", "Size": 50}, {"Name": "small", "Size": 1}
    ], "items": []}});
    let audit = workflow.step("audit").unwrap();
    let items = audit.for_each.as_ref().unwrap().items(&context).unwrap();
    let when = audit.when.as_ref().unwrap();
    let mut run = Vec::new();
    for item in items {
        context["item"] = item;
        if when.holds(&context).unwrap() {
            run.push(audit.input.render(&context).unwrap());
        }
    }
    assert_eq!(run, [json!({"identities": ["big"]})]);
    // A mistake found while running names the path and what was there.
    context["item"] = json!({"Name": "x"});
    assert_eq!(
        when.holds(&context).unwrap_err().to_string(),
        "item has no field 'Size' (it has: Name)"
    );
    assert_eq!(
        when.template().location(),
        Some(Location {
            line: 23,
            column: 8
        })
    );
}

#[test]
fn errors_in_multi_line_strings_point_into_the_file() {
    let lines = problems(
        "name = \"x\"\n[[steps]]\nid = \"a\"\nplugin = \"p\"\nwhen = \"\"\"\n  inputs.x and\n  steps.a.output\"\"\"\n",
    );
    assert_eq!(
        lines,
        [
            "wf.toml:6:10: error: inputs.x is not a declared input; declare it in an [inputs.x] table",
            "wf.toml:7:9: error: step 'a' cannot use its own results; a step sees only the steps that run before it: use them in a later step",
        ]
    );
}

#[test]
fn synonyms_of_keys_from_other_tools_find_the_key() {
    let lines =
        problems("name = \"x\"\n[[steps]]\nid = \"a\"\nplugin = \"p\"\ndepends_on = [\"b\"]\n");
    assert_eq!(
        lines,
        ["wf.toml:5:1: error: unknown key 'depends_on'; did you mean 'needs'?"]
    );
    let lines = problems("name = \"x\"\ncolour = 1\n[[steps]]\nid = \"a\"\nplugin = \"p\"\n");
    assert_eq!(
        lines,
        [
            "wf.toml:2:1: error: unknown key 'colour'; the keys here are: name, description, plugin_dir, profile, tenants, inputs, steps, outputs, report"
        ]
    );
}

#[test]
fn a_step_needing_itself_is_said_once() {
    let lines = problems("name = \"x\"\n[[steps]]\nid = \"a\"\nplugin = \"p\"\nneeds = [\"a\"]\n");
    assert_eq!(
        lines,
        ["wf.toml:5:10: error: step 'a' needs itself; remove it from needs"]
    );
}

/// Any text, however broken, gives a workflow or problems: every prefix of a rich file, and the
/// file with a troublesome character put at every place.
#[test]
fn broken_files_never_panic() {
    let text = r#"name = "x"
[inputs.user]
type = "string"
default = "é"
[[steps]]
id = "a"
plugin = "p"
when = "${inputs.user == 'a\\'b' and not (steps.b.status != \"x\")}"
for_each = { partition = "range", property = "Name", bounds = ["g", "n"] }
input = { f = """
  ${item.filter} \
  $${x} ${ item["k"][0] }""", n = [1, 2.5, true] }
on_error = { retry = 2, backoff = "1m30s", then = "continue" }
[[steps]]
id = "b"
plugin = "../q.wasm"
[outputs]
o = "${steps.a.items}"
"#;
    let origin = Path::new("wf.toml");
    for (end, _) in text.char_indices() {
        let _ = Workflow::parse(&text[..end], origin);
    }
    for (at, _) in text.char_indices() {
        for c in [
            '$', '{', '}', '"', '\'', '\\', '[', ']', '(', '!', '=', '<', '-', '.', 'é', '\n',
        ] {
            let mut broken = text.to_string();
            broken.insert(at, c);
            let _ = Workflow::parse(&broken, origin);
        }
    }
    if let Err(e) = Workflow::parse(text, origin) {
        panic!("{e}");
    }
}
