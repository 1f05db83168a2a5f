//! Get-MailboxAutoReplyConfiguration and Set-MailboxAutoReplyConfiguration (out of office).

use crate::directory::Tenant;
use crate::directory::recipient::{
    AutoReply, AutoReplyState, ExternalAudience, OofCalendar, Recipient,
};
use crate::exchange::error::CmdletError;
use crate::exchange::params::Params;

use super::{CmdletSpec, Context, Output, Run, Surface, object, resolve};

/// The cmdlets of this module.
pub const CMDLETS: [CmdletSpec; 2] = [
    CmdletSpec {
        name: "Get-MailboxAutoReplyConfiguration",
        surface: Surface::Exchange,
        params: &["Identity"],
        run: Run::Read(get_auto_reply),
    },
    CmdletSpec {
        name: "Set-MailboxAutoReplyConfiguration",
        surface: Surface::Exchange,
        params: &[
            "Identity",
            "AutoReplyState",
            "InternalMessage",
            "ExternalMessage",
            "ExternalAudience",
            "StartTime",
            "EndTime",
            "AutoDeclineFutureRequestsWhenOOF",
            "CreateOOFEvent",
            "DeclineAllEventsForScheduledOOF",
            "DeclineEventsForScheduledOOF",
            "DeclineMeetingMessage",
            "OOFEventSubject",
            "EventsToDeleteIDs",
            "Confirm",
        ],
        run: Run::Write(set_auto_reply),
    },
];

/// Where one calendar switch is kept.
type Switch = fn(&mut OofCalendar) -> &mut bool;

/// The calendar switches of Set-, and where each is kept.
const CALENDAR_FLAGS: [(&str, Switch); 4] = [
    ("AutoDeclineFutureRequestsWhenOOF", |c| {
        &mut c.auto_decline_future_requests
    }),
    ("CreateOOFEvent", |c| &mut c.create_oof_event),
    ("DeclineAllEventsForScheduledOOF", |c| {
        &mut c.decline_all_events
    }),
    ("DeclineEventsForScheduledOOF", |c| &mut c.decline_events),
];

fn is_mailbox(r: &Recipient) -> bool {
    r.kind.is_mailbox()
}

/// A mailbox's settings, or Exchange's defaults for one that never set any: disabled, a one-day
/// window starting at the current hour, no messages, replies to all outside senders.
fn settings(recipient: &Recipient, now: i64) -> AutoReply {
    if let Some(reply) = recipient
        .mailbox
        .as_deref()
        .and_then(|d| d.auto_reply.as_deref())
    {
        return reply.clone();
    }
    let start = now - now.rem_euclid(3600);
    AutoReply {
        state: AutoReplyState::Disabled,
        start,
        end: start + 86_400,
        internal_message: String::new(),
        external_message: String::new(),
        external_audience: ExternalAudience::All,
        calendar: OofCalendar::default(),
    }
}

fn get_auto_reply(
    tenant: &Tenant,
    params: &Params<'_>,
    ctx: &Context,
) -> Result<Output, CmdletError> {
    let identity = params.required("Identity")?;
    let id = resolve(tenant, &identity, is_mailbox)?;
    let Some(mailbox) = tenant.recipients.get(id) else {
        return Err(CmdletError::not_found(&identity));
    };
    let reply = settings(mailbox, ctx.now);
    let none: [&str; 0] = [];
    let row = object(|w| {
        let calendar = &reply.calendar;
        w.bool(
            "AutoDeclineFutureRequestsWhenOOF",
            calendar.auto_decline_future_requests,
        )
        .str("AutoReplyState", reply.state.as_str())
        .bool("CreateOOFEvent", calendar.create_oof_event)
        .bool(
            "DeclineAllEventsForScheduledOOF",
            calendar.decline_all_events,
        )
        .bool("DeclineEventsForScheduledOOF", calendar.decline_events)
        .str("DeclineMeetingMessage", &calendar.decline_meeting_message)
        .date("EndTime", Some(reply.end))
        .list("EventsToDeleteIDs", none)
        .str("ExternalAudience", reply.external_audience.as_str())
        .str("ExternalMessage", &reply.external_message)
        .str("InternalMessage", &reply.internal_message)
        .str("OOFEventSubject", &calendar.oof_event_subject)
        .date("StartTime", Some(reply.start))
        .list("Recipients", none)
        .str("MailboxOwnerId", &mailbox.name)
        .str("Identity", &mailbox.name)
        .bool("IsValid", true)
        .str("ObjectState", "Unchanged");
    });
    Ok(Output::rendered(vec![row]))
}

/// A message parameter: its text, empty when given as null, `None` when absent.
fn message(params: &Params<'_>, name: &str) -> Option<String> {
    params
        .str(name)
        .or_else(|| params.has(name).then(String::new))
}

fn set_auto_reply(
    tenant: &mut Tenant,
    params: &Params<'_>,
    ctx: &Context,
) -> Result<Output, CmdletError> {
    let identity = params.required("Identity")?;
    let state = params
        .enum_value(
            "AutoReplyState",
            "Microsoft.Exchange.InfoWorker.Common.OOF.OofState",
            &["Disabled", "Enabled", "Scheduled"],
        )?
        .map(|s| match s {
            "Enabled" => AutoReplyState::Enabled,
            "Scheduled" => AutoReplyState::Scheduled,
            _ => AutoReplyState::Disabled,
        });
    let audience = params
        .enum_value(
            "ExternalAudience",
            "Microsoft.Exchange.InfoWorker.Common.OOF.ExternalAudience",
            &["None", "Known", "All"],
        )?
        .map(|a| match a {
            "None" => ExternalAudience::None,
            "Known" => ExternalAudience::Known,
            _ => ExternalAudience::All,
        });
    let start = params.date("StartTime")?;
    let end = params.date("EndTime")?;
    let mut switches = Vec::new();
    for (flag, field) in CALENDAR_FLAGS {
        if let Some(on) = params.bool(flag)? {
            switches.push((field, on));
        }
    }
    let id = resolve(tenant, &identity, is_mailbox)?;
    let Some(mailbox) = tenant.recipients.get(id) else {
        return Err(CmdletError::not_found(&identity));
    };
    let mut reply = settings(mailbox, ctx.now);
    if let Some(state) = state {
        reply.state = state;
    }
    if let Some(audience) = audience {
        reply.external_audience = audience;
    }
    reply.start = start.unwrap_or(reply.start);
    reply.end = end.unwrap_or(reply.end);
    if let Some(text) = message(params, "InternalMessage") {
        reply.internal_message = text;
    }
    if let Some(text) = message(params, "ExternalMessage") {
        reply.external_message = text;
    }
    for (field, on) in switches {
        *field(&mut reply.calendar) = on;
    }
    if let Some(text) = message(params, "DeclineMeetingMessage") {
        reply.calendar.decline_meeting_message = text;
    }
    if let Some(text) = message(params, "OOFEventSubject") {
        reply.calendar.oof_event_subject = text;
    }
    if reply.state == AutoReplyState::Scheduled && reply.end <= reply.start {
        return Err(CmdletError::task(
            "",
            "Microsoft.Exchange.Data.DataValidationException",
            "The end time must be later than the start time.".to_string(),
        ));
    }
    tenant.recipients.update(id, |r| {
        if let Some(data) = r.mailbox.as_deref_mut() {
            data.auto_reply = Some(Box::new(reply));
        }
    });
    Ok(Output::nothing())
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::super::test_support::{NOW, name, nth, rows, run, tenant};
    use super::*;
    use crate::directory::RecipientKind;
    use crate::time::exchange_date;

    fn get(t: &mut Tenant, identity: &str) -> Value {
        let out = run(
            t,
            "Get-MailboxAutoReplyConfiguration",
            json!({"Identity": identity}),
        )
        .unwrap();
        rows(t, &out).remove(0)
    }

    fn without_settings(t: &Tenant) -> String {
        let (_, r) = t
            .recipients
            .iter()
            .find(|(_, r)| r.mailbox.as_ref().is_some_and(|d| d.auto_reply.is_none()))
            .unwrap();
        r.name.clone()
    }

    #[test]
    fn defaults_for_a_mailbox_that_never_set_any() {
        let mut t = tenant();
        let mailbox = without_settings(&t);
        let row = get(&mut t, &mailbox);
        assert_eq!(row["AutoReplyState"], "Disabled");
        assert_eq!(row["ExternalAudience"], "All");
        assert_eq!(row["InternalMessage"], "");
        assert_eq!(row["StartTime"], exchange_date(NOW - NOW % 3600).as_str());
        assert_eq!(
            row["EndTime"],
            exchange_date(NOW - NOW % 3600 + 86_400).as_str()
        );
        assert_eq!(row["StartTime@odata.type"], "#DateTimeOffset");
        assert_eq!(row["Recipients"], json!([]));
        assert_eq!(row["EventsToDeleteIDs"], json!([]));
        assert_eq!(
            (row["MailboxOwnerId"].as_str(), row["Identity"].as_str()),
            (Some(mailbox.as_str()), Some(mailbox.as_str()))
        );
        assert_eq!(row["CreateOOFEvent"], false);
        assert_eq!(row["IsValid"], true);
    }

    #[test]
    fn set_then_get_round_trips() {
        let mut t = tenant();
        let mailbox = without_settings(&t);
        let params = json!({"Identity": mailbox, "AutoReplyState": "scheduled", "InternalMessage": "Away",
            "ExternalMessage": "Away (ext)", "ExternalAudience": "known", "StartTime": "2026-02-01T08:00:00.0000000Z",
            "EndTime": "2026-02-10T17:00:00Z", "CreateOOFEvent": true, "Confirm": false});
        let out = run(&mut t, "Set-MailboxAutoReplyConfiguration", params).unwrap();
        assert!(rows(&t, &out).is_empty());
        let row = get(&mut t, &mailbox);
        assert_eq!(row["AutoReplyState"], "Scheduled");
        assert_eq!(row["ExternalAudience"], "Known");
        assert_eq!(row["InternalMessage"], "Away");
        assert_eq!(row["ExternalMessage"], "Away (ext)");
        assert_eq!(row["StartTime"], "2026-02-01T08:00:00.0000000+00:00");
        assert_eq!(row["EndTime"], "2026-02-10T17:00:00.0000000+00:00");
        assert_eq!(row["CreateOOFEvent"], true, "calendar switches are kept");
        assert_eq!(row["DeclineAllEventsForScheduledOOF"], false);
        let params = json!({"Identity": mailbox, "DeclineAllEventsForScheduledOOF": "$true",
            "DeclineMeetingMessage": "I am away", "OOFEventSubject": "Away"});
        run(&mut t, "Set-MailboxAutoReplyConfiguration", params).unwrap();
        let row = get(&mut t, &mailbox);
        assert_eq!(
            (
                &row["CreateOOFEvent"],
                &row["DeclineAllEventsForScheduledOOF"],
                &row["DeclineMeetingMessage"],
                &row["OOFEventSubject"],
                &row["InternalMessage"],
            ),
            (
                &json!(true),
                &json!(true),
                &json!("I am away"),
                &json!("Away"),
                &json!("Away")
            ),
            "a later Set- changes only what it names"
        );
        let params =
            json!({"Identity": mailbox, "AutoReplyState": "Disabled", "ExternalMessage": null});
        run(&mut t, "Set-MailboxAutoReplyConfiguration", params).unwrap();
        let row = get(&mut t, &mailbox);
        assert_eq!(
            (
                row["AutoReplyState"].as_str(),
                row["ExternalMessage"].as_str()
            ),
            (Some("Disabled"), Some(""))
        );
        assert_eq!(row["InternalMessage"], "Away");
    }

    #[test]
    fn generated_settings_are_shown() {
        let mut t = tenant();
        let (_, r) = t
            .recipients
            .iter()
            .find(|(_, r)| r.mailbox.as_ref().is_some_and(|d| d.auto_reply.is_some()))
            .unwrap();
        let mailbox = r.name.clone();
        let row = get(&mut t, &mailbox);
        assert_eq!(row["AutoReplyState"], "Enabled");
        assert_eq!(row["InternalMessage"], "I am out of the office.");
    }

    #[test]
    fn errors() {
        let mut t = tenant();
        let mailbox = name(&t, nth(&t, RecipientKind::UserMailbox, 0));
        let set = "Set-MailboxAutoReplyConfiguration";
        let bad = json!({"Identity": mailbox, "AutoReplyState": "Scheduled", "StartTime": "2026-02-10T00:00:00Z", "EndTime": "2026-02-01T00:00:00Z"});
        let e = run(&mut t, set, bad).err().unwrap();
        assert!(e.exception.ends_with("DataValidationException"));
        assert_eq!(e.text, "The end time must be later than the start time.");
        let e = run(
            &mut t,
            set,
            json!({"Identity": mailbox, "AutoReplyState": "On"}),
        )
        .err()
        .unwrap();
        assert!(
            e.text.contains("Disabled, Enabled, Scheduled"),
            "{}",
            e.text
        );
        let e = run(
            &mut t,
            set,
            json!({"Identity": mailbox, "ExternalAudience": "Everyone"}),
        )
        .err()
        .unwrap();
        assert!(e.text.contains("None, Known, All"));
        let e = run(
            &mut t,
            set,
            json!({"Identity": mailbox, "StartTime": "next tuesday"}),
        )
        .err()
        .unwrap();
        assert!(e.text.contains("System.DateTime"));
        let e = run(
            &mut t,
            set,
            json!({"Identity": mailbox, "CreateOOFEvent": "perhaps"}),
        )
        .err()
        .unwrap();
        assert!(e.text.contains("System.Boolean"));
        assert!(
            run(&mut t, set, json!({"AutoReplyState": "Enabled"}))
                .err()
                .unwrap()
                .text
                .contains("Identity")
        );
        let contact = name(&t, nth(&t, RecipientKind::MailContact, 0));
        let e = run(
            &mut t,
            "Get-MailboxAutoReplyConfiguration",
            json!({"Identity": contact}),
        )
        .err()
        .unwrap();
        assert_eq!(e.status, 404);
        let e = run(
            &mut t,
            set,
            json!({"Identity": "ghost", "AutoReplyState": "Enabled"}),
        )
        .err()
        .unwrap();
        assert_eq!(e.status, 404);
    }
}
