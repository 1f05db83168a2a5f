//! Templates: strings with `${expr}` in them, and the conditions of `when`.
//!
//! A string that is exactly one `${expr}` yields the expression's value with its JSON type (a
//! list stays a list); otherwise each `${…}` is written into the text (text as is, anything else
//! as compact JSON). `$${` is a literal `${`.

use serde_json::Value;

use super::error::Location;
use super::eval::{Context, EvalError};
use super::expr::{self, Expr, Path, SyntaxError};
use super::parser;

/// A string with `${…}` expressions in it (or none: then it is plain text).
#[derive(Clone, Debug, PartialEq)]
pub struct Template {
    source: String,
    parts: Vec<Part>,
    at: Option<Location>,
}

/// A piece of a template.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Part {
    /// Literal text (`$${` already turned into `${`).
    Text(String),
    /// A `${…}`.
    Expr(Expr),
}

impl Template {
    /// Parses a string. Offsets in errors and in the expressions' spans are bytes of `source`.
    pub fn parse(source: &str) -> Result<Template, SyntaxError> {
        let mut parts = Vec::new();
        let mut text = String::new();
        let mut rest = 0;
        while let Some(found) = source[rest..].find("${") {
            let at = rest + found;
            if source[..at].ends_with('$') {
                // `$${`: a literal `${`.
                text.push_str(&source[rest..at - 1]);
                text.push_str("${");
                rest = at + 2;
                continue;
            }
            text.push_str(&source[rest..at]);
            let (expr, end) = parser::parse_embedded(source, at + 2)?;
            if !text.is_empty() {
                parts.push(Part::Text(std::mem::take(&mut text)));
            }
            parts.push(Part::Expr(expr));
            rest = end;
        }
        text.push_str(&source[rest..]);
        if !text.is_empty() || parts.is_empty() {
            parts.push(Part::Text(text));
        }
        Ok(Template {
            source: source.to_string(),
            parts,
            at: None,
        })
    }

    /// The same template, known to be at `at` in the workflow file.
    pub(crate) fn located(mut self, at: Location) -> Template {
        self.at = Some(at);
        self
    }

    /// Where the string is in the workflow file (for templates read from one).
    pub fn location(&self) -> Option<Location> {
        self.at
    }

    /// The string as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether the template has no `${…}`: its value is its text.
    pub fn is_literal(&self) -> bool {
        self.expressions().next().is_none()
    }

    /// The one expression, if the string is exactly one `${…}`.
    pub fn single(&self) -> Option<&Expr> {
        match self.parts.as_slice() {
            [Part::Expr(expr)] => Some(expr),
            _ => None,
        }
    }

    /// The template's pieces, in order: literal text and `${…}`s.
    pub(super) fn parts(&self) -> &[Part] {
        &self.parts
    }

    /// `error`, with the template and its line named when a function refused a value (other
    /// errors name their path, which says enough).
    fn placed(&self, error: EvalError) -> EvalError {
        match error {
            EvalError::Refused {
                call,
                place,
                what,
                fix,
            } if place.is_empty() => EvalError::Refused {
                call,
                place: match self.at {
                    Some(at) => format!(" in \"{}\" (line {})", self.source, at.line),
                    None => format!(" in \"{}\"", self.source),
                },
                what,
                fix,
            },
            other => other,
        }
    }

    /// The template's expressions, in order.
    pub fn expressions(&self) -> impl Iterator<Item = &Expr> {
        self.parts.iter().filter_map(|part| match part {
            Part::Expr(expr) => Some(expr),
            Part::Text(_) => None,
        })
    }

    /// Every path the template reads, in order.
    pub fn paths(&self) -> Vec<&Path> {
        self.expressions().flat_map(Expr::paths).collect()
    }

    /// The template's value: the value of its one `${…}`, else the text with each `${…}`
    /// written in.
    pub fn render(&self, context: &dyn Context) -> Result<Value, EvalError> {
        if let Some(expr) = self.single() {
            return expr
                .eval(context)
                .map(|value| value.into_owned())
                .map_err(|e| self.placed(e));
        }
        self.render_text(context).map(Value::String)
    }

    /// The template as text: like [`Template::render`], with a value that is not text written
    /// as compact JSON (for the plugin's config, which is text).
    pub fn render_text(&self, context: &dyn Context) -> Result<String, EvalError> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Expr(expr) => match &*expr.eval(context).map_err(|e| self.placed(e))? {
                    Value::String(text) => out.push_str(text),
                    other => out.push_str(&other.to_string()),
                },
            }
        }
        Ok(out)
    }
}

/// A value whose strings are templates: a step's `input`, the workflow's `outputs`.
#[derive(Clone, Debug, PartialEq)]
pub enum ValueTemplate {
    /// A number, boolean or null, as is.
    Literal(Value),
    /// A string.
    Text(Template),
    /// A list.
    List(Vec<ValueTemplate>),
    /// An object, its fields in file order.
    Object(Vec<(String, ValueTemplate)>),
}

impl ValueTemplate {
    /// The value with every template rendered.
    pub fn render(&self, context: &dyn Context) -> Result<Value, EvalError> {
        Ok(match self {
            ValueTemplate::Literal(value) => value.clone(),
            ValueTemplate::Text(template) => template.render(context)?,
            ValueTemplate::List(items) => Value::Array(
                items
                    .iter()
                    .map(|item| item.render(context))
                    .collect::<Result<_, _>>()?,
            ),
            ValueTemplate::Object(fields) => Value::Object(
                fields
                    .iter()
                    .map(|(key, value)| Ok((key.clone(), value.render(context)?)))
                    .collect::<Result<_, EvalError>>()?,
            ),
        })
    }

    /// Every template in it, in file order.
    pub fn templates(&self) -> Vec<&Template> {
        let mut out = Vec::new();
        self.collect(&mut out);
        out
    }

    fn collect<'a>(&'a self, out: &mut Vec<&'a Template>) {
        match self {
            ValueTemplate::Literal(_) => {}
            ValueTemplate::Text(template) => out.push(template),
            ValueTemplate::List(items) => items.iter().for_each(|item| item.collect(out)),
            ValueTemplate::Object(fields) => fields.iter().for_each(|(_, v)| v.collect(out)),
        }
    }
}

/// A `when` condition: a bare expression, or one wrapped in `${…}`.
#[derive(Clone, Debug, PartialEq)]
pub struct Condition {
    template: Template,
}

impl Condition {
    /// Parses a condition. Offsets in errors and spans are bytes of `source`.
    pub fn parse(source: &str) -> Result<Condition, SyntaxError> {
        let start = source.len() - source.trim_start().len();
        if !source[start..].starts_with("${") {
            return Ok(Condition::of(source, expr::parse(source)?));
        }
        let template = Template::parse(source)?;
        let mut significant = template
            .parts
            .into_iter()
            .filter(|part| !matches!(part, Part::Text(text) if text.trim().is_empty()));
        match (significant.next(), significant.next()) {
            (Some(Part::Expr(expr)), None) => Ok(Condition::of(source, expr)),
            _ => Err(SyntaxError::new(
                start,
                "a condition is one expression",
                "write it bare (inputs.notify and steps.lookup.output.found), or wrap all of it in one ${…}",
            )),
        }
    }

    fn of(source: &str, expr: Expr) -> Condition {
        Condition {
            template: Template {
                source: source.to_string(),
                parts: vec![Part::Expr(expr)],
                at: None,
            },
        }
    }

    /// The same condition, known to be at `at` in the workflow file.
    pub(crate) fn located(self, at: Location) -> Condition {
        Condition {
            template: self.template.located(at),
        }
    }

    /// The condition as a template that is exactly one expression.
    pub fn template(&self) -> &Template {
        &self.template
    }

    /// Whether the condition holds in `context` (see [`super::eval::truthy`]).
    pub fn holds(&self, context: &dyn Context) -> Result<bool, EvalError> {
        match self.template.single() {
            Some(expr) => expr.is_true(context).map_err(|e| self.template.placed(e)),
            None => Ok(false),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn context() -> Value {
        json!({
            "inputs": {"user": "ann@contoso.com", "ids": ["a", "b"], "n": 3, "on": true},
            "item": {"key": "a", "filter": "Name -like 'a*'"}
        })
    }

    fn render(text: &str) -> Value {
        Template::parse(text).unwrap().render(&context()).unwrap()
    }

    #[test]
    fn one_expression_keeps_its_type_and_text_gets_values_written_in() {
        assert_eq!(render("${inputs.ids}"), json!(["a", "b"]));
        assert_eq!(render("${ inputs.n }"), json!(3));
        assert_eq!(render("user ${inputs.user}"), json!("user ann@contoso.com"));
        assert_eq!(render("${inputs.n}${inputs.on}"), json!("3true"));
        assert_eq!(render("ids: ${inputs.ids}"), json!(r#"ids: ["a","b"]"#));
        assert_eq!(
            render("${item.filter} -and x"),
            json!("Name -like 'a*' -and x")
        );
        assert_eq!(render("plain"), json!("plain"));
        assert_eq!(render(""), json!(""));
        assert_eq!(render("cost: $5, {x}"), json!("cost: $5, {x}"));
    }

    #[test]
    fn a_refused_value_names_the_template_and_its_line() {
        let context = json!({"inputs": {"user": ""}});
        let t = Template::parse("Name -eq ${opath(inputs.user)}").unwrap();
        assert_eq!(
            t.render(&context).unwrap_err().to_string(),
            "opath(inputs.user) in \"Name -eq ${opath(inputs.user)}\": the value is the text \"\", and an empty OPATH text matches every recipient that has no value for the property; check the input; to find recipients without a value, write -eq $null in the filter itself"
        );
        let t = t.located(Location { line: 7, column: 3 });
        assert!(
            t.render(&context)
                .unwrap_err()
                .to_string()
                .starts_with("opath(inputs.user) in \"Name -eq ${opath(inputs.user)}\" (line 7): ")
        );
        let one = Template::parse("${opath_prefix(inputs.user)}").unwrap();
        assert!(
            one.render(&context)
                .unwrap_err()
                .to_string()
                .starts_with("opath_prefix(inputs.user) in \"${opath_prefix(inputs.user)}\": ")
        );
        let when = Condition::parse("opath(inputs.user) == 'x'").unwrap();
        assert!(
            when.holds(&context)
                .unwrap_err()
                .to_string()
                .contains(" in \"opath")
        );
        let filter = Template::parse("Name -eq ${opath(inputs.name)}").unwrap();
        assert_eq!(
            filter
                .render(&json!({"inputs": {"name": "x' -or Name -like '*"}}))
                .unwrap(),
            json!("Name -eq 'x'' -or Name -like ''*'")
        );
    }

    #[test]
    fn a_doubled_dollar_is_a_literal() {
        assert_eq!(render("$${inputs.user}"), json!("${inputs.user}"));
        assert_eq!(render("a $${x} ${inputs.n}"), json!("a ${x} 3"));
        assert!(
            Template::parse("$${not an expression")
                .unwrap()
                .is_literal()
        );
    }

    #[test]
    fn config_values_are_text() {
        let t = Template::parse("${inputs.n}").unwrap();
        assert_eq!(t.render_text(&context()).unwrap(), "3");
        let t = Template::parse("${inputs.user}").unwrap();
        assert_eq!(t.render_text(&context()).unwrap(), "ann@contoso.com");
    }

    #[test]
    fn errors_point_into_the_string() {
        let e = Template::parse("hello ${inputs.user ==}").unwrap_err();
        assert_eq!(e.at, 22);
        assert_eq!(e.what, "expected a value after '==', found '}'");
        let e = Template::parse("hello ${inputs").unwrap_err();
        assert_eq!((e.at, e.what.as_str()), (6, "this ${ is not closed"));
    }

    #[test]
    fn value_templates_render_every_string() {
        let value = ValueTemplate::Object(vec![
            (
                "identity".into(),
                ValueTemplate::Text(Template::parse("${inputs.user}").unwrap()),
            ),
            (
                "list".into(),
                ValueTemplate::List(vec![
                    ValueTemplate::Literal(json!(1)),
                    ValueTemplate::Text(Template::parse("${item.key}").unwrap()),
                ]),
            ),
        ]);
        assert_eq!(
            value.render(&context()).unwrap(),
            json!({"identity": "ann@contoso.com", "list": [1, "a"]})
        );
        assert_eq!(value.templates().len(), 2);
    }

    #[test]
    fn conditions_are_bare_or_wrapped() {
        for text in [
            "inputs.on and inputs.n > 2",
            "${inputs.on and inputs.n > 2}",
            " ${ inputs.on } ",
        ] {
            let condition = Condition::parse(text).unwrap();
            assert!(condition.holds(&context()).unwrap(), "{text}");
            assert_eq!(condition.template().source(), text);
        }
        assert!(Condition::parse("inputs.ids == []").is_err());
        let wrapped = Condition::parse("${inputs.n}").unwrap();
        // Offsets stay those of the written string.
        assert_eq!(wrapped.template().paths()[0].root_span, 2..8);
        assert!(Condition::parse("not ${inputs.on}").is_err());
        let e = Condition::parse("${inputs.on} and ${inputs.n}").unwrap_err();
        assert_eq!(e.what, "a condition is one expression");
        let e = Condition::parse("inputs.on and").unwrap_err();
        assert_eq!(e.at, 13);
    }
}
