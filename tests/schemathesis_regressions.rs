//! Server bugs that the schemathesis run (`.ci/schemathesis.sh`) found,
//! each kept as a plain test so it cannot come back unnoticed.

mod common;
use common::*;

use serde_json::json;

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
    let chat = app.new_chat_id(&token, "films", "Dune").await;
    let mut messages = Vec::new();
    for n in 0..4 {
        let message = send_message(&app, &token, "films", chat, &format!("message {n}")).await;
        messages.push(message["id"].as_i64().unwrap());
    }

    // Chats and accounts for the deletes to take.
    let mut spare_chats = Vec::new();
    for n in 0..12 {
        let title = format!("spare {n}");
        spare_chats.push(app.new_chat_id(&token, "films", &title).await);
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
