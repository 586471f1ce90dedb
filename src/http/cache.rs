//! Rendered pages: a room's chat list and a chat's history, kept as the
//! JSON bytes that were sent, so that a repeated GET is a lookup and a
//! write of ready bytes.
//!
//! A page is keyed by everything its bytes depend on: the base URL (from
//! `--public-url` or `Host`: image and page links are absolute), the path
//! and the query string. It is served only while the [`Stamp`] taken
//! before it was read is current (see `storage::versions`): every write
//! bumps the versions of the pages it changes after its commit and before
//! it is answered or broadcast, so the very next GET reads again.
//!
//! Memory is bounded by [`BUDGET`] bytes (keys, bodies and a fixed
//! overhead per entry); past it, the least recently used pages go.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use bytes::Bytes;

use crate::storage::versions::{Scope, Stamp, Versions};

/// Bytes all cached pages may take together: 8 MiB holds about 300 full
/// pages of 100 chats or messages (~25 KB each), far more small ones.
pub const BUDGET: usize = 8 << 20;

/// Bytes counted per entry besides its key and body: the map slots, the
/// recency index and the entry itself.
const OVERHEAD: usize = 128;

/// A page larger than this share of the budget is not kept.
const LARGEST: usize = BUDGET / 16;

/// The cache of one server.
pub struct Pages {
    versions: Arc<Versions>,
    budget: usize,
    lru: Mutex<Lru>,
}

#[derive(Default)]
struct Lru {
    entries: HashMap<Arc<str>, Entry>,
    /// Key by last use, oldest first.
    recency: BTreeMap<u64, Arc<str>>,
    clock: u64,
    bytes: usize,
}

struct Entry {
    scope: Scope,
    stamp: Stamp,
    body: Bytes,
    used: u64,
}

impl Pages {
    pub fn new(versions: Arc<Versions>) -> Pages {
        Pages::with_budget(versions, BUDGET)
    }

    pub fn with_budget(versions: Arc<Versions>, budget: usize) -> Pages {
        Pages {
            versions,
            budget,
            lru: Mutex::default(),
        }
    }

    /// Take this before reading what a page of `scope` shows.
    pub fn stamp(&self, scope: Scope) -> Stamp {
        self.versions.stamp(scope)
    }

    /// The page under `key`, if it is there and still current.
    pub fn get(&self, key: &str) -> Option<Bytes> {
        let mut lru = self.lock();
        let entry = lru.entries.get(key)?;
        if !self.versions.current(entry.scope, entry.stamp) {
            lru.remove(key);
            return None;
        }
        lru.clock += 1;
        let now = lru.clock;
        let Lru {
            entries, recency, ..
        } = &mut *lru;
        let entry = entries.get_mut(key)?;
        if let Some(key) = recency.remove(&entry.used) {
            recency.insert(now, key);
        }
        entry.used = now;
        Some(entry.body.clone())
    }

    /// Keeps `body`, read after `stamp` was taken, unless something it
    /// shows changed meanwhile.
    pub fn put(&self, key: &str, scope: Scope, stamp: Stamp, body: Bytes) {
        let size = key.len() + body.len() + OVERHEAD;
        if size > LARGEST.min(self.budget) {
            return;
        }
        let mut lru = self.lock();
        // Checked under the lock: a page read before a write that was
        // counted meanwhile is never stored.
        if !self.versions.current(scope, stamp) {
            return;
        }
        lru.remove(key);
        while lru.bytes + size > self.budget {
            let Some((_, oldest)) = lru.recency.pop_first() else {
                break;
            };
            lru.remove(&oldest);
        }
        lru.clock += 1;
        let used = lru.clock;
        let key: Arc<str> = Arc::from(key);
        lru.recency.insert(used, key.clone());
        lru.bytes += size;
        lru.entries.insert(
            key,
            Entry {
                scope,
                stamp,
                body,
                used,
            },
        );
    }

    /// Bytes held now, as counted against the budget.
    pub fn bytes(&self) -> usize {
        self.lock().bytes
    }

    /// Pages held now.
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Lru> {
        self.lru.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Lru {
    fn remove(&mut self, key: &str) {
        if let Some(entry) = self.entries.remove(key) {
            self.recency.remove(&entry.used);
            self.bytes -= key.len() + entry.body.len() + OVERHEAD;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rooms::Room;

    fn pages(budget: usize) -> (Arc<Versions>, Pages) {
        let versions: Arc<Versions> = Arc::default();
        (versions.clone(), Pages::with_budget(versions, budget))
    }

    #[test]
    fn a_change_to_its_scope_expires_a_page() {
        let (versions, pages) = pages(BUDGET);
        let films = Scope::Room(Room::Films);
        pages.put("a", films, pages.stamp(films), Bytes::from_static(b"1"));
        pages.put(
            "b",
            Scope::Chat(1),
            pages.stamp(Scope::Chat(1)),
            Bytes::from_static(b"2"),
        );
        assert_eq!(pages.get("a").as_deref(), Some(&b"1"[..]));
        versions.changed(films);
        assert_eq!(pages.get("a"), None);
        assert_eq!(pages.get("b").as_deref(), Some(&b"2"[..]));
        versions.changed_all();
        assert_eq!(pages.get("b"), None);
        assert_eq!(pages.bytes(), 0);
    }

    #[test]
    fn a_page_read_across_a_change_is_not_kept() {
        let (versions, pages) = pages(BUDGET);
        let stamp = pages.stamp(Scope::Chat(5));
        versions.changed(Scope::Chat(5));
        pages.put("old", Scope::Chat(5), stamp, Bytes::from_static(b"stale"));
        assert_eq!(pages.get("old"), None);
        assert!(pages.is_empty());
    }

    #[test]
    fn the_least_recently_used_pages_go_past_the_budget() {
        let body = Bytes::from(vec![b'x'; 1000]);
        let size = 1 + 1000 + OVERHEAD;
        let (_, pages) = pages(size * 3 + 10);
        let scope = Scope::Chat(1);
        for key in ["a", "b", "c"] {
            pages.put(key, scope, pages.stamp(scope), body.clone());
        }
        assert!(pages.get("a").is_some());
        pages.put("d", scope, pages.stamp(scope), body.clone());
        assert_eq!(pages.len(), 3);
        assert!(pages.get("b").is_none(), "b was the least recently used");
        assert!(pages.get("a").is_some() && pages.get("d").is_some());
        assert!(pages.bytes() <= size * 3 + 10);
        for n in 0..1000 {
            pages.put(&format!("k{n:04}"), scope, pages.stamp(scope), body.clone());
            assert!(pages.bytes() <= size * 3 + 10);
        }
    }
}
