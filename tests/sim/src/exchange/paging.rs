//! OData paging (docs/protocol.md §2.2–2.3): results are cut into pages of `odata.maxpagesize` rows;
//! every page but the last carries an `@odata.nextLink` with an opaque `$skiptoken`.
//!
//! A query's matching rows are snapshotted once, in a cursor; each skip token names the cursor
//! and the position, so a page can be fetched again (a client retrying after a dropped
//! connection) until the cursor expires (30 minutes, like Exchange).

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;
use uuid::Uuid;

use crate::directory::Tenant;

use super::cmdlets::Rows;
use super::row::Select;
use super::views::{View, render};

/// Exchange's hard page-size cap.
pub const MAX_PAGE_SIZE: usize = 1000;

/// Text of the warning added when `ResultSize` cut the results.
pub const TRUNCATION_WARNING: &str = "There are more results available than are currently displayed. To view them, increase the value for the ResultSize parameter.";

/// Text of the 400 for an expired or unknown skip token.
pub const EXPIRED_CURSOR: &str =
    "Expired or Invalid pagination request. Default Expiry time is 00:30:00";

/// The rows of one query, fixed when the query ran.
#[derive(Clone)]
pub enum Source {
    /// Recipient ids rendered on demand.
    Recipients {
        /// Rendering shape.
        view: View,
        /// Ids in result order (already cut to ResultSize).
        ids: Arc<Vec<u32>>,
        /// Properties to render.
        select: Select,
    },
    /// Pre-rendered rows.
    Rendered(Arc<Vec<String>>),
}

impl Source {
    /// Builds the source from a cmdlet's rows, keeping at most `cap` of them.
    pub fn from_rows(rows: Rows, cap: usize, extra_select: &Select) -> Source {
        match rows {
            Rows::Recipients {
                view,
                mut ids,
                select,
            } => {
                ids.truncate(cap);
                Source::Recipients {
                    view,
                    ids: Arc::new(ids),
                    select: select.intersect(extra_select),
                }
            }
            Rows::Rendered(mut rows) => {
                rows.truncate(cap);
                Source::Rendered(Arc::new(rows))
            }
        }
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        match self {
            Source::Recipients { ids, .. } => ids.len(),
            Source::Rendered(rows) => rows.len(),
        }
    }

    /// True when there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends rows `start..end` to `buf`, comma-separated (recipients removed since are skipped).
    pub fn render_range(&self, tenant: &Tenant, start: usize, end: usize, buf: &mut Vec<u8>) {
        let mut first = true;
        let mut sep = |buf: &mut Vec<u8>| {
            if !first {
                buf.push(b',');
            }
            first = false;
        };
        match self {
            Source::Recipients { view, ids, select } => {
                for &id in &ids[start..end] {
                    if let Some(r) = tenant.recipients.get(id) {
                        sep(buf);
                        render(*view, tenant, r, select, buf);
                    }
                }
            }
            Source::Rendered(rows) => {
                for row in &rows[start..end] {
                    sep(buf);
                    buf.extend_from_slice(row.as_bytes());
                }
            }
        }
    }
}

/// A paged query.
#[derive(Clone)]
pub struct Cursor {
    /// Tenant queried.
    pub tenant: Uuid,
    /// App that ran the query (only it may page on).
    pub app: Uuid,
    /// Canonical cmdlet name (a POSTed nextLink must repeat the same cmdlet).
    pub cmdlet: String,
    /// The rows.
    pub source: Source,
    /// Rows per page.
    pub page_size: usize,
    /// Warnings for the last page.
    pub final_warnings: Vec<String>,
    /// Creation time (Unix seconds).
    pub created: i64,
}

/// Open cursors by id.
#[derive(Default)]
pub struct Cursors {
    map: Mutex<HashMap<String, Arc<Cursor>>>,
}

/// The backend name skip tokens carry, as the real ones embed a server name.
const BACKEND: &str = "BN8PR01MB1234";

impl Cursors {
    /// Stores a cursor and returns its id; expired cursors are swept on the way.
    pub fn open(&self, cursor: Cursor, now: i64, ttl: i64) -> String {
        let id = Uuid::new_v4().simple().to_string();
        let mut map = self.map.lock();
        if map.len() >= 64 {
            map.retain(|_, c| now - c.created < ttl);
        }
        map.insert(id.clone(), Arc::new(cursor));
        id
    }

    /// Finds the cursor id, cursor and position a skip token names, if it exists and has not
    /// expired.
    pub fn lookup(&self, token: &str, now: i64, ttl: i64) -> Option<(String, Arc<Cursor>, usize)> {
        let (id, position) = parse_skiptoken(token)?;
        let cursor = self.map.lock().get(&id).cloned()?;
        (now - cursor.created < ttl && position <= cursor.source.len())
            .then_some((id, cursor, position))
    }
}

/// The `$skiptoken` for a position of a cursor.
pub fn skiptoken(cursor_id: &str, position: usize) -> String {
    crate::jwt::b64url(format!("{BACKEND}:{cursor_id}:{position}").as_bytes())
}

fn parse_skiptoken(token: &str) -> Option<(String, usize)> {
    let text = String::from_utf8(crate::jwt::b64url_decode(token)?).ok()?;
    let mut parts = text.split(':');
    let (Some(BACKEND), Some(id), Some(position), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    Some((id.to_string(), position.parse().ok()?))
}

/// Reads `Prefer: odata.maxpagesize=N` (capped at 1000; default 1000).
pub fn page_size(prefer: Option<&str>) -> usize {
    prefer
        .into_iter()
        .flat_map(|p| p.split([',', ';']))
        .filter_map(|part| part.trim().strip_prefix("odata.maxpagesize="))
        .filter_map(|n| n.trim().parse::<usize>().ok())
        .next()
        .map_or(MAX_PAGE_SIZE, |n| n.clamp(1, MAX_PAGE_SIZE))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skiptokens_round_trip_and_reject_garbage() {
        let token = skiptoken("abc", 2000);
        assert_eq!(parse_skiptoken(&token), Some(("abc".into(), 2000)));
        assert_eq!(parse_skiptoken("nonsense"), None);
        assert_eq!(parse_skiptoken(&crate::jwt::b64url(b"OTHER:abc:1")), None);
    }

    #[test]
    fn prefer_header_sets_page_size_within_limits() {
        assert_eq!(page_size(None), 1000);
        assert_eq!(page_size(Some("odata.maxpagesize=50")), 50);
        assert_eq!(
            page_size(Some("odata.continue-on-error; odata.maxpagesize=5000")),
            1000
        );
        assert_eq!(page_size(Some("odata.maxpagesize=0")), 1);
    }

    #[test]
    fn cursors_expire() {
        let cursors = Cursors::default();
        let id = cursors.open(
            Cursor {
                tenant: Uuid::nil(),
                app: Uuid::nil(),
                cmdlet: "Get-Mailbox".into(),
                source: Source::Rendered(Arc::new(vec!["{}".into(); 3])),
                page_size: 1,
                final_warnings: vec![],
                created: 100,
            },
            100,
            1800,
        );
        assert!(cursors.lookup(&skiptoken(&id, 1), 200, 1800).is_some());
        assert!(
            cursors.lookup(&skiptoken(&id, 4), 200, 1800).is_none(),
            "past the end"
        );
        assert!(
            cursors.lookup(&skiptoken(&id, 1), 1900, 1800).is_none(),
            "expired"
        );
    }
}
