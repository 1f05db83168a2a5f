//! Signed plugins against the real `minisign` tool (Debian package `minisign`, installed by
//! scripts/prereqs.sh): keys and signatures minisign makes work in exorun, embedded or detached,
//! and exorun's work with minisign; several signers on one artifact; any changed byte is caught;
//! untrusted signers are named.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::support::artifact;

/// A scratch directory holding a copy of an unsigned plugin artifact.
struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new() -> Scratch {
        let scratch = Scratch {
            dir: tempfile::tempdir().unwrap(),
        };
        std::fs::copy(artifact("mailbox-inventory"), scratch.path("p.wasm")).unwrap();
        scratch
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `exorun ARGS` run in the scratch directory, without a terminal, logging everything (so
    /// the tests see that no log line holds a password either).
    fn exorun(&self, args: &[&str]) -> Outcome {
        let mut command = Command::new(env!("CARGO_BIN_EXE_exorun"));
        command
            .current_dir(self.dir.path())
            .env("RUST_LOG", "trace")
            .args(args);
        Outcome::of(command, None)
    }

    /// `minisign ARGS` run in the scratch directory, with `stdin` (passwords) fed in.
    fn minisign(&self, args: &[&str], stdin: Option<&str>) -> Outcome {
        let mut command = Command::new("minisign");
        command.current_dir(self.dir.path()).args(args);
        Outcome::of(command, stdin)
    }

    fn flip(&self, from: &str, to: &str, at: impl FnOnce(&[u8]) -> usize) {
        let mut bytes = std::fs::read(self.path(from)).unwrap();
        let i = at(&bytes);
        bytes[i] ^= 0x01;
        std::fs::write(self.path(to), bytes).unwrap();
    }

    /// The key id on the comment line of a minisign public key file.
    fn key_id(&self, public_key: &str) -> String {
        let text = std::fs::read_to_string(self.path(public_key)).unwrap();
        let first = text.lines().next().unwrap();
        first.rsplit(' ').next().unwrap().to_string()
    }

    fn base64_key(&self, public_key: &str) -> String {
        let text = std::fs::read_to_string(self.path(public_key)).unwrap();
        text.lines().nth(1).unwrap().to_string()
    }
}

/// What a command did.
struct Outcome {
    code: i32,
    out: String,
    err: String,
}

impl Outcome {
    fn of(mut command: Command, stdin: Option<&str>) -> Outcome {
        let mut child = command
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run {command:?} ({e}): install minisign with `bash scripts/prereqs.sh`"
                )
            });
        if let Some(text) = stdin {
            child
                .stdin
                .take()
                .unwrap()
                .write_all(text.as_bytes())
                .unwrap();
        }
        let Output {
            status,
            stdout,
            stderr,
        } = child.wait_with_output().unwrap();
        Outcome {
            code: status.code().unwrap_or(-1),
            out: String::from_utf8_lossy(&stdout).into_owned(),
            err: String::from_utf8_lossy(&stderr).into_owned(),
        }
    }

    #[track_caller]
    fn ok(self) -> Outcome {
        assert_eq!(self.code, 0, "stdout:\n{}\nstderr:\n{}", self.out, self.err);
        self
    }

    #[track_caller]
    fn fails_with(self, code: i32, message: &str) -> Outcome {
        assert_eq!(
            self.code, code,
            "stdout:\n{}\nstderr:\n{}",
            self.out, self.err
        );
        assert!(
            self.err.contains(message),
            "{message:?} not in\n{}",
            self.err
        );
        self
    }
}

fn find(bytes: &[u8], needle: &[u8]) -> usize {
    bytes
        .windows(needle.len())
        .position(|w| w == needle)
        .unwrap()
}

fn sha256(path: &Path) -> String {
    exorun::digest::sha256_hex(&std::fs::read(path).unwrap())
}

#[test]
fn a_minisign_signature_verifies_in_exorun_detached_and_embedded() {
    let s = Scratch::new();
    s.minisign(&["-G", "-W", "-p", "ann.pub", "-s", "ann.key"], None)
        .ok();
    let ann = s.key_id("ann.pub");
    s.minisign(
        &["-S", "-s", "ann.key", "-m", "p.wasm", "-t", "built by ann"],
        None,
    )
    .ok();

    let verified = s
        .exorun(&[
            "plugin",
            "verify",
            "p.wasm",
            "-p",
            "ann.pub",
            "-x",
            "p.wasm.minisig",
        ])
        .ok();
    assert!(
        verified
            .out
            .contains(&format!("{ann} (detached): built by ann")),
        "{}",
        verified.out
    );

    // Embedded: the .minisig goes into the artifact, and the artifact alone verifies.
    s.exorun(&[
        "plugin",
        "sign",
        "p.wasm",
        "--signature",
        "p.wasm.minisig",
        "--out",
        "signed.wasm",
    ])
    .ok();
    let verified = s
        .exorun(&["plugin", "verify", "signed.wasm", "-p", "ann.pub"])
        .ok();
    assert!(
        verified
            .out
            .contains(&format!("{ann} (embedded): built by ann")),
        "{}",
        verified.out
    );
    let shown = s.exorun(&["plugin", "inspect", "signed.wasm"]).ok();
    assert!(
        shown.out.contains(&format!(
            "  content:  {}  (sha256 without signatures",
            sha256(&s.path("p.wasm"))
        )),
        "{}",
        shown.out
    );
    assert!(
        shown.out.contains(&format!("    {ann}  built by ann")),
        "{}",
        shown.out
    );
    let json = s
        .exorun(&["plugin", "inspect", "--json", "signed.wasm"])
        .ok();
    let json: serde_json::Value = serde_json::from_str(&json.out).unwrap();
    assert_eq!(json["content_sha256"], sha256(&s.path("p.wasm")));
    assert_eq!(json["signatures"][0]["key_id"], ann);

    // minisign's legacy (non-prehashed) signatures are still checked.
    s.minisign(
        &[
            "-S",
            "-l",
            "-s",
            "ann.key",
            "-m",
            "p.wasm",
            "-x",
            "legacy.minisig",
        ],
        None,
    )
    .ok();
    s.exorun(&[
        "plugin",
        "verify",
        "p.wasm",
        "-p",
        "ann.pub",
        "-x",
        "legacy.minisig",
    ])
    .ok();
}

#[test]
fn a_password_protected_minisign_key_signs_with_exorun() {
    let s = Scratch::new();
    s.minisign(
        &["-G", "-p", "bob.pub", "-s", "bob.key"],
        Some("s3cret pw\ns3cret pw\n"),
    )
    .ok();
    std::fs::write(s.path("pw"), "s3cret pw\n").unwrap();
    std::fs::write(s.path("wrong"), "not it\n").unwrap();

    let signed = s
        .exorun(&[
            "plugin",
            "sign",
            "p.wasm",
            "-s",
            "bob.key",
            "--password-file",
            "pw",
            "-t",
            "reviewed by bob",
        ])
        .ok();
    assert!(!signed.out.contains("s3cret") && !signed.err.contains("s3cret"));
    s.exorun(&["plugin", "verify", "p.wasm", "-p", "bob.pub"])
        .ok();

    let wrong = s
        .exorun(&[
            "plugin",
            "sign",
            "p.wasm",
            "-s",
            "bob.key",
            "--password-file",
            "wrong",
        ])
        .fails_with(1, "wrong password for the secret key");
    assert!(!wrong.err.contains("not it") && !wrong.out.contains("not it"));
    s.exorun(&["plugin", "sign", "p.wasm", "-s", "bob.key"])
        .fails_with(2, "give --password-file FILE");
    s.exorun(&["plugin", "sign", "p.wasm", "-s", "bob.pub"])
        .fails_with(2, "it is a public key: give the .key file");
}

#[test]
fn exorun_keys_and_signatures_work_with_minisign() {
    let s = Scratch::new();
    s.exorun(&["plugin", "keygen", "--out-dir", "keys", "--no-password"])
        .ok();
    s.exorun(&[
        "plugin",
        "sign",
        "p.wasm",
        "-s",
        "keys/minisign.key",
        "--detached",
    ])
    .ok();
    s.minisign(&["-V", "-p", "keys/minisign.pub", "-m", "p.wasm"], None)
        .ok();
    let base64 = s.base64_key("keys/minisign.pub");
    let checked = s
        .minisign(&["-V", "-P", &base64, "-m", "p.wasm"], None)
        .ok();
    assert!(
        checked.out.contains("file:p.wasm\thashed"),
        "{}",
        checked.out
    );

    // A password-protected exorun key, used by minisign itself.
    std::fs::write(s.path("pw"), "correct horse\n").unwrap();
    s.exorun(&[
        "plugin",
        "keygen",
        "-p",
        "e.pub",
        "-s",
        "e.key",
        "--password-file",
        "pw",
    ])
    .ok();
    s.minisign(
        &["-S", "-s", "e.key", "-m", "p.wasm", "-x", "e.minisig"],
        Some("correct horse\n"),
    )
    .ok();
    s.exorun(&[
        "plugin",
        "verify",
        "p.wasm",
        "-p",
        "e.pub",
        "-x",
        "e.minisig",
    ])
    .ok();
}

#[test]
fn author_and_reviewer_signatures_both_verify_and_keep_the_content_digest() {
    let s = Scratch::new();
    let unsigned_digest = sha256(&s.path("p.wasm"));
    s.exorun(&[
        "plugin",
        "keygen",
        "-p",
        "ann.pub",
        "-s",
        "ann.key",
        "--no-password",
    ])
    .ok();
    s.minisign(&["-G", "-W", "-p", "bob.pub", "-s", "bob.key"], None)
        .ok();
    // The reviewer signs the unsigned build with minisign; the author signs with exorun.
    s.minisign(
        &["-S", "-s", "bob.key", "-m", "p.wasm", "-t", "reviewed"],
        None,
    )
    .ok();
    s.exorun(&["plugin", "sign", "p.wasm", "-s", "ann.key", "-t", "built"])
        .ok();
    s.exorun(&["plugin", "sign", "p.wasm", "--signature", "p.wasm.minisig"])
        .ok();
    std::fs::remove_file(s.path("p.wasm.minisig")).unwrap();

    let verified = s
        .exorun(&[
            "plugin", "verify", "p.wasm", "-p", "ann.pub", "-p", "bob.pub",
        ])
        .ok();
    assert!(
        verified.out.contains(&format!(
            "signed by every given key (content sha256 {unsigned_digest})"
        )),
        "{}",
        verified.out
    );
    assert!(
        verified
            .out
            .contains(&format!("{} (embedded): built", s.key_id("ann.pub")))
    );
    assert!(
        verified
            .out
            .contains(&format!("{} (embedded): reviewed", s.key_id("bob.pub")))
    );

    // The reviewer signs again with exorun and the minisign key: it replaces the first one.
    s.exorun(&[
        "plugin",
        "sign",
        "p.wasm",
        "-s",
        "bob.key",
        "-t",
        "re-reviewed",
    ])
    .ok();
    let shown = s.exorun(&["plugin", "inspect", "p.wasm"]).ok();
    assert_eq!(
        shown.out.matches(&s.key_id("bob.pub")).count(),
        1,
        "{}",
        shown.out
    );
    assert!(shown.out.contains("re-reviewed"), "{}", shown.out);
    s.exorun(&[
        "plugin", "verify", "p.wasm", "-p", "ann.pub", "-p", "bob.pub",
    ])
    .ok();
}

#[test]
fn a_byte_changed_in_the_component_or_the_manifest_or_appended_is_caught() {
    let s = Scratch::new();
    s.minisign(&["-G", "-W", "-p", "ann.pub", "-s", "ann.key"], None)
        .ok();
    let ann = s.key_id("ann.pub");
    s.exorun(&[
        "plugin",
        "sign",
        "p.wasm",
        "-s",
        "ann.key",
        "--out",
        "signed.wasm",
    ])
    .ok();
    s.exorun(&["plugin", "sign", "p.wasm", "-s", "ann.key", "--detached"])
        .ok();
    let bytes = std::fs::read(s.path("signed.wasm")).unwrap();
    let manifest_at = find(&bytes, b"exorun-manifest") + 40;
    s.flip("signed.wasm", "in-component.wasm", |b| b.len() / 3);
    s.flip("signed.wasm", "in-manifest.wasm", |_| manifest_at);
    let mut appended = bytes.clone();
    appended.push(0);
    std::fs::write(s.path("appended.wasm"), appended).unwrap();

    let modified = format!("the artifact was modified after it was signed by key {ann}");
    for changed in ["in-component.wasm", "in-manifest.wasm", "appended.wasm"] {
        s.exorun(&["plugin", "verify", changed, "-p", "ann.pub"])
            .fails_with(1, &modified);
    }
    // The detached signature of the unsigned file, against a changed copy of it.
    s.flip("p.wasm", "changed.wasm", |b| b.len() / 2);
    s.exorun(&[
        "plugin",
        "verify",
        "changed.wasm",
        "-p",
        "ann.pub",
        "-x",
        "p.wasm.minisig",
    ])
    .fails_with(1, &modified);
    s.minisign(
        &[
            "-V",
            "-p",
            "ann.pub",
            "-m",
            "changed.wasm",
            "-x",
            "p.wasm.minisig",
        ],
        None,
    )
    .fails_with(1, "Signature verification failed");
}

#[test]
fn a_signature_by_an_untrusted_key_is_named() {
    let s = Scratch::new();
    for name in ["ann", "eve"] {
        s.minisign(
            &[
                "-G",
                "-W",
                "-p",
                &format!("{name}.pub"),
                "-s",
                &format!("{name}.key"),
            ],
            None,
        )
        .ok();
    }
    let (ann, eve) = (s.key_id("ann.pub"), s.key_id("eve.pub"));
    s.exorun(&["plugin", "sign", "p.wasm", "-s", "eve.key"])
        .ok();
    s.exorun(&["plugin", "verify", "p.wasm", "-p", "ann.pub"])
        .fails_with(
            1,
            &format!("signed by key {eve}, but the trusted key is {ann}"),
        );
    s.exorun(&["plugin", "sign", "p.wasm", "-s", "ann.key"])
        .ok();
    let verified = s
        .exorun(&["plugin", "verify", "p.wasm", "-p", "ann.pub"])
        .ok();
    assert!(
        verified.out.contains(&format!(
            "note: also signed by key {eve} (embedded), not one of the given keys, so not checked"
        )),
        "{}",
        verified.out
    );
}

#[test]
fn arguments_that_name_nothing_usable_exit_2() {
    let s = Scratch::new();
    s.exorun(&["plugin", "verify", "p.wasm"])
        .fails_with(2, "required arguments were not provided");
    s.exorun(&["plugin", "verify", "p.wasm", "-p", "missing.pub"])
        .fails_with(2, "cannot read missing.pub");
    s.exorun(&["plugin", "verify", "p.wasm", "-P", "RWQ"])
        .fails_with(2, "this is not a minisign public key");
    s.exorun(&["plugin", "sign", "p.wasm"])
        .fails_with(2, "required arguments were not provided");
    s.exorun(&["plugin", "keygen", "--out-dir", "k"])
        .fails_with(2, "give --password-file FILE, or --no-password");
    assert!(!s.path("k/minisign.key").exists());
}
