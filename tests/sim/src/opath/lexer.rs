//! Splits filter text into tokens, each tagged with its 1-based character
//! position (characters, not bytes, as Exchange counts them).

use super::eval::{Operator, Relation};
use super::{FilterError, SyntaxReason};

/// What a token is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum TokenKind {
    /// `(`
    LParen,
    /// `)`
    RParen,
    /// `{`
    LBrace,
    /// `}`
    RBrace,
    /// `-and`
    And,
    /// `-or`
    Or,
    /// `-not`
    Not,
    /// A comparison operator such as `-eq` or `-like`.
    Operator(Operator),
    /// An unquoted run of characters: a property name or a bare-word value.
    Word(String),
    /// A single- or double-quoted string, with doubled quotes unescaped.
    Quoted(String),
    /// `$true`
    True,
    /// `$false`
    False,
    /// `$null`
    Null,
}

/// A token and where it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Token {
    /// What the token is.
    pub(super) kind: TokenKind,
    /// 1-based character position of its first character.
    pub(super) position: usize,
}

/// Splits `text` into tokens.
pub(super) fn tokenize(text: &str) -> Result<Vec<Token>, FilterError> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut index = 0;
    while let Some(&c) = chars.get(index) {
        if c.is_whitespace() {
            index += 1;
            continue;
        }
        let position = index + 1;
        let (kind, next) = match c {
            '(' => (TokenKind::LParen, index + 1),
            ')' => (TokenKind::RParen, index + 1),
            '{' => (TokenKind::LBrace, index + 1),
            '}' => (TokenKind::RBrace, index + 1),
            '\'' | '"' => quoted(&chars, index).ok_or_else(|| {
                FilterError::syntax(text, position, SyntaxReason::UnterminatedString)
            })?,
            '$' => {
                let end = run_end(&chars, index + 1, is_name_char);
                let kind = variable(&chars[index + 1..end]).ok_or_else(|| {
                    let written = chars[index..end].iter().collect();
                    FilterError::syntax(text, position, SyntaxReason::UnknownVariable(written))
                })?;
                (kind, end)
            }
            '-' if chars.get(index + 1).is_some_and(char::is_ascii_alphabetic) => {
                let end = run_end(&chars, index + 1, |c| c.is_ascii_alphanumeric());
                let kind = keyword(&chars[index + 1..end]).ok_or_else(|| {
                    let written = chars[index..end].iter().collect();
                    FilterError::syntax(text, position, SyntaxReason::UnknownOperator(written))
                })?;
                (kind, end)
            }
            _ => {
                let end = run_end(&chars, index, is_word_char);
                (TokenKind::Word(chars[index..end].iter().collect()), end)
            }
        };
        tokens.push(Token { kind, position });
        index = next;
    }
    Ok(tokens)
}

/// Reads a string quoted by `chars[start]`, where a doubled quote stands for
/// one; returns the token and the index after the closing quote, or `None`
/// if the string is not closed.
fn quoted(chars: &[char], start: usize) -> Option<(TokenKind, usize)> {
    let quote = chars[start];
    let mut value = String::new();
    let mut index = start + 1;
    loop {
        let c = *chars.get(index)?;
        if c == quote {
            if chars.get(index + 1) != Some(&quote) {
                return Some((TokenKind::Quoted(value), index + 1));
            }
            index += 1;
        }
        value.push(c);
        index += 1;
    }
}

/// The token for `$name`, if it is `$true`, `$false` or `$null` (any case).
fn variable(name: &[char]) -> Option<TokenKind> {
    let name: String = name.iter().collect::<String>().to_ascii_lowercase();
    match name.as_str() {
        "true" => Some(TokenKind::True),
        "false" => Some(TokenKind::False),
        "null" => Some(TokenKind::Null),
        _ => None,
    }
}

/// The token for `-name`, if it is a known operator (any case).
fn keyword(name: &[char]) -> Option<TokenKind> {
    let name: String = name.iter().collect::<String>().to_ascii_lowercase();
    let kind = match name.as_str() {
        "and" => TokenKind::And,
        "or" => TokenKind::Or,
        "not" => TokenKind::Not,
        "eq" => TokenKind::Operator(Operator::Relation(Relation::Eq)),
        "ne" => TokenKind::Operator(Operator::Relation(Relation::Ne)),
        "gt" => TokenKind::Operator(Operator::Relation(Relation::Gt)),
        "lt" => TokenKind::Operator(Operator::Relation(Relation::Lt)),
        "ge" => TokenKind::Operator(Operator::Relation(Relation::Ge)),
        "le" => TokenKind::Operator(Operator::Relation(Relation::Le)),
        "like" => TokenKind::Operator(Operator::Like { negated: false }),
        "notlike" => TokenKind::Operator(Operator::Like { negated: true }),
        _ => return None,
    };
    Some(kind)
}

/// Whether `c` may appear in a variable name.
fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Whether `c` continues a bare word: anything but whitespace, brackets,
/// braces and quotes.
fn is_word_char(c: char) -> bool {
    !c.is_whitespace() && !matches!(c, '(' | ')' | '{' | '}' | '\'' | '"')
}

/// The index of the first char at or after `start` that fails `accept`.
fn run_end(chars: &[char], start: usize, accept: impl Fn(char) -> bool) -> usize {
    chars[start..]
        .iter()
        .position(|&c| !accept(c))
        .map_or(chars.len(), |offset| start + offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<TokenKind> {
        tokenize(text)
            .expect("text tokenizes")
            .into_iter()
            .map(|token| token.kind)
            .collect()
    }

    fn word(text: &str) -> TokenKind {
        TokenKind::Word(text.to_owned())
    }

    fn quoted_token(text: &str) -> TokenKind {
        TokenKind::Quoted(text.to_owned())
    }

    fn reason_at(text: &str) -> (usize, SyntaxReason) {
        match tokenize(text) {
            Err(FilterError::Syntax {
                position, reason, ..
            }) => (position, reason),
            other => panic!("expected a syntax error for {text:?}, got {other:?}"),
        }
    }

    #[test]
    fn simple_comparison_with_positions() {
        let tokens = tokenize("Name -eq 'Ann'").expect("text tokenizes");
        assert_eq!(
            tokens,
            vec![
                Token {
                    kind: word("Name"),
                    position: 1
                },
                Token {
                    kind: TokenKind::Operator(Operator::Relation(Relation::Eq)),
                    position: 6
                },
                Token {
                    kind: quoted_token("Ann"),
                    position: 10
                },
            ]
        );
    }

    #[test]
    fn every_operator_and_keyword_in_any_case() {
        let text = "-EQ -ne -Gt -lT -ge -LE -like -NotLike -AND -or -Not";
        assert_eq!(
            kinds(text),
            vec![
                TokenKind::Operator(Operator::Relation(Relation::Eq)),
                TokenKind::Operator(Operator::Relation(Relation::Ne)),
                TokenKind::Operator(Operator::Relation(Relation::Gt)),
                TokenKind::Operator(Operator::Relation(Relation::Lt)),
                TokenKind::Operator(Operator::Relation(Relation::Ge)),
                TokenKind::Operator(Operator::Relation(Relation::Le)),
                TokenKind::Operator(Operator::Like { negated: false }),
                TokenKind::Operator(Operator::Like { negated: true }),
                TokenKind::And,
                TokenKind::Or,
                TokenKind::Not,
            ]
        );
    }

    #[test]
    fn variables_in_any_case() {
        assert_eq!(
            kinds("$true $FALSE $Null"),
            vec![TokenKind::True, TokenKind::False, TokenKind::Null]
        );
    }

    #[test]
    fn brackets_need_no_spaces() {
        assert_eq!(
            kinds("{-not(A -eq 1)}"),
            vec![
                TokenKind::LBrace,
                TokenKind::Not,
                TokenKind::LParen,
                word("A"),
                TokenKind::Operator(Operator::Relation(Relation::Eq)),
                word("1"),
                TokenKind::RParen,
                TokenKind::RBrace,
            ]
        );
    }

    #[test]
    fn operator_ends_at_a_quote() {
        assert_eq!(
            kinds("A -eq'x'"),
            vec![
                word("A"),
                TokenKind::Operator(Operator::Relation(Relation::Eq)),
                quoted_token("x"),
            ]
        );
    }

    #[test]
    fn bare_words_keep_punctuation_and_dashes() {
        assert_eq!(
            kinds("ann@contoso.com foo-bar -5 1/2/2024 2024-01-02T03:04:05Z a$b"),
            vec![
                word("ann@contoso.com"),
                word("foo-bar"),
                word("-5"),
                word("1/2/2024"),
                word("2024-01-02T03:04:05Z"),
                word("a$b"),
            ]
        );
    }

    #[test]
    fn lone_dash_is_a_word() {
        assert_eq!(kinds("- -"), vec![word("-"), word("-")]);
    }

    #[test]
    fn quoted_strings_unescape_doubled_quotes() {
        assert_eq!(
            kinds(r#"'O''Brien' "say ""hi""" 'a "b"' "it's" '' """#),
            vec![
                quoted_token("O'Brien"),
                quoted_token(r#"say "hi""#),
                quoted_token(r#"a "b""#),
                quoted_token("it's"),
                quoted_token(""),
                quoted_token(""),
            ]
        );
    }

    #[test]
    fn quoted_strings_keep_spaces_and_operators() {
        assert_eq!(kinds("' -and (x) '"), vec![quoted_token(" -and (x) ")]);
    }

    #[test]
    fn positions_count_characters_not_bytes() {
        let tokens = tokenize("Näme -eq 'Ü' -or").expect("text tokenizes");
        let positions: Vec<usize> = tokens.iter().map(|token| token.position).collect();
        assert_eq!(positions, vec![1, 6, 10, 14]);
    }

    #[test]
    fn unterminated_strings_point_at_the_opening_quote() {
        assert_eq!(
            reason_at("Name -eq 'Ann"),
            (10, SyntaxReason::UnterminatedString)
        );
        assert_eq!(
            reason_at("Name -eq \"Ann''"),
            (10, SyntaxReason::UnterminatedString)
        );
        assert_eq!(
            reason_at("Name -eq 'Ann''"),
            (10, SyntaxReason::UnterminatedString)
        );
    }

    #[test]
    fn unknown_operator_is_named_as_written() {
        assert_eq!(
            reason_at("Name -Foo 'x'"),
            (6, SyntaxReason::UnknownOperator("-Foo".to_owned()))
        );
        assert_eq!(
            reason_at("Name -ceq 'x'"),
            (6, SyntaxReason::UnknownOperator("-ceq".to_owned()))
        );
        assert_eq!(
            reason_at("Name -eq2 'x'"),
            (6, SyntaxReason::UnknownOperator("-eq2".to_owned()))
        );
    }

    #[test]
    fn unknown_variable_is_named_as_written() {
        assert_eq!(
            reason_at("Name -eq $name"),
            (10, SyntaxReason::UnknownVariable("$name".to_owned()))
        );
        assert_eq!(
            reason_at("Name -eq $"),
            (10, SyntaxReason::UnknownVariable("$".to_owned()))
        );
        assert_eq!(
            reason_at("A -eq $true_x"),
            (7, SyntaxReason::UnknownVariable("$true_x".to_owned()))
        );
    }

    #[test]
    fn empty_and_blank_text_has_no_tokens() {
        assert!(kinds("").is_empty());
        assert!(kinds(" \t\r\n").is_empty());
    }
}
