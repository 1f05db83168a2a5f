//! Partitions: a big listing split into bounded parallel streams, as admins do by hand with
//! `Get-Mailbox -Filter "Name -like 'a*'"`, `'b*'`… Each item is `{ "key", "filter" }`, the
//! filter an OPATH `-Filter` for the step's plugin to pass on; together the filters select every
//! object exactly once, whatever its name starts with (or if it has none).
//!
//! The property must be single-valued (`Name`, `Alias`, `DisplayName`, `UserPrincipalName`…):
//! a multi-valued one could match two filters.

use std::fmt;

use serde_json::{Value, json};

/// The first characters `first-character` gives a stream of its own.
const FIRST_CHARACTERS: &str = "abcdefghijklmnopqrstuvwxyz0123456789";

/// How a listing is split.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Partition {
    /// One stream per first character a–z and 0–9 (any case), and one for everything else
    /// (other first characters, and no value at all).
    FirstCharacter {
        /// The OPATH property, e.g. `Name`.
        property: String,
    },
    /// Ranges between bounds: `< b1`, `b1 ≤ … < b2`, …, `≥ bn` (text compared without regard
    /// to case, as Exchange does); the first range also takes objects without a value.
    Range {
        /// The OPATH property, e.g. `Name`.
        property: String,
        /// Ascending bounds, at least one.
        bounds: Vec<String>,
    },
}

/// Why a partition cannot be made.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PartitionError {
    /// The property is not an OPATH property name.
    #[error("'{property}' is not a property name (letters and digits, e.g. Name)")]
    Property {
        /// As written.
        property: String,
    },
    /// A range partition without bounds.
    #[error("a range partition needs bounds, e.g. bounds = [\"g\", \"n\", \"t\"]")]
    NoBounds,
    /// Bounds out of order, repeated or empty.
    #[error(
        "bound {position} ('{bound}') must come after '{previous}' (bounds ascend, compared without regard to case, and differ)"
    )]
    Order {
        /// Its position, from 1.
        position: usize,
        /// The bound.
        bound: String,
        /// The bound before it.
        previous: String,
    },
    /// An empty bound.
    #[error("bound {position} is empty: every range would start at it")]
    Empty {
        /// Its position, from 1.
        position: usize,
    },
}

impl Partition {
    /// A first-character partition on `property`.
    pub fn first_character(property: &str) -> Result<Partition, PartitionError> {
        Ok(Partition::FirstCharacter {
            property: checked(property)?,
        })
    }

    /// A range partition on `property` at `bounds`.
    pub fn range(property: &str, bounds: &[String]) -> Result<Partition, PartitionError> {
        let property = checked(property)?;
        if bounds.is_empty() {
            return Err(PartitionError::NoBounds);
        }
        for (i, bound) in bounds.iter().enumerate() {
            if bound.is_empty() {
                return Err(PartitionError::Empty { position: i + 1 });
            }
            if i > 0 && bounds[i - 1].to_lowercase() >= bound.to_lowercase() {
                return Err(PartitionError::Order {
                    position: i + 1,
                    bound: bound.clone(),
                    previous: bounds[i - 1].clone(),
                });
            }
        }
        Ok(Partition::Range {
            property,
            bounds: bounds.to_vec(),
        })
    }

    /// How many items (streams) it makes.
    pub fn streams(&self) -> usize {
        match self {
            Partition::FirstCharacter { .. } => FIRST_CHARACTERS.len() + 1,
            Partition::Range { bounds, .. } => bounds.len() + 1,
        }
    }

    /// The items, each `{ "key": …, "filter": … }`.
    pub fn items(&self) -> Vec<Value> {
        match self {
            Partition::FirstCharacter { property } => {
                let like = |c: char| format!("{property} -like '{c}*'");
                let mut items: Vec<Value> = FIRST_CHARACTERS
                    .chars()
                    .map(|c| json!({"key": c.to_string(), "filter": like(c)}))
                    .collect();
                let all: Vec<String> = FIRST_CHARACTERS.chars().map(like).collect();
                items.push(json!({
                    "key": "other",
                    "filter": format!("-not ({})", all.join(" -or ")),
                }));
                items
            }
            Partition::Range { property, bounds } => {
                let quoted = |b: &str| format!("'{}'", b.replace('\'', "''"));
                let mut items = Vec::with_capacity(bounds.len() + 1);
                let mut previous: Option<&String> = None;
                for bound in bounds {
                    let filter = match previous {
                        None => {
                            format!("{property} -lt {} -or {property} -eq $null", quoted(bound))
                        }
                        Some(low) => format!(
                            "{property} -ge {} -and {property} -lt {}",
                            quoted(low),
                            quoted(bound)
                        ),
                    };
                    let key = format!("{}..{bound}", previous.map_or("", String::as_str));
                    items.push(json!({"key": key, "filter": filter}));
                    previous = Some(bound);
                }
                if let Some(last) = previous {
                    items.push(json!({
                        "key": format!("{last}.."),
                        "filter": format!("{property} -ge {}", quoted(last)),
                    }));
                }
                items
            }
        }
    }
}

impl fmt::Display for Partition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Partition::FirstCharacter { property } => write!(
                f,
                "{property} by first character ({} streams: a–z, 0–9, other)",
                self.streams()
            ),
            Partition::Range { property, bounds } => write!(
                f,
                "{property} in ranges split at {} ({} streams)",
                bounds.join(", "),
                self.streams()
            ),
        }
    }
}

/// `property` if it is an OPATH property name: a letter, then letters and digits.
fn checked(property: &str) -> Result<String, PartitionError> {
    if property.starts_with(|c: char| c.is_ascii_alphabetic())
        && property.chars().all(|c| c.is_ascii_alphanumeric())
    {
        Ok(property.to_string())
    } else {
        Err(PartitionError::Property {
            property: property.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filters(partition: &Partition) -> Vec<String> {
        partition
            .items()
            .iter()
            .map(|item| item["filter"].as_str().unwrap().to_string())
            .collect()
    }

    #[test]
    fn first_character_gives_37_streams_the_last_for_everything_else() {
        let p = Partition::first_character("Name").unwrap();
        let items = p.items();
        assert_eq!(items.len(), 37);
        assert_eq!(p.streams(), 37);
        assert_eq!(items[0], json!({"key": "a", "filter": "Name -like 'a*'"}));
        assert_eq!(items[35], json!({"key": "9", "filter": "Name -like '9*'"}));
        let other = items[36]["filter"].as_str().unwrap();
        assert!(
            other.starts_with("-not (Name -like 'a*' -or Name -like 'b*' -or "),
            "{other}"
        );
        assert!(other.ends_with(" -or Name -like '9*')"), "{other}");
        assert_eq!(items[36]["key"], "other");
    }

    #[test]
    fn ranges_are_half_open_and_cover_everything() {
        let p = Partition::range("Name", &["g".into(), "n".into(), "t".into()]).unwrap();
        assert_eq!(
            filters(&p),
            [
                "Name -lt 'g' -or Name -eq $null",
                "Name -ge 'g' -and Name -lt 'n'",
                "Name -ge 'n' -and Name -lt 't'",
                "Name -ge 't'",
            ]
        );
        let items = p.items();
        let keys: Vec<&str> = items.iter().map(|i| i["key"].as_str().unwrap()).collect();
        assert_eq!(keys, ["..g", "g..n", "n..t", "t.."]);
        let quoted = Partition::range("Name", &["o'brien".into()]).unwrap();
        assert_eq!(filters(&quoted)[1], "Name -ge 'o''brien'");
    }

    #[test]
    fn bad_partitions_say_why() {
        assert_eq!(
            Partition::first_character("Name; x")
                .unwrap_err()
                .to_string(),
            "'Name; x' is not a property name (letters and digits, e.g. Name)"
        );
        assert_eq!(
            Partition::range("Name", &[]).unwrap_err(),
            PartitionError::NoBounds
        );
        assert_eq!(
            Partition::range("Name", &["n".into(), "G".into()])
                .unwrap_err()
                .to_string(),
            "bound 2 ('G') must come after 'n' (bounds ascend, compared without regard to case, and differ)"
        );
        assert!(matches!(
            Partition::range("Name", &["g".into(), "G".into()]),
            Err(PartitionError::Order { position: 2, .. })
        ));
        assert_eq!(
            Partition::range("Name", &["".into()]).unwrap_err(),
            PartitionError::Empty { position: 1 }
        );
    }
}
