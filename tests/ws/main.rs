//! The WebSocket protocol of live chats (`/chat/<room>/<id>/`), against an
//! in-process server. The helpers below are shared by several modules (the
//! general ones are in tests/common/ws.rs):
//!
//! - `delivery.rs`: fan-out order and nonces, hello, the hello/live seam, chat changes;
//! - `frames.rs`: what a client sends: bad frames, edits and deletes;
//! - `lifecycle.rs`: presence on joins and leaves, `?after=` catch-up, shutdown;
//! - `slow_clients.rs`: readers that fall behind or stop answering pings, and busy rooms;
//! - `limits.rs`: frame size, flooding, the socket cap, refusals before the upgrade.

#[path = "../common/mod.rs"]
mod common;
mod delivery;
mod frames;
mod lifecycle;
mod limits;
mod slow_clients;

use common::*;

use serde_json::{json, Value};

/// Opens a socket to a films chat, with `?token=` when given, and returns
/// it with its `hello` frame.
pub(crate) async fn join(app: &TestApp, chat: i64, token: Option<&str>) -> (Ws, Value) {
    let query = token.map(|t| format!("token={t}")).unwrap_or_default();
    join_with(app, chat, &query).await
}

/// Like [`join`] with an arbitrary query string.
pub(crate) async fn join_with(app: &TestApp, chat: i64, query: &str) -> (Ws, Value) {
    join_url(&app.ws_url("films", chat, query)).await
}

/// Creates a films chat; returns its id.
pub(crate) async fn create(app: &TestApp, token: &str, title: &str) -> i64 {
    app.new_chat_id(token, "films", title).await
}

/// A page of a films chat's messages (`query`: `""`, `"?after=3"`...).
pub(crate) async fn history(app: &TestApp, chat: i64, query: &str) -> Value {
    app.history("films", chat, query).await
}

/// Checks a fresh (unedited, undeleted) message object.
pub(crate) fn assert_fresh_message(
    message: &Value,
    chat: i64,
    user: i64,
    user_name: &str,
    text: &str,
) {
    assert!(message["id"].as_i64().is_some(), "{message}");
    assert_eq!(message["chat"], chat, "{message}");
    assert_eq!(message["user"], user, "{message}");
    assert_eq!(message["user_name"], user_name, "{message}");
    assert_eq!(message["user_avatar"], Value::Null, "{message}");
    assert_eq!(message["text"], text, "{message}");
    assert_eq!(message["edited"], Value::Null, "{message}");
    assert_eq!(message["is_deleted"], false, "{message}");
    // The community fields (API.md, "Community features") of a plain message.
    assert_eq!(message["image"], Value::Null, "{message}");
    assert_eq!(message["mentions"], json!([]), "{message}");
    assert_eq!(message["reactions"], json!([]), "{message}");
    assert_eq!(message.as_object().unwrap().len(), 12, "{message}");
    assert_timestamp(&message["timestamp"]);
}
