//! Queries of the community tables: reactions, read markers, the chats a
//! user takes part in, the mentions feed, and full-text search of messages
//! and chats. Reaction and marker writes run inside the message writer's
//! transactions (`crate::live::writer`); the rest are reads.

use rusqlite::{params, Connection, OptionalExtension};

use super::chats::{self, Chat};
use super::messages::{self, Message, COLUMNS as MESSAGE_COLUMNS};
use super::search;
use crate::rooms::Room;

/// What a reaction request does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReactionChange {
    Add,
    Remove,
    /// Add if absent, remove if present (the socket's `react`).
    Toggle,
}

/// Applies a reaction change of `user_id` to message `message_id`. False
/// when adding would put more than `max_distinct` emoji on the message.
pub fn react(
    conn: &Connection,
    message_id: i64,
    user_id: i64,
    emoji: &str,
    change: ReactionChange,
    max_distinct: usize,
) -> rusqlite::Result<bool> {
    let exists = conn
        .prepare_cached(
            "SELECT 1 FROM reactions WHERE message_id = ?1 AND emoji = ?2 AND user_id = ?3",
        )?
        .exists(params![message_id, emoji, user_id])?;
    let add = match change {
        ReactionChange::Add => !exists,
        ReactionChange::Remove => false,
        ReactionChange::Toggle => !exists,
    };
    if exists && change != ReactionChange::Add {
        let removed: i64 = conn
            .prepare_cached(
                "DELETE FROM reactions WHERE message_id = ?1 AND emoji = ?2 AND user_id = ?3
                 RETURNING id",
            )?
            .query_row(params![message_id, emoji, user_id], |row| row.get(0))?;
        // The emoji keeps its place (its first use) while anyone still
        // reacts with it: the earliest reaction left takes the removed
        // one's position when that was the emoji's first. Ids order the
        // users too, and the earliest stays the earliest.
        conn.prepare_cached(
            "UPDATE reactions SET id = ?3
             WHERE id = (SELECT MIN(id) FROM reactions WHERE message_id = ?1 AND emoji = ?2)
               AND id > ?3",
        )?
        .execute(params![message_id, emoji, removed])?;
    }
    if !add {
        return Ok(true);
    }
    let emoji_used = conn
        .prepare_cached("SELECT 1 FROM reactions WHERE message_id = ?1 AND emoji = ?2")?
        .exists(params![message_id, emoji])?;
    if !emoji_used {
        let distinct: usize = conn
            .prepare_cached("SELECT COUNT(DISTINCT emoji) FROM reactions WHERE message_id = ?1")?
            .query_row([message_id], |row| row.get(0))?;
        if distinct >= max_distinct {
            return Ok(false);
        }
    }
    conn.prepare_cached("INSERT INTO reactions (message_id, user_id, emoji) VALUES (?1, ?2, ?3)")?
        .execute(params![message_id, user_id, emoji])?;
    Ok(true)
}

/// Moves `user_id`'s read marker in `chat_id` forward to `last_read` (never
/// back); returns where it is now.
pub fn mark_read(
    conn: &Connection,
    user_id: i64,
    chat_id: i64,
    last_read: i64,
) -> rusqlite::Result<i64> {
    conn.prepare_cached(
        "INSERT INTO read_markers (user_id, chat_id, last_read) VALUES (?1, ?2, ?3)
         ON CONFLICT (user_id, chat_id) DO UPDATE SET last_read = MAX(last_read, excluded.last_read)
         RETURNING last_read",
    )?
    .query_row(params![user_id, chat_id, last_read], |row| row.get(0))
}

/// Messages of `chat_id` after `last_read` that `user_id` has not read:
/// not their own, not deleted.
pub fn unread(
    conn: &Connection,
    user_id: i64,
    chat_id: i64,
    last_read: i64,
) -> rusqlite::Result<u64> {
    conn.prepare_cached(
        "SELECT COUNT(*) FROM messages
         WHERE chat_id = ?1 AND id > ?2 AND is_deleted = 0 AND user_id != ?3",
    )?
    .query_row(params![chat_id, last_read, user_id], |row| row.get(0))
}

/// A chat as `GET /api/user/chats/` lists it.
#[derive(Debug)]
pub struct UserChat {
    pub chat: Chat,
    pub last_read: i64,
    pub unread: u64,
    pub unread_mentions: u64,
    pub last_message: Option<Message>,
}

/// The chats a user created, wrote in or marked read.
const MINE: &str = "WITH mine (chat_id) AS (
        SELECT id FROM chats WHERE creator_id = ?1
        UNION SELECT chat_id FROM messages WHERE user_id = ?1
        UNION SELECT chat_id FROM read_markers WHERE user_id = ?1)";

pub fn count_user_chats(conn: &Connection, user_id: i64) -> rusqlite::Result<u64> {
    conn.prepare_cached(&format!("{MINE} SELECT COUNT(*) FROM mine"))?
        .query_row([user_id], |row| row.get(0))
}

/// A page of the chats a user takes part in, most recent activity (last
/// message, else creation) first.
pub fn user_chats(
    conn: &Connection,
    user_id: i64,
    offset: u64,
    limit: u64,
) -> rusqlite::Result<Vec<UserChat>> {
    let sql = format!(
        "{MINE}
         SELECT {columns}, COALESCE(rm.last_read, 0),
            (SELECT COUNT(*) FROM mentions mn JOIN messages x ON x.id = mn.message_id
              WHERE mn.user_id = ?1 AND x.chat_id = c.id AND x.id > COALESCE(rm.last_read, 0)
                AND x.is_deleted = 0),
            (SELECT MAX(x.id) FROM messages x WHERE x.chat_id = c.id) AS last_id
         FROM mine JOIN chats c ON c.id = mine.chat_id JOIN users u ON u.id = c.creator_id
         LEFT JOIN read_markers rm ON rm.user_id = ?1 AND rm.chat_id = c.id
         ORDER BY COALESCE((SELECT created_at FROM messages WHERE id = last_id), c.created_at) DESC,
                  c.id DESC
         LIMIT {limit} OFFSET ?2",
        columns = chats::COLUMNS
    );
    let rows: Vec<(Chat, i64, u64, Option<i64>)> = conn
        .prepare_cached(&sql)?
        .query_map(params![user_id, offset], |row| {
            Ok((
                chats::from_row(row)?,
                row.get(8)?,
                row.get(9)?,
                row.get(10)?,
            ))
        })?
        .collect::<rusqlite::Result<_>>()?;
    rows.into_iter()
        .map(|(chat, last_read, unread_mentions, last_id)| {
            Ok(UserChat {
                unread: unread(conn, user_id, chat.id, last_read)?,
                last_message: match last_id {
                    Some(id) => messages::get(conn, id)?,
                    None => None,
                },
                chat,
                last_read,
                unread_mentions,
            })
        })
        .collect()
}

pub fn count_mentions(conn: &Connection, user_id: i64) -> rusqlite::Result<u64> {
    conn.prepare_cached("SELECT COUNT(*) FROM mentions WHERE user_id = ?1")?
        .query_row([user_id], |row| row.get(0))
}

/// A page of the messages that mention a user, newest first (a deleted
/// message mentions nobody).
pub fn mentions(
    conn: &Connection,
    user_id: i64,
    offset: u64,
    limit: u64,
) -> rusqlite::Result<Vec<Message>> {
    conn.prepare_cached(&format!(
        "SELECT {MESSAGE_COLUMNS}
         FROM mentions mn JOIN messages m ON m.id = mn.message_id JOIN users u ON u.id = m.user_id
         WHERE mn.user_id = ?1 ORDER BY mn.message_id DESC LIMIT {limit} OFFSET ?2"
    ))?
    .query_map(params![user_id, offset], messages::message_from_row)?
    .collect()
}

/// An FTS5 query that matches rows containing every word, each as a
/// prefix. Each word becomes a string token (quotes doubled), so nothing
/// of it is read as query syntax; `None` when there is nothing to search.
pub fn fts_query(words: &[String]) -> Option<String> {
    let terms: Vec<String> = words
        .iter()
        .filter(|word| !word.is_empty())
        .map(|word| search::prefix(word))
        .collect();
    (!terms.is_empty()).then(|| terms.join(" "))
}

/// Where a message search looks.
#[derive(Debug, Clone)]
pub struct SearchScope {
    /// The query's words (runs of letters and digits), each a prefix.
    pub words: Vec<String>,
    pub room: Option<Room>,
    pub chat_id: Option<i64>,
}

/// A search hit: the message and its chat's title and room.
#[derive(Debug)]
pub struct Hit {
    pub message: Message,
    pub chat_title: String,
    pub room: Room,
}

/// Matches a search ranks at most: the newest ones. Ranking every match
/// of a common word in a large database takes seconds (each must be
/// scored); a chat search is mostly after recent messages, and this bound
/// keeps any search of 1,000,000 messages within tens of milliseconds.
pub const SEARCH_WINDOW: usize = 1000;

/// The newest [`SEARCH_WINDOW`] messages matching `scope`, best match
/// first, ties newest first. A match's score is how much of its text the
/// query's words make up ([`search::score`]): cheap per row, unlike `bm25`,
/// whose word weights need a pass over every match.
pub fn search(conn: &Connection, scope: &SearchScope) -> rusqlite::Result<Vec<i64>> {
    let Some(query) = search::match_expression(conn, &scope.words)? else {
        return Ok(Vec::new());
    };
    let words: Vec<String> = scope.words.iter().map(|word| search::fold(word)).collect();
    let mut candidates: Vec<(i64, f64)> = conn
        .prepare_cached(&format!(
            "SELECT f.rowid, m.text
             FROM messages_fts f JOIN messages m ON m.id = f.rowid
                  JOIN chats c ON c.id = m.chat_id
             WHERE messages_fts MATCH ?1 AND m.is_deleted = 0
               AND (?2 IS NULL OR c.room = ?2) AND (?3 IS NULL OR m.chat_id = ?3)
             ORDER BY f.rowid DESC LIMIT {SEARCH_WINDOW}"
        ))?
        .query_map(
            params![query, scope.room.map(Room::as_str), scope.chat_id],
            |row| {
                Ok((
                    row.get(0)?,
                    search::score(row.get_ref(1)?.as_str()?, &words),
                ))
            },
        )?
        .collect::<rusqlite::Result<_>>()?;
    candidates.sort_by(|a, b| b.1.total_cmp(&a.1).then(b.0.cmp(&a.0)));
    Ok(candidates.into_iter().map(|(id, _)| id).collect())
}

/// The search hits of `ids`, in that order.
pub fn hits(conn: &Connection, ids: &[i64]) -> rusqlite::Result<Vec<Hit>> {
    let mut load = conn.prepare_cached(&format!(
        "SELECT {MESSAGE_COLUMNS}, c.title, c.room
         FROM messages m JOIN users u ON u.id = m.user_id JOIN chats c ON c.id = m.chat_id
         WHERE m.id = ?1"
    ))?;
    let mut hits = Vec::with_capacity(ids.len());
    for id in ids {
        let hit = load
            .query_row([id], |row| {
                let room: String = row.get(13)?;
                Ok(Hit {
                    message: messages::message_from_row(row)?,
                    chat_title: row.get(12)?,
                    room: Room::parse(&room).unwrap_or(Room::Films),
                })
            })
            .optional()?;
        hits.extend(hit);
    }
    Ok(hits)
}

const CHAT_SEARCH_FROM: &str = "FROM chats_fts f JOIN chats c ON c.id = f.rowid
        JOIN users u ON u.id = c.creator_id
        WHERE chats_fts MATCH ?1 AND c.room = ?2";

/// How many chats of `room` have a title or description matching `query`
/// (from [`fts_query`]).
pub fn count_matching_chats(conn: &Connection, room: Room, query: &str) -> rusqlite::Result<u64> {
    conn.prepare_cached(&format!("SELECT COUNT(*) {CHAT_SEARCH_FROM}"))?
        .query_row(params![query, room.as_str()], |row| row.get(0))
}

/// A page of those chats, oldest first like the room's list.
pub fn matching_chats(
    conn: &Connection,
    room: Room,
    query: &str,
    offset: u64,
    limit: u64,
) -> rusqlite::Result<Vec<Chat>> {
    conn.prepare_cached(&format!(
        "SELECT {columns} {CHAT_SEARCH_FROM} ORDER BY c.id LIMIT {limit} OFFSET ?3",
        columns = chats::COLUMNS
    ))?
    .query_map(params![query, room.as_str(), offset], chats::from_row)?
    .collect()
}

/// The chat a message is in, if the message exists.
pub fn chat_of_message(conn: &Connection, message_id: i64) -> rusqlite::Result<Option<i64>> {
    conn.prepare_cached("SELECT chat_id FROM messages WHERE id = ?1")?
        .query_row([message_id], |row| row.get(0))
        .optional()
}
