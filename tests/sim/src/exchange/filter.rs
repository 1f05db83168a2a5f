//! The recipient properties `-Filter` can test, exposed to the OPATH evaluator.

use std::cell::OnceCell;

use crate::directory::RecipientStore;
use crate::directory::recipient::{Recipient, RecipientKind};
use crate::opath::{PropertySource, Value};

/// A recipient seen through `-Filter`.
///
/// `Members` and `Manager` link to other recipients, and Exchange filters them by the linked
/// object's distinguished name (the filterable-properties reference: "This filter requires the
/// distinguished name"), so they read as DNs: `Get-DistributionGroup -Filter "Members -eq
/// '<DN>'"` finds the groups a recipient is a direct member of. Any other value (a name, an
/// address) matches nothing here.
pub struct FilterView<'a> {
    recipient: &'a Recipient,
    store: &'a RecipientStore,
    email_addresses: OnceCell<Vec<String>>,
    guid: OnceCell<String>,
    external_id: OnceCell<String>,
    members: OnceCell<Vec<String>>,
    manager: OnceCell<Option<String>>,
}

impl<'a> FilterView<'a> {
    /// Wraps a recipient of `store`; derived values are computed only if the filter asks for
    /// them.
    pub fn new(recipient: &'a Recipient, store: &'a RecipientStore) -> FilterView<'a> {
        FilterView {
            recipient,
            store,
            email_addresses: OnceCell::new(),
            guid: OnceCell::new(),
            external_id: OnceCell::new(),
            members: OnceCell::new(),
            manager: OnceCell::new(),
        }
    }

    /// The distinguished name of the recipient with this id, unless it was removed.
    fn dn_of(&self, id: u32) -> Option<String> {
        let linked = self.store.get(id)?;
        Some(self.store.distinguished_name(linked))
    }
}

/// Properties a `-Filter` may name (Exchange's filterable properties that the emulator models).
pub const FILTERABLE: [&str; 30] = [
    "Name",
    "Alias",
    "DisplayName",
    "FirstName",
    "LastName",
    "UserPrincipalName",
    "PrimarySmtpAddress",
    "EmailAddresses",
    "WindowsEmailAddress",
    "RecipientType",
    "RecipientTypeDetails",
    "HiddenFromAddressListsEnabled",
    "Department",
    "City",
    "Title",
    "CustomAttribute1",
    "WhenCreated",
    "WhenChanged",
    "WhenCreatedUTC",
    "WhenChangedUTC",
    "ForwardingSmtpAddress",
    "ForwardingAddress",
    "DeliverToMailboxAndForward",
    "LitigationHoldEnabled",
    "ExternalEmailAddress",
    "Guid",
    "ExternalDirectoryObjectId",
    "IsShared",
    "Members",
    "Manager",
];

impl PropertySource for FilterView<'_> {
    fn property(&self, name: &str) -> Option<Value<'_>> {
        let r = self.recipient;
        fn text(s: &str) -> Value<'_> {
            if s.is_empty() {
                Value::Null
            } else {
                Value::Str(s)
            }
        }
        let data = r.mailbox.as_deref();
        let is = |n: &str| name.eq_ignore_ascii_case(n);

        Some(if is("Name") {
            Value::Str(&r.name)
        } else if is("Alias") {
            Value::Str(&r.alias)
        } else if is("DisplayName") {
            Value::Str(&r.display_name)
        } else if is("FirstName") {
            text(&r.first_name)
        } else if is("LastName") {
            text(&r.last_name)
        } else if is("UserPrincipalName") {
            r.upn.as_deref().map_or(Value::Null, Value::Str)
        } else if is("PrimarySmtpAddress") || is("WindowsEmailAddress") {
            Value::Str(&r.primary_smtp)
        } else if is("EmailAddresses") {
            let all = self.email_addresses.get_or_init(|| r.email_addresses());
            Value::List(all.iter().map(String::as_str).collect())
        } else if is("RecipientType") {
            Value::Str(r.kind.recipient_type())
        } else if is("RecipientTypeDetails") {
            Value::Str(r.kind.type_details())
        } else if is("HiddenFromAddressListsEnabled") {
            Value::Bool(r.hidden)
        } else if is("Department") {
            text(r.department)
        } else if is("City") {
            text(r.city)
        } else if is("Title") {
            text(r.title)
        } else if is("CustomAttribute1") {
            text(&r.custom_attribute1)
        } else if is("WhenCreated") || is("WhenCreatedUTC") {
            Value::DateTime(r.created)
        } else if is("WhenChanged") || is("WhenChangedUTC") {
            Value::DateTime(r.changed)
        } else if is("ForwardingSmtpAddress") {
            data.and_then(|d| d.forwarding_smtp.as_deref())
                .map_or(Value::Null, Value::Str)
        } else if is("ForwardingAddress") {
            data.and_then(|d| d.forwarding_address.as_deref())
                .map_or(Value::Null, Value::Str)
        } else if is("DeliverToMailboxAndForward") {
            Value::Bool(data.is_some_and(|d| d.deliver_and_forward))
        } else if is("LitigationHoldEnabled") {
            Value::Bool(data.is_some_and(|d| d.litigation_hold))
        } else if is("ExternalEmailAddress") {
            r.external_email.as_deref().map_or(Value::Null, Value::Str)
        } else if is("Guid") {
            Value::Str(self.guid.get_or_init(|| r.guid.to_string()))
        } else if is("ExternalDirectoryObjectId") {
            Value::Str(self.external_id.get_or_init(|| r.external_id.to_string()))
        } else if is("IsShared") {
            Value::Bool(r.kind == RecipientKind::SharedMailbox)
        } else if is("Members") {
            let dns = self
                .members
                .get_or_init(|| r.members.iter().filter_map(|&m| self.dn_of(m)).collect());
            Value::List(dns.iter().map(String::as_str).collect())
        } else if is("Manager") {
            let dn = self
                .manager
                .get_or_init(|| r.manager.and_then(|m| self.dn_of(m)));
            dn.as_deref().map_or(Value::Null, Value::Str)
        } else {
            return None;
        })
    }
}
