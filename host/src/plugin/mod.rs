//! Plugins as artifacts: the manifest each declares, and the packed component file that
//! carries it (so it can be read, pinned and signed without running any plugin code).

pub mod artifact;
pub mod input;
pub mod manifest;
