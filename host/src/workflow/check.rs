//! What an expression may name, checked before anything runs: roots that exist, inputs that are
//! declared, steps that exist and are not the step itself, `item` only where there is one.

use std::ops::Range;

use super::expr::{Key, Path};
use super::functions::Function;
use super::inputs::{InputType, Inputs};
use super::suggest::closest;

/// The roots an expression can start at.
pub const ROOTS: [&str; 5] = ["inputs", "steps", "item", "tenant", "run"];

/// What `steps.<id>` has.
pub const STEP_FIELDS: [&str; 5] = ["status", "output", "records", "items", "counts"];

/// What `run` has.
pub const RUN_FIELDS: [&str; 2] = ["id", "dry_run"];

/// A step as the checker knows it.
#[derive(Clone, Copy, Debug)]
pub(super) struct KnownStep<'a> {
    /// Its id.
    pub id: &'a str,
    /// Whether it has `for_each`.
    pub fans_out: bool,
    /// Whether its `for_each` is a partition (whose `item.filter` is a filter exorun makes).
    pub partitioned: bool,
}

impl<'a> KnownStep<'a> {
    /// The step a `[[steps]]` table makes.
    pub fn of(table: &'a super::file::StepTable) -> KnownStep<'a> {
        KnownStep {
            id: table.id.get_ref(),
            fans_out: table.for_each.is_some(),
            partitioned: table
                .for_each
                .as_ref()
                .is_some_and(|node| matches!(node.0.get_ref(), super::file::NodeValue::Table(_))),
        }
    }
}

/// What expressions can name: the declared inputs and the steps.
pub(super) struct Known<'a> {
    /// The declared inputs.
    pub inputs: &'a Inputs,
    /// The steps, in file order.
    pub steps: &'a [KnownStep<'a>],
}

/// Where an expression is.
#[derive(Clone, Copy, Debug)]
pub(super) enum Place<'a> {
    /// In a step's `when`, `input` or `config`.
    Step(KnownStep<'a>),
    /// In a step's `for_each`.
    ForEach(&'a str),
    /// In the workflow's `outputs`.
    Outputs,
}

/// A name an expression may not use: where (bytes of the template), what, and the fix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Fault {
    /// Where in the template.
    pub span: Range<usize>,
    /// What is wrong.
    pub what: String,
    /// How to fix it.
    pub fix: String,
}

fn fault(span: Range<usize>, what: impl Into<String>, fix: impl Into<String>) -> Fault {
    Fault {
        span,
        what: what.into(),
        fix: fix.into(),
    }
}

/// `did you mean 'x'?`, or `default`.
fn did_you_mean(near: Option<&str>, default: String) -> String {
    near.map_or(default, |n| format!("did you mean '{n}'?"))
}

/// Checks one path; returns the step it uses (an implied need), if any.
pub(super) fn check(
    path: &Path,
    place: Place<'_>,
    known: &Known<'_>,
) -> Result<Option<String>, Fault> {
    let first = path.segments.first();
    let whole = path.root_span.start
        ..path
            .segments
            .last()
            .map_or(path.root_span.end, |s| s.span.end);
    match path.root.as_str() {
        "inputs" => check_input(path, known.inputs).map(|()| None),
        "steps" => check_step(path, place, known).map(Some),
        "item" => match place {
            Place::Step(step) if step.fans_out => Ok(None),
            Place::Step(_) => Err(fault(
                path.root_span.clone(),
                "item is only set in a step with for_each",
                "add for_each to this step, or use inputs or steps here",
            )),
            Place::ForEach(_) => Err(fault(
                path.root_span.clone(),
                "for_each cannot use item: it is what makes the items",
                "use inputs or the results of an earlier step",
            )),
            Place::Outputs => Err(fault(
                path.root_span.clone(),
                "the workflow's outputs cannot use item",
                "use steps.<id>.items for the results of each item",
            )),
        },
        "tenant" => match first {
            None => Ok(None),
            Some(segment) => Err(fault(
                segment.span.clone(),
                format!(
                    "tenant is the profile's name (text), so it has no {}",
                    shown(&segment.key)
                ),
                "use tenant itself",
            )),
        },
        "run" => match (first, path.segments.get(1)) {
            (None, _) => Ok(None),
            (Some(segment), _) if !matches!(&segment.key, Key::Field(f) if RUN_FIELDS.contains(&f.as_str())) => {
                Err(fault(
                    segment.span.clone(),
                    format!("run has no {}", shown(&segment.key)),
                    "run has id and dry_run",
                ))
            }
            (Some(_), Some(extra)) => Err(fault(
                extra.span.clone(),
                format!("{} has no {}", path.prefix(1), shown(&extra.key)),
                format!("use {} itself", path.prefix(1)),
            )),
            (Some(_), None) => Ok(None),
        },
        other => {
            if let Some(function) = Function::named(other) {
                return Err(fault(
                    whole,
                    format!("{other} is a function, and here it is not called"),
                    format!("write {}", function.example()),
                ));
            }
            let near = closest(other, ROOTS);
            Err(fault(
                whole,
                format!("unknown name '{other}'"),
                match near {
                    Some(near) => format!("did you mean '{near}'?"),
                    None => format!(
                        "an expression starts with inputs, steps, item, tenant or run; text goes in quotes: '{other}'"
                    ),
                },
            ))
        }
    }
}

/// `field 'x'` or `[0]`.
fn shown(key: &Key) -> String {
    match key {
        Key::Field(field) => format!("field '{field}'"),
        Key::Index(i) => format!("[{i}]"),
    }
}

fn check_input(path: &Path, inputs: &Inputs) -> Result<(), Fault> {
    let Some(segment) = path.segments.first() else {
        return Ok(());
    };
    let names: Vec<&str> = inputs.iter().map(|d| d.name.as_str()).collect();
    let declared = match &segment.key {
        Key::Field(name) => inputs.get(name),
        Key::Index(_) => None,
    };
    let Some(decl) = declared else {
        let written = path.prefix(1);
        let name = match &segment.key {
            Key::Field(name) => name.clone(),
            Key::Index(i) => i.to_string(),
        };
        return Err(fault(
            segment.span.clone(),
            format!("{written} is not a declared input"),
            did_you_mean(
                closest(&name, names.iter().copied()),
                if names.is_empty() {
                    format!("declare it in an [inputs.{name}] table")
                } else {
                    format!(
                        "declare it in an [inputs.{name}] table (declared: {})",
                        names.join(", ")
                    )
                },
            ),
        ));
    };
    match (decl.kind, path.segments.get(1)) {
        (InputType::List | InputType::Object, _) | (_, None) => Ok(()),
        (kind, Some(extra)) => Err(fault(
            extra.span.clone(),
            format!(
                "{} is {} {kind}, so it has no {}",
                path.prefix(1),
                kind.article(),
                shown(&extra.key)
            ),
            format!("use {} itself, or declare it as an object", path.prefix(1)),
        )),
    }
}

fn check_step(path: &Path, place: Place<'_>, known: &Known<'_>) -> Result<String, Fault> {
    let ids: Vec<&str> = known.steps.iter().map(|s| s.id).collect();
    let Some(segment) = path.segments.first() else {
        return Err(fault(
            path.root_span.clone(),
            "steps alone is not a value",
            "name a step, e.g. steps.lookup.output",
        ));
    };
    let target = match &segment.key {
        Key::Field(id) => known.steps.iter().find(|s| s.id == id),
        Key::Index(_) => None,
    };
    let Some(target) = target else {
        let written = match &segment.key {
            Key::Field(id) => id.clone(),
            Key::Index(i) => i.to_string(),
        };
        return Err(fault(
            segment.span.clone(),
            format!("there is no step '{written}'"),
            did_you_mean(
                closest(&written, ids.iter().copied()),
                format!("the steps are: {}", ids.join(", ")),
            ),
        ));
    };
    let own = match place {
        Place::Step(step) => step.id,
        Place::ForEach(id) => id,
        Place::Outputs => "",
    };
    if target.id == own {
        return Err(fault(
            segment.span.clone(),
            format!("step '{own}' cannot use its own results"),
            "a step sees only the steps that run before it: use them in a later step",
        ));
    }
    let Some(field) = path.segments.get(1) else {
        return Err(fault(
            segment.span.clone(),
            format!("{} alone is not a value", path.prefix(1)),
            format!(
                "use {0}.output, {0}.records or {0}.status{1}",
                path.prefix(1),
                if target.fans_out {
                    format!(" (or {}.items)", path.prefix(1))
                } else {
                    String::new()
                }
            ),
        ));
    };
    match &field.key {
        Key::Field(name) if name == "items" && !target.fans_out => Err(fault(
            field.span.clone(),
            format!("{}.items is only for a step with for_each", path.prefix(1)),
            format!("use {0}.output or {0}.records", path.prefix(1)),
        )),
        Key::Field(name) if STEP_FIELDS.contains(&name.as_str()) => Ok(target.id.to_string()),
        key => {
            let name = match key {
                Key::Field(name) => name.clone(),
                Key::Index(i) => i.to_string(),
            };
            Err(fault(
                field.span.clone(),
                format!("{} has no {}", path.prefix(1), shown(key)),
                did_you_mean(
                    closest(&name, STEP_FIELDS),
                    "a step has output, records, status and (with for_each) items".into(),
                ),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;
    use crate::workflow::error::Location;
    use crate::workflow::expr::parse;
    use crate::workflow::inputs::InputDecl;

    fn inputs() -> Inputs {
        let decl = |name: &str, kind| InputDecl {
            name: name.into(),
            kind,
            description: None,
            default: None::<Value>,
            at: Location::default(),
        };
        Inputs(vec![
            decl("user", InputType::String),
            decl("opts", InputType::Object),
        ])
    }

    const STEPS: [KnownStep<'static>; 3] = [
        KnownStep {
            id: "lookup",
            fans_out: false,
            partitioned: false,
        },
        KnownStep {
            id: "convert",
            fans_out: true,
            partitioned: false,
        },
        KnownStep {
            id: "notify",
            fans_out: false,
            partitioned: false,
        },
    ];

    fn run(text: &str, place: Place<'_>) -> Result<Option<String>, (usize, String, String)> {
        let inputs = inputs();
        let known = Known {
            inputs: &inputs,
            steps: &STEPS,
        };
        let expr = parse(text).unwrap();
        let path = expr.paths()[0].clone();
        check(&path, place, &known).map_err(|f| (f.span.start, f.what, f.fix))
    }

    const CONVERT: Place<'static> = Place::Step(STEPS[1]);
    const NOTIFY: Place<'static> = Place::Step(STEPS[2]);

    #[test]
    fn good_references_give_the_step_they_use() {
        assert_eq!(
            run("steps.lookup.output.found", NOTIFY),
            Ok(Some("lookup".into()))
        );
        assert_eq!(
            run("steps.convert.items[0]", NOTIFY),
            Ok(Some("convert".into()))
        );
        assert_eq!(run("inputs.opts.a.b", NOTIFY), Ok(None));
        assert_eq!(run("inputs", NOTIFY), Ok(None));
        assert_eq!(run("item.filter", CONVERT), Ok(None));
        assert_eq!(run("run.dry_run", Place::Outputs), Ok(None));
        assert_eq!(run("tenant", Place::Outputs), Ok(None));
        assert_eq!(
            run("steps.notify.status", Place::Outputs),
            Ok(Some("notify".into()))
        );
    }

    #[test]
    fn bad_references_say_what_and_how_to_fix() {
        let cases: [(&str, Place<'_>, usize, &str, &str); 13] = [
            (
                "input.user",
                NOTIFY,
                0,
                "unknown name 'input'",
                "did you mean 'inputs'?",
            ),
            (
                "succeeded",
                NOTIFY,
                0,
                "unknown name 'succeeded'",
                "an expression starts with inputs, steps, item, tenant or run; text goes in quotes: 'succeeded'",
            ),
            (
                "inputs.usr",
                NOTIFY,
                7,
                "inputs.usr is not a declared input",
                "did you mean 'user'?",
            ),
            (
                "inputs.manager",
                NOTIFY,
                7,
                "inputs.manager is not a declared input",
                "declare it in an [inputs.manager] table (declared: user, opts)",
            ),
            (
                "inputs.user.name",
                NOTIFY,
                12,
                "inputs.user is a string, so it has no field 'name'",
                "use inputs.user itself, or declare it as an object",
            ),
            (
                "steps.lookpu.output",
                NOTIFY,
                6,
                "there is no step 'lookpu'",
                "did you mean 'lookup'?",
            ),
            (
                "steps.notify.output",
                NOTIFY,
                6,
                "step 'notify' cannot use its own results",
                "a step sees only the steps that run before it: use them in a later step",
            ),
            (
                "steps.lookup",
                NOTIFY,
                6,
                "steps.lookup alone is not a value",
                "use steps.lookup.output, steps.lookup.records or steps.lookup.status",
            ),
            (
                "steps.lookup.items",
                NOTIFY,
                13,
                "steps.lookup.items is only for a step with for_each",
                "use steps.lookup.output or steps.lookup.records",
            ),
            (
                "steps.lookup.outptu",
                NOTIFY,
                13,
                "steps.lookup has no field 'outptu'",
                "did you mean 'output'?",
            ),
            (
                "item",
                NOTIFY,
                0,
                "item is only set in a step with for_each",
                "add for_each to this step, or use inputs or steps here",
            ),
            (
                "item.x",
                Place::ForEach("convert"),
                0,
                "for_each cannot use item: it is what makes the items",
                "use inputs or the results of an earlier step",
            ),
            (
                "run.user",
                NOTIFY,
                4,
                "run has no field 'user'",
                "run has id and dry_run",
            ),
        ];
        for (text, place, at, what, fix) in cases {
            assert_eq!(
                run(text, place),
                Err((at, what.into(), fix.into())),
                "{text}"
            );
        }
        assert!(
            run("tenant.name", NOTIFY)
                .unwrap_err()
                .1
                .contains("tenant is the profile's name")
        );
        assert!(
            run("item", Place::Outputs)
                .unwrap_err()
                .1
                .contains("outputs cannot use item")
        );
        assert!(run("steps", NOTIFY).unwrap_err().1.contains("steps alone"));
        assert_eq!(
            run("opath", NOTIFY),
            Err((
                0,
                "opath is a function, and here it is not called".into(),
                "write PrimarySmtpAddress -eq ${opath(inputs.user)}".into()
            ))
        );
        // Paths inside a call are checked like any other.
        assert_eq!(
            run("opath(inputs.usr)", NOTIFY).unwrap_err().1,
            "inputs.usr is not a declared input"
        );
        assert!(
            run("run.id.x", NOTIFY)
                .unwrap_err()
                .1
                .contains("run.id has no field 'x'")
        );
    }
}
