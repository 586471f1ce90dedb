//! Versions of what pages show, for caches of rendered pages.
//!
//! Every write bumps the version of what it changes, after its commit and
//! before anyone hears of it: a room's chat list ([`Scope::Room`]), a
//! chat's messages ([`Scope::Chat`]), or everything ([`Versions::changed_all`]:
//! a user's name or avatar shows in every page they wrote in). A cache
//! takes a [`Stamp`] *before* it reads, and a page is served only while its
//! stamp is still current; so a page read before a commit that lands
//! during the read is never served after it.
//!
//! Chats share a fixed number of counters (by id), so the memory is fixed;
//! a write to one chat may also expire pages of a few others.
//!
//! Writes by another process on the same file (`chatd user delete` while a
//! server runs) are not seen here. A watcher thread asks SQLite every
//! [`WATCH_EVERY`] whether any other connection committed
//! (`PRAGMA data_version`) and then expires everything.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Weak;
use std::time::Duration;

use crate::rooms::Room;

/// What a page depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// A room's chat list.
    Room(Room),
    /// A chat's history (and whether the chat is there at all).
    Chat(i64),
}

/// The versions a page was read at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    all: u64,
    scope: u64,
}

/// Counters shared by chats (plus one per room).
const STRIPES: usize = 4096;

/// How often the watcher looks for commits by other connections.
pub const WATCH_EVERY: Duration = Duration::from_millis(500);

/// The version counters of one database.
pub struct Versions {
    all: AtomicU64,
    stripes: Box<[AtomicU64]>,
}

impl Default for Versions {
    fn default() -> Versions {
        Versions {
            all: AtomicU64::new(0),
            stripes: (0..STRIPES + Room::ALL.len())
                .map(|_| AtomicU64::new(0))
                .collect(),
        }
    }
}

impl Versions {
    /// The current versions of `scope`: take it before reading.
    pub fn stamp(&self, scope: Scope) -> Stamp {
        Stamp {
            all: self.all.load(Ordering::SeqCst),
            scope: self.stripe(scope).load(Ordering::SeqCst),
        }
    }

    /// True while nothing `scope` depends on changed since `stamp`.
    pub fn current(&self, scope: Scope, stamp: Stamp) -> bool {
        self.stamp(scope) == stamp
    }

    /// `scope` changed (call after the commit, before answering).
    pub fn changed(&self, scope: Scope) {
        self.stripe(scope).fetch_add(1, Ordering::SeqCst);
    }

    /// Everything may have changed.
    pub fn changed_all(&self) {
        self.all.fetch_add(1, Ordering::SeqCst);
    }

    fn stripe(&self, scope: Scope) -> &AtomicU64 {
        let index = match scope {
            Scope::Room(room) => Room::ALL.iter().position(|r| *r == room).unwrap_or(0),
            Scope::Chat(id) => Room::ALL.len() + id.rem_euclid(STRIPES as i64) as usize,
        };
        &self.stripes[index]
    }
}

/// Starts the thread that expires everything when another connection has
/// committed; it ends once `versions` is dropped.
pub fn watch(path: &Path, versions: Weak<Versions>) -> anyhow::Result<()> {
    let conn = super::connect(path)?;
    let version = |conn: &rusqlite::Connection| -> rusqlite::Result<i64> {
        conn.query_row("PRAGMA data_version", [], |row| row.get(0))
    };
    let mut seen = version(&conn)?;
    std::thread::Builder::new()
        .name("chatd-watch".into())
        .spawn(move || loop {
            std::thread::sleep(WATCH_EVERY);
            let Some(versions) = versions.upgrade() else {
                return;
            };
            match version(&conn) {
                Ok(now) if now != seen => {
                    seen = now;
                    versions.changed_all();
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "cannot read the data version"),
            }
        })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn a_change_expires_its_scope_and_everything_expires_all() {
        let versions: Arc<Versions> = Arc::default();
        let films = versions.stamp(Scope::Room(Room::Films));
        let chat = versions.stamp(Scope::Chat(7));
        versions.changed(Scope::Chat(8));
        assert!(versions.current(Scope::Room(Room::Films), films));
        assert!(versions.current(Scope::Chat(7), chat));
        versions.changed(Scope::Chat(7));
        assert!(!versions.current(Scope::Chat(7), chat));
        assert!(versions.current(Scope::Room(Room::Films), films));
        versions.changed_all();
        assert!(!versions.current(Scope::Room(Room::Films), films));
    }
}
