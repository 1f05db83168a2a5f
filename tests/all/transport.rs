//! The Exchange client against exorun-sim over HTTPS: paging, tokens that expire mid-query,
//! retries of every injected fault with the same page, exhausted retries, error mapping, the
//! Security & Compliance redirect and the per-tenant concurrency limit.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use exorun::auth::cert::{AssertionAlg, Certificate};
use exorun::auth::entra::{ClientCredential, ClientCredentials};
use exorun::auth::identity::{AppId, Organization};
use exorun::auth::provider::TokenProvider;
use exorun::exchange::{
    ExchangeClient, ExchangeError, ExchangeSettings, Page, Parameters, RetryPolicy, Surface,
};
use exorun::secret::Secret;
use exorun_sim::control::LogEntry;
use futures::StreamExt;
use serde_json::{Value, json};

use crate::support::{Sim, start, start_with};

/// Settings for the emulator with quick retries.
fn settings(sim: &Sim) -> ExchangeSettings {
    let info = sim.info();
    ExchangeSettings {
        exchange_url: info.base_url.clone(),
        compliance_url: format!("{}/compliance", info.base_url),
        retry: RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(30),
            max_delay: Duration::from_millis(200),
        },
        ..ExchangeSettings::new(info.tenant_id.clone())
    }
}

/// A token provider for a ready-made app: the admin app signs in with its client secret, the
/// others (which only have certificates) with theirs.
fn tokens(sim: &Sim, app: &str) -> Arc<TokenProvider> {
    let info = sim.info();
    let a = sim.app(app);
    let credential = match &a.secret_file {
        Some(file) => {
            ClientCredential::Secret(Secret::new(std::fs::read_to_string(file).unwrap().trim()))
        }
        None => {
            let cert = std::fs::read(a.certificate.as_ref().unwrap()).unwrap();
            let key = std::fs::read(a.private_key.as_ref().unwrap()).unwrap();
            ClientCredential::Certificate {
                cert: Arc::new(Certificate::from_pem(&cert, &key, None, app).unwrap()),
                alg: AssertionAlg::Ps256,
                x5c: false,
            }
        }
    };
    let source = ClientCredentials::new(
        exorun::http::client(Some(&info.ca_file)).unwrap(),
        &info.base_url,
        Organization::parse(&info.tenant_id).unwrap(),
        AppId::parse(&a.client_id).unwrap(),
        credential,
    );
    Arc::new(TokenProvider::new(Arc::new(source)))
}

/// A client for `app` with `settings`.
fn client_with(sim: &Sim, app: &str, settings: ExchangeSettings) -> ExchangeClient {
    let http = exorun::http::client(Some(&sim.info().ca_file)).unwrap();
    ExchangeClient::new(http, tokens(sim, app), settings)
}

/// The admin app's client with the test settings.
fn admin(sim: &Sim) -> ExchangeClient {
    client_with(sim, "exorun-admin", settings(sim))
}

fn params(value: Value) -> Parameters {
    match value {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

/// Scripts the next InvokeCommand failures, with `Retry-After: 0.2` on injected 429s.
async fn script(sim: &Sim, faults: &[&str]) {
    sim.put_control("faults", json!({"script": faults, "retry_after": 0.2}))
        .await;
}

async fn clear_log(sim: &Sim) {
    sim.http()
        .delete(sim.control("requests"))
        .send()
        .await
        .unwrap();
}

/// InvokeCommand entries of the request log (Exchange and Security & Compliance).
async fn invokes(sim: &Sim) -> Vec<LogEntry> {
    let log = sim.requests().await;
    log.into_iter()
        .filter(|e| e.endpoint == "invoke" || e.endpoint == "compliance")
        .collect()
}

async fn token_requests(sim: &Sim) -> usize {
    sim.requests()
        .await
        .iter()
        .filter(|e| e.endpoint == "token")
        .count()
}

fn guids(page: &Page) -> Vec<String> {
    page.rows
        .iter()
        .map(|r| r["Guid"].as_str().unwrap().to_string())
        .collect()
}

/// The GUID of some mailbox, to point cmdlets at.
async fn some_mailbox(client: &ExchangeClient) -> String {
    let rows = client
        .invoke(
            Surface::Exchange,
            "Get-Mailbox",
            params(json!({"ResultSize": 1})),
        )
        .await
        .unwrap();
    rows[0]["Guid"].as_str().unwrap().to_string()
}

fn all_mailboxes() -> Parameters {
    params(json!({"ResultSize": "Unlimited"}))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pages_through_2500_mailboxes_with_the_module_headers() {
    let sim = start_with(|c| c.scenario.tenants[0].mailboxes = 2500).await;
    let client = admin(&sim);
    let pages: Vec<Page> = client
        .query(Surface::Exchange, "Get-Mailbox", all_mailboxes())
        .into_stream()
        .map(Result::unwrap)
        .collect()
        .await;
    let sizes: Vec<usize> = pages.iter().map(|p| p.rows.len()).collect();
    assert_eq!(sizes, [1000, 1000, 500]);
    let unique: HashSet<String> = pages.iter().flat_map(guids).collect();
    assert_eq!(unique.len(), 2500, "every mailbox once");
    assert!(
        pages
            .iter()
            .all(|p| p.warnings.is_empty() && p.request_id.is_some())
    );

    let log = invokes(&sim).await;
    assert_eq!(log.len(), 3);
    assert_eq!(
        log.iter().map(|e| e.next_page).collect::<Vec<_>>(),
        [false, true, true]
    );
    let anchor = format!(
        "APP:SystemMailbox{{bb558c35-97f1-4cb9-8ff7-d53741dc928c}}@{}",
        sim.info().tenant_id
    );
    for (entry, page) in log.iter().zip(&pages) {
        assert_eq!(entry.cmdlet.as_deref(), Some("Get-Mailbox"));
        assert_eq!(
            entry.parameters,
            Some(json!({"ResultSize": "Unlimited"})),
            "same body"
        );
        assert_eq!(entry.anchor_mailbox.as_deref(), Some(anchor.as_str()));
        assert_eq!(entry.connection_id.as_deref(), Some(client.connection_id()));
        assert_eq!(
            entry.client_request_id.as_deref(),
            Some(page.client_request_id.as_str())
        );
    }
    let ids: HashSet<_> = log.iter().map(|e| e.client_request_id.clone()).collect();
    assert_eq!(ids.len(), 3, "a fresh client-request-id per call");

    let rows = client
        .invoke(Surface::Exchange, "Get-Mailbox", all_mailboxes())
        .await
        .unwrap();
    assert_eq!(rows.len(), 2500, "invoke collects every page");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_query_outlives_its_tokens() {
    let sim = start_with(|c| c.scenario.tenants[0].mailboxes = 500).await;
    sim.put_control("token-lifetime", json!({"seconds": 3}))
        .await;
    sim.put_control("faults", json!({"page_latency_ms": 350}))
        .await;
    let client = client_with(
        &sim,
        "exorun-admin",
        ExchangeSettings {
            page_size: 50,
            ..settings(&sim)
        },
    );
    let started = std::time::Instant::now();
    let mut query = client.query(Surface::Exchange, "Get-Mailbox", all_mailboxes());
    let mut seen = HashSet::new();
    let mut pages = 0;
    while let Some(page) = query.next_page().await.unwrap() {
        pages += 1;
        seen.extend(guids(&page));
    }
    assert!(
        started.elapsed() > Duration::from_secs(3),
        "the query ran longer than a token lives"
    );
    assert_eq!((pages, seen.len()), (10, 500));
    // Under the provider's 5-minute margin a 3-second token is renewed before every request.
    assert!(token_requests(&sim).await >= 10);
    assert!(
        invokes(&sim).await.iter().all(|e| e.status == 200),
        "no request was refused"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_revoked_token_is_replaced_once_and_the_same_page_fetched() {
    let sim = start().await;
    let client = client_with(
        &sim,
        "exorun-admin",
        ExchangeSettings {
            page_size: 40,
            ..settings(&sim)
        },
    );
    let mut query = client.query(Surface::Exchange, "Get-Mailbox", all_mailboxes());
    query.next_page().await.unwrap().unwrap();
    sim.http()
        .post(sim.control("revoke-tokens"))
        .send()
        .await
        .unwrap();
    clear_log(&sim).await;
    let second = query.next_page().await.unwrap().unwrap();
    assert_eq!(second.rows.len(), 40);
    let log = sim.requests().await;
    let kinds: Vec<(&str, u16)> = log
        .iter()
        .map(|e| (e.endpoint.as_str(), e.status))
        .collect();
    assert_eq!(kinds, [("invoke", 401), ("token", 200), ("invoke", 200)]);
    assert!(
        log[0].next_page && log[2].next_page,
        "the same next page both times"
    );
}

/// Fetches page 2 of a 40-row paging of Get-Mailbox with `faults` injected on it, and checks it
/// equals the undisturbed page and that the log shows the retries with fresh request ids.
async fn recovers_from(faults: &[&str], statuses: &[u16]) {
    let sim = start().await;
    let client = client_with(
        &sim,
        "exorun-admin",
        ExchangeSettings {
            page_size: 40,
            ..settings(&sim)
        },
    );
    let expected = {
        let mut query = client.query(Surface::Exchange, "Get-Mailbox", all_mailboxes());
        query.next_page().await.unwrap();
        guids(&query.next_page().await.unwrap().unwrap())
    };
    let mut query = client.query(Surface::Exchange, "Get-Mailbox", all_mailboxes());
    query.next_page().await.unwrap().unwrap();
    clear_log(&sim).await;
    script(&sim, faults).await;
    let page = query.next_page().await.unwrap().unwrap();
    assert_eq!(
        guids(&page),
        expected,
        "{faults:?}: the same page after the retries"
    );

    let log = invokes(&sim).await;
    let seen: Vec<u16> = log.iter().map(|e| e.status).collect();
    assert_eq!(seen, statuses, "{faults:?}");
    assert!(
        log.iter().all(|e| e.next_page),
        "every try asked for the same next page"
    );
    assert_eq!(
        log.iter().filter(|e| e.fault.is_some()).count(),
        faults.len()
    );
    let ids: HashSet<_> = log
        .iter()
        .map(|e| e.client_request_id.clone().unwrap())
        .collect();
    assert_eq!(ids.len(), log.len(), "a fresh client-request-id per try");
    assert_eq!(
        log.last().unwrap().client_request_id.as_deref(),
        Some(page.client_request_id.as_str())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn recovers_from_throttling_with_retry_after() {
    let started = std::time::Instant::now();
    recovers_from(&["throttle", "throttle"], &[429, 429, 200]).await;
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "Retry-After 0.2 s was honoured twice"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn recovers_from_unavailable_and_gateway_timeout() {
    recovers_from(
        &["unavailable", "gateway_timeout", "unavailable"],
        &[503, 504, 503, 200],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn recovers_from_the_concurrency_429() {
    recovers_from(&["concurrency"], &[429, 200]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn recovers_from_a_connection_dropped_mid_body() {
    recovers_from(&["drop", "drop"], &[200, 200, 200]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn exhausted_retries_give_the_matching_error() {
    let sim = start().await;
    let client = admin(&sim);
    let mailbox = some_mailbox(&client).await;
    let identity = || params(json!({"Identity": mailbox}));

    script(&sim, &["throttle"; 4]).await;
    let e = client
        .invoke(Surface::Exchange, "Get-Mailbox", identity())
        .await
        .unwrap_err();
    assert!(
        matches!(e, ExchangeError::Throttled { attempts: 4, retry_after: Some(d) } if d == Duration::from_millis(200)),
        "{e:?}"
    );

    script(
        &sim,
        &[
            "unavailable",
            "gateway_timeout",
            "unavailable",
            "unavailable",
        ],
    )
    .await;
    let e = client
        .invoke(Surface::Exchange, "Get-Mailbox", identity())
        .await
        .unwrap_err();
    assert!(
        matches!(&e, ExchangeError::Service { status: 503, .. }),
        "{e:?}"
    );
    assert!(e.to_string().contains("503 Service Unavailable"), "{e}");

    script(&sim, &["drop"; 4]).await;
    let e = client
        .invoke(Surface::Exchange, "Get-Mailbox", identity())
        .await
        .unwrap_err();
    assert!(
        matches!(&e, ExchangeError::Transport { attempts: 4, .. }),
        "{e:?}"
    );

    // A change whose reply was lost is not sent again: it may have been applied.
    clear_log(&sim).await;
    script(&sim, &["drop"]).await;
    let change = params(json!({"Identity": mailbox, "CustomAttribute1": "x"}));
    let e = client
        .invoke(Surface::Exchange, "Set-Mailbox", change)
        .await
        .unwrap_err();
    assert!(
        matches!(&e, ExchangeError::Transport { attempts: 1, .. }),
        "{e:?}"
    );
    assert!(
        e.to_string().contains("may or may not have been applied"),
        "{e}"
    );
    assert_eq!(invokes(&sim).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn service_errors_become_typed_errors_with_fixes() {
    let sim = start().await;
    let client = admin(&sim);

    let e = client
        .invoke(
            Surface::Exchange,
            "Get-Mailbox",
            params(json!({"Identity": "nobody-here"})),
        )
        .await
        .unwrap_err();
    let ExchangeError::NotFound { cmdlet, message } = &e else {
        panic!("{e:?}")
    };
    assert_eq!(cmdlet, "Get-Mailbox");
    assert!(
        message.text.contains("'nobody-here' couldn't be found"),
        "{message}"
    );
    assert!(
        message
            .exception
            .as_deref()
            .unwrap()
            .ends_with("ManagementObjectNotFoundException")
    );
    assert_eq!(message.error_id.as_deref(), Some("Ex6F9304"));
    assert!(message.request_id.is_some() && message.client_request_id.is_some());

    let e = client
        .invoke(
            Surface::Exchange,
            "Get-Mailbox",
            params(json!({"Bogus": 1})),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&e, ExchangeError::InvalidParameter { .. }),
        "{e:?}"
    );
    assert!(
        e.to_string().contains("matches parameter name 'Bogus'"),
        "{e}"
    );

    // Only innererror carries this one.
    let e = client
        .invoke(
            Surface::Exchange,
            "Get-Mailbox",
            params(json!({"ResultSize": "lots"})),
        )
        .await
        .unwrap_err();
    let ExchangeError::InvalidParameter { message, .. } = &e else {
        panic!("{e:?}")
    };
    assert!(message.text.contains("parameter 'ResultSize'"), "{message}");
    assert!(
        message
            .exception
            .as_deref()
            .unwrap()
            .ends_with("ParameterTransformationException")
    );

    let norole = client_with(&sim, "exorun-norole", settings(&sim));
    let e = norole
        .invoke(Surface::Exchange, "Get-Mailbox", Parameters::new())
        .await
        .unwrap_err();
    assert!(matches!(&e, ExchangeError::NoRole { .. }), "{e:?}");
    let text = e.to_string();
    assert!(text.contains("HTTP 403 with an empty body"), "{text}");
    assert!(
        text.contains("the app's token carries no directory role that works with Exchange Online"),
        "{text}"
    );
    assert!(text.contains("Exchange Administrator"), "{text}");

    let e = client
        .invoke(Surface::Exchange, "Get-NoSuchThing", Parameters::new())
        .await
        .unwrap_err();
    assert!(
        matches!(&e, ExchangeError::NoRole { .. }),
        "unknown cmdlets are 403 too: {e:?}"
    );

    clear_log(&sim).await;
    let noconsent = client_with(&sim, "exorun-noconsent", settings(&sim));
    let e = noconsent
        .invoke(Surface::Exchange, "Get-Mailbox", Parameters::new())
        .await
        .unwrap_err();
    assert!(matches!(&e, ExchangeError::Unauthorized { .. }), "{e:?}");
    let text = e.to_string();
    assert!(text.contains("Exchange.ManageAsApp"), "{text}");
    assert!(text.contains("grant admin consent"), "{text}");
    assert!(text.contains("Office 365 Exchange Online"), "{text}");
    assert!(!text.contains("eyJ"), "no token in messages: {text}");
    let log = sim.requests().await;
    let kinds: Vec<(&str, u16)> = log
        .iter()
        .map(|e| (e.endpoint.as_str(), e.status))
        .collect();
    assert_eq!(
        kinds,
        [
            ("token", 200),
            ("invoke", 401),
            ("token", 200),
            ("invoke", 401)
        ],
        "one refresh, then the error"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn security_and_compliance_through_the_regional_redirect() {
    let sim = start().await;
    let client = client_with(&sim, "exorun-compliance", settings(&sim));
    let created = client
        .invoke(
            Surface::Compliance,
            "New-ComplianceSearch",
            params(json!({"Name": "Legal hold 42", "ExchangeLocation": "All", "ContentMatchQuery": "subject:merger"})),
        )
        .await
        .unwrap();
    assert_eq!(created[0]["Name"], "Legal hold 42");
    let found = client
        .invoke(
            Surface::Compliance,
            "Get-ComplianceSearch",
            params(json!({"Identity": "Legal hold 42"})),
        )
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["ContentMatchQuery"], "subject:merger");

    let log = invokes(&sim).await;
    assert_eq!(log.len(), 2);
    assert!(
        log.iter()
            .all(|e| e.endpoint == "compliance" && e.status == 200),
        "{log:?}"
    );

    // A redirect to another host (the emulator's front door sends 127.0.0.1; we called
    // localhost) is refused: the token does not follow it.
    let port = sim.sim.addr.port();
    let elsewhere = ExchangeSettings {
        compliance_url: format!("https://localhost:{port}/compliance"),
        ..settings(&sim)
    };
    let client = client_with(&sim, "exorun-compliance", elsewhere);
    let e = client
        .invoke(
            Surface::Compliance,
            "Get-ComplianceSearch",
            Parameters::new(),
        )
        .await
        .unwrap_err();
    let ExchangeError::Redirect { location } = &e else {
        panic!("{e:?}")
    };
    assert!(location.starts_with("https://127.0.0.1:"), "{location}");
    assert_eq!(
        invokes(&sim).await.len(),
        2,
        "nothing was sent to the refused location"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_concurrency_limit_keeps_a_tenant_under_its_cap() {
    let sim = start().await;
    sim.put_control(
        "throttle",
        json!({"burst": 30000, "per_second": 100, "tenant_concurrency": 1}),
    )
    .await;
    sim.put_control("faults", json!({"page_latency_ms": 250}))
        .await;
    let run = |client: ExchangeClient| async move {
        let calls = (0..4).map(|_| {
            let client = client.clone();
            async move {
                client
                    .invoke(
                        Surface::Exchange,
                        "Get-OrganizationConfig",
                        Parameters::new(),
                    )
                    .await
            }
        });
        futures::future::join_all(calls).await
    };

    let limited = client_with(
        &sim,
        "exorun-admin",
        ExchangeSettings {
            max_concurrency: 1,
            ..settings(&sim)
        },
    );
    let results = run(limited).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert!(
        invokes(&sim).await.iter().all(|e| e.status == 200),
        "never over the tenant's cap"
    );

    // Without the limit (and without retries) the same burst is refused by the service.
    let unlimited = client_with(
        &sim,
        "exorun-admin",
        ExchangeSettings {
            max_concurrency: 4,
            retry: RetryPolicy {
                max_attempts: 1,
                ..settings(&sim).retry
            },
            ..settings(&sim)
        },
    );
    let results = run(unlimited).await;
    assert!(
        results
            .iter()
            .any(|r| matches!(r, Err(ExchangeError::Throttled { attempts: 1, .. }))),
        "{results:?}"
    );
}
