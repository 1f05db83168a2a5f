//! The recipients of one tenant, with the identity index `-Identity` resolves through.
//!
//! `-Identity` accepts a UPN, any SMTP address, alias, name, GUID, external directory object id or
//! distinguished name. The index keys are 64-bit hashes of the lowercased text (a million
//! recipients would otherwise cost millions of small strings); every hit is checked against the
//! recipient itself, so a hash collision can never resolve to the wrong object.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use uuid::Uuid;

use super::recipient::{Recipient, RecipientKind};

/// Why an identity did not resolve to exactly one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolve {
    /// Nothing matches.
    NotFound,
    /// More than one recipient matches.
    Ambiguous,
}

/// Recipients of a tenant, addressed by a stable `u32` id (their slot).
#[derive(Default)]
pub struct RecipientStore {
    slots: Vec<Option<Recipient>>,
    /// The kind of each slot (None once removed): scans by kind touch one byte per recipient
    /// instead of a whole recipient.
    kinds: Vec<Option<RecipientKind>>,
    index: HashMap<u64, u32, BuildHasherDefault<PreHashed>>,
    overflow: Vec<Vec<u32>>,
    ou: String,
}

/// High bit of an index value: the rest is an `overflow` position, not a recipient id.
const MANY: u32 = 1 << 31;

impl RecipientStore {
    /// An empty store whose distinguished names live under the tenant's OU.
    pub fn new(tenant_domain: &str) -> RecipientStore {
        RecipientStore {
            ou: format!(
                "OU={tenant_domain},OU=Microsoft Exchange Hosted Organizations,DC=NAMPR01A001,DC=PROD,DC=OUTLOOK,DC=COM"
            ),
            ..RecipientStore::default()
        }
    }

    /// Reserves room for `n` more recipients.
    pub fn reserve(&mut self, n: usize) {
        self.slots.reserve(n);
        self.kinds.reserve(n);
        self.index.reserve(n * 7);
    }

    /// The organizational unit path used in `DistinguishedName` and `OrganizationalUnit`.
    pub fn ou(&self) -> &str {
        &self.ou
    }

    /// The distinguished name of a recipient.
    pub fn distinguished_name(&self, recipient: &Recipient) -> String {
        format!("CN={},{}", recipient.name, self.ou)
    }

    /// Adds a recipient and indexes its identities; returns its id.
    pub fn insert(&mut self, recipient: Recipient) -> u32 {
        let id = u32::try_from(self.slots.len()).expect("fewer than 2^31 recipients");
        self.index_recipient(id, &recipient);
        self.kinds.push(Some(recipient.kind));
        self.slots.push(Some(recipient));
        id
    }

    /// Removes a recipient; its id is never reused.
    pub fn remove(&mut self, id: u32) -> Option<Recipient> {
        let recipient = self.slots.get_mut(id as usize)?.take()?;
        self.kinds[id as usize] = None;
        for_each_identity(&recipient, |key| self.unindex(hash_key(key), id));
        Some(recipient)
    }

    /// The recipient with this id, unless removed.
    pub fn get(&self, id: u32) -> Option<&Recipient> {
        self.slots.get(id as usize)?.as_ref()
    }

    /// Changes a recipient; identities are re-indexed afterwards.
    pub fn update<T>(&mut self, id: u32, change: impl FnOnce(&mut Recipient) -> T) -> Option<T> {
        let mut recipient = self.slots.get_mut(id as usize)?.take()?;
        for_each_identity(&recipient, |key| self.unindex(hash_key(key), id));
        let out = change(&mut recipient);
        self.index_recipient(id, &recipient);
        self.kinds[id as usize] = Some(recipient.kind);
        self.slots[id as usize] = Some(recipient);
        Some(out)
    }

    /// All live recipients with their ids, in creation order.
    pub fn iter(&self) -> impl Iterator<Item = (u32, &Recipient)> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, r)| r.as_ref().map(|r| (i as u32, r)))
    }

    /// Ids of live recipients whose kind `want` accepts, in creation order, without touching
    /// the recipients themselves.
    pub fn ids_of_kind(&self, want: impl Fn(RecipientKind) -> bool) -> impl Iterator<Item = u32> {
        self.kinds
            .iter()
            .enumerate()
            .filter_map(move |(i, k)| k.filter(|k| want(*k)).map(|_| i as u32))
    }

    /// Number of live recipients.
    pub fn len(&self) -> usize {
        self.kinds.iter().filter(|k| k.is_some()).count()
    }

    /// True when the tenant has no recipients.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Finds the recipients an `-Identity` value names, among those `accept` allows.
    pub fn resolve(
        &self,
        identity: &str,
        accept: impl Fn(&Recipient) -> bool,
    ) -> Result<u32, Resolve> {
        let wanted = identity_lookup_key(identity);
        let mut found: Option<u32> = None;
        for id in self.candidates(hash_key(&wanted)) {
            let Some(recipient) = self.get(id) else {
                continue;
            };
            let mut answers = false;
            for_each_identity(recipient, |key| answers |= same_identity(key, &wanted));
            if !accept(recipient) || !answers {
                continue;
            }
            match found {
                None => found = Some(id),
                Some(prev) if prev == id => {}
                Some(_) => return Err(Resolve::Ambiguous),
            }
        }
        found.ok_or(Resolve::NotFound)
    }

    fn candidates(&self, hash: u64) -> Vec<u32> {
        match self.index.get(&hash) {
            None => Vec::new(),
            Some(&v) if v & MANY != 0 => self.overflow[(v & !MANY) as usize].clone(),
            Some(&v) => vec![v],
        }
    }

    fn index_recipient(&mut self, id: u32, recipient: &Recipient) {
        let mut hashes = Vec::with_capacity(8);
        for_each_identity(recipient, |key| hashes.push(hash_key(key)));
        for hash in hashes {
            match self.index.get(&hash).copied() {
                None => {
                    self.index.insert(hash, id);
                }
                Some(v) if v == id => {}
                Some(v) if v & MANY != 0 => {
                    let list = &mut self.overflow[(v & !MANY) as usize];
                    if !list.contains(&id) {
                        list.push(id);
                    }
                }
                Some(v) => {
                    let pos = u32::try_from(self.overflow.len()).expect("overflow fits u31");
                    self.overflow.push(vec![v, id]);
                    self.index.insert(hash, pos | MANY);
                }
            }
        }
    }

    fn unindex(&mut self, hash: u64, id: u32) {
        match self.index.get(&hash).copied() {
            Some(v) if v == id => {
                self.index.remove(&hash);
            }
            Some(v) if v & MANY != 0 => self.overflow[(v & !MANY) as usize].retain(|&x| x != id),
            _ => {}
        }
    }
}

/// Calls `visit` with every identity a recipient answers to, as stored (any case).
fn for_each_identity(recipient: &Recipient, mut visit: impl FnMut(&str)) {
    let mut buf = Uuid::encode_buffer();
    visit(&recipient.name);
    visit(&recipient.alias);
    visit(recipient.guid.hyphenated().encode_lower(&mut buf));
    visit(recipient.external_id.hyphenated().encode_lower(&mut buf));
    if let Some(upn) = &recipient.upn {
        visit(upn);
    }
    recipient.smtp_addresses().for_each(visit);
}

/// Compares a stored identity with a lookup key that is already lowercase.
fn same_identity(stored: &str, lower_key: &str) -> bool {
    stored
        .chars()
        .flat_map(char::to_lowercase)
        .eq(lower_key.chars())
}

/// Normalizes an `-Identity` value to the form identities are indexed under.
fn identity_lookup_key(identity: &str) -> String {
    let trimmed = identity.trim();
    if let Ok(guid) = Uuid::parse_str(trimmed) {
        return guid.hyphenated().to_string();
    }
    let lower = trimmed.to_lowercase();
    if let Some(rest) = lower.strip_prefix("smtp:") {
        return rest.to_string();
    }
    if let Some(rest) = lower.strip_prefix("cn=") {
        // A distinguished name resolves through its CN, which is the recipient's name.
        return rest.split(',').next().unwrap_or_default().to_string();
    }
    lower
}

/// The index keys are already hashes: the map uses them as they are.
#[derive(Default)]
struct PreHashed(u64);

impl Hasher for PreHashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0100_0000_01b3;

/// FNV-1a over the lowercased text, finished with a multiply-xorshift so the low bits the map
/// uses are well mixed: stable, fast, no allocation.
fn hash_key(key: &str) -> u64 {
    let hash = if key.is_ascii() {
        key.bytes().fold(FNV_OFFSET, |h, b| {
            (h ^ u64::from(b.to_ascii_lowercase())).wrapping_mul(FNV_PRIME)
        })
    } else {
        hash_unicode(key)
    };
    let mixed = (hash ^ (hash >> 32)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    mixed ^ (mixed >> 29)
}

fn hash_unicode(key: &str) -> u64 {
    let mut hash = FNV_OFFSET;
    let mut utf8 = [0u8; 4];
    for c in key.chars().flat_map(char::to_lowercase) {
        for &b in c.encode_utf8(&mut utf8).as_bytes() {
            hash = (hash ^ u64::from(b)).wrapping_mul(FNV_PRIME);
        }
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contact(name: &str, alias: &str, smtp: &str) -> Recipient {
        Recipient {
            guid: Uuid::new_v4(),
            external_id: Uuid::new_v4(),
            kind: RecipientKind::MailContact,
            name: name.into(),
            alias: alias.into(),
            display_name: name.into(),
            first_name: String::new(),
            last_name: String::new(),
            upn: None,
            primary_smtp: smtp.into(),
            secondary_smtp: vec![],
            external_email: Some(smtp.into()),
            department: "",
            city: "",
            title: "",
            hidden: false,
            custom_attribute1: String::new(),
            created: 0,
            changed: 0,
            mailbox: None,
            members: vec![],
            managed_by: vec![],
            manager: None,
        }
    }

    #[test]
    fn resolves_every_identity_form_case_insensitively() {
        let mut store = RecipientStore::new("contoso.onmicrosoft.com");
        let r = contact("Ann Smith", "ann", "ann@fabrikam.com");
        let guid = r.guid;
        let id = store.insert(r);
        let dn = store.distinguished_name(store.get(id).unwrap());
        for identity in [
            "ann smith",
            "ANN",
            "Ann@Fabrikam.com",
            "SMTP:ann@fabrikam.com",
            &guid.to_string().to_uppercase(),
            &dn,
        ] {
            assert_eq!(store.resolve(identity, |_| true), Ok(id), "{identity}");
        }
        assert_eq!(store.resolve("bob", |_| true), Err(Resolve::NotFound));
        assert_eq!(store.resolve("ann", |_| false), Err(Resolve::NotFound));
    }

    #[test]
    fn two_recipients_with_one_identity_are_ambiguous() {
        let mut store = RecipientStore::new("contoso.onmicrosoft.com");
        store.insert(contact("Ann", "ann1", "a1@x.com"));
        store.insert(contact("ann1", "ann2", "a2@x.com"));
        assert_eq!(store.resolve("ann1", |_| true), Err(Resolve::Ambiguous));
    }

    #[test]
    fn removal_and_update_reindex() {
        let mut store = RecipientStore::new("contoso.onmicrosoft.com");
        let id = store.insert(contact("Ann", "ann", "a@x.com"));
        store.update(id, |r| r.primary_smtp = "ann@y.com".into());
        assert_eq!(store.resolve("a@x.com", |_| true), Err(Resolve::NotFound));
        assert_eq!(store.resolve("ann@y.com", |_| true), Ok(id));
        store.remove(id);
        assert_eq!(store.resolve("ann", |_| true), Err(Resolve::NotFound));
        assert!(store.is_empty());
    }
}
