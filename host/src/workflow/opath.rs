//! OPATH values made from a workflow's values, for the filters its steps hand to Exchange
//! (`-Filter`, `-RecipientFilter`): whatever an input holds, it stays one value and matches
//! only what it says.
//!
//! The facts this rests on (Exchange's documentation of the `Filter` parameter):
//!
//! - a text value is written in single quotes, and a single quote inside it is doubled
//!   (`'O''Brien'`). PowerShell, whose quoting OPATH follows, also takes the typographic single
//!   quotes `‘ ’ ‚ ‛` for `'`; they are doubled too, so no value can end the literal early,
//!   whichever way the service reads them;
//! - integers are written bare; `$true`/`$false` are sent as `'True'`/`'False'` (as the Exchange
//!   module sends them);
//! - in a `-like` pattern `*` stands for any run of characters, and Exchange documents no way
//!   to write a literal `*`; in the cloud a pattern may not start with `*`. So a pattern made
//!   from a value can only be "starts with the value", and a value holding `*` (or `?`, a
//!   wildcard of PowerShell's `-like` the service might share) is refused rather than matched
//!   as something wider.

use serde_json::Value;

use super::eval::describe;

/// The characters read as a single quote inside a single-quoted literal.
const SINGLE_QUOTES: [char; 5] = ['\'', '\u{2018}', '\u{2019}', '\u{201A}', '\u{201B}'];

/// The characters a `-like` pattern made from a value may not hold.
const WILDCARDS: [char; 2] = ['*', '?'];

/// Why a value cannot be written into a filter: what is wrong, and what to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// What is wrong with the value.
    pub what: String,
    /// What to do instead.
    pub fix: String,
}

fn refuse(what: impl Into<String>, fix: impl Into<String>) -> Refusal {
    Refusal {
        what: what.into(),
        fix: fix.into(),
    }
}

/// `text` between single quotes, each single quote in it doubled.
pub fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('\'');
    for c in text.chars() {
        if SINGLE_QUOTES.contains(&c) {
            out.push(c);
        }
        out.push(c);
    }
    out.push('\'');
    out
}

/// The OPATH literal of `value`, for `-eq`, `-ne` and the orderings: text quoted, an integer
/// bare, another number quoted, a boolean as `'True'`/`'False'`. Empty text, null, lists and
/// objects are refused: each would match something other than one value.
pub fn literal(value: &Value) -> Result<String, Refusal> {
    match value {
        Value::String(text) if text.trim().is_empty() => Err(refuse(
            format!(
                "the value is {}, and an empty OPATH text matches every recipient that has no value for the property",
                describe(value)
            ),
            "check the input; to find recipients without a value, write -eq $null in the filter itself",
        )),
        Value::String(text) => Ok(quote(text)),
        Value::Number(n) if n.is_i64() || n.is_u64() => Ok(n.to_string()),
        Value::Number(n) => Ok(quote(&n.to_string())),
        Value::Bool(true) => Ok("'True'".into()),
        Value::Bool(false) => Ok("'False'".into()),
        Value::Null => Err(refuse(
            "the value is null, and OPATH has no literal for a missing value",
            "give the input a value or a default; to find recipients without a value, write -eq $null in the filter itself",
        )),
        Value::Array(_) | Value::Object(_) => Err(refuse(
            format!(
                "the value is {}, and an OPATH literal is one text, number or boolean",
                describe(value)
            ),
            "pass one field or item (e.g. item.PrimarySmtpAddress), or run the step once per item with for_each",
        )),
    }
}

/// The quoted `-like` pattern that matches values starting with `value` (text, or a number
/// as its digits): `'Ann*'`. Empty text (which would give `'*'`, every recipient) and text
/// holding `*` or `?` are refused.
pub fn prefix_pattern(value: &Value) -> Result<String, Refusal> {
    let text = match value {
        Value::String(text) => text.clone(),
        Value::Number(n) => n.to_string(),
        other => {
            return Err(refuse(
                format!(
                    "the value is {}, and a -like pattern is made from text",
                    describe(other)
                ),
                "pass text, e.g. inputs.name",
            ));
        }
    };
    if text.trim().is_empty() {
        return Err(refuse(
            format!(
                "the value is {}, and the pattern '*' would match every recipient",
                describe(value)
            ),
            "check the input: the start of a name is needed",
        ));
    }
    if let Some(wildcard) = text.chars().find(|c| WILDCARDS.contains(c)) {
        return Err(refuse(
            format!(
                "the value is {}, and a -like pattern cannot hold {wildcard}: Exchange has no escape for it, so it would match more than the text",
                describe(value)
            ),
            "give text without * and ?; to compare a whole value write -eq ${opath(…)}",
        ));
    }
    let quoted = quote(&text);
    Ok(format!("{}*'", &quoted[..quoted.len() - 1]))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_literal_is_one_quoted_value_whatever_it_holds() {
        let cases = [
            (json!("ann@contoso.com"), "'ann@contoso.com'"),
            (json!("o'brien@contoso.com"), "'o''brien@contoso.com'"),
            (json!("x' -or Name -like '*"), "'x'' -or Name -like ''*'"),
            (json!("'"), "''''"),
            (json!("*"), "'*'"),
            (json!("say \"hi\""), "'say \"hi\"'"),
            (json!("O\u{2019}Neil"), "'O\u{2019}\u{2019}Neil'"),
            (
                json!("\u{2018}x\u{201B}"),
                "'\u{2018}\u{2018}x\u{201B}\u{201B}'",
            ),
            (json!(500), "500"),
            (json!(-3), "-3"),
            (json!(2.5), "'2.5'"),
            (json!(true), "'True'"),
            (json!(false), "'False'"),
        ];
        for (value, written) in cases {
            assert_eq!(literal(&value).unwrap(), written, "{value}");
        }
    }

    #[test]
    fn values_that_are_not_one_value_are_refused() {
        let refused = |value: Value| literal(&value).unwrap_err().what;
        assert!(refused(json!("")).contains("empty OPATH text matches every recipient"));
        assert!(refused(json!("  ")).starts_with("the value is the text \"  \""));
        assert_eq!(
            refused(json!(null)),
            "the value is null, and OPATH has no literal for a missing value"
        );
        assert_eq!(
            refused(json!(["a", "b"])),
            "the value is a list of 2 items, and an OPATH literal is one text, number or boolean"
        );
        assert!(refused(json!({"a": 1})).starts_with("the value is an object"));
    }

    #[test]
    fn a_prefix_pattern_matches_the_start_and_nothing_wider() {
        assert_eq!(prefix_pattern(&json!("Ann")).unwrap(), "'Ann*'");
        assert_eq!(prefix_pattern(&json!("O'Br")).unwrap(), "'O''Br*'");
        assert_eq!(
            prefix_pattern(&json!("x' -or Name -like '")).unwrap(),
            "'x'' -or Name -like ''*'"
        );
        assert_eq!(prefix_pattern(&json!(12)).unwrap(), "'12*'");
        let refusal = prefix_pattern(&json!("*")).unwrap_err();
        assert_eq!(
            refusal.what,
            "the value is the text \"*\", and a -like pattern cannot hold *: Exchange has no escape for it, so it would match more than the text"
        );
        assert_eq!(
            refusal.fix,
            "give text without * and ?; to compare a whole value write -eq ${opath(…)}"
        );
        assert!(
            prefix_pattern(&json!("a?c"))
                .unwrap_err()
                .what
                .contains("cannot hold ?")
        );
        assert_eq!(
            prefix_pattern(&json!("")).unwrap_err().what,
            "the value is the text \"\", and the pattern '*' would match every recipient"
        );
        assert!(
            prefix_pattern(&json!(true))
                .unwrap_err()
                .what
                .contains("a -like pattern is made from text")
        );
    }
}
