//! Integration tests of the exorun host against exorun-sim over real HTTPS on loopback.

mod admission;
mod audit;
mod auth;
mod caller_tokens;
mod chromium;
mod cli;
mod deploy;
mod durable;
mod failures;
mod fanout;
mod gate;
mod invoke_cli;
mod kills;
mod offboarding;
mod plugins_cli;
mod policy_cli;
mod report;
mod runtime;
mod secrets;
mod signing;
mod support;
mod transport;
mod workflow_check;
mod workflow_filters;
mod workflow_partition;
mod workflow_run;
