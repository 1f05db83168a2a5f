//! The compiled filter tree and how it is matched against records.
//!
//! Everything that can be worked out from the filter text alone (case-folded
//! strings, `-like` segments, integer, boolean and date forms of the operand)
//! is computed when the tree is built, so matching a record never allocates.

use std::cmp::Ordering;

use super::{PropertySource, Value};

/// How a comparison orders the property value against the operand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Relation {
    /// `-eq`
    Eq,
    /// `-ne`
    Ne,
    /// `-gt`
    Gt,
    /// `-lt`
    Lt,
    /// `-ge`
    Ge,
    /// `-le`
    Le,
}

impl Relation {
    /// Whether `value.cmp(operand)` giving `ordering` satisfies the relation.
    fn holds(self, ordering: Ordering) -> bool {
        match self {
            Self::Eq => ordering.is_eq(),
            Self::Ne => ordering.is_ne(),
            Self::Gt => ordering.is_gt(),
            Self::Lt => ordering.is_lt(),
            Self::Ge => ordering.is_ge(),
            Self::Le => ordering.is_le(),
        }
    }
}

/// A comparison operator as written in the filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Operator {
    /// One of the ordering operators `-eq`, `-ne`, `-gt`, `-lt`, `-ge`, `-le`.
    Relation(Relation),
    /// `-like`, or `-notlike` when `negated`.
    Like {
        /// True for `-notlike`.
        negated: bool,
    },
}

/// A node of the compiled filter.
#[derive(Debug, Clone)]
pub(super) enum Node {
    /// `a -or b -or ...`: true when any child is.
    Any(Vec<Node>),
    /// `a -and b -and ...`: true when every child is.
    All(Vec<Node>),
    /// `-not a`.
    Not(Box<Node>),
    /// `Property -op operand`.
    Compare(Comparison),
}

impl Node {
    /// Evaluates the node against one record.
    pub(super) fn matches(&self, record: &dyn PropertySource) -> bool {
        match self {
            Self::Any(nodes) => nodes.iter().any(|node| node.matches(record)),
            Self::All(nodes) => nodes.iter().all(|node| node.matches(record)),
            Self::Not(node) => !node.matches(record),
            Self::Compare(comparison) => {
                comparison.test(record.property(&comparison.property).as_ref())
            }
        }
    }

    /// Appends each property name not yet in `names` (ignoring case), in
    /// order of appearance.
    pub(super) fn collect_properties<'a>(&'a self, names: &mut Vec<&'a str>) {
        match self {
            Self::Any(nodes) | Self::All(nodes) => {
                for node in nodes {
                    node.collect_properties(names);
                }
            }
            Self::Not(node) => node.collect_properties(names),
            Self::Compare(comparison) => {
                let name = comparison.property.as_str();
                if !names.iter().any(|seen| seen.eq_ignore_ascii_case(name)) {
                    names.push(name);
                }
            }
        }
    }
}

/// One `Property -op operand` comparison, with the operand pre-compiled.
#[derive(Debug, Clone)]
pub(super) struct Comparison {
    /// The property name as written.
    pub(super) property: String,
    /// What to check the property's value against.
    test: Test,
}

/// The compiled right-hand side of a comparison.
#[derive(Debug, Clone)]
enum Test {
    /// Against `$null`: `-eq`/`-like` test emptiness, `-ne`/`-notlike` its
    /// absence, the ordering operators never match.
    Null(Relation),
    /// An ordering operator against a literal.
    Compare(Relation, Literal),
    /// `-like` (or `-notlike` when the flag is set) against a pattern.
    Like(Pattern, bool),
}

impl Comparison {
    /// Compiles `property operator operand`, where `operand` is `None` for `$null`.
    pub(super) fn new(property: String, operator: Operator, operand: Option<&str>) -> Self {
        let test = match (operator, operand) {
            (Operator::Relation(relation), None) => Test::Null(relation),
            (Operator::Like { negated }, None) => {
                Test::Null(if negated { Relation::Ne } else { Relation::Eq })
            }
            (Operator::Relation(relation), Some(text)) => {
                Test::Compare(relation, Literal::new(text))
            }
            (Operator::Like { negated }, Some(text)) => Test::Like(Pattern::new(text), negated),
        };
        Self { property, test }
    }

    /// Tests a property value; `None` means the record has no such property.
    fn test(&self, value: Option<&Value<'_>>) -> bool {
        let Some(value) = value else {
            return match self.test {
                Test::Null(relation) => matches!(relation, Relation::Eq | Relation::Ne),
                Test::Compare(relation, _) => relation == Relation::Ne,
                Test::Like(..) => false,
            };
        };
        match &self.test {
            Test::Null(relation) => match relation {
                Relation::Eq => is_empty(value),
                Relation::Ne => !is_empty(value),
                Relation::Gt | Relation::Lt | Relation::Ge | Relation::Le => false,
            },
            Test::Compare(relation, literal) => compare(value, *relation, literal),
            Test::Like(pattern, negated) => like(value, pattern, *negated),
        }
    }
}

/// Whether a value counts as `$null`: null, an empty string or an empty list.
fn is_empty(value: &Value<'_>) -> bool {
    match value {
        Value::Null => true,
        Value::Str(text) => text.is_empty(),
        Value::List(items) => items.is_empty(),
        Value::Bool(_) | Value::Int(_) | Value::DateTime(_) => false,
    }
}

/// Applies an ordering operator to a present value.
fn compare(value: &Value<'_>, relation: Relation, literal: &Literal) -> bool {
    match value {
        Value::Null => relation == Relation::Ne,
        Value::Bool(flag) => literal
            .boolean
            .is_some_and(|operand| relation.holds(flag.cmp(&operand))),
        Value::Int(number) => literal
            .int
            .is_some_and(|operand| relation.holds(number.cmp(&operand))),
        Value::DateTime(seconds) => literal
            .date
            .is_some_and(|operand| relation.holds(seconds.cmp(&operand))),
        Value::Str(text) => relation.holds(cmp_folded(text, &literal.folded)),
        Value::List(items) => {
            if relation == Relation::Ne {
                items
                    .iter()
                    .all(|item| cmp_folded(item, &literal.folded).is_ne())
            } else {
                items
                    .iter()
                    .any(|item| relation.holds(cmp_folded(item, &literal.folded)))
            }
        }
    }
}

/// Applies `-like` (or `-notlike` when `negated`) to a present value.
fn like(value: &Value<'_>, pattern: &Pattern, negated: bool) -> bool {
    let found = match value {
        Value::Null => false,
        Value::DateTime(_) => return false,
        Value::Bool(flag) => pattern.matches(if *flag { "True" } else { "False" }),
        Value::Int(number) => pattern.matches(format_int(*number, &mut [0; 20])),
        Value::Str(text) => pattern.matches(text),
        Value::List(items) => items.iter().any(|item| pattern.matches(item)),
    };
    found != negated
}

/// Writes `number` in decimal into `buffer` (20 bytes fit any `i64`) without
/// allocating, and returns the written part.
fn format_int(number: i64, buffer: &mut [u8; 20]) -> &str {
    let mut start = buffer.len();
    let mut rest = number.unsigned_abs();
    loop {
        start -= 1;
        buffer[start] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    if number < 0 {
        start -= 1;
        buffer[start] = b'-';
    }
    std::str::from_utf8(&buffer[start..]).expect("decimal digits are ASCII")
}

/// An operand in every form a property type may need, computed once.
#[derive(Debug, Clone)]
struct Literal {
    /// The text, case-folded, for string comparisons.
    folded: String,
    /// The text as an integer, for integer properties.
    int: Option<i64>,
    /// The text as a boolean (`True`/`False`/`$true`/`$false`), for boolean properties.
    boolean: Option<bool>,
    /// The text as Unix seconds, for date properties.
    date: Option<i64>,
}

impl Literal {
    /// Pre-converts operand text.
    fn new(text: &str) -> Self {
        let trimmed = text.trim();
        let boolean = if trimmed.eq_ignore_ascii_case("true")
            || trimmed.eq_ignore_ascii_case("$true")
        {
            Some(true)
        } else if trimmed.eq_ignore_ascii_case("false") || trimmed.eq_ignore_ascii_case("$false") {
            Some(false)
        } else {
            None
        };
        Self {
            folded: text.chars().map(fold).collect(),
            int: trimmed.parse().ok(),
            boolean,
            date: parse_date(trimmed),
        }
    }
}

/// A compiled `-like` pattern: the case-folded text split at `*`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Pattern {
    /// No wildcard: the whole value must equal the text.
    Exact(String),
    /// At least one `*`: the value starts with `prefix`, ends with `suffix`,
    /// and contains each of `middle` in order in between.
    Wildcard {
        /// Text before the first `*` (may be empty).
        prefix: String,
        /// Non-empty texts between consecutive `*`s.
        middle: Vec<String>,
        /// Text after the last `*` (may be empty).
        suffix: String,
    },
}

impl Pattern {
    /// Compiles a `-like` operand.
    fn new(text: &str) -> Self {
        let folded: String = text.chars().map(fold).collect();
        let mut parts: Vec<String> = folded.split('*').map(str::to_owned).collect();
        if parts.len() == 1 {
            return Self::Exact(folded);
        }
        let suffix = parts.pop().unwrap_or_default();
        let prefix = parts.remove(0);
        parts.retain(|part| !part.is_empty());
        Self::Wildcard {
            prefix,
            middle: parts,
            suffix,
        }
    }

    /// Whether `text` matches, ignoring case.
    fn matches(&self, text: &str) -> bool {
        match self {
            Self::Exact(expected) => cmp_folded(text, expected).is_eq(),
            Self::Wildcard {
                prefix,
                middle,
                suffix,
            } => {
                let Some(after_prefix) = strip_prefix_folded(text, prefix) else {
                    return false;
                };
                let rest = &text[after_prefix..];
                let Some(suffix_start) = strip_suffix_folded(rest, suffix) else {
                    return false;
                };
                let mut region = &rest[..suffix_start];
                for segment in middle {
                    match find_folded(region, segment) {
                        Some(end) => region = &region[end..],
                        None => return false,
                    }
                }
                true
            }
        }
    }
}

/// Simple case folding: one char to one char, so folded text lines up with
/// the original char by char.
fn fold(c: char) -> char {
    if c.is_ascii() {
        return c.to_ascii_lowercase();
    }
    let mut lower = c.to_lowercase();
    match (lower.next(), lower.next()) {
        (Some(single), None) => single,
        _ => c,
    }
}

/// Compares `text` with already-folded `folded`, ignoring the case of `text`.
fn cmp_folded(text: &str, folded: &str) -> Ordering {
    text.chars().map(fold).cmp(folded.chars())
}

/// If `text` starts with folded `prefix` (ignoring case), the byte offset
/// just after it.
fn strip_prefix_folded(text: &str, prefix: &str) -> Option<usize> {
    let mut chars = text.char_indices();
    for expected in prefix.chars() {
        let (_, c) = chars.next()?;
        if fold(c) != expected {
            return None;
        }
    }
    Some(chars.next().map_or(text.len(), |(index, _)| index))
}

/// If `text` ends with folded `suffix` (ignoring case), the byte offset where
/// it starts.
fn strip_suffix_folded(text: &str, suffix: &str) -> Option<usize> {
    let mut start = text.len();
    let mut chars = text.char_indices().rev();
    for expected in suffix.chars().rev() {
        let (index, c) = chars.next()?;
        if fold(c) != expected {
            return None;
        }
        start = index;
    }
    Some(start)
}

/// The byte offset just after the first occurrence of folded `needle` in
/// `text` (ignoring case).
fn find_folded(text: &str, needle: &str) -> Option<usize> {
    if !needle.is_empty() && needle.is_ascii() && text.is_ascii() {
        return text
            .as_bytes()
            .windows(needle.len())
            .position(|window| window.eq_ignore_ascii_case(needle.as_bytes()))
            .map(|start| start + needle.len());
    }
    text.char_indices()
        .find_map(|(index, _)| strip_prefix_folded(&text[index..], needle).map(|end| index + end))
}

/// Parses a date operand as Unix seconds (UTC). Accepts `yyyy-MM-dd`,
/// `yyyy-MM-dd[T| ]HH:mm[:ss[.fff]][Z]`, `M/d/yyyy` and
/// `M/d/yyyy H:mm[:ss] [AM|PM]`.
fn parse_date(text: &str) -> Option<i64> {
    let mut scanner = Scanner {
        bytes: text.as_bytes(),
        index: 0,
    };
    let (year, month, day, time) = if text.contains('/') {
        parse_us_date(&mut scanner)?
    } else {
        parse_iso_date(&mut scanner)?
    };
    if !scanner.at_end() || !(1..=12).contains(&month) || day == 0 {
        return None;
    }
    if day > days_in_month(year, month) {
        return None;
    }
    let (hour, minute, second) = time;
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let days = days_from_civil(i64::from(year), i64::from(month), i64::from(day));
    Some(days * 86_400 + i64::from(hour * 3600 + minute * 60 + second))
}

/// Year, month, day and (hour, minute, second) as read from the text.
type DateParts = (u32, u32, u32, (u32, u32, u32));

/// `yyyy-MM-dd` optionally followed by `T` or a space and `HH:mm[:ss[.fff]][Z]`.
fn parse_iso_date(scanner: &mut Scanner<'_>) -> Option<DateParts> {
    let year = scanner.number(4, 4)?;
    scanner.expect(b'-')?;
    let month = scanner.number(1, 2)?;
    scanner.expect(b'-')?;
    let day = scanner.number(1, 2)?;
    if scanner.at_end() {
        return Some((year, month, day, (0, 0, 0)));
    }
    if !(scanner.eat(b'T') || scanner.eat(b't') || scanner.eat(b' ')) {
        return None;
    }
    let hour = scanner.number(1, 2)?;
    scanner.expect(b':')?;
    let minute = scanner.number(2, 2)?;
    let second = if scanner.eat(b':') {
        scanner.number(2, 2)?
    } else {
        0
    };
    if scanner.eat(b'.') {
        scanner.skip_digits()?;
    }
    if !scanner.eat(b'Z') {
        scanner.eat(b'z');
    }
    Some((year, month, day, (hour, minute, second)))
}

/// `M/d/yyyy` optionally followed by a space and `H:mm[:ss] [AM|PM]`.
fn parse_us_date(scanner: &mut Scanner<'_>) -> Option<DateParts> {
    let month = scanner.number(1, 2)?;
    scanner.expect(b'/')?;
    let day = scanner.number(1, 2)?;
    scanner.expect(b'/')?;
    let year = scanner.number(4, 4)?;
    if scanner.at_end() {
        return Some((year, month, day, (0, 0, 0)));
    }
    scanner.expect(b' ')?;
    scanner.skip_spaces();
    let mut hour = scanner.number(1, 2)?;
    scanner.expect(b':')?;
    let minute = scanner.number(2, 2)?;
    let second = if scanner.eat(b':') {
        scanner.number(2, 2)?
    } else {
        0
    };
    scanner.skip_spaces();
    let pm = scanner.eat_word("PM");
    if pm || scanner.eat_word("AM") {
        if !(1..=12).contains(&hour) {
            return None;
        }
        hour = hour % 12 + if pm { 12 } else { 0 };
    }
    Some((year, month, day, (hour, minute, second)))
}

/// Days from 1970-01-01 to the given proleptic Gregorian date (Howard
/// Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let shifted_month = (month + 9) % 12;
    let day_of_year = (153 * shifted_month + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// Number of days in `month` (1-12) of `year`.
fn days_in_month(year: u32, month: u32) -> u32 {
    let leap = year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400));
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// A cursor over ASCII date text.
struct Scanner<'a> {
    /// The text being read.
    bytes: &'a [u8],
    /// Index of the next unread byte.
    index: usize,
}

impl Scanner<'_> {
    /// Whether everything has been read.
    fn at_end(&self) -> bool {
        self.index == self.bytes.len()
    }

    /// Consumes `byte` if it is next.
    fn eat(&mut self, byte: u8) -> bool {
        let found = self.bytes.get(self.index) == Some(&byte);
        if found {
            self.index += 1;
        }
        found
    }

    /// Consumes `byte`, or fails.
    fn expect(&mut self, byte: u8) -> Option<()> {
        self.eat(byte).then_some(())
    }

    /// Consumes `word` (ASCII, any case) if it is next.
    fn eat_word(&mut self, word: &str) -> bool {
        let end = self.index + word.len();
        let found = self
            .bytes
            .get(self.index..end)
            .is_some_and(|next| next.eq_ignore_ascii_case(word.as_bytes()));
        if found {
            self.index = end;
        }
        found
    }

    /// Consumes any spaces.
    fn skip_spaces(&mut self) {
        while self.eat(b' ') {}
    }

    /// Consumes one or more digits without reading their value.
    fn skip_digits(&mut self) -> Option<()> {
        let start = self.index;
        while self.bytes.get(self.index).is_some_and(u8::is_ascii_digit) {
            self.index += 1;
        }
        (self.index > start).then_some(())
    }

    /// Reads a decimal number of `min` to `max` digits.
    fn number(&mut self, min: usize, max: usize) -> Option<u32> {
        let start = self.index;
        let mut value = 0;
        while self.index - start < max {
            match self.bytes.get(self.index) {
                Some(byte) if byte.is_ascii_digit() => {
                    value = value * 10 + u32::from(byte - b'0');
                    self.index += 1;
                }
                _ => break,
            }
        }
        (self.index - start >= min).then_some(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EQ: Operator = Operator::Relation(Relation::Eq);
    const NE: Operator = Operator::Relation(Relation::Ne);
    const GT: Operator = Operator::Relation(Relation::Gt);
    const LT: Operator = Operator::Relation(Relation::Lt);
    const GE: Operator = Operator::Relation(Relation::Ge);
    const LE: Operator = Operator::Relation(Relation::Le);
    const LIKE: Operator = Operator::Like { negated: false };
    const NOTLIKE: Operator = Operator::Like { negated: true };

    /// Evaluates `value <operator> operand` for a present value.
    fn check(value: &Value<'_>, operator: Operator, operand: Option<&str>) -> bool {
        Comparison::new("P".to_owned(), operator, operand).test(Some(value))
    }

    /// Evaluates `<operator> operand` for a property the record lacks.
    fn check_missing(operator: Operator, operand: Option<&str>) -> bool {
        Comparison::new("P".to_owned(), operator, operand).test(None)
    }

    fn seconds(text: &str) -> i64 {
        parse_date(text).expect("valid date")
    }

    #[test]
    fn strings_compare_case_insensitively() {
        let value = Value::Str("Ann Lee");
        assert!(check(&value, EQ, Some("ann lee")));
        assert!(check(&value, EQ, Some("ANN LEE")));
        assert!(!check(&value, EQ, Some("Ann")));
        assert!(check(&value, NE, Some("Ann")));
        assert!(!check(&value, NE, Some("ann LEE")));
    }

    #[test]
    fn strings_order_case_insensitively() {
        let value = Value::Str("bob");
        assert!(check(&value, GT, Some("ALICE")));
        assert!(check(&value, LT, Some("Carol")));
        assert!(check(&value, GE, Some("BOB")));
        assert!(check(&value, LE, Some("BOB")));
        assert!(!check(&value, GT, Some("BOB")));
        assert!(!check(&value, LT, Some("Bob")));
        assert!(check(&Value::Str("10"), LT, Some("9")));
    }

    #[test]
    fn non_ascii_strings_fold_case() {
        assert!(check(&Value::Str("ÉCOLE"), EQ, Some("école")));
        assert!(!check(&Value::Str("Straße Ärger"), LIKE, Some("*STRASSE*")));
        assert!(check(&Value::Str("Straße Ärger"), LIKE, Some("*ärGER")));
        assert_eq!(fold('Ä'), 'ä');
        assert_eq!(fold('İ'), 'İ');
    }

    #[test]
    fn like_supports_wildcards_anywhere() {
        let value = Value::Str("Annie Shared Mailbox");
        for pattern in [
            "annie shared mailbox",
            "Ann*",
            "*Mailbox",
            "*SHARED*",
            "A*e*x",
            "*",
            "**",
            "Annie*Shared*Mailbox",
            "*nn*ed*ail*",
        ] {
            assert!(check(&value, LIKE, Some(pattern)), "{pattern}");
            assert!(!check(&value, NOTLIKE, Some(pattern)), "{pattern}");
        }
        for pattern in [
            "Ann",
            "Bob*",
            "*Mail",
            "*x*y*",
            "Annie*Mailbox*Shared",
            "?nnie*",
        ] {
            assert!(!check(&value, LIKE, Some(pattern)), "{pattern}");
            assert!(check(&value, NOTLIKE, Some(pattern)), "{pattern}");
        }
    }

    #[test]
    fn like_prefix_and_suffix_do_not_overlap() {
        assert!(!check(&Value::Str("ab"), LIKE, Some("ab*b")));
        assert!(check(&Value::Str("abb"), LIKE, Some("ab*b")));
        assert!(!check(&Value::Str("aXa"), LIKE, Some("aXa*Xa")));
    }

    #[test]
    fn find_folded_agrees_on_ascii_and_unicode_text() {
        assert_eq!(find_folded("abcABC", "ca"), Some(4));
        assert_eq!(find_folded("abcABC", "cd"), None);
        assert_eq!(find_folded("ab", "abc"), None);
        assert_eq!(find_folded("xÄBc", "äb"), Some(4));
        assert_eq!(find_folded("\u{212A}ey", "ke"), Some(4));
        assert_eq!(find_folded("abc", "ä"), None);
        assert!(check(&Value::Str("Ünïcode ÄBC"), LIKE, Some("*äb*")));
    }

    #[test]
    fn like_question_mark_is_literal() {
        assert!(check(&Value::Str("what?"), LIKE, Some("*?")));
        assert!(!check(&Value::Str("whatX"), LIKE, Some("*?")));
    }

    #[test]
    fn like_on_empty_string() {
        assert!(check(&Value::Str(""), LIKE, Some("*")));
        assert!(check(&Value::Str(""), LIKE, Some("")));
        assert!(!check(&Value::Str(""), LIKE, Some("a*")));
    }

    #[test]
    fn pattern_compiles_into_segments() {
        assert_eq!(Pattern::new("AbC"), Pattern::Exact("abc".to_owned()));
        assert_eq!(
            Pattern::new("A**b*C*"),
            Pattern::Wildcard {
                prefix: "a".to_owned(),
                middle: vec!["b".to_owned(), "c".to_owned()],
                suffix: String::new(),
            }
        );
    }

    #[test]
    fn null_operand_tests_emptiness() {
        for empty in [Value::Null, Value::Str(""), Value::List(Vec::new())] {
            assert!(check(&empty, EQ, None));
            assert!(!check(&empty, NE, None));
            assert!(check(&empty, LIKE, None));
            assert!(!check(&empty, NOTLIKE, None));
            assert!(!check(&empty, GT, None));
        }
        for present in [
            Value::Str("x"),
            Value::Bool(false),
            Value::Int(0),
            Value::DateTime(0),
            Value::List(vec!["x"]),
        ] {
            assert!(!check(&present, EQ, None));
            assert!(check(&present, NE, None));
            assert!(!check(&present, LIKE, None));
            assert!(check(&present, NOTLIKE, None));
            assert!(!check(&present, LE, None));
        }
    }

    #[test]
    fn null_value_against_a_literal() {
        assert!(!check(&Value::Null, EQ, Some("x")));
        assert!(check(&Value::Null, NE, Some("x")));
        assert!(!check(&Value::Null, GT, Some("x")));
        assert!(!check(&Value::Null, LIKE, Some("*")));
        assert!(check(&Value::Null, NOTLIKE, Some("x*")));
    }

    #[test]
    fn missing_property_matches_only_eq_null_and_ne() {
        assert!(check_missing(EQ, None));
        assert!(check_missing(NE, None));
        assert!(check_missing(NE, Some("x")));
        assert!(!check_missing(EQ, Some("x")));
        assert!(!check_missing(GT, Some("x")));
        assert!(!check_missing(LE, None));
        assert!(!check_missing(LIKE, Some("*")));
        assert!(!check_missing(NOTLIKE, Some("x")));
        assert!(check_missing(LIKE, None));
    }

    #[test]
    fn bools_accept_true_false_in_any_case() {
        let yes = Value::Bool(true);
        let no = Value::Bool(false);
        for operand in ["True", "true", "TRUE", "$true", " True "] {
            assert!(check(&yes, EQ, Some(operand)), "{operand}");
            assert!(!check(&no, EQ, Some(operand)), "{operand}");
            assert!(check(&no, NE, Some(operand)), "{operand}");
        }
        assert!(check(&no, EQ, Some("False")));
        assert!(check(&no, EQ, Some("$FALSE")));
        assert!(!check(&yes, EQ, Some("yes")));
        assert!(!check(&yes, NE, Some("yes")));
        assert!(check(&yes, GT, Some("False")));
        assert!(check(&yes, LIKE, Some("t*")));
        assert!(check(&no, NOTLIKE, Some("t*")));
    }

    #[test]
    fn ints_compare_numerically() {
        let value = Value::Int(50);
        assert!(check(&value, EQ, Some("50")));
        assert!(check(&value, NE, Some("49")));
        assert!(check(&value, GT, Some("9")));
        assert!(check(&value, LT, Some("100")));
        assert!(check(&value, GE, Some("50")));
        assert!(check(&value, LE, Some("50")));
        assert!(!check(&value, LE, Some("-50")));
        assert!(check(&Value::Int(-5), LT, Some("-4")));
    }

    #[test]
    fn ints_with_unparsable_operand_never_match() {
        let value = Value::Int(50);
        for relation in [EQ, NE, GT, LT, GE, LE] {
            assert!(!check(&value, relation, Some("fifty")));
        }
    }

    #[test]
    fn ints_like_their_decimal_text() {
        assert!(check(&Value::Int(1234), LIKE, Some("12*")));
        assert!(check(&Value::Int(-7), LIKE, Some("-7")));
        assert!(check(&Value::Int(1234), NOTLIKE, Some("*5")));
    }

    #[test]
    fn format_int_covers_the_whole_range() {
        for number in [0, 7, -7, 1_000, i64::MAX, i64::MIN] {
            assert_eq!(format_int(number, &mut [0; 20]), number.to_string());
        }
    }

    #[test]
    fn dates_compare_against_parsed_operands() {
        let value = Value::DateTime(seconds("2024-03-15T12:00:00Z"));
        assert!(check(&value, GT, Some("2024-03-15")));
        assert!(check(&value, LT, Some("3/16/2024")));
        assert!(check(&value, EQ, Some("3/15/2024 12:00:00")));
        assert!(check(&value, EQ, Some("3/15/2024 12:00:00 PM")));
        assert!(check(&value, NE, Some("2024-03-15")));
        assert!(check(&value, GE, Some("2024-03-15 12:00")));
        assert!(check(&value, LE, Some("2024-03-15T12:00:00.999")));
        assert!(!check(&value, EQ, Some("not a date")));
        assert!(!check(&value, NE, Some("not a date")));
        assert!(!check(&value, LIKE, Some("*")));
        assert!(!check(&value, NOTLIKE, Some("x")));
    }

    #[test]
    fn date_formats_parse_to_unix_seconds() {
        assert_eq!(parse_date("1970-01-01"), Some(0));
        assert_eq!(parse_date("2024-01-01"), Some(1_704_067_200));
        assert_eq!(parse_date("2024-02-29T23:59:59Z"), Some(1_709_251_199));
        assert_eq!(
            parse_date("2024-02-29T23:59:59.1234567Z"),
            Some(1_709_251_199)
        );
        assert_eq!(parse_date("2024-02-29t23:59:59z"), Some(1_709_251_199));
        assert_eq!(parse_date("2024-02-29 23:59"), Some(1_709_251_140));
        assert_eq!(parse_date("2/29/2024"), Some(1_709_164_800));
        assert_eq!(parse_date("02/29/2024 23:59:59"), Some(1_709_251_199));
        assert_eq!(parse_date("2/29/2024 9:05"), Some(1_709_197_500));
        assert_eq!(parse_date("2/29/2024 12:00:00 AM"), Some(1_709_164_800));
        assert_eq!(parse_date("2/29/2024 12:30:00 pm"), Some(1_709_209_800));
        assert_eq!(parse_date("2/29/2024 1:00:00 PM"), Some(1_709_211_600));
        assert_eq!(parse_date("1969-12-31T23:59:59"), Some(-1));
        assert_eq!(parse_date("2000-03-01"), Some(951_868_800));
        assert_eq!(parse_date("0001-01-01"), Some(-62_135_596_800));
    }

    #[test]
    fn invalid_dates_are_rejected() {
        for text in [
            "",
            "2024",
            "2024-13-01",
            "2024-00-10",
            "2023-02-29",
            "1900-02-29",
            "2024-04-31",
            "2024-01-01T24:00:00",
            "2024-01-01T10:60",
            "2024-01-01T10:00:61",
            "2024-01-01T10",
            "2024-01-01X10:00",
            "2024-01-01T10:00:00.",
            "2024-01-01T10:00:00+02:00",
            "13/1/2024",
            "1/32/2024",
            "1/1/24",
            "1/1/2024 13:00 PM",
            "1/1/2024 0:00 AM",
            "1/1/2024T10:00",
            "2024-01-01 extra",
            "１９７０-01-01",
        ] {
            assert_eq!(parse_date(text), None, "{text}");
        }
        assert_eq!(parse_date("2000-02-29"), Some(951_782_400));
    }

    #[test]
    fn days_from_civil_matches_known_days() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 1, 1), 10_957);
        assert_eq!(days_from_civil(1969, 12, 31), -1);
        assert_eq!(days_from_civil(2038, 1, 19), 24_855);
    }

    #[test]
    fn lists_match_any_for_eq_and_like_and_none_for_ne_and_notlike() {
        let value = Value::List(vec!["SMTP:ann@contoso.com", "smtp:a@fabrikam.com"]);
        assert!(check(&value, EQ, Some("smtp:ANN@contoso.com")));
        assert!(!check(&value, EQ, Some("smtp:bob@contoso.com")));
        assert!(!check(&value, NE, Some("smtp:ann@contoso.com")));
        assert!(check(&value, NE, Some("smtp:bob@contoso.com")));
        assert!(check(&value, LIKE, Some("*@fabrikam.com")));
        assert!(!check(&value, NOTLIKE, Some("*@fabrikam.com")));
        assert!(check(&value, NOTLIKE, Some("*@example.com")));
        assert!(check(&value, GT, Some("smtp:am")));
        assert!(!check(&value, GT, Some("smtp:z")));
    }

    #[test]
    fn empty_list_against_literals() {
        let value = Value::List(Vec::new());
        assert!(!check(&value, EQ, Some("x")));
        assert!(check(&value, NE, Some("x")));
        assert!(!check(&value, LIKE, Some("*")));
        assert!(check(&value, NOTLIKE, Some("*")));
    }

    #[test]
    fn literal_pre_converts_every_form() {
        let literal = Literal::new(" 42 ");
        assert_eq!(literal.int, Some(42));
        assert_eq!(literal.folded, " 42 ");
        assert_eq!(literal.boolean, None);
        assert_eq!(Literal::new("TRUE").boolean, Some(true));
        assert_eq!(Literal::new("2024-01-01").date, Some(1_704_067_200));
        assert_eq!(Literal::new("Mixed").folded, "mixed");
    }

    #[test]
    fn tree_combines_children() {
        struct Props;
        impl PropertySource for Props {
            fn property(&self, name: &str) -> Option<Value<'_>> {
                name.eq_ignore_ascii_case("a").then_some(Value::Int(1))
            }
        }
        let yes = || Node::Compare(Comparison::new("A".to_owned(), EQ, Some("1")));
        let no = || Node::Compare(Comparison::new("A".to_owned(), EQ, Some("2")));
        assert!(Node::Any(vec![no(), yes()]).matches(&Props));
        assert!(!Node::Any(vec![no(), no()]).matches(&Props));
        assert!(Node::All(vec![yes(), yes()]).matches(&Props));
        assert!(!Node::All(vec![yes(), no()]).matches(&Props));
        assert!(Node::Not(Box::new(no())).matches(&Props));
        assert!(!Node::Not(Box::new(yes())).matches(&Props));
    }

    #[test]
    fn collect_properties_dedupes_ignoring_case() {
        let node = Node::All(vec![
            Node::Compare(Comparison::new("Alias".to_owned(), EQ, None)),
            Node::Not(Box::new(Node::Compare(Comparison::new(
                "Name".to_owned(),
                LIKE,
                Some("x"),
            )))),
            Node::Any(vec![Node::Compare(Comparison::new(
                "ALIAS".to_owned(),
                NE,
                None,
            ))]),
        ]);
        let mut names = Vec::new();
        node.collect_properties(&mut names);
        assert_eq!(names, vec!["Alias", "Name"]);
    }
}
