//! The `exorun-sim` command.

fn main() {}
