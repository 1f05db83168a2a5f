//! A PostgreSQL server of the test's own: Debian's server binaries
//! (`/usr/lib/postgresql/<version>/bin`, installed by `scripts/prereqs.sh`) with a new cluster in
//! a temporary directory, listening on 127.0.0.1 on a free port (its socket in that directory
//! too), password authentication, one database. `initdb` refuses to run as root, so as root the
//! server runs as `nobody` (through `setpriv`, which execs it: the child is the server itself).
//! Dropped, the server is stopped and waited for. Also compiled into the service's unit tests
//! (`host/src/serve/state.rs`).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The database and role the tests use.
const NAME: &str = "exorun";

/// A running PostgreSQL server with one database.
pub struct Postgres {
    child: Child,
    bin: PathBuf,
    port: u16,
    password: String,
    dir: tempfile::TempDir,
}

/// The directory of the newest PostgreSQL server installed, or a failure saying what to do.
fn binaries() -> PathBuf {
    let root = Path::new("/usr/lib/postgresql");
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    versions.sort();
    match versions.pop() {
        Some((_, bin)) => bin,
        None => panic!(
            "PostgreSQL's server is not installed (no {}/<version>/bin/initdb): run `bash scripts/prereqs.sh`, which installs Debian's postgresql package",
            root.display()
        ),
    }
}

/// Runs `program` as the server's user: `nobody` when we are root, else ourselves.
fn as_server_user(program: PathBuf) -> Command {
    if nix::unistd::geteuid().is_root() {
        let nobody = nix::unistd::User::from_name("nobody")
            .unwrap()
            .expect("no user 'nobody' to run PostgreSQL as (initdb refuses root)");
        let mut command = Command::new("setpriv");
        command
            .arg(format!("--reuid={}", nobody.uid))
            .arg(format!("--regid={}", nobody.gid))
            .arg("--clear-groups")
            .arg(program);
        command
    } else {
        Command::new(program)
    }
}

/// Gives `path` to `nobody` when we are root (the server runs as it).
fn hand_over(path: &Path) {
    if nix::unistd::geteuid().is_root() {
        let nobody = nix::unistd::User::from_name("nobody").unwrap().unwrap();
        std::os::unix::fs::chown(path, Some(nobody.uid.as_raw()), Some(nobody.gid.as_raw()))
            .unwrap();
    }
}

impl Postgres {
    /// Makes a cluster, starts its server and creates the database; waits until it answers.
    pub fn start() -> Postgres {
        let bin = binaries();
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(
            dir.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        let cluster = dir.path().join("cluster");
        std::fs::create_dir(&cluster).unwrap();
        hand_over(&cluster);
        let password = format!("pw-{}", uuid::Uuid::new_v4().simple());
        let password_file = dir.path().join("initdb-password");
        std::fs::write(&password_file, &password).unwrap();
        hand_over(&password_file);
        let data = cluster.join("data");
        let out = as_server_user(bin.join("initdb"))
            .arg("-D")
            .arg(&data)
            .args([
                "-U",
                NAME,
                "--auth=scram-sha-256",
                "-E",
                "UTF8",
                "--no-sync",
            ])
            .arg(format!("--pwfile={}", password_file.display()))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "initdb failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::remove_file(&password_file).unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = dir.path().join("postgres.log");
        let child = as_server_user(bin.join("postgres"))
            .arg("-D")
            .arg(&data)
            .arg("-k")
            .arg(&cluster)
            .args(["-c", "listen_addresses=127.0.0.1", "-p", &port.to_string()])
            .args(["-c", "fsync=off", "-c", "synchronous_commit=off"])
            .args(["-c", "full_page_writes=off", "-c", "max_connections=200"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let mut server = Postgres {
            child,
            bin: bin.clone(),
            port,
            password,
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = Command::new(bin.join("pg_isready"))
                .args(["-q", "-h", "127.0.0.1", "-p", &port.to_string()])
                .status()
                .unwrap();
            if ready.success() {
                break;
            }
            if let Some(status) = server.child.try_wait().unwrap() {
                panic!("PostgreSQL stopped ({status}): {}", server.log());
            }
            assert!(
                Instant::now() < deadline,
                "PostgreSQL did not start: {}",
                server.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let out = Command::new(bin.join("createdb"))
            .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-U", NAME, NAME])
            .env("PGPASSWORD", &server.password)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "createdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        server
    }

    /// The database's URL, password included.
    pub fn url(&self) -> String {
        format!(
            "postgres://{NAME}:{}@127.0.0.1:{}/{NAME}",
            self.password, self.port
        )
    }

    /// The database's URL without the password (give it from a file).
    pub fn url_without_password(&self) -> String {
        format!("postgres://{NAME}@127.0.0.1:{}/{NAME}", self.port)
    }

    /// The role's password.
    pub fn password(&self) -> &str {
        &self.password
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The rows `sql` gives, one a line, columns split by `|` (through `psql`).
    pub fn query(&self, sql: &str) -> String {
        let out = Command::new(self.bin.join("psql"))
            .args(["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1"])
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                NAME,
                NAME,
            ])
            .args(["-c", sql])
            .env("PGPASSWORD", &self.password)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .unwrap()
            .trim_end()
            .to_string()
    }

    /// The server's log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("postgres.log")).unwrap_or_default()
    }
}

impl Drop for Postgres {
    /// Stops the server (a fast shutdown: its sessions are ended) and waits for it.
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
