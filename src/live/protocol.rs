//! The WebSocket protocol in one place (API.md, "WebSocket chat rooms"):
//! every client frame is parsed into a [`Command`] here, and every server
//! frame, close frames included, is built here. The rest of `live` deals in
//! typed values ([`Command`], [`Event`], the domain [`Error`]) and in the
//! finished bytes this module returns; nobody else writes JSON for a socket.
//!
//! A frame is serialized once and handed out as [`Utf8Bytes`], whose clones
//! share the bytes, so a broadcast costs one serialization per distinct
//! base URL however many sockets get it.

use bytes::Bytes;
use serde::Serialize;
use serde_json::Value as Json;
use tokio_tungstenite::tungstenite::Utf8Bytes;

use crate::domain::community;
use crate::domain::error::{messages, Error};
use crate::domain::form::Value;
use crate::domain::rules;
use crate::domain::views::{ChatView, MessageView};
use crate::live::fanout::Event;
use crate::live::wire;
use crate::storage::chats::Chat;
use crate::storage::messages::Message;

/// Close codes the server uses.
pub mod close {
    /// Normal end (the client left).
    pub const NORMAL: u16 = 1000;
    /// Server shutting down, or no answer to pings.
    pub const GOING_AWAY: u16 = 1001;
    /// The client fell too far behind.
    pub const POLICY: u16 = 1008;
    /// The client sent a frame over the size limit.
    pub const TOO_BIG: u16 = 1009;
    /// The server failed (the database, say) while opening the socket: try
    /// again later.
    pub const TRY_AGAIN_LATER: u16 = 1011;
    /// The user's tokens were revoked (deleted, suspended, new password).
    pub const NOT_AUTHENTICATED: u16 = 4401;
    /// The chat was deleted.
    pub const CHAT_DELETED: u16 = 4404;
}

/// Longest accepted nonce (it is echoed to everyone in the chat).
pub const MAX_NONCE_CHARS: usize = 128;

// ---------------------------------------------------------------------------
// Client → server

/// A client frame, parsed. Its values are checked later ([`message_text`],
/// [`nonce`]), after authentication and throttling, so a read-only or
/// flooding socket hears that first whatever else is wrong with its frame.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// `{"type": "message", "text", "nonce"}` or the seed's `{"message"}`.
    Message { text: Json, nonce: Option<Json> },
    /// `{"type": "edit", "id", "text"}`; a missing or non-integer id is `None`.
    Edit { id: Option<i64>, text: Json },
    /// `{"type": "delete", "id"}`.
    Delete { id: Option<i64> },
    /// `{"type": "ping"}`, answered with [`pong`].
    Ping,
    /// `{"type": "react", "id", "emoji"}`: toggles the sender's reaction.
    React { id: Option<i64>, emoji: Json },
    /// `{"type": "typing"}`: the sender is typing.
    Typing,
    /// `{"type": "read", "id"}`: the sender has read up to message `id`.
    Read { id: Option<i64> },
}

/// What is wrong with a frame itself, apart from any domain rule; answered
/// with an `error` frame ([`bad_frame`]) and the socket stays open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BadFrame {
    /// Not JSON, not an object, binary, or a bad nonce: `invalid_json`.
    InvalidJson(String),
    /// No `type`, or one this server does not know: `unknown_type`.
    UnknownType(String),
}

impl BadFrame {
    /// A binary frame: the protocol is JSON text.
    pub fn binary() -> BadFrame {
        BadFrame::InvalidJson("Binary frames are not supported; send JSON text.".to_string())
    }

    pub fn code(&self) -> &'static str {
        match self {
            BadFrame::InvalidJson(_) => "invalid_json",
            BadFrame::UnknownType(_) => "unknown_type",
        }
    }

    pub fn detail(&self) -> &str {
        match self {
            BadFrame::InvalidJson(detail) | BadFrame::UnknownType(detail) => detail,
        }
    }
}

/// Parses a client text frame.
pub fn parse(text: &str) -> Result<Command, BadFrame> {
    let value: Json = serde_json::from_str(text)
        .map_err(|e| BadFrame::InvalidJson(format!("JSON parse error - {e}")))?;
    let Json::Object(mut object) = value else {
        return Err(BadFrame::InvalidJson("Expected a JSON object.".to_string()));
    };
    let kind = match object.get("type") {
        Some(Json::String(kind)) => kind.clone(),
        // The seed's clients sent `{"message": "..."}` with no type.
        None if object.contains_key("message") => "legacy".to_string(),
        Some(other) => {
            return Err(BadFrame::UnknownType(format!(
                "Unknown frame type {other}."
            )))
        }
        None => {
            return Err(BadFrame::UnknownType(
                "The frame has no \"type\".".to_string(),
            ))
        }
    };
    let id = object.get("id").and_then(Json::as_i64);
    let mut take = |field: &str| object.remove(field);
    match kind.as_str() {
        "message" => Ok(Command::Message {
            text: take("text").unwrap_or(Json::Null),
            nonce: take("nonce"),
        }),
        "legacy" => Ok(Command::Message {
            text: take("message").unwrap_or(Json::Null),
            nonce: take("nonce"),
        }),
        "edit" => Ok(Command::Edit {
            id,
            text: take("text").unwrap_or(Json::Null),
        }),
        "delete" => Ok(Command::Delete { id }),
        "ping" => Ok(Command::Ping),
        "react" => Ok(Command::React {
            id,
            emoji: take("emoji").unwrap_or(Json::Null),
        }),
        "typing" => Ok(Command::Typing),
        "read" => Ok(Command::Read { id }),
        other => Err(BadFrame::UnknownType(format!(
            "Unknown frame type \"{other}\"."
        ))),
    }
}

/// A command's text, checked by the one text rule
/// ([`rules::message_text`]): a string of 1 to `max` characters after
/// trimming. Absent and null are "required". A number is refused as not a
/// string, although a REST form would take it: sockets always refused
/// numbers, and that stays so.
pub fn message_text(text: Json, max: usize) -> Result<String, Error> {
    let value = match text {
        Json::String(text) => Value::Text(text),
        Json::Null => return rules::message_text(None, max),
        Json::Number(_) => return Err(Error::field("text", messages::NOT_A_STRING)),
        other => Value::Json(other),
    };
    rules::message_text(Some(&value), max)
}

/// A `react` command's emoji, checked by [`community::emoji`].
pub fn emoji(emoji: Json) -> Result<String, Error> {
    match emoji {
        Json::String(text) => community::emoji(&text),
        Json::Null => Err(Error::field("emoji", messages::REQUIRED)),
        _ => Err(Error::field("emoji", messages::NOT_A_STRING)),
    }
}

/// A message's nonce: a string of at most [`MAX_NONCE_CHARS`] or a number;
/// null is the same as none.
pub fn nonce(nonce: Option<Json>) -> Result<Option<Json>, BadFrame> {
    match nonce {
        None | Some(Json::Null) => Ok(None),
        Some(Json::Number(_)) => Ok(nonce),
        Some(Json::String(ref s)) if s.chars().count() <= MAX_NONCE_CHARS => Ok(nonce),
        Some(_) => Err(BadFrame::InvalidJson(format!(
            "\"nonce\" must be a string of at most {MAX_NONCE_CHARS} characters or a number."
        ))),
    }
}

// ---------------------------------------------------------------------------
// Server → client

/// Most bytes of messages in a `hello`: with the rest of the frame it
/// stays well inside a socket's 1 MiB write buffer, whatever the texts
/// are (2,000 characters escaped as `\uXXXX` are 12 KB).
pub const HELLO_MAX_MESSAGE_BYTES: usize = 512 * 1024;

/// The first frame, `{"type": "hello", "chat", "user", "online",
/// "messages", "more"}`, and the id of the last message in it (None when
/// it has none). `more` is true when `history` had more than fits in
/// [`HELLO_MAX_MESSAGE_BYTES`], or `more` is given true (the reader kept
/// some back): the client pages the rest with `?after=`.
pub fn hello(
    chat: Chat,
    user: Option<&str>,
    online: usize,
    history: Vec<Message>,
    more: bool,
    base: &str,
) -> (Utf8Bytes, Option<i64>) {
    #[derive(Serialize)]
    struct Hello<'a> {
        #[serde(rename = "type")]
        kind: &'static str,
        chat: ChatView,
        user: Option<&'a str>,
        online: usize,
        messages: Vec<MessageView>,
        more: bool,
    }
    let total = history.len();
    let mut bytes = 0;
    let messages: Vec<MessageView> = history
        .into_iter()
        .map(|m| MessageView::new(m, base))
        .take_while(|view| {
            bytes += serde_json::to_vec(view).map_or(0, |json| json.len() + 1);
            bytes <= HELLO_MAX_MESSAGE_BYTES
        })
        .collect();
    let last = messages.last().map(|view| view.id);
    let more = more || messages.len() < total;
    let hello = frame(&Hello {
        kind: "hello",
        chat: ChatView::new(chat, base),
        user,
        online,
        messages,
        more,
    });
    (hello, last)
}

/// `{"type": "pong"}`
pub fn pong() -> Utf8Bytes {
    Utf8Bytes::from_static(r#"{"type":"pong"}"#)
}

/// `{"type": "typing", "user": "nik"}`
pub fn typing(user: &str) -> Utf8Bytes {
    #[derive(Serialize)]
    struct Typing<'a> {
        #[serde(rename = "type")]
        kind: &'static str,
        user: &'a str,
    }
    frame(&Typing {
        kind: "typing",
        user,
    })
}

/// `{"type": "presence", "online": N}`
pub fn presence(online: usize) -> Utf8Bytes {
    format!(r#"{{"type":"presence","online":{online}}}"#).into()
}

/// The frame of an [`Event`], with links under `base`.
pub fn event(event: &Event, base: &str) -> Utf8Bytes {
    match event {
        Event::MessagePosted { message, nonce } => message_frame(
            "message",
            message,
            // A `message` frame always has a nonce, null when none was sent.
            Some(nonce.as_ref().unwrap_or(&Json::Null)),
            base,
        ),
        Event::MessageEdited(message) => message_frame("message_edited", message, None, base),
        Event::MessageDeleted(message) => message_frame("message_deleted", message, None, base),
        Event::Reactions(message) => message_frame("reactions", message, None, base),
        // Built as a JSON map, whose keys serialize sorted ("chat" first,
        // and the chat's own keys too): the bytes sockets always got.
        Event::ChatUpdated(chat) => frame(&serde_json::json!({
            "type": "chat_updated",
            "chat": ChatView::new(chat.clone(), base),
        })),
        Event::ChatDeleted => chat_deleted(),
    }
}

/// `{"type": "chat_deleted"}`: also what a socket whose chat vanished
/// while it connected gets.
pub fn chat_deleted() -> Utf8Bytes {
    Utf8Bytes::from_static(r#"{"type":"chat_deleted"}"#)
}

/// The `error` frame a socket gets before it is closed with
/// [`close::NOT_AUTHENTICATED`].
pub fn revoked() -> Utf8Bytes {
    error_frame(
        Error::NotAuthenticated.code(),
        "Your session has ended (account deleted or suspended, or password changed); sign in again.",
    )
}

/// `{"type": "error", "code", "detail"}` for a refusal by the domain.
pub fn error(error: &Error) -> Utf8Bytes {
    error_frame(error.code(), &error.detail())
}

/// `{"type": "error", "code", "detail"}` for a frame that makes no sense.
pub fn bad_frame(bad: &BadFrame) -> Utf8Bytes {
    error_frame(bad.code(), bad.detail())
}

/// The close frame a socket ends with: `code` and the reason that goes
/// with it; a normal close (1000) has no payload, as it always had.
pub fn close_frame(code: u16) -> Bytes {
    let reason = match code {
        close::NORMAL => return wire::close(None, ""),
        close::GOING_AWAY => "going away (server shutdown or no answer to pings)",
        close::POLICY => "too slow: messages were not being read",
        close::TOO_BIG => "frame too large",
        close::TRY_AGAIN_LATER => "server error, try again later",
        close::NOT_AUTHENTICATED => "not authenticated",
        close::CHAT_DELETED => "chat deleted",
        _ => "",
    };
    wire::close(Some(code), reason)
}

/// `message`, `message_edited`, `message_deleted` and `reactions` frames.
fn message_frame(
    kind: &'static str,
    message: &Message,
    nonce: Option<&Json>,
    base: &str,
) -> Utf8Bytes {
    #[derive(Serialize)]
    struct MessageFrame<'a> {
        #[serde(rename = "type")]
        kind: &'static str,
        message: MessageView,
        #[serde(skip_serializing_if = "Option::is_none")]
        nonce: Option<&'a Json>,
    }
    frame(&MessageFrame {
        kind,
        message: MessageView::new(message.clone(), base),
        nonce,
    })
}

fn error_frame(code: &str, detail: &str) -> Utf8Bytes {
    // Fields in sorted order, as the JSON map they were once built from
    // serialized them: the same bytes as ever.
    #[derive(Serialize)]
    struct ErrorFrame<'a> {
        code: &'a str,
        detail: &'a str,
        #[serde(rename = "type")]
        kind: &'static str,
    }
    frame(&ErrorFrame {
        code,
        detail,
        kind: "error",
    })
}

/// Serializes a frame once; clones of the result share the bytes.
fn frame<T: Serialize>(value: &T) -> Utf8Bytes {
    match serde_json::to_string(value) {
        Ok(text) => text.into(),
        Err(error) => {
            tracing::error!(%error, "frame serialization failed");
            // An error frame is plain strings, which always serialize, so
            // this never comes back here.
            self::error(&Error::internal(error))
        }
    }
}

#[cfg(test)]
mod tests;
