//! Server bugs that the schemathesis run (`.ci/schemathesis.sh`) found,
//! each kept as a plain test so it cannot come back unnoticed.

mod common;
use common::*;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};

/// Sends a message over the chat's WebSocket; returns its id.
async fn send_message(app: &TestApp, token: &str, chat: i64, text: &str) -> i64 {
    use tokio_tungstenite::tungstenite::Message;
    let host = app.base.trim_start_matches("http://");
    let url = format!("ws://{host}/chat/films/{chat}/?token={token}");
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let frame = json!({"type": "message", "text": text, "nonce": "n"}).to_string();
    ws.send(Message::text(frame)).await.unwrap();
    loop {
        let next = tokio::time::timeout(std::time::Duration::from_secs(5), ws.next())
            .await
            .expect("a frame")
            .unwrap()
            .unwrap();
        if let Message::Text(text) = next {
            let frame: Value = serde_json::from_str(text.as_str()).unwrap();
            if frame["type"] == "message" && frame["nonce"] == "n" {
                return frame["message"]["id"].as_i64().unwrap();
            }
        }
    }
}

/// Writes that read before they write (editing a message through the
/// message writer, changing or deleting a chat, setting an avatar, deleting
/// an account) ran in deferred transactions: when another connection
/// committed between their read and their write, SQLite answered
/// `SQLITE_BUSY` at once (a stale read snapshot cannot wait its turn) and
/// the client got a 500. They now take the write lock when they begin, and
/// wait for it.
#[tokio::test]
async fn concurrent_writes_never_fail_with_database_is_locked() {
    let app = spawn_app().await;
    let token = app.user("alice").await;
    let (status, body) = app
        .create_chat(&token, &[("title", "Dune"), ("room", "films")])
        .await;
    assert_eq!(status, 200, "{body}");
    let chat = body["chat"]["id"].as_i64().unwrap();
    let mut messages = Vec::new();
    for n in 0..4 {
        messages.push(send_message(&app, &token, chat, &format!("message {n}")).await);
    }

    // Chats and accounts for the deletes to take.
    let mut spare_chats = Vec::new();
    for n in 0..12 {
        let (status, body) = app
            .create_chat(
                &token,
                &[("title", &format!("spare {n}")), ("room", "films")],
            )
            .await;
        assert_eq!(status, 200, "{body}");
        spare_chats.push(body["chat"]["id"].as_i64().unwrap());
    }
    let mut spare_users = Vec::new();
    for n in 0..12 {
        spare_users.push(app.user(&format!("spare{n}")).await);
    }

    let mut requests = Vec::new();
    for round in 0..60 {
        let client = app.client.clone();
        let token = token.clone();
        let message_url = app.url(&format!(
            "/api/chat/films/{chat}/messages/{}/",
            messages[round % messages.len()]
        ));
        let chat_url = app.url(&format!("/api/chat/films/{chat}/"));
        let avatar_url = app.url("/api/profile/avatar/");
        let spare_chat_url = app.url(&format!("/api/chat/films/{}/", spare_chats[round / 5]));
        let user_url = app.url("/api/user/");
        let spare_user = spare_users[round / 5].clone();
        requests.push(tokio::spawn(async move {
            let (request, token) = match round % 5 {
                0 => (
                    client
                        .patch(message_url)
                        .json(&json!({"text": format!("edit {round}")})),
                    token,
                ),
                1 => (
                    client
                        .patch(chat_url)
                        .json(&json!({"description": format!("change {round}")})),
                    token,
                ),
                2 => (client.delete(avatar_url), token),
                3 => (client.delete(spare_chat_url), token),
                _ => (client.delete(user_url), spare_user),
            };
            let response = request.bearer_auth(&token).send().await.unwrap();
            (round, response.status().as_u16())
        }));
    }
    for request in requests {
        let (round, status) = request.await.unwrap();
        let expected = if round % 5 >= 3 { 204 } else { 200 };
        assert_eq!(status, expected, "request {round}");
    }
}
