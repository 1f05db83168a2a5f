//! Reading a workflow file into a checked [`Workflow`]: every problem found is kept with its
//! place in the file, so one run shows them all.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::Value;
use toml::Spanned;

use super::check::{self, Known, KnownStep, Place};
use super::error::{Location, Problem, Warning, WorkflowError};
use super::file::{self, InputTable, Node, NodeValue, Ordered, WorkflowFile};
use super::inputs::{InputDecl, InputType, Inputs};
use super::lint::{self, Severity};
use super::order::{Edge, explain, order};
use super::plugin::normalize;
use super::source::offset_in_string;
use super::spec::{Step, Target, Workflow};
use super::step;
use super::suggest::closest;
use super::template::{Condition, Template, ValueTemplate};

impl Workflow {
    /// Reads and checks the workflow file at `path`, including that each step's plugin file is
    /// there and matches its pinned digest.
    pub fn load(path: &Path) -> Result<Workflow, WorkflowError> {
        let text = crate::text::read(path).map_err(|e| WorkflowError::Read {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        build(&text, path, true)
    }

    /// Checks a workflow's text as if read from `origin` (which names it in messages and
    /// anchors its relative paths). Plugin files are resolved but not looked at: [`Workflow::load`]
    /// does that.
    pub fn parse(text: &str, origin: &Path) -> Result<Workflow, WorkflowError> {
        build(text, origin, false)
    }
}

/// A step's use of another step's results, found in one of its templates.
pub(super) struct Use {
    /// The step used.
    pub step: String,
    /// Byte offset of the reference in the file.
    pub at: usize,
    /// The reference as written (`steps.lookup.output.found`).
    pub path: String,
}

/// The state of one reading: the text, where it is, and the problems found so far.
pub(super) struct Loader<'a> {
    /// The file's text.
    pub text: &'a str,
    /// The file, as named in messages.
    pub file: String,
    /// The file's directory, which relative paths start from.
    pub dir: PathBuf,
    /// Whether to look at plugin files.
    pub check_files: bool,
    /// Content digests of plugin files already read.
    pub digests: HashMap<PathBuf, Result<String, String>>,
    problems: Vec<(usize, String, String)>,
    warnings: Vec<(usize, String, String)>,
}

impl Loader<'_> {
    /// Records a problem at byte offset `at`.
    pub fn problem(&mut self, at: usize, what: impl Into<String>, fix: impl Into<String>) {
        self.problems.push((at, what.into(), fix.into()));
    }

    /// Checks the `${…}`s of `template`, the value of filter field `key` of `step` in the
    /// string that starts at `start` (see [`lint`]): its errors are problems, its warnings kept
    /// for `workflow check`.
    pub fn filter(&mut self, step: KnownStep<'_>, key: &str, template: &Template, start: usize) {
        for finding in lint::check_filter(key, template, step.partitioned) {
            let at = offset_in_string(self.text, start, finding.at);
            let entry = (at, finding.what, finding.fix);
            match finding.severity {
                Severity::Error => self.problems.push(entry),
                Severity::Warning => self.warnings.push(entry),
            }
        }
    }

    /// The location of byte offset `at`.
    pub fn location(&self, at: usize) -> Location {
        Location::of(self.text, at)
    }

    /// Parses the template in the string value that starts at `start`; reports its syntax
    /// errors and the names it may not use, and records the steps it uses in `uses`.
    pub fn template(
        &mut self,
        value: &str,
        start: usize,
        place: Place<'_>,
        known: &Known<'_>,
        uses: &mut Vec<Use>,
    ) -> Option<Template> {
        match Template::parse(value) {
            Ok(template) => {
                self.check_paths(&template, start, place, known, uses);
                Some(template.located(self.location(start)))
            }
            Err(e) => {
                self.problem(offset_in_string(self.text, start, e.at), e.what, e.fix);
                None
            }
        }
    }

    /// Parses a `when` condition like [`Loader::template`].
    pub fn condition(
        &mut self,
        value: &Spanned<String>,
        place: Place<'_>,
        known: &Known<'_>,
        uses: &mut Vec<Use>,
    ) -> Option<Condition> {
        let start = value.span().start;
        match Condition::parse(value.get_ref()) {
            Ok(condition) => {
                self.check_paths(condition.template(), start, place, known, uses);
                Some(condition.located(self.location(start)))
            }
            Err(e) => {
                self.problem(offset_in_string(self.text, start, e.at), e.what, e.fix);
                None
            }
        }
    }

    fn check_paths(
        &mut self,
        template: &Template,
        start: usize,
        place: Place<'_>,
        known: &Known<'_>,
        uses: &mut Vec<Use>,
    ) {
        for path in template.paths() {
            match check::check(path, place, known) {
                Ok(Some(step)) => uses.push(Use {
                    step,
                    at: offset_in_string(self.text, start, path.root_span.start),
                    path: path.to_string(),
                }),
                Ok(None) => {}
                Err(fault) => self.problem(
                    offset_in_string(self.text, start, fault.span.start),
                    fault.what,
                    fault.fix,
                ),
            }
        }
    }

    /// A value whose strings are templates.
    pub fn value_template(
        &mut self,
        node: &Node,
        place: Place<'_>,
        known: &Known<'_>,
        uses: &mut Vec<Use>,
    ) -> ValueTemplate {
        let start = node.0.span().start;
        match node.0.get_ref() {
            NodeValue::Text(text) => self
                .template(text, start, place, known, uses)
                .map_or(ValueTemplate::Literal(Value::Null), ValueTemplate::Text),
            NodeValue::List(items) => ValueTemplate::List(
                items
                    .iter()
                    .map(|item| self.value_template(item, place, known, uses))
                    .collect(),
            ),
            NodeValue::Table(fields) => ValueTemplate::Object(
                fields
                    .iter()
                    .map(|(key, value)| {
                        let template = self.value_template(value, place, known, uses);
                        if let (Place::Step(step), ValueTemplate::Text(text)) = (place, &template)
                            && lint::is_filter_field(key)
                        {
                            self.filter(step, key, text, value.0.span().start);
                        }
                        (key.clone(), template)
                    })
                    .collect(),
            ),
            _ => ValueTemplate::Literal(self.literal(node)),
        }
    }

    /// A value taken as is (strings are not templates).
    pub fn literal(&mut self, node: &Node) -> Value {
        match node.0.get_ref() {
            NodeValue::Text(text) | NodeValue::Datetime(text) => Value::String(text.clone()),
            NodeValue::Integer(i) => Value::from(*i),
            NodeValue::Float(f) => match serde_json::Number::from_f64(*f) {
                Some(n) => Value::Number(n),
                None => {
                    self.problem(
                        node.0.span().start,
                        format!("{f} is not a number a plugin can be given"),
                        "write a finite number",
                    );
                    Value::Null
                }
            },
            NodeValue::Boolean(b) => Value::Bool(*b),
            NodeValue::List(items) => Value::Array(items.iter().map(|i| self.literal(i)).collect()),
            NodeValue::Table(fields) => Value::Object(
                fields
                    .iter()
                    .map(|(k, v)| (k.clone(), self.literal(v)))
                    .collect(),
            ),
        }
    }

    /// Whether `name` is an id expressions can name (a letter, then letters, digits, `-`,
    /// `_`); reports it if not.
    pub fn identifier(&mut self, name: &Spanned<String>, what: &str) -> bool {
        let text = name.get_ref();
        let ok = text.starts_with(|c: char| c.is_ascii_alphabetic())
            && text
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !ok {
            self.problem(
                name.span().start,
                format!("{what} '{text}' must start with a letter and hold only letters, digits, '-' and '_'"),
                "expressions name it by this id, e.g. steps.lookup.output",
            );
        }
        ok
    }
}

/// Reads the text into a workflow, or every problem found.
fn build(text: &str, origin: &Path, check_files: bool) -> Result<Workflow, WorkflowError> {
    let file = origin.display().to_string();
    let raw: WorkflowFile = toml::from_str(text).map_err(|e| WorkflowError::Invalid {
        problems: vec![file::problem(text, &file, &e)],
    })?;
    let dir = origin
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf();
    let mut loader = Loader {
        text,
        file,
        dir,
        check_files,
        digests: HashMap::new(),
        problems: Vec::new(),
        warnings: Vec::new(),
    };
    let l = &mut loader;
    name(l, &raw.name);
    let target = target(l, &raw);
    let inputs = inputs(l, &raw.inputs);
    let known_steps: Vec<KnownStep<'_>> = raw
        .steps
        .iter()
        .map(|s| KnownStep::of(s.get_ref()))
        .collect();
    let known = Known {
        inputs: &inputs,
        steps: &known_steps,
    };
    let (steps, edges) = steps(l, &raw, &known);
    let outputs = outputs(l, &raw.outputs, &known);
    let ids: Vec<&str> = known_steps.iter().map(|s| s.id).collect();
    if let Some(report) = &raw.report
        && let Err(error) = report.get_ref().check_steps(&ids)
    {
        l.problem(report.span().start, error.to_string(), String::new());
    }
    let run_order = match order(steps.len(), &edges) {
        Ok(run_order) => run_order,
        Err(cycle) => {
            let (at, what, fix) = explain(&cycle, &edges, &ids);
            l.problem(at, what, fix);
            Vec::new()
        }
    };
    if !loader.problems.is_empty() {
        return Err(loader.into_error());
    }
    Ok(Workflow {
        name: raw.name.get_ref().clone(),
        description: raw.description.clone(),
        file: loader.file.clone(),
        target,
        inputs,
        steps: in_run_order(steps, &edges, &run_order, &ids),
        outputs,
        report: raw.report.as_ref().map(|r| r.get_ref().clone()),
        warnings: loader.warnings(),
    })
}

/// Checks the workflow's name.
fn name(l: &mut Loader<'_>, name: &Spanned<String>) {
    let text = name.get_ref();
    if text.is_empty()
        || !text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        l.problem(
            name.span().start,
            format!("the workflow's name '{text}' must be letters, digits, '-' and '_'"),
            "e.g. name = \"offboard-user\"",
        );
    }
}

/// The steps in file order, and what each needs (given in `needs` or used in a template).
fn steps(l: &mut Loader<'_>, raw: &WorkflowFile, known: &Known<'_>) -> (Vec<Step>, Vec<Edge>) {
    if raw.steps.is_empty() {
        l.problem(
            0,
            "the workflow has no steps",
            "add a [[steps]] table with an id and a plugin",
        );
    }
    let plugin_dir = match &raw.plugin_dir {
        Some(dir) => normalize(&l.dir.join(dir.get_ref())),
        None => l.dir.clone(),
    };
    let index_of = |id: &str| known.steps.iter().position(|s| s.id == id);
    let mut edges = Vec::new();
    let mut steps = Vec::new();
    for (index, table) in raw.steps.iter().enumerate() {
        let id = &table.get_ref().id;
        if l.identifier(id, "step id")
            && let Some(first) = index_of(id.get_ref()).filter(|&first| first < index)
        {
            let first_at = l.location(raw.steps[first].get_ref().id.span().start);
            l.problem(
                id.span().start,
                format!(
                    "step id '{}' is used twice (first at line {})",
                    id.get_ref(),
                    first_at.line
                ),
                "give each step its own id",
            );
        }
        let (step, uses) = step::build(l, table, known, &plugin_dir, raw.plugin_dir.as_ref());
        let mut wanted: Vec<(String, usize, Option<String>)> = table
            .get_ref()
            .needs
            .iter()
            .map(|need| (need.get_ref().clone(), need.span().start, None))
            .collect();
        wanted.extend(uses.into_iter().map(|u| (u.step, u.at, Some(u.path))));
        for (wanted, at, uses) in wanted {
            // Unknown steps and a step needing itself were reported where they are written.
            if let Some(to) = index_of(&wanted).filter(|&to| to != index) {
                edges.push(Edge {
                    from: index,
                    to,
                    at,
                    uses,
                });
            }
        }
        steps.push(step);
    }
    (steps, edges)
}

/// The steps (in file order) in `run_order`, each with what it needs, in run order.
fn in_run_order(steps: Vec<Step>, edges: &[Edge], run_order: &[usize], ids: &[&str]) -> Vec<Step> {
    let mut position = vec![0; steps.len()];
    for (at, &index) in run_order.iter().enumerate() {
        position[index] = at;
    }
    let mut needs: Vec<Vec<usize>> = vec![Vec::new(); steps.len()];
    for edge in edges {
        needs[edge.from].push(edge.to);
    }
    let mut slots: Vec<Option<Step>> = steps.into_iter().map(Some).collect();
    let mut ordered = Vec::with_capacity(slots.len());
    for &index in run_order {
        let Some(mut step) = slots[index].take() else {
            continue;
        };
        let mut before = std::mem::take(&mut needs[index]);
        before.sort_by_key(|&i| position[i]);
        before.dedup();
        step.needs = before.iter().map(|&i| ids[i].to_string()).collect();
        ordered.push(step);
    }
    ordered
}

impl Loader<'_> {
    /// The warnings, in file order.
    fn warnings(&self) -> Vec<Warning> {
        let mut warnings = self.warnings.clone();
        warnings.sort_by_key(|(at, _, _)| *at);
        warnings.dedup();
        warnings
            .into_iter()
            .map(|(at, what, fix)| Warning {
                file: self.file.clone(),
                at: Location::of(self.text, at),
                what,
                fix,
            })
            .collect()
    }

    /// The problems, in file order, as an error.
    fn into_error(self) -> WorkflowError {
        let mut problems: Vec<(usize, String, String)> = self.problems;
        problems.sort_by_key(|(at, _, _)| *at);
        problems.dedup();
        WorkflowError::Invalid {
            problems: problems
                .into_iter()
                .map(|(at, what, fix)| Problem {
                    file: self.file.clone(),
                    at: Location::of(self.text, at),
                    what,
                    fix,
                })
                .collect(),
        }
    }
}

/// `profile`, `tenants`, or neither.
fn target(l: &mut Loader<'_>, raw: &WorkflowFile) -> Target {
    match (&raw.profile, &raw.tenants) {
        (Some(_), Some(tenants)) => {
            l.problem(
                tenants.span().start,
                "both profile and tenants are set",
                "keep profile for one tenant, or tenants for several",
            );
            Target::CommandLine
        }
        (Some(profile), None) => {
            if profile.get_ref().trim().is_empty() {
                l.problem(
                    profile.span().start,
                    "profile is empty",
                    "name a profile of the config file, or remove the key",
                );
            }
            Target::Profile(profile.get_ref().clone())
        }
        (None, Some(tenants)) => {
            if tenants.get_ref().is_empty() {
                l.problem(tenants.span().start, "tenants is empty", "name the config profiles to run against, e.g. tenants = [\"contoso\", \"fabrikam\"]");
            }
            let mut names: Vec<String> = Vec::new();
            for tenant in tenants.get_ref() {
                let name = tenant.get_ref();
                if name.trim().is_empty() {
                    l.problem(
                        tenant.span().start,
                        "a tenant's profile name is empty",
                        "name a profile of the config file",
                    );
                } else if names.contains(name) {
                    l.problem(
                        tenant.span().start,
                        format!("tenant '{name}' is listed twice"),
                        "list each profile once",
                    );
                }
                names.push(name.clone());
            }
            Target::Tenants(names)
        }
        (None, None) => Target::CommandLine,
    }
}

/// The `[inputs.NAME]` tables.
fn inputs(l: &mut Loader<'_>, raw: &Ordered<Spanned<InputTable>>) -> Inputs {
    let mut decls = Vec::new();
    for (name, table) in &raw.0 {
        l.identifier(name, "input name");
        let input = table.get_ref();
        let kind = match InputType::named(input.kind.get_ref()) {
            Some(kind) => kind,
            None => {
                let written = input.kind.get_ref();
                let names = InputType::ALL.map(|(n, _)| n);
                l.problem(
                    input.kind.span().start,
                    format!("'{written}' is not an input type"),
                    match InputType::meant_by(written)
                        .map(InputType::name)
                        .or_else(|| closest(written, names))
                    {
                        Some(near) => format!("did you mean '{near}'?"),
                        None => format!("use {}", names.join(", ")),
                    },
                );
                InputType::String
            }
        };
        let default = input.default.as_ref().map(|node| {
            let value = l.literal(node);
            if !kind.accepts(&value) {
                l.problem(
                    node.0.span().start,
                    format!(
                        "the default of input '{}' is {}, not {} {kind}",
                        name.get_ref(),
                        node.0.get_ref().kind(),
                        kind.article()
                    ),
                    format!(
                        "write {} {kind}, or remove default to make the input required",
                        kind.article()
                    ),
                );
            }
            value
        });
        decls.push(InputDecl {
            name: name.get_ref().clone(),
            kind,
            description: input.description.clone(),
            default,
            at: l.location(name.span().start),
        });
    }
    Inputs(decls)
}

/// The `[outputs]` table.
fn outputs(
    l: &mut Loader<'_>,
    raw: &Ordered<Node>,
    known: &Known<'_>,
) -> Vec<(String, ValueTemplate)> {
    let mut uses = Vec::new();
    raw.0
        .iter()
        .map(|(name, node)| {
            l.identifier(name, "output name");
            (
                name.get_ref().clone(),
                l.value_template(node, Place::Outputs, known, &mut uses),
            )
        })
        .collect()
}
