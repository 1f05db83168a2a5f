//! Cmdlets of the org family.

use super::CmdletSpec;

/// The cmdlets of this module.
pub const CMDLETS: [CmdletSpec; 0] = [];
