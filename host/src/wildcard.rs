//! Wildcard patterns matched against a whole text without regard to case: the one matcher for
//! the policy's `glob` value rules (and the caller rules' input constraints) and for OPATH
//! `-like` in recipient scopes.

/// Which wildcards a pattern has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Syntax {
    /// A policy glob: `*` is any run of characters, `?` one character; neither stands for a
    /// control character, so a line break cannot ride in on a `*`.
    Glob,
    /// OPATH `-like`, as Exchange matches it: `*` is any run of characters; `?` is itself.
    Like,
}

/// One element of a pattern.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Piece {
    /// This character (lowercased).
    Char(char),
    /// Any one character.
    One,
    /// Any run of characters, the empty one included.
    Run,
}

/// A compiled wildcard pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Wildcard {
    pattern: String,
    pieces: Vec<Piece>,
    syntax: Syntax,
}

impl Wildcard {
    /// `pattern` read with `syntax`.
    pub fn new(pattern: &str, syntax: Syntax) -> Wildcard {
        let mut pieces: Vec<Piece> = Vec::with_capacity(pattern.len());
        for c in pattern.chars() {
            let piece = match (c, syntax) {
                ('*', _) => Piece::Run,
                ('?', Syntax::Glob) => Piece::One,
                (c, _) => Piece::Char(c),
            };
            // `**` is `*`.
            if !(piece == Piece::Run && pieces.last() == Some(&Piece::Run)) {
                pieces.extend(lowered(piece));
            }
        }
        Wildcard {
            pattern: pattern.to_string(),
            pieces,
            syntax,
        }
    }

    /// The pattern as written.
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// Whether `text`, whole, matches.
    pub fn is_match(&self, text: &str) -> bool {
        let text: Vec<char> = text.chars().flat_map(char::to_lowercase).collect();
        let wild = |c: char| self.syntax == Syntax::Like || !c.is_control();
        // matched[j]: the pieces so far match text[..j].
        let mut matched = vec![false; text.len() + 1];
        matched[0] = true;
        for piece in &self.pieces {
            let mut next = vec![false; text.len() + 1];
            match piece {
                Piece::Run => {
                    next[0] = matched[0];
                    for j in 1..=text.len() {
                        next[j] = matched[j] || (next[j - 1] && wild(text[j - 1]));
                    }
                }
                Piece::One => {
                    for j in 1..=text.len() {
                        next[j] = matched[j - 1] && wild(text[j - 1]);
                    }
                }
                Piece::Char(c) => {
                    for j in 1..=text.len() {
                        next[j] = matched[j - 1] && text[j - 1] == *c;
                    }
                }
            }
            matched = next;
        }
        matched[text.len()]
    }
}

/// A piece with its character lowercased (a character may lower to several).
fn lowered(piece: Piece) -> Vec<Piece> {
    match piece {
        Piece::Char(c) => c.to_lowercase().map(Piece::Char).collect(),
        other => vec![other],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn glob(pattern: &str, text: &str) -> bool {
        Wildcard::new(pattern, Syntax::Glob).is_match(text)
    }

    fn like(pattern: &str, text: &str) -> bool {
        Wildcard::new(pattern, Syntax::Like).is_match(text)
    }

    #[test]
    fn a_glob_matches_the_whole_text_in_any_case() {
        assert!(glob("*@contoso.com", "Ann@Contoso.COM"));
        assert!(!glob("*@contoso.com", "ann@contoso.com.evil.example"));
        assert!(!glob("*@contoso.com", "ann@fabrikam.com"));
        assert!(glob("user?", "user1"));
        assert!(!glob("user?", "user12"));
        assert!(glob("a*b*c", "aXXbYYc"));
        assert!(!glob("a*b*c", "aXXbYY"));
        assert!(glob("*", ""));
        assert!(glob("**x", "x"));
        assert!(glob("", ""));
        assert!(!glob("", "x"));
        // Regular-expression characters are themselves.
        assert!(glob("a.b+(c)", "A.B+(C)"));
        assert!(!glob("a.b", "axb"));
    }

    #[test]
    fn a_glob_wildcard_never_stands_for_a_control_character() {
        assert!(!glob("*@contoso.com", "evil@fabrikam.com\n@contoso.com"));
        assert!(!glob("a?b", "a\nb"));
        assert!(!glob("*", "\u{0}"));
        assert!(glob("*", "ann smith"));
    }

    #[test]
    fn like_has_only_the_star() {
        assert!(like("room*", "Room1"));
        assert!(like("*-team*", "hr-team1"));
        assert!(!like("room?", "room1"));
        assert!(like("room?", "ROOM?"));
        assert!(like("*", "a\nb"));
        assert!(!like("a*b", "ac"));
        assert!(like("a*b*c", "abc") && like("*", ""));
        assert!(!like("a*b*c", "ab") && !like("a*a", "a"));
        assert!(like("a*a", "aXa"));
    }

    #[test]
    fn many_stars_on_a_long_text_do_not_backtrack() {
        // Pieces × characters, at most: no exponential backtracking.
        let text = "a".repeat(2000);
        assert!(!glob(&format!("{}b", "*a".repeat(50)), &text));
        assert!(glob(&format!("{}*", "*a".repeat(50)), &text));
    }
}
