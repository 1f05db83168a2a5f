//! The audit log through `exorun serve`, for auditors only: filtered like `exorun audit show`,
//! paged, with the state of its chain; auditors see every run and cancel none.

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::cli::mailboxes;
use crate::serve::{Service, configure, helpdesk_rule, me};
use crate::support::start;

#[tokio::test(flavor = "multi_thread")]
async fn an_auditor_reads_the_log_with_its_chain_state_and_nobody_else_does() {
    let sim = start().await;
    let targets = mailboxes(&sim, 2);
    configure(&sim, &["auto-reply"], &helpdesk_rule());
    let service = Service::start(&sim);
    for target in &targets {
        let (status, run) = service
            .post(
                "/api/v1/runs",
                &json!({"plugin": "auto-reply", "input": {"identities": [target], "state": "Enabled"}}),
            )
            .await;
        assert_eq!(status, 202, "{run}");
        service.wait(run["id"].as_str().unwrap()).await;
    }
    // Not an auditor yet: refused, and the refusal is audited.
    let (status, problem) = service.get("/api/v1/audit").await;
    assert_eq!(status, 403, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("is not an auditor: no [[auditor]] rule of the policy names them"),
        "{problem}"
    );
    let (status, problem) = service.get("/api/v1/runs?all=true").await;
    assert_eq!(status, 403, "{problem}");

    let policy = sim.dir.path().join("policy.toml");
    let text = std::fs::read_to_string(&policy).unwrap();
    std::fs::write(
        &policy,
        format!(
            "{text}\n[[auditor]]\nname = \"security\"\nwho = [\"unix-user:{}\"]\n",
            me()
        ),
    )
    .unwrap();
    let _ = Command::new("kill")
        .args(["-HUP", &service.child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(20);
    let page = loop {
        let (status, page) = service.get("/api/v1/audit").await;
        if status == 200 {
            break page;
        }
        assert!(Instant::now() < deadline, "{page}\n{}", service.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(page["verification"]["intact"], true, "{page}");
    assert!(
        page["auditor_rule"]
            .as_str()
            .unwrap()
            .starts_with("auditor rule 'security' (line ")
    );
    let records = page["records"].as_array().unwrap();
    assert!(
        records
            .iter()
            .any(|r| r["record"]["event"] == "refused"
                && r["record"]["request"] == "read the audit log"),
        "{page}"
    );
    // Filtered and paged like `exorun audit show`.
    let principal = format!("unix:{}", me());
    let (_, calls) = service
        .get(&format!("/api/v1/audit?caller={principal}&limit=1"))
        .await;
    assert_eq!(calls["records"].as_array().unwrap().len(), 1, "{calls}");
    let next = calls["next_after"].as_u64().expect("more pages");
    let (_, rest) = service
        .get(&format!("/api/v1/audit?caller={principal}&after={next}"))
        .await;
    let first_line = calls["records"][0]["line"].as_u64().unwrap();
    assert!(
        rest["records"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["line"].as_u64().unwrap() > first_line),
        "{rest}"
    );
    let (status, problem) = service.get("/api/v1/audit?since=yesterday").await;
    assert_eq!(status, 400, "{problem}");
    // Every caller's runs.
    let (status, runs) = service.get("/api/v1/runs?all=true").await;
    assert_eq!(status, 200, "{runs}");
    assert_eq!(runs.as_array().unwrap().len(), 2, "{runs}");

    // A changed record breaks the chain, and the API says where.
    let log = sim.dir.path().join("audit.jsonl");
    let text = std::fs::read_to_string(&log).unwrap();
    std::fs::write(&log, text.replacen("\"Enabled\"", "\"Disabled\"", 1)).unwrap();
    let (_, page) = service.get("/api/v1/audit?limit=1").await;
    assert_eq!(page["verification"]["intact"], false, "{page}");
    assert!(
        page["verification"]["problem"]
            .as_str()
            .unwrap()
            .contains("line"),
        "{page}"
    );
}
