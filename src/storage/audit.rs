//! Queries of the `audit_log` table: what staff and operators did.

use rusqlite::{params, Connection, Row};

use super::now_timestamp;

/// Who acts when an operator runs a `chatd` command (no account): a name
/// no username can be, since usernames have no spaces or parentheses.
pub const COMMAND_LINE: &str = "(command line)";

/// One recorded action.
#[derive(Debug, Clone)]
pub struct Entry {
    pub id: i64,
    /// A username, or [`COMMAND_LINE`].
    pub actor: String,
    /// e.g. `user.suspend`, `message.delete`.
    pub action: String,
    /// What it was done to, e.g. a username or `message 12`.
    pub target: String,
    pub detail: String,
    pub created_at: String,
}

/// Records an action, inside the caller's transaction when there is one, so
/// an action and its record commit together.
pub fn record(
    conn: &Connection,
    actor: &str,
    action: &str,
    target: &str,
    detail: &str,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO audit_log (actor, action, target, detail, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![actor, action, target, detail, now_timestamp()])?;
    Ok(())
}

pub fn count(conn: &Connection) -> rusqlite::Result<u64> {
    conn.query_row("SELECT COUNT(*) FROM audit_log", [], |row| row.get(0))
}

/// Entries newest first.
pub fn page(conn: &Connection, offset: u64, limit: u64) -> rusqlite::Result<Vec<Entry>> {
    conn.prepare_cached(
        "SELECT id, actor, action, target, detail, created_at FROM audit_log
         ORDER BY id DESC LIMIT ?1 OFFSET ?2",
    )?
    .query_map(params![limit, offset], from_row)?
    .collect()
}

fn from_row(row: &Row<'_>) -> rusqlite::Result<Entry> {
    Ok(Entry {
        id: row.get(0)?,
        actor: row.get(1)?,
        action: row.get(2)?,
        target: row.get(3)?,
        detail: row.get(4)?,
        created_at: row.get(5)?,
    })
}
