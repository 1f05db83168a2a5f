//! Cmdlets of the contact family.

use super::CmdletSpec;

/// The cmdlets of this module.
pub const CMDLETS: [CmdletSpec; 0] = [];
