//! The writer's community operations (API.md, "Community features"):
//! posting with mentions (and a REST post's image), reactions and read
//! markers, applied inside the batch's transaction like every other op.

use rusqlite::Connection;
use tokio::sync::oneshot;

use super::{Done, Op, Writer};
use crate::domain::community;
use crate::domain::error::Error;
use crate::storage::community::{self as community_store, ReactionChange};
use crate::storage::messages::{self, Message};
use crate::storage::{is_foreign_key_violation, now_timestamp};

/// Where a user's read marker in a chat is after an [`Op::Read`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadState {
    pub chat_id: i64,
    pub last_read: i64,
    /// Messages after the marker not by the user and not deleted.
    pub unread: u64,
}

impl Writer {
    /// Posts a message for a REST handler; answered after the commit (and
    /// the broadcast).
    pub async fn post(
        &self,
        chat_id: i64,
        user_id: i64,
        text: String,
        image: Option<String>,
    ) -> Result<Message, Error> {
        let (reply, answer) = oneshot::channel();
        self.submit(Op::PostHttp {
            chat_id,
            user_id,
            text,
            image,
            reply,
        })
        .await?;
        answer.await.map_err(Error::internal)?
    }

    /// Adds or removes a reaction for a REST handler.
    pub async fn react(
        &self,
        chat_id: i64,
        message_id: i64,
        user_id: i64,
        emoji: String,
        change: ReactionChange,
    ) -> Result<Message, Error> {
        self.ask(|reply| Op::React {
            chat_id,
            message_id,
            user_id,
            emoji,
            change,
            reply,
        })
        .await
    }

    /// Moves a read marker for a REST handler.
    pub async fn read(
        &self,
        chat_id: i64,
        user_id: i64,
        last_read: i64,
    ) -> Result<ReadState, Error> {
        self.ask(|reply| Op::Read {
            chat_id,
            user_id,
            last_read,
            reply,
        })
        .await
    }
}

/// Inserts a message with whom it mentions.
pub(super) fn insert(
    conn: &Connection,
    chat_id: i64,
    user_id: i64,
    text: &str,
    image: Option<&str>,
) -> rusqlite::Result<Result<Done, Error>> {
    let mentions = community::mention_candidates(text);
    match messages::insert(
        conn,
        chat_id,
        user_id,
        text,
        image,
        &now_timestamp(),
        &mentions,
    ) {
        Ok(message) => Ok(Ok(Done::Posted(message))),
        // The chat (or the user) was deleted meanwhile.
        Err(error) if is_foreign_key_violation(&error) => Ok(Err(Error::NotFound)),
        Err(error) => Err(error),
    }
}

/// Adds, removes or toggles a reaction on a message of the chat.
pub(super) fn react(
    conn: &Connection,
    chat_id: i64,
    message_id: i64,
    user_id: i64,
    emoji: &str,
    change: ReactionChange,
) -> rusqlite::Result<Result<Done, Error>> {
    let message = match messages::get(conn, message_id)? {
        Some(m) if m.chat_id == chat_id && !m.is_deleted => m,
        _ => return Ok(Err(Error::NotFound)),
    };
    let max = community::MAX_DISTINCT_EMOJI;
    if !community_store::react(conn, message.id, user_id, emoji, change, max)? {
        return Ok(Err(Error::field("emoji", community::too_many_emoji())));
    }
    Ok(messages::get(conn, message.id)?
        .map(Done::Reacted)
        .ok_or(Error::NotFound))
}

/// Moves a read marker forward to a message of the chat.
pub(super) fn read(
    conn: &Connection,
    chat_id: i64,
    user_id: i64,
    last_read: i64,
) -> rusqlite::Result<Result<Done, Error>> {
    if community_store::chat_of_message(conn, last_read)? != Some(chat_id) {
        let refusal = community::no_such_message(last_read);
        return Ok(Err(Error::field("last_read", refusal)));
    }
    let last_read = community_store::mark_read(conn, user_id, chat_id, last_read)?;
    let unread = community_store::unread(conn, user_id, chat_id, last_read)?;
    Ok(Ok(Done::Read(ReadState {
        chat_id,
        last_read,
        unread,
    })))
}
