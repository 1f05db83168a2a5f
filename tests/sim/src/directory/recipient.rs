//! One recipient of the Exchange directory and the mailbox data attached to it.
//!
//! Recipients are stored compactly (a million fit in well under a gigabyte): addresses, distinguished
//! names and statistics are derived on output from the stored fields and a per-recipient seed.

use uuid::Uuid;

/// The kind of recipient, as Exchange's `RecipientTypeDetails` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RecipientKind {
    /// A licensed user's mailbox.
    UserMailbox,
    /// A shared mailbox (no licence, no sign-in).
    SharedMailbox,
    /// A room resource mailbox.
    RoomMailbox,
    /// An equipment resource mailbox.
    EquipmentMailbox,
    /// A mail-enabled user whose mailbox lives elsewhere.
    MailUser,
    /// A mail contact (external address in the GAL).
    MailContact,
    /// A distribution group.
    DistributionGroup,
}

impl RecipientKind {
    /// `RecipientTypeDetails` value.
    pub fn type_details(self) -> &'static str {
        match self {
            RecipientKind::UserMailbox => "UserMailbox",
            RecipientKind::SharedMailbox => "SharedMailbox",
            RecipientKind::RoomMailbox => "RoomMailbox",
            RecipientKind::EquipmentMailbox => "EquipmentMailbox",
            RecipientKind::MailUser => "MailUser",
            RecipientKind::MailContact => "MailContact",
            RecipientKind::DistributionGroup => "MailUniversalDistributionGroup",
        }
    }

    /// `RecipientType` value (the coarser classification).
    pub fn recipient_type(self) -> &'static str {
        match self {
            RecipientKind::UserMailbox
            | RecipientKind::SharedMailbox
            | RecipientKind::RoomMailbox
            | RecipientKind::EquipmentMailbox => "UserMailbox",
            RecipientKind::MailUser => "MailUser",
            RecipientKind::MailContact => "MailContact",
            RecipientKind::DistributionGroup => "MailUniversalDistributionGroup",
        }
    }

    /// True for the four mailbox kinds (what Get-Mailbox returns).
    pub fn is_mailbox(self) -> bool {
        matches!(
            self,
            RecipientKind::UserMailbox
                | RecipientKind::SharedMailbox
                | RecipientKind::RoomMailbox
                | RecipientKind::EquipmentMailbox
        )
    }

    /// Parses a `RecipientTypeDetails` value (any case).
    pub fn from_type_details(text: &str) -> Option<RecipientKind> {
        [
            RecipientKind::UserMailbox,
            RecipientKind::SharedMailbox,
            RecipientKind::RoomMailbox,
            RecipientKind::EquipmentMailbox,
            RecipientKind::MailUser,
            RecipientKind::MailContact,
            RecipientKind::DistributionGroup,
        ]
        .into_iter()
        .find(|kind| kind.type_details().eq_ignore_ascii_case(text))
    }
}

/// Who may reach a mailbox's auto-reply, Exchange's `ExternalAudience`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExternalAudience {
    /// No external senders get the reply.
    None,
    /// Only senders in the contact list.
    Known,
    /// Every external sender.
    All,
}

impl ExternalAudience {
    /// The name Exchange shows.
    pub fn as_str(self) -> &'static str {
        match self {
            ExternalAudience::None => "None",
            ExternalAudience::Known => "Known",
            ExternalAudience::All => "All",
        }
    }
}

/// Exchange's `AutoReplyState`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AutoReplyState {
    /// No automatic replies.
    Disabled,
    /// Replies are sent now.
    Enabled,
    /// Replies are sent between the start and end times.
    Scheduled,
}

impl AutoReplyState {
    /// The name Exchange shows.
    pub fn as_str(self) -> &'static str {
        match self {
            AutoReplyState::Disabled => "Disabled",
            AutoReplyState::Enabled => "Enabled",
            AutoReplyState::Scheduled => "Scheduled",
        }
    }
}

/// A mailbox's automatic-reply (out of office) settings.
#[derive(Clone, Debug, PartialEq)]
pub struct AutoReply {
    /// Whether and when replies are sent.
    pub state: AutoReplyState,
    /// Start of the scheduled window (Unix seconds).
    pub start: i64,
    /// End of the scheduled window (Unix seconds).
    pub end: i64,
    /// Reply to senders inside the organization (HTML).
    pub internal_message: String,
    /// Reply to outside senders (HTML).
    pub external_message: String,
    /// Which outside senders get a reply.
    pub external_audience: ExternalAudience,
    /// What the out-of-office period does to the calendar.
    pub calendar: OofCalendar,
}

/// The calendar side of out of office (all off, empty texts, unless set).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OofCalendar {
    /// `AutoDeclineFutureRequestsWhenOOF`: decline new invitations for the period.
    pub auto_decline_future_requests: bool,
    /// `CreateOOFEvent`: block the period in the calendar.
    pub create_oof_event: bool,
    /// `DeclineAllEventsForScheduledOOF`: cancel or decline every meeting in the period.
    pub decline_all_events: bool,
    /// `DeclineEventsForScheduledOOF`: decline the meetings in `EventsToDeleteIDs`.
    pub decline_events: bool,
    /// `DeclineMeetingMessage`: the text sent with declines.
    pub decline_meeting_message: String,
    /// `OOFEventSubject`: the subject of the blocking event.
    pub oof_event_subject: String,
}

/// One explicit (non-default) mailbox permission entry.
#[derive(Clone, Debug, PartialEq)]
pub struct MailboxGrant {
    /// The trustee as Exchange displays it (UPN for users).
    pub user: String,
    /// Access rights, e.g. `FullAccess`, `ReadPermission`.
    pub rights: Vec<String>,
    /// A deny entry rather than an allow.
    pub deny: bool,
    /// Inherited from the database rather than set on the mailbox.
    pub inherited: bool,
    /// How the entry applies to child objects (`-InheritanceType`; Exchange's default `All`).
    pub inheritance: &'static str,
}

/// Data that only mailboxes have.
#[derive(Clone, Debug, PartialEq)]
pub struct MailboxData {
    /// The mailbox's store GUID.
    pub exchange_guid: Uuid,
    /// Forwarding to an external SMTP address (`smtp:x@y`), if set.
    pub forwarding_smtp: Option<String>,
    /// Forwarding to another recipient (its name), if set.
    pub forwarding_address: Option<String>,
    /// Keep a copy when forwarding.
    pub deliver_and_forward: bool,
    /// Litigation hold on.
    pub litigation_hold: bool,
    /// An archive mailbox is enabled.
    pub archive: bool,
    /// Automatic replies.
    pub auto_reply: Option<Box<AutoReply>>,
    /// Explicit permission entries (the default SELF entry is implied).
    pub grants: Vec<MailboxGrant>,
    /// Trustees with SendAs on this mailbox.
    pub send_as: Vec<String>,
    /// Items in the mailbox.
    pub item_count: u32,
    /// Total size of items, bytes.
    pub total_size: u64,
    /// Items in Recoverable Items.
    pub deleted_item_count: u32,
    /// Last logon (Unix seconds), if the mailbox was ever opened.
    pub last_logon: Option<i64>,
}

/// One recipient of the directory.
#[derive(Clone, Debug, PartialEq)]
pub struct Recipient {
    /// Object GUID (`Guid`).
    pub guid: Uuid,
    /// Entra object id (`ExternalDirectoryObjectId`).
    pub external_id: Uuid,
    /// What sort of recipient this is.
    pub kind: RecipientKind,
    /// `Name`, unique in the tenant, also the CN of the DN and the `Identity`.
    pub name: String,
    /// `Alias` (mail nickname), unique in the tenant.
    pub alias: String,
    /// `DisplayName`.
    pub display_name: String,
    /// Given name.
    pub first_name: String,
    /// Surname.
    pub last_name: String,
    /// `UserPrincipalName` (users, mailboxes and mail users only).
    pub upn: Option<String>,
    /// `PrimarySmtpAddress`.
    pub primary_smtp: String,
    /// Secondary SMTP proxy addresses (without the `smtp:` prefix).
    pub secondary_smtp: Vec<String>,
    /// `ExternalEmailAddress` of contacts and mail users (without `SMTP:`).
    pub external_email: Option<String>,
    /// Department (users).
    pub department: &'static str,
    /// City (users).
    pub city: &'static str,
    /// Job title (users).
    pub title: &'static str,
    /// `HiddenFromAddressListsEnabled`.
    pub hidden: bool,
    /// `CustomAttribute1`.
    pub custom_attribute1: String,
    /// Creation time (Unix seconds).
    pub created: i64,
    /// Last change (Unix seconds).
    pub changed: i64,
    /// Mailbox data for the four mailbox kinds.
    pub mailbox: Option<Box<MailboxData>>,
    /// Members of a distribution group (recipient ids).
    pub members: Vec<u32>,
    /// Owners of a distribution group (recipient ids).
    pub managed_by: Vec<u32>,
    /// The user's manager (a recipient id), Entra's `manager` that Get-User shows.
    pub manager: Option<u32>,
}

impl Recipient {
    /// Every SMTP address of the recipient, primary first.
    pub fn smtp_addresses(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.primary_smtp.as_str())
            .chain(self.secondary_smtp.iter().map(String::as_str))
    }

    /// `EmailAddresses` as Exchange shows it: `SMTP:` for the primary, `smtp:` for the others.
    pub fn email_addresses(&self) -> Vec<String> {
        let mut all = Vec::with_capacity(1 + self.secondary_smtp.len());
        all.push(format!("SMTP:{}", self.primary_smtp));
        all.extend(self.secondary_smtp.iter().map(|a| format!("smtp:{a}")));
        all
    }
}
