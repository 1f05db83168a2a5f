//! The `exorun` command line: a thin shell over the library.

mod cli;
mod serve;

use std::process::ExitCode;

fn main() -> ExitCode {
    cli::main()
}
