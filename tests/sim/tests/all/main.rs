//! Integration tests of exorun-sim over real HTTPS on loopback.

mod callers;
mod cli;
mod cmdlets;
mod compliance;
mod entra;
mod faults;
mod invoke;
mod msal;
mod paging;
mod process;
mod support;
mod surface;
