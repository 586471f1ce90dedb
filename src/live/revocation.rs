//! Revocation that reaches open sockets. A socket is authenticated once,
//! when it opens; when that user's tokens are revoked later (the account
//! deleted or suspended, the password changed) its sockets must close too,
//! with `not_authenticated` and 4401.
//!
//! The API calls [`Hub::revoke_user`] itself. The command line (`chatd
//! user delete|set-password`, and whatever else bumps
//! `users.token_version` or removes a user) runs in another process, so a
//! watcher thread checks `PRAGMA data_version` on a connection of its own
//! once a second; when another connection committed, it re-reads the token
//! versions of the users with open sockets and closes the sockets opened
//! under an older version, or of a user who is gone. Any revocation that is
//! a token-version bump (a suspension too) is covered without more code.
//! Chats deleted by another process (with their creator, by `chatd user
//! delete`) are told `chat_deleted` and closed, as the API does.

use std::path::Path;
use std::sync::{Arc, Weak};
use std::time::Duration;

use rusqlite::Connection;

use crate::live::fanout::{Event, Fanout};
use crate::live::hub::Hub;
use crate::storage::{self, chats, users};

/// How often the watcher looks for commits by others.
pub const CHECK_EVERY: Duration = Duration::from_secs(1);

/// Starts the watcher thread for `hub` on the database at `db_path`. It
/// ends when the hub shuts down or is dropped.
pub fn watch(hub: &Arc<Hub>, db_path: &Path) -> anyhow::Result<()> {
    let conn = storage::connect(db_path)?;
    let hub = Arc::downgrade(hub);
    std::thread::Builder::new()
        .name("chatd-revocation".to_string())
        .spawn(move || run(&conn, &hub))?;
    Ok(())
}

fn run(conn: &Connection, hub: &Weak<Hub>) {
    let mut seen = None;
    loop {
        std::thread::sleep(CHECK_EVERY);
        let Some(hub) = hub.upgrade() else { return };
        if hub.is_shutting_down() {
            return;
        }
        match check(conn, &hub, seen) {
            Ok(version) => seen = Some(version),
            // Checked again next time (`seen` unchanged).
            Err(error) => tracing::warn!(%error, "cannot check for revoked tokens"),
        }
    }
}

/// One check; returns the data version it saw.
fn check(conn: &Connection, hub: &Hub, seen: Option<i64>) -> rusqlite::Result<i64> {
    let version = storage::data_version(conn)?;
    if seen == Some(version) {
        return Ok(version);
    }
    let signed_in = hub.signed_in();
    if !signed_in.is_empty() {
        let current = users::token_versions(conn, &signed_in)?;
        let closed = hub.revoke_stale(&signed_in, &current);
        if closed > 0 {
            tracing::info!(closed, "closed the sockets of revoked users");
        }
    }
    for chat_id in chats::missing(conn, &hub.open_chats())? {
        tracing::info!(
            chat_id,
            "closing the sockets of a chat deleted by another process"
        );
        hub.publish(chat_id, Event::ChatDeleted);
    }
    Ok(version)
}
