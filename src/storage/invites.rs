//! Queries of the `invites` table. Codes are never stored, only their
//! hashes (see `crate::domain::moderation::invite_hash`).

use rusqlite::{params, Connection};

use super::now_timestamp;

/// Stores a new invite; returns its id.
pub fn insert(
    conn: &Connection,
    code_hash: &str,
    uses: u32,
    expires_at: &str,
    created_by: &str,
) -> rusqlite::Result<i64> {
    conn.execute(
        "INSERT INTO invites (code_hash, uses_left, expires_at, created_by, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![code_hash, uses, expires_at, created_by, now_timestamp()],
    )?;
    Ok(conn.last_insert_rowid())
}

/// The invite with hash `?1` that can be used at time `?2`: it has a use
/// left and has not expired.
const USABLE: &str = "code_hash = ?1 AND uses_left > 0 AND expires_at > ?2";

/// Takes one use of the invite with this hash if it has one left and has
/// not expired. One statement, so two registrations on its last use cannot
/// both take it; false when there was none to take.
pub fn consume(conn: &Connection, code_hash: &str) -> rusqlite::Result<bool> {
    let changed = conn.execute(
        &format!("UPDATE invites SET uses_left = uses_left - 1 WHERE {USABLE}"),
        params![code_hash, now_timestamp()],
    )?;
    Ok(changed == 1)
}

/// Whether the invite with this hash could be used now, taking nothing: a
/// refused registration reports a bad code with its other errors.
pub fn usable(conn: &Connection, code_hash: &str) -> rusqlite::Result<bool> {
    conn.query_row(
        &format!("SELECT EXISTS (SELECT 1 FROM invites WHERE {USABLE})"),
        params![code_hash, now_timestamp()],
        |row| row.get(0),
    )
}
