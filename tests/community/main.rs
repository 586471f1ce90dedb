//! The community features over real sockets (API.md, "Community
//! features"): image messages posted over REST, reactions, typing, read
//! markers with unread counts, and mentions. Search is in tests/search.rs.
//! The modules:
//!
//! - `images.rs`: messages posted over REST, with an image or without, and what is refused;
//! - `reactions.rs`: reactions (socket and REST, their order, bad emoji, the 21st), typing;
//! - `unread.rs`: read markers and unread counts, "My chats", mentions and their feed.

#[path = "../common/mod.rs"]
mod common;
mod images;
mod reactions;
mod unread;

use common::*;
use serde_json::{json, Value};

pub(crate) fn messages_path(chat: i64) -> String {
    format!("/api/chat/books/{chat}/messages/")
}

/// `POST …/messages/` with a JSON body as `token`'s user.
pub(crate) async fn post_json(app: &TestApp, token: &str, chat: i64, body: Value) -> (u16, Value) {
    let request = app.client.post(app.url(&messages_path(chat)));
    send(request.bearer_auth(token).json(&body)).await
}

/// Posts `text` over REST (201); returns the Message.
pub(crate) async fn post_text(app: &TestApp, token: &str, chat: i64, text: &str) -> Value {
    let (status, body) = post_json(app, token, chat, json!({ "text": text })).await;
    assert_eq!(status, 201, "{body}");
    body
}

/// A user and a chat of theirs in `books`.
pub(crate) async fn setup(app: &TestApp, name: &str) -> (String, i64) {
    let token = app.user(name).await;
    let chat = app
        .new_chat_id(&token, "books", &format!("{name}'s chat"))
        .await;
    (token, chat)
}
