//! Filters built from templates, checked before anything runs. A `${…}` written into the text of
//! an OPATH filter (a field such as `filter` or `RecipientFilter`) as it is lets a value holding
//! `'` end the quoted text and add conditions of its own (`x' -or Name -like '*` turns "this
//! user" into "every recipient"): it should be `opath(…)` or `opath_prefix(…)`, which is said as
//! a warning. Those functions used where they cannot be right (inside quotes, or `opath` after
//! `-like`, where a `*` in the value would be a wildcard) are errors.

use super::expr::{Expr, ExprKind};
use super::functions::Function;
use super::template::{Part, Template};

/// How serious a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Severity {
    /// The filter cannot be right: the workflow is refused.
    Error,
    /// The filter works for plain values but not for hostile ones.
    Warning,
}

/// Something found in a filter: where (a byte offset in the template's text), how serious,
/// what, and what to write instead.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Finding {
    /// Byte offset in the template's text (the expression of the `${…}`).
    pub at: usize,
    /// How serious.
    pub severity: Severity,
    /// What is wrong.
    pub what: String,
    /// What to write instead.
    pub fix: String,
}

/// Whether a field named `key` holds an OPATH filter: `filter`, `Filter`, `RecipientFilter`,
/// `recipient_filter` and the like (its name ends in "filter").
pub(super) fn is_filter_field(key: &str) -> bool {
    key.chars()
        .filter(|c| !matches!(c, '_' | '-'))
        .flat_map(char::to_lowercase)
        .collect::<String>()
        .ends_with("filter")
}

/// Where a `${…}` is in the filter's text.
struct Spot<'t> {
    expr: &'t Expr,
    /// The quote of the OPATH text it is inside, if it is.
    quoted: Option<char>,
    /// The literal text just before it (since the previous `${…}`).
    before: &'t str,
    /// The literal text just after it (up to the next `${…}`).
    after: &'t str,
}

/// Each `${…}` of `template` with its place in the filter's quoting.
fn spots(template: &Template) -> Vec<Spot<'_>> {
    let parts = template.parts();
    let mut quote: Option<char> = None;
    let mut out = Vec::new();
    for (n, part) in parts.iter().enumerate() {
        match part {
            Part::Text(text) => {
                for c in text.chars() {
                    quote = match quote {
                        None if c == '\'' || c == '"' => Some(c),
                        Some(open) if c == open => None,
                        other => other,
                    };
                }
            }
            Part::Expr(expr) => {
                let text_at = |i: Option<usize>| match i.and_then(|i| parts.get(i)) {
                    Some(Part::Text(text)) => text.as_str(),
                    _ => "",
                };
                out.push(Spot {
                    expr,
                    quoted: quote,
                    before: text_at(n.checked_sub(1)),
                    after: text_at(Some(n + 1)),
                });
            }
        }
    }
    out
}

/// Whether `expr` is `item.filter`, the filter a partition's item carries.
fn is_partition_filter(expr: &Expr) -> bool {
    match &expr.kind {
        ExprKind::Path(path) => path.to_string() == "item.filter",
        _ => false,
    }
}

/// Whether `before` ends with a `-like` operator (`-like`, `-notlike`, `-ilike`, `-clike`…).
fn after_like(before: &str) -> bool {
    before
        .split_whitespace()
        .next_back()
        .is_some_and(|word| word.starts_with('-') && word.to_lowercase().ends_with("like"))
}

/// What is wrong with the `${…}`s of `template`, the value of filter field `key` of a step
/// whose `for_each` is a partition when `partitioned`. A template that is one `${…}` is a whole
/// filter made elsewhere (a partition's, an input that is a filter): nothing is written into
/// quotes there; nor is a partition's `${item.filter}` joined to more conditions, a filter
/// exorun makes.
pub(super) fn check_filter(key: &str, template: &Template, partitioned: bool) -> Vec<Finding> {
    if template.single().is_some() {
        return Vec::new();
    }
    spots(template)
        .into_iter()
        .filter(|spot| !(partitioned && is_partition_filter(spot.expr)))
        .filter_map(|spot| {
            let written = &template.source()[spot.expr.span()];
            let (severity, what, fix) = judge(key, &spot, written)?;
            Some(Finding {
                at: spot.expr.span().start,
                severity,
                what,
                fix,
            })
        })
        .collect()
}

/// What is wrong with one `${…}` (whose expression is `written`) of filter `key`, if anything.
fn judge(key: &str, spot: &Spot<'_>, written: &str) -> Option<(Severity, String, String)> {
    Some(match (spot.expr.function(), spot.quoted) {
        (Some(_), Some(_)) => (
            Severity::Error,
            format!(
                "{written} gives a complete quoted OPATH value, and here it is inside quotes in filter '{key}'"
            ),
            format!("remove the quotes around ${{{written}}}"),
        ),
        (Some(Function::Opath), None) if after_like(spot.before) => (
            Severity::Error,
            format!(
                "{written} after -like in filter '{key}' is a pattern, in which a * from the value would match anything"
            ),
            "compare the whole value with -eq ${opath(…)}, or match its start with -like ${opath_prefix(…)}".into(),
        ),
        (Some(_), None) => return None,
        (None, Some(quote)) => (
            Severity::Warning,
            format!(
                "${{{written}}} is written into a quoted text of filter '{key}' as it is: a value holding {quote} ends the text and can add conditions of its own (x{quote} -or Name -like {quote}*)"
            ),
            instead(written, spot.before, spot.after),
        ),
        (None, None) => (
            Severity::Warning,
            format!(
                "${{{written}}} is written into filter '{key}' as it is: its value is read as filter syntax"
            ),
            format!(
                "write ${{opath({written})}} for a whole value, or ${{opath_prefix({written})}} after -like for the start of one"
            ),
        ),
    })
}

/// What to write in place of the quoted `'${written}…'`.
fn instead(written: &str, before: &str, after: &str) -> String {
    if before.ends_with('\'') && after.starts_with('\'') {
        format!("write ${{opath({written})}} in place of '${{{written}}}': it quotes the value")
    } else if before.ends_with('\'') && after.starts_with("*'") {
        format!(
            "write ${{opath_prefix({written})}} in place of '${{{written}}}*': it quotes the value and refuses a * or ? in it"
        )
    } else {
        format!(
            "take ${{{written}}} out of the quotes and write ${{opath({written})}} (a whole value) or ${{opath_prefix({written})}} (the start of one, after -like)"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn findings(text: &str) -> Vec<(usize, Severity, String, String)> {
        let template = Template::parse(text).unwrap();
        check_filter("filter", &template, false)
            .into_iter()
            .map(|f| (f.at, f.severity, f.what, f.fix))
            .collect()
    }

    #[test]
    fn filter_fields_are_named_for_it() {
        for key in [
            "filter",
            "Filter",
            "RecipientFilter",
            "recipient_filter",
            "content-filter",
        ] {
            assert!(is_filter_field(key), "{key}");
        }
        for key in ["identity", "filters", "filtered", "identities"] {
            assert!(!is_filter_field(key), "{key}");
        }
    }

    #[test]
    fn quoted_and_functions_used_right_pass() {
        for text in [
            "PrimarySmtpAddress -eq ${opath(inputs.user)}",
            "DisplayName -like ${opath_prefix(inputs.name)} -and Department -eq ${opath(inputs.dept)}",
            "Name -notlike ${opath_prefix(item.name)}",
            "${item.filter}",
            "Name -eq 'a $${b}' -and Name -ne ${opath(inputs.b)}",
            "Name -like 'a*'",
        ] {
            assert_eq!(findings(text), [], "{text}");
        }
    }

    #[test]
    fn a_value_written_into_quotes_as_it_is_is_warned_of_with_what_to_write() {
        let found = findings("PrimarySmtpAddress -eq '${inputs.user}'");
        assert_eq!(
            found,
            [(
                26,
                Severity::Warning,
                "${inputs.user} is written into a quoted text of filter 'filter' as it is: a value holding ' ends the text and can add conditions of its own (x' -or Name -like '*)".into(),
                "write ${opath(inputs.user)} in place of '${inputs.user}': it quotes the value".into()
            )]
        );
        let found = findings("DisplayName -like '${ inputs.name }*'");
        assert_eq!(
            found[0].3,
            "write ${opath_prefix(inputs.name)} in place of '${inputs.name}*': it quotes the value and refuses a * or ? in it"
        );
        let found = findings("Notes -eq \"about ${inputs.x} today\"");
        assert_eq!(
            found[0].3,
            "take ${inputs.x} out of the quotes and write ${opath(inputs.x)} (a whole value) or ${opath_prefix(inputs.x)} (the start of one, after -like)"
        );
        // A doubled quote does not end the text; each ${…} is said.
        let found = findings("Name -eq 'it''s ${inputs.a}' -or Name -eq ${inputs.b}");
        assert_eq!(found.len(), 2);
        assert!(found[0].2.contains("quoted text"));
        assert_eq!(
            found[1].2,
            "${inputs.b} is written into filter 'filter' as it is: its value is read as filter syntax"
        );
        assert!(found.iter().all(|f| f.1 == Severity::Warning));
    }

    #[test]
    fn a_partition_s_filter_joined_to_more_conditions_is_exorun_s_own() {
        let text = "RecipientTypeDetails -eq 'SharedMailbox' -and (${item.filter})";
        let template = Template::parse(text).unwrap();
        assert_eq!(check_filter("filter", &template, true), []);
        // Without a partition, item.filter is whatever the list held.
        assert_eq!(findings(text).len(), 1);
        let other = Template::parse("Name -eq ${item.name} -and (${item.filter})").unwrap();
        assert_eq!(check_filter("filter", &other, true).len(), 1);
    }

    #[test]
    fn functions_where_they_cannot_be_right_are_errors() {
        let found = findings("Name -eq '${opath(inputs.user)}'");
        assert_eq!(
            found,
            [(
                12,
                Severity::Error,
                "opath(inputs.user) gives a complete quoted OPATH value, and here it is inside quotes in filter 'filter'".into(),
                "remove the quotes around ${opath(inputs.user)}".into()
            )]
        );
        let found = findings("Name -like ${opath(inputs.user)}");
        assert_eq!(
            found,
            [(
                13,
                Severity::Error,
                "opath(inputs.user) after -like in filter 'filter' is a pattern, in which a * from the value would match anything".into(),
                "compare the whole value with -eq ${opath(…)}, or match its start with -like ${opath_prefix(…)}".into()
            )]
        );
        assert_eq!(
            findings("Name -NotLike  ${opath(inputs.user)}")[0].1,
            Severity::Error
        );
        assert_eq!(
            findings("x -and '${opath_prefix(inputs.n)}*'")[0].1,
            Severity::Error
        );
    }
}
