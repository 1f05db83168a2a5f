//! Target scopes: which recipients a plugin may change, as a recipient filter in a documented
//! subset of OPATH (the language of Exchange's own management scopes). The host reads the target
//! recipient itself (`Get-Recipient -Identity`) and checks it against the filter before it sends
//! a changing cmdlet.
//!
//! ```text
//! filter     := or
//! or         := and ('-or' and)*
//! and        := unary ('-and' unary)*
//! unary      := '-not' unary | '(' or ')' | comparison
//! comparison := Property ('-eq' | '-ne' | '-like' | '-notlike') operand
//! operand    := 'text' | "text" | bare-word | $true | $false | $null
//! ```
//!
//! Keywords and property names are case-insensitive; text compares in any case; `-like` takes
//! `*` as any run of characters. A list property (`EmailAddresses`) matches `-eq`/`-like` when
//! any item does, `-ne`/`-notlike` when none does. `-eq $null` matches a missing, null, empty
//! text or empty list value. `MemberOfGroup -eq 'Group'` is true when the recipient is a direct
//! member of that distribution group (the host reads its members once per run).

use std::collections::HashSet;

use serde_json::Value;

use crate::wildcard::{Syntax, Wildcard};

/// A parsed scope filter.
#[derive(Clone, Debug, PartialEq)]
pub struct Scope {
    text: String,
    root: Node,
}

#[derive(Clone, Debug, PartialEq)]
enum Node {
    Or(Box<Node>, Box<Node>),
    And(Box<Node>, Box<Node>),
    Not(Box<Node>),
    Compare {
        property: String,
        op: Op,
        operand: Operand,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Like,
    NotLike,
}

#[derive(Clone, Debug, PartialEq)]
enum Operand {
    Text(String),
    Bool(bool),
    Null,
}

/// The members of the groups a scope names, as the host read them: each member's ids
/// (Guid, ExternalDirectoryObjectId, PrimarySmtpAddress, DistinguishedName), lowercase.
pub type Members = HashSet<String>;

/// The property a scope uses for group membership.
const MEMBER_OF_GROUP: &str = "MemberOfGroup";

impl Scope {
    /// Parses a filter; the error says where and what was expected.
    pub fn parse(text: &str) -> Result<Scope, String> {
        let tokens = lex(text)?;
        let mut parser = Parser {
            tokens,
            at: 0,
            depth: 0,
            comparisons: 0,
        };
        let root = parser.or()?;
        if let Some(token) = parser.tokens.get(parser.at) {
            return Err(format!(
                "unexpected {} after a complete filter",
                token.describe()
            ));
        }
        Ok(Scope {
            text: text.trim().to_string(),
            root,
        })
    }

    /// The filter as written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The groups `MemberOfGroup` names, whose members must be read to evaluate it.
    pub fn groups(&self) -> Vec<String> {
        let mut groups = Vec::new();
        collect_groups(&self.root, &mut groups);
        groups
    }

    /// Whether `recipient` (a Get-Recipient row) is in scope; `members(group)` gives a named
    /// group's members.
    pub fn matches<'m>(
        &self,
        recipient: &Value,
        members: &dyn Fn(&str) -> Option<&'m Members>,
    ) -> bool {
        eval(&self.root, recipient, members)
    }
}

/// The ids a recipient is known by, lowercase: how a group's member list names it.
pub fn ids(recipient: &Value) -> Vec<String> {
    [
        "Guid",
        "ExternalDirectoryObjectId",
        "PrimarySmtpAddress",
        "DistinguishedName",
    ]
    .iter()
    .filter_map(|key| recipient.get(*key).and_then(Value::as_str))
    .filter(|id| !id.is_empty())
    .map(str::to_lowercase)
    .collect()
}

fn collect_groups(node: &Node, out: &mut Vec<String>) {
    match node {
        Node::Or(a, b) | Node::And(a, b) => {
            collect_groups(a, out);
            collect_groups(b, out);
        }
        Node::Not(a) => collect_groups(a, out),
        Node::Compare {
            property,
            operand: Operand::Text(group),
            ..
        } if property.eq_ignore_ascii_case(MEMBER_OF_GROUP) => {
            if !out.iter().any(|g| g.eq_ignore_ascii_case(group)) {
                out.push(group.clone());
            }
        }
        Node::Compare { .. } => {}
    }
}

fn eval<'m>(node: &Node, recipient: &Value, members: &dyn Fn(&str) -> Option<&'m Members>) -> bool {
    match node {
        Node::Or(a, b) => eval(a, recipient, members) || eval(b, recipient, members),
        Node::And(a, b) => eval(a, recipient, members) && eval(b, recipient, members),
        Node::Not(a) => !eval(a, recipient, members),
        Node::Compare {
            property,
            op,
            operand,
        } if property.eq_ignore_ascii_case(MEMBER_OF_GROUP) => {
            let member = match operand {
                Operand::Text(group) => members(group)
                    .is_some_and(|set| ids(recipient).iter().any(|id| set.contains(id))),
                _ => false,
            };
            match op {
                Op::Eq | Op::Like => member,
                Op::Ne | Op::NotLike => !member,
            }
        }
        Node::Compare {
            property,
            op,
            operand,
        } => {
            let value = recipient.as_object().and_then(|row| {
                row.iter()
                    .find(|(k, _)| !k.contains('@') && k.eq_ignore_ascii_case(property))
                    .map(|(_, v)| v)
            });
            compare(value, *op, operand)
        }
    }
}

fn compare(value: Option<&Value>, op: Op, operand: &Operand) -> bool {
    let is_empty = match value {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.is_empty(),
        Some(Value::Array(items)) => items.is_empty(),
        _ => false,
    };
    if *operand == Operand::Null {
        return match op {
            Op::Eq | Op::Like => is_empty,
            Op::Ne | Op::NotLike => !is_empty,
        };
    }
    let items: Vec<&Value> = match value {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(one) => vec![one],
        None => Vec::new(),
    };
    let any = |test: &dyn Fn(&Value) -> bool| items.iter().any(|item| test(item));
    match op {
        Op::Eq => any(&|item| equal(item, operand)),
        Op::Ne => !any(&|item| equal(item, operand)),
        Op::Like => any(&|item| like(item, operand)),
        Op::NotLike => !any(&|item| like(item, operand)),
    }
}

fn equal(item: &Value, operand: &Operand) -> bool {
    match (item, operand) {
        (Value::Bool(b), Operand::Bool(o)) => b == o,
        (Value::Bool(b), Operand::Text(t)) => {
            t.eq_ignore_ascii_case(if *b { "true" } else { "false" })
        }
        (Value::String(s), Operand::Text(t)) => s.to_lowercase() == t.to_lowercase(),
        (Value::Number(n), Operand::Text(t)) => n.to_string() == *t,
        _ => false,
    }
}

fn like(item: &Value, operand: &Operand) -> bool {
    let (Value::String(s), Operand::Text(pattern)) = (item, operand) else {
        return equal(item, operand);
    };
    Wildcard::new(pattern, Syntax::Like).is_match(s)
}

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Word(String),
    Dash(String),
    Quoted(String),
    Open,
    Close,
}

impl Token {
    fn describe(&self) -> String {
        match self {
            Token::Word(w) => format!("'{w}'"),
            Token::Dash(d) => format!("-{d}"),
            Token::Quoted(q) => format!("the text '{q}'"),
            Token::Open => "'('".into(),
            Token::Close => "')'".into(),
        }
    }
}

fn lex(text: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' | '{' => {
                chars.next();
                tokens.push(Token::Open);
            }
            ')' | '}' => {
                chars.next();
                tokens.push(Token::Close);
            }
            '\'' | '"' => {
                chars.next();
                let mut value = String::new();
                loop {
                    match chars.next() {
                        Some(q) if q == c => {
                            // A doubled quote stands for one, as in PowerShell.
                            if chars.peek() == Some(&c) {
                                chars.next();
                                value.push(c);
                            } else {
                                break;
                            }
                        }
                        Some(other) => value.push(other),
                        None => return Err(format!("the text {c}{value} has no closing {c}")),
                    }
                }
                tokens.push(Token::Quoted(value));
            }
            '-' => {
                chars.next();
                let word: String =
                    std::iter::from_fn(|| chars.next_if(|c| c.is_ascii_alphabetic())).collect();
                if word.is_empty() {
                    return Err("a '-' must start an operator such as -eq, -and or -not".into());
                }
                tokens.push(Token::Dash(word.to_ascii_lowercase()));
            }
            _ => {
                let word: String = std::iter::from_fn(|| {
                    chars.next_if(|c| {
                        !c.is_whitespace() && !matches!(c, '(' | ')' | '{' | '}' | '\'' | '"')
                    })
                })
                .collect();
                tokens.push(Token::Word(word));
            }
        }
    }
    Ok(tokens)
}

/// How deep parentheses and `-not` may nest: deeper, the filter's evaluation could run out
/// of stack. No real scope comes near it.
const MAX_DEPTH: usize = 64;

/// How many comparisons one filter may hold (a chain of `-or` is a tree as deep as it is
/// long).
const MAX_COMPARISONS: usize = 1000;

struct Parser {
    tokens: Vec<Token>,
    at: usize,
    /// Parentheses and `-not`s open here.
    depth: usize,
    comparisons: usize,
}

impl Parser {
    /// One level deeper into parentheses or `-not`, within [`MAX_DEPTH`].
    fn deeper(&mut self) -> Result<(), String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(format!(
                "the filter nests parentheses and -not more than {MAX_DEPTH} levels deep: write it flatter"
            ));
        }
        Ok(())
    }

    fn peek_dash(&self, word: &str) -> bool {
        matches!(self.tokens.get(self.at), Some(Token::Dash(d)) if d == word)
    }

    fn or(&mut self) -> Result<Node, String> {
        let mut left = self.and()?;
        while self.peek_dash("or") {
            self.at += 1;
            left = Node::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Node, String> {
        let mut left = self.unary()?;
        while self.peek_dash("and") {
            self.at += 1;
            left = Node::And(Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Node, String> {
        match self.tokens.get(self.at).cloned() {
            Some(Token::Dash(d)) if d == "not" => {
                self.at += 1;
                self.deeper()?;
                let inner = self.unary()?;
                self.depth -= 1;
                Ok(Node::Not(Box::new(inner)))
            }
            Some(Token::Open) => {
                self.at += 1;
                self.deeper()?;
                let inner = self.or()?;
                self.depth -= 1;
                if self.tokens.get(self.at) != Some(&Token::Close) {
                    return Err("a '(' has no matching ')'".into());
                }
                self.at += 1;
                Ok(inner)
            }
            Some(Token::Word(property)) => {
                self.at += 1;
                self.comparisons += 1;
                if self.comparisons > MAX_COMPARISONS {
                    return Err(format!(
                        "the filter has more than {MAX_COMPARISONS} comparisons: match on a group (MemberOfGroup) or a property the recipients share instead"
                    ));
                }
                let op = match self.tokens.get(self.at) {
                    Some(Token::Dash(d)) => match d.as_str() {
                        "eq" => Op::Eq,
                        "ne" => Op::Ne,
                        "like" => Op::Like,
                        "notlike" => Op::NotLike,
                        other => {
                            return Err(format!(
                                "-{other} is not supported in a target scope: use -eq, -ne, -like or -notlike"
                            ));
                        }
                    },
                    other => {
                        return Err(format!(
                            "{property} must be followed by -eq, -ne, -like or -notlike, not {}",
                            other.map_or("the end".into(), Token::describe)
                        ));
                    }
                };
                self.at += 1;
                let operand = match self.tokens.get(self.at) {
                    Some(Token::Quoted(text)) => Operand::Text(text.clone()),
                    Some(Token::Word(word)) => match word.to_ascii_lowercase().as_str() {
                        "$true" => Operand::Bool(true),
                        "$false" => Operand::Bool(false),
                        "$null" => Operand::Null,
                        _ => Operand::Text(word.clone()),
                    },
                    other => {
                        return Err(format!(
                            "{property} needs a value to compare with, not {}",
                            other.map_or("the end".into(), Token::describe)
                        ));
                    }
                };
                self.at += 1;
                if property.eq_ignore_ascii_case(MEMBER_OF_GROUP)
                    && !matches!(operand, Operand::Text(_))
                {
                    return Err("MemberOfGroup compares with a group's name or address".into());
                }
                Ok(Node::Compare {
                    property,
                    op,
                    operand,
                })
            }
            other => Err(format!(
                "expected a property name, -not or '(', not {}",
                other.map_or("the end".into(), |t| t.describe())
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn ann() -> Value {
        json!({
            "Name": "Ann", "RecipientTypeDetails": "UserMailbox", "Department": "Sales",
            "PrimarySmtpAddress": "ann@contoso.com", "Guid": "G-1",
            "EmailAddresses": ["SMTP:ann@contoso.com", "smtp:ann@contoso.onmicrosoft.com"],
            "HiddenFromAddressListsEnabled": false, "CustomAttribute1": "", "Title@odata.type": "#String"
        })
    }

    fn check(filter: &str, recipient: &Value) -> bool {
        let admins: Members = ["g-1".to_string()].into_iter().collect();
        let scope = Scope::parse(filter).unwrap();
        scope.matches(recipient, &|group: &str| {
            group
                .eq_ignore_ascii_case("Tenant Admins")
                .then_some(&admins)
        })
    }

    #[test]
    fn filters_evaluate_as_exchange_does() {
        let ann = ann();
        assert!(check("RecipientTypeDetails -eq 'UserMailbox'", &ann));
        assert!(check("recipienttypedetails -EQ 'usermailbox'", &ann));
        assert!(!check("RecipientTypeDetails -ne 'UserMailbox'", &ann));
        assert!(check("PrimarySmtpAddress -like '*@contoso.com'", &ann));
        assert!(!check("PrimarySmtpAddress -like '*@fabrikam.com'", &ann));
        assert!(check("EmailAddresses -like 'smtp:*onmicrosoft.com'", &ann));
        assert!(check("EmailAddresses -notlike '*fabrikam*'", &ann));
        assert!(check("HiddenFromAddressListsEnabled -eq $false", &ann));
        assert!(check(
            "CustomAttribute1 -eq $null -and Title -eq $null",
            &ann
        ));
        assert!(check("Department -ne $null", &ann));
        assert!(check(
            "{Department -eq 'Sales' -or Department -eq 'HR'}",
            &ann
        ));
        assert!(check(
            "Name -eq \"Ann\" -and -not (Department -eq 'HR')",
            &ann
        ));
        assert!(!check("MemberOfGroup -ne 'Tenant Admins'", &ann));
        assert!(check(
            "RecipientTypeDetails -eq 'UserMailbox' -and -not (MemberOfGroup -eq 'Tenant Admins')",
            &json!({"RecipientTypeDetails": "UserMailbox", "Guid": "G-2"})
        ));
        assert!(
            !check("MemberOfGroup -eq 'Other Group'", &ann),
            "an unread group has no members"
        );
        assert!(check("Name -like 'A*n'", &ann) && !check("Name -like 'A*x'", &ann));
        assert!(check("Name -eq 'O''Brien'", &json!({"Name": "O'Brien"})));
    }

    /// Found by fuzzing: a filter nested a few hundred levels deep ran the parser out of
    /// stack (the process aborted); a long `-or` chain is as deep once parsed.
    #[test]
    fn a_filter_nested_or_chained_past_the_limits_is_refused() {
        let nested = format!("{}Name -eq 'A'{}", "(".repeat(65), ")".repeat(65));
        let e = Scope::parse(&nested).unwrap_err();
        assert!(e.contains("more than 64 levels deep"), "{e}");
        let fine = format!("{}Name -eq 'A'{}", "-not (".repeat(32), ")".repeat(32));
        assert!(Scope::parse(&fine).is_ok());
        assert!(Scope::parse(&"-not ".repeat(100_000)).is_err());
        let chain = vec!["Name -eq 'A'"; 1001].join(" -or ");
        let e = Scope::parse(&chain).unwrap_err();
        assert!(e.contains("more than 1000 comparisons"), "{e}");
        assert!(Scope::parse(&vec!["Name -eq 'A'"; 1000].join(" -or ")).is_ok());
    }

    #[test]
    fn groups_are_collected_and_mistakes_explained() {
        let scope = Scope::parse("-not (MemberOfGroup -eq 'Tenant Admins') -and -not (MemberOfGroup -eq 'tenant admins' -or MemberOfGroup -eq 'VIP')").unwrap();
        assert_eq!(scope.groups(), ["Tenant Admins", "VIP"]);
        for (filter, message) in [
            ("Name -gt 'A'", "-gt is not supported in a target scope"),
            (
                "Name 'A'",
                "Name must be followed by -eq, -ne, -like or -notlike",
            ),
            (
                "Name -eq",
                "Name needs a value to compare with, not the end",
            ),
            ("(Name -eq 'A'", "a '(' has no matching ')'"),
            ("Name -eq 'A", "has no closing '"),
            (
                "Name -eq 'A' Department",
                "unexpected 'Department' after a complete filter",
            ),
            (
                "MemberOfGroup -eq $null",
                "MemberOfGroup compares with a group's name",
            ),
            ("", "expected a property name"),
        ] {
            let e = Scope::parse(filter).unwrap_err();
            assert!(e.contains(message), "{filter}: {e}");
        }
    }
}
