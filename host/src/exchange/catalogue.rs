//! The catalogue of Exchange cmdlets and their parameters (`host/data/cmdlets.toml`, transcribed
//! from Microsoft's public cmdlet reference): what lets the CLI bind `-Name value` arguments the
//! way PowerShell does, refuse a wrong name or type before anything is sent, and suggest the
//! closest names when a cmdlet or parameter does not exist.
//!
//! The file (about 1,000 parameters of 64 cmdlets, 38 KB) is read once, on first use, so
//! commands that do not bind parameters never pay for it.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Deserialize;

use super::Surface;

/// The catalogue's text, compiled into the binary.
const DATA: &str = include_str!("../../data/cmdlets.toml");

/// How a parameter's value is bound, decided by its .NET type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `SwitchParameter`: present means true; `-Name:$false` turns it off.
    Switch,
    /// `Boolean`: needs `$true` or `$false` (or `true`/`false`, `1`/`0`).
    Bool,
    /// A whole number (`Int32`, `Int64`…).
    Integer,
    /// `Unlimited`: a whole number or the word `Unlimited` (e.g. `ResultSize`).
    Unlimited,
    /// One of a fixed set of words (the reference lists them as `A | B | C`).
    Choice(Vec<String>),
    /// `DateTime`: a date, with or without a time, in a form PowerShell binds (ISO 8601,
    /// `12/31/2026` month first); sent as the text given.
    DateTime,
    /// Several values (`MultiValuedProperty`, arrays, address collections): `a,b`, `@(…)`, or a
    /// hashtable `@{Add=…; Remove=…}` that changes the list.
    List,
    /// Text, and everything else (identities, addresses, sizes): one value sent as text.
    Text,
}

/// .NET types whose values are secrets: a value of one is never written to the audit log.
const SECRET_TYPES: [&str; 2] = ["SecureString", "PSCredential"];

impl Kind {
    /// The binding kind of the parameter `name` of type `type_name`: the reference writes
    /// `Unlimited` for sizes and durations too (`Unlimited<ByteQuantifiedSize>`: "50 GB"), and
    /// only ResultSize is a count.
    pub fn of_parameter(name: &str, type_name: &str) -> Kind {
        if type_name == "Unlimited" && name != "ResultSize" {
            Kind::Text
        } else {
            Kind::of(type_name)
        }
    }

    /// The binding kind of a parameter of this .NET type.
    pub fn of(type_name: &str) -> Kind {
        let choices: Vec<&str> = type_name.split('|').map(str::trim).collect();
        match type_name {
            "SwitchParameter" => Kind::Switch,
            "Boolean" | "$true | $false" => Kind::Bool,
            "Int16" | "Int32" | "Int64" | "UInt16" | "UInt32" | "UInt64" | "Byte" => Kind::Integer,
            "Unlimited" | "Unlimited<Int32>" | "Unlimited<UInt32>" => Kind::Unlimited,
            "DateTime" => Kind::DateTime,
            _ if choices.len() > 1 => Kind::Choice(choices.into_iter().map(String::from).collect()),
            _ if type_name.ends_with("[]")
                || type_name.ends_with("Collection")
                || type_name == "MultiValuedProperty" =>
            {
                Kind::List
            }
            _ => Kind::Text,
        }
    }
}

/// What a parameter of a changing cmdlet names, for the target scope: every recipient a change
/// names is read and checked against the plugin's scope before the change is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Names {
    /// A recipient, by any of its ids (an `…IdParameter`, or a list of them): checked, and sent
    /// as the `Guid` of the recipient the check read.
    Recipient,
    /// An email address (`ForwardingSmtpAddress`): checked like a recipient when it is one;
    /// an address no recipient has is outside the tenant.
    Address,
}

/// One parameter of a cmdlet.
#[derive(Clone, Debug, PartialEq)]
pub struct Parameter {
    /// The name as the reference spells it, e.g. `HiddenFromAddressListsEnabled`.
    pub name: String,
    /// Its .NET type as the reference gives it, e.g. `Boolean`.
    pub type_name: String,
    /// How a value is bound.
    pub kind: Kind,
    /// Its position, for a value given without a name (`Get-Mailbox ann@contoso.com`).
    pub position: Option<u32>,
    /// Other names PowerShell accepts for it.
    pub aliases: Vec<String>,
    /// The recipients or addresses it names, for a changing cmdlet's target scope.
    pub names: Option<Names>,
}

impl Parameter {
    /// Whether its value is a secret, by its type (`SecureString`, `PSCredential`).
    pub fn is_secret(&self) -> bool {
        SECRET_TYPES
            .iter()
            .any(|t| t.eq_ignore_ascii_case(&self.type_name))
    }
}

/// One cmdlet with its parameters.
#[derive(Clone, Debug)]
pub struct Cmdlet {
    /// The canonical name, e.g. `Set-Mailbox`.
    pub name: String,
    /// The endpoint that serves it.
    pub surface: Surface,
    /// Its parameters, sorted by name.
    pub parameters: Vec<Parameter>,
}

/// What a parameter name given on the command line refers to.
#[derive(Debug, PartialEq)]
pub enum Lookup<'a> {
    /// Exactly one parameter: by its name or an alias (any case), or by an unambiguous prefix,
    /// as PowerShell allows.
    Found(&'a Parameter),
    /// A prefix of several parameters' names.
    Ambiguous(Vec<&'a str>),
    /// No such parameter.
    Unknown,
}

impl Cmdlet {
    /// Finds a parameter the way PowerShell does: whole name or alias first, then a prefix.
    pub fn parameter(&self, name: &str) -> Lookup<'_> {
        let exact = self.parameters.iter().find(|p| {
            p.name.eq_ignore_ascii_case(name)
                || p.aliases.iter().any(|a| a.eq_ignore_ascii_case(name))
        });
        if let Some(found) = exact {
            return Lookup::Found(found);
        }
        let lower = name.to_ascii_lowercase();
        let prefixed: Vec<&Parameter> = self
            .parameters
            .iter()
            .filter(|p| p.name.to_ascii_lowercase().starts_with(&lower))
            .collect();
        match prefixed.as_slice() {
            [] => Lookup::Unknown,
            [one] => Lookup::Found(one),
            many => Lookup::Ambiguous(many.iter().map(|p| p.name.as_str()).collect()),
        }
    }

    /// The parameters that name recipients or addresses (what a target scope checks).
    pub fn naming(&self) -> impl Iterator<Item = &Parameter> {
        self.parameters.iter().filter(|p| p.names.is_some())
    }

    /// The parameter names closest to a mistyped one, best first.
    pub fn closest_parameters(&self, name: &str) -> Vec<&str> {
        closest(name, self.parameters.iter().map(|p| p.name.as_str()))
    }

    /// The positional parameters, in the order values given without a name are bound to them.
    pub fn positional(&self) -> Vec<&Parameter> {
        let mut positional: Vec<&Parameter> = self
            .parameters
            .iter()
            .filter(|p| p.position.is_some())
            .collect();
        positional.sort_by_key(|p| p.position);
        positional
    }
}

/// Every cmdlet the catalogue knows.
#[derive(Debug)]
pub struct Catalogue {
    cmdlets: Vec<Cmdlet>,
}

/// A parameter entry in the file: its type, or a table with the type, position and aliases.
#[derive(Deserialize)]
#[serde(untagged)]
enum Entry {
    Type(String),
    Full {
        #[serde(rename = "type")]
        type_name: String,
        position: Option<u32>,
        #[serde(default)]
        aliases: Vec<String>,
        names: Option<Names>,
    },
}

type Sections = BTreeMap<String, BTreeMap<String, BTreeMap<String, Entry>>>;

impl Catalogue {
    /// The catalogue compiled into exorun, read on first use.
    pub fn get() -> &'static Catalogue {
        static CATALOGUE: OnceLock<Catalogue> = OnceLock::new();
        CATALOGUE.get_or_init(|| {
            // The data file is part of the source and checked by a unit test; a broken one
            // cannot ship.
            Catalogue::parse(DATA).unwrap_or_else(|e| panic!("host/data/cmdlets.toml: {e}"))
        })
    }

    /// Reads a catalogue in the format of `host/data/cmdlets.toml`.
    pub fn parse(text: &str) -> Result<Catalogue, String> {
        let sections: Sections = toml::from_str(text).map_err(|e| e.to_string())?;
        let mut cmdlets = Vec::new();
        for (surface_name, entries) in sections {
            let surface = match surface_name.as_str() {
                "exchange" => Surface::Exchange,
                "compliance" => Surface::Compliance,
                other => return Err(format!("unknown section [{other}.*]")),
            };
            for (name, params) in entries {
                let parameters = params
                    .into_iter()
                    .map(|(name, entry)| {
                        let (type_name, position, aliases, names) = match entry {
                            Entry::Type(t) => (t, None, Vec::new(), None),
                            Entry::Full {
                                type_name,
                                position,
                                aliases,
                                names,
                            } => (type_name, position, aliases, names),
                        };
                        Parameter {
                            kind: Kind::of_parameter(&name, &type_name),
                            name,
                            type_name,
                            position,
                            aliases,
                            names,
                        }
                    })
                    .collect();
                cmdlets.push(Cmdlet {
                    name,
                    surface,
                    parameters,
                });
            }
        }
        Ok(Catalogue { cmdlets })
    }

    /// A cmdlet by name (any case) on either surface; Exchange Online first.
    pub fn cmdlet(&self, name: &str) -> Option<&Cmdlet> {
        let mut found = self
            .cmdlets
            .iter()
            .filter(|c| c.name.eq_ignore_ascii_case(name));
        let first = found.next()?;
        Some(match first.surface {
            Surface::Exchange => first,
            Surface::Compliance => found.next().unwrap_or(first),
        })
    }

    /// The cmdlet names closest to a mistyped one, best first.
    pub fn closest_cmdlets(&self, name: &str) -> Vec<&str> {
        closest(name, self.cmdlets.iter().map(|c| c.name.as_str()))
    }

    /// Every cmdlet, for listings and checks.
    pub fn cmdlets(&self) -> &[Cmdlet] {
        &self.cmdlets
    }
}

/// The (up to three) candidates fewest edits away from `name`, if only a few (case ignored).
fn closest<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let wanted = name.to_ascii_lowercase();
    let limit = (wanted.len() / 3).clamp(1, 4);
    let mut scored: Vec<(usize, &str)> = candidates
        .map(|c| (strsim::levenshtein(&wanted, &c.to_ascii_lowercase()), c))
        .filter(|(distance, _)| *distance <= limit)
        .collect();
    scored.sort();
    scored.dedup_by(|a, b| a.1 == b.1);
    let best = scored.first().map_or(0, |(distance, _)| *distance);
    scored
        .into_iter()
        .take_while(|(distance, _)| *distance == best)
        .take(3)
        .map(|(_, c)| c)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_catalogue_reads_and_knows_the_emulated_cmdlets() {
        let catalogue = Catalogue::parse(DATA).unwrap();
        assert!(catalogue.cmdlets().len() >= 60);
        for name in [
            "Get-Mailbox",
            "Set-Mailbox",
            "Get-EXOMailbox",
            "Get-MailboxStatistics",
            "Get-Recipient",
            "Get-User",
            "New-MailContact",
            "Add-MailboxPermission",
            "Add-RecipientPermission",
            "Set-MailboxAutoReplyConfiguration",
            "Add-DistributionGroupMember",
            "Get-OrganizationConfig",
            "Get-AcceptedDomain",
        ] {
            let cmdlet = catalogue.cmdlet(name).unwrap_or_else(|| panic!("{name}"));
            assert_eq!(cmdlet.surface, Surface::Exchange, "{name}");
        }
        let search = catalogue.cmdlet("new-compliancesearch").unwrap();
        assert_eq!(search.surface, Surface::Compliance);
        for cmdlet in catalogue.cmdlets() {
            let mut names: Vec<String> = cmdlet
                .parameters
                .iter()
                .map(|p| p.name.to_ascii_lowercase())
                .collect();
            names.sort();
            names.dedup();
            assert_eq!(names.len(), cmdlet.parameters.len(), "{}", cmdlet.name);
        }
    }

    #[test]
    fn changing_cmdlets_mark_the_parameters_that_name_recipients() {
        let naming = |cmdlet: &str| -> Vec<(String, Names)> {
            Catalogue::get()
                .cmdlet(cmdlet)
                .unwrap()
                .naming()
                .map(|p| (p.name.clone(), p.names.unwrap()))
                .collect()
        };
        let recipients = |names: &[&str]| -> Vec<(String, Names)> {
            names
                .iter()
                .map(|n| (n.to_string(), Names::Recipient))
                .collect()
        };
        assert_eq!(
            naming("Remove-DistributionGroupMember"),
            recipients(&["Identity", "Member"])
        );
        assert_eq!(
            naming("Add-MailboxPermission"),
            recipients(&["Identity", "User"])
        );
        assert_eq!(
            naming("Update-DistributionGroupMember"),
            recipients(&["Identity", "Members"])
        );
        let set = naming("Set-Mailbox");
        assert!(set.contains(&("ForwardingSmtpAddress".into(), Names::Address)));
        assert!(set.contains(&("GrantSendOnBehalfTo".into(), Names::Recipient)));
        for cmdlet in Catalogue::get().cmdlets() {
            if !crate::exchange::is_mutating(&cmdlet.name) {
                assert_eq!(cmdlet.naming().count(), 0, "{} only reads", cmdlet.name);
            }
        }
    }

    #[test]
    fn kinds_follow_the_reference_types() {
        assert_eq!(Kind::of("SwitchParameter"), Kind::Switch);
        assert_eq!(Kind::of("Boolean"), Kind::Bool);
        assert_eq!(Kind::of("$true | $false"), Kind::Bool);
        assert_eq!(Kind::of("Int32"), Kind::Integer);
        assert_eq!(Kind::of("Unlimited"), Kind::Unlimited);
        assert_eq!(
            Kind::of_parameter("ResultSize", "Unlimited"),
            Kind::Unlimited
        );
        assert_eq!(
            Kind::of_parameter("ProhibitSendQuota", "Unlimited"),
            Kind::Text
        );
        assert_eq!(Kind::of("Unlimited<ByteQuantifiedSize>"), Kind::Text);
        assert_eq!(Kind::of("MultiValuedProperty"), Kind::List);
        assert_eq!(Kind::of("RecipientTypeDetails[]"), Kind::List);
        assert_eq!(Kind::of("ProxyAddressCollection"), Kind::List);
        assert_eq!(Kind::of("MailboxIdParameter"), Kind::Text);
        assert_eq!(
            Kind::of("Text | Mime"),
            Kind::Choice(vec!["Text".into(), "Mime".into()])
        );
        let set = Catalogue::get().cmdlet("Set-Mailbox").unwrap();
        let Lookup::Found(hidden) = set.parameter("hiddenfromaddresslistsenabled") else {
            panic!("HiddenFromAddressListsEnabled")
        };
        assert_eq!(hidden.kind, Kind::Bool);
    }

    #[test]
    fn names_resolve_like_powershell() {
        let get = Catalogue::get().cmdlet("Get-Mailbox").unwrap();
        assert!(matches!(get.parameter("RESULTSIZE"), Lookup::Found(p) if p.name == "ResultSize"));
        assert!(matches!(get.parameter("Ident"), Lookup::Found(p) if p.name == "Identity"));
        assert!(matches!(get.parameter("In"), Lookup::Ambiguous(names) if names.len() >= 2));
        assert_eq!(get.parameter("Identiy"), Lookup::Unknown);
        assert_eq!(get.closest_parameters("Identiy"), ["Identity"]);
        assert_eq!(get.positional()[0].name, "Identity");
        assert_eq!(
            Catalogue::get().closest_cmdlets("Get-Mailboxx")[0],
            "Get-Mailbox"
        );
        assert!(
            Catalogue::get()
                .closest_cmdlets("Frobnicate-Everything")
                .is_empty()
        );
    }
}
