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
    /// Media path of the image posted with it.
    pub image: Option<String>,
    /// Usernames it mentions, in order of appearance.
    pub mentions: Vec<String>,
    /// Reactions, emoji in order of first use.
    pub reactions: Vec<Reaction>,
}

/// One emoji on a message and who reacted with it, in turn.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Reaction {
    pub emoji: String,
    pub users: Vec<String>,
}

/// The columns of a [`Message`], mentions and reactions as JSON arrays
/// built by SQLite (one statement, no query per message). Used with
/// `FROM messages m JOIN users u ON u.id = m.user_id`.
macro_rules! columns {
    () => {
        "m.id, m.chat_id, m.user_id, u.username, u.avatar, m.text,
       m.created_at, m.edited_at, m.is_deleted, m.image,
       (SELECT json_group_array(mu.username ORDER BY mn.rowid)
          FROM mentions mn JOIN users mu ON mu.id = mn.user_id WHERE mn.message_id = m.id),
       (SELECT json_group_array(json_array(r.emoji, ru.username) ORDER BY r.id)
          FROM reactions r JOIN users ru ON ru.id = r.user_id WHERE r.message_id = m.id)"
    };
}

/// See `columns!`; [`message_from_row`] reads them.
pub const COLUMNS: &str = columns!();

const SELECT: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM messages m JOIN users u ON u.id = m.user_id"
);

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
        image: row.get(9)?,
        mentions: json_column(row, 10)?,
        reactions: group_reactions(json_column::<Vec<(String, String)>>(row, 11)?),
    })
}

/// Reads a [`Message`] from a row that starts with [`COLUMNS`].
pub fn message_from_row(row: &Row<'_>) -> rusqlite::Result<Message> {
    from_row(row)
}

fn json_column<T: serde::de::DeserializeOwned>(row: &Row<'_>, index: usize) -> rusqlite::Result<T> {
    let text: String = row.get(index)?;
    serde_json::from_str(&text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Text, e.into())
    })
}

/// `(emoji, user)` pairs in reaction order, grouped by emoji in order of
/// first use.
fn group_reactions(pairs: Vec<(String, String)>) -> Vec<Reaction> {
    let mut reactions: Vec<Reaction> = Vec::new();
    for (emoji, user) in pairs {
        match reactions.iter_mut().find(|r| r.emoji == emoji) {
            Some(reaction) => reaction.users.push(user),
            None => reactions.push(Reaction {
                emoji,
                users: vec![user],
            }),
        }
    }
    reactions
}

/// Inserts a message (with the media path of its image, if any) and
/// records whom it mentions (see [`record_mentions`]); returns it as
/// stored. Fails with a FOREIGN KEY error when the chat is gone.
///
/// The message is built from what was written rather than read back: this
/// runs for every message between its arrival and its broadcast.
pub fn insert(
    conn: &Connection,
    chat_id: i64,
    user_id: i64,
    text: &str,
    image: Option<&str>,
    at: &str,
    mentions: &[Vec<String>],
) -> rusqlite::Result<Message> {
    conn.prepare_cached(
        "INSERT INTO messages (chat_id, user_id, text, created_at, image)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![chat_id, user_id, text, at, image])?;
    let id = conn.last_insert_rowid();
    let (user_name, user_avatar) = conn
        .prepare_cached("SELECT username, avatar FROM users WHERE id = ?1")?
        .query_row([user_id], |row| Ok((row.get(0)?, row.get(1)?)))?;
    Ok(Message {
        id,
        chat_id,
        user_id,
        user_name,
        user_avatar,
        text: text.to_string(),
        created_at: at.to_string(),
        edited_at: None,
        is_deleted: false,
        image: image.map(str::to_string),
        mentions: add_mentions(conn, id, mentions)?,
        reactions: Vec::new(),
    })
}

/// Records which users message `id` mentions, replacing what was recorded:
/// `mentions` holds, per `@name` of the text, the usernames to try in turn
/// (the first that exists is the one meant).
pub fn record_mentions(
    conn: &Connection,
    id: i64,
    mentions: &[Vec<String>],
) -> rusqlite::Result<()> {
    conn.prepare_cached("DELETE FROM mentions WHERE message_id = ?1")?
        .execute([id])?;
    add_mentions(conn, id, mentions).map(drop)
}

/// Records the users message `id` mentions; returns their usernames, each
/// once, in order of appearance.
fn add_mentions(
    conn: &Connection,
    id: i64,
    mentions: &[Vec<String>],
) -> rusqlite::Result<Vec<String>> {
    let mut named = Vec::new();
    if mentions.is_empty() {
        return Ok(named);
    }
    let mut find = conn.prepare_cached("SELECT id, username FROM users WHERE username_key = ?1")?;
    let mut add = conn
        .prepare_cached("INSERT OR IGNORE INTO mentions (message_id, user_id) VALUES (?1, ?2)")?;
    for candidates in mentions {
        for name in candidates {
            if let Some((user_id, username)) = find
                .query_row([super::users::key(name)], |row| {
                    Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?))
                })
                .optional()?
            {
                if add.execute(params![id, user_id])? == 1 {
                    named.push(username);
                }
                break;
            }
        }
    }
    Ok(named)
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

/// Replaces the text of a message, marks it edited and records whom the
/// new text mentions.
pub fn edit(
    conn: &Connection,
    id: i64,
    text: &str,
    at: &str,
    mentions: &[Vec<String>],
) -> rusqlite::Result<()> {
    conn.prepare_cached("UPDATE messages SET text = ?2, edited_at = ?3 WHERE id = ?1")?
        .execute(params![id, text, at])?;
    record_mentions(conn, id, mentions)
}

/// Soft-deletes a message: it stays in history without its text, mentions
/// and reactions. Its image file stays with the row (views hide it) and
/// goes when the chat or its author does.
pub fn soft_delete(conn: &Connection, id: i64) -> rusqlite::Result<()> {
    conn.prepare_cached("UPDATE messages SET text = '', is_deleted = 1 WHERE id = ?1")?
        .execute([id])?;
    conn.prepare_cached("DELETE FROM mentions WHERE message_id = ?1")?
        .execute([id])?;
    conn.prepare_cached("DELETE FROM reactions WHERE message_id = ?1")?
        .execute([id])?;
    Ok(())
}

/// Media paths of message images in chat `chat_id` or by user `user_id`
/// (what deleting that chat or user removes).
pub fn images(conn: &Connection, chat_id: i64, user_id: i64) -> rusqlite::Result<Vec<String>> {
    conn.prepare_cached(
        "SELECT image FROM messages WHERE chat_id = ?1 AND image IS NOT NULL
         UNION SELECT image FROM messages WHERE user_id = ?2 AND image IS NOT NULL",
    )?
    .query_map(params![chat_id, user_id], |row| row.get(0))?
    .collect()
}

/// The highest message id of a chat (0 when it has none).
pub fn newest_id(conn: &Connection, chat_id: i64) -> rusqlite::Result<i64> {
    conn.prepare_cached("SELECT COALESCE(MAX(id), 0) FROM messages WHERE chat_id = ?1")?
        .query_row([chat_id], |row| row.get(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rooms::Room;
    use crate::storage::{chats, users, Db};

    /// What `insert` builds is what a later read finds: the writer
    /// broadcasts the one and REST serves the other.
    #[test]
    fn an_inserted_message_is_what_a_read_finds() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chat.db");
        Db::open(&path).unwrap();
        let conn = crate::storage::connect(&path).unwrap();
        let ann = users::insert(&conn, "Ann", "ann@example.com", "-").unwrap();
        users::insert(&conn, "bob", "bob@example.com", "-").unwrap();
        let chat = chats::NewChat {
            room: Room::Books,
            title: "T".into(),
            description: None,
            img: None,
            creator_id: ann.id,
        };
        let chat = chats::insert(&conn, &chat).unwrap();
        // bob twice, a name nobody has, ann by a candidate list.
        let mentions = vec![
            vec!["bob".to_string()],
            vec!["nobody".to_string()],
            vec!["ann.".to_string(), "ann".to_string()],
            vec!["BOB".to_string()],
        ];
        let at = "2026-01-01T00:00:00.000000Z";
        let inserted = insert(
            &conn,
            chat.id,
            ann.id,
            "hi",
            Some("msg_img/x.png"),
            at,
            &mentions,
        )
        .unwrap();
        assert_eq!(inserted.mentions, ["bob", "Ann"]);
        let read = get(&conn, inserted.id).unwrap().unwrap();
        assert_eq!(format!("{inserted:?}"), format!("{read:?}"));
    }
}
