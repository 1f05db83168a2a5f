//! `exorun serve`: the service (see `docs/serve.md`).

use std::fmt;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

use crate::serve::database::DatabaseUrl;

/// Options of `exorun serve`.
#[derive(Args)]
pub struct ServeCmd {
    /// The service's configuration (default: EXORUN_SERVE_CONFIG, then
    /// ~/.config/exorun/serve.toml, then /etc/exorun/serve.toml).
    #[arg(long, env = "EXORUN_SERVE_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Keep the state (the run queue, approvals, events) in this PostgreSQL database, shared
    /// by replicas, instead of serve.toml's `database` or SQLite in state_dir. Keep the
    /// password out of it (it would show in the process list): use serve.toml's
    /// `database_password_file`.
    #[arg(long, value_name = "postgres://USER@HOST:PORT/DATABASE")]
    database: Option<String>,
}

impl fmt::Debug for ServeCmd {
    /// The database URL may carry a password: it is shown checked and hidden, or not at all.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let database = self
            .database
            .as_deref()
            .map(|text| match text.parse::<DatabaseUrl>() {
                Ok(url) => url.to_string(),
                Err(_) => "(not a database URL)".to_string(),
            });
        f.debug_struct("ServeCmd")
            .field("config", &self.config)
            .field("database", &database)
            .finish()
    }
}

impl ServeCmd {
    /// Serves until SIGTERM or SIGINT.
    pub async fn run(self) -> anyhow::Result<ExitCode> {
        // Parsed here, not by clap: clap's error would quote the URL, password and all.
        let database = self
            .database
            .as_deref()
            .map(str::parse::<DatabaseUrl>)
            .transpose()
            .context("--database")?;
        crate::serve::serve(self.config, database).await?;
        Ok(ExitCode::SUCCESS)
    }
}
