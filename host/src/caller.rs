//! Who asked for a run: the person, app or schedule a front door (`exorun serve`) authenticated.
//! A [`Caller`] enters as a value, is matched by the policy's caller rules
//! ([`crate::policy::callers`]) and is carried down to the audit records; nothing below the front
//! door knows how it was authenticated beyond what is written here.

use std::fmt;

use serde::{Deserialize, Serialize};

/// How a caller was authenticated.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Via {
    /// A local process on the service's Unix socket: the kernel's `SO_PEERCRED`.
    UnixSocket {
        /// The peer's user id.
        uid: u32,
        /// The peer's primary group id.
        gid: u32,
        /// The peer's process id, when the kernel gave one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pid: Option<i32>,
    },
    /// An Entra ID access token presented as `Bearer`, validated against the tenant's keys.
    EntraToken {
        /// The token's tenant (`tid`).
        tenant: String,
        /// `user` (delegated: `oid`, `upn`) or `app` (app-only: `azp`/`appid`, `roles`).
        identity: TokenIdentity,
        /// The token's version, `1.0` or `2.0`.
        version: String,
    },
    /// The service's own scheduler, running a schedule of its configuration.
    Schedule,
}

/// Whether an Entra token speaks for a user or for an app.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenIdentity {
    /// A signed-in user (delegated token).
    User,
    /// An application with no user (app-only token).
    App,
}

/// The groups a caller belongs to, as far as the front door knows them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "ids", rename_all = "kebab-case")]
pub enum Groups {
    /// The complete list (Entra group object ids, or Unix group names).
    #[serde(rename = "list")]
    Known(
        /// The groups.
        Vec<String>,
    ),
    /// The token carried Entra's "groups overage" marker instead of the list (more than 200
    /// groups): no rule on a group can be decided, and every such rule refuses.
    Overage,
}

impl Default for Groups {
    /// No groups.
    fn default() -> Groups {
        Groups::Known(Vec::new())
    }
}

/// An authenticated caller.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Caller {
    /// Who, in the words audit records and messages use: a UPN (`ann@contoso.com`), `app:ID`
    /// for an app, `unix:NAME` for a local user, `schedule:NAME` for a schedule.
    pub principal: String,
    /// How it was authenticated.
    pub via: Via,
    /// The user's UPN (Entra `upn`/`preferred_username`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upn: Option<String>,
    /// The user's or app's Entra object id (`oid`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_id: Option<String>,
    /// The calling app's client id (`azp` in v2.0 tokens, `appid` in v1.0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_id: Option<String>,
    /// The local user's name (from the system's user database).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unix_user: Option<String>,
    /// The caller's groups: Entra group object ids, or the local user's Unix groups by name.
    #[serde(default)]
    pub groups: Groups,
    /// The app roles the token carries (`roles`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    /// Where the request came from (a socket address), for the audit log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

impl Caller {
    /// A local user on the Unix socket, named and grouped as the system's user database says.
    pub fn unix(name: &str, uid: u32, gid: u32, pid: Option<i32>, groups: Vec<String>) -> Caller {
        Caller {
            principal: format!("unix:{name}"),
            via: Via::UnixSocket { uid, gid, pid },
            upn: None,
            object_id: None,
            app_id: None,
            unix_user: Some(name.to_string()),
            groups: Groups::Known(groups),
            roles: Vec::new(),
            source: Some("unix socket".into()),
        }
    }

    /// The scheduler running schedule `name`.
    pub fn schedule(name: &str) -> Caller {
        Caller {
            principal: format!("schedule:{name}"),
            via: Via::Schedule,
            upn: None,
            object_id: None,
            app_id: None,
            unix_user: None,
            groups: Groups::Known(Vec::new()),
            roles: Vec::new(),
            source: None,
        }
    }

    /// How it was authenticated, in a word: `unix-socket`, `entra-token`, `schedule`.
    pub fn authenticated_by(&self) -> &'static str {
        match self.via {
            Via::UnixSocket { .. } => "unix-socket",
            Via::EntraToken { .. } => "entra-token",
            Via::Schedule => "schedule",
        }
    }
}

impl fmt::Display for Caller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.principal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_caller_reads_back_as_written() {
        let caller = Caller::unix("alice", 1000, 1000, Some(42), vec!["helpdesk".into()]);
        let json = serde_json::to_string(&caller).unwrap();
        assert!(json.contains(r#""principal":"unix:alice""#), "{json}");
        assert_eq!(serde_json::from_str::<Caller>(&json).unwrap(), caller);
        let overage = Caller {
            groups: Groups::Overage,
            ..Caller::schedule("nightly")
        };
        let json = serde_json::to_string(&overage).unwrap();
        assert!(json.contains(r#""groups":{"kind":"overage"}"#), "{json}");
        assert_eq!(serde_json::from_str::<Caller>(&json).unwrap(), overage);
        assert_eq!(overage.authenticated_by(), "schedule");
    }
}
