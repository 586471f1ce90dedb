//! Applying one operation inside the batch's transaction: who may change
//! what (authors, or staff, read in the same transaction), and what each
//! operation writes.

use rusqlite::Connection;

use super::{community, Done, Op};
use crate::domain::error::Error;
use crate::domain::rules::{self, Actor};
use crate::storage::messages::{self, Message};
use crate::storage::{audit, now_timestamp, users};

/// Applies one operation inside the batch's transaction. `Ok(Err(_))` is a
/// refusal (the batch goes on); `Err(_)` aborts the batch.
pub(super) fn apply(conn: &Connection, op: &Op) -> rusqlite::Result<Result<Done, Error>> {
    match op {
        Op::Post {
            chat_id,
            user_id,
            text,
            ..
        } => community::insert(conn, *chat_id, *user_id, text, None),
        Op::PostHttp {
            chat_id,
            user_id,
            text,
            image,
            ..
        } => community::insert(conn, *chat_id, *user_id, text, image.as_deref()),
        Op::Edit {
            chat_id,
            message_id,
            user_id,
            text,
            ..
        } => {
            let message = match changeable(conn, *chat_id, *message_id, *user_id, "edit")? {
                Ok(message) => message,
                Err(refusal) => return Ok(Err(refusal)),
            };
            let mentions = crate::domain::community::mention_candidates(text);
            messages::edit(conn, message.id, text, &now_timestamp(), &mentions)?;
            Ok(messages::get(conn, message.id)?
                .map(Done::Edited)
                .ok_or(Error::NotFound))
        }
        Op::Delete {
            chat_id,
            message_id,
            user_id,
            ..
        } => {
            let message = match changeable(conn, *chat_id, *message_id, *user_id, "delete")? {
                Ok(message) => message,
                Err(refusal) => return Ok(Err(refusal)),
            };
            messages::soft_delete(conn, message.id)?;
            Ok(messages::get(conn, message.id)?
                .map(Done::Deleted)
                .ok_or(Error::NotFound))
        }
        Op::React {
            chat_id,
            message_id,
            user_id,
            emoji,
            change,
            ..
        } => community::react(conn, *chat_id, *message_id, *user_id, emoji, *change),
        Op::Read {
            chat_id,
            user_id,
            last_read,
            ..
        } => community::read(conn, *chat_id, *user_id, *last_read),
        Op::Flush(_) | Op::Searchable(_) => Ok(Ok(Done::Flushed)),
    }
}

/// The message if it is in the chat, not deleted, and `user_id` may
/// `change` it (`edit` or `delete`): its author, or staff, read in this
/// transaction so a staff flag changed meanwhile counts. A staff change
/// to someone else's message is recorded in the audit log, committed
/// with it.
fn changeable(
    conn: &Connection,
    chat_id: i64,
    message_id: i64,
    user_id: i64,
    change: &str,
) -> rusqlite::Result<Result<Message, Error>> {
    let message = match messages::get(conn, message_id)? {
        Some(message) if message.chat_id == chat_id && !message.is_deleted => message,
        _ => return Ok(Err(Error::NotFound)),
    };
    if message.user_id == user_id {
        return Ok(Ok(message));
    }
    let Some(actor) = users::get(conn, user_id)?.filter(|user| user.is_active) else {
        return Ok(Err(Error::PermissionDenied));
    };
    Ok(
        match rules::check_message_change(Actor::of(&actor), message.user_id) {
            Ok(_) => {
                let text: String = message.text.chars().take(200).collect();
                let detail = format!("by {} in chat {chat_id}: {text}", message.user_name);
                let (action, target) = (
                    format!("message.{change}"),
                    format!("message {}", message.id),
                );
                audit::record(conn, &actor.username, &action, &target, &detail)?;
                Ok(message)
            }
            Err(refusal) => Err(refusal),
        },
    )
}
