//! The success envelope (docs/protocol.md §2.1): `@odata.context`, the warnings array and its
//! annotation, `value`, and `@odata.nextLink` when more pages follow.

use crate::directory::Tenant;

use super::paging::{Cursor, skiptoken};

/// Where a page was served from: `https://host[/compliance/<region>]/adminapi/beta/<tenant>`.
pub struct PageBase(pub String);

impl PageBase {
    fn context(&self) -> String {
        format!("{}/$metadata#Collection(Exchange.GenericHashTable)", self.0)
    }
}

fn push_str(buf: &mut Vec<u8>, text: &str) {
    // Writing a &str into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *buf, text);
}

/// Writes the page of `cursor` starting at `position`. `next_cursor_id` names the stored cursor
/// when more rows follow (the caller stores it); `tenant` renders recipient rows.
pub fn page(
    base: &PageBase,
    tenant: Option<&Tenant>,
    cursor: &Cursor,
    position: usize,
    next_cursor_id: Option<&str>,
) -> Vec<u8> {
    let end = (position + cursor.page_size).min(cursor.source.len());
    let mut buf = Vec::with_capacity(1024 + (end - position) * 2048);
    buf.extend_from_slice(b"{\"@odata.context\":");
    push_str(&mut buf, &base.context());
    buf.extend_from_slice(
        b",\"adminapi.warnings@odata.type\":\"#Collection(String)\",\"@adminapi.warnings\":[",
    );
    if next_cursor_id.is_none() {
        for (i, warning) in cursor.final_warnings.iter().enumerate() {
            if i > 0 {
                buf.push(b',');
            }
            push_str(&mut buf, warning);
        }
    }
    buf.extend_from_slice(b"],\"value\":[");
    if let Some(tenant) = tenant {
        cursor.source.render_range(tenant, position, end, &mut buf);
    }
    buf.push(b']');
    if let Some(id) = next_cursor_id {
        buf.extend_from_slice(b",\"@odata.nextLink\":");
        push_str(
            &mut buf,
            &format!("{}/InvokeCommand?$skiptoken={}", base.0, skiptoken(id, end)),
        );
    }
    buf.push(b'}');
    buf
}

/// The reply to a changing cmdlet sent with `Confirm: true`: nothing done, a question asked.
pub fn confirmation(base: &PageBase, cmdlet: &str) -> Vec<u8> {
    serde_json::json!({
        "@odata.context": base.context(),
        "adminapi.warnings@odata.type": "#Collection(String)",
        "@adminapi.warnings": [],
        "@adminapi.confirmationmessage": format!("Are you sure you want to perform this action? {cmdlet}: send the request again with \"Confirm\": false to proceed."),
        "value": [],
    })
    .to_string()
    .into_bytes()
}
