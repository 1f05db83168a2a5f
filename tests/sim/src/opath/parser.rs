//! Recursive-descent parser from tokens to the compiled filter tree, with
//! Exchange-style error positions.

use std::iter::Peekable;
use std::vec::IntoIter;

use super::eval::{Comparison, Node};
use super::lexer::{Token, TokenKind, tokenize};
use super::{FilterError, SyntaxReason};

/// How deeply parentheses and `-not` may nest; bounds recursion in the parser
/// and the evaluator.
const MAX_DEPTH: usize = 100;

/// Parses a whole filter, optionally wrapped in `{ }`.
pub(super) fn parse(text: &str) -> Result<Node, FilterError> {
    let tokens = tokenize(text)?;
    let mut parser = Parser {
        text,
        end: text.chars().count() + 1,
        tokens: tokens.into_iter().peekable(),
        depth: 0,
    };
    parser.filter()
}

/// Parsing state over the token stream.
struct Parser<'t> {
    /// The whole filter, for error messages.
    text: &'t str,
    /// Position reported when the filter ends early: one past the last char.
    end: usize,
    /// Tokens not yet consumed.
    tokens: Peekable<IntoIter<Token>>,
    /// Current nesting of parentheses and `-not`.
    depth: usize,
}

impl Parser<'_> {
    /// A syntax error at `position`.
    fn error(&self, position: usize, reason: SyntaxReason) -> FilterError {
        FilterError::syntax(self.text, position, reason)
    }

    /// A syntax error at the end of the filter.
    fn unexpected_end(&self) -> FilterError {
        self.error(self.end, SyntaxReason::UnexpectedEnd)
    }

    /// The error for `token` appearing after a complete expression.
    fn trailing(&self, token: &Token) -> FilterError {
        let reason = match token.kind {
            TokenKind::RParen => SyntaxReason::UnbalancedParenthesis,
            TokenKind::LBrace | TokenKind::RBrace => SyntaxReason::MisplacedBrace,
            _ => SyntaxReason::ExpectedLogicalOperator,
        };
        self.error(token.position, reason)
    }

    /// Consumes the next token if it is `kind`.
    fn eat(&mut self, kind: &TokenKind) -> bool {
        self.tokens.next_if(|token| token.kind == *kind).is_some()
    }

    /// `filter := expression | '{' expression '}'`, then the end of the text.
    fn filter(&mut self) -> Result<Node, FilterError> {
        let open = match self.tokens.peek() {
            None => {
                return Err(FilterError::Empty {
                    filter: self.text.to_owned(),
                });
            }
            Some(Token {
                kind: TokenKind::LBrace,
                position,
            }) => *position,
            Some(_) => {
                let node = self.expression()?;
                return match self.tokens.next() {
                    None => Ok(node),
                    Some(token) => Err(self.trailing(&token)),
                };
            }
        };
        self.tokens.next();
        if self.eat(&TokenKind::RBrace) {
            return match self.tokens.next() {
                None => Err(FilterError::Empty {
                    filter: self.text.to_owned(),
                }),
                Some(token) => Err(self.error(token.position, SyntaxReason::MisplacedBrace)),
            };
        }
        let node = self.expression()?;
        match self.tokens.next() {
            Some(Token {
                kind: TokenKind::RBrace,
                ..
            }) => {}
            Some(token) => return Err(self.trailing(&token)),
            None => return Err(self.error(open, SyntaxReason::UnbalancedBrace)),
        }
        match self.tokens.next() {
            None => Ok(node),
            Some(token) => Err(self.error(token.position, SyntaxReason::MisplacedBrace)),
        }
    }

    /// `expression := and ('-or' and)*`
    fn expression(&mut self) -> Result<Node, FilterError> {
        let mut terms = vec![self.conjunction()?];
        while self.eat(&TokenKind::Or) {
            terms.push(self.conjunction()?);
        }
        Ok(combine(terms, Node::Any))
    }

    /// `and := unary ('-and' unary)*`
    fn conjunction(&mut self) -> Result<Node, FilterError> {
        let mut factors = vec![self.unary()?];
        while self.eat(&TokenKind::And) {
            factors.push(self.unary()?);
        }
        Ok(combine(factors, Node::All))
    }

    /// `unary := '-not' unary | '(' expression ')' | comparison`
    fn unary(&mut self) -> Result<Node, FilterError> {
        let Some(token) = self.tokens.next() else {
            return Err(self.unexpected_end());
        };
        match token.kind {
            TokenKind::Not => {
                self.enter(token.position)?;
                let inner = self.unary()?;
                self.depth -= 1;
                Ok(Node::Not(Box::new(inner)))
            }
            TokenKind::LParen => {
                self.enter(token.position)?;
                let inner = self.expression()?;
                self.depth -= 1;
                match self.tokens.next() {
                    Some(Token {
                        kind: TokenKind::RParen,
                        ..
                    }) => Ok(inner),
                    None
                    | Some(Token {
                        kind: TokenKind::RBrace,
                        ..
                    }) => Err(self.error(token.position, SyntaxReason::UnbalancedParenthesis)),
                    Some(other) => Err(self.trailing(&other)),
                }
            }
            TokenKind::Word(name) if is_property_name(&name) => self.comparison(name),
            TokenKind::LBrace | TokenKind::RBrace => {
                Err(self.error(token.position, SyntaxReason::MisplacedBrace))
            }
            _ => Err(self.error(token.position, SyntaxReason::ExpectedProperty)),
        }
    }

    /// `comparison := Property operator operand`, after the property.
    fn comparison(&mut self, property: String) -> Result<Node, FilterError> {
        let operator = match self.tokens.next() {
            Some(Token {
                kind: TokenKind::Operator(operator),
                ..
            }) => operator,
            Some(token) => return Err(self.error(token.position, SyntaxReason::ExpectedOperator)),
            None => return Err(self.unexpected_end()),
        };
        let operand = match self.tokens.next() {
            Some(Token {
                kind: TokenKind::Quoted(text) | TokenKind::Word(text),
                ..
            }) => Some(text),
            Some(Token {
                kind: TokenKind::True,
                ..
            }) => Some("True".to_owned()),
            Some(Token {
                kind: TokenKind::False,
                ..
            }) => Some("False".to_owned()),
            Some(Token {
                kind: TokenKind::Null,
                ..
            }) => None,
            Some(token) => return Err(self.error(token.position, SyntaxReason::ExpectedValue)),
            None => return Err(self.unexpected_end()),
        };
        Ok(Node::Compare(Comparison::new(
            property,
            operator,
            operand.as_deref(),
        )))
    }

    /// Enters one level of nesting at `position`, failing past [`MAX_DEPTH`].
    fn enter(&mut self, position: usize) -> Result<(), FilterError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error(position, SyntaxReason::TooDeep));
        }
        Ok(())
    }
}

/// A single node as itself, several combined with `make`.
fn combine(nodes: Vec<Node>, make: fn(Vec<Node>) -> Node) -> Node {
    match <[Node; 1]>::try_from(nodes) {
        Ok([node]) => node,
        Err(nodes) => make(nodes),
    }
}

/// Whether `word` is a property name: an ASCII letter or underscore, then
/// letters, digits or underscores.
fn is_property_name(word: &str) -> bool {
    let mut chars = word.chars();
    chars
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::opath::{PropertySource, Value};

    /// Renders the tree's shape with property names as leaves, e.g.
    /// `(or A (and B (not C)))`.
    fn shape(text: &str) -> String {
        fn render(node: &Node) -> String {
            let list = |name: &str, nodes: &[Node]| {
                let inner: Vec<String> = nodes.iter().map(render).collect();
                format!("({name} {})", inner.join(" "))
            };
            match node {
                Node::Any(nodes) => list("or", nodes),
                Node::All(nodes) => list("and", nodes),
                Node::Not(inner) => format!("(not {})", render(inner)),
                Node::Compare(comparison) => comparison.property.clone(),
            }
        }
        render(&parse(text).expect("filter parses"))
    }

    fn reason_at(text: &str) -> (usize, SyntaxReason) {
        match parse(text) {
            Err(FilterError::Syntax {
                position, reason, ..
            }) => (position, reason),
            other => panic!("expected a syntax error for {text:?}, got {other:?}"),
        }
    }

    /// A record where properties `A`..`D` hold the given booleans.
    struct Flags([bool; 4]);

    impl PropertySource for Flags {
        fn property(&self, name: &str) -> Option<Value<'_>> {
            let index = ["a", "b", "c", "d"]
                .iter()
                .position(|known| known.eq_ignore_ascii_case(name))?;
            Some(Value::Bool(self.0[index]))
        }
    }

    /// Evaluates a filter over every combination of `A`..`D` and compares
    /// with `expected`.
    fn truth_table(text: &str, expected: fn(bool, bool, bool, bool) -> bool) {
        let node = parse(text).expect("filter parses");
        for bits in 0..16 {
            let flags = [bits & 1 != 0, bits & 2 != 0, bits & 4 != 0, bits & 8 != 0];
            let [a, b, c, d] = flags;
            assert_eq!(
                node.matches(&Flags(flags)),
                expected(a, b, c, d),
                "{text} with {flags:?}"
            );
        }
    }

    #[test]
    fn single_comparison() {
        assert_eq!(shape("A -eq 1"), "A");
    }

    #[test]
    fn and_binds_tighter_than_or() {
        assert_eq!(
            shape("A -eq 1 -or B -eq 1 -and C -eq 1"),
            "(or A (and B C))"
        );
        assert_eq!(
            shape("A -eq 1 -and B -eq 1 -or C -eq 1"),
            "(or (and A B) C)"
        );
        truth_table(
            "A -eq $true -or B -eq $true -and C -eq $true",
            |a, b, c, _| a || (b && c),
        );
    }

    #[test]
    fn chains_are_flat() {
        assert_eq!(
            shape("A -eq 1 -and B -eq 1 -and C -eq 1 -or D -eq 1 -or A -eq 2"),
            "(or (and A B C) D A)"
        );
    }

    #[test]
    fn parentheses_override_precedence() {
        assert_eq!(
            shape("(A -eq 1 -or B -eq 1) -and C -eq 1"),
            "(and (or A B) C)"
        );
        truth_table(
            "(A -eq $true -or B -eq $true) -and C -eq $true",
            |a, b, c, _| (a || b) && c,
        );
    }

    #[test]
    fn not_applies_to_the_next_unary() {
        assert_eq!(shape("-not A -eq 1 -and B -eq 1"), "(and (not A) B)");
        assert_eq!(shape("-not (A -eq 1 -and B -eq 1)"), "(not (and A B))");
        assert_eq!(shape("-not -not A -eq 1"), "(not (not A))");
        truth_table("-not A -eq $true -and B -eq $true", |a, b, _, _| !a && b);
        truth_table("-not (A -eq $true -and B -eq $true)", |a, b, _, _| {
            !(a && b)
        });
        truth_table("-NOT -Not A -eq $true", |a, _, _, _| a);
    }

    #[test]
    fn nested_groups() {
        assert_eq!(
            shape("((A -eq 1) -and (-not (B -eq 1 -or (C -eq 1 -and D -eq 1))))"),
            "(and A (not (or B (and C D))))"
        );
        truth_table(
            "((A -eq $true) -and (-not (B -eq $true -or (C -eq $true -and D -eq $true))))",
            |a, b, c, d| a && !(b || (c && d)),
        );
    }

    #[test]
    fn braces_wrap_the_whole_filter() {
        assert_eq!(shape("{A -eq 1 -or B -eq 1}"), "(or A B)");
        assert_eq!(shape("  {  (A -eq 1)  }  "), "A");
        truth_table("{ A -eq $true -and -not (B -eq $false) }", |a, b, _, _| {
            a && b
        });
    }

    #[test]
    fn every_operand_form_is_accepted() {
        for text in [
            "A -eq 'x'",
            "A -eq \"x\"",
            "A -eq x",
            "A -eq 42",
            "A -eq -42",
            "A -eq $true",
            "A -eq $false",
            "A -eq $null",
            "A -like 'x*'",
            "A -notlike $null",
        ] {
            assert_eq!(shape(text), "A", "{text}");
        }
    }

    #[test]
    fn true_false_operands_match_bool_and_text_spellings() {
        truth_table("A -eq 'TRUE' -and B -eq 'false'", |a, b, _, _| a && !b);
        truth_table("A -eq True -or B -ne $false", |a, b, _, _| a || b);
    }

    #[test]
    fn property_names_allow_underscore_and_digits() {
        assert_eq!(
            shape("_x -eq 1 -or CustomAttribute15 -eq 1"),
            "(or _x CustomAttribute15)"
        );
    }

    #[test]
    fn empty_filters() {
        for text in ["", "  ", "{}", " { } "] {
            assert_eq!(
                parse(text).expect_err("empty"),
                FilterError::Empty {
                    filter: text.to_owned()
                },
                "{text:?}"
            );
        }
    }

    #[test]
    fn error_carries_the_whole_filter_text() {
        let text = "  A -eq";
        assert_eq!(
            parse(text).expect_err("incomplete"),
            FilterError::Syntax {
                filter: text.to_owned(),
                position: 8,
                reason: SyntaxReason::UnexpectedEnd,
            }
        );
    }

    #[test]
    fn missing_operator() {
        assert_eq!(
            reason_at("DisplayName 'Ann'"),
            (13, SyntaxReason::ExpectedOperator)
        );
        assert_eq!(
            reason_at("A -and B -eq 1"),
            (3, SyntaxReason::ExpectedOperator)
        );
        assert_eq!(reason_at("A B"), (3, SyntaxReason::ExpectedOperator));
    }

    #[test]
    fn missing_property() {
        assert_eq!(reason_at("-eq 1"), (1, SyntaxReason::ExpectedProperty));
        assert_eq!(reason_at("'A' -eq 1"), (1, SyntaxReason::ExpectedProperty));
        assert_eq!(reason_at("1A -eq 1"), (1, SyntaxReason::ExpectedProperty));
        assert_eq!(reason_at("Name-eq 1"), (1, SyntaxReason::ExpectedProperty));
        assert_eq!(reason_at("()"), (2, SyntaxReason::ExpectedProperty));
        assert_eq!(
            reason_at("A -eq 1 -and -or B -eq 1"),
            (14, SyntaxReason::ExpectedProperty)
        );
        assert_eq!(reason_at("$true"), (1, SyntaxReason::ExpectedProperty));
    }

    #[test]
    fn missing_value() {
        assert_eq!(reason_at("A -eq -and"), (7, SyntaxReason::ExpectedValue));
        assert_eq!(reason_at("A -eq (1)"), (7, SyntaxReason::ExpectedValue));
        assert_eq!(reason_at("A -eq -like"), (7, SyntaxReason::ExpectedValue));
    }

    #[test]
    fn unexpected_end_points_past_the_last_character() {
        assert_eq!(reason_at("A"), (2, SyntaxReason::UnexpectedEnd));
        assert_eq!(reason_at("A -eq "), (7, SyntaxReason::UnexpectedEnd));
        assert_eq!(reason_at("A -eq 1 -and"), (13, SyntaxReason::UnexpectedEnd));
        assert_eq!(reason_at("A -eq 1 -or "), (13, SyntaxReason::UnexpectedEnd));
        assert_eq!(reason_at("-not"), (5, SyntaxReason::UnexpectedEnd));
        assert_eq!(reason_at("("), (2, SyntaxReason::UnexpectedEnd));
        assert_eq!(reason_at("{"), (2, SyntaxReason::UnexpectedEnd));
        assert_eq!(
            reason_at("A -eq 'ü' -and"),
            (15, SyntaxReason::UnexpectedEnd)
        );
        assert_eq!(reason_at("Ä -eq 1"), (1, SyntaxReason::ExpectedProperty));
    }

    #[test]
    fn unbalanced_parentheses() {
        assert_eq!(
            reason_at("(A -eq 1 -and (B -eq 1)"),
            (1, SyntaxReason::UnbalancedParenthesis)
        );
        assert_eq!(
            reason_at("A -eq 1)"),
            (8, SyntaxReason::UnbalancedParenthesis)
        );
        assert_eq!(
            reason_at("(A -eq 1))"),
            (10, SyntaxReason::UnbalancedParenthesis)
        );
        assert_eq!(reason_at(")"), (1, SyntaxReason::ExpectedProperty));
    }

    #[test]
    fn braces_only_around_the_whole_filter() {
        assert_eq!(reason_at("{A -eq 1"), (1, SyntaxReason::UnbalancedBrace));
        assert_eq!(reason_at("A -eq 1}"), (8, SyntaxReason::MisplacedBrace));
        assert_eq!(
            reason_at("{A -eq 1} -or B -eq 1"),
            (11, SyntaxReason::MisplacedBrace)
        );
        assert_eq!(reason_at("{} A -eq 1"), (4, SyntaxReason::MisplacedBrace));
        assert_eq!(
            reason_at("A -eq 1 -or {B -eq 1}"),
            (13, SyntaxReason::MisplacedBrace)
        );
        assert_eq!(reason_at("{{A -eq 1}}"), (2, SyntaxReason::MisplacedBrace));
        assert_eq!(
            reason_at("{(A -eq 1}"),
            (2, SyntaxReason::UnbalancedParenthesis)
        );
        assert_eq!(
            reason_at("{A -eq 1)}"),
            (9, SyntaxReason::UnbalancedParenthesis)
        );
    }

    #[test]
    fn trailing_tokens_need_a_logical_operator() {
        assert_eq!(
            reason_at("A -eq 1 B -eq 2"),
            (9, SyntaxReason::ExpectedLogicalOperator)
        );
        assert_eq!(
            reason_at("A -eq 1 -eq 2"),
            (9, SyntaxReason::ExpectedLogicalOperator)
        );
        assert_eq!(
            reason_at("(A -eq 1 'x')"),
            (10, SyntaxReason::ExpectedLogicalOperator)
        );
        assert_eq!(
            reason_at("{A -eq 1 -not}"),
            (10, SyntaxReason::ExpectedLogicalOperator)
        );
    }

    #[test]
    fn lexer_errors_pass_through() {
        assert_eq!(
            reason_at("A -foo 1"),
            (3, SyntaxReason::UnknownOperator("-foo".to_owned()))
        );
        assert_eq!(reason_at("A -eq 'x"), (7, SyntaxReason::UnterminatedString));
    }

    #[test]
    fn nesting_is_bounded() {
        let deep_ok = format!("{}A -eq 1{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
        assert_eq!(shape(&deep_ok), "A");
        let too_deep = format!(
            "{}A -eq 1{}",
            "(".repeat(MAX_DEPTH + 1),
            ")".repeat(MAX_DEPTH + 1)
        );
        assert_eq!(reason_at(&too_deep), (MAX_DEPTH + 1, SyntaxReason::TooDeep));
        let nots = format!("{}A -eq 1", "-not ".repeat(MAX_DEPTH + 1));
        assert_eq!(reason_at(&nots), (MAX_DEPTH * 5 + 1, SyntaxReason::TooDeep));
    }

    #[test]
    fn depth_is_released_after_each_group() {
        let siblings = vec!["(A -eq 1)"; MAX_DEPTH * 2].join(" -and ");
        assert!(parse(&siblings).is_ok());
    }

    #[test]
    fn long_flat_chains_parse() {
        let chain = vec!["A -eq 1"; 10_000].join(" -or ");
        assert!(parse(&chain).is_ok());
    }
}
