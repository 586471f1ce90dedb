//! Frames a client sends: bad ones get error frames and the socket stays
//! open; edits and deletes, over the socket and REST, broadcast and author-only.

use crate::common::*;

use futures_util::SinkExt;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use crate::{assert_fresh_message, create, history, join};

/// PATCH of a message's text over REST.
async fn rest_edit(app: &TestApp, token: &str, chat: i64, id: i64, text: &str) -> (u16, Value) {
    let path = format!("/api/chat/films/{chat}/messages/{id}/");
    let request = app.client.patch(app.url(&path)).bearer_auth(token);
    send(request.json(&json!({ "text": text }))).await
}

/// DELETE of a message over REST: status and body text.
async fn rest_delete(app: &TestApp, token: &str, chat: i64, id: i64) -> (u16, String) {
    let path = format!("/api/chat/films/{chat}/messages/{id}/");
    send_raw(app.client.delete(app.url(&path)).bearer_auth(token)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_frames_get_error_frames_and_the_socket_stays_open() {
    let app = spawn_app().await;
    let token = app.user("alice").await;
    let alice = app.user_id(&token).await;
    let chat = create(&app, &token, "Dune").await;

    // Read-only socket: writes are refused, reads still work.
    let (mut reader, _) = join(&app, chat, None).await;
    post(&mut reader, "hi", "r").await;
    expect_error(&mut reader, "not_authenticated").await;
    send_json(&mut reader, json!({"message": "legacy"})).await;
    expect_error(&mut reader, "not_authenticated").await;
    send_json(&mut reader, json!({"type": "delete", "id": 1})).await;
    expect_error(&mut reader, "not_authenticated").await;
    assert_alive(&mut reader).await;

    let (mut ws, _) = join(&app, chat, Some(&token)).await;
    assert_eq!(
        next_json(&mut reader).await,
        json!({"type": "presence", "online": 2})
    );

    post(&mut ws, &"x".repeat(2001), "long").await;
    expect_error(&mut ws, "max_length").await;
    post(&mut ws, "   ", "blank").await;
    expect_error(&mut ws, "blank").await;
    post(&mut ws, "", "empty").await;
    expect_error(&mut ws, "blank").await;
    ws.send(Message::text("{not json")).await.unwrap();
    expect_error(&mut ws, "invalid_json").await;
    ws.send(Message::text("[1, 2]")).await.unwrap();
    expect_error(&mut ws, "invalid_json").await;
    ws.send(Message::binary(vec![1u8, 2, 3])).await.unwrap();
    expect_error(&mut ws, "invalid_json").await;
    send_json(&mut ws, json!({"type": "dance"})).await;
    expect_error(&mut ws, "unknown_type").await;
    assert_alive(&mut ws).await;
    // None of it was stored or broadcast.
    assert_quiet(&mut reader).await;
    assert_eq!(history(&app, chat, "").await["count"], 0);

    // Exactly 2000 characters (after trimming) is accepted.
    let longest = "x".repeat(2000);
    post(&mut ws, &format!("  {longest}\n"), "max").await;
    let frame = next_message(&mut ws).await;
    assert_fresh_message(&frame["message"], chat, alice, "alice", &longest);
    assert_eq!(frame["nonce"], "max");
    assert_eq!(next_message(&mut reader).await, frame);

    // The legacy shape works; without a nonce the frame says null.
    send_json(&mut ws, json!({"message": "hi"})).await;
    let frame = next_message(&mut ws).await;
    assert_fresh_message(&frame["message"], chat, alice, "alice", "hi");
    assert_eq!(frame["nonce"], Value::Null);
    assert_eq!(next_message(&mut reader).await, frame);

    let stored = results(&history(&app, chat, "").await);
    assert_eq!(
        stored.iter().map(|m| m["text"].clone()).collect::<Vec<_>>(),
        [json!(longest), json!("hi")]
    );
    assert_quiet(&mut ws).await;
    assert_quiet(&mut reader).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edits_and_deletes_are_broadcast_and_author_only() {
    let app = spawn_app().await;
    let alice_token = app.user("alice").await;
    let bob_token = app.user("bob").await;
    let alice = app.user_id(&alice_token).await;
    let chat = create(&app, &alice_token, "Dune").await;

    let (mut a, _) = join(&app, chat, Some(&alice_token)).await;
    let (mut b, _) = join(&app, chat, Some(&bob_token)).await;
    assert_eq!(
        next_json(&mut a).await,
        json!({"type": "presence", "online": 2})
    );

    post(&mut a, "first", "1").await;
    let first = next_message(&mut a).await["message"].clone();
    assert_eq!(next_message(&mut b).await["message"], first);
    let id = first["id"].as_i64().unwrap();

    // Edit over the socket.
    send_json(
        &mut a,
        json!({"type": "edit", "id": id, "text": "  first, edited "}),
    )
    .await;
    let edited = next_json(&mut a).await;
    assert_eq!(edited["type"], "message_edited", "{edited}");
    assert_eq!(edited.as_object().unwrap().len(), 2, "{edited}");
    let message = &edited["message"];
    assert_eq!(message["id"], id);
    assert_eq!(message["text"], "first, edited");
    assert_eq!(message["user"], alice);
    assert_eq!(message["timestamp"], first["timestamp"]);
    assert_eq!(message["is_deleted"], false);
    assert_timestamp(&message["edited"]);
    assert_eq!(next_json(&mut b).await, edited);

    // Someone else's message: refused over the socket and over REST.
    send_json(&mut b, json!({"type": "edit", "id": id, "text": "hijack"})).await;
    expect_error(&mut b, "permission_denied").await;
    send_json(&mut b, json!({"type": "delete", "id": id})).await;
    expect_error(&mut b, "permission_denied").await;
    assert_eq!(
        rest_edit(&app, &bob_token, chat, id, "hijack").await,
        (403, json!({"detail": FORBIDDEN}))
    );
    let (status, body) = rest_delete(&app, &bob_token, chat, id).await;
    assert_eq!(status, 403);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({"detail": FORBIDDEN})
    );
    assert_quiet(&mut a).await;
    assert_alive(&mut b).await;

    // Edit over REST: 200 with the message, and broadcast.
    let (status, rest_edited) = rest_edit(&app, &alice_token, chat, id, "via rest").await;
    assert_eq!(status, 200, "{rest_edited}");
    assert_eq!(rest_edited["id"], id);
    assert_eq!(rest_edited["text"], "via rest");
    assert_timestamp(&rest_edited["edited"]);
    for ws in [&mut a, &mut b] {
        assert_eq!(
            next_json(ws).await,
            json!({"type": "message_edited", "message": rest_edited})
        );
    }

    // Delete over the socket.
    send_json(&mut a, json!({"type": "delete", "id": id})).await;
    let deleted = next_json(&mut a).await;
    assert_eq!(deleted["type"], "message_deleted", "{deleted}");
    assert_eq!(deleted.as_object().unwrap().len(), 2, "{deleted}");
    assert_eq!(deleted["message"]["id"], id);
    assert_eq!(deleted["message"]["text"], "");
    assert_eq!(deleted["message"]["is_deleted"], true);
    assert_eq!(next_json(&mut b).await, deleted);

    // A deleted message cannot be edited or deleted again.
    send_json(&mut a, json!({"type": "edit", "id": id, "text": "again"})).await;
    expect_error(&mut a, "not_found").await;
    send_json(&mut a, json!({"type": "delete", "id": id})).await;
    expect_error(&mut a, "not_found").await;
    assert_eq!(
        rest_edit(&app, &alice_token, chat, id, "again").await,
        (404, json!({"detail": "Not found."}))
    );
    assert_eq!(rest_delete(&app, &alice_token, chat, id).await.0, 404);
    // Unknown ids too.
    send_json(&mut a, json!({"type": "edit", "id": 999_999, "text": "x"})).await;
    expect_error(&mut a, "not_found").await;
    send_json(&mut a, json!({"type": "delete", "id": 999_999})).await;
    expect_error(&mut a, "not_found").await;
    assert_quiet(&mut b).await;

    // Delete over REST: 204, broadcast.
    post(&mut a, "second", "2").await;
    let second = next_message(&mut a).await["message"].clone();
    assert_eq!(next_message(&mut b).await["message"], second);
    let second_id = second["id"].as_i64().unwrap();
    assert_eq!(
        rest_delete(&app, &alice_token, chat, second_id).await,
        (204, String::new())
    );
    for ws in [&mut a, &mut b] {
        let frame = next_json(ws).await;
        assert_eq!(frame["type"], "message_deleted", "{frame}");
        assert_eq!(frame["message"]["id"], second_id);
        assert_eq!(frame["message"]["text"], "");
        assert_eq!(frame["message"]["is_deleted"], true);
    }

    // History keeps both, emptied.
    let stored = results(&history(&app, chat, "").await);
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[0], deleted["message"]);
    for message in &stored {
        assert_eq!(message["text"], "");
        assert_eq!(message["is_deleted"], true);
    }
    assert_quiet(&mut a).await;
    assert_quiet(&mut b).await;
}
