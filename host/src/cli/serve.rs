//! `exorun serve`: the service (see `docs/serve.md`).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

/// Options of `exorun serve`.
#[derive(Args, Debug)]
pub struct ServeCmd {
    /// The service's configuration (default: EXORUN_SERVE_CONFIG, then
    /// ~/.config/exorun/serve.toml, then /etc/exorun/serve.toml).
    #[arg(long, env = "EXORUN_SERVE_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
}

impl ServeCmd {
    /// Serves until SIGTERM or SIGINT.
    pub async fn run(self) -> anyhow::Result<ExitCode> {
        crate::serve::serve(self.config).await?;
        Ok(ExitCode::SUCCESS)
    }
}
