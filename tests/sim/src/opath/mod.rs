//! OPATH filters: the `-Filter` parameter of recipient cmdlets such as
//! Get-Mailbox and Get-Recipient.
//!
//! A filter such as
//! `RecipientTypeDetails -eq 'SharedMailbox' -and (DisplayName -like 'Ann*' -or -not (HiddenFromAddressListsEnabled -eq $true))`
//! is parsed once by [`Filter::parse`] into a compiled tree: `-like` patterns
//! are split into case-folded segments and operands are pre-converted to
//! integers, booleans and dates. [`Filter::matches`] then tests one record at a
//! time without allocating, so a query can scan a large directory.
//!
//! Grammar (operators and keywords are case-insensitive):
//!
//! ```text
//! filter     := expression | '{' expression '}'
//! expression := and ('-or' and)*
//! and        := unary ('-and' unary)*
//! unary      := '-not' unary | '(' expression ')' | comparison
//! comparison := Property operator operand
//! operator   := -eq | -ne | -like | -notlike | -gt | -lt | -ge | -le
//! operand    := 'single' | "double" | bare-word | integer | $true | $false | $null
//! ```
//!
//! Matching follows Exchange Online:
//!
//! - strings compare case-insensitively, `-gt`/`-lt`/`-ge`/`-le` lexicographically;
//! - `-like`/`-notlike` treat `*` as "any run of characters" (`?` is literal);
//! - `-eq $null` matches a null value, an empty string or an empty list, and
//!   `-ne $null` matches everything else (`-like $null` and `-notlike $null`
//!   act the same; the ordering operators never match `$null`);
//! - multi-valued properties match `-eq`/`-like` (and the ordering operators)
//!   when any element matches, `-ne`/`-notlike` when no element matches;
//! - integer, boolean and date properties convert the operand (`'True'` and
//!   `'False'` work for booleans, as the Exchange module sends them); an operand
//!   that does not convert matches nothing;
//! - date operands may be `yyyy-MM-dd`, `yyyy-MM-ddTHH:mm:ss[.fff][Z]`,
//!   `M/d/yyyy` or `M/d/yyyy H:mm[:ss] [AM|PM]`, all read as UTC; neither
//!   `-like` nor `-notlike` matches a date;
//! - a property the record does not have matches only `-eq $null` (or
//!   `-like $null`) and `-ne` with any operand, `$null` included.

mod eval;
mod lexer;
mod parser;

use std::fmt;

/// A value a recipient property can have, as the filter sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value<'a> {
    /// The property exists on the record but is not set.
    Null,
    /// A boolean property, such as `HiddenFromAddressListsEnabled`.
    Bool(bool),
    /// An integer property, such as `ProhibitSendQuota` in bytes.
    Int(i64),
    /// A single-valued string property, such as `DisplayName`.
    Str(&'a str),
    /// Unix seconds, UTC.
    DateTime(i64),
    /// A multi-valued string property, such as `EmailAddresses`.
    List(Vec<&'a str>),
}

/// What the evaluator asks of a record: the value of a property by its
/// case-insensitive name, or `None` if the record type has no such property.
pub trait PropertySource {
    /// Returns the value of the property `name` (matched case-insensitively),
    /// or `None` when this kind of record has no such property.
    fn property(&self, name: &str) -> Option<Value<'_>>;
}

/// A parsed filter, ready to be matched against many records.
#[derive(Debug, Clone)]
pub struct Filter {
    root: eval::Node,
}

impl Filter {
    /// Parses filter text, so that it is compiled once per query rather than
    /// once per record.
    ///
    /// # Errors
    ///
    /// Returns [`FilterError`] naming the problem and its 1-based character
    /// position when the text is empty or not a valid filter.
    pub fn parse(text: &str) -> Result<Self, FilterError> {
        parser::parse(text).map(|root| Self { root })
    }

    /// Names of all properties the filter mentions (as written, first spelling
    /// wins, each name once ignoring case), so the caller can reject unknown
    /// ones before scanning.
    #[must_use]
    pub fn properties(&self) -> Vec<&str> {
        let mut names = Vec::new();
        self.root.collect_properties(&mut names);
        names
    }

    /// Tells whether `record` satisfies the filter; does not allocate beyond
    /// what the record's [`PropertySource::property`] does.
    #[must_use]
    pub fn matches(&self, record: &dyn PropertySource) -> bool {
        self.root.matches(record)
    }
}

/// Why a filter could not be parsed, with the text Exchange Online shows.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum FilterError {
    /// The filter is not valid OPATH.
    #[error(
        "Invalid filter syntax. For a description of the filter parameter syntax see the command help. \"{filter}\" at position {position}. ({reason})"
    )]
    Syntax {
        /// The whole filter text as given.
        filter: String,
        /// 1-based character position of the problem.
        position: usize,
        /// What was wrong there.
        reason: SyntaxReason,
    },
    /// The filter is empty or only whitespace (or empty braces).
    #[error(
        "Invalid filter syntax. For a description of the filter parameter syntax see the command help. \"{filter}\" at position 1. (the filter is empty)"
    )]
    Empty {
        /// The whole filter text as given.
        filter: String,
    },
}

impl FilterError {
    /// Builds a [`FilterError::Syntax`] for `filter` at `position`.
    fn syntax(filter: &str, position: usize, reason: SyntaxReason) -> Self {
        Self::Syntax {
            filter: filter.to_owned(),
            position,
            reason,
        }
    }
}

/// The specific reason behind a [`FilterError::Syntax`], so callers and tests
/// can tell errors apart without parsing the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyntaxReason {
    /// The filter stopped where a property, operator or value was required.
    UnexpectedEnd,
    /// A quoted string has no closing quote.
    UnterminatedString,
    /// A `(` is never closed or a `)` has no matching `(`.
    UnbalancedParenthesis,
    /// An opening `{` is never closed.
    UnbalancedBrace,
    /// A brace appears other than around the whole filter.
    MisplacedBrace,
    /// A `-word` that is not a known operator, as written (e.g. `-foo`).
    UnknownOperator(String),
    /// A `$variable` other than `$true`, `$false` or `$null`, as written.
    UnknownVariable(String),
    /// Something other than a property name starts a comparison.
    ExpectedProperty,
    /// A property name is not followed by a comparison operator.
    ExpectedOperator,
    /// A comparison operator is not followed by a value.
    ExpectedValue,
    /// A complete comparison is followed by something other than `-and`/`-or`.
    ExpectedLogicalOperator,
    /// Parentheses or `-not` are nested beyond what the parser accepts.
    TooDeep,
}

impl fmt::Display for SyntaxReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnexpectedEnd => f.write_str("unexpected end of filter"),
            Self::UnterminatedString => f.write_str("unterminated string"),
            Self::UnbalancedParenthesis => f.write_str("unbalanced parenthesis"),
            Self::UnbalancedBrace => f.write_str("unbalanced brace"),
            Self::MisplacedBrace => f.write_str("braces may only enclose the whole filter"),
            Self::UnknownOperator(op) => write!(f, "unknown operator '{op}'"),
            Self::UnknownVariable(var) => write!(
                f,
                "unknown variable '{var}'; only $true, $false and $null are allowed"
            ),
            Self::ExpectedProperty => f.write_str("expected a property name"),
            Self::ExpectedOperator => f.write_str("expected a comparison operator such as -eq"),
            Self::ExpectedValue => f.write_str("expected a value to compare with"),
            Self::ExpectedLogicalOperator => {
                f.write_str("expected -and, -or or the end of the filter")
            }
            Self::TooDeep => f.write_str("the filter is nested too deeply"),
        }
    }
}

/// The error text Exchange Online gives when a filter names a property that
/// cannot be filtered on; callers check [`Filter::properties`] against their
/// schema and report this.
#[must_use]
pub fn unknown_property_error(name: &str) -> String {
    format!(
        "Cannot bind parameter 'Filter' to the target. Exception setting \"Filter\": \"'{name}' is not a recognized filterable property.\""
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record made of `(name, value)` pairs, looked up case-insensitively.
    struct Record(Vec<(&'static str, Value<'static>)>);

    impl PropertySource for Record {
        fn property(&self, name: &str) -> Option<Value<'_>> {
            self.0
                .iter()
                .find(|(key, _)| key.eq_ignore_ascii_case(name))
                .map(|(_, value)| value.clone())
        }
    }

    fn mailbox(kind: &'static str, name: &'static str, hidden: bool) -> Record {
        Record(vec![
            ("RecipientTypeDetails", Value::Str(kind)),
            ("DisplayName", Value::Str(name)),
            ("HiddenFromAddressListsEnabled", Value::Bool(hidden)),
            (
                "EmailAddresses",
                Value::List(vec!["SMTP:ann@contoso.com", "smtp:a@contoso.com"]),
            ),
            ("WhenCreated", Value::DateTime(1_704_067_200)),
            ("ProhibitSendQuota", Value::Int(50)),
            ("CustomAttribute1", Value::Null),
        ])
    }

    fn matches(filter: &str, record: &Record) -> bool {
        Filter::parse(filter)
            .expect("filter parses")
            .matches(record)
    }

    #[test]
    fn brief_example_matches_as_exchange_would() {
        let filter = Filter::parse(
            "RecipientTypeDetails -eq 'SharedMailbox' -and (DisplayName -like 'Ann*' -or -not (HiddenFromAddressListsEnabled -eq $true))",
        )
        .expect("filter parses");
        assert!(filter.matches(&mailbox("SharedMailbox", "Annie", true)));
        assert!(filter.matches(&mailbox("SharedMailbox", "Bob", false)));
        assert!(!filter.matches(&mailbox("SharedMailbox", "Bob", true)));
        assert!(!filter.matches(&mailbox("UserMailbox", "Annie", false)));
    }

    #[test]
    fn every_value_kind_is_reachable_through_the_public_api() {
        let record = mailbox("UserMailbox", "Ann Lee", false);
        assert!(matches("EmailAddresses -like 'smtp:a@*'", &record));
        assert!(matches("WhenCreated -ge '2024-01-01'", &record));
        assert!(matches("ProhibitSendQuota -gt 10", &record));
        assert!(matches(
            "HiddenFromAddressListsEnabled -eq 'False'",
            &record
        ));
        assert!(matches("CustomAttribute1 -eq $null", &record));
        assert!(matches("NoSuchProperty -eq $null", &record));
        assert!(matches("{ RecipientTypeDetails -eq UserMailbox }", &record));
    }

    #[test]
    fn property_names_are_passed_as_written_and_matched_case_insensitively() {
        let record = mailbox("UserMailbox", "Ann", false);
        assert!(matches("displayname -eq 'ANN'", &record));
    }

    #[test]
    fn properties_lists_each_name_once_in_order_as_written() {
        let filter = Filter::parse(
            "(DisplayName -like 'a*' -or displayname -eq 'b') -and -not Alias -eq $null -and Alias -ne x",
        )
        .expect("filter parses");
        assert_eq!(filter.properties(), vec!["DisplayName", "Alias"]);
    }

    #[test]
    fn syntax_error_display_names_filter_position_and_reason() {
        let error = Filter::parse("DisplayName 'Ann'").expect_err("operator missing");
        assert_eq!(
            error.to_string(),
            "Invalid filter syntax. For a description of the filter parameter syntax see the command help. \"DisplayName 'Ann'\" at position 13. (expected a comparison operator such as -eq)"
        );
    }

    #[test]
    fn empty_filter_error_is_at_position_one() {
        for text in ["", "   ", "{}", "{ }"] {
            let error = Filter::parse(text).expect_err("empty filter");
            assert_eq!(
                error,
                FilterError::Empty {
                    filter: text.to_owned()
                }
            );
            assert_eq!(
                error.to_string(),
                format!(
                    "Invalid filter syntax. For a description of the filter parameter syntax see the command help. \"{text}\" at position 1. (the filter is empty)"
                )
            );
        }
    }

    #[test]
    fn every_reason_has_a_readable_text() {
        let cases = [
            (SyntaxReason::UnexpectedEnd, "unexpected end of filter"),
            (SyntaxReason::UnterminatedString, "unterminated string"),
            (
                SyntaxReason::UnbalancedParenthesis,
                "unbalanced parenthesis",
            ),
            (SyntaxReason::UnbalancedBrace, "unbalanced brace"),
            (
                SyntaxReason::MisplacedBrace,
                "braces may only enclose the whole filter",
            ),
            (
                SyntaxReason::UnknownOperator("-foo".to_owned()),
                "unknown operator '-foo'",
            ),
            (
                SyntaxReason::UnknownVariable("$x".to_owned()),
                "unknown variable '$x'; only $true, $false and $null are allowed",
            ),
            (SyntaxReason::ExpectedProperty, "expected a property name"),
            (
                SyntaxReason::ExpectedOperator,
                "expected a comparison operator such as -eq",
            ),
            (
                SyntaxReason::ExpectedValue,
                "expected a value to compare with",
            ),
            (
                SyntaxReason::ExpectedLogicalOperator,
                "expected -and, -or or the end of the filter",
            ),
            (SyntaxReason::TooDeep, "the filter is nested too deeply"),
        ];
        for (reason, text) in cases {
            assert_eq!(reason.to_string(), text);
        }
    }

    #[test]
    fn unknown_property_error_uses_exchange_wording() {
        assert_eq!(
            unknown_property_error("Colour"),
            "Cannot bind parameter 'Filter' to the target. Exception setting \"Filter\": \"'Colour' is not a recognized filterable property.\""
        );
    }

    #[test]
    fn filter_is_shareable_across_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Filter>();
        assert_send_sync::<FilterError>();
    }
}
