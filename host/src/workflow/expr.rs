//! Expressions: the small language of `when` and of `${…}` in templates.
//!
//! ```text
//! expr       := or
//! or         := and (('or' | '||') and)*
//! and        := not (('and' | '&&') not)*
//! not        := ('not' | '!') not | comparison
//! comparison := value (('==' | '!=' | '<' | '<=' | '>' | '>=') value)?
//! value      := 'text' | "text" | number | true | false | null | call | path | '(' expr ')'
//! call       := function '(' (expr (',' expr)*)? ')'
//! path       := name ('.' name | '[' index ']' | '[' 'key' ']')*
//! ```
//!
//! A path starts at one of the roots the engine supplies (`inputs`, `steps`, `item`, `tenant`,
//! `run`); names may hold `-` and `_` (step ids do). A call names one of the
//! [`Function`]s (`opath`, `opath_prefix`). Parsing keeps byte offsets of every part, so the
//! checker and the error messages can point at the very character.

use std::fmt;
use std::ops::Range;

use serde_json::Value;

use super::functions::Function;
use super::lexer::{Tok, in_word, starts_word};
use super::parser;

/// An expression that does not parse: where (a byte offset in the text it was parsed from),
/// what is wrong and what to write instead.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{what}; {fix}")]
pub struct SyntaxError {
    /// Byte offset in the parsed text.
    pub at: usize,
    /// What is wrong.
    pub what: String,
    /// What to write instead.
    pub fix: String,
}

impl SyntaxError {
    /// A syntax error at `at`.
    pub(super) fn new(at: usize, what: impl Into<String>, fix: impl Into<String>) -> SyntaxError {
        SyntaxError {
            at,
            what: what.into(),
            fix: fix.into(),
        }
    }
}

/// A parsed expression.
#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    pub(super) kind: ExprKind,
    pub(super) span: Range<usize>,
}

/// What an expression is.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum ExprKind {
    /// `'text'`, `3`, `true`, `null`.
    Literal(Value),
    /// `steps.lookup.output.found`.
    Path(Path),
    /// `not x`.
    Not(Box<Expr>),
    /// `a and b`.
    And(Box<Expr>, Box<Expr>),
    /// `a or b`.
    Or(Box<Expr>, Box<Expr>),
    /// `a == b` and the other comparisons.
    Compare(Comparison, Box<Expr>, Box<Expr>),
    /// `opath(inputs.user)`.
    Call(Call),
}

/// A function call: the function, its arguments, and the call as written (for messages).
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Call {
    /// The function.
    pub(super) function: Function,
    /// The values it is given, in order.
    pub(super) args: Vec<Expr>,
    /// The call as written, e.g. `opath(inputs.user)`.
    pub(super) written: String,
}

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Comparison {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl Comparison {
    /// How it is written.
    pub(super) fn symbol(self) -> &'static str {
        match self {
            Comparison::Eq => "==",
            Comparison::Ne => "!=",
            Comparison::Lt => "<",
            Comparison::Le => "<=",
            Comparison::Gt => ">",
            Comparison::Ge => ">=",
        }
    }

    pub(super) fn of(tok: &Tok) -> Option<Comparison> {
        Some(match tok {
            Tok::Eq => Comparison::Eq,
            Tok::Ne => Comparison::Ne,
            Tok::Lt => Comparison::Lt,
            Tok::Le => Comparison::Le,
            Tok::Gt => Comparison::Gt,
            Tok::Ge => Comparison::Ge,
            _ => return None,
        })
    }
}

/// A path into the context: a root and the fields and list positions under it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Path {
    /// The root: `inputs`, `steps`, `item`, `tenant` or `run` in a valid workflow.
    pub root: String,
    /// Where the root is written (byte offsets).
    pub root_span: Range<usize>,
    /// What follows the root.
    pub segments: Vec<Segment>,
}

/// One `.name`, `["key"]` or `[index]` of a path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segment {
    /// The field or position.
    pub key: Key,
    /// Where it is written (byte offsets): the name after a `.`, or the whole `[…]`.
    pub span: Range<usize>,
}

/// A field name or a list position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Key {
    /// `.name` or `["name"]`.
    Field(String),
    /// `[0]`.
    Index(usize),
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Key::Field(name) if is_name(name) => write!(f, ".{name}"),
            Key::Field(name) => write!(f, "[{}]", Value::from(name.as_str())),
            Key::Index(i) => write!(f, "[{i}]"),
        }
    }
}

/// Whether `name` can be written after a `.` (else it is written `["name"]`).
fn is_name(name: &str) -> bool {
    name.starts_with(starts_word) && name.chars().all(in_word)
}

impl Path {
    /// The path up to (not including) segment `n`, as written in messages.
    pub fn prefix(&self, n: usize) -> String {
        let mut out = self.root.clone();
        for segment in self.segments.iter().take(n) {
            out.push_str(&segment.key.to_string());
        }
        out
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.prefix(self.segments.len()))
    }
}

impl Expr {
    /// Where the expression is in the text it was parsed from (byte offsets).
    pub fn span(&self) -> Range<usize> {
        self.span.clone()
    }

    /// The function this expression calls, if it is a call.
    pub fn function(&self) -> Option<Function> {
        match &self.kind {
            ExprKind::Call(call) => Some(call.function),
            _ => None,
        }
    }

    /// Every path in the expression, in the order written.
    pub fn paths(&self) -> Vec<&Path> {
        let mut out = Vec::new();
        self.collect_paths(&mut out);
        out
    }

    fn collect_paths<'a>(&'a self, out: &mut Vec<&'a Path>) {
        match &self.kind {
            ExprKind::Literal(_) => {}
            ExprKind::Path(path) => out.push(path),
            ExprKind::Not(inner) => inner.collect_paths(out),
            ExprKind::And(a, b) | ExprKind::Or(a, b) | ExprKind::Compare(_, a, b) => {
                a.collect_paths(out);
                b.collect_paths(out);
            }
            ExprKind::Call(call) => call.args.iter().for_each(|arg| arg.collect_paths(out)),
        }
    }
}

/// Parses a whole text as one expression (a `when` condition).
pub fn parse(text: &str) -> Result<Expr, SyntaxError> {
    parser::whole(text)
}
