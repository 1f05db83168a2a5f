//! The service's configuration file (`serve.toml`): where its credentials, policy, plugin store,
//! audit log and state are, and how callers reach it. Looked for at `--config`, then
//! `EXORUN_SERVE_CONFIG`, then `$XDG_CONFIG_HOME/exorun/serve.toml` (or
//! `~/.config/exorun/serve.toml`), then `/etc/exorun/serve.toml`. Relative paths in it are taken
//! relative to the file's directory.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use exorun::caller_token::TokenSettings;

use super::database::DatabaseUrl;
use super::schedule::{Schedule, ScheduleFile};

/// The file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServeFile {
    config: PathBuf,
    profile: Option<String>,
    policy: PathBuf,
    plugins: PathBuf,
    audit_log: PathBuf,
    audit_key: Option<PathBuf>,
    state_dir: PathBuf,
    runs_dir: Option<PathBuf>,
    workflows: Option<PathBuf>,
    database: Option<String>,
    database_password_file: Option<PathBuf>,
    socket: Option<PathBuf>,
    socket_mode: Option<String>,
    socket_group: Option<String>,
    workers: Option<usize>,
    max_body_kib: Option<usize>,
    request_timeout_secs: Option<u64>,
    lease_secs: Option<u64>,
    https: Option<HttpsFile>,
    entra: Option<TokenSettings>,
    #[serde(default)]
    schedule: Vec<ScheduleFile>,
}

/// The `[https]` table as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HttpsFile {
    listen: String,
    certificate: PathBuf,
    key: PathBuf,
}

/// Where and with which certificate the service listens for HTTPS callers.
#[derive(Clone, Debug)]
pub struct HttpsConfig {
    /// The address, e.g. `0.0.0.0:8443`.
    pub listen: std::net::SocketAddr,
    /// The server's certificate chain (PEM).
    pub certificate: PathBuf,
    /// Its private key (PEM), readable by the service only.
    pub key: PathBuf,
}

/// A checked service configuration, every path absolute.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    /// The file it was read from.
    pub origin: PathBuf,
    /// exorun's config file with the credential profiles runs use.
    pub config: PathBuf,
    /// The profile a run uses when its plugin's policy rule names none.
    pub profile: Option<String>,
    /// The operator's policy: plugin rules and caller rules.
    pub policy: PathBuf,
    /// The plugin store: a directory of artifacts (`.wasm`, signatures embedded or beside them
    /// as `.minisig`), vetted as `exorun run` vets them.
    pub plugins: PathBuf,
    /// The audit log.
    pub audit_log: PathBuf,
    /// The operator's audit key, if records carry a MAC.
    pub audit_key: Option<PathBuf>,
    /// The service's own files: its database and compiled plugins.
    pub state_dir: PathBuf,
    /// Where each run keeps its files (records, journals, checkpoints, report), one directory
    /// a run; `state_dir/runs` by default. Replicas sharing one PostgreSQL must share this
    /// directory too (NFS, a ReadWriteMany volume): a run a stopped replica left is taken up
    /// by another from its journal here.
    pub runs_dir: PathBuf,
    /// The workflow files the service may run (a directory of `.toml` files), if any.
    pub workflows: Option<PathBuf>,
    /// The PostgreSQL server holding the state (runs, events, approvals) when replicas share
    /// one queue; `None`: SQLite in `state_dir`. `--database` replaces it.
    pub database: Option<DatabaseUrl>,
    /// A file holding the database's password (its first line), kept out of this file.
    pub database_password_file: Option<PathBuf>,
    /// The Unix socket local callers connect to.
    pub socket: Option<PathBuf>,
    /// The socket's file mode (who may connect at all), e.g. 0660 with the socket's group.
    pub socket_mode: u32,
    /// The group the socket is given (the service must be a member): its members may connect.
    pub socket_group: Option<String>,
    /// Runs at once.
    pub workers: usize,
    /// The largest request body, in bytes.
    pub max_body: usize,
    /// The longest a request may take (not a run: runs are queued), in seconds.
    pub request_timeout_secs: u64,
    /// How long a worker's hold on a run lasts without renewal: a run whose service died is
    /// taken up again after this (renewed every third of it).
    pub lease: std::time::Duration,
    /// HTTPS for callers with Entra ID tokens, if configured.
    pub https: Option<HttpsConfig>,
    /// How callers' Entra ID tokens are validated (needed with `[https]`).
    pub entra: Option<TokenSettings>,
    /// The `[[schedule]]` tables: runs the service submits itself, as `schedule:NAME`.
    pub schedules: Vec<Schedule>,
}

/// Why the configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ServeConfigError {
    /// No file found.
    #[error(
        "no service configuration: pass --config FILE or set EXORUN_SERVE_CONFIG; looked in {looked}. `docs/serve.md` shows one to start from"
    )]
    NotFound {
        /// Where it was looked for.
        looked: String,
    },
    /// The file cannot be read.
    #[error("cannot read the service configuration {}: {reason}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// Not TOML or not the schema.
    #[error("{}: {reason}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message, with the line.
        reason: String,
    },
    /// A value is wrong.
    #[error("{}: {message}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What and how to fix it.
        message: String,
    },
}

/// Where the configuration is looked for when `--config` and `EXORUN_SERVE_CONFIG` are not
/// given.
pub fn default_paths() -> Vec<PathBuf> {
    let user = exorun::config::user_config_dir().map(|d| d.join("serve.toml"));
    user.into_iter()
        .chain(std::iter::once(PathBuf::from("/etc/exorun/serve.toml")))
        .collect()
}

impl ServeConfig {
    /// Finds and reads the configuration: `given` (from `--config` or the environment), else
    /// the first default path that exists.
    pub fn find(given: Option<&Path>) -> Result<ServeConfig, ServeConfigError> {
        match given {
            Some(path) => ServeConfig::load(path),
            None => {
                let defaults = default_paths();
                match defaults.iter().find(|p| p.exists()) {
                    Some(path) => ServeConfig::load(path),
                    None => Err(ServeConfigError::NotFound {
                        looked: defaults
                            .iter()
                            .map(|p| p.display().to_string())
                            .collect::<Vec<_>>()
                            .join(", "),
                    }),
                }
            }
        }
    }

    /// Reads and checks the file at `path`.
    pub fn load(path: &Path) -> Result<ServeConfig, ServeConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ServeConfigError::Read {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        let path = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        ServeConfig::parse(&text, &path)
    }

    /// Checks the text of the file at `path`.
    pub fn parse(text: &str, path: &Path) -> Result<ServeConfig, ServeConfigError> {
        let file: ServeFile = toml::from_str(text).map_err(|e| ServeConfigError::Parse {
            path: path.to_path_buf(),
            reason: e.to_string().trim_end().to_string(),
        })?;
        let invalid = |message: String| ServeConfigError::Invalid {
            path: path.to_path_buf(),
            message,
        };
        let base = path.parent().unwrap_or(Path::new("/"));
        let abs = |p: &PathBuf| {
            if p.is_relative() {
                base.join(p)
            } else {
                p.clone()
            }
        };
        let socket_mode = match &file.socket_mode {
            None => 0o660,
            Some(text) => u32::from_str_radix(text.trim_start_matches("0o"), 8)
                .ok()
                .filter(|m| *m <= 0o777)
                .ok_or_else(|| {
                    invalid(format!(
                        "socket_mode '{text}' is not a file mode: write it in octal as a string, e.g. \"0660\""
                    ))
                })?,
        };
        if socket_mode & 0o007 != 0 {
            return Err(invalid(format!(
                "socket_mode {socket_mode:04o} lets every local user connect: use 0660 and give the socket's group to the callers (rules still decide what each may do, but the socket should not be open to all)"
            )));
        }
        let lease_secs = file.lease_secs.unwrap_or(60);
        if !(3..=3600).contains(&lease_secs) {
            return Err(invalid(format!(
                "lease_secs = {lease_secs}: give 3 to 3600 (how long before a run whose service died is taken up again)"
            )));
        }
        let workers = file.workers.unwrap_or(4);
        if !(1..=256).contains(&workers) {
            return Err(invalid(format!("workers = {workers}: give 1 to 256")));
        }
        if file.socket.is_none() && file.https.is_none() {
            return Err(invalid(
                "callers cannot reach the service: name a Unix socket (socket = \"/run/exorun/exorun.sock\") or an [https] table, or both".into(),
            ));
        }
        let https = match &file.https {
            None => None,
            Some(h) => {
                if file.entra.is_none() {
                    return Err(invalid(
                        "[https] without [entra]: HTTPS callers are authenticated by Entra ID access tokens; add an [entra] table with the tenant and the service app's audience".into(),
                    ));
                }
                let listen = h.listen.parse().map_err(|_| {
                    invalid(format!(
                        "https.listen '{}' is not an address and port, e.g. \"0.0.0.0:8443\"",
                        h.listen
                    ))
                })?;
                Some(HttpsConfig {
                    listen,
                    certificate: abs(&h.certificate),
                    key: abs(&h.key),
                })
            }
        };
        let schedules =
            super::schedule::check_all(file.schedule).map_err(|e| invalid(e.to_string()))?;
        let database = file
            .database
            .as_deref()
            .map(str::parse::<DatabaseUrl>)
            .transpose()
            .map_err(|e| invalid(format!("database: {e}")))?;
        let entra = file.entra.map(|mut entra| {
            entra.ca_file = entra.ca_file.as_ref().map(abs);
            entra
        });
        Ok(ServeConfig {
            origin: path.to_path_buf(),
            config: abs(&file.config),
            profile: file.profile,
            policy: abs(&file.policy),
            plugins: abs(&file.plugins),
            audit_log: abs(&file.audit_log),
            audit_key: file.audit_key.as_ref().map(abs),
            state_dir: abs(&file.state_dir),
            runs_dir: file
                .runs_dir
                .as_ref()
                .map_or_else(|| abs(&file.state_dir).join("runs"), abs),
            workflows: file.workflows.as_ref().map(abs),
            database,
            database_password_file: file.database_password_file.as_ref().map(abs),
            socket: file.socket.as_ref().map(abs),
            socket_mode,
            socket_group: file.socket_group,
            workers,
            max_body: file.max_body_kib.unwrap_or(1024).saturating_mul(1024),
            request_timeout_secs: file.request_timeout_secs.unwrap_or(30),
            lease: std::time::Duration::from_secs(lease_secs),
            https,
            entra,
            schedules,
        })
    }
}

impl ServeConfig {
    /// The PostgreSQL server to keep the state in, its password read from
    /// `database_password_file` if one is named; `None`: SQLite in `state_dir`.
    pub fn database_url(&self) -> Result<Option<DatabaseUrl>, ServeConfigError> {
        let invalid = |message: String| ServeConfigError::Invalid {
            path: self.origin.clone(),
            message,
        };
        match (&self.database, &self.database_password_file) {
            (None, None) => Ok(None),
            (None, Some(_)) => Err(invalid(
                "database_password_file is set but no database is: name the PostgreSQL server (database = \"postgres://USER@HOST:PORT/DATABASE\" or --database), or remove the password file to keep the state in SQLite".into(),
            )),
            (Some(url), None) => Ok(Some(url.clone())),
            (Some(url), Some(file)) => url
                .clone()
                .with_password_file(file)
                .map(Some)
                .map_err(|e| invalid(e.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
config = "config.toml"
profile = "helpdesk"
policy = "policy.toml"
plugins = "plugins"
audit_log = "/var/log/exorun/audit.jsonl"
state_dir = "state"
socket = "/run/exorun/exorun.sock"
"#;

    #[test]
    fn relative_paths_are_the_files_neighbours() {
        let config = ServeConfig::parse(GOOD, Path::new("/etc/exorun/serve.toml")).unwrap();
        assert_eq!(config.policy, Path::new("/etc/exorun/policy.toml"));
        assert_eq!(config.state_dir, Path::new("/etc/exorun/state"));
        assert_eq!(config.runs_dir, Path::new("/etc/exorun/state/runs"));
        assert_eq!(config.audit_log, Path::new("/var/log/exorun/audit.jsonl"));
        assert_eq!(config.socket_mode, 0o660);
        assert_eq!(config.workers, 4);
    }

    #[test]
    fn mistakes_say_what_to_write() {
        let path = Path::new("/etc/exorun/serve.toml");
        let err = |text: String| ServeConfig::parse(&text, path).unwrap_err().to_string();
        assert!(
            err(format!("{GOOD}socket_mode = \"0666\"")).contains("lets every local user connect")
        );
        assert!(err(format!("{GOOD}socket_mode = \"rw\"")).contains("write it in octal"));
        assert!(err(format!("{GOOD}workers = 0")).contains("give 1 to 256"));
        assert!(err(format!("{GOOD}wokers = 2")).contains("unknown field `wokers`"));
        assert!(err(GOOD.replace("socket = ", "# ")).contains("callers cannot reach the service"));
        let https =
            "[https]\nlisten = \"127.0.0.1:8443\"\ncertificate = \"c.pem\"\nkey = \"k.pem\"\n";
        assert!(err(format!("{GOOD}{https}")).contains("[https] without [entra]"));
        let entra = "[entra]\ntenant = \"6d0c4f2e-0000-0000-0000-000000000001\"\naudience = \"api://exorun\"\n";
        assert!(
            err(format!(
                "{GOOD}{}{entra}",
                https.replace("127.0.0.1:8443", "localhost")
            ))
            .contains("is not an address and port")
        );
        let both = ServeConfig::parse(&format!("{GOOD}{https}{entra}"), path).unwrap();
        assert_eq!(
            both.https.unwrap().certificate,
            Path::new("/etc/exorun/c.pem")
        );
    }

    #[test]
    fn schedules_are_read_and_a_bad_one_names_the_file() {
        let path = Path::new("/etc/exorun/serve.toml");
        let nightly = "[[schedule]]\nname = \"nightly\"\ncron = \"0 2 * * *\"\ntime_zone = \"Europe/Berlin\"\nplugin = \"mailbox-inventory\"\n";
        let config = ServeConfig::parse(&format!("{GOOD}{nightly}"), path).unwrap();
        assert_eq!(config.schedules.len(), 1);
        assert_eq!(config.schedules[0].name, "nightly");
        assert!(ServeConfig::parse(GOOD, path).unwrap().schedules.is_empty());
        let err = ServeConfig::parse(&format!("{GOOD}{}", nightly.replace("0 2", "0 26")), path)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(
                "/etc/exorun/serve.toml: [[schedule]] 'nightly': cron = \"0 26 * * *\""
            ),
            "{err}"
        );
    }

    #[test]
    fn the_database_url_is_checked_and_its_password_comes_from_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("serve.toml");
        std::fs::write(dir.path().join("db-password"), "hunter2\n").unwrap();
        let config = ServeConfig::parse(&format!("{GOOD}database = \"postgres://exorun@db.internal/exorun\"\ndatabase_password_file = \"db-password\"\n"), &path).unwrap();
        let url = config.database_url().unwrap().unwrap();
        assert_eq!(url.to_string(), "postgres://exorun:***@db.internal/exorun");
        assert!(url.expose().contains(":hunter2@"));
        assert!(!format!("{config:?}{url:?}").contains("hunter2"));

        let sqlite = ServeConfig::parse(GOOD, &path).unwrap();
        assert!(sqlite.database_url().unwrap().is_none());
        let orphan = ServeConfig::parse(
            &format!("{GOOD}database_password_file = \"db-password\"\n"),
            &path,
        )
        .unwrap();
        let err = orphan.database_url().unwrap_err().to_string();
        assert!(
            err.contains("database_password_file is set but no database is"),
            "{err}"
        );
        let err = ServeConfig::parse(
            &format!("{GOOD}database = \"mysql://root:hunter2@db/exorun\"\n"),
            &path,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("database: the database URL's scheme is 'mysql'"),
            "{err}"
        );
        assert!(!err.contains("hunter2"), "{err}");
    }
}
