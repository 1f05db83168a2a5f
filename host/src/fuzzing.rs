//! The fuzz targets' bodies: each takes arbitrary bytes, feeds them to one parser or check of
//! exorun, and asserts what must hold whatever the bytes are. A panic is a finding.
//!
//! `fuzz/` (cargo-fuzz, its own workspace) calls these under coverage-guided fuzzing
//! (`scripts/fuzz.sh`); the tests below replay every input committed under `fuzz/corpus/` in
//! the normal test build, so a finding fixed once stays fixed without building the fuzzer.
//! Compiled only for tests and with the `fuzzing` feature.

use std::path::Path;
use std::sync::OnceLock;

use serde_json::{Map, Value, json};

use crate::audit::verify::check_log;
use crate::exchange::reply::{Outcome, Reply};
use crate::exchange::{binding, value_syntax};
use crate::plugin::artifact::{Layout, component_layout, read_manifest};
use crate::plugin::manifest::Manifest;
use crate::policy::gate::{check, repeated_name};
use crate::policy::scope::Scope;
use crate::policy::{Candidate, Policy, grant::Grant};
use crate::secret::Secret;
use crate::signing::{Placement, PublicKey, SecretKeyFile, Signature, embedded_signatures};
use crate::workflow::journal::{Entry, ItemId, ItemOutcome, JOURNAL_FILE, Journal, JournalState};
use crate::workflow::opath;
use crate::workflow::template::{Condition, Template};
use crate::workflow::{Workflow, expr};

/// A fuzz target's body: arbitrary bytes in, a panic on a finding.
pub type Target = fn(&[u8]);

/// Every target, by the name `fuzz/fuzz_targets/` and `fuzz/corpus/` use.
pub const TARGETS: [(&str, Target); 12] = [
    ("gate", gate),
    ("scope", scope),
    ("opath", opath),
    ("value_syntax", value_syntax),
    ("policy", policy),
    ("workflow", workflow),
    ("manifest", manifest),
    ("minisign", minisign),
    ("artifact", artifact),
    ("audit_verify", audit_verify),
    ("journal", journal),
    ("reply", reply),
];

/// The input as text (lossy), for parsers of text: invalid UTF-8 is the file reader's
/// business, tested apart.
fn text(data: &[u8]) -> String {
    String::from_utf8_lossy(data).into_owned()
}

/// The input cut at its first newline: (first line, rest).
fn split_line(data: &[u8]) -> (String, String) {
    let text = text(data);
    match text.split_once('\n') {
        Some((first, rest)) => (first.to_string(), rest.to_string()),
        None => (text, String::new()),
    }
}

/// The plugin the gate target's calls come from: a changing cmdlet with each kind of
/// constraint, a read with a bound, a list parameter changed by hashtable, and a cmdlet the
/// catalogue lacks.
const GATE_MANIFEST: &str = r#"
name = "fuzzed"
version = "0.1.0"
description = "Every kind of parameter the gate checks"
mutates = true
[[cmdlet]]
name = "Set-MailboxAutoReplyConfiguration"
parameters = ["Identity", "AutoReplyState", "InternalMessage", "StartTime"]
[[cmdlet]]
name = "Get-Mailbox"
parameters = ["Identity", "ResultSize", "Filter", "RecipientTypeDetails"]
[[cmdlet]]
name = "Set-Mailbox"
parameters = ["Identity", "EmailAddresses", "HiddenFromAddressListsEnabled"]
[[cmdlet]]
name = "Add-MailboxPermission"
parameters = ["Identity", "User", "AccessRights", "AutoMapping"]
[[cmdlet]]
name = "Set-ContosoWidget"
parameters = ["Name", "Colour"]
"#;

/// The operator's rule for [`GATE_MANIFEST`]: the oracle in [`gate`] restates these
/// constraints independently of the gate.
const GATE_POLICY: &str = r#"
[[plugin]]
name = "fuzzed"
digest = "3f2a0c5b9e1d4f6a8b7c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a"
max_mutations = 1000000

[[plugin.cmdlet]]
name = "Set-MailboxAutoReplyConfiguration"
[plugin.cmdlet.parameters]
Identity = { glob = "*@contoso.com", required = true }
AutoReplyState = { values = ["Enabled", "Disabled"] }
InternalMessage = {}
StartTime = {}

[[plugin.cmdlet]]
name = "Get-Mailbox"
parameters = { Identity = {}, ResultSize = { max = 1000 }, Filter = {}, RecipientTypeDetails = { values = ["UserMailbox", "SharedMailbox"] } }

[[plugin.cmdlet]]
name = "Set-Mailbox"
[plugin.cmdlet.parameters]
Identity = { glob = "*@contoso.com", required = true }
EmailAddresses = { glob = "smtp:*@contoso.com" }
HiddenFromAddressListsEnabled = {}

[[plugin.cmdlet]]
name = "Add-MailboxPermission"
[plugin.cmdlet.parameters]
Identity = { regex = "[a-z]+@contoso\\.com", required = true }
User = { glob = "*@contoso.com" }
AccessRights = { values = ["FullAccess"] }
AutoMapping = {}

[[plugin.cmdlet]]
name = "Set-ContosoWidget"
parameters = { Name = { values = ["alpha", "beta"] }, Colour = {} }
"#;

/// The grant the gate target checks against, built once.
fn gate_grant() -> &'static Grant {
    static GRANT: OnceLock<Grant> = OnceLock::new();
    GRANT.get_or_init(|| {
        let manifest = Manifest::parse(GATE_MANIFEST).expect("the gate target's manifest");
        let policy = Policy::parse(GATE_POLICY, "fuzz-policy.toml").expect("its policy");
        policy
            .admit(Candidate {
                manifest: &manifest,
                digest: "3f2a0c5b9e1d4f6a8b7c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a",
                signers: &[],
                file: None,
            })
            .expect("the policy admits the gate target's plugin")
    })
}

/// What the gate would send for this call, or `None` when it refuses it: the same steps as
/// [`crate::policy::gate::Gate::admit`] takes before it reads any target.
fn decide(grant: &Grant, cmdlet: &str, parameters: &str) -> Option<Map<String, Value>> {
    let Ok(Value::Object(given)) = serde_json::from_str::<Value>(parameters) else {
        return None;
    };
    if repeated_name(parameters).is_some() {
        return None;
    }
    check(grant, 0, cmdlet, &given)
        .ok()
        .map(|(_, call)| call.to_parameters())
}

/// Every text a value holds: itself, a list's items, a hashtable's added and removed items.
fn texts(value: &Value) -> Vec<&str> {
    match value {
        Value::String(text) => vec![text],
        Value::Array(items) => items.iter().flat_map(texts).collect(),
        Value::Object(changes) => changes
            .iter()
            .filter(|(key, _)| !key.starts_with('@'))
            .flat_map(|(_, v)| texts(v))
            .collect(),
        _ => Vec::new(),
    }
}

/// The gate's parameter check. Input: a cmdlet name, a newline, the plugin's parameters as
/// JSON text. Properties: what would be sent names each parameter once, by a plain name,
/// meets the operator's constraints (restated here, not taken from the gate), and is a fixed
/// point — checked again, it is admitted and sent unchanged.
pub fn gate(data: &[u8]) {
    let (cmdlet, parameters) = split_line(data);
    let grant = gate_grant();
    let Some(sent) = decide(grant, &cmdlet, &parameters) else {
        return;
    };
    let lowered: std::collections::HashSet<String> =
        sent.keys().map(|k| k.to_ascii_lowercase()).collect();
    assert_eq!(lowered.len(), sent.len(), "a name sent twice: {sent:?}");
    for name in sent.keys() {
        let plain = name
            .split_once("@odata.type")
            .map_or(name.as_str(), |(n, _)| n);
        assert!(
            !plain.is_empty() && plain.chars().all(|c| c.is_ascii_alphanumeric()),
            "an odd name sent: {name:?}"
        );
    }
    let field = |name: &str| sent.get(name).map(texts).unwrap_or_default();
    let lower = cmdlet.to_ascii_lowercase();
    let ends_in_contoso =
        |t: &str| t.to_lowercase().ends_with("@contoso.com") && !t.chars().any(char::is_control);
    match lower.as_str() {
        "set-mailboxautoreplyconfiguration" | "set-mailbox" => {
            assert!(
                sent.contains_key("Identity"),
                "sent without -Identity: {sent:?}"
            );
            assert!(
                field("Identity").into_iter().all(ends_in_contoso),
                "{sent:?}"
            );
            assert!(
                field("AutoReplyState").iter().all(
                    |s| s.eq_ignore_ascii_case("enabled") || s.eq_ignore_ascii_case("disabled")
                ),
                "{sent:?}"
            );
            for address in field("EmailAddresses") {
                let lowered = address.to_lowercase();
                assert!(
                    lowered.starts_with("smtp:") && ends_in_contoso(address),
                    "{sent:?}"
                );
            }
        }
        "add-mailboxpermission" => {
            for identity in field("Identity") {
                let (local, domain) = identity.split_once('@').expect("an address");
                assert!(
                    !local.is_empty()
                        && local.chars().all(|c| c.is_ascii_lowercase())
                        && domain == "contoso.com",
                    "{sent:?}"
                );
            }
            assert!(field("User").into_iter().all(ends_in_contoso), "{sent:?}");
            assert!(
                field("AccessRights")
                    .iter()
                    .all(|s| s.eq_ignore_ascii_case("fullaccess")),
                "{sent:?}"
            );
        }
        "get-mailbox" => {
            if let Some(size) = sent.get("ResultSize") {
                match size {
                    Value::Number(n) => {
                        assert!(n.as_f64().is_some_and(|n| n <= 1000.0), "{sent:?}")
                    }
                    Value::String(s) => assert!(
                        s.trim().parse::<f64>().is_ok_and(|n| n <= 1000.0),
                        "{sent:?}"
                    ),
                    other => panic!("ResultSize sent as {other}"),
                }
            }
        }
        "set-contosowidget" => {
            assert!(
                field("Name")
                    .iter()
                    .all(|s| s.eq_ignore_ascii_case("alpha") || s.eq_ignore_ascii_case("beta")),
                "{sent:?}"
            );
        }
        _ => panic!("{cmdlet:?} admitted, but the grant has no such cmdlet"),
    }
    let again = Value::Object(sent.clone()).to_string();
    let resent = decide(grant, &cmdlet, &again);
    assert_eq!(
        resent.as_ref(),
        Some(&sent),
        "checked again, what is sent changes or is refused: {again}"
    );
}

/// Recipients a scope is evaluated against when the input brings none.
fn recipients() -> [Value; 3] {
    [
        json!({"Name": "ann", "RecipientTypeDetails": "UserMailbox", "EmailAddresses": ["SMTP:ann@contoso.com", "smtp:a@contoso.com"], "Guid": "0d6b1f5e-0000-4000-8000-000000000001"}),
        json!({"Name": "room1", "RecipientTypeDetails": "RoomMailbox", "Department": null, "EmailAddresses": []}),
        json!({}),
    ]
}

/// The OPATH scope parser and evaluator. Input: a filter, a newline, optionally a recipient
/// as JSON. Properties: a parsed filter parses again from its own text to the same filter,
/// and it evaluates (groups known or not) without panicking.
pub fn scope(data: &[u8]) {
    let (filter, recipient) = split_line(data);
    let Ok(scope) = Scope::parse(&filter) else {
        return;
    };
    assert_eq!(
        Scope::parse(scope.text()).as_ref(),
        Ok(&scope),
        "a filter's own text parses otherwise: {filter:?}"
    );
    let members: crate::policy::scope::Members =
        ["ann@contoso.com".to_string()].into_iter().collect();
    let known = |_: &str| Some(&members);
    let unknown = |_: &str| None;
    let _ = scope.groups();
    let given = serde_json::from_str::<Value>(&recipient).ok();
    for recipient in given.iter().chain(recipients().iter()) {
        let _ = scope.matches(recipient, &known);
        let _ = scope.matches(recipient, &unknown);
    }
}

/// Reads a single-quoted literal at the start of `text` the way a reader that takes each of
/// `quotes` for `'` does: the value and what follows the closing quote.
fn unquote<'t>(text: &'t str, quotes: &[char]) -> Option<(String, &'t str)> {
    let mut chars = text.char_indices().peekable();
    match chars.next() {
        Some((_, c)) if quotes.contains(&c) => {}
        _ => return None,
    }
    let mut value = String::new();
    while let Some((at, c)) = chars.next() {
        if quotes.contains(&c) {
            match chars.peek() {
                Some(&(_, next)) if quotes.contains(&next) => {
                    chars.next();
                    value.push(c);
                }
                _ => return Some((value, &text[at + c.len_utf8()..])),
            }
        } else {
            value.push(c);
        }
    }
    None
}

/// The OPATH literals a workflow writes into filters. Input: any text, or JSON for a value.
/// Properties: a quoted text is one literal that ends where it ends and reads back as the
/// text, whether the service takes only `'` or also the typographic quotes for `'`; a
/// `-like` prefix pattern holds no wildcard but its final `*`.
pub fn opath(data: &[u8]) {
    let text = text(data);
    let quoted = opath::quote(&text);
    let every: [char; 5] = ['\'', '\u{2018}', '\u{2019}', '\u{201A}', '\u{201B}'];
    assert_eq!(
        unquote(&quoted, &every),
        Some((text.clone(), "")),
        "{quoted:?} read with every quote"
    );
    let (_, rest) = unquote(&quoted, &['\'']).expect("the literal ends");
    assert_eq!(rest, "", "{quoted:?} ends early when only ' is a quote");
    let value = serde_json::from_str::<Value>(&text).unwrap_or(Value::String(text));
    if let Ok(literal) = opath::literal(&value)
        && literal.starts_with('\'')
    {
        let (_, rest) = unquote(&literal, &every).expect("a literal that ends");
        assert_eq!(rest, "", "{literal:?}");
    }
    if let Ok(pattern) = opath::prefix_pattern(&value) {
        let (inner, rest) = unquote(&pattern, &every).expect("a pattern that ends");
        assert_eq!(rest, "", "{pattern:?}");
        let body = inner.strip_suffix('*').expect("a prefix pattern ends in *");
        assert!(!body.contains(['*', '?']), "a wildcard inside {pattern:?}");
    }
}

/// PowerShell value syntax and parameter binding. Input: a first line parsed as a value;
/// then a cmdlet name on the second line and one argument per line after it.
pub fn value_syntax(data: &[u8]) {
    let (value, rest) = split_line(data);
    let _ = value_syntax::parse(&value);
    let mut lines = rest.lines();
    let cmdlet = lines.next().unwrap_or("Get-Mailbox");
    let args: Vec<String> = lines.map(str::to_string).collect();
    let _ = binding::bind(cmdlet, &args);
    let _ = binding::bind("Set-Mailbox", &args);
}

/// The policy file parser.
pub fn policy(data: &[u8]) {
    let text = text(data);
    if let Ok(policy) = Policy::parse(&text, "fuzz-policy.toml")
        && let Ok(manifest) = Manifest::parse(GATE_MANIFEST)
    {
        let _ = policy.admit(Candidate {
            manifest: &manifest,
            digest: "3f2a0c5b9e1d4f6a8b7c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a",
            signers: &["review".to_string()],
            file: None,
        });
    }
}

/// The values a fuzzed template or condition is rendered with.
fn template_context() -> Value {
    json!({
        "inputs": {"user": "ann@contoso.com", "n": 3, "list": ["a", "b", {"c": [1, 2.5, null]}], "flag": true},
        "item": {"UserPrincipalName": "o'brien@contoso.com", "Name": "x' -or Name -like '*"},
        "steps": {"find": {"records": [{"Name": "a"}], "output": {"count": 2}}},
        "tenant": "contoso",
        "run": {"id": "r1", "dry_run": false}
    })
}

/// The workflow file parser, and its templates, conditions and expressions. Input: a whole
/// workflow file; its first line is also taken as a template, a condition and an expression,
/// each rendered against fixed values.
pub fn workflow(data: &[u8]) {
    let text = text(data);
    let _ = Workflow::parse(&text, Path::new("fuzz.toml"));
    let first = text.lines().next().unwrap_or_default();
    let context = template_context();
    if let Ok(template) = Template::parse(first) {
        let _ = template.render(&context);
        let _ = template.render_text(&context);
        let _ = template.paths();
    }
    if let Ok(condition) = Condition::parse(first) {
        let _ = condition.holds(&context);
    }
    if let Ok(expression) = expr::parse(first) {
        let _ = expression.eval(&context);
        let _ = expression.paths();
    }
}

/// The plugin manifest parser; a parsed manifest's TOML parses back to the same manifest.
pub fn manifest(data: &[u8]) {
    let text = text(data);
    let Ok(manifest) = Manifest::parse(&text) else {
        return;
    };
    let _ = manifest.compiled_input_schema();
    let again = Manifest::parse(&manifest.to_toml());
    assert!(
        again
            .as_ref()
            .is_ok_and(|m| m.to_toml() == manifest.to_toml()),
        "a manifest's own TOML does not read back: {:?}",
        again.err()
    );
}

/// The minisign public key, secret key and signature parsers. A parsed signature written
/// out parses back to the same text.
pub fn minisign(data: &[u8]) {
    let text = text(data);
    let _ = PublicKey::parse(&text);
    if let Ok(file) = SecretKeyFile::parse(&text)
        && !file.is_encrypted()
    {
        let _ = file.unlock(None);
    }
    for placement in [Placement::Embedded, Placement::Detached] {
        if let Ok(signature) = Signature::parse(&text, placement) {
            let written = signature.to_text();
            let again = Signature::parse(&written, placement).expect("its own text");
            assert_eq!(again.to_text(), written);
        }
    }
}

/// The artifact's section reader: the layout, the manifest section and the embedded
/// signatures of any bytes.
pub fn artifact(data: &[u8]) {
    let layout = Layout::read(data);
    let _ = layout.custom_sections("exorun-manifest").count();
    let _ = component_layout(data, "fuzz.wasm");
    let _ = read_manifest(data, "fuzz.wasm");
    let _ = embedded_signatures(data);
}

/// `audit verify` on any bytes as the log, with and without a head.
pub fn audit_verify(data: &[u8]) {
    let _ = check_log(data, None);
    let _ = check_log(
        data,
        Some("0000000000000000000000000000000000000000000000000000000000000000"),
    );
}

/// A directory of its own per thread for the journal target's files.
fn scratch() -> &'static Path {
    thread_local! {
        static DIR: &'static Path = Box::leak(Box::new(
            tempfile::tempdir().expect("a scratch directory")
        )).path();
    }
    DIR.with(|dir| *dir)
}

/// The run journal's reader on any bytes; a journal it reads can be reopened and appended
/// to, and what is appended is read back (a cut last line does not swallow it).
pub fn journal(data: &[u8]) {
    let dir = scratch();
    std::fs::write(dir.join(JOURNAL_FILE), data).expect("write the journal");
    let Ok(state) = JournalState::read(dir) else {
        return;
    };
    if state.header.is_none() {
        return;
    }
    let id = ItemId {
        step: "fuzz-step".into(),
        tenant: "fuzz-tenant".into(),
        item: "fuzz-item".into(),
    };
    let reopened = Journal::reopen(dir).expect("a journal that reads reopens");
    reopened
        .write(&Entry::ItemEnd {
            id: id.clone(),
            attempt: 1,
            outcome: ItemOutcome::Succeeded,
            output: None,
            error: None,
            records: 0,
        })
        .expect("append");
    drop(reopened);
    let state = JournalState::read(dir).expect("read after appending");
    assert_eq!(
        state.outcome(&id),
        Some(ItemOutcome::Succeeded),
        "the appended entry is lost"
    );
}

/// The InvokeCommand reply parser: a status (first two bytes), a `Retry-After`, a
/// `Location` and an `x-ms-diagnostics` header (next three lines), then the body. Properties:
/// no panic, and the token never shows in what it returns (unless the reply itself holds it).
pub fn reply(data: &[u8]) {
    const TOKEN: &str = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.fuzz-token-never-shown";
    let status = match data {
        [a, b, ..] => 100 + (u16::from(*a) << 8 | u16::from(*b)) % 500,
        _ => 200,
    };
    let rest = data.get(2..).unwrap_or_default();
    let mut parts = rest.splitn(4, |b| *b == b'\n');
    let mut headers = reqwest::header::HeaderMap::new();
    for name in ["retry-after", "location", "x-ms-diagnostics"] {
        if let Some(value) = parts.next()
            && let Ok(value) = reqwest::header::HeaderValue::from_bytes(value)
        {
            headers.insert(name, value);
        }
    }
    let body = bytes::Bytes::copy_from_slice(parts.next().unwrap_or_default());
    let reply = Reply {
        status,
        headers,
        body,
        client_request_id: "fuzz".into(),
    };
    let shown = match reply.classify::<Value>(
        "Get-Mailbox",
        "https://outlook.office365.com/adminapi/beta/t/InvokeCommand",
        Secret::new(TOKEN),
    ) {
        Ok(Outcome::Rejected { reason, .. }) => format!("{reason:?}"),
        Ok(other) => format!("{:?}", std::mem::discriminant(&other)),
        Err(error) => format!("{error} {error:?}"),
    };
    let echoed = data.windows(10).any(|w| w == b"fuzz-token");
    assert!(
        echoed || !shown.contains("fuzz-token"),
        "the token shows: {shown}"
    );
}

#[cfg(test)]
mod tests {
    use super::{TARGETS, decide, gate_grant};

    /// The gate target's oracle is exercised: its grant admits a good call (sent by the
    /// catalogue's names) and refuses the case twin.
    #[test]
    fn gate_target_admits_and_refuses() {
        let sent = decide(
            gate_grant(),
            "set-mailboxautoreplyconfiguration",
            r#"{"ident": "ann@contoso.com", "autoreplystate": "Enabled"}"#,
        )
        .expect("admitted");
        assert_eq!(
            sent.keys().collect::<Vec<_>>(),
            ["AutoReplyState", "Identity"]
        );
        let twin = r#"{"Identity": "ann@contoso.com", "identity": "room1@contoso.com"}"#;
        assert!(decide(gate_grant(), "Set-MailboxAutoReplyConfiguration", twin).is_none());
        assert!(decide(gate_grant(), "Set-ContosoWidget", r#"{"Name": "alpha"}"#).is_some());
        assert!(
            decide(
                gate_grant(),
                "Get-Mailbox",
                r#"{"ResultSize": "Unlimited"}"#
            )
            .is_none()
        );
    }

    /// `fuzz/` has a target for each body here and no other, so none is left unfuzzed.
    #[test]
    fn fuzz_crate_has_every_target() {
        let fuzz = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
        let manifest = std::fs::read_to_string(fuzz.join("Cargo.toml")).unwrap();
        let mut listed: Vec<&str> = manifest
            .lines()
            .filter_map(|line| line.strip_prefix("name = \""))
            .filter_map(|rest| rest.strip_suffix('"'))
            .filter(|name| *name != "exorun-fuzz")
            .collect();
        listed.sort_unstable();
        let mut ours: Vec<&str> = TARGETS.iter().map(|(name, _)| *name).collect();
        ours.sort_unstable();
        assert_eq!(listed, ours);
        for name in ours {
            let body = std::fs::read_to_string(fuzz.join(format!("fuzz_targets/{name}.rs")))
                .unwrap_or_else(|e| panic!("fuzz_targets/{name}.rs: {e}"));
            assert!(
                body.contains(&format!("exorun::fuzzing::{name}(data)")),
                "{name}"
            );
        }
    }

    /// Every input committed under `fuzz/corpus/<target>/` (the seeds and what the long runs
    /// kept, findings among them) runs through its target without a panic.
    #[test]
    fn corpora_replay() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus");
        for (name, target) in TARGETS {
            let dir = root.join(name);
            let mut inputs = 0;
            for entry in
                std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            {
                let path = entry.unwrap().path();
                let data = std::fs::read(&path).unwrap();
                eprintln!("{}", path.display());
                if let Err(panic) = std::panic::catch_unwind(|| target(&data)) {
                    std::panic::resume_unwind(Box::new(format!(
                        "{name}: {} fails: {:?}",
                        path.display(),
                        panic
                            .downcast_ref::<String>()
                            .map(String::as_str)
                            .or(panic.downcast_ref::<&str>().copied())
                    )));
                }
                inputs += 1;
            }
            assert!(inputs > 0, "{}: no inputs", dir.display());
        }
    }
}
