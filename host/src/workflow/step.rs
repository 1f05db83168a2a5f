//! Reading one `[[steps]]` table: its plugin, needs, condition, fan-out, error handling, input
//! and config, each checked where it is written.

use std::path::Path;

use toml::Spanned;

use super::check::{Known, KnownStep, Place};
use super::file::{Node, NodeValue, StepTable};
use super::lint;
use super::load::{Loader, Use};
use super::partition::{Partition, PartitionError};
use super::plugin::plugin;
use super::spec::{DEFAULT_MAX_PARALLEL, FanOut, ItemSource, OnError, Step, Then};
use super::suggest::closest;
use super::template::{Template, ValueTemplate};
use crate::duration;

/// Most retries `on_error` may ask for.
const MAX_RETRIES: i64 = 100;

/// The step, and the other steps' results its templates use. A step with problems is still
/// returned (with stand-ins), so that the rest of the file is checked too.
pub(super) fn build(
    l: &mut Loader<'_>,
    table: &Spanned<StepTable>,
    known: &Known<'_>,
    plugin_dir: &Path,
    plugin_dir_written: Option<&Spanned<String>>,
) -> (Step, Vec<Use>) {
    let raw = table.get_ref();
    let id = raw.id.get_ref().as_str();
    let me = KnownStep::of(raw);
    let mut uses = Vec::new();
    for need in &raw.needs {
        needs(l, id, need, known);
    }
    let when = raw
        .when
        .as_ref()
        .and_then(|when| l.condition(when, Place::Step(me), known, &mut uses));
    let source = raw
        .for_each
        .as_ref()
        .and_then(|node| for_each(l, node, id, known, &mut uses));
    let max_parallel = max_parallel(l, raw);
    let on_error = raw
        .on_error
        .as_ref()
        .map_or(OnError::FAIL, |node| on_error(l, node));
    let input = match &raw.input {
        None => ValueTemplate::Object(Vec::new()),
        Some(node) => input(l, node, me, known, &mut uses),
    };
    let config = config(l, raw, me, known, &mut uses);
    let step = Step {
        id: id.to_string(),
        at: l.location(table.span().start),
        plugin: plugin(l, raw, plugin_dir, plugin_dir_written),
        needs: Vec::new(),
        when,
        for_each: source.map(|source| FanOut {
            source,
            max_parallel,
        }),
        on_error,
        input,
        config,
    };
    (step, uses)
}

/// `max_parallel`: at least 1, and only with `for_each`.
fn max_parallel(l: &mut Loader<'_>, raw: &StepTable) -> usize {
    match (&raw.max_parallel, &raw.for_each) {
        (Some(n), Some(_)) if *n.get_ref() < 1 => {
            l.problem(
                n.span().start,
                format!(
                    "max_parallel = {}: at least 1 item must run at once",
                    n.get_ref()
                ),
                "set max_parallel = 1 to run the items one at a time",
            );
            DEFAULT_MAX_PARALLEL
        }
        (Some(n), Some(_)) => usize::try_from(*n.get_ref()).unwrap_or(usize::MAX),
        (Some(n), None) => {
            l.problem(
                n.span().start,
                "max_parallel is only for a step with for_each",
                "remove it, or add for_each to run the step once per item",
            );
            DEFAULT_MAX_PARALLEL
        }
        (None, _) => DEFAULT_MAX_PARALLEL,
    }
}

/// `config`: the plugin's settings, text templates.
fn config(
    l: &mut Loader<'_>,
    raw: &StepTable,
    me: KnownStep<'_>,
    known: &Known<'_>,
    uses: &mut Vec<Use>,
) -> Vec<(String, Template)> {
    raw.config
        .0
        .iter()
        .filter_map(|(key, value)| {
            if key.get_ref().trim().is_empty() {
                l.problem(
                    key.span().start,
                    "a config key is empty",
                    "name the setting, as the plugin's manifest does",
                );
            }
            let template = l.template(
                value.get_ref(),
                value.span().start,
                Place::Step(me),
                known,
                uses,
            )?;
            if lint::is_filter_field(key.get_ref()) {
                l.filter(me, key.get_ref(), &template, value.span().start);
            }
            Some((key.get_ref().clone(), template))
        })
        .collect()
}

/// Checks one `needs` entry.
fn needs(l: &mut Loader<'_>, id: &str, need: &Spanned<String>, known: &Known<'_>) {
    let wanted = need.get_ref();
    if wanted == id {
        l.problem(
            need.span().start,
            format!("step '{id}' needs itself"),
            "remove it from needs",
        );
    } else if !known.steps.iter().any(|s| s.id == wanted) {
        let ids: Vec<&str> = known
            .steps
            .iter()
            .map(|s| s.id)
            .filter(|s| *s != id)
            .collect();
        l.problem(
            need.span().start,
            format!("step '{id}' needs '{wanted}', which is not a step of this workflow"),
            match closest(wanted, ids.iter().copied()) {
                Some(near) => format!("did you mean '{near}'?"),
                None => format!("the other steps are: {}", ids.join(", ")),
            },
        );
    }
}

/// `for_each`: a value that gives a list, or a partition table.
fn for_each(
    l: &mut Loader<'_>,
    node: &Node,
    id: &str,
    known: &Known<'_>,
    uses: &mut Vec<Use>,
) -> Option<ItemSource> {
    let start = node.0.span().start;
    let hint = "write one ${…} that gives a list (for_each = \"${steps.list.records}\"), a list, or a partition ({ partition = \"first-character\", property = \"Name\" })";
    match node.0.get_ref() {
        NodeValue::Table(entries) => partition(l, node, entries).map(ItemSource::Partition),
        NodeValue::Text(text) => {
            let template = l.template(text, start, Place::ForEach(id), known, uses)?;
            if template.single().is_none() {
                l.problem(start, "for_each must give a list, and this is text", hint);
                return None;
            }
            Some(ItemSource::Values(ValueTemplate::Text(template)))
        }
        NodeValue::List(_) => Some(ItemSource::Values(l.value_template(
            node,
            Place::ForEach(id),
            known,
            uses,
        ))),
        other => {
            l.problem(
                start,
                format!("for_each must give a list, and this is {}", other.kind()),
                hint,
            );
            None
        }
    }
}

/// The text of a node, or a problem saying it must be text.
fn text<'n>(l: &mut Loader<'_>, node: &'n Node, key: &str) -> Option<&'n str> {
    match node.0.get_ref() {
        NodeValue::Text(text) => Some(text),
        other => {
            l.problem(
                node.0.span().start,
                format!("{key} must be text, not {}", other.kind()),
                "put it in quotes",
            );
            None
        }
    }
}

/// `{ partition = "first-character" | "range", property = "Name", bounds = [...] }`.
fn partition(l: &mut Loader<'_>, node: &Node, entries: &[(String, Node)]) -> Option<Partition> {
    const KEYS: [&str; 3] = ["partition", "property", "bounds"];
    let (mut kind, mut property, mut bounds) = (None, None, None);
    let mut unknown = false;
    for (key, value) in entries {
        match key.as_str() {
            "partition" => kind = Some(value),
            "property" => property = Some(value),
            "bounds" => bounds = Some(value),
            other => {
                unknown = true;
                l.problem(
                    value.0.span().start,
                    format!("unknown key '{other}' in a partition"),
                    match closest(other, KEYS) {
                        Some(near) => format!("did you mean '{near}'?"),
                        None => "a partition has partition, property and (for range) bounds".into(),
                    },
                );
            }
        }
    }
    let start = node.0.span().start;
    // A key left out is most likely the one misspelt: that was said already.
    let (Some(kind_node), Some(property_node)) = (kind, property) else {
        if !unknown {
            l.problem(
                start,
                "this partition does not say how to split or by which property",
                "write { partition = \"first-character\", property = \"Name\" } (or partition = \"range\" with bounds)",
            );
        }
        return None;
    };
    let kind = text(l, kind_node, "partition")?;
    let property = text(l, property_node, "property")?;
    let made = match kind {
        "first-character" => {
            if let Some(bounds) = bounds {
                l.problem(
                    bounds.0.span().start,
                    "bounds are only for partition = \"range\"",
                    "remove them, or use partition = \"range\"",
                );
            }
            Partition::first_character(property).map_err(|e| (property_node.0.span().start, e))
        }
        "range" => {
            let Some(bounds_node) = bounds else {
                l.problem(
                    start,
                    "a range partition needs bounds",
                    "add bounds = [\"g\", \"n\", \"t\"] (where the ranges split)",
                );
                return None;
            };
            let NodeValue::List(items) = bounds_node.0.get_ref() else {
                l.problem(
                    bounds_node.0.span().start,
                    "bounds must be a list of text",
                    "e.g. bounds = [\"g\", \"n\", \"t\"]",
                );
                return None;
            };
            let mut texts = Vec::new();
            for item in items {
                texts.push(text(l, item, "each bound")?.to_string());
            }
            Partition::range(property, &texts).map_err(|e| {
                let at = match &e {
                    PartitionError::Order { position, .. } | PartitionError::Empty { position } => {
                        items.get(position - 1).map_or(start, |i| i.0.span().start)
                    }
                    PartitionError::NoBounds => bounds_node.0.span().start,
                    PartitionError::Property { .. } => property_node.0.span().start,
                };
                (at, e)
            })
        }
        other => {
            l.problem(
                kind_node.0.span().start,
                format!("'{other}' is not a partition"),
                match closest(other, ["first-character", "range"]) {
                    Some(near) => format!("did you mean '{near}'?"),
                    None => "use partition = \"first-character\" or \"range\"".into(),
                },
            );
            return None;
        }
    };
    made.map_err(|(at, e)| l.problem(at, e.to_string(), ""))
        .ok()
}

/// `on_error`: `"fail"`, `"continue"`, or `{ retry = N, backoff = "2s", then = "fail" }`.
fn on_error(l: &mut Loader<'_>, node: &Node) -> OnError {
    let start = node.0.span().start;
    let hint = "write \"fail\", \"continue\" or { retry = 3, backoff = \"2s\", then = \"fail\" }";
    let then = |l: &mut Loader<'_>, node: &Node| match node.0.get_ref() {
        NodeValue::Text(t) if t == "fail" => Some(Then::Fail),
        NodeValue::Text(t) if t == "continue" => Some(Then::Continue),
        other => {
            let shown = match other {
                NodeValue::Text(t) => format!("'{t}'"),
                other => other.kind().to_string(),
            };
            let near = match other {
                NodeValue::Text(t) => closest(t, ["fail", "continue"]),
                _ => None,
            };
            l.problem(
                node.0.span().start,
                format!("{shown} is neither \"fail\" nor \"continue\""),
                near.map_or_else(|| hint.to_string(), |n| format!("did you mean \"{n}\"?")),
            );
            None
        }
    };
    let NodeValue::Table(entries) = node.0.get_ref() else {
        return match then(l, node) {
            Some(then) => OnError {
                then,
                ..OnError::FAIL
            },
            None => OnError::FAIL,
        };
    };
    let mut on_error = OnError::FAIL;
    let (mut retry_given, mut unknown) = (false, false);
    for (key, value) in entries {
        let at = value.0.span().start;
        match (key.as_str(), value.0.get_ref()) {
            ("retry", NodeValue::Integer(n)) if (1..=MAX_RETRIES).contains(n) => {
                retry_given = true;
                on_error.retries = u32::try_from(*n).unwrap_or(1);
            }
            ("retry", _) => {
                retry_given = true;
                l.problem(
                    at,
                    format!("retry must be a whole number from 1 to {MAX_RETRIES}"),
                    "e.g. retry = 3 (retries after the first attempt)",
                );
            }
            ("backoff", NodeValue::Text(text)) => match duration::parse(text) {
                Some(backoff) => on_error.backoff = backoff,
                None => l.problem(
                    at,
                    format!("backoff '{text}' is not a duration"),
                    "write it like 500ms, 2s, 1m or 1h",
                ),
            },
            ("backoff", other) => l.problem(
                at,
                format!("backoff must be text, not {}", other.kind()),
                "write it like \"2s\"",
            ),
            ("then", _) => on_error.then = then(l, value).unwrap_or(Then::Fail),
            (other, _) => {
                unknown = true;
                l.problem(
                    at,
                    format!("unknown key '{other}' in on_error"),
                    match closest(other, ["retry", "backoff", "then"]) {
                        Some(near) => format!("did you mean '{near}'?"),
                        None => "on_error takes retry, backoff and then".into(),
                    },
                );
            }
        }
    }
    // A key left out is most likely the one misspelt: that was said already.
    if !retry_given && !unknown {
        l.problem(
            start,
            "this on_error table does not say how often to retry",
            "add retry = N, or write on_error = \"fail\" or \"continue\"",
        );
    }
    on_error
}

/// `input`: a table, or one `${…}` that gives an object.
fn input(
    l: &mut Loader<'_>,
    node: &Node,
    me: KnownStep<'_>,
    known: &Known<'_>,
    uses: &mut Vec<Use>,
) -> ValueTemplate {
    let value = l.value_template(node, Place::Step(me), known, uses);
    let fine = match &value {
        ValueTemplate::Object(_) => true,
        ValueTemplate::Text(template) => template.single().is_some(),
        // A template that did not parse was reported already.
        ValueTemplate::Literal(serde_json::Value::Null) => {
            matches!(node.0.get_ref(), NodeValue::Text(_))
        }
        _ => false,
    };
    if !fine {
        l.problem(
            node.0.span().start,
            format!(
                "a step's input is a table of the plugin's input fields, and this is {}",
                node.0.get_ref().kind()
            ),
            "e.g. input = { identity = \"${inputs.user}\" }, or one ${…} that gives an object",
        );
    }
    value
}
