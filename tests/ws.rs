mod common;
use common::*;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::time::{timeout, Instant};
use tokio_tungstenite::connect_async;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{self, Message};

// ---------------------------------------------------------------------------
// Helpers (the general ones are in tests/common/ws.rs)
// ---------------------------------------------------------------------------

/// Opens a socket to a films chat, with `?token=` when given, and returns
/// it with its `hello` frame.
async fn join(app: &TestApp, chat: i64, token: Option<&str>) -> (Ws, Value) {
    let query = token.map(|t| format!("token={t}")).unwrap_or_default();
    join_with(app, chat, &query).await
}

/// Like [`join`] with an arbitrary query string.
async fn join_with(app: &TestApp, chat: i64, query: &str) -> (Ws, Value) {
    join_url(&app.ws_url("films", chat, query)).await
}

/// Creates a films chat; returns its id.
async fn create(app: &TestApp, token: &str, title: &str) -> i64 {
    app.new_chat_id(token, "films", title).await
}

/// A page of a films chat's messages (`query`: `""`, `"?after=3"`...).
async fn history(app: &TestApp, chat: i64, query: &str) -> Value {
    app.history("films", chat, query).await
}

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

/// Checks a fresh (unedited, undeleted) message object.
fn assert_fresh_message(message: &Value, chat: i64, user: i64, user_name: &str, text: &str) {
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

// ---------------------------------------------------------------------------
// Fan-out
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_member_gets_every_message_once_in_the_same_order() {
    let app = spawn_app().await;
    let names = ["alice", "bob", "carol"];
    let mut tokens = Vec::new();
    let mut user_ids = Vec::new();
    for name in names {
        let token = app.user(name).await;
        user_ids.push(app.user_id(&token).await);
        tokens.push(token);
    }
    let chat = create(&app, &tokens[0], "Dune").await;
    let other = create(&app, &tokens[0], "Alien").await;

    let mut sockets: Vec<Ws> = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        let (ws, hello) = join(&app, chat, Some(token)).await;
        assert_eq!(hello["online"], i + 1);
        assert_eq!(hello["user"], names[i]);
        for earlier in sockets.iter_mut() {
            assert_eq!(
                next_json(earlier).await,
                json!({"type": "presence", "online": i + 1})
            );
        }
        sockets.push(ws);
    }
    let (mut outsider, hello) = join(&app, other, Some(&tokens[1])).await;
    assert_eq!(hello["online"], 1);
    assert_eq!(hello["messages"], json!([]));

    for round in 0..3 {
        for (i, ws) in sockets.iter_mut().enumerate() {
            let name = names[i];
            post(
                ws,
                &format!("{name} says {round}"),
                &format!("{name}-{round}"),
            )
            .await;
        }
    }

    let mut sequences = Vec::new();
    for ws in sockets.iter_mut() {
        let mut seen: Vec<(i64, String)> = Vec::new();
        for _ in 0..9 {
            let frame = next_message(ws).await;
            let message = &frame["message"];
            // Committed before it was broadcast: REST already has it.
            let stored = results(&history(&app, chat, "").await);
            assert!(
                stored.iter().any(|m| m == message),
                "{message} is not in the history yet: {stored:?}"
            );
            let name = message["user_name"].as_str().unwrap().to_string();
            let who = names.iter().position(|n| *n == name).unwrap();
            let text = message["text"].as_str().unwrap().to_string();
            let round = text.strip_prefix(&format!("{name} says ")).unwrap();
            assert_fresh_message(message, chat, user_ids[who], &name, &text);
            assert_eq!(frame["nonce"], format!("{name}-{round}"), "{frame}");
            assert_eq!(frame.as_object().unwrap().len(), 3, "{frame}");
            seen.push((id_of(&frame), text));
        }
        assert_quiet(ws).await;
        sequences.push(seen);
    }

    // Exactly once each, ids increasing, the same order everywhere.
    let first = &sequences[0];
    assert!(first.windows(2).all(|w| w[0].0 < w[1].0), "{first:?}");
    let mut texts: Vec<&str> = first.iter().map(|(_, t)| t.as_str()).collect();
    texts.sort_unstable();
    let mut expected: Vec<String> = Vec::new();
    for name in names {
        for round in 0..3 {
            expected.push(format!("{name} says {round}"));
        }
    }
    expected.sort_unstable();
    assert_eq!(texts, expected);
    for other_sequence in &sequences[1..] {
        assert_eq!(other_sequence, first);
    }
    // Each sender's messages keep their sending order.
    for name in names {
        let own: Vec<&str> = first
            .iter()
            .map(|(_, t)| t.as_str())
            .filter(|t| t.starts_with(name))
            .collect();
        let sent: Vec<String> = (0..3).map(|r| format!("{name} says {r}")).collect();
        assert_eq!(own, sent);
    }
    // REST history holds the same sequence.
    let page = history(&app, chat, "").await;
    assert_eq!(page["count"], 9);
    assert_eq!(
        ids(&results(&page)),
        first.iter().map(|(id, _)| *id).collect::<Vec<_>>()
    );

    // The socket of the other chat heard nothing.
    assert_quiet(&mut outsider).await;
    assert_eq!(history(&app, other, "").await["count"], 0);
}

// ---------------------------------------------------------------------------
// hello
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hello_names_the_user_counts_sockets_and_carries_the_last_50_messages() {
    let app = spawn_app_with(|c| {
        c.ws.burst = 1000;
        c.ws.rate_per_sec = 1000.0;
    })
    .await;
    let token = app.user("alice").await;
    let alice = app.user_id(&token).await;
    let chat = create(&app, &token, "Dune").await;
    let chat_view = app.get_ok(&format!("/api/chat/films/{chat}/")).await;

    let (mut a, hello) = join(&app, chat, Some(&token)).await;
    assert_eq!(
        hello,
        json!({"type": "hello", "chat": chat_view, "user": "alice", "online": 1, "messages": [], "more": false})
    );

    for i in 1..=60 {
        post(&mut a, &format!("message {i}"), &format!("n{i}")).await;
    }
    let mut sent = Vec::new();
    for i in 1..=60 {
        let frame = next_message(&mut a).await;
        assert_fresh_message(
            &frame["message"],
            chat,
            alice,
            "alice",
            &format!("message {i}"),
        );
        assert_eq!(frame["nonce"], format!("n{i}"));
        sent.push(frame["message"].clone());
    }

    // Read-only socket: no user; the last 50, oldest first.
    let (_b, hello) = join(&app, chat, None).await;
    assert_eq!(
        hello,
        json!({"type": "hello", "chat": chat_view, "user": null, "online": 2, "messages": sent[10..], "more": false})
    );
    assert_eq!(
        next_json(&mut a).await,
        json!({"type": "presence", "online": 2})
    );

    // Authorization header instead of ?token=.
    let bob = app.user("bob").await;
    let mut request = app.ws_url("films", chat, "").into_client_request().unwrap();
    request
        .headers_mut()
        .insert("Authorization", format!("Bearer {bob}").parse().unwrap());
    let (mut c, _) = timeout(WAIT, connect_async(request))
        .await
        .unwrap()
        .unwrap();
    let hello = next_json(&mut c).await;
    assert_eq!(hello["type"], "hello");
    assert_eq!(hello["user"], "bob");
    assert_eq!(hello["online"], 3);
    assert_eq!(hello["messages"], json!(sent[10..]));
    assert_eq!(
        next_json(&mut a).await,
        json!({"type": "presence", "online": 3})
    );
    // bob can write.
    post(&mut c, "hi from bob", "b").await;
    let frame = next_message(&mut c).await;
    assert_eq!(frame["message"]["user_name"], "bob");
    assert_eq!(next_message(&mut a).await, frame);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_message_is_lost_or_repeated_between_hello_and_the_live_frames() {
    let app = spawn_app_with(|c| {
        c.ws.burst = 1000;
        c.ws.rate_per_sec = 1000.0;
    })
    .await;
    let token = app.user("alice").await;
    let chat = create(&app, &token, "Dune").await;
    const TOTAL: usize = 200;

    let (mut writer, _) = join(&app, chat, Some(&token)).await;
    let flood = tokio::spawn(async move {
        for i in 1..=TOTAL {
            post(&mut writer, &format!("m{i}"), "x").await;
            if i % 10 == 0 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        let mut last = 0;
        for _ in 0..TOTAL {
            last = id_of(&next_non_presence(&mut writer).await);
        }
        (writer, last)
    });

    // Join while the flood goes on, with and without ?after=0.
    let mut joined = Vec::new();
    for k in 0..6 {
        let query = if k % 2 == 0 { "after=0" } else { "" };
        let (ws, hello) = join_with(&app, chat, query).await;
        joined.push((ws, hello, query));
        tokio::time::sleep(Duration::from_millis(15)).await;
    }
    let (_writer, last) = timeout(Duration::from_secs(20), flood)
        .await
        .expect("flood timed out")
        .unwrap();

    for (mut ws, hello, query) in joined {
        let mut seen = ids(hello["messages"].as_array().unwrap());
        if query.is_empty() {
            assert!(seen.len() <= 50);
        }
        while seen.last().copied().unwrap_or(0) < last {
            let frame = next_non_presence(&mut ws).await;
            assert_eq!(frame["type"], "message", "{frame}");
            seen.push(id_of(&frame));
        }
        let first = if query.is_empty() {
            seen.first().copied().unwrap_or(last + 1)
        } else {
            1
        };
        let expected: Vec<i64> = (first..=last).collect();
        assert_eq!(seen, expected, "query {query:?}");
    }
}

// ---------------------------------------------------------------------------
// Frames a client sends
// ---------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------
// Edits and deletes
// ---------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------
// Presence, catch-up
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_counts_joins_and_leaves() {
    let app = spawn_app().await;
    let token = app.user("alice").await;
    let chat = create(&app, &token, "Dune").await;

    let (mut a, hello) = join(&app, chat, Some(&token)).await;
    assert_eq!(hello["online"], 1);
    let (mut b, hello) = join(&app, chat, None).await;
    assert_eq!(hello["online"], 2);
    assert_eq!(
        next_json(&mut a).await,
        json!({"type": "presence", "online": 2})
    );
    assert_quiet(&mut b).await;

    // A clean close.
    b.close(None).await.unwrap();
    finish_close(&mut b).await;
    assert_eq!(
        next_json(&mut a).await,
        json!({"type": "presence", "online": 1})
    );

    // A dropped connection counts as leaving too.
    let (c, hello) = join(&app, chat, None).await;
    assert_eq!(hello["online"], 2);
    assert_eq!(
        next_json(&mut a).await,
        json!({"type": "presence", "online": 2})
    );
    drop(c);
    assert_eq!(
        next_json(&mut a).await,
        json!({"type": "presence", "online": 1})
    );
    assert_quiet(&mut a).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnecting_with_after_catches_up_exactly() {
    let app = spawn_app().await;
    let token = app.user("alice").await;
    let chat = create(&app, &token, "Dune").await;
    let (mut a, _) = join(&app, chat, Some(&token)).await;

    let (mut b, _) = join(&app, chat, None).await;
    assert_eq!(
        next_json(&mut a).await,
        json!({"type": "presence", "online": 2})
    );
    let mut all = Vec::new();
    for i in 1..=3 {
        post(&mut a, &format!("before {i}"), "x").await;
        let frame = next_message(&mut a).await;
        assert_eq!(next_message(&mut b).await, frame);
        all.push(frame["message"].clone());
    }
    let last_seen = all[2]["id"].as_i64().unwrap();
    b.close(None).await.unwrap();
    finish_close(&mut b).await;
    assert_eq!(
        next_json(&mut a).await,
        json!({"type": "presence", "online": 1})
    );

    let mut missed = Vec::new();
    for i in 1..=4 {
        post(&mut a, &format!("missed {i}"), "y").await;
        missed.push(next_message(&mut a).await["message"].clone());
    }

    let (mut b, hello) = join_with(&app, chat, &format!("after={last_seen}")).await;
    assert_eq!(hello["online"], 2);
    assert_eq!(hello["messages"], json!(missed));
    let page = history(&app, chat, &format!("?after={last_seen}")).await;
    assert_eq!(page["count"], 4);
    assert_eq!(page["next"], Value::Null);
    assert_eq!(page["previous"], Value::Null);
    assert_eq!(page["results"], json!(missed));
    assert_eq!(
        next_json(&mut a).await,
        json!({"type": "presence", "online": 2})
    );

    // Caught up: nothing more, then live frames.
    assert_quiet(&mut b).await;
    post(&mut a, "live", "z").await;
    let live = next_message(&mut a).await;
    assert_eq!(next_message(&mut b).await, live);

    // after=<latest>: nothing to catch up on.
    let latest = id_of(&live);
    let (_c, hello) = join_with(&app, chat, &format!("after={latest}")).await;
    assert_eq!(hello["messages"], json!([]));
    assert_eq!(
        results(&history(&app, chat, &format!("?after={latest}")).await),
        Vec::<Value>::new()
    );
    // after=0: everything.
    all.extend(missed);
    all.push(live["message"].clone());
    let (_d, hello) = join_with(&app, chat, "after=0").await;
    assert_eq!(hello["messages"], json!(all));
}

/// An `after` past the newest message (a client that kept its position
/// from before a database restore, say) finds nothing to catch up on, but
/// it is in the chat: new messages must still reach it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_that_caught_up_from_a_future_id_still_gets_live_messages() {
    let app = spawn_app().await;
    let token = app.user("alice").await;
    let chat = create(&app, &token, "Dune").await;
    let (mut a, _) = join(&app, chat, Some(&token)).await;
    let (mut b, hello) = join_with(&app, chat, "after=1000000").await;
    assert_eq!(hello["messages"], json!([]));
    assert_eq!(
        next_json(&mut a).await,
        json!({"type": "presence", "online": 2})
    );

    post(&mut a, "anyone there?", "q").await;
    let frame = next_message(&mut a).await;
    assert_eq!(next_json(&mut b).await, frame);
}

// ---------------------------------------------------------------------------
// Slow clients, limits
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_is_dropped_and_the_others_keep_receiving() {
    let app = spawn_app_with(|c| {
        c.ws.queue_len = 8;
        c.ws.burst = 10_000;
        c.ws.rate_per_sec = 100_000.0;
    })
    .await;
    let token = app.user("alice").await;
    let chat = create(&app, &token, "Dune").await;

    let (mut reader, _) = join(&app, chat, None).await;
    let (mut sender, _) = join(&app, chat, Some(&token)).await;
    assert_eq!(
        next_json(&mut reader).await,
        json!({"type": "presence", "online": 2})
    );
    // The slow client: its hello is never read, nor anything after it.
    let mut slow = connect(&app.ws_url("films", chat, "")).await;
    for ws in [&mut reader, &mut sender] {
        assert_eq!(
            next_json(ws).await,
            json!({"type": "presence", "online": 3})
        );
    }

    let dropped = Arc::new(AtomicBool::new(false));
    let reading = {
        let dropped = dropped.clone();
        tokio::spawn(async move {
            let mut ids = Vec::new();
            let mut presences = Vec::new();
            loop {
                let frame = next_json(&mut reader).await;
                match frame["type"].as_str() {
                    Some("message") => {
                        ids.push(id_of(&frame));
                        if frame["message"]["text"] == "the end" {
                            return (reader, ids, presences);
                        }
                    }
                    Some("presence") => {
                        presences.push(frame["online"].as_u64().unwrap());
                        dropped.store(true, Ordering::SeqCst);
                    }
                    _ => panic!("unexpected {frame}"),
                }
            }
        })
    };

    // Keep a few messages in flight (fewer than the queue holds), so the
    // reader is never far behind; the slow client's socket buffers fill up.
    const WINDOW: usize = 4;
    const MAX: usize = 20_000;
    let text = "ü".repeat(1500);
    let started = Instant::now();
    let mut echoed = Vec::new();
    let mut sent = 0;
    let mut extra = 0;
    while sent < MAX && extra < 20 {
        post(&mut sender, &text, "s").await;
        sent += 1;
        if dropped.load(Ordering::SeqCst) {
            extra += 1;
        }
        if sent > WINDOW {
            echoed.push(id_of(&next_non_presence(&mut sender).await));
        }
        assert!(started.elapsed() < Duration::from_secs(25), "too slow");
    }
    assert!(
        dropped.load(Ordering::SeqCst),
        "the slow client was not dropped after {sent} messages"
    );
    post(&mut sender, "the end", "end").await;
    while echoed.len() < sent + 1 {
        let frame = next_json(&mut sender).await;
        if frame["type"] == "presence" {
            assert_eq!(frame["online"], 2);
            continue;
        }
        assert_eq!(frame["type"], "message", "{frame}");
        echoed.push(id_of(&frame));
    }
    let (_reader, read, presences) = timeout(Duration::from_secs(10), reading)
        .await
        .expect("reader timed out")
        .unwrap();
    assert_eq!(read, echoed, "the reader missed messages");
    assert_eq!(presences, [2]);

    // The slow client: whatever it was sent, then 1008 (or the end).
    let drained = timeout(Duration::from_secs(10), async {
        let mut texts = 0;
        loop {
            match slow.next().await {
                Some(Ok(Message::Text(_))) => texts += 1,
                Some(Ok(Message::Close(frame))) => {
                    return (texts, frame.map(|f| u16::from(f.code)))
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return (texts, None),
            }
        }
    })
    .await
    .expect("the slow client was never closed");
    assert!(drained.0 < sent + 2, "{drained:?}");
    assert_eq!(drained.1, Some(1008), "{drained:?}");
}

/// Reads `total` message frames (skipping presence) from a socket; returns
/// their ids, or what ended the socket first.
async fn collect_messages<S>(stream: &mut S, total: usize) -> Result<Vec<i64>, String>
where
    S: futures_util::Stream<Item = Result<Message, tungstenite::Error>> + Unpin,
{
    let mut ids = Vec::with_capacity(total);
    while ids.len() < total {
        let next = match timeout(Duration::from_secs(10), stream.next()).await {
            Ok(next) => next,
            Err(_) => return Err(format!("timed out after {} messages", ids.len())),
        };
        match next {
            Some(Ok(Message::Text(text))) => {
                let frame: Value = serde_json::from_str(text.as_str()).unwrap();
                match frame["type"].as_str() {
                    Some("message") => ids.push(id_of(&frame)),
                    Some("presence") => {}
                    _ => return Err(format!("unexpected frame {frame}")),
                }
            }
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
            other => return Err(format!("after {} messages: {other:?}", ids.len())),
        }
    }
    Ok(ids)
}

/// Everyone sends no more than the default burst allows, and every client
/// reads as fast as it can: nobody is "too slow", so nobody may be closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_room_within_the_limits_does_not_disconnect_readers_that_keep_up() {
    let app = spawn_app().await;
    let token = app.user("alice").await;
    let chat = create(&app, &token, "Dune").await;
    const SENDERS: usize = 20;
    const EACH: usize = 30; // the default burst
    const TOTAL: usize = SENDERS * EACH;

    let (mut reader, _) = join(&app, chat, None).await;
    let mut senders = Vec::new();
    for _ in 0..SENDERS {
        senders.push(join(&app, chat, Some(&token)).await.0);
    }
    let reading = tokio::spawn(async move { collect_messages(&mut reader, TOTAL).await });
    let mut sending = Vec::new();
    for (k, ws) in senders.into_iter().enumerate() {
        sending.push(tokio::spawn(async move {
            let (mut sink, mut stream) = ws.split();
            let echoes = tokio::spawn(async move { collect_messages(&mut stream, TOTAL).await });
            let mut frames = futures_util::stream::iter((0..EACH).map(|i| {
                let text = format!("sender {k} message {i}");
                Ok(Message::text(
                    json!({"type": "message", "text": text}).to_string(),
                ))
            }));
            sink.send_all(&mut frames).await.expect("send failed");
            let echoed = echoes.await.unwrap();
            (sink, echoed)
        }));
    }
    let mut sequences = Vec::new();
    for task in sending {
        let (_sink, echoed) = task.await.unwrap();
        sequences.push(echoed);
    }
    let read = reading.await.unwrap().expect("the reader was disconnected");
    assert_eq!(read.len(), TOTAL);
    assert!(read.windows(2).all(|w| w[0] < w[1]));
    for (k, echoed) in sequences.into_iter().enumerate() {
        assert_eq!(
            echoed.unwrap_or_else(|e| panic!("sender {k} was disconnected: {e}")),
            read
        );
    }
    let page = history(&app, chat, "?page=6").await;
    assert_eq!(page["count"], TOTAL);
    assert_eq!(ids(&results(&page)), read[500..]);
}

#[tokio::test]
async fn a_frame_over_the_size_limit_closes_with_1009() {
    let app = spawn_app().await;
    let token = app.user("alice").await;
    let chat = create(&app, &token, "Dune").await;
    let (mut ws, _) = join(&app, chat, Some(&token)).await;

    // The longest text allowed fits however a client escapes it: 2,000
    // emoji written as JSON's `\u` escapes (surrogate pairs) are 24,000 bytes.
    let escaped = |chars: usize| {
        format!(
            r#"{{"type": "message", "text": "{}"}}"#,
            r"\ud83d\ude00".repeat(chars)
        )
    };
    ws.send(Message::text(escaped(2000))).await.unwrap();
    let frame = next_message(&mut ws).await;
    assert_eq!(frame["message"]["text"], "😀".repeat(2000));
    // One more is a text too long, told like any other; the socket stays.
    ws.send(Message::text(escaped(2001))).await.unwrap();
    let error = expect_error(&mut ws, "max_length").await;
    assert_eq!(
        error["detail"],
        "Ensure this field has no more than 2000 characters."
    );
    // Just under the limit is fine.
    let padding = "x".repeat(63 * 1024);
    send_json(&mut ws, json!({"type": "ping", "padding": padding})).await;
    assert_eq!(next_json(&mut ws).await, json!({"type": "pong"}));

    let text = "x".repeat(65 * 1024);
    send_json(&mut ws, json!({"type": "message", "text": text})).await;
    assert_eq!(close_code(&mut ws).await, 1009);
    assert_eq!(history(&app, chat, "").await["count"], 1);
}

#[tokio::test]
async fn flooding_is_throttled_and_the_socket_stays_open() {
    let app = spawn_app_with(|c| {
        c.ws.burst = 3;
        c.ws.rate_per_sec = 0.5;
    })
    .await;
    let token = app.user("alice").await;
    let chat = create(&app, &token, "Dune").await;
    let (mut ws, _) = join(&app, chat, Some(&token)).await;

    for i in 1..=5 {
        post(&mut ws, &format!("m{i}"), &format!("n{i}")).await;
    }
    let mut texts = Vec::new();
    let mut throttled = 0;
    for _ in 0..5 {
        let frame = next_json(&mut ws).await;
        match frame["type"].as_str() {
            Some("message") => texts.push(frame["message"]["text"].as_str().unwrap().to_string()),
            Some("error") => {
                assert_eq!(frame["code"], "throttled", "{frame}");
                assert_eq!(
                    frame["detail"],
                    "Request was throttled. Expected available in 2 seconds."
                );
                throttled += 1;
            }
            _ => panic!("unexpected {frame}"),
        }
    }
    assert_eq!(texts, ["m1", "m2", "m3"]);
    assert_eq!(throttled, 2);
    assert_quiet(&mut ws).await;
    // Pings are not throttled; the socket is open.
    assert_alive(&mut ws).await;
    assert_eq!(history(&app, chat, "").await["count"], 3);

    // A token comes back after 1 / rate seconds.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    post(&mut ws, "later", "l").await;
    assert_eq!(next_message(&mut ws).await["message"]["text"], "later");
}

// ---------------------------------------------------------------------------
// Chat changes, refusals, shutdown
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_updates_and_deletion_reach_the_sockets() {
    let app = spawn_app().await;
    let token = app.user("alice").await;
    let chat = create(&app, &token, "Dune").await;
    let other = create(&app, &token, "Alien").await;
    let (mut ws, _) = join(&app, chat, None).await;
    let (mut outsider, _) = join(&app, other, None).await;

    let response = app
        .client
        .patch(app.url(&format!("/api/chat/films/{chat}/")))
        .bearer_auth(&token)
        .json(&json!({"description": "Spice must flow"}))
        .send()
        .await
        .unwrap();
    let (status, updated) = json_of(response).await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["description"], "Spice must flow");
    assert_eq!(
        next_json(&mut ws).await,
        json!({"type": "chat_updated", "chat": updated})
    );

    let response = app
        .client
        .delete(app.url(&format!("/api/chat/films/{chat}/")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    assert_eq!(next_json(&mut ws).await, json!({"type": "chat_deleted"}));
    assert_eq!(close_code(&mut ws).await, 4404);

    assert_quiet(&mut outsider).await;
    assert_alive(&mut outsider).await;
    assert_eq!(refused_status(&app.ws_url("films", chat, "")).await, 404);
}

#[tokio::test]
async fn refusals_before_the_upgrade() {
    let app = spawn_app().await;
    let token = app.user("alice").await;
    let chat = create(&app, &token, "Dune").await;

    assert_eq!(
        refused_status(&app.ws_url("films", chat + 1000, "")).await,
        404
    );
    assert_eq!(refused_status(&app.ws_url("movies", chat, "")).await, 404);
    assert_eq!(refused_status(&app.ws_url("music", chat, "")).await, 404);
    assert_eq!(
        refused_status(&app.ws_url("films", chat, "token=not-a-token")).await,
        401
    );
    let response = app.get(&format!("/chat/films/{chat}/")).await;
    assert_eq!(response.status(), 426);

    // The path without its trailing slash works too.
    let host = app.base.trim_start_matches("http://");
    let mut ws = connect(&format!("ws://{host}/chat/films/{chat}?token={token}")).await;
    let hello = next_json(&mut ws).await;
    assert_eq!(hello["type"], "hello");
    assert_eq!(hello["user"], "alice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_sockets_with_1001_and_keeps_acknowledged_messages() {
    let mut app = spawn_app().await;
    let token = app.user("alice").await;
    let chat = create(&app, &token, "Dune").await;
    let (mut ws, _) = join(&app, chat, Some(&token)).await;

    post(&mut ws, "last words", "bye").await;
    let acknowledged = next_message(&mut ws).await["message"].clone();

    let server = app.server.take().unwrap();
    let stopping = tokio::spawn(server.shutdown());
    assert_eq!(close_code(&mut ws).await, 1001);
    timeout(Duration::from_secs(15), stopping)
        .await
        .expect("shutdown took too long")
        .unwrap()
        .expect("clean shutdown");

    let dir = app.dir;
    let app = start(test_config(dir.path()), dir).await;
    let stored = results(&history(&app, chat, "").await);
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0]["id"], acknowledged["id"]);
    assert_eq!(stored[0]["text"], "last words");
    assert_eq!(stored[0]["timestamp"], acknowledged["timestamp"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_client_that_answers_pings_stays_connected() {
    let app = spawn_app_with(|c| c.ws.ping_interval = Duration::from_millis(100)).await;
    let token = app.user("alice").await;
    let chat = create(&app, &token, "Dune").await;
    let (mut ws, _) = join(&app, chat, Some(&token)).await;

    // Send nothing, but keep reading: tungstenite answers every ping with a
    // pong, as browsers do. That is a live client, for 60 ping intervals.
    let mut pings = 0;
    let until = Instant::now() + Duration::from_secs(6);
    while let Ok(next) = tokio::time::timeout_at(until, ws.next()).await {
        match next {
            Some(Ok(Message::Ping(_))) => pings += 1,
            other => panic!("an idle client answering pings got {other:?} after {pings} pings"),
        }
    }
    assert!(pings >= 5, "idle sockets are pinged: {pings} pings");
    assert_alive(&mut ws).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_answering_pings_is_dropped_and_the_room_is_told() {
    let app = spawn_app_with(|c| c.ws.ping_interval = Duration::from_millis(200)).await;
    let token = app.user("alice").await;
    let chat = create(&app, &token, "Dune").await;
    let (mut a, _) = join(&app, chat, Some(&token)).await;
    // Never read: it never answers a ping.
    let mut dead = connect(&app.ws_url("films", chat, "")).await;
    assert_eq!(
        next_json(&mut a).await,
        json!({"type": "presence", "online": 2})
    );

    // `a` keeps talking (so it is never idle) until the room shrinks.
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut dropped = false;
    while !dropped && Instant::now() < deadline {
        send_json(&mut a, json!({"type": "ping"})).await;
        loop {
            let frame = next_json(&mut a).await;
            if frame == json!({"type": "pong"}) {
                break;
            }
            assert_eq!(frame, json!({"type": "presence", "online": 1}));
            dropped = true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        dropped,
        "a socket silent for 15 ping intervals is still in the room"
    );

    // The dead client's connection ends (after whatever was queued).
    timeout(WAIT, async {
        while let Some(Ok(message)) = dead.next().await {
            if matches!(message, Message::Close(_)) {
                break;
            }
        }
    })
    .await
    .expect("the dead socket was never closed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sockets_over_the_limit_are_refused_before_the_upgrade() {
    let app = spawn_app_with(|c| c.ws.max_sockets = 2).await;
    let token = app.user("alice").await;
    let chat = create(&app, &token, "Dune").await;
    let other = create(&app, &token, "Alien").await;
    let (mut a, _) = join(&app, chat, Some(&token)).await;
    let (mut b, _) = join(&app, other, None).await;

    // The limit is over all chats.
    assert_eq!(refused_status(&app.ws_url("films", chat, "")).await, 503);
    assert_eq!(refused_status(&app.ws_url("films", other, "")).await, 503);

    // A socket that leaves frees its place.
    b.close(None).await.unwrap();
    finish_close(&mut b).await;
    let deadline = Instant::now() + WAIT;
    let mut c = loop {
        let url = app.ws_url("films", chat, "");
        match connect_async(&url).await {
            Ok((ws, _)) => break ws,
            Err(tungstenite::Error::Http(response)) if response.status() == 503 => {
                assert!(Instant::now() < deadline, "the place was never freed");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(error) => panic!("{error:?}"),
        }
    };
    let hello = next_json(&mut c).await;
    assert_eq!(hello["type"], "hello");
    assert_eq!(hello["online"], 2);
    assert_eq!(
        next_json(&mut a).await,
        json!({"type": "presence", "online": 2})
    );
}
