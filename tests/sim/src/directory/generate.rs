//! Deterministic generation of a tenant's recipients from a seed and a count.
//!
//! The same seed and counts always give the same recipients (names, GUIDs, sizes, grants), so tests
//! can name objects they expect and benchmarks compare like with like. Times are offsets from the
//! `now` the caller passes, so "last logon 400 days ago" stays true whenever the emulator starts.

use std::collections::HashMap;

use fastrand::Rng;
use uuid::Uuid;

use super::recipient::{
    AutoReply, AutoReplyState, ExternalAudience, MailboxData, MailboxGrant, OofCalendar, Recipient,
    RecipientKind,
};
use super::store::RecipientStore;

/// How many recipients of each kind to generate.
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Population {
    /// Mailboxes of all four kinds (user 85%, shared 8%, room 4%, equipment 3%).
    pub mailboxes: usize,
    /// Mail users.
    pub mail_users: usize,
    /// Mail contacts.
    pub mail_contacts: usize,
    /// Distribution groups.
    pub distribution_groups: usize,
}

impl Population {
    /// The usual mix around a number of mailboxes.
    pub fn around_mailboxes(mailboxes: usize) -> Population {
        Population {
            mailboxes,
            mail_users: mailboxes / 20,
            mail_contacts: mailboxes / 10,
            distribution_groups: (mailboxes / 50).max(usize::from(mailboxes > 0)),
        }
    }
}

const FIRST: [&str; 64] = [
    "Ann", "Ben", "Carla", "David", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jonas", "Kira",
    "Liam", "Maya", "Nils", "Olga", "Pavel", "Quinn", "Rosa", "Sam", "Tara", "Umar", "Vera", "Wei",
    "Xenia", "Yusuf", "Zoe", "Adele", "Bruno", "Chloe", "Diego", "Emma", "Felix", "Gita", "Hugo",
    "Ivy", "Jack", "Keiko", "Luca", "Mia", "Noah", "Omar", "Petra", "Raj", "Sofia", "Tom", "Uma",
    "Viktor", "Wanda", "Yara", "Zane", "Alice", "Boris", "Cyrus", "Dana", "Erik", "Fatima",
    "Greta", "Hana", "Igor", "Julia", "Kofi", "Lena", "Marco", "Nora",
];
const LAST: [&str; 64] = [
    "Smith", "Jones", "Garcia", "Muller", "Rossi", "Silva", "Kim", "Nguyen", "Novak", "Larsen",
    "Dubois", "Tanaka", "Cohen", "Patel", "Kowalski", "Okafor", "Haddad", "Ivanova", "Jensen",
    "Moreau", "Santos", "Berg", "Fischer", "Romano", "Lopez", "Wagner", "Hansen", "Costa",
    "Yilmaz", "Sato", "Khan", "Ali", "Brown", "Wilson", "Taylor", "Clark", "Lewis", "Walker",
    "Young", "King", "Wright", "Scott", "Green", "Baker", "Adams", "Nelson", "Hill", "Campbell",
    "Mitchell", "Roberts", "Carter", "Phillips", "Evans", "Turner", "Torres", "Parker", "Collins",
    "Edwards", "Stewart", "Morris", "Murphy", "Cook", "Rogers", "Reed",
];
const DEPARTMENTS: [&str; 10] = [
    "Sales",
    "Finance",
    "Engineering",
    "Marketing",
    "Legal",
    "Operations",
    "Support",
    "HR",
    "Research",
    "IT",
];
const CITIES: [&str; 8] = [
    "Seattle", "London", "Paris", "Berlin", "Tokyo", "Sydney", "Toronto", "Madrid",
];
const TITLES: [&str; 8] = [
    "Analyst",
    "Engineer",
    "Manager",
    "Director",
    "Consultant",
    "Specialist",
    "Coordinator",
    "Associate",
];
const PARTNER_DOMAINS: [&str; 5] = [
    "fabrikam.com",
    "northwind.example",
    "adventure-works.com",
    "tailspin.example",
    "litware.com",
];

/// Generates `population` into `store`. `domain` is the default domain for addresses,
/// `initial_domain` the tenant's `*.onmicrosoft.com` domain.
pub fn generate(
    store: &mut RecipientStore,
    population: &Population,
    seed: u64,
    domain: &str,
    initial_domain: &str,
    now: i64,
) {
    let mut g = Generator {
        rng: Rng::with_seed(seed),
        names: HashMap::new(),
        numbers: [0; 4],
        domain: domain.to_string(),
        initial_domain: initial_domain.to_string(),
        now,
    };
    let total = population.mailboxes
        + population.mail_users
        + population.mail_contacts
        + population.distribution_groups;
    store.reserve(total);

    let mut users = Vec::with_capacity(population.mailboxes);
    let mut shared = Vec::new();
    for _ in 0..population.mailboxes {
        let roll = g.rng.u32(0..100);
        let kind = match roll {
            0..85 => RecipientKind::UserMailbox,
            85..93 => RecipientKind::SharedMailbox,
            93..97 => RecipientKind::RoomMailbox,
            _ => RecipientKind::EquipmentMailbox,
        };
        let recipient = g.mailbox(kind);
        let upn = recipient.upn.clone();
        let id = store.insert(recipient);
        match kind {
            RecipientKind::UserMailbox => users.push((id, upn.unwrap_or_default())),
            RecipientKind::SharedMailbox => shared.push(id),
            _ => {}
        }
    }
    for _ in 0..population.mail_users {
        store.insert(g.mail_user());
    }
    for _ in 0..population.mail_contacts {
        store.insert(g.contact());
    }
    g.grant_shared_access(store, &shared, &users);
    assign_managers(store, &users);
    let candidates: Vec<u32> = store.iter().map(|(id, _)| id).collect();
    for _ in 0..population.distribution_groups {
        let group = g.group(&candidates, &users);
        store.insert(group);
    }
}

/// Gives each user a manager, the way an org chart does: the first user of each department heads
/// it (no manager) and manages the department's other users. Draws nothing from the generator's
/// random stream, so the rest of a seed's directory is as it was before managers existed.
fn assign_managers(store: &mut RecipientStore, users: &[(u32, String)]) {
    let mut heads: HashMap<&'static str, u32> = HashMap::new();
    for &(id, _) in users {
        let Some(department) = store.get(id).map(|r| r.department) else {
            continue;
        };
        match heads.get(department) {
            None => {
                heads.insert(department, id);
            }
            Some(&head) => {
                store.update(id, |r| r.manager = Some(head));
            }
        }
    }
}

/// Objects named by a running number ("Seattle Room 12").
#[derive(Clone, Copy)]
enum Numbered {
    Shared,
    Room,
    Equipment,
    Group,
}

struct Generator {
    rng: Rng,
    names: HashMap<(usize, usize), u32>,
    numbers: [u32; 4],
    domain: String,
    initial_domain: String,
    now: i64,
}

impl Generator {
    fn guid(&mut self) -> Uuid {
        uuid::Builder::from_random_bytes(self.rng.u128(..).to_be_bytes()).into_uuid()
    }

    /// A person's name; the n-th repeat of a first/last pair gets a number so names stay unique.
    fn person(&mut self) -> (&'static str, &'static str, String) {
        let (f, l) = (self.rng.usize(..FIRST.len()), self.rng.usize(..LAST.len()));
        let count = self.names.entry((f, l)).or_insert(0);
        *count += 1;
        let suffix = if *count == 1 {
            String::new()
        } else {
            count.to_string()
        };
        (FIRST[f], LAST[l], suffix)
    }

    fn days_ago(&mut self, max_days: i64) -> i64 {
        self.now - self.rng.i64(1..=max_days) * 86_400 - self.rng.i64(0..86_400)
    }

    fn base(
        &mut self,
        kind: RecipientKind,
        name: String,
        alias: String,
        display: String,
    ) -> Recipient {
        let created = self.days_ago(3650);
        let primary_smtp = format!("{alias}@{}", self.domain);
        let secondary_smtp = if self.domain == self.initial_domain {
            Vec::new()
        } else {
            vec![format!("{alias}@{}", self.initial_domain)]
        };
        Recipient {
            guid: self.guid(),
            external_id: self.guid(),
            kind,
            name,
            alias,
            display_name: display,
            first_name: String::new(),
            last_name: String::new(),
            upn: None,
            primary_smtp,
            secondary_smtp,
            external_email: None,
            department: DEPARTMENTS[self.rng.usize(..DEPARTMENTS.len())],
            city: CITIES[self.rng.usize(..CITIES.len())],
            title: "",
            hidden: false,
            custom_attribute1: String::new(),
            created,
            changed: created + self.rng.i64(0..=(self.now - created).max(0)),
            mailbox: None,
            members: Vec::new(),
            managed_by: Vec::new(),
            manager: None,
        }
    }

    fn mailbox(&mut self, kind: RecipientKind) -> Recipient {
        let mut recipient = match kind {
            RecipientKind::UserMailbox => {
                let (first, last, n) = self.person();
                let alias = format!("{}.{}{n}", first.to_lowercase(), last.to_lowercase());
                let display = if n.is_empty() {
                    format!("{first} {last}")
                } else {
                    format!("{first} {last} {n}")
                };
                let mut r = self.base(kind, display.clone(), alias, display);
                r.first_name = first.to_string();
                r.last_name = last.to_string();
                r.title = TITLES[self.rng.usize(..TITLES.len())];
                r
            }
            RecipientKind::SharedMailbox => {
                let dept = DEPARTMENTS[self.rng.usize(..DEPARTMENTS.len())];
                let n = self.counter(Numbered::Shared);
                let display = format!("{dept} Team {n}");
                let alias = format!("{}-team{n}", dept.to_lowercase());
                let mut r = self.base(kind, display.clone(), alias, display);
                r.department = dept;
                r
            }
            RecipientKind::RoomMailbox => {
                let n = self.counter(Numbered::Room);
                let city = CITIES[self.rng.usize(..CITIES.len())];
                let display = format!("{city} Room {n}");
                let mut r = self.base(kind, display.clone(), format!("room{n}"), display);
                r.city = city;
                r
            }
            _ => {
                let n = self.counter(Numbered::Equipment);
                let display = format!("Projector {n}");
                self.base(kind, display.clone(), format!("projector{n}"), display)
            }
        };
        recipient.upn = Some(recipient.primary_smtp.clone());
        recipient.hidden = self.rng.u32(0..100) < 5;
        recipient.custom_attribute1 = if self.rng.bool() {
            "FTE".into()
        } else {
            String::new()
        };
        recipient.mailbox = Some(Box::new(self.mailbox_data(kind)));
        recipient
    }

    fn counter(&mut self, what: Numbered) -> u32 {
        let count = &mut self.numbers[what as usize];
        *count += 1;
        *count
    }

    fn mailbox_data(&mut self, kind: RecipientKind) -> MailboxData {
        let user = kind == RecipientKind::UserMailbox;
        let item_count = match self.rng.u32(0..100) {
            0..10 => self.rng.u32(0..50),
            10..80 => self.rng.u32(50..20_000),
            _ => self.rng.u32(20_000..250_000),
        };
        let total_size = u64::from(item_count) * self.rng.u64(8_000..120_000);
        let last_logon = match self.rng.u32(0..100) {
            0..8 => None,
            8..20 => Some(self.days_ago(900)),
            _ => Some(self.days_ago(60)),
        };
        let forwarding_smtp = (user && self.rng.u32(0..100) < 2).then(|| {
            let domain = PARTNER_DOMAINS[self.rng.usize(..PARTNER_DOMAINS.len())];
            format!("smtp:fwd{}@{domain}", self.rng.u32(1..100_000))
        });
        let auto_reply = (self.rng.u32(0..100) < 3).then(|| {
            Box::new(AutoReply {
                state: AutoReplyState::Enabled,
                start: self.now - 86_400,
                end: self.now + 7 * 86_400,
                internal_message: "I am out of the office.".into(),
                external_message: "I am out of the office.".into(),
                external_audience: ExternalAudience::All,
                calendar: OofCalendar::default(),
            })
        });
        MailboxData {
            exchange_guid: self.guid(),
            deliver_and_forward: forwarding_smtp.is_some() && self.rng.bool(),
            forwarding_smtp,
            forwarding_address: None,
            litigation_hold: self.rng.u32(0..100) < 10,
            archive: self.rng.u32(0..100) < 30,
            auto_reply,
            grants: Vec::new(),
            send_as: Vec::new(),
            item_count,
            total_size,
            deleted_item_count: item_count / self.rng.u32(5..50),
            last_logon,
        }
    }

    fn mail_user(&mut self) -> Recipient {
        let (first, last, n) = self.person();
        let alias = format!("{}.{}{n}.ext", first.to_lowercase(), last.to_lowercase());
        let display = format!(
            "{first} {last}{} (Contractor)",
            if n.is_empty() {
                String::new()
            } else {
                format!(" {n}")
            }
        );
        let partner = PARTNER_DOMAINS[self.rng.usize(..PARTNER_DOMAINS.len())];
        let mut r = self.base(
            RecipientKind::MailUser,
            display.clone(),
            alias.clone(),
            display,
        );
        r.first_name = first.to_string();
        r.last_name = last.to_string();
        r.upn = Some(r.primary_smtp.clone());
        r.external_email = Some(format!(
            "{}.{}{n}@{partner}",
            first.to_lowercase(),
            last.to_lowercase()
        ));
        r
    }

    fn contact(&mut self) -> Recipient {
        let (first, last, n) = self.person();
        let partner = PARTNER_DOMAINS[self.rng.usize(..PARTNER_DOMAINS.len())];
        let company = partner.split('.').next().unwrap_or(partner);
        let alias = format!(
            "{}.{}{n}.{company}",
            first.to_lowercase(),
            last.to_lowercase()
        );
        let display = format!(
            "{first} {last}{} ({company})",
            if n.is_empty() {
                String::new()
            } else {
                format!(" {n}")
            }
        );
        let external = format!(
            "{}.{}{n}@{partner}",
            first.to_lowercase(),
            last.to_lowercase()
        );
        let mut r = self.base(RecipientKind::MailContact, display.clone(), alias, display);
        r.first_name = first.to_string();
        r.last_name = last.to_string();
        r.primary_smtp = external.clone();
        r.secondary_smtp.clear();
        r.external_email = Some(external);
        r.hidden = self.rng.u32(0..100) < 10;
        r
    }

    fn group(&mut self, candidates: &[u32], users: &[(u32, String)]) -> Recipient {
        let dept = DEPARTMENTS[self.rng.usize(..DEPARTMENTS.len())];
        let n = self.counter(Numbered::Group);
        let display = format!("{dept} Group {n}");
        let alias = format!("{}-group{n}", dept.to_lowercase());
        let mut r = self.base(
            RecipientKind::DistributionGroup,
            display.clone(),
            alias,
            display,
        );
        r.department = dept;
        if !candidates.is_empty() {
            let size = self.rng.usize(2..=20).min(candidates.len());
            while r.members.len() < size {
                let member = candidates[self.rng.usize(..candidates.len())];
                if !r.members.contains(&member) {
                    r.members.push(member);
                }
            }
        }
        if !users.is_empty() {
            r.managed_by.push(users[self.rng.usize(..users.len())].0);
        }
        r
    }

    /// Shared mailboxes get FullAccess and SendAs for a few users, as teams set them up.
    fn grant_shared_access(
        &mut self,
        store: &mut RecipientStore,
        shared: &[u32],
        users: &[(u32, String)],
    ) {
        if users.is_empty() {
            return;
        }
        for &mailbox in shared {
            let count = self.rng.usize(1..=4);
            let trustees: Vec<String> = (0..count)
                .map(|_| users[self.rng.usize(..users.len())].1.clone())
                .collect();
            store.update(mailbox, |r| {
                if let Some(data) = r.mailbox.as_mut() {
                    for trustee in trustees {
                        if data.grants.iter().any(|g| g.user == trustee) {
                            continue;
                        }
                        data.grants.push(MailboxGrant {
                            user: trustee.clone(),
                            rights: vec!["FullAccess".into()],
                            deny: false,
                            inherited: false,
                            inheritance: "All",
                        });
                        data.send_as.push(trustee);
                    }
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(seed: u64, mailboxes: usize) -> RecipientStore {
        let mut store = RecipientStore::new("contoso.onmicrosoft.com");
        generate(
            &mut store,
            &Population::around_mailboxes(mailboxes),
            seed,
            "contoso.com",
            "contoso.onmicrosoft.com",
            1_767_225_600,
        );
        store
    }

    #[test]
    fn same_seed_same_directory() {
        let a = build(7, 300);
        let b = build(7, 300);
        let c = build(8, 300);
        let names = |s: &RecipientStore| {
            s.iter()
                .map(|(_, r)| (r.name.clone(), r.guid))
                .collect::<Vec<_>>()
        };
        assert_eq!(names(&a), names(&b));
        assert_ne!(names(&a), names(&c));
    }

    #[test]
    fn counts_and_unique_identities() {
        let store = build(1, 2000);
        let mailboxes = store.iter().filter(|(_, r)| r.kind.is_mailbox()).count();
        assert_eq!(mailboxes, 2000);
        assert_eq!(store.len(), 2000 + 100 + 200 + 40);
        for (id, r) in store.iter() {
            assert_eq!(store.resolve(&r.alias, |_| true), Ok(id), "{}", r.alias);
            assert_eq!(store.resolve(&r.primary_smtp, |_| true), Ok(id));
        }
        let kinds: std::collections::HashSet<_> = store.iter().map(|(_, r)| r.kind).collect();
        assert_eq!(kinds.len(), 7);
    }

    #[test]
    fn each_department_head_manages_its_other_users() {
        let store = build(3, 300);
        let users: Vec<&Recipient> = store
            .iter()
            .map(|(_, r)| r)
            .filter(|r| r.kind == RecipientKind::UserMailbox)
            .collect();
        let heads = users.iter().filter(|r| r.manager.is_none()).count();
        assert_eq!(heads, DEPARTMENTS.len(), "one head per department");
        for user in &users {
            let Some(manager) = user.manager.and_then(|id| store.get(id)) else {
                continue;
            };
            assert_eq!(manager.department, user.department, "{}", user.name);
            assert_eq!(manager.kind, RecipientKind::UserMailbox);
            assert!(manager.manager.is_none(), "a head has no manager");
        }
        assert!(
            store
                .iter()
                .all(|(_, r)| r.kind == RecipientKind::UserMailbox || r.manager.is_none())
        );
    }
}
