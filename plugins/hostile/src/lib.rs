//! `hostile`: a plugin that attacks its sandbox, for exorun's tests only. Never install it.
//!
//! The input `{"attempt": "<name>"}` picks one attack. Where the plugin survives it, the summary
//! says how it went: `{"attempt": ..., "outcome": "blocked" | "escaped" | "done", "detail": ...}`.
//! `loop`, `memory` and `panic` are meant to be stopped by the host instead; `bad-summary`
//! returns a summary whose standard `failed` field is not a count, which the host must not take
//! for a success.
//!
//! The parameter attacks (`case-twin`, `alias-twin`, `prefix-twin`, `unicode-twin`,
//! `type-mismatch`) call `Set-MailboxAutoReplyConfiguration` on `target` while naming `other`
//! (or a second value) under another spelling of a parameter; `spelling` names the parameters
//! in lowercase and by prefix, once each, which the host must send in their catalogue spelling.

use std::hint::black_box;
use std::io::Read;

use exorun_plugin::{CmdletError, Parameters};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Which attack to run.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Input {
    attempt: String,
    /// The mailbox a parameter attack names first (one the policy's scope allows).
    target: Option<String>,
    /// The mailbox it names under a second spelling (one the scope forbids).
    other: Option<String>,
}

/// How the attack went.
#[derive(Serialize)]
struct Summary {
    attempt: String,
    /// `blocked` (the sandbox held), `escaped` (it did not) or `done` (nothing to judge here).
    outcome: &'static str,
    detail: String,
    /// Set by `bad-summary` only: not the count the contract's `failed` must be.
    #[serde(skip_serializing_if = "Option::is_none")]
    failed: Option<&'static str>,
}

const ATTEMPTS: &str = "env, file, socket, loop, memory, undeclared, undeclared-parameter, panic, stdout, bad-summary, case-twin, alias-twin, prefix-twin, unicode-twin, type-mismatch, spelling";

/// The changing cmdlet the parameter attacks call.
const AUTO_REPLY: &str = "Set-MailboxAutoReplyConfiguration";

/// Reads the process environment: a sandboxed plugin has none.
fn env() -> (bool, String) {
    let names: Vec<String> = std::env::vars_os()
        .map(|(k, _)| k.to_string_lossy().into_owned())
        .collect();
    let args = std::env::args_os().count();
    (
        names.is_empty(),
        format!(
            "{} environment variables {names:?}, {args} arguments",
            names.len()
        ),
    )
}

/// How an I/O attempt ended, for the summary.
fn said<T: std::fmt::Debug>(result: &std::io::Result<T>) -> String {
    match result {
        Ok(value) => format!("succeeded ({value:?})"),
        Err(e) => format!("failed ({e})"),
    }
}

/// Reads /etc/passwd and lists /: both must fail.
fn file() -> (bool, String) {
    let passwd = std::fs::File::open("/etc/passwd").and_then(|mut f| {
        let mut text = String::new();
        f.read_to_string(&mut text).map(|_| text.len())
    });
    let root = std::fs::read_dir("/").map(|d| d.count());
    let detail = format!(
        "open /etc/passwd {}; read_dir / {}",
        said(&passwd),
        said(&root)
    );
    (passwd.is_err() && root.is_err(), detail)
}

/// Connects to a local port and resolves a name: both must fail.
fn socket() -> (bool, String) {
    let tcp = std::net::TcpStream::connect("127.0.0.1:443").map(|s| s.peer_addr().ok());
    let dns = std::net::ToSocketAddrs::to_socket_addrs(&("outlook.office365.com", 443))
        .map(|a| a.count());
    let detail = format!(
        "connect 127.0.0.1:443 {}; resolve outlook.office365.com {}",
        said(&tcp),
        said(&dns)
    );
    (tcp.is_err() && dns.is_err(), detail)
}

/// Spins forever; the host must stop it.
fn spin() -> ! {
    let mut n: u64 = 0;
    loop {
        n = black_box(n.wrapping_add(1));
    }
}

/// Allocates up to 4 GiB in 64 MiB chunks, writing every page; the host must stop it, or an
/// allocation fails.
fn memory() -> (bool, String) {
    const CHUNK: usize = 64 << 20;
    let mut held: Vec<Vec<u8>> = Vec::new();
    for _ in 0..64 {
        let mut chunk = Vec::new();
        if let Err(e) = chunk.try_reserve_exact(CHUNK) {
            return (
                true,
                format!("allocation failed after {} MiB: {e}", held.len() * 64),
            );
        }
        chunk.resize(CHUNK, 1u8);
        held.push(black_box(chunk));
    }
    (
        false,
        format!("allocated and touched {} MiB", held.len() * 64),
    )
}

/// A call the manifest does not allow must come back `denied`.
fn refused(result: Result<Vec<serde_json::Value>, CmdletError>) -> (bool, String) {
    match result {
        Err(e) => (e.is_denied(), e.to_string()),
        Ok(rows) => (
            false,
            format!("the call ran and returned {} objects", rows.len()),
        ),
    }
}

/// The parameters of one parameter attack on `target`, naming `other` too where it can.
fn twin_parameters(attempt: &str, target: &str, other: &str) -> Option<Value> {
    Some(match attempt {
        "case-twin" => json!({"Identity": target, "identity": other, "AutoReplyState": "Enabled"}),
        "alias-twin" => {
            json!({"Identity": target, "AutoReplyState": "Enabled", "Confirm": false, "cf": true})
        }
        "prefix-twin" => json!({"Identity": target, "Ident": other, "AutoReplyState": "Enabled"}),
        "unicode-twin" => {
            json!({"Identity": target, "Identıty": other, "AutoReplyState": "Enabled"})
        }
        "type-mismatch" => json!({
            "Identity": target,
            "Identity@odata.type": "#Collection(Exchange.GenericHashTable)",
            "AutoReplyState": "Enabled"
        }),
        _ => return None,
    })
}

fn run(input: Input) -> Result<Summary, String> {
    let target = input.target.as_deref().unwrap_or("ann@contoso.com");
    let other = input.other.as_deref().unwrap_or("room1@contoso.com");
    if input.attempt == "spelling" {
        let params = json!({"ident": target, "autoreplystate": "Enabled"});
        let detail = match exorun_plugin::invoke::<Value>(AUTO_REPLY, params) {
            Ok(rows) => format!("sent; {} objects back", rows.len()),
            Err(e) => format!("refused: {e}"),
        };
        return Ok(Summary {
            attempt: input.attempt,
            outcome: "done",
            detail,
            failed: None,
        });
    }
    if let Some(params) = twin_parameters(&input.attempt, target, other) {
        let (held, detail) = refused(exorun_plugin::invoke(AUTO_REPLY, params));
        return Ok(Summary {
            attempt: input.attempt,
            outcome: if held { "blocked" } else { "escaped" },
            detail,
            failed: None,
        });
    }
    let (held, detail) = match input.attempt.as_str() {
        "env" => env(),
        "file" => file(),
        "socket" => socket(),
        "loop" => spin(),
        "memory" => memory(),
        "undeclared" => {
            let params = Parameters::new()
                .with("Identity", "ann@contoso.com")
                .with("HiddenFromAddressListsEnabled", true);
            refused(exorun_plugin::invoke("Set-Mailbox", params))
        }
        "undeclared-parameter" => {
            let params = Parameters::new()
                .with("ResultSize", 1)
                .with("Filter", "Name -like '*'");
            refused(exorun_plugin::invoke("Get-Mailbox", params))
        }
        "panic" => panic!("hostile plugin panicked on purpose"),
        "stdout" => {
            println!("hostile plugin writing to stdout");
            eprintln!("hostile plugin writing to stderr");
            return Ok(Summary {
                attempt: input.attempt,
                outcome: "done",
                detail: "wrote one line to stdout and one to stderr".into(),
                failed: None,
            });
        }
        "bad-summary" => {
            return Ok(Summary {
                attempt: input.attempt,
                outcome: "done",
                detail: "says \"failed\": \"some\" instead of a count".into(),
                failed: Some("some"),
            });
        }
        other => return Err(format!("unknown attempt '{other}': one of {ATTEMPTS}")),
    };
    let outcome = if held { "blocked" } else { "escaped" };
    Ok(Summary {
        attempt: input.attempt,
        outcome,
        detail,
        failed: None,
    })
}

exorun_plugin::export_plugin!(run);
