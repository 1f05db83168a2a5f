//! The Exchange Online admin API: InvokeCommand, its envelopes, paging, throttling and cmdlets.

pub mod auth;
pub mod batch;
pub mod cmdlets;
pub mod discovery;
pub mod envelope;
pub mod error;
pub mod filter;
pub mod format;
pub mod invoke;
pub mod paging;
pub mod params;
pub mod responses;
pub mod row;
pub mod throttle;
pub mod views;
