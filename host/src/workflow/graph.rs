//! A workflow drawn for a terminal: each step under the step it waits for last, with its fan-out,
//! condition and error handling beneath it. A step that needs several steps is drawn once,
//! under the one that finishes last, and says all it needs.

use std::fmt::Write as _;

use super::spec::{ItemSource, OnError, Step, Target, Workflow};
use super::template::ValueTemplate;

/// Draws `workflow`; with `colour`, step ids are bold and details dim (ANSI escapes).
pub fn render(workflow: &Workflow, colour: bool) -> String {
    let paint = Paint(colour);
    let mut out = String::new();
    let _ = write!(out, "{}", paint.bold(&workflow.name));
    if let Some(description) = &workflow.description {
        let _ = write!(out, ": {description}");
    }
    out.push('\n');
    match &workflow.target {
        Target::CommandLine => {}
        Target::Profile(profile) => {
            let _ = writeln!(out, "  profile: {profile}");
        }
        Target::Tenants(tenants) => {
            let _ = writeln!(out, "  tenants: {} (one run each)", tenants.join(", "));
        }
    }
    if !workflow.inputs.is_empty() {
        let inputs: Vec<String> = workflow
            .inputs
            .iter()
            .map(|decl| match &decl.default {
                Some(default) => format!("{} ({}, default {default})", decl.name, decl.kind),
                None => format!("{} ({}, required)", decl.name, decl.kind),
            })
            .collect();
        let _ = writeln!(out, "  inputs: {}", inputs.join(", "));
    }
    if !workflow.outputs.is_empty() {
        let names: Vec<&str> = workflow.outputs.iter().map(|(n, _)| n.as_str()).collect();
        let _ = writeln!(out, "  outputs: {}", names.join(", "));
    }
    out.push('\n');
    let tree = Tree::of(workflow);
    for &root in &tree.roots {
        tree.draw(&mut out, workflow, root, "", None, paint);
    }
    out
}

/// Which step is drawn under which.
struct Tree {
    /// Steps that need nothing, in run order.
    roots: Vec<usize>,
    /// Per step (run order), the steps drawn under it.
    children: Vec<Vec<usize>>,
}

impl Tree {
    fn of(workflow: &Workflow) -> Tree {
        let position = |id: &str| workflow.steps.iter().position(|s| s.id == id);
        let mut roots = Vec::new();
        let mut children = vec![Vec::new(); workflow.steps.len()];
        for (index, step) in workflow.steps.iter().enumerate() {
            // The need that runs last (needs are in run order).
            match step.needs.last().and_then(|id| position(id)) {
                Some(parent) => children[parent].push(index),
                None => roots.push(index),
            }
        }
        Tree { roots, children }
    }

    /// Draws step `index` and what hangs under it; `last` is `None` for a root, else whether it
    /// is its parent's last child.
    fn draw(
        &self,
        out: &mut String,
        workflow: &Workflow,
        index: usize,
        prefix: &str,
        last: Option<bool>,
        paint: Paint,
    ) {
        let step = &workflow.steps[index];
        let (branch, below) = match last {
            None => ("", ""),
            Some(true) => ("└─ ", "   "),
            Some(false) => ("├─ ", "│  "),
        };
        let _ = writeln!(
            out,
            "{prefix}{branch}{} {}",
            paint.bold(&step.id),
            paint.dim(&format!("({})", step.plugin.written))
        );
        let inner = format!("{prefix}{below}");
        let children = &self.children[index];
        let rail = if children.is_empty() { "   " } else { "│  " };
        for detail in details(step) {
            let _ = writeln!(out, "{inner}{rail}{}", paint.dim(&detail));
        }
        for (n, &child) in children.iter().enumerate() {
            self.draw(
                out,
                workflow,
                child,
                &inner,
                Some(n + 1 == children.len()),
                paint,
            );
        }
    }
}

/// The lines under a step: its needs (when several), condition, fan-out, error handling, pin.
fn details(step: &Step) -> Vec<String> {
    let mut lines = Vec::new();
    if step.needs.len() > 1 {
        lines.push(format!("needs: {}", step.needs.join(", ")));
    }
    if let Some(when) = &step.when {
        lines.push(format!("when {}", when.template().source().trim()));
    }
    if let Some(fan_out) = &step.for_each {
        let source = match &fan_out.source {
            ItemSource::Partition(partition) => partition.to_string(),
            ItemSource::Values(ValueTemplate::Text(template)) => template.source().to_string(),
            ItemSource::Values(ValueTemplate::List(items)) => {
                format!("{} listed items", items.len())
            }
            ItemSource::Values(_) => "a list".to_string(),
        };
        lines.push(format!(
            "for_each {source} (max {} at once)",
            fan_out.max_parallel
        ));
    }
    if step.on_error != OnError::FAIL {
        lines.push(format!("on_error: {}", step.on_error));
    }
    if let Some(digest) = &step.plugin.digest {
        lines.push(format!(
            "pinned: sha256:{}…",
            &digest[..digest.len().min(12)]
        ));
    }
    lines
}

/// Terminal styling, or none.
#[derive(Clone, Copy)]
struct Paint(bool);

impl Paint {
    fn bold(self, text: &str) -> String {
        self.wrap("1", text)
    }

    fn dim(self, text: &str) -> String {
        self.wrap("2", text)
    }

    fn wrap(self, code: &str, text: &str) -> String {
        if self.0 {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    const FILE: &str = r#"
name = "offboard-user"
description = "Offboard a leaver"
profile = "contoso"

[inputs.user]
type = "string"
[inputs.notify]
type = "boolean"
default = false

[[steps]]
id = "lookup"
plugin = "mailbox-inventory"

[[steps]]
id = "convert"
plugin = "auto-reply"
when = "inputs.notify and steps.lookup.output.found"
for_each = "${steps.lookup.records}"
max_parallel = 8
on_error = { retry = 3, backoff = "2s", then = "continue" }

[[steps]]
id = "archive"
plugin = "mailbox-inventory"
needs = ["lookup"]
digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

[[steps]]
id = "report"
plugin = "mailbox-inventory"
needs = ["convert", "archive"]

[[steps]]
id = "split"
plugin = "mailbox-inventory"
for_each = { partition = "range", property = "Name", bounds = ["m"] }

[outputs]
converted = "${steps.convert.items}"
"#;

    #[test]
    fn steps_hang_under_what_they_wait_for() {
        let workflow = Workflow::parse(FILE, Path::new("wf.toml")).unwrap();
        let drawn = render(&workflow, false);
        let expected = "\
offboard-user: Offboard a leaver
  profile: contoso
  inputs: user (string, required), notify (boolean, default false)
  outputs: converted

lookup (mailbox-inventory)
├─ convert (auto-reply)
│     when inputs.notify and steps.lookup.output.found
│     for_each ${steps.lookup.records} (max 8 at once)
│     on_error: retry 3 times (after 2s, doubling), then continue
└─ archive (mailbox-inventory)
   │  pinned: sha256:0123456789ab…
   └─ report (mailbox-inventory)
         needs: convert, archive
split (mailbox-inventory)
   for_each Name in ranges split at m (2 streams) (max 4 at once)
";
        assert_eq!(drawn, expected, "\n{drawn}");
        let coloured = render(&workflow, true);
        assert!(coloured.contains("\x1b[1mconvert\x1b[0m"));
    }
}
