//! The words and symbols of an expression, read one at a time so a template's `${…}` can end
//! at its closing brace without the rest of the string being read as an expression.

use std::ops::Range;

use super::expr::SyntaxError;

/// One token.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Tok {
    /// A name: `inputs`, `found`, `and`, `true`… (keywords are told apart by the parser).
    Word(String),
    /// A quoted string's value.
    Text(String),
    /// A number.
    Number(serde_json::Number),
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
    /// `&&`
    AndAnd,
    /// `||`
    OrOr,
    /// `!`
    Bang,
    /// `(`
    LParen,
    /// `)`
    RParen,
    /// `[`
    LBracket,
    /// `]`
    RBracket,
    /// `.`
    Dot,
    /// `,`: between a function's arguments.
    Comma,
    /// `}`: the end of a `${…}`.
    Close,
}

impl Tok {
    /// How the token is written, for messages.
    pub(super) fn shown(&self) -> String {
        match self {
            Tok::Word(w) => format!("'{w}'"),
            Tok::Text(t) => format!("the text '{t}'"),
            Tok::Number(n) => format!("the number {n}"),
            Tok::Eq => "'=='".into(),
            Tok::Ne => "'!='".into(),
            Tok::Lt => "'<'".into(),
            Tok::Le => "'<='".into(),
            Tok::Gt => "'>'".into(),
            Tok::Ge => "'>='".into(),
            Tok::AndAnd => "'&&'".into(),
            Tok::OrOr => "'||'".into(),
            Tok::Bang => "'!'".into(),
            Tok::LParen => "'('".into(),
            Tok::RParen => "')'".into(),
            Tok::LBracket => "'['".into(),
            Tok::RBracket => "']'".into(),
            Tok::Dot => "'.'".into(),
            Tok::Comma => "','".into(),
            Tok::Close => "'}'".into(),
        }
    }
}

/// A token and where it is (byte offsets in the text).
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Token {
    /// What it is.
    pub(super) tok: Tok,
    /// Where it is.
    pub(super) span: Range<usize>,
}

/// A character that may start a name.
pub(super) fn starts_word(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

/// A character that may continue a name (step ids and input names have `-` in them).
pub(super) fn in_word(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

/// The token at or after byte `at` of `text` (whitespace skipped), or `None` at the end.
pub(super) fn next(text: &str, at: usize) -> Result<Option<Token>, SyntaxError> {
    let Some(rest) = text.get(at..) else {
        return Ok(None);
    };
    let start = at + (rest.len() - rest.trim_start().len());
    let rest = &text[start..];
    let Some(c) = rest.chars().next() else {
        return Ok(None);
    };
    let two = rest.get(..2).unwrap_or("");
    let symbol = |tok: Tok, len: usize| {
        Ok(Some(Token {
            tok,
            span: start..start + len,
        }))
    };
    match two {
        "==" => return symbol(Tok::Eq, 2),
        "!=" => return symbol(Tok::Ne, 2),
        "<=" => return symbol(Tok::Le, 2),
        ">=" => return symbol(Tok::Ge, 2),
        "&&" => return symbol(Tok::AndAnd, 2),
        "||" => return symbol(Tok::OrOr, 2),
        _ => {}
    }
    match c {
        '<' => symbol(Tok::Lt, 1),
        '>' => symbol(Tok::Gt, 1),
        '!' => symbol(Tok::Bang, 1),
        '(' => symbol(Tok::LParen, 1),
        ')' => symbol(Tok::RParen, 1),
        '[' => symbol(Tok::LBracket, 1),
        ']' => symbol(Tok::RBracket, 1),
        '.' => symbol(Tok::Dot, 1),
        ',' => symbol(Tok::Comma, 1),
        '}' => symbol(Tok::Close, 1),
        '=' => Err(SyntaxError::new(
            start,
            "'=' alone is not an operator",
            "compare with ==",
        )),
        '&' | '|' => Err(SyntaxError::new(
            start,
            format!("'{c}' alone is not an operator"),
            "write && (or and), || (or or)",
        )),
        '-' if rest[1..].starts_with(|c: char| c.is_ascii_alphabetic()) => {
            let len = 1 + rest[1..]
                .find(|c: char| !c.is_ascii_alphabetic())
                .unwrap_or(rest.len() - 1);
            let written = &rest[..len];
            let instead = match written.to_ascii_lowercase().as_str() {
                "-eq" => "==",
                "-ne" => "!=",
                "-lt" => "<",
                "-le" => "<=",
                "-gt" => ">",
                "-ge" => ">=",
                "-and" => "and",
                "-or" => "or",
                "-not" => "not",
                _ => "",
            };
            Err(SyntaxError::new(
                start,
                format!("'{written}' is not an operator here"),
                if instead.is_empty() {
                    "compare with == != < <= > >=, combine with and, or, not".to_string()
                } else {
                    format!("PowerShell's {written} is written {instead} here")
                },
            ))
        }
        '$' => {
            let word = &rest[1..rest[1..]
                .find(|c| !in_word(c))
                .map_or(rest.len(), |n| n + 1)];
            Err(match word.to_ascii_lowercase().as_str() {
                "true" | "false" | "null" => SyntaxError::new(
                    start,
                    format!("'${word}' is PowerShell"),
                    format!("write {} here", word.to_ascii_lowercase()),
                ),
                _ => SyntaxError::new(
                    start,
                    "'$' is not part of an expression",
                    "write names without $ (inputs.user); a condition is written bare or wrapped whole in ${…}",
                ),
            })
        }
        '\'' | '"' => quoted(text, start, c),
        c if starts_word(c) => {
            let len = rest.find(|c| !in_word(c)).unwrap_or(rest.len());
            Ok(Some(Token {
                tok: Tok::Word(rest[..len].to_string()),
                span: start..start + len,
            }))
        }
        c if c.is_ascii_digit()
            || (c == '-' && rest[1..].starts_with(|d: char| d.is_ascii_digit())) =>
        {
            number(rest, start)
        }
        other => Err(SyntaxError::new(
            start,
            format!("unexpected character '{other}'"),
            "an expression is made of names (inputs.user), quoted text, numbers, true, false, null, comparisons (== != < <= > >=), and, or, not, parentheses and function calls (opath(inputs.user))",
        )),
    }
}

/// A number: `-`, digits, and optionally `.` and more digits.
fn number(rest: &str, start: usize) -> Result<Option<Token>, SyntaxError> {
    let digits = |s: &str| s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let sign = usize::from(rest.starts_with('-'));
    let mut len = sign + digits(&rest[sign..]);
    if rest[len..].starts_with('.') && rest[len + 1..].starts_with(|c: char| c.is_ascii_digit()) {
        len += 1 + digits(&rest[len + 1..]);
    }
    let written = &rest[..len];
    let number = match written.parse::<i64>() {
        Ok(int) => Some(serde_json::Number::from(int)),
        Err(_) => written
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64),
    };
    match number {
        Some(n) => Ok(Some(Token {
            tok: Tok::Number(n),
            span: start..start + len,
        })),
        None => Err(SyntaxError::new(
            start,
            format!("'{written}' is not a number this language can hold"),
            "write a smaller number",
        )),
    }
}

/// A string in `quote`s starting at `start`; `\\`, `\'`, `\"`, `\n` and `\t` are escapes.
fn quoted(text: &str, start: usize, quote: char) -> Result<Option<Token>, SyntaxError> {
    let mut value = String::new();
    let mut chars = text[start + 1..].char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            c if c == quote => {
                return Ok(Some(Token {
                    tok: Tok::Text(value),
                    span: start..start + 1 + i + 1,
                }));
            }
            '\\' => match chars.next() {
                Some((_, 'n')) => value.push('\n'),
                Some((_, 't')) => value.push('\t'),
                Some((_, e @ ('\\' | '\'' | '"'))) => value.push(e),
                Some((j, other)) => {
                    return Err(SyntaxError::new(
                        start + j,
                        format!("'\\{other}' is not an escape"),
                        r#"inside quotes write \\ for a backslash, \' or \" for a quote, \n or \t"#,
                    ));
                }
                None => break,
            },
            c => value.push(c),
        }
    }
    Err(SyntaxError::new(
        start,
        "this quoted text is not closed",
        format!("end it with {quote}"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(text: &str) -> Vec<Tok> {
        let mut out = Vec::new();
        let mut at = 0;
        while let Some(token) = next(text, at).unwrap() {
            at = token.span.end;
            out.push(token.tok);
        }
        out
    }

    #[test]
    fn symbols_words_numbers_and_text() {
        use Tok::*;
        assert_eq!(
            all(r#"steps.get-users[0]["a b"] >= -2.5 && !x || 'it\'s' != 3 }"#),
            vec![
                Word("steps".into()),
                Dot,
                Word("get-users".into()),
                LBracket,
                Number(0.into()),
                RBracket,
                LBracket,
                Text("a b".into()),
                RBracket,
                Ge,
                Number(serde_json::Number::from_f64(-2.5).unwrap()),
                AndAnd,
                Bang,
                Word("x".into()),
                OrOr,
                Text("it's".into()),
                Ne,
                Number(3.into()),
                Close,
            ]
        );
    }

    #[test]
    fn mistakes_say_where_and_what_to_write() {
        let e = next("a = b", 2).unwrap_err();
        assert_eq!((e.at, e.fix.as_str()), (2, "compare with =="));
        let e = next("  'open", 0).unwrap_err();
        assert_eq!(e.at, 2);
        assert!(e.what.contains("not closed"));
        assert!(next("#", 0).unwrap_err().what.contains("'#'"));
        assert!(next(r"'\q'", 0).unwrap_err().what.contains(r"'\q'"));
        assert!(next("99999999999999999999999", 0).is_ok());
        let e = next("-eq 3", 0).unwrap_err();
        assert_eq!(e.fix, "PowerShell's -eq is written == here");
        let e = next("$True", 0).unwrap_err();
        assert_eq!(
            (e.what.as_str(), e.fix.as_str()),
            ("'$True' is PowerShell", "write true here")
        );
        assert!(next("$", 0).unwrap_err().what.contains("'$'"));
    }
}
