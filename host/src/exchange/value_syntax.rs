//! PowerShell's syntax for one parameter value, as far as cmdlet arguments use it: `$true`,
//! `$false`, `$null`, whole numbers, quoted text (quotes doubled to escape, or a backtick in
//! `"…"`), unquoted commas making a list, `@(…)` arrays and `@{k=v;…}` hashtables, which
//! InvokeCommand wants tagged with `"@odata.type":"#Exchange.GenericHashTable"` (docs/protocol.md §1.3).

use serde_json::{Map, Number, Value};

/// The `@odata.type` InvokeCommand expects on every hashtable, nested ones included.
pub const HASHTABLE_TYPE: &str = "#Exchange.GenericHashTable";

/// Reads a whole value; the error says what is wrong and at which character (1-based).
/// Blank text is the empty string.
pub fn parse(text: &str) -> Result<Value, String> {
    if text.trim().is_empty() {
        return Ok(Value::String(String::new()));
    }
    let mut reader = Reader {
        chars: text.chars().collect(),
        pos: 0,
        depth: 0,
    };
    let value = reader.list(&[])?;
    reader.skip_space();
    match reader.peek() {
        Some(c) => Err(format!("unexpected '{c}' at character {}", reader.pos + 1)),
        None => Ok(value),
    }
}

/// A small reader over one value: lists, quoted strings, hashtables, arrays and bare words.
struct Reader {
    chars: Vec<char>,
    pos: usize,
    /// Arrays and hashtables open here.
    depth: usize,
}

/// How deep `@(…)` and `@{…}` may nest: deeper, reading (and dropping) the value could run
/// out of stack. No cmdlet takes more than two levels.
const MAX_DEPTH: usize = 32;

impl Reader {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn at(&self, text: &str) -> bool {
        text.chars()
            .enumerate()
            .all(|(i, c)| self.chars.get(self.pos + i) == Some(&c))
    }

    fn skip_space(&mut self) {
        while self.peek().is_some_and(|c| c == ' ' || c == '\t') {
            self.pos += 1;
        }
    }

    /// `item (, item)*`: one item as itself, several as an array. `stops` are the characters
    /// that end a bare word in this context (besides the comma).
    fn list(&mut self, stops: &[char]) -> Result<Value, String> {
        let mut items = vec![self.item(stops)?];
        loop {
            self.skip_space();
            if self.peek() != Some(',') {
                break;
            }
            self.pos += 1;
            items.push(self.item(stops)?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Value::Array(items)
        })
    }

    fn item(&mut self, stops: &[char]) -> Result<Value, String> {
        self.skip_space();
        if self.at("@{") || self.at("@(") {
            self.depth += 1;
            if self.depth > MAX_DEPTH {
                return Err(format!(
                    "the arrays and hashtables at character {} nest more than {MAX_DEPTH} levels deep",
                    self.pos + 1
                ));
            }
            self.pos += 2;
            let value = if self.chars[self.pos - 1] == '{' {
                self.hashtable()
            } else {
                self.array()
            };
            self.depth -= 1;
            return value;
        }
        match self.peek() {
            Some(q @ ('\'' | '"')) => self.quoted(q).map(Value::String),
            _ => self.bare(stops),
        }
    }

    /// A quoted string; the quote is escaped by doubling it (or with a backtick in `"…"`).
    fn quoted(&mut self, quote: char) -> Result<String, String> {
        let start = self.pos + 1;
        self.pos += 1;
        let mut text = String::new();
        loop {
            let Some(c) = self.peek() else {
                return Err(format!(
                    "the {quote} opened at character {start} is never closed"
                ));
            };
            self.pos += 1;
            if c == '`' && quote == '"' {
                if let Some(escaped) = self.peek() {
                    text.push(escaped);
                    self.pos += 1;
                }
            } else if c == quote {
                if self.peek() == Some(quote) {
                    text.push(quote);
                    self.pos += 1;
                } else {
                    return Ok(text);
                }
            } else {
                text.push(c);
            }
        }
    }

    fn bare(&mut self, stops: &[char]) -> Result<Value, String> {
        let start = self.pos;
        while self.peek().is_some_and(|c| c != ',' && !stops.contains(&c)) {
            self.pos += 1;
        }
        let word: String = self.chars[start..self.pos].iter().collect();
        let word = word.trim();
        if word.is_empty() {
            return Err(format!("an empty element at character {}", start + 1));
        }
        Ok(scalar(word))
    }

    /// `@{ key = value ; … }` after the `@{`.
    fn hashtable(&mut self) -> Result<Value, String> {
        let opened = self.pos - 1;
        let mut table = Map::new();
        table.insert(
            "@odata.type".to_string(),
            Value::String(HASHTABLE_TYPE.into()),
        );
        loop {
            self.skip_separators();
            match self.peek() {
                None => {
                    return Err(format!(
                        "the hashtable opened at character {opened} is never closed with '}}'"
                    ));
                }
                Some('}') => {
                    self.pos += 1;
                    return Ok(Value::Object(table));
                }
                Some(_) => {}
            }
            let key = match self.peek() {
                Some(q @ ('\'' | '"')) => self.quoted(q)?,
                _ => self.key()?,
            };
            self.skip_space();
            if self.peek() != Some('=') {
                return Err(format!(
                    "'{key}' in the hashtable needs '= value' (character {})",
                    self.pos + 1
                ));
            }
            self.pos += 1;
            let value = self.list(&[';', '}', '\n', '\r', ' ', '\t'])?;
            table.insert(key, value);
            self.skip_space();
            match self.peek() {
                Some(';' | '\n' | '\r' | '}') | None => {}
                Some(c) => {
                    return Err(format!(
                        "unexpected '{c}' at character {} in the hashtable",
                        self.pos + 1
                    ));
                }
            }
        }
    }

    fn skip_separators(&mut self) {
        while self
            .peek()
            .is_some_and(|c| matches!(c, ' ' | '\t' | ';' | '\n' | '\r'))
        {
            self.pos += 1;
        }
    }

    fn key(&mut self) -> Result<String, String> {
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            self.pos += 1;
        }
        if start == self.pos {
            return Err(format!(
                "a hashtable key is missing at character {}",
                start + 1
            ));
        }
        Ok(self.chars[start..self.pos].iter().collect())
    }

    /// `@( item, … )` after the `@(`: always an array, even with one item or none.
    fn array(&mut self) -> Result<Value, String> {
        let opened = self.pos - 1;
        self.skip_space();
        let items = if self.peek() == Some(')') {
            Vec::new()
        } else {
            match self.list(&[')', ' ', '\t'])? {
                Value::Array(items) => items,
                one => vec![one],
            }
        };
        self.skip_space();
        if self.peek() != Some(')') {
            return Err(format!(
                "the array opened at character {opened} is never closed with ')'"
            ));
        }
        self.pos += 1;
        Ok(Value::Array(items))
    }
}

/// A bare word: `$true`, `$false`, `$null`, a whole number, or text.
fn scalar(word: &str) -> Value {
    match word.to_ascii_lowercase().as_str() {
        "$true" => return Value::Bool(true),
        "$false" => return Value::Bool(false),
        "$null" => return Value::Null,
        _ => {}
    }
    let digits = word.strip_prefix('-').unwrap_or(word);
    let canonical = !digits.is_empty()
        && digits.chars().all(|c| c.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'));
    match word.parse::<i64>() {
        Ok(n) if canonical => Value::Number(Number::from(n)),
        _ => Value::String(word.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn scalars_follow_powershell() {
        let read = |t: &str| parse(t).unwrap();
        assert_eq!(read("$TRUE"), json!(true));
        assert_eq!(read("$false"), json!(false));
        assert_eq!(read("$null"), json!(null));
        assert_eq!(read("25"), json!(25));
        assert_eq!(read("-5"), json!(-5));
        assert_eq!(read("0"), json!(0));
        assert_eq!(
            read("007"),
            json!("007"),
            "a leading zero is text (an id, not a count)"
        );
        assert_eq!(read("12.5"), json!("12.5"));
        assert_eq!(read("99999999999999999999"), json!("99999999999999999999"));
        assert_eq!(read("Unlimited"), json!("Unlimited"));
        assert_eq!(read("John Smith"), json!("John Smith"));
        assert_eq!(read("  "), json!(""));
    }

    #[test]
    fn commas_make_lists_unless_quoted() {
        assert_eq!(
            parse("UserMailbox, SharedMailbox").unwrap(),
            json!(["UserMailbox", "SharedMailbox"])
        );
        assert_eq!(parse("'Smith, John'").unwrap(), json!("Smith, John"));
        assert_eq!(
            parse(r#""say ""hi"", `"bye`"""#).unwrap(),
            json!(r#"say "hi", "bye""#)
        );
        assert_eq!(parse("'it''s'").unwrap(), json!("it's"));
        assert_eq!(parse("1,'two',$true").unwrap(), json!([1, "two", true]));
        assert_eq!(parse("@('a')").unwrap(), json!(["a"]));
        assert_eq!(parse("@()").unwrap(), json!([]));
        assert_eq!(parse("@(\"a\", 'b')").unwrap(), json!(["a", "b"]));
    }

    #[test]
    fn hashtables_carry_their_odata_type() {
        assert_eq!(
            parse(r#"@{Add="x@contoso.com","y@contoso.com"; Remove='z@contoso.com'}"#).unwrap(),
            json!({
                "@odata.type": "#Exchange.GenericHashTable",
                "Add": ["x@contoso.com", "y@contoso.com"],
                "Remove": "z@contoso.com"
            })
        );
        assert_eq!(
            parse("@{Inner=@{On=$true}\n'Quoted Key'=1;}").unwrap(),
            json!({
                "@odata.type": "#Exchange.GenericHashTable",
                "Inner": {"@odata.type": "#Exchange.GenericHashTable", "On": true},
                "Quoted Key": 1
            })
        );
        assert_eq!(
            parse("@{}").unwrap(),
            json!({"@odata.type": "#Exchange.GenericHashTable"})
        );
    }

    /// Found by fuzzing: arrays nested a few hundred levels deep ran the reader out of stack.
    #[test]
    fn values_nested_past_the_limit_are_refused() {
        let e = parse(&"@(".repeat(10_000)).unwrap_err();
        assert!(e.contains("nest more than 32 levels deep"), "{e}");
        let e = parse(&"@{a=".repeat(33)).unwrap_err();
        assert!(e.contains("at character 129"), "{e}");
        let fine = format!("{}1{}", "@(".repeat(32), ")".repeat(32));
        assert!(parse(&fine).is_ok());
    }

    #[test]
    fn syntax_errors_say_what_and_where() {
        let problem = |t: &str| parse(t).unwrap_err();
        assert_eq!(
            problem("@{Add='x'"),
            "the hashtable opened at character 1 is never closed with '}'"
        );
        assert_eq!(
            problem("'unterminated"),
            "the ' opened at character 1 is never closed"
        );
        assert_eq!(problem("a,,b"), "an empty element at character 3");
        assert_eq!(problem("a,"), "an empty element at character 3");
        assert!(problem("@{Add}").contains("'Add' in the hashtable needs '= value'"));
        assert!(problem("@{=1}").contains("a hashtable key is missing at character 3"));
        assert!(problem("@{Add=1 2}").contains("unexpected '2' at character 9 in the hashtable"));
        assert_eq!(problem("'a' b"), "unexpected 'b' at character 5");
        assert_eq!(
            problem("@(a"),
            "the array opened at character 1 is never closed with ')'"
        );
        assert_eq!(
            problem("@(a b)"),
            "the array opened at character 1 is never closed with ')'"
        );
    }
}
