//! A workflow run's HTML report opened in a real headless Chromium (Debian package `chromium`,
//! installed by scripts/prereqs.sh): a realistic run (two tenants, an inventory step of 5,000
//! records fed to the charts one at a time, a permission audit, a failure with hostile text, a
//! dry-run plan) renders to a page whose charts the browser draws with every bar, that looks
//! like something (a screenshot far from one colour), and that loads nothing.
//!
//! "Loads nothing" is checked the way the browser sees it. Chromium runs behind a proxy that
//! refuses everything (`--proxy-server=127.0.0.1:9`) with every host name unresolvable, and
//! writes its network log (`--log-net-log`) and its verbose log (`--enable-logging=stderr
//! --v=1`, which prints the page's console, CSP violations included, and every URL request).
//! The page must have made no request (the browser's own are told apart, see [`crate::chromium`]),
//! caused no console message and no CSP violation, and every URL in the verbose log must be one
//! of the browser's own. A control test shows each check catches a page that does load
//! something.

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use exorun::workflow::report::{
    self, Chart, Failure, PlannedChange, ReportSpec, RunReport, StepReport, TenantReport,
};
use serde_json::{Map, Value, json};

use crate::chromium::{Action, Browser};

/// The screenshot's size.
const SCREEN: (u32, u32) = (1280, 2400);

/// The workflow's `[report]` table, as its file would have it.
const WORKFLOW_REPORT: &str = r#"
[[report.charts]]
title = "Mailbox size distribution"
step = "inventory"
kind = "histogram"
field = "TotalItemSizeBytes"
unit = "bytes"
counts = "mailboxes"

[[report.charts]]
title = "Stale mailboxes"
step = "inventory"
kind = "age"
field = "LastLogonTime"
buckets_days = [30, 90, 180, 365]
counts = "mailboxes"

[[report.charts]]
title = "Grants per trustee"
step = "permissions"
kind = "top"
field = "Trustee"
top = 15
counts = "grants"

[[report.charts]]
title = "Mailbox types"
step = "inventory"
kind = "top"
field = "RecipientTypeDetails"
top = 5
counts = "mailboxes"

[[report.charts]]
title = "Archive size distribution"
step = "inventory"
kind = "histogram"
field = "ArchiveSizeBytes"
unit = "bytes"
counts = "archives"
"#;

/// An error text a plugin could return: markup that must stay text.
const HOSTILE: &str = "</script><img src=x onerror=alert(1)>";
/// A trustee name that tries to close an attribute and open an element.
const HOSTILE_TRUSTEE: &str = "\"><svg onload=alert(1)>";

#[test]
fn a_run_report_renders_in_headless_chromium_and_loads_nothing() {
    let browser = Browser::find();
    let dir = tempfile::tempdir().unwrap();
    let (run, charts) = realistic_run();
    let written = report::write(&dir.path().join("report.html"), &run, &charts).unwrap();
    assert_eq!(written, dir.path().join("report.html"));
    let html = std::fs::read_to_string(&written).unwrap();
    let keep = std::env::var_os("EXORUN_KEEP_REPORT").map(PathBuf::from);
    if let Some(keep) = &keep {
        std::fs::create_dir_all(keep).unwrap();
        std::fs::copy(&written, keep.join("report.html")).unwrap();
    }

    let visit = browser.open(&written, Action::DumpDom);
    visit.assert_loaded_nothing();
    let dom = &visit.stdout;

    // Each chart is an SVG with its bars, as the browser parsed it; the same bars as written.
    let drawn = bars_per_svg(dom);
    assert_eq!(
        drawn,
        bars_per_svg(&html),
        "the browser parsed other bars than were written"
    );
    assert_eq!(drawn.len(), 5, "{drawn:?}");
    assert!(drawn[..4].iter().all(|bars| *bars >= 3), "{drawn:?}");
    assert_eq!(drawn[4], 0, "the archive chart has no data");
    assert!(dom.contains(">No data</text>"));
    assert!(
        dom.contains("<title>from 1 GB to under 10 GB: "),
        "a bar's tooltip"
    );
    assert!(dom.contains(">never</text>"), "the age chart's first bar");
    assert!(dom.contains("CONTOSO\\svc-backup"));

    // Hostile values stayed text: no element came of them.
    assert!(
        !dom.contains("<img") && !dom.contains("<script"),
        "markup got through"
    );
    assert!(dom.contains("&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;"));
    assert!(dom.contains("\"&gt;&lt;svg onload=alert(1)&gt;"));

    // The page's outline: what a reader scans.
    assert_eq!(
        outline(dom),
        [
            "h1 Mailbox hygiene (nightly)",
            "h2 Summary",
            "h3 contoso",
            "h3 fabrikam",
            "h2 Charts",
            "h3 Mailbox size distribution",
            "h3 Stale mailboxes",
            "h3 Grants per trustee",
            "h3 Mailbox types",
            "h3 Archive size distribution",
            "h2 Failures",
            "h3 fabrikam",
            "h2 Dry-run plan",
            "h3 contoso",
            "h3 fabrikam",
            "h2 Outputs",
            "h3 contoso",
            "h3 fabrikam",
        ]
    );
    for text in [
        "1 item failed",
        "Dry run: changes recorded, not sent",
        "Shard</dt><dd>2 of 4</dd>",
        "5,000",
        "Set-Mailbox",
        "-Identity 'Room 4.12' -HiddenFromAddressListsEnabled $true",
        "<summary>Data</summary>",
        "5,000 records had no ArchiveSizeBytes.",
        "4 records had a LastLogonTime that is not a date.",
    ] {
        assert!(dom.contains(text), "the page lacks {text:?}");
    }

    let shot = dir.path().join("report.png");
    let visit = browser.open(&written, Action::Screenshot(&shot, SCREEN));
    visit.assert_loaded_nothing();
    if let Some(keep) = &keep {
        std::fs::copy(&shot, keep.join("report.png")).unwrap();
    }
    let png = std::fs::read(&shot).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    let size = (
        u32::from_be_bytes(png[16..20].try_into().unwrap()),
        u32::from_be_bytes(png[20..24].try_into().unwrap()),
    );
    assert_eq!(size, SCREEN);
    // A page of one colour this size compresses to a few KB; text and charts do not.
    assert!(
        png.len() > 60_000,
        "the screenshot is {} bytes: a blank page?",
        png.len()
    );
}

#[test]
fn the_network_checks_catch_a_page_that_loads_something() {
    let browser = Browser::find();
    let dir = tempfile::tempdir().unwrap();
    let page = |name: &str, head: &str| {
        let path = dir.path().join(name);
        std::fs::write(
            &path,
            format!(
                "<!DOCTYPE html><html><head><title>t</title>{head}</head><body><h1>hi</h1>\
                 <img src=\"https://cdn.example.com/logo.png\" alt=\"\"></body></html>"
            ),
        )
        .unwrap();
        path
    };

    let with_csp = page(
        "csp.html",
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'\">",
    );
    let visit = browser.open(&with_csp, Action::DumpDom);
    assert!(!visit.csp_violations().is_empty(), "{}", visit.stderr);

    let without = page("open.html", "");
    let visit = browser.open(&without, Action::DumpDom);
    let requests = visit.page_requests();
    assert!(
        requests
            .iter()
            .any(|r| r == "https://cdn.example.com/logo.png"),
        "{requests:?}"
    );
}

/// A run of the nightly mailbox hygiene workflow, rehearsed, shard 2 of 4, with its charts fed.
fn realistic_run() -> (RunReport, Vec<Chart>) {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Workflow {
        report: Option<ReportSpec>,
    }
    let spec = toml::from_str::<Workflow>(WORKFLOW_REPORT)
        .unwrap()
        .report
        .unwrap();
    spec.check_steps(&["inventory", "permissions", "hide-rooms"])
        .unwrap();
    let mut charts: Vec<Chart> = spec.charts.into_iter().map(Chart::new).collect();
    let ended: DateTime<Utc> = "2025-06-30T06:12:41Z".parse().unwrap();
    let mut rng = fastrand::Rng::with_seed(7);
    let mut tenants = Vec::new();
    for (tenant, mailboxes) in [("contoso", 3000), ("fabrikam", 2000)] {
        let mut grants = 0;
        for i in 0..mailboxes {
            feed(
                &mut charts,
                "inventory",
                &mailbox(&mut rng, tenant, i, ended),
            );
            for _ in 0..rng.usize(0..3) {
                feed(&mut charts, "permissions", &grant(&mut rng, tenant, i));
                grants += 1;
            }
        }
        tenants.push(TenantReport {
            tenant: tenant.to_string(),
            steps: steps(tenant, mailboxes, grants),
        });
    }
    let run = RunReport {
        workflow: "Mailbox hygiene (nightly)".into(),
        description: Some(
            "Inventories every mailbox, audits non-inherited FullAccess and SendAs grants, and \
             hides unused room mailboxes from the address list."
                .into(),
        ),
        run_id: "20250630T050931Z-7f3a".into(),
        started: ended - TimeDelta::seconds(3790),
        ended,
        dry_run: true,
        shard: Some((2, 4)),
        tenants,
    };
    (run, charts)
}

/// The three steps of a tenant, as the engine would report them.
fn steps(tenant: &str, mailboxes: u64, grants: u64) -> Vec<StepReport> {
    let step = |id: &str, plugin: &str, version: &str, records, secs| StepReport {
        step: id.into(),
        plugin: plugin.into(),
        plugin_version: version.into(),
        succeeded: 1,
        failed: 0,
        skipped: 0,
        records,
        duration: Duration::from_secs(secs),
        failures: vec![],
        output: None,
        plan: vec![],
    };
    let mut inventory = step("inventory", "mailbox-inventory", "0.3.1", mailboxes, 1264);
    inventory.output = Some(json!({"mailboxes": mailboxes, "pages": mailboxes / 1000 + 1}));
    let mut permissions = step(
        "permissions",
        "mailbox-permission-audit",
        "0.2.0",
        grants,
        845,
    );
    permissions.succeeded = mailboxes;
    permissions.output = Some(json!({"grants": grants, "ignored_trustees": ["CONTOSO\\svc-sync"]}));
    if tenant == "fabrikam" {
        permissions.succeeded -= 1;
        permissions.failed = 1;
        permissions.failures = vec![Failure {
            item: "legal@fabrikam.com".into(),
            error: format!(
                "Get-MailboxPermission failed after 5 tries: the service was unavailable \
                 (HTTP 503)\n  caused by: {HOSTILE}"
            ),
        }];
    }
    let mut rooms = step("hide-rooms", "room-hider", "1.0.0", 0, 12);
    rooms.succeeded = 3;
    rooms.skipped = 1;
    rooms.plan = ["Room 4.12", "Board room", "Lab 2"]
        .iter()
        .map(|room| PlannedChange {
            item: format!("{room} ({tenant})"),
            cmdlet: "Set-Mailbox".into(),
            parameters: format!("-Identity '{room}' -HiddenFromAddressListsEnabled $true"),
        })
        .collect();
    vec![inventory, permissions, rooms]
}

/// Gives `record` to the charts of `step`, as the engine does with each record as it streams.
fn feed(charts: &mut [Chart], step: &str, record: &Map<String, Value>) {
    for chart in charts.iter_mut().filter(|c| c.spec().step == step) {
        chart.add(record);
    }
}

/// A mailbox as mailbox-inventory emits it: sizes spread over six orders of magnitude, last
/// logons in ISO 8601 or .NET JSON form, some never, two unreadable.
fn mailbox(
    rng: &mut fastrand::Rng,
    tenant: &str,
    i: u64,
    ended: DateTime<Utc>,
) -> Map<String, Value> {
    let kind = match rng.u32(0..100) {
        0..80 => "UserMailbox",
        80..92 => "SharedMailbox",
        92..97 => "RoomMailbox",
        _ => "EquipmentMailbox",
    };
    let size = if rng.u32(0..50) == 0 {
        0
    } else {
        (10f64.powf(rng.f64() * 6.0 + 4.5)) as u64
    };
    let logon = ended - TimeDelta::minutes(rng.i64(0..(2 * 365 * 24 * 60)));
    let last_logon = match (i, rng.u32(0..10)) {
        (7 | 8, _) => json!("not a date"),
        (_, 0) => Value::Null,
        (_, 1 | 2) => json!(format!("/Date({})/", logon.timestamp_millis())),
        _ => json!(logon.to_rfc3339()),
    };
    let record = json!({
        "UserPrincipalName": format!("user{i}@{tenant}.com"),
        "RecipientTypeDetails": kind,
        "TotalItemSizeBytes": size,
        "ItemCount": size / 75_000,
        "LastLogonTime": last_logon,
    });
    record.as_object().cloned().unwrap()
}

/// A grant as mailbox-permission-audit emits it: a few trustees hold most of them.
fn grant(rng: &mut fastrand::Rng, tenant: &str, i: u64) -> Map<String, Value> {
    let trustee = match rng.u32(0..100) {
        0..25 => "CONTOSO\\svc-backup".to_string(),
        25..40 => format!("helpdesk@{tenant}.com"),
        40..50 => format!("exec-assistants@{tenant}.com"),
        50..53 => HOSTILE_TRUSTEE.to_string(),
        n => format!("user{}@{tenant}.com", n % 30),
    };
    let rights = if rng.bool() { "FullAccess" } else { "SendAs" };
    let record = json!({
        "Identity": format!("user{i}@{tenant}.com"),
        "Trustee": trustee,
        "AccessRights": [rights],
    });
    record.as_object().cloned().unwrap()
}

/// The number of `<rect class="bar…">` in each `<svg>` of a page, in order.
fn bars_per_svg(page: &str) -> Vec<usize> {
    page.split("<svg")
        .skip(1)
        .map(|svg| {
            let svg = svg.split("</svg>").next().unwrap_or("");
            svg.matches("<rect class=\"bar").count()
        })
        .collect()
}

/// Each heading of a page as `h2 Text`, tags inside left out.
fn outline(page: &str) -> Vec<String> {
    let mut headings = Vec::new();
    let mut rest = page;
    while let Some(start) = rest.find("<h") {
        rest = &rest[start + 2..];
        let Some(level @ ('1'..='3')) = rest.chars().next() else {
            continue;
        };
        let Some(end) = rest.find(&format!("</h{level}>")) else {
            break;
        };
        let inner = &rest[rest.find('>').map_or(0, |i| i + 1)..end];
        headings.push(format!("h{level} {}", text_of(inner)));
        rest = &rest[end..];
    }
    headings
}

/// Markup without its tags.
fn text_of(markup: &str) -> String {
    let mut text = String::new();
    let mut in_tag = false;
    for c in markup.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    text
}
