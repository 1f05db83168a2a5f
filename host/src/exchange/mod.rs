//! The Exchange Online admin API client (InvokeCommand, docs/protocol.md §1–§2, §5, §8).
//!
//! [`ExchangeClient`] runs cmdlets for one tenant: it builds the request the Exchange module
//! sends, pages through results in constant memory ([`Query`]), gets a token for every request
//! so runs outlive tokens, retries throttled and failed requests, holds a per-tenant concurrency
//! limit, follows the Security & Compliance regional redirect only within the service, turns
//! service errors into [`ExchangeError`]s an admin can act on. It sends what it is given: which
//! cmdlets a dry run holds back ([`is_mutating`]) is decided above it, by the run.

pub mod binding;
pub mod catalogue;
mod client;
pub(crate) mod date_value;
mod dry_run;
mod endpoint;
mod error;
pub mod params;
mod query;
pub(crate) mod reply;
mod retry;
mod retry_wait;
pub mod role_hint;
mod service_message;
mod settings;
mod transport;
pub(crate) mod value_syntax;

pub use binding::{Binding, bind};
pub use catalogue::Catalogue;
pub use client::ExchangeClient;
pub use dry_run::{Rehearsal, is_mutating};
pub use error::ExchangeError;
pub use params::{ParamError, Parameters, from_cli_args};
pub use query::{Page, Query, RawRow};
pub use retry_wait::RetryWait;
pub use service_message::ServiceMessage;
pub use settings::{
    DEFAULT_COMPLIANCE_URL, DEFAULT_EXCHANGE_URL, ExchangeSettings, MAX_PAGE_SIZE, MAX_RETRY_AFTER,
    RetryPolicy,
};
pub use value_syntax::HASHTABLE_TYPE;

use crate::auth::Resource;

/// Which admin API a cmdlet runs on; each has its own base URL and token audience.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Surface {
    /// Exchange Online (`outlook.office365.com`).
    Exchange,
    /// Security & Compliance (`ps.compliance.protection.outlook.com`, redirected per region).
    Compliance,
}

impl Surface {
    /// The token resource of this API.
    pub fn resource(self) -> Resource {
        match self {
            Surface::Exchange => Resource::Exchange,
            Surface::Compliance => Resource::Compliance,
        }
    }
}
