//! The parser of expressions: recursive descent over tokens read one at a time, so a `${…}`
//! ends at its `}` (see [`super::expr`] for the grammar).

use std::ops::Range;

use serde_json::Value;

use super::expr::{Call, Comparison, Expr, ExprKind, Key, Path, Segment, SyntaxError};
use super::functions::Function;
use super::lexer::{self, Tok, Token};
use super::suggest::closest;

/// Parentheses and `not`s nested deeper than this are refused rather than risking the stack.
const MAX_DEPTH: usize = 64;

/// Parses a whole text as one expression.
pub(super) fn whole(text: &str) -> Result<Expr, SyntaxError> {
    let mut parser = Parser::new(text, 0);
    if parser.peek()?.is_none() {
        return Err(SyntaxError::new(
            0,
            "the expression is empty",
            "write a condition, e.g. inputs.notify or steps.lookup.output.found",
        ));
    }
    let expr = parser.expr()?;
    match parser.bump()? {
        None => Ok(expr),
        Some(token) => Err(after_value(&token)),
    }
}

/// Parses the expression of a `${…}` whose `${` ends at byte `start` of `text`, up to its `}`;
/// returns it and the offset just after the `}`.
pub(super) fn parse_embedded(text: &str, start: usize) -> Result<(Expr, usize), SyntaxError> {
    let opening = start.saturating_sub(2);
    let unclosed = || SyntaxError::new(opening, "this ${ is not closed", "end it with }");
    let mut parser = Parser::new(text, start);
    match parser.peek()? {
        None => return Err(unclosed()),
        Some(Token {
            tok: Tok::Close, ..
        }) => {
            return Err(SyntaxError::new(
                opening,
                "${} is empty",
                "write a value inside, e.g. ${inputs.user}; for a literal ${ write $${",
            ));
        }
        Some(_) => {}
    }
    let expr = parser.expr()?;
    match parser.bump()? {
        Some(Token {
            tok: Tok::Close,
            span,
        }) => Ok((expr, span.end)),
        None => Err(unclosed()),
        Some(token) => Err(after_value(&token)),
    }
}

/// The error for a token that follows a complete expression.
fn after_value(token: &Token) -> SyntaxError {
    SyntaxError::new(
        token.span.start,
        format!("unexpected {} after a complete value", token.tok.shown()),
        "join values with a comparison (== != < <= > >=), and, or",
    )
}

/// Whether `tok` is the keyword `word`.
fn is_word(tok: &Tok, word: &str) -> bool {
    matches!(tok, Tok::Word(w) if w == word)
}

/// A recursive-descent parser over tokens read one at a time.
struct Parser<'a> {
    text: &'a str,
    pos: usize,
    peeked: Option<Token>,
    depth: usize,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str, pos: usize) -> Parser<'a> {
        Parser {
            text,
            pos,
            peeked: None,
            depth: 0,
        }
    }

    fn peek(&mut self) -> Result<Option<&Token>, SyntaxError> {
        if self.peeked.is_none() {
            self.peeked = lexer::next(self.text, self.pos)?;
            if let Some(token) = &self.peeked {
                self.pos = token.span.end;
            }
        }
        Ok(self.peeked.as_ref())
    }

    fn bump(&mut self) -> Result<Option<Token>, SyntaxError> {
        self.peek()?;
        Ok(self.peeked.take())
    }

    /// Takes the next token if `wanted` accepts it.
    fn eat(&mut self, wanted: impl Fn(&Tok) -> bool) -> Result<Option<Token>, SyntaxError> {
        match self.peek()? {
            Some(token) if wanted(&token.tok) => self.bump(),
            _ => Ok(None),
        }
    }

    fn deeper(&mut self, at: usize) -> Result<(), SyntaxError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(SyntaxError::new(
                at,
                "the expression is nested too deeply",
                format!("use at most {MAX_DEPTH} levels of parentheses and not"),
            ));
        }
        Ok(())
    }

    fn expr(&mut self) -> Result<Expr, SyntaxError> {
        self.or()
    }

    fn or(&mut self) -> Result<Expr, SyntaxError> {
        let mut left = self.and(None)?;
        while let Some(op) = self.eat(|t| matches!(t, Tok::OrOr) || is_word(t, "or"))? {
            let right = self.and(Some(&op))?;
            left = joined(left, right, ExprKind::Or);
        }
        Ok(left)
    }

    fn and(&mut self, after: Option<&Token>) -> Result<Expr, SyntaxError> {
        let mut left = self.not(after)?;
        while let Some(op) = self.eat(|t| matches!(t, Tok::AndAnd) || is_word(t, "and"))? {
            let right = self.not(Some(&op))?;
            left = joined(left, right, ExprKind::And);
        }
        Ok(left)
    }

    fn not(&mut self, after: Option<&Token>) -> Result<Expr, SyntaxError> {
        match self.eat(|t| matches!(t, Tok::Bang) || is_word(t, "not"))? {
            Some(op) => {
                self.deeper(op.span.start)?;
                let inner = self.not(Some(&op))?;
                self.depth -= 1;
                Ok(Expr {
                    span: op.span.start..inner.span.end,
                    kind: ExprKind::Not(Box::new(inner)),
                })
            }
            None => self.comparison(after),
        }
    }

    fn comparison(&mut self, after: Option<&Token>) -> Result<Expr, SyntaxError> {
        let left = self.value(after)?;
        let Some(op) = self.eat(|t| Comparison::of(t).is_some())? else {
            return Ok(left);
        };
        let right = self.value(Some(&op))?;
        if let Some(next) = self.eat(|t| Comparison::of(t).is_some())? {
            return Err(SyntaxError::new(
                next.span.start,
                "comparisons do not chain",
                "write a < b and b < c",
            ));
        }
        let comparison = Comparison::of(&op.tok).unwrap_or(Comparison::Eq);
        Ok(joined(left, right, |a, b| {
            ExprKind::Compare(comparison, a, b)
        }))
    }

    fn value(&mut self, after: Option<&Token>) -> Result<Expr, SyntaxError> {
        let after_text = after.map_or(String::new(), |t| format!(" after {}", t.tok.shown()));
        let expected = |found: String, at: usize| {
            SyntaxError::new(
                at,
                format!("expected a value{after_text}, found {found}"),
                "e.g. inputs.user, steps.lookup.output.found, 'text', 3, true",
            )
        };
        let Some(token) = self.bump()? else {
            return Err(expected("the end".into(), self.text.len()));
        };
        let literal = |value: Value| {
            Ok(Expr {
                kind: ExprKind::Literal(value),
                span: token.span.clone(),
            })
        };
        match &token.tok {
            Tok::Word(w) if w == "true" => literal(Value::Bool(true)),
            Tok::Word(w) if w == "false" => literal(Value::Bool(false)),
            Tok::Word(w) if w == "null" => literal(Value::Null),
            Tok::Word(w) if w == "and" || w == "or" || w == "not" => {
                Err(expected(token.tok.shown(), token.span.start))
            }
            Tok::Word(w)
                if matches!(
                    self.peek()?,
                    Some(Token {
                        tok: Tok::LParen,
                        ..
                    })
                ) =>
            {
                self.call(w, token.span.clone())
            }
            Tok::Word(w) => self.path(w.clone(), token.span.clone()),
            Tok::Text(t) => literal(Value::String(t.clone())),
            Tok::Number(n) => literal(Value::Number(n.clone())),
            Tok::LParen => {
                self.deeper(token.span.start)?;
                let inner = self.expr()?;
                self.depth -= 1;
                match self.eat(|t| matches!(t, Tok::RParen))? {
                    Some(close) => Ok(Expr {
                        kind: inner.kind,
                        span: token.span.start..close.span.end,
                    }),
                    None => Err(SyntaxError::new(
                        token.span.start,
                        "this ( is not closed",
                        "add ) after what it encloses",
                    )),
                }
            }
            other => Err(expected(other.shown(), token.span.start)),
        }
    }

    /// A call of the function `name` (written at `name_span`), whose `(` is next.
    fn call(&mut self, name: &str, name_span: Range<usize>) -> Result<Expr, SyntaxError> {
        let Some(function) = Function::named(name) else {
            let names = Function::ALL.map(Function::name);
            return Err(SyntaxError::new(
                name_span.start,
                format!("there is no function '{name}'"),
                match closest(name, names) {
                    Some(near) => format!("did you mean {near}(…)?"),
                    None => format!("the functions are {}", names.join(" and ")),
                },
            ));
        };
        let Some(open) = self.bump()? else {
            return Err(SyntaxError::new(
                name_span.end,
                "expected ( after a function's name",
                format!("write {}", function.example()),
            ));
        };
        self.deeper(open.span.start)?;
        let mut args = Vec::new();
        let close = match self.eat(|t| matches!(t, Tok::RParen))? {
            Some(close) => close,
            None => loop {
                args.push(self.expr()?);
                if self.eat(|t| matches!(t, Tok::Comma))?.is_some() {
                    continue;
                }
                match self.bump()? {
                    Some(
                        close @ Token {
                            tok: Tok::RParen, ..
                        },
                    ) => break close,
                    Some(Token {
                        tok: Tok::Close, ..
                    })
                    | None => {
                        return Err(SyntaxError::new(
                            open.span.start,
                            format!("this ( of {name}(…) is not closed"),
                            "add ) after its values, separated by commas",
                        ));
                    }
                    Some(token) => return Err(after_value(&token)),
                }
            },
        };
        self.depth -= 1;
        if args.len() != function.arity() {
            return Err(SyntaxError::new(
                name_span.start,
                format!(
                    "{name}(…) takes {} value{}, and {} {} given",
                    function.arity(),
                    if function.arity() == 1 { "" } else { "s" },
                    args.len(),
                    if args.len() == 1 { "is" } else { "are" }
                ),
                format!("write {}", function.example()),
            ));
        }
        let span = name_span.start..close.span.end;
        Ok(Expr {
            kind: ExprKind::Call(Call {
                function,
                args,
                written: self.text[span.clone()].to_string(),
            }),
            span,
        })
    }

    fn path(&mut self, root: String, root_span: Range<usize>) -> Result<Expr, SyntaxError> {
        let mut segments = Vec::new();
        let mut end = root_span.end;
        loop {
            if let Some(dot) = self.eat(|t| matches!(t, Tok::Dot))? {
                let name = self.bump()?;
                let (key, span) = match name {
                    Some(Token {
                        tok: Tok::Word(w),
                        span,
                    }) => (Key::Field(w), span),
                    Some(Token {
                        tok: Tok::Number(n),
                        span,
                    }) => {
                        return Err(SyntaxError::new(
                            span.start,
                            format!("'.{n}' is not a field name"),
                            format!("take item {n} of a list with [{n}]"),
                        ));
                    }
                    _ => {
                        return Err(SyntaxError::new(
                            dot.span.end,
                            "expected a field name after '.'",
                            "e.g. steps.lookup.output",
                        ));
                    }
                };
                end = span.end;
                segments.push(Segment { key, span });
            } else if let Some(open) = self.eat(|t| matches!(t, Tok::LBracket))? {
                let inside = self.bump()?;
                let key = match inside.map(|t| t.tok) {
                    Some(Tok::Text(key)) => Key::Field(key),
                    Some(Tok::Number(n)) if n.as_u64().is_some() => Key::Index(
                        n.as_u64()
                            .and_then(|i| usize::try_from(i).ok())
                            .unwrap_or(usize::MAX),
                    ),
                    _ => {
                        return Err(SyntaxError::new(
                            open.span.start,
                            "expected a list position or a quoted key inside [ ]",
                            "e.g. steps.list.records[0] or item[\"Display Name\"]",
                        ));
                    }
                };
                let Some(close) = self.eat(|t| matches!(t, Tok::RBracket))? else {
                    return Err(SyntaxError::new(
                        open.span.start,
                        "this [ is not closed",
                        "add ] after the position or key",
                    ));
                };
                end = close.span.end;
                segments.push(Segment {
                    key,
                    span: open.span.start..close.span.end,
                });
            } else {
                break;
            }
        }
        Ok(Expr {
            span: root_span.start..end,
            kind: ExprKind::Path(Path {
                root,
                root_span,
                segments,
            }),
        })
    }
}

/// `a` and `b` joined by `make`, spanning both.
fn joined(a: Expr, b: Expr, make: impl FnOnce(Box<Expr>, Box<Expr>) -> ExprKind) -> Expr {
    Expr {
        span: a.span.start..b.span.end,
        kind: make(Box::new(a), Box::new(b)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflow::expr::parse;

    /// The expression's shape, fully parenthesised.
    fn shape(e: &Expr) -> String {
        match &e.kind {
            ExprKind::Literal(v) => v.to_string(),
            ExprKind::Path(p) => p.to_string(),
            ExprKind::Not(x) => format!("(not {})", shape(x)),
            ExprKind::And(a, b) => format!("({} and {})", shape(a), shape(b)),
            ExprKind::Or(a, b) => format!("({} or {})", shape(a), shape(b)),
            ExprKind::Compare(op, a, b) => {
                format!("({} {} {})", shape(a), op.symbol(), shape(b))
            }
            ExprKind::Call(call) => {
                let args: Vec<String> = call.args.iter().map(shape).collect();
                format!("{}({})", call.function.name(), args.join(", "))
            }
        }
    }

    fn parsed(text: &str) -> String {
        shape(&parse(text).unwrap_or_else(|e| panic!("{text}: {e}")))
    }

    #[test]
    fn precedence_is_or_then_and_then_not_then_comparison() {
        assert_eq!(
            parsed("a or b and not c == 1"),
            "(a or (b and (not (c == 1))))"
        );
        assert_eq!(parsed("!a && b || c"), "(((not a) and b) or c)");
        assert_eq!(parsed("(a or b) and c"), "((a or b) and c)");
        assert_eq!(parsed("not not a"), "(not (not a))");
        assert_eq!(parsed("a != 'x' or b >= -2"), "((a != \"x\") or (b >= -2))");
    }

    #[test]
    fn paths_take_fields_positions_and_quoted_keys() {
        assert_eq!(
            parsed(r#"steps.get-users.records[0]["Display Name"].x_y"#),
            r#"steps.get-users.records[0]["Display Name"].x_y"#
        );
        // Keywords are field names after a dot.
        assert_eq!(parsed("item.and.null"), "item.and.null");
        assert_eq!(parsed("true and null"), "(true and null)");
        let e = parse("steps.a.output == inputs.b").unwrap();
        let paths: Vec<String> = e.paths().iter().map(|p| p.to_string()).collect();
        assert_eq!(paths, ["steps.a.output", "inputs.b"]);
        let path = e.paths()[0];
        assert_eq!(path.prefix(1), "steps.a");
        assert_eq!(path.segments[1].span, 8..14);
        assert_eq!(e.span(), 0..26);
    }

    #[test]
    fn mistakes_point_at_the_character_and_say_what_to_write() {
        let cases = [
            ("", 0, "the expression is empty"),
            ("a ==", 4, "expected a value after '==', found the end"),
            ("a and", 5, "expected a value after 'and', found the end"),
            ("a b", 2, "unexpected 'b' after a complete value"),
            ("(a or b", 0, "this ( is not closed"),
            ("a < b < c", 6, "comparisons do not chain"),
            ("a.", 2, "expected a field name after '.'"),
            ("a.0", 2, "'.0' is not a field name"),
            (
                "a[x]",
                1,
                "expected a list position or a quoted key inside [ ]",
            ),
            ("a[0", 1, "this [ is not closed"),
            ("and", 0, "expected a value, found 'and'"),
        ];
        for (text, at, what) in cases {
            let e = parse(text).unwrap_err();
            assert_eq!((e.at, e.what.as_str()), (at, what), "{text}");
        }
        let deep = format!("{}a{}", "(".repeat(100), ")".repeat(100));
        assert!(parse(&deep).unwrap_err().what.contains("nested too deeply"));
        let nots = format!("{}a", "not ".repeat(100));
        assert!(parse(&nots).unwrap_err().what.contains("nested too deeply"));
    }

    #[test]
    fn calls_take_expressions_and_are_values() {
        assert_eq!(parsed("opath(inputs.user)"), "opath(inputs.user)");
        assert_eq!(
            parsed("opath_prefix( item[\"a b\"] ) == 'x' and not opath(1)"),
            "((opath_prefix(item[\"a b\"]) == \"x\") and (not opath(1)))"
        );
        assert_eq!(parsed("opath((a or b))"), "opath((a or b))");
        // A name followed by anything but ( is a path; a function's name as a field stays one.
        assert_eq!(parsed("opath"), "opath");
        assert_eq!(parsed("item.opath"), "item.opath");
        let e = parse("x == opath(steps.a.output)").unwrap();
        let paths: Vec<String> = e.paths().iter().map(|p| p.to_string()).collect();
        assert_eq!(paths, ["x", "steps.a.output"]);
        let (call, end) = parse_embedded("${opath(inputs.user)}!", 2).unwrap();
        assert_eq!(end, 21);
        assert_eq!(call.span(), 2..20);
        assert_eq!(call.function(), Some(Function::Opath));
    }

    #[test]
    fn mistaken_calls_say_what_to_write() {
        let cases = [
            (
                "opth(inputs.user)",
                0,
                "there is no function 'opth'",
                "did you mean opath(…)?",
            ),
            (
                "lower(inputs.user)",
                0,
                "there is no function 'lower'",
                "the functions are opath and opath_prefix",
            ),
            (
                "opath()",
                0,
                "opath(…) takes 1 value, and 0 are given",
                "write PrimarySmtpAddress -eq ${opath(inputs.user)}",
            ),
            (
                "x and opath_prefix(a, b)",
                6,
                "opath_prefix(…) takes 1 value, and 2 are given",
                "write DisplayName -like ${opath_prefix(inputs.name)}",
            ),
            (
                "opath(a",
                5,
                "this ( of opath(…) is not closed",
                "add ) after its values, separated by commas",
            ),
            (
                "opath(a b)",
                8,
                "unexpected 'b' after a complete value",
                "join values with a comparison (== != < <= > >=), and, or",
            ),
            (
                "opath(a,)",
                8,
                "expected a value, found ')'",
                "e.g. inputs.user, steps.lookup.output.found, 'text', 3, true",
            ),
        ];
        for (text, at, what, fix) in cases {
            let e = parse(text).unwrap_err();
            assert_eq!(
                (e.at, e.what.as_str(), e.fix.as_str()),
                (at, what, fix),
                "{text}"
            );
        }
        let deep = format!("{}a{}", "opath(".repeat(100), ")".repeat(100));
        assert!(parse(&deep).unwrap_err().what.contains("nested too deeply"));
    }

    #[test]
    fn an_embedded_expression_ends_at_its_brace() {
        let text = "x ${ a == '}' } y";
        let (e, end) = parse_embedded(text, 4).unwrap();
        assert_eq!(shape(&e), "(a == \"}\")");
        assert_eq!(&text[end..], " y");
        let e = parse_embedded("${a", 2).unwrap_err();
        assert_eq!((e.at, e.what.as_str()), (0, "this ${ is not closed"));
        let e = parse_embedded("ab${}", 4).unwrap_err();
        assert_eq!((e.at, e.what.as_str()), (2, "${} is empty"));
        let e = parse_embedded("${a b}", 2).unwrap_err();
        assert_eq!(e.at, 4);
    }
}
