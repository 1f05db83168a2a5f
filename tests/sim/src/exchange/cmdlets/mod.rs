//! The cmdlets the emulator runs, their parameters, and the helpers they share.
//!
//! Each cmdlet is a [`CmdletSpec`]: its name, which surface serves it, whether it changes
//! anything (read-only roles may only run the others), its parameters, and a function. Reading
//! cmdlets see the tenant under a shared lock; changing ones under an exclusive lock.

mod autoreply;
mod compliance;
mod contact;
mod group;
mod mailbox;
mod org;
mod permission;
mod recipient;
mod send_as;
#[cfg(test)]
mod test_support;

use crate::directory::recipient::{Recipient, RecipientKind};
use crate::directory::{Access, Resolve, Tenant};
use crate::opath::{Filter, unknown_property_error};

use super::error::CmdletError;
use super::filter::{FILTERABLE, FilterView};
use super::params::{Params, ResultSize};
use super::row::Select;
use super::views::View;

/// Which endpoint serves a cmdlet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Surface {
    /// Exchange Online (`outlook.office365.com`).
    Exchange,
    /// Security & Compliance (`ps.compliance.protection.outlook.com`).
    Compliance,
}

/// What a reading cmdlet does.
pub type ReadFn = fn(&Tenant, &Params<'_>, &Context) -> Result<Output, CmdletError>;
/// What a changing cmdlet does.
pub type WriteFn = fn(&mut Tenant, &Params<'_>, &Context) -> Result<Output, CmdletError>;

/// A cmdlet's implementation.
#[derive(Clone, Copy)]
pub enum Run {
    /// Reads only.
    Read(ReadFn),
    /// Changes the tenant.
    Write(WriteFn),
}

/// One cmdlet the emulator knows.
pub struct CmdletSpec {
    /// Canonical name, e.g. `Get-Mailbox`.
    pub name: &'static str,
    /// Endpoint that serves it.
    pub surface: Surface,
    /// Parameters it accepts (besides the common ones).
    pub params: &'static [&'static str],
    /// The implementation.
    pub run: Run,
}

impl CmdletSpec {
    /// True for cmdlets that change something (read-only roles cannot run them).
    pub fn writes(&self) -> bool {
        matches!(self.run, Run::Write(_))
    }

    /// True if an app with `access` on this cmdlet's surface may run it.
    pub fn allowed(&self, access: Access) -> bool {
        match access {
            Access::None => false,
            Access::Read => !self.writes(),
            Access::Write => true,
        }
    }
}

/// Facts about the request a cmdlet may need.
pub struct Context {
    /// Current time (Unix seconds).
    pub now: i64,
    /// Name of the calling app (recorded as `CreatedBy` and the like).
    pub caller: String,
}

/// The rows a cmdlet produced, before paging.
pub enum Rows {
    /// Recipients, rendered page by page in `view` shape.
    Recipients {
        /// Shape to render.
        view: View,
        /// Matching recipient ids, in order.
        ids: Vec<u32>,
        /// Properties to include.
        select: Select,
    },
    /// Already rendered JSON objects (small results).
    Rendered(Vec<String>),
}

/// A cmdlet's result.
pub struct Output {
    /// The rows.
    pub rows: Rows,
    /// How many rows the caller asked for at most.
    pub result_size: ResultSize,
    /// Warnings for `@adminapi.warnings`.
    pub warnings: Vec<String>,
}

impl Output {
    /// No rows (Set-*, Add-*, Remove-* cmdlets return nothing).
    pub fn nothing() -> Output {
        Output::rendered(Vec::new())
    }

    /// Small, already rendered rows.
    pub fn rendered(rows: Vec<String>) -> Output {
        Output {
            rows: Rows::Rendered(rows),
            result_size: ResultSize::Unlimited,
            warnings: Vec::new(),
        }
    }

    /// Recipients to render lazily.
    pub fn recipients(
        view: View,
        ids: Vec<u32>,
        select: Select,
        result_size: ResultSize,
    ) -> Output {
        Output {
            rows: Rows::Recipients { view, ids, select },
            result_size,
            warnings: Vec::new(),
        }
    }

    /// Adds a warning.
    pub fn warn(mut self, warning: impl Into<String>) -> Output {
        self.warnings.push(warning.into());
        self
    }
}

/// Every cmdlet the emulator serves.
pub fn all() -> impl Iterator<Item = &'static CmdletSpec> {
    mailbox::CMDLETS
        .iter()
        .chain(recipient::CMDLETS.iter())
        .chain(contact::CMDLETS.iter())
        .chain(permission::CMDLETS.iter())
        .chain(send_as::CMDLETS.iter())
        .chain(group::CMDLETS.iter())
        .chain(org::CMDLETS.iter())
        .chain(compliance::CMDLETS.iter())
        .chain(autoreply::CMDLETS.iter())
}

/// Finds a cmdlet by name (any case) on a surface.
pub fn find(name: &str, surface: Surface) -> Option<&'static CmdletSpec> {
    all().find(|c| c.surface == surface && c.name.eq_ignore_ascii_case(name.trim()))
}

/// Resolves `-Identity` among recipients `accept` allows, with Exchange's errors.
pub fn resolve(
    tenant: &Tenant,
    identity: &str,
    accept: impl Fn(&Recipient) -> bool,
) -> Result<u32, CmdletError> {
    tenant
        .recipients
        .resolve(identity, accept)
        .map_err(|e| match e {
            Resolve::NotFound => CmdletError::not_found(identity),
            Resolve::Ambiguous => CmdletError::ambiguous(identity),
        })
}

/// Parses `-Filter`, refusing properties that cannot be filtered on.
pub fn parse_filter(params: &Params<'_>) -> Result<Option<Filter>, CmdletError> {
    let Some(text) = params.str("Filter").filter(|t| !t.trim().is_empty()) else {
        return Ok(None);
    };
    let filter = Filter::parse(&text).map_err(|e| CmdletError::invalid_filter(&e.to_string()))?;
    if let Some(unknown) = filter
        .properties()
        .into_iter()
        .find(|p| !FILTERABLE.iter().any(|f| f.eq_ignore_ascii_case(p)))
    {
        return Err(CmdletError::invalid_filter(&unknown_property_error(
            unknown,
        )));
    }
    Ok(Some(filter))
}

/// Ambiguous name resolution (`-Anr`): a prefix of name, alias, display name, names or address.
fn anr_matches(recipient: &Recipient, anr: &str) -> bool {
    let starts = |s: &str| s.len() >= anr.len() && s[..anr.len()].eq_ignore_ascii_case(anr);
    anr.is_empty()
        || starts(&recipient.name)
        || starts(&recipient.alias)
        || starts(&recipient.display_name)
        || starts(&recipient.first_name)
        || starts(&recipient.last_name)
        || starts(&recipient.primary_smtp)
}

/// The recipients a Get-* cmdlet returns: one by `-Identity`, or all `accept`ed ones matching
/// `-Filter`, `-Anr` and `-RecipientTypeDetails`.
pub fn select_recipients(
    tenant: &Tenant,
    params: &Params<'_>,
    kinds: impl Fn(RecipientKind) -> bool,
) -> Result<Vec<u32>, CmdletError> {
    if let Some(identity) = params.str("Identity") {
        return resolve(tenant, &identity, |r| kinds(r.kind)).map(|id| vec![id]);
    }
    let filter = parse_filter(params)?;
    let anr = params.str("Anr").unwrap_or_default();
    let mut details = Vec::new();
    for text in params.strings("RecipientTypeDetails").unwrap_or_default() {
        let kind = RecipientKind::from_type_details(&text).ok_or_else(|| {
            CmdletError::bad_value(
                "RecipientTypeDetails",
                &text,
                "Microsoft.Exchange.Data.Directory.Recipient.RecipientTypeDetails[]",
                &format!("Unable to match the identifier name {text} to a valid enumerator name."),
            )
        })?;
        details.push(kind);
    }
    // Kinds are checked on the store's kind column; only filters need to read recipients.
    let ids = tenant
        .recipients
        .ids_of_kind(|k| kinds(k) && (details.is_empty() || details.contains(&k)));
    if filter.is_none() && anr.is_empty() {
        return Ok(ids.collect());
    }
    Ok(ids
        .filter(|&id| {
            tenant.recipients.get(id).is_some_and(|r| {
                anr_matches(r, &anr)
                    && filter
                        .as_ref()
                        .is_none_or(|f| f.matches(&FilterView::new(r, &tenant.recipients)))
            })
        })
        .collect())
}

/// Checks an SMTP address parameter (an optional `SMTP:` prefix allowed); returns the bare address.
pub fn smtp_address(param: &str, text: &str) -> Result<String, CmdletError> {
    let address = text.trim();
    let bare = address
        .get(..5)
        .filter(|prefix| prefix.eq_ignore_ascii_case("smtp:"))
        .map_or(address, |_| &address[5..]);
    let valid = bare.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty()
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains('@')
            && !bare.contains(char::is_whitespace)
    });
    if valid {
        return Ok(bare.to_string());
    }
    let (type_name, reason) = if param == "PrimarySmtpAddress" {
        (
            "Microsoft.Exchange.Data.SmtpAddress",
            format!(
                "The email address \"{text}\" isn't correct. Please use this format: user name, the @ sign, followed by the domain name. For example, tonysmith@contoso.com or tony.smith@contoso.com."
            ),
        )
    } else {
        (
            "Microsoft.Exchange.Data.ProxyAddress",
            format!("The address '{text}' is invalid: \"{text}\" isn't a valid SMTP address."),
        )
    };
    Err(CmdletError::bad_value(param, text, type_name, &reason))
}

/// The properties a Get-EXO* cmdlet returns: `minimum`, plus the sets named by `-PropertySets`
/// (`All` means every property) and the names in `-Properties`.
pub fn property_sets(
    params: &Params<'_>,
    minimum: &[&str],
    sets: &[(&'static str, &[&str])],
) -> Result<Select, CmdletError> {
    let mut wanted: Vec<&str> = minimum.to_vec();
    for set in params.strings("PropertySets").unwrap_or_default() {
        if set.eq_ignore_ascii_case("All") {
            return Ok(Select::all());
        }
        let Some((_, props)) = sets.iter().find(|(n, _)| n.eq_ignore_ascii_case(&set)) else {
            let names: Vec<&str> = ["All"]
                .into_iter()
                .chain(sets.iter().map(|(n, _)| *n))
                .collect();
            return Err(CmdletError::bad_enum(
                "PropertySets",
                &set,
                "Microsoft.Exchange.Management.RestApiClient.PropertySet",
                &names,
            ));
        };
        wanted.extend_from_slice(props);
    }
    let extra = params.strings("Properties").unwrap_or_default();
    Ok(Select::only(
        wanted.into_iter().chain(extra.iter().map(String::as_str)),
    ))
}

/// Exchange's default `-ResultSize` for Get-* cmdlets.
pub const DEFAULT_RESULT_SIZE: ResultSize = ResultSize::Limit(1000);

/// Builds one JSON object from key/value pairs (for small, hand-shaped results).
pub fn object(build: impl FnOnce(&mut super::row::RowWriter<'_>)) -> String {
    let mut buf = Vec::with_capacity(512);
    let select = Select::all();
    let mut w = super::row::RowWriter::begin(&mut buf, &select);
    build(&mut w);
    w.finish();
    String::from_utf8(buf).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cmdlet_names_are_unique_per_surface_and_found_in_any_case() {
        let mut seen = std::collections::HashSet::new();
        for c in all() {
            assert!(
                seen.insert((c.name.to_ascii_lowercase(), c.surface == Surface::Exchange)),
                "{}",
                c.name
            );
        }
        assert_eq!(
            find("get-mailbox", Surface::Exchange).map(|c| c.name),
            Some("Get-Mailbox")
        );
        assert!(find("Get-Mailbox", Surface::Compliance).is_none());
        assert!(find("Get-ComplianceSearch", Surface::Compliance).is_some());
    }
}
