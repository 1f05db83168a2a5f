//! Evaluating expressions against what the engine knows while a workflow runs.
//!
//! The engine supplies a [`Context`]: the value of each root. The roots and their shapes are the
//! contract between the file and the engine:
//!
//! | root | value |
//! |---|---|
//! | `inputs` | object: each declared input, bound (see [`super::inputs::Inputs::bind`]) |
//! | `steps` | object: per step id `{ "status", "output", "records", "items", "counts" }` of the steps that ran |
//! | `item` | the current item of a step with `for_each` (absent elsewhere) |
//! | `tenant` | the name of the profile the workflow runs against now (text, or null) |
//! | `run` | object: `{ "id": text, "dry_run": boolean }` |
//!
//! For a step: `status` is `"succeeded"`, `"failed"` (with `on_error = "continue"`) or
//! `"skipped"` (its `when` was false); `output` is the summary its plugin returned (for a
//! `for_each` step, the list of the items' summaries, in item order; null when skipped);
//! `records` is the list of records it emitted; `items` (for a `for_each` step) is the list of
//! `{ "item", "status", "output" }`, in item order; `counts` is `{ "items", "succeeded", "failed",
//! "skipped" }`.
//!
//! Text compares without regard to case, as Exchange compares names and addresses.

use std::borrow::Cow;
use std::cmp::Ordering;

use serde_json::{Map, Value};

use super::expr::{Comparison, Expr, ExprKind, Key, Path};

/// The values of the roots an expression can name.
pub trait Context {
    /// The value of root `name` (`inputs`, `steps`, `item`, `tenant`, `run`), or `None` when it
    /// has none here (`item` outside a fan-out).
    fn root(&self, name: &str) -> Option<&Value>;
}

/// A JSON object whose fields are the roots.
impl Context for Map<String, Value> {
    fn root(&self, name: &str) -> Option<&Value> {
        self.get(name)
    }
}

/// A JSON object whose fields are the roots (anything else has no roots).
impl Context for Value {
    fn root(&self, name: &str) -> Option<&Value> {
        self.as_object().and_then(|object| object.get(name))
    }
}

/// Why an expression has no value: each names the path and what was there instead.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EvalError {
    /// The root has no value here.
    #[error("{root} has no value here{}", if root == "item" { " (item is set only while a step with for_each runs one of its items)" } else { "" })]
    NoRoot {
        /// The root.
        root: String,
    },
    /// An object without the field.
    #[error("{path} has no field '{field}' ({has})")]
    NoField {
        /// The path to the object.
        path: String,
        /// The field asked for.
        field: String,
        /// What it has: `it has: a, b` or `it has no fields`.
        has: String,
    },
    /// A list too short for the position.
    #[error("{path} has {len} item(s), so there is no [{index}] (positions start at 0)")]
    NoItem {
        /// The path to the list.
        path: String,
        /// Its length.
        len: usize,
        /// The position asked for.
        index: usize,
    },
    /// A field of something that is not an object, or a position in something not a list.
    #[error("{path} is {found}, so it has no {key}")]
    WrongKind {
        /// The path to the value.
        path: String,
        /// What it is.
        found: String,
        /// What was asked of it, as written (`field 'x'`, `[0]`).
        key: String,
    },
    /// A `for_each` that gave something other than a list.
    #[error("for_each gave {found}, not a list of items")]
    NotItems {
        /// What it gave.
        found: String,
    },
    /// A function refused its value (`opath_prefix` of `*`): the call as written, where it is,
    /// what is wrong and what to do.
    #[error("{call}{place}: {what}; {fix}")]
    Refused {
        /// The call as written, e.g. `opath(inputs.user)`.
        call: String,
        /// Where it is: ` in "…" (line N)`, or empty when not known.
        place: String,
        /// What is wrong with the value.
        what: String,
        /// What to do.
        fix: String,
    },
    /// An ordering of values that have none.
    #[error(
        "cannot compare {left} with {right} using {op}: only numbers with numbers and text with text"
    )]
    Incomparable {
        /// The operator.
        op: String,
        /// The left value.
        left: String,
        /// The right value.
        right: String,
    },
}

impl Expr {
    /// The expression's value in `context`.
    pub fn eval<'c>(&self, context: &'c dyn Context) -> Result<Cow<'c, Value>, EvalError> {
        Ok(match &self.kind {
            ExprKind::Literal(value) => Cow::Owned(value.clone()),
            ExprKind::Path(path) => Cow::Borrowed(path.resolve(context)?),
            ExprKind::Not(inner) => Cow::Owned(Value::Bool(!inner.is_true(context)?)),
            ExprKind::And(a, b) => {
                Cow::Owned(Value::Bool(a.is_true(context)? && b.is_true(context)?))
            }
            ExprKind::Or(a, b) => {
                Cow::Owned(Value::Bool(a.is_true(context)? || b.is_true(context)?))
            }
            ExprKind::Compare(op, a, b) => {
                let (a, b) = (a.eval(context)?, b.eval(context)?);
                Cow::Owned(Value::Bool(compare(*op, &a, &b)?))
            }
            ExprKind::Call(call) => {
                let args = call
                    .args
                    .iter()
                    .map(|arg| arg.eval(context).map(Cow::into_owned))
                    .collect::<Result<Vec<_>, _>>()?;
                let value = call
                    .function
                    .apply(&args)
                    .map_err(|refusal| EvalError::Refused {
                        call: call.written.clone(),
                        place: String::new(),
                        what: refusal.what,
                        fix: refusal.fix,
                    })?;
                Cow::Owned(value)
            }
        })
    }

    /// Whether the expression's value is true (see [`truthy`]).
    pub fn is_true(&self, context: &dyn Context) -> Result<bool, EvalError> {
        Ok(truthy(self.eval(context)?.as_ref()))
    }
}

impl Path {
    /// The value the path names in `context`.
    pub fn resolve<'c>(&self, context: &'c dyn Context) -> Result<&'c Value, EvalError> {
        let mut value = context.root(&self.root).ok_or_else(|| EvalError::NoRoot {
            root: self.root.clone(),
        })?;
        for (n, segment) in self.segments.iter().enumerate() {
            value = match (&segment.key, value) {
                (Key::Field(field), Value::Object(object)) => {
                    object.get(field).ok_or_else(|| EvalError::NoField {
                        path: self.prefix(n),
                        field: field.clone(),
                        has: fields(object),
                    })?
                }
                (Key::Index(index), Value::Array(list)) => {
                    list.get(*index).ok_or_else(|| EvalError::NoItem {
                        path: self.prefix(n),
                        len: list.len(),
                        index: *index,
                    })?
                }
                (key, other) => {
                    return Err(EvalError::WrongKind {
                        path: self.prefix(n),
                        found: describe(other),
                        key: match key {
                            Key::Field(field) => format!("field '{field}'"),
                            Key::Index(index) => format!("[{index}]"),
                        },
                    });
                }
            };
        }
        Ok(value)
    }
}

/// `it has: a, b, c` (at most 12 named), or `it has no fields`.
fn fields(object: &Map<String, Value>) -> String {
    const SHOWN: usize = 12;
    if object.is_empty() {
        return "it has no fields".into();
    }
    let mut names: Vec<&str> = object.keys().map(String::as_str).take(SHOWN).collect();
    if object.len() > SHOWN {
        names.push("…");
    }
    format!("it has: {}", names.join(", "))
}

/// A value described for a message: `null`, `true`, `the number 3`, `the text "abc"`,
/// `a list of 2 items`, `an object`.
pub fn describe(value: &Value) -> String {
    const LONGEST: usize = 40;
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) if s.chars().count() > LONGEST => {
            let cut: String = s.chars().take(LONGEST).collect();
            format!("the text {}…", Value::from(cut))
        }
        Value::String(s) => format!("the text {}", Value::from(s.as_str())),
        Value::Array(list) => format!(
            "a list of {} item{}",
            list.len(),
            if list.len() == 1 { "" } else { "s" }
        ),
        Value::Object(_) => "an object".into(),
    }
}

/// Whether a value counts as true: everything but null, false, 0, "", [] and {}.
pub fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(list) => !list.is_empty(),
        Value::Object(object) => !object.is_empty(),
    }
}

fn compare(op: Comparison, a: &Value, b: &Value) -> Result<bool, EvalError> {
    let ordering = match op {
        Comparison::Eq => return Ok(equal(a, b)),
        Comparison::Ne => return Ok(!equal(a, b)),
        _ => order(a, b).ok_or_else(|| EvalError::Incomparable {
            op: op.symbol().into(),
            left: describe(a),
            right: describe(b),
        })?,
    };
    Ok(match op {
        Comparison::Lt => ordering.is_lt(),
        Comparison::Le => ordering.is_le(),
        Comparison::Gt => ordering.is_gt(),
        _ => ordering.is_ge(),
    })
}

/// Equality: numbers by value (`1 == 1.0`), text without regard to case, lists and objects
/// item by item; values of different kinds are never equal.
fn equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(_), Value::Number(_)) | (Value::String(_), Value::String(_)) => {
            order(a, b) == Some(Ordering::Equal)
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| equal(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| equal(v, w)))
        }
        _ => a == b,
    }
}

/// The order of two numbers or two texts (text without regard to case).
fn order(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => Some(x.cmp(&y)),
            _ => x.as_f64()?.partial_cmp(&y.as_f64()?),
        },
        (Value::String(x), Value::String(y)) => Some(x.to_lowercase().cmp(&y.to_lowercase())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::workflow::expr::parse;

    fn context() -> Value {
        json!({
            "inputs": {"user": "Ann@Contoso.com", "max": 5, "notify": true, "tags": []},
            "steps": {"lookup": {"status": "succeeded", "output": {"found": true, "identity": "ann"}, "records": [{"Name": "a"}, {"Name": "b"}]}},
            "run": {"id": "r1", "dry_run": false},
            "tenant": "contoso"
        })
    }

    fn eval(text: &str) -> Result<Value, EvalError> {
        let context = context();
        parse(text).unwrap().eval(&context).map(Cow::into_owned)
    }

    #[test]
    fn paths_literals_and_operators() {
        assert_eq!(eval("inputs.user").unwrap(), json!("Ann@Contoso.com"));
        assert_eq!(eval("steps.lookup.records[1].Name").unwrap(), json!("b"));
        assert_eq!(
            eval(r#"steps["lookup"]["output"].found"#).unwrap(),
            json!(true)
        );
        assert_eq!(
            eval("inputs.notify and steps.lookup.output.found").unwrap(),
            json!(true)
        );
        assert_eq!(
            eval("inputs.user == 'ann@contoso.com'").unwrap(),
            json!(true)
        );
        assert_eq!(
            eval("inputs.max > 4.5 && inputs.max <= 5").unwrap(),
            json!(true)
        );
        assert_eq!(eval("inputs.max == 5.0").unwrap(), json!(true));
        assert_eq!(eval("'a' < 'B'").unwrap(), json!(true));
        assert_eq!(eval("inputs.max == '5'").unwrap(), json!(false));
        assert_eq!(eval("not inputs.tags || run.dry_run").unwrap(), json!(true));
        assert_eq!(eval("tenant != 'fabrikam'").unwrap(), json!(true));
        assert_eq!(eval("null == null").unwrap(), json!(true));
        assert_eq!(
            eval("steps.lookup.output == steps.lookup.output").unwrap(),
            json!(true)
        );
    }

    #[test]
    fn calls_give_their_function_s_value_or_say_why_not() {
        assert_eq!(
            eval("opath(inputs.user)").unwrap(),
            json!("'Ann@Contoso.com'")
        );
        assert_eq!(eval("opath(inputs.max)").unwrap(), json!("5"));
        assert_eq!(eval("opath_prefix('Ann')").unwrap(), json!("'Ann*'"));
        assert_eq!(
            eval("opath('a') == \"'a'\"").unwrap(),
            json!(true),
            "a call is a value like any other"
        );
        assert_eq!(
            eval("opath_prefix( '*' )").unwrap_err().to_string(),
            "opath_prefix( '*' ): the value is the text \"*\", and a -like pattern cannot hold *: Exchange has no escape for it, so it would match more than the text; give text without * and ?; to compare a whole value write -eq ${opath(…)}"
        );
        assert_eq!(
            eval("opath(inputs.tags)").unwrap_err().to_string(),
            "opath(inputs.tags): the value is a list of 0 items, and an OPATH literal is one text, number or boolean; pass one field or item (e.g. item.PrimarySmtpAddress), or run the step once per item with for_each"
        );
        // A path that has no value is said as for any path.
        assert!(
            eval("opath(inputs.nope)")
                .unwrap_err()
                .to_string()
                .starts_with("inputs has no field 'nope'")
        );
    }

    #[test]
    fn and_and_or_stop_at_the_first_answer() {
        // The right side would fail: it is never looked at.
        assert_eq!(eval("false and steps.nope.output").unwrap(), json!(false));
        assert_eq!(eval("true or item.x").unwrap(), json!(true));
    }

    #[test]
    fn truthiness_is_false_only_for_empty_things() {
        for falsy in [
            json!(null),
            json!(false),
            json!(0),
            json!(0.0),
            json!(""),
            json!([]),
            json!({}),
        ] {
            assert!(!truthy(&falsy), "{falsy}");
        }
        for truthy_value in [
            json!(true),
            json!(-1),
            json!("0"),
            json!([0]),
            json!({"a": null}),
        ] {
            assert!(truthy(&truthy_value), "{truthy_value}");
        }
    }

    #[test]
    fn errors_name_the_path_and_what_was_there() {
        let cases = [
            (
                "steps.lookup.output.foud",
                "steps.lookup.output has no field 'foud' (it has: found, identity)",
            ),
            (
                "steps.lookup.records[5]",
                "steps.lookup.records has 2 item(s), so there is no [5] (positions start at 0)",
            ),
            (
                "inputs.user.name",
                "inputs.user is the text \"Ann@Contoso.com\", so it has no field 'name'",
            ),
            (
                "inputs.max[0]",
                "inputs.max is the number 5, so it has no [0]",
            ),
            (
                "item.filter",
                "item has no value here (item is set only while a step with for_each runs one of its items)",
            ),
            (
                "inputs.max < 'a'",
                "cannot compare the number 5 with the text \"a\" using <: only numbers with numbers and text with text",
            ),
            (
                "inputs.tags.x",
                "inputs.tags is a list of 0 items, so it has no field 'x'",
            ),
        ];
        for (text, message) in cases {
            assert_eq!(eval(text).unwrap_err().to_string(), message, "{text}");
        }
        let many: Map<String, Value> = (0..20).map(|i| (format!("f{i}"), json!(i))).collect();
        assert!(fields(&many).ends_with("f11, …"));
        assert_eq!(fields(&Map::new()), "it has no fields");
        assert!(describe(&json!("x".repeat(50))).ends_with("x\"…"));
    }
}
