//! # exorun-plugin: automation plugins for exorun, in Rust
//!
//! An exorun plugin is a WebAssembly component that runs one Exchange Online automation script
//! in a sandbox: no network, no files, no environment. It runs cmdlets through the host (which
//! holds the tenant's credential and refuses any cmdlet or parameter the plugin's
//! `manifest.toml` does not declare), emits result records, logs and reports progress. This crate
//! is the typed Rust side of that contract (`wit/plugin.wit`, world `automation`).
//!
//! A whole plugin:
//!
//! ```no_run
//! use exorun_plugin::{emit, info, query, Parameters, PluginError};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Deserialize)]
//! struct Input { filter: Option<String> }
//!
//! #[derive(Deserialize, Serialize)]
//! #[serde(rename_all = "PascalCase")]
//! struct Mailbox { user_principal_name: Option<String>, recipient_type_details: String }
//!
//! #[derive(Serialize)]
//! struct Summary { mailboxes: u64 }
//!
//! fn run(input: Input) -> Result<Summary, PluginError> {
//!     let params = Parameters::new().with("ResultSize", "Unlimited").with_some("Filter", input.filter);
//!     let mut mailboxes = 0;
//!     for mailbox in query::<Mailbox>("Get-Mailbox", params) {
//!         emit(&mailbox?)?;
//!         mailboxes += 1;
//!     }
//!     info!("{mailboxes} mailboxes");
//!     Ok(Summary { mailboxes })
//! }
//!
//! exorun_plugin::export_plugin!(run);
//! ```
//!
//! The crate is a `cdylib` depending on `exorun-plugin` and `serde`, built with
//! `cargo build --target wasm32-wasip2 --release` (rustc turns it into a component), then packed
//! with its manifest by `exorun plugin pack`. The manifest declares every cmdlet and parameter:
//!
//! ```toml
//! name = "list-mailboxes"
//! version = "0.1.0"
//! description = "One record per mailbox"
//! [[cmdlet]]
//! name = "Get-Mailbox"
//! parameters = ["ResultSize", "Filter"]
//! ```
//!
//! What the SDK does for you:
//! * [`export_plugin!`] reads the input JSON into your type (the error names the field that does
//!   not fit) and writes your summary as JSON; your error's `Display` is the run's error.
//! * [`invoke`] and [`query`] send any `Serialize` parameters and read results into any
//!   `Deserialize` type, [`serde_json::Value`] included; [`CmdletError`] says why a call failed.
//! * [`Failures`], flattened into your summary, reports the units of work (mailboxes, members...)
//!   that failed while the rest went on: the host then counts the run as failed work (non-zero
//!   exit, a failed workflow item that `on_error` retries and `workflow resume` runs again),
//!   never as success. A plugin that goes on past a failed unit must use it.
//! * [`emit`], [`progress`], [`config`], [`checkpoint`], [`log`] and the [`info!`] family wrap the
//!   rest of the contract.
//!
//! The pure parts (input decoding, parameter encoding, [`value`]) build and test on any target;
//! calling the host only works inside a component.

mod error;
mod exchange;
mod failures;
mod host;
pub mod log;
mod run;
pub mod value;

pub use error::{CmdletError, PluginError};
pub use exchange::{Pages, Parameters, Query, invoke, query};
pub use failures::{Failures, MAX_ERRORS};
pub use host::{checkpoint, config, emit, progress};
pub use run::decode_input;

/// The bindings wit-bindgen generates for the contract. Plugins use the typed API above; the
/// export macro reaches in here.
#[doc(hidden)]
#[allow(unsafe_code, missing_docs, clippy::all)]
pub mod bindings {
    wit_bindgen::generate!({
        world: "automation",
        path: "../../wit",
        pub_export_macro: true,
        export_macro_name: "__export_automation",
        default_bindings_module: "exorun_plugin::bindings",
    });
}

/// Used by [`export_plugin!`]; not part of the API.
#[doc(hidden)]
pub mod __private {
    pub use crate::run::run;
}

/// Exports `run` as the plugin's entry point.
///
/// `run` is any function `fn(Input) -> Result<Summary, E>` where `Input: Deserialize` (the run's
/// `--input` JSON; no input reads as `{}`), `Summary: Serialize` (the run's summary) and
/// `E: Display` (the run's error message: [`PluginError`], `String`...). Invoke it once per
/// plugin crate, at its root.
///
/// ```no_run
/// # use serde::{Deserialize, Serialize};
/// #[derive(Deserialize)]
/// struct Input { days: u32 }
/// #[derive(Serialize)]
/// struct Summary { checked: u64 }
///
/// fn run(input: Input) -> Result<Summary, String> {
///     Ok(Summary { checked: u64::from(input.days) })
/// }
///
/// exorun_plugin::export_plugin!(run);
/// ```
#[macro_export]
macro_rules! export_plugin {
    ($run:path) => {
        // The export shims wit-bindgen generates are `unsafe` by nature (raw pointers over the
        // canonical ABI); this is the one place a plugin crate allows that.
        #[allow(unsafe_code)]
        const _: () = {
            struct ExorunPlugin;

            impl $crate::bindings::Guest for ExorunPlugin {
                fn run(
                    input: ::std::string::String,
                ) -> ::core::result::Result<::std::string::String, ::std::string::String> {
                    $crate::__private::run(&input, $run)
                }
            }

    $crate::bindings::__export_automation!(ExorunPlugin with_types_in $crate::bindings);
        };
    };
}
