//! Headless Chromium for tests (Debian package `chromium`, installed by scripts/prereqs.sh):
//! opens a local page with a fresh profile behind a proxy that refuses everything, bounded by a
//! timeout, and hands back what it printed with its verbose log and its network log, to check
//! that the page loaded nothing.
//!
//! The browser itself asks a few Google services things as it starts (component updates, the
//! network time, accounts), whatever the page; the network log tells those (no initiating
//! origin) from requests made for a page (initiated by the page's `file://` origin).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long one Chromium run may take before it is killed (a cold start on a loaded CI
/// machine takes a few seconds).
const BROWSER_TIMEOUT: Duration = Duration::from_secs(120);

/// The Chromium on this machine.
pub struct Browser {
    binary: PathBuf,
}

/// What to make of the page.
pub enum Action<'a> {
    /// Print its DOM once loaded.
    DumpDom,
    /// Save a screenshot of it here, the window this size.
    Screenshot(&'a Path, (u32, u32)),
}

/// What one Chromium run printed and logged.
pub struct Visit {
    /// What it printed: the DOM, for [`Action::DumpDom`].
    pub stdout: String,
    /// Its verbose log.
    pub stderr: String,
    /// The network log (`--log-net-log`).
    netlog: Value,
}

impl Browser {
    /// Finds `chromium` on the PATH, or fails saying how to install it.
    pub fn find() -> Browser {
        let binary = std::env::var_os("PATH")
            .into_iter()
            .flat_map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
            .map(|dir| dir.join("chromium"))
            .find(|candidate| candidate.is_file())
            .unwrap_or_else(|| {
                panic!(
                    "Chromium is not installed (no `chromium` on the PATH), and the report \
                     tests open the report in it: run `bash scripts/prereqs.sh` (it installs the \
                     Debian package `chromium`)"
                )
            });
        Browser { binary }
    }

    /// Opens `page` headless, with a fresh profile, behind a proxy that refuses everything,
    /// and waits for it to finish (killing it past [`BROWSER_TIMEOUT`]).
    pub fn open(&self, page: &Path, action: Action<'_>) -> Visit {
        let scratch = tempfile::tempdir().unwrap();
        let profile = scratch.path().join("profile");
        let netlog = scratch.path().join("netlog.json");
        let (stdout, stderr) = (scratch.path().join("stdout"), scratch.path().join("stderr"));
        let mut command = Command::new(&self.binary);
        command
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-default-apps",
                "--disable-extensions",
                "--hide-scrollbars",
                "--proxy-server=127.0.0.1:9",
                "--host-resolver-rules=MAP * ~NOTFOUND",
                "--enable-logging=stderr",
                "--v=1",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg(format!("--log-net-log={}", netlog.display()))
            // The browser's own files (the NSS database, caches) go to the scratch directory.
            .env("HOME", scratch.path())
            .env("XDG_CONFIG_HOME", scratch.path())
            .env("XDG_CACHE_HOME", scratch.path())
            .stdin(Stdio::null())
            .stdout(File::create(&stdout).unwrap())
            .stderr(File::create(&stderr).unwrap());
        match action {
            Action::DumpDom => {
                command.arg("--dump-dom");
            }
            Action::Screenshot(shot, (width, height)) => {
                command
                    .arg(format!("--screenshot={}", shot.display()))
                    .arg(format!("--window-size={width},{height}"));
            }
        }
        command.arg(format!("file://{}", page.display()));
        // Its own process group, so that on a timeout its helpers are ended with it.
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let mut child = command.spawn().unwrap();
        let started = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break Some(status);
            }
            if started.elapsed() > BROWSER_TIMEOUT {
                // Ends the browser and its helpers by their group's id (the group leader is
                // not reaped yet, so the id is still theirs).
                let _ = Command::new("kill")
                    .args(["-KILL", "--", &format!("-{}", child.id())])
                    .status();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let stderr = std::fs::read_to_string(&stderr).unwrap_or_default();
        let status = status.unwrap_or_else(|| {
            panic!(
                "Chromium did not finish within {BROWSER_TIMEOUT:?}; its log ends:\n{}",
                tail(&stderr)
            )
        });
        assert!(
            status.success(),
            "Chromium failed ({status}):\n{}",
            tail(&stderr)
        );
        let netlog_text = std::fs::read_to_string(&netlog).unwrap_or_default();
        // A log the browser did not get to close lacks its last "]}": read it all the same.
        let closed = format!("{}]}}", netlog_text.trim_end().trim_end_matches(','));
        let netlog = serde_json::from_str(&netlog_text)
            .or_else(|_| serde_json::from_str(&closed))
            .unwrap_or_else(|e| {
                panic!(
                    "Chromium's network log is not JSON ({e}); its log ends:\n{}",
                    tail(&stderr)
                )
            });
        Visit {
            stdout: std::fs::read_to_string(&stdout).unwrap(),
            stderr,
            netlog,
        }
    }
}

impl Visit {
    /// Asserts the page loaded nothing: no request made for it, no console message (a
    /// blocked or failed load is one), no CSP violation, and no URL requested that is not
    /// one of the browser's own.
    pub fn assert_loaded_nothing(&self) {
        let requests = self.page_requests();
        assert!(requests.is_empty(), "the page made requests: {requests:?}");
        let violations = self.csp_violations();
        assert!(violations.is_empty(), "CSP violations: {violations:#?}");
        let console: Vec<&str> = self
            .stderr
            .lines()
            .filter(|l| l.contains(":CONSOLE"))
            .collect();
        assert!(console.is_empty(), "the page's console: {console:#?}");
        let own = self.browser_requests();
        let others: Vec<&str> = self
            .stderr
            .lines()
            .filter_map(|l| {
                l.split_once("NotifyBeforeURLRequest: ")
                    .map(|(_, url)| url.trim())
            })
            .filter(|url| !own.iter().any(|o| o == url))
            .collect();
        assert!(
            others.is_empty(),
            "requests not the browser's own: {others:#?}"
        );
    }

    /// Lines of the log that report a Content-Security-Policy violation.
    pub fn csp_violations(&self) -> Vec<&str> {
        self.stderr
            .lines()
            .filter(|l| {
                l.contains("Content Security Policy") || l.contains("Content-Security-Policy")
            })
            .collect()
    }

    /// The URLs requested for the page (initiated by a web origin, here `file://`).
    pub fn page_requests(&self) -> Vec<String> {
        self.requests(false)
    }

    /// The URLs the browser requested for itself (no initiating origin).
    fn browser_requests(&self) -> Vec<String> {
        self.requests(true)
    }

    /// The URLs of the network log's requests, the browser's own or the others.
    fn requests(&self, browser_own: bool) -> Vec<String> {
        let start_job = self.netlog["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"].clone();
        assert!(
            start_job.is_number(),
            "the network log has no request event type"
        );
        let Some(events) = self.netlog["events"].as_array() else {
            panic!("the network log has no events");
        };
        // A request's start is logged twice: its begin event has the URL, its end the result.
        events
            .iter()
            .filter(|e| e["type"] == start_job)
            .filter_map(|e| {
                let params = &e["params"];
                let url = params["url"].as_str()?;
                let own = params["initiator"] == "not an origin"
                    && !params["network_isolation_key"]
                        .as_str()
                        .is_some_and(|k| k.contains("file:"));
                (own == browser_own).then(|| url.to_string())
            })
            .collect()
    }
}

/// The last lines of a log, for a failure's message.
fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}
