//! Long absences and sockets closed from elsewhere: a 5 MB backlog paged
//! after `hello`, a short catch-up, 1011 when the database fails at open,
//! revocation (user deleted, new password) closing sockets with 4401, and a
//! chat deleted with its creator (4404).

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::time::{timeout, Instant};
use tokio_tungstenite::tungstenite::Message;

use crate::common::*;

/// Posts `n` messages of `chars` characters over one socket as fast as
/// the server takes them; returns their ids once all are echoed.
async fn post_many(app: &TestApp, token: &str, chat: i64, n: usize, chars: usize) -> Vec<i64> {
    let ws = connect(&app.ws_url("films", chat, &format!("token={token}"))).await;
    let (mut sink, mut stream) = ws.split();
    let sending = tokio::spawn(async move {
        for i in 0..n {
            let text = format!("{i:05}{}", "x".repeat(chars - 5));
            let frame = serde_json::json!({"type": "message", "text": text, "nonce": i});
            sink.send(Message::text(frame.to_string())).await.unwrap();
        }
        sink
    });
    let mut ids = Vec::with_capacity(n);
    while ids.len() < n {
        let next = timeout(Duration::from_secs(30), stream.next())
            .await
            .expect("echoes stopped");
        if let Some(Ok(Message::Text(text))) = next {
            let frame: Value = serde_json::from_str(&text).unwrap();
            match frame["type"].as_str() {
                Some("message") => ids.push(frame["message"]["id"].as_i64().unwrap()),
                Some("hello" | "presence") => {}
                _ => panic!("{frame}"),
            }
        }
    }
    let mut sink = sending.await.unwrap();
    let _ = sink.close().await;
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconnect_after_a_5_mb_backlog_sees_every_message_exactly_once() {
    let app = spawn_app_with(|c| {
        c.ws.burst = 1_000_000;
        c.ws.rate_per_sec = 1_000_000.0;
        c.ws.queue_len = 4096;
    })
    .await;
    let token = app.user("alice").await;
    let chat = app.new_chat_id(&token, "films", "Backlog").await;
    let seen_before = post_many(&app, &token, chat, 1, 10).await[0];

    // Away: 2,600 messages of 2,000 characters (about 5.5 MB) arrive.
    let backlog = post_many(&app, &token, chat, 2600, 2000).await;

    // Back: the hello carries the first 200, says more, and the socket lives.
    let (mut ws, hello) =
        join_url(&app.ws_url("films", chat, &format!("after={seen_before}"))).await;
    assert_eq!(hello["more"], true);
    let mut got = ids(hello["messages"].as_array().unwrap());
    assert_eq!(got, backlog[..200]);

    // New messages keep coming while the client pages the rest.
    let live = {
        let (app_base, token) = (app.base.clone(), token.clone());
        tokio::spawn(async move {
            let poster = ApiClient::new(app_base);
            let mut sent = Vec::new();
            for i in 0..30 {
                sent.push(id_of_message(
                    &send_message(&poster, &token, "films", chat, &format!("live {i}")).await,
                ));
            }
            sent
        })
    };
    loop {
        let last = *got.last().unwrap();
        let page = app.history("films", chat, &format!("?after={last}")).await;
        let page_ids = ids(&results(&page));
        assert!(page_ids.len() <= 100);
        got.extend(page_ids);
        if page["next"].is_null() {
            break;
        }
    }
    let live = live.await.unwrap();
    // The rest come on the socket; some may be in the pages too.
    let mut on_socket = Vec::new();
    while on_socket.len() < live.len() {
        let frame = next_non_presence(&mut ws).await;
        assert_eq!(frame["type"], "message", "{frame}");
        let id = id_of(&frame);
        if !on_socket.contains(&id) {
            on_socket.push(id);
        }
        assert!(
            !got[..200].contains(&id),
            "the socket repeated a hello message"
        );
    }
    assert_eq!(on_socket, live, "live frames in id order");
    assert!(
        got.windows(2).all(|w| w[0] < w[1]),
        "hello and pages ascend without repeats"
    );
    for id in on_socket {
        if !got.contains(&id) {
            got.push(id);
        }
    }
    let expected: Vec<i64> = backlog.iter().chain(&live).copied().collect();
    assert_eq!(got.len(), expected.len());
    assert_eq!(got, expected, "every message exactly once, in order");
    assert_served(&mut ws).await;
}

#[tokio::test]
async fn a_short_catch_up_says_no_more() {
    let app = spawn_app_with(|c| {
        c.ws.burst = 1_000;
        c.ws.rate_per_sec = 1_000.0;
    })
    .await;
    let token = app.user("alice").await;
    let chat = app.new_chat_id(&token, "films", "Short").await;
    let sent = post_many(&app, &token, chat, 200, 10).await;
    let (_ws, hello) = join_url(&app.ws_url("films", chat, "after=0")).await;
    assert_eq!(hello["more"], false);
    assert_eq!(ids(hello["messages"].as_array().unwrap()), sent);
    let (_ws, hello) = join_url(&app.ws_url("films", chat, &format!("after={}", sent[0]))).await;
    assert_eq!(
        (
            hello["more"].clone(),
            hello["messages"].as_array().unwrap().len()
        ),
        (serde_json::json!(false), 199)
    );
    let more = post_many(&app, &token, chat, 1, 10).await;
    let (_ws, hello) = join_url(&app.ws_url("films", chat, "after=0")).await;
    assert_eq!(hello["more"], true);
    assert_eq!(ids(hello["messages"].as_array().unwrap()), sent);
    // Without ?after= the last 50, and never more.
    let (_ws, hello) = join_url(&app.ws_url("films", chat, "")).await;
    assert_eq!(hello["more"], false);
    let last: Vec<i64> = sent[151..].iter().chain(&more).copied().collect();
    assert_eq!(ids(hello["messages"].as_array().unwrap()), last);
}

fn id_of_message(message: &Value) -> i64 {
    message["id"].as_i64().unwrap()
}

#[tokio::test]
async fn a_database_failure_while_opening_closes_with_1011_and_a_retry_works() {
    let app = spawn_app().await;
    let token = app.user("alice").await;
    let chat = app.new_chat_id(&token, "films", "Fragile").await;
    let url = app.ws_url("films", chat, &format!("token={token}"));

    // The chat is there (the check before the upgrade passes), but its
    // messages cannot be read: a real database error during the hello.
    let db = rusqlite::Connection::open(app.data_dir().join("chat.db")).unwrap();
    db.execute_batch("ALTER TABLE messages RENAME TO messages_away")
        .unwrap();
    let mut ws = connect(&url).await;
    assert_eq!(close_code(&mut ws).await, 1011, "not chat_deleted/4404");
    assert_eq!(
        app.get_json(&format!("/api/chat/films/{chat}/")).await.0,
        200
    );

    // Once the database is well again, the retry the client makes works.
    db.execute_batch("ALTER TABLE messages_away RENAME TO messages")
        .unwrap();
    let (mut ws, hello) = join_url(&url).await;
    assert_eq!(hello["chat"]["id"], chat);
    post_and_wait(&mut ws, "back", "n").await;
}

/// `chatd` (the real binary) on the test server's data directory.
fn chatd(args: &[&str], app: &TestApp) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_chatd"))
        .args(args)
        .arg("--data-dir")
        .arg(app.data_dir())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "chatd {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Alice and Bob in Bob's chat, each on a socket; returns the app,
/// Alice's token, the chat and both sockets.
async fn alice_and_bob() -> (TestApp, String, i64, Ws, Ws) {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let chat = app.new_chat_id(&bob, "films", "Revocation").await;
    let (alice_ws, _) = join_url(&app.ws_url("films", chat, &format!("token={alice}"))).await;
    let (bob_ws, _) = join_url(&app.ws_url("films", chat, &format!("token={bob}"))).await;
    (app, alice, chat, alice_ws, bob_ws)
}

/// Alice's socket is told and closed with 4401 within 5 s, her old token
/// opens no socket, and Bob's socket stays.
async fn assert_revoked(app: &TestApp, alice: &str, chat: i64, mut alice_ws: Ws, mut bob_ws: Ws) {
    let started = Instant::now();
    expect_revoked(&mut alice_ws).await;
    assert_eq!(close_code(&mut alice_ws).await, 4401);
    assert!(started.elapsed() < WAIT, "{:?}", started.elapsed());
    let url = app.ws_url("films", chat, &format!("token={alice}"));
    assert_eq!(refused_status(&url).await, 401);
    // Bob may hear Alice go first.
    assert_served(&mut bob_ws).await;
}

/// The next frame but presence ones is the `not_authenticated` error.
async fn expect_revoked(ws: &mut Ws) {
    loop {
        match timeout(WAIT, ws.next()).await.expect("no frame within 5 s") {
            Some(Ok(Message::Text(text))) => {
                let frame: Value = serde_json::from_str(&text).unwrap();
                if frame["type"] != "presence" {
                    assert_eq!(frame["type"], "error", "{frame}");
                    assert_eq!(frame["code"], "not_authenticated", "{frame}");
                    assert!(frame["detail"].as_str().is_some_and(|d| !d.is_empty()));
                    return;
                }
            }
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
            other => panic!("expected the error frame, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn deleting_a_user_over_the_api_closes_their_sockets_with_4401() {
    let (app, alice, chat, alice_ws, bob_ws) = alice_and_bob().await;
    let deleted = app
        .client
        .delete(app.url("/api/user/"))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    assert_revoked(&app, &alice, chat, alice_ws, bob_ws).await;
}

#[tokio::test]
async fn deleting_a_user_from_the_command_line_closes_their_sockets_with_4401() {
    let (app, alice, chat, alice_ws, bob_ws) = alice_and_bob().await;
    chatd(&["user", "delete", "alice"], &app);
    assert_revoked(&app, &alice, chat, alice_ws, bob_ws).await;
}

#[tokio::test]
async fn a_new_password_from_the_command_line_closes_the_old_sockets_only() {
    let (app, alice, chat, alice_ws, bob_ws) = alice_and_bob().await;
    chatd(
        &[
            "user",
            "set-password",
            "alice",
            "--password",
            "a brand new passphrase",
        ],
        &app,
    );
    assert_revoked(&app, &alice, chat, alice_ws, bob_ws).await;
    // Signed in again with the new password, a socket stays open.
    let login = app
        .client
        .post(app.url("/api/token/"))
        .form(&[
            ("username", "alice"),
            ("password", "a brand new passphrase"),
        ])
        .send()
        .await
        .unwrap();
    let token = login.json::<Value>().await.unwrap()["access"]
        .as_str()
        .unwrap()
        .to_string();
    let (mut ws, hello) = join_url(&app.ws_url("films", chat, &format!("token={token}"))).await;
    assert_eq!(hello["user"], "alice");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    post_and_wait(&mut ws, "still here", "n").await;
}

/// Ping, and expect the pong (presence frames may come first).
async fn assert_served(ws: &mut Ws) {
    send_json(ws, serde_json::json!({"type": "ping"})).await;
    assert_eq!(next_non_presence(ws).await["type"], "pong");
}

#[tokio::test]
async fn a_chat_deleted_with_its_creator_from_the_command_line_is_closed_with_4404() {
    let (app, _alice, chat, mut alice_ws, _bob_ws) = alice_and_bob().await;
    // Bob created the chat; it goes with him.
    let started = Instant::now();
    chatd(&["user", "delete", "bob"], &app);
    loop {
        let frame = next_json(&mut alice_ws).await;
        if frame["type"] != "presence" {
            assert_eq!(frame, serde_json::json!({"type": "chat_deleted"}));
            break;
        }
    }
    assert_eq!(close_code(&mut alice_ws).await, 4404);
    assert!(started.elapsed() < WAIT, "{:?}", started.elapsed());
    let (status, _) = app.get_json(&format!("/api/chat/films/{chat}/")).await;
    assert_eq!(status, 404);
}
