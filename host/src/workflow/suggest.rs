//! "Did you mean …?": the closest of the known names to a mistyped one.

/// The candidate closest to `name` (ignoring case) when it is close enough to be a typo: at most
/// one edit per three characters (and at least one), or sharing most of its beginning
/// (`retries` for `retry`).
pub(crate) fn closest<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let wanted = name.to_lowercase();
    let limit = (wanted.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .map(|c| {
            let candidate = c.to_lowercase();
            let edits = strsim::levenshtein(&wanted, &candidate);
            let shared = wanted
                .chars()
                .zip(candidate.chars())
                .take_while(|(a, b)| a == b)
                .count();
            let alike = shared >= 4 || strsim::jaro_winkler(&wanted, &candidate) >= 0.9;
            (edits, edits <= limit || alike, c)
        })
        .filter(|(_, close, _)| *close)
        .min_by_key(|(edits, _, _)| *edits)
        .map(|(_, _, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_find_their_name_and_strangers_nothing() {
        let keys = ["id", "plugin", "needs", "max_parallel", "for_each"];
        assert_eq!(closest("max_paralel", keys), Some("max_parallel"));
        assert_eq!(closest("nedds", keys), Some("needs"));
        assert_eq!(closest("ID", keys), Some("id"));
        assert_eq!(closest("foreach", keys), Some("for_each"));
        assert_eq!(closest("colour", keys), None);
        assert_eq!(
            closest("retries", ["retry", "backoff", "then"]),
            Some("retry")
        );
        assert_eq!(closest("if", ["id"]), Some("id"));
        assert_eq!(
            closest("pluginz_dir", ["plugin", "plugin_dir"]),
            Some("plugin_dir")
        );
        assert_eq!(closest("x", Vec::<&str>::new()), None);
    }
}
