//! `exorun completions <shell>`: prints the shell completion script for every command and option.

use std::io::Write;
use std::process::ExitCode;

use clap::Args;
use clap_complete::Shell;

/// Options of `completions`.
#[derive(Args, Debug)]
pub struct CompletionsCmd {
    /// The shell to write the script for.
    shell: Shell,
}

impl CompletionsCmd {
    /// Writes the script to stdout.
    pub fn run(self) -> anyhow::Result<ExitCode> {
        let mut script = Vec::new();
        clap_complete::generate(self.shell, &mut super::command(), "exorun", &mut script);
        std::io::stdout().lock().write_all(&script)?;
        Ok(ExitCode::SUCCESS)
    }
}
