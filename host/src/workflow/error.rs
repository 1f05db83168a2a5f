//! What can be wrong with a workflow file, said the way compilers say it: `FILE:LINE:COL`, what
//! is wrong, and what to do about it. Every problem found is kept, so one `workflow check`
//! shows them all.

use std::fmt;
use std::path::PathBuf;

/// A place in the workflow file: line and column, both from 1 (the column counts characters).
/// Steps and templates keep theirs, so errors found while running can point at the file too.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Location {
    /// The line, from 1.
    pub line: usize,
    /// The column, from 1, in characters.
    pub column: usize,
}

impl Location {
    /// The location of byte offset `at` of `text` (clamped to the text).
    pub(crate) fn of(text: &str, at: usize) -> Location {
        let mut at = at.min(text.len());
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        let before = &text[..at];
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        Location {
            line: before.matches('\n').count() + 1,
            column: before[line_start..].chars().count() + 1,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// One thing wrong with a workflow file.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{at}: error: {what}{}", if fix.is_empty() { String::new() } else { format!("; {fix}") })]
pub struct Problem {
    /// The file, as the user named it.
    pub file: String,
    /// Where in it.
    pub at: Location,
    /// What is wrong.
    pub what: String,
    /// How to fix it (may be empty when `what` says it all).
    pub fix: String,
}

/// Something in a workflow file that works for plain values but is likely unsafe (a value
/// written into a filter as it is): said like a [`Problem`], as `warning:`. The workflow can
/// still run.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{at}: warning: {what}; {fix}")]
pub struct Warning {
    /// The file, as the user named it.
    pub file: String,
    /// Where in it.
    pub at: Location,
    /// What is wrong.
    pub what: String,
    /// What to write instead.
    pub fix: String,
}

/// Why a workflow cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum WorkflowError {
    /// The file cannot be read.
    #[error("cannot read the workflow {}: {reason}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The file has problems; all that were found, in file order.
    #[error("{}", Problems(problems))]
    Invalid {
        /// The problems, one per line when shown.
        problems: Vec<Problem>,
    },
}

/// Problems shown one per line.
struct Problems<'a>(&'a [Problem]);

impl fmt::Display for Problems<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{problem}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_count_lines_and_characters_from_one() {
        let text = "a = 1\nname = \"é${x\"\n";
        assert_eq!(Location::of(text, 0), Location { line: 1, column: 1 });
        let at = text.find("${").unwrap();
        assert_eq!(
            Location::of(text, at),
            Location {
                line: 2,
                column: 10
            }
        );
        assert_eq!(Location::of(text, 10_000), Location { line: 3, column: 1 });
        // Inside a character: its start.
        let inside = text.find('é').unwrap() + 1;
        assert_eq!(Location::of(text, inside), Location { line: 2, column: 9 });
    }

    #[test]
    fn a_problem_reads_like_a_compiler_error() {
        let problem = Problem {
            file: "wf.toml".into(),
            at: Location { line: 3, column: 7 },
            what: "unknown key 'nedds'".into(),
            fix: "did you mean 'needs'?".into(),
        };
        assert_eq!(
            problem.to_string(),
            "wf.toml:3:7: error: unknown key 'nedds'; did you mean 'needs'?"
        );
        let warning = Warning {
            file: "wf.toml".into(),
            at: Location { line: 3, column: 7 },
            what: "${inputs.user} is written into filter 'filter' as it is".into(),
            fix: "write ${opath(inputs.user)}".into(),
        };
        assert_eq!(
            warning.to_string(),
            "wf.toml:3:7: warning: ${inputs.user} is written into filter 'filter' as it is; write ${opath(inputs.user)}"
        );
        let error = WorkflowError::Invalid {
            problems: vec![problem.clone(), problem],
        };
        assert_eq!(error.to_string().lines().count(), 2);
    }
}
