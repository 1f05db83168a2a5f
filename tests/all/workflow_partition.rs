//! Partitions against the emulator: the filters of a partition's items, each sent as
//! `Get-Mailbox -Filter`, together list every mailbox exactly once, whatever its name starts
//! with (digits, either case, `_`, accents, quotes, letters beyond a–z).

use exorun::Connection;
use exorun::exchange::Surface;
use exorun::workflow::Partition;
use serde_json::{Value, json};

use crate::support::start_with;

/// Names that start every way a name can.
const NAMES: [&str; 18] = [
    "0day",
    "9lives",
    "Alpha",
    "alpha2",
    "bravo",
    "Mike",
    "mike2",
    "November",
    "zulu",
    "Zeta",
    "_svc-backup",
    "élodie",
    "Émile",
    "~tilde",
    "O'Brien",
    "ßtrasse",
    "Ωmega",
    "Tango",
];

/// The `Name` of each row.
fn names(rows: Vec<Value>) -> Vec<String> {
    rows.into_iter()
        .map(|row| row["Name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_streams_of_a_partition_list_every_mailbox_exactly_once() {
    let sim = start_with(|c| c.scenario.tenants[0].mailboxes = 40).await;
    {
        let mut directory = sim.sim.state.directory.write();
        let tenant = directory.tenant_mut(&sim.info().tenant_domain).unwrap();
        let ids: Vec<u32> = tenant.recipients.ids_of_kind(|k| k.is_mailbox()).collect();
        assert!(ids.len() > NAMES.len());
        for (id, name) in ids.iter().zip(NAMES) {
            tenant.recipients.update(*id, |r| r.name = name.to_string());
        }
    }
    let connection = Connection::open(sim.pfx_settings("exorun-admin")).unwrap();
    let get_mailbox = |filter: Option<String>| {
        let mut parameters = serde_json::Map::new();
        parameters.insert("ResultSize".into(), json!("Unlimited"));
        if let Some(filter) = filter {
            parameters.insert("Filter".into(), json!(filter));
        }
        let client = connection.exchange().clone();
        async move {
            names(
                client
                    .invoke(Surface::Exchange, "Get-Mailbox", parameters)
                    .await
                    .unwrap(),
            )
        }
    };
    let mut all = get_mailbox(None).await;
    all.sort();
    for name in NAMES {
        assert!(all.iter().any(|n| n == name), "{name} is listed");
    }
    let partitions = [
        Partition::first_character("Name").unwrap(),
        Partition::range("Name", &["G".into(), "n".into(), "t".into()]).unwrap(),
        Partition::range("Name", &["o'c".into(), "Ω".into()]).unwrap(),
        Partition::range("Name", &["_".into()]).unwrap(),
    ];
    for partition in partitions {
        let mut seen = Vec::new();
        let mut streams = 0;
        for item in partition.items() {
            let filter = item["filter"].as_str().unwrap().to_string();
            let found = get_mailbox(Some(filter.clone())).await;
            streams += usize::from(!found.is_empty());
            seen.extend(found);
        }
        seen.sort();
        assert_eq!(seen, all, "{partition}: every mailbox, each once");
        assert!(streams > 1, "{partition}: the work is split");
    }
    // The stream for everything else holds what starts with no letter a–z or digit.
    let other = Partition::first_character("Name")
        .unwrap()
        .items()
        .pop()
        .unwrap();
    let mut rest = get_mailbox(Some(other["filter"].as_str().unwrap().into())).await;
    rest.sort();
    assert_eq!(
        rest,
        [
            "_svc-backup",
            "~tilde",
            "Émile",
            "ßtrasse",
            "élodie",
            "Ωmega"
        ]
    );
}
