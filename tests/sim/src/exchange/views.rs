//! How each Get-* cmdlet shows a recipient: property names, value formats and annotations as
//! Exchange Online returns them.

use crate::directory::Tenant;
use crate::directory::recipient::{Recipient, RecipientKind};

use super::format::{byte_size, organization_id, organizational_unit};
use super::row::{RowWriter, Select};

/// The shape a recipient is rendered in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    /// Get-Mailbox / Get-EXOMailbox.
    Mailbox,
    /// Get-Recipient / Get-EXORecipient / Get-DistributionGroupMember.
    Recipient,
    /// Get-User.
    User,
    /// Get-MailContact.
    MailContact,
    /// Get-DistributionGroup.
    DistributionGroup,
    /// Get-MailboxStatistics.
    MailboxStatistics,
}

const EXCHANGE_VERSION: &str = "0.20 (15.0.0.0)";
const DATABASE: &str = "NAMPR01DG123-db045";
const SERVER: &str = "bn8pr01mb1234";

/// Writes one recipient in `view` shape into `buf`.
pub fn render(
    view: View,
    tenant: &Tenant,
    recipient: &Recipient,
    select: &Select,
    buf: &mut Vec<u8>,
) {
    let mut w = RowWriter::begin(buf, select);
    match view {
        View::Mailbox => mailbox(&mut w, tenant, recipient),
        View::Recipient => recipient_row(&mut w, tenant, recipient),
        View::User => user(&mut w, tenant, recipient),
        View::MailContact => contact(&mut w, tenant, recipient),
        View::DistributionGroup => group(&mut w, tenant, recipient),
        View::MailboxStatistics => statistics(&mut w, recipient),
    }
    w.finish();
}

/// Properties every recipient object shows.
fn identity_block(w: &mut RowWriter<'_>, tenant: &Tenant, r: &Recipient) {
    let dn = tenant.recipients.distinguished_name(r);
    w.str("Name", &r.name)
        .str("Identity", &r.name)
        .str("Id", &r.name)
        .str("DistinguishedName", &dn)
        .guid("Guid", r.guid)
        .str("ExternalDirectoryObjectId", &r.external_id.to_string())
        .str("Alias", &r.alias)
        .str("DisplayName", &r.display_name)
        .str("PrimarySmtpAddress", &r.primary_smtp)
        .list(
            "EmailAddresses",
            r.email_addresses().iter().map(String::as_str),
        )
        .str("RecipientType", r.kind.recipient_type())
        .str("RecipientTypeDetails", r.kind.type_details())
        .bool("HiddenFromAddressListsEnabled", r.hidden)
        .str(
            "OrganizationalUnit",
            &organizational_unit(&tenant.initial_domain),
        )
        .str("OrganizationId", &organization_id(&tenant.initial_domain))
        .str("ExchangeVersion", EXCHANGE_VERSION)
        .str("CustomAttribute1", &r.custom_attribute1)
        .date("WhenCreated", Some(r.created))
        .date("WhenChanged", Some(r.changed))
        .date("WhenCreatedUTC", Some(r.created))
        .date("WhenChangedUTC", Some(r.changed))
        .bool("IsValid", true)
        .str("ObjectState", "Unchanged");
}

fn mailbox(w: &mut RowWriter<'_>, tenant: &Tenant, r: &Recipient) {
    identity_block(w, tenant, r);
    let empty = Vec::new();
    let data = r.mailbox.as_deref();
    let forwarding_address = data.and_then(|d| d.forwarding_address.as_deref());
    w.opt_str("UserPrincipalName", r.upn.as_deref())
        .str("WindowsEmailAddress", &r.primary_smtp)
        .str("Office", "")
        .guid(
            "ExchangeGuid",
            data.map(|d| d.exchange_guid).unwrap_or_default(),
        )
        .str("Database", DATABASE)
        .str("ServerName", SERVER)
        .bool("IsMailboxEnabled", true)
        .bool("IsShared", r.kind == RecipientKind::SharedMailbox)
        .bool(
            "IsResource",
            matches!(
                r.kind,
                RecipientKind::RoomMailbox | RecipientKind::EquipmentMailbox
            ),
        )
        .opt_str(
            "ResourceType",
            match r.kind {
                RecipientKind::RoomMailbox => Some("Room"),
                RecipientKind::EquipmentMailbox => Some("Equipment"),
                _ => None,
            },
        )
        .opt_str("ForwardingAddress", forwarding_address)
        .opt_str(
            "ForwardingSmtpAddress",
            data.and_then(|d| d.forwarding_smtp.as_deref()),
        )
        .bool(
            "DeliverToMailboxAndForward",
            data.is_some_and(|d| d.deliver_and_forward),
        )
        .bool(
            "LitigationHoldEnabled",
            data.is_some_and(|d| d.litigation_hold),
        )
        .str(
            "ArchiveStatus",
            if data.is_some_and(|d| d.archive) {
                "Active"
            } else {
                "None"
            },
        )
        .str("ProhibitSendQuota", "99 GB (106,300,440,576 bytes)")
        .str("ProhibitSendReceiveQuota", "100 GB (107,374,182,400 bytes)")
        .str("IssueWarningQuota", "98 GB (105,226,698,752 bytes)")
        .str("RecoverableItemsQuota", "30 GB (32,212,254,720 bytes)")
        .bool("UseDatabaseQuotaDefaults", false)
        .str("MaxSendSize", "35 MB (36,700,160 bytes)")
        .str("MaxReceiveSize", "36 MB (37,748,736 bytes)")
        .list("GrantSendOnBehalfTo", empty.iter().map(String::as_str))
        .list("AcceptMessagesOnlyFrom", empty.iter().map(String::as_str))
        .str("RetentionPolicy", "Default MRM Policy")
        .str("RoleAssignmentPolicy", "Default Role Assignment Policy")
        .str("SharingPolicy", "Default Sharing Policy")
        .opt_str("AddressBookPolicy", None)
        .bool("AuditEnabled", true)
        .bool("IsDirSynced", false)
        .bool("AccountDisabled", r.kind != RecipientKind::UserMailbox)
        .str("UsageLocation", "United States")
        .opt_str(
            "SKUAssigned",
            (r.kind == RecipientKind::UserMailbox).then_some("True"),
        );
}

/// The `Name` of a recipient's manager (how Exchange shows a link to another object), if any.
fn manager_name<'t>(tenant: &'t Tenant, r: &Recipient) -> Option<&'t str> {
    let manager = r.manager.and_then(|id| tenant.recipients.get(id));
    manager.map(|m| m.name.as_str())
}

fn recipient_row(w: &mut RowWriter<'_>, tenant: &Tenant, r: &Recipient) {
    identity_block(w, tenant, r);
    let external = r.external_email.as_deref().map(|e| format!("SMTP:{e}"));
    w.opt_str("ExternalEmailAddress", external.as_deref())
        .str("FirstName", &r.first_name)
        .str("LastName", &r.last_name)
        .str("Department", r.department)
        .str("City", r.city)
        .str("Title", r.title)
        .str("Company", "")
        .opt_str("Manager", manager_name(tenant, r))
        .opt_str(
            "ArchiveStatus",
            r.mailbox
                .as_ref()
                .map(|d| if d.archive { "Active" } else { "None" }),
        );
}

fn user(w: &mut RowWriter<'_>, tenant: &Tenant, r: &Recipient) {
    let dn = tenant.recipients.distinguished_name(r);
    w.str("Name", &r.name)
        .str("Identity", &r.name)
        .str("Id", &r.name)
        .str("DistinguishedName", &dn)
        .guid("Guid", r.guid)
        .str("ExternalDirectoryObjectId", &r.external_id.to_string())
        .opt_str("UserPrincipalName", r.upn.as_deref())
        .str("DisplayName", &r.display_name)
        .str("FirstName", &r.first_name)
        .str("LastName", &r.last_name)
        .str("Department", r.department)
        .str("Title", r.title)
        .str("City", r.city)
        .str("Office", "")
        .str("Company", "")
        .opt_str("Manager", manager_name(tenant, r))
        .str("CountryOrRegion", "United States")
        .str("WindowsEmailAddress", &r.primary_smtp)
        .str("RecipientType", r.kind.recipient_type())
        .str("RecipientTypeDetails", r.kind.type_details())
        .bool(
            "AccountDisabled",
            !matches!(r.kind, RecipientKind::UserMailbox | RecipientKind::MailUser),
        )
        .str(
            "OrganizationalUnit",
            &organizational_unit(&tenant.initial_domain),
        )
        .str("OrganizationId", &organization_id(&tenant.initial_domain))
        .date("WhenCreated", Some(r.created))
        .date("WhenChanged", Some(r.changed));
}

fn contact(w: &mut RowWriter<'_>, tenant: &Tenant, r: &Recipient) {
    identity_block(w, tenant, r);
    let external = r.external_email.as_deref().map(|e| format!("SMTP:{e}"));
    w.opt_str("ExternalEmailAddress", external.as_deref())
        .bool("UsePreferMessageFormat", false)
        .str("MessageFormat", "Mime")
        .str("MessageBodyFormat", "TextAndHtml");
}

fn group(w: &mut RowWriter<'_>, tenant: &Tenant, r: &Recipient) {
    identity_block(w, tenant, r);
    let owners: Vec<&str> = r
        .managed_by
        .iter()
        .filter_map(|&id| tenant.recipients.get(id))
        .map(|o| o.name.as_str())
        .collect();
    w.str("GroupType", "Universal")
        .list("ManagedBy", owners)
        .str("MemberJoinRestriction", "Closed")
        .str("MemberDepartRestriction", "Closed")
        .bool("RequireSenderAuthenticationEnabled", true)
        .bool("IsDirSynced", false);
}

fn statistics(w: &mut RowWriter<'_>, r: &Recipient) {
    let Some(data) = r.mailbox.as_deref() else {
        return;
    };
    let deleted_size = data.total_size / 20;
    w.str("DisplayName", &r.display_name)
        .str("Identity", &data.exchange_guid.to_string())
        .guid("MailboxGuid", data.exchange_guid)
        .str("OwnerADGuid", &r.guid.to_string())
        .int("ItemCount", i64::from(data.item_count))
        .int("DeletedItemCount", i64::from(data.deleted_item_count))
        .int("AssociatedItemCount", i64::from(data.item_count / 40))
        .str("TotalItemSize", &byte_size(data.total_size))
        .str("TotalDeletedItemSize", &byte_size(deleted_size))
        .date("LastLogonTime", data.last_logon)
        .date("LastLogoffTime", data.last_logon.map(|t| t + 1800))
        .date("LastInteractionTime", data.last_logon)
        .date("LastUserActionTime", data.last_logon)
        .str("MailboxTypeDetail", r.kind.type_details())
        .str("MailboxType", "User")
        .bool("IsArchiveMailbox", false)
        .str("StorageLimitStatus", "BelowLimit")
        .str("DatabaseName", DATABASE)
        .str("ServerName", SERVER)
        .int("SystemMessageCount", 12);
}

/// Get-EXOMailbox property sets (docs/protocol.md §3) and the properties each adds.
pub const MAILBOX_PROPERTY_SETS: [(&str, &[&str]); 10] = [
    (
        "Minimum",
        &[
            "Alias",
            "DisplayName",
            "DistinguishedName",
            "EmailAddresses",
            "ExchangeVersion",
            "ExternalDirectoryObjectId",
            "Guid",
            "Id",
            "Identity",
            "Name",
            "OrganizationId",
            "PrimarySmtpAddress",
            "RecipientType",
            "RecipientTypeDetails",
            "UserPrincipalName",
        ],
    ),
    (
        "AddressList",
        &[
            "CustomAttribute1",
            "HiddenFromAddressListsEnabled",
            "AddressBookPolicy",
            "EmailAddresses",
        ],
    ),
    (
        "Delivery",
        &[
            "DeliverToMailboxAndForward",
            "ForwardingAddress",
            "ForwardingSmtpAddress",
            "GrantSendOnBehalfTo",
            "MaxSendSize",
            "MaxReceiveSize",
            "AcceptMessagesOnlyFrom",
        ],
    ),
    (
        "Quota",
        &[
            "IssueWarningQuota",
            "ProhibitSendQuota",
            "ProhibitSendReceiveQuota",
            "RecoverableItemsQuota",
            "UseDatabaseQuotaDefaults",
        ],
    ),
    ("Archive", &["ArchiveStatus"]),
    ("Hold", &["LitigationHoldEnabled"]),
    ("Audit", &["AuditEnabled"]),
    ("Resource", &["IsResource", "ResourceType", "IsShared"]),
    (
        "Policy",
        &[
            "RetentionPolicy",
            "RoleAssignmentPolicy",
            "SharingPolicy",
            "AddressBookPolicy",
        ],
    ),
    (
        "StatisticsSeed",
        &["ExchangeGuid", "Database", "ServerName"],
    ),
];

/// Get-EXORecipient's default (Minimum) properties.
pub const RECIPIENT_MINIMUM: [&str; 15] = [
    "Alias",
    "DisplayName",
    "DistinguishedName",
    "EmailAddresses",
    "ExchangeVersion",
    "ExternalDirectoryObjectId",
    "Guid",
    "Id",
    "Identity",
    "Name",
    "OrganizationId",
    "PrimarySmtpAddress",
    "RecipientType",
    "RecipientTypeDetails",
    "ExternalEmailAddress",
];
