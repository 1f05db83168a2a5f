//! The Exchange Online admin API: InvokeCommand, its envelopes, paging, throttling and cmdlets.

pub mod cmdlets;
pub mod error;
pub mod filter;
pub mod format;
pub mod params;
pub mod row;
pub mod views;
pub mod invoke;
pub mod paging;
pub mod throttle;
