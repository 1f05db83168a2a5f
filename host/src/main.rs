//! The `exorun` command line.

use clap::Parser;

/// Unattended Exchange Online administration with app-only modern auth.
#[derive(Parser)]
#[command(name = "exorun", version = exorun::VERSION, about)]
struct Cli {}

fn main() -> anyhow::Result<()> {
    Cli::parse();
    Ok(())
}
