//! Queries of the `messages` table. Reads go through the pool; every write
//! goes through the single writer (`crate::live::writer`), which calls the
//! functions here inside its group-commit transactions.

use rusqlite::{params, Connection, OptionalExtension, Row};

/// A stored message with its author's name and avatar.
#[derive(Debug, Clone)]
pub struct Message {
    pub id: i64,
    pub chat_id: i64,
    pub user_id: i64,
    pub user_name: String,
    pub user_avatar: Option<String>,
    pub text: String,
    pub created_at: String,
    pub edited_at: Option<String>,
    pub is_deleted: bool,
}

const SELECT: &str = "SELECT m.id, m.chat_id, m.user_id, u.username, u.avatar, m.text,
                             m.created_at, m.edited_at, m.is_deleted
                      FROM messages m JOIN users u ON u.id = m.user_id";

fn from_row(row: &Row<'_>) -> rusqlite::Result<Message> {
    Ok(Message {
        id: row.get(0)?,
        chat_id: row.get(1)?,
        user_id: row.get(2)?,
        user_name: row.get(3)?,
        user_avatar: row.get(4)?,
        text: row.get(5)?,
        created_at: row.get(6)?,
        edited_at: row.get(7)?,
        is_deleted: row.get(8)?,
    })
}

/// Inserts a message and returns its id. Fails with a FOREIGN KEY error
/// when the chat is gone.
pub fn insert(
    conn: &Connection,
    chat_id: i64,
    user_id: i64,
    text: &str,
    at: &str,
) -> rusqlite::Result<i64> {
    conn.prepare_cached(
        "INSERT INTO messages (chat_id, user_id, text, created_at) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![chat_id, user_id, text, at])?;
    Ok(conn.last_insert_rowid())
}

pub fn get(conn: &Connection, id: i64) -> rusqlite::Result<Option<Message>> {
    conn.prepare_cached(&format!("{SELECT} WHERE m.id = ?1"))?
        .query_row([id], from_row)
        .optional()
}

/// Number of messages of a chat with an id above `after` (0: all).
pub fn count(conn: &Connection, chat_id: i64, after: i64) -> rusqlite::Result<u64> {
    conn.prepare_cached("SELECT COUNT(*) FROM messages WHERE chat_id = ?1 AND id > ?2")?
        .query_row(params![chat_id, after], |row| row.get(0))
}

/// Messages of a chat with an id above `after`, oldest first, paged.
pub fn page(
    conn: &Connection,
    chat_id: i64,
    after: i64,
    offset: u64,
    limit: u64,
) -> rusqlite::Result<Vec<Message>> {
    // The limit is in the SQL text, not bound (see `chats::list`).
    conn.prepare_cached(&format!(
        "{SELECT} WHERE m.chat_id = ?1 AND m.id > ?2 ORDER BY m.id LIMIT {limit} OFFSET ?3"
    ))?
    .query_map(params![chat_id, after, offset], from_row)?
    .collect()
}

/// The last `n` messages of a chat, oldest first.
pub fn last(conn: &Connection, chat_id: i64, n: u64) -> rusqlite::Result<Vec<Message>> {
    let mut messages: Vec<Message> = conn
        .prepare_cached(&format!(
            "{SELECT} WHERE m.chat_id = ?1 ORDER BY m.id DESC LIMIT {n}"
        ))?
        .query_map(params![chat_id], from_row)?
        .collect::<rusqlite::Result<_>>()?;
    messages.reverse();
    Ok(messages)
}

/// Replaces the text of a message and marks it edited.
pub fn edit(conn: &Connection, id: i64, text: &str, at: &str) -> rusqlite::Result<()> {
    conn.prepare_cached("UPDATE messages SET text = ?2, edited_at = ?3 WHERE id = ?1")?
        .execute(params![id, text, at])?;
    Ok(())
}

/// Soft-deletes a message: it stays in history, without its text.
pub fn soft_delete(conn: &Connection, id: i64) -> rusqlite::Result<()> {
    conn.prepare_cached("UPDATE messages SET text = '', is_deleted = 1 WHERE id = ?1")?
        .execute([id])?;
    Ok(())
}

/// The highest message id of a chat (0 when it has none).
pub fn newest_id(conn: &Connection, chat_id: i64) -> rusqlite::Result<i64> {
    conn.prepare_cached("SELECT COALESCE(MAX(id), 0) FROM messages WHERE chat_id = ?1")?
        .query_row([chat_id], |row| row.get(0))
}
