//! Queries of the `chats` table.

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::now_timestamp;
use crate::rooms::Room;

/// A stored chat, with its creator's username.
#[derive(Debug, Clone)]
pub struct Chat {
    pub id: i64,
    pub room: Room,
    pub title: String,
    pub description: Option<String>,
    /// Media path of the chat's own image; `None` means the default image.
    pub img: Option<String>,
    pub creator_id: i64,
    pub creator: String,
    pub created_at: String,
}

/// The columns of a [`Chat`] ([`from_row`] reads them), used with
/// `FROM chats c JOIN users u ON u.id = c.creator_id`.
pub const COLUMNS: &str =
    "c.id, c.room, c.title, c.description, c.img, c.creator_id, u.username, c.created_at";

const SELECT: &str = "SELECT c.id, c.room, c.title, c.description, c.img, c.creator_id,
                             u.username, c.created_at
                      FROM chats c JOIN users u ON u.id = c.creator_id";

/// Reads a [`Chat`] from a row that starts with [`COLUMNS`].
pub fn from_row(row: &Row<'_>) -> rusqlite::Result<Chat> {
    let room: String = row.get(1)?;
    Ok(Chat {
        id: row.get(0)?,
        // The CHECK constraint keeps other values out of the table.
        room: Room::parse(&room).ok_or_else(|| {
            rusqlite::Error::FromSqlConversionFailure(
                1,
                rusqlite::types::Type::Text,
                format!("unknown room {room:?}").into(),
            )
        })?,
        title: row.get(2)?,
        description: row.get(3)?,
        img: row.get(4)?,
        creator_id: row.get(5)?,
        creator: row.get(6)?,
        created_at: row.get(7)?,
    })
}

/// A validated chat to insert.
#[derive(Debug, Clone)]
pub struct NewChat {
    pub room: Room,
    pub title: String,
    pub description: Option<String>,
    pub img: Option<String>,
    pub creator_id: i64,
}

/// Inserts a chat; a taken title fails with a UNIQUE violation
/// (see [`super::is_unique_violation`]).
pub fn insert(conn: &Connection, chat: &NewChat) -> rusqlite::Result<Chat> {
    conn.prepare_cached(
        "INSERT INTO chats (room, title, description, img, creator_id, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        chat.room.as_str(),
        chat.title,
        chat.description,
        chat.img,
        chat.creator_id,
        now_timestamp()
    ])?;
    let id = conn.last_insert_rowid();
    conn.prepare_cached(&format!("{SELECT} WHERE c.id = ?1"))?
        .query_row([id], from_row)
}

/// The chat `id` if it is in `room`.
/// Which of the chats `ids` no longer exist.
pub fn missing(conn: &Connection, ids: &[i64]) -> rusqlite::Result<Vec<i64>> {
    let mut exists = conn.prepare_cached("SELECT 1 FROM chats WHERE id = ?1")?;
    let mut missing = Vec::new();
    for &id in ids {
        if !exists.exists([id])? {
            missing.push(id);
        }
    }
    Ok(missing)
}

pub fn get(conn: &Connection, room: Room, id: i64) -> rusqlite::Result<Option<Chat>> {
    conn.prepare_cached(&format!("{SELECT} WHERE c.id = ?1 AND c.room = ?2"))?
        .query_row(params![id, room.as_str()], from_row)
        .optional()
}

/// Number of chats in `room`.
pub fn count(conn: &Connection, room: Room) -> rusqlite::Result<u64> {
    conn.prepare_cached("SELECT COUNT(*) FROM chats WHERE room = ?1")?
        .query_row([room.as_str()], |row| row.get(0))
}

/// Up to `limit` chats of `room`, oldest first, skipping `offset`.
///
/// The limit is written into the SQL, not bound: with a bound `LIMIT` this
/// SQLite (STAT4) re-prepares the statement on every run, which was 14% of
/// the CPU of listing a room. Callers pass a constant, so the cached
/// statement is reused.
pub fn list(conn: &Connection, room: Room, offset: u64, limit: u64) -> rusqlite::Result<Vec<Chat>> {
    conn.prepare_cached(&format!(
        "{SELECT} WHERE c.room = ?1 ORDER BY c.id LIMIT {limit} OFFSET ?2"
    ))?
    .query_map(params![room.as_str(), offset], from_row)?
    .collect()
}

/// What a PATCH changes; `None` leaves a column as it is.
#[derive(Debug, Clone, Default)]
pub struct ChatChange {
    pub description: Option<Option<String>>,
    pub img: Option<Option<String>>,
}

/// Applies `change` to chat `id`; returns the updated chat and the image it
/// replaced (if the image changed), or `None` when the chat is gone.
pub fn update(
    conn: &mut Connection,
    room: Room,
    id: i64,
    change: &ChatChange,
) -> rusqlite::Result<Option<(Chat, Option<String>)>> {
    let tx = super::write_transaction(conn)?;
    let Some(before) = get(&tx, room, id)? else {
        return Ok(None);
    };
    if let Some(description) = &change.description {
        tx.execute(
            "UPDATE chats SET description = ?2 WHERE id = ?1",
            params![id, description],
        )?;
    }
    let mut replaced = None;
    if let Some(img) = &change.img {
        tx.execute("UPDATE chats SET img = ?2 WHERE id = ?1", params![id, img])?;
        replaced = before.img.clone();
    }
    let after = get(&tx, room, id)?;
    tx.commit()?;
    Ok(after.map(|chat| (chat, replaced)))
}

/// Deletes chat `id` (its messages go with it); returns its own image path
/// and those of its messages' images.
/// `Ok(None)` when there was no such chat.
pub fn delete(
    conn: &mut Connection,
    room: Room,
    id: i64,
) -> rusqlite::Result<Option<(Option<String>, Vec<String>)>> {
    let tx = super::write_transaction(conn)?;
    let img: Option<Option<String>> = tx
        .query_row(
            "SELECT img FROM chats WHERE id = ?1 AND room = ?2",
            params![id, room.as_str()],
            |row| row.get(0),
        )
        .optional()?;
    let Some(img) = img else {
        return Ok(None);
    };
    let images = super::messages::images(&tx, id, 0)?;
    tx.execute("DELETE FROM chats WHERE id = ?1", [id])?;
    tx.commit()?;
    Ok(Some((img, images)))
}
