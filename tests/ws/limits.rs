//! Limits: a frame over the size limit closes with 1009, flooding is
//! throttled, and sockets over the cap or to no chat are refused before the upgrade.

use crate::common::*;

use std::time::Duration;

use futures_util::SinkExt;
use serde_json::json;
use tokio::time::Instant;
use tokio_tungstenite::connect_async;
use tokio_tungstenite::tungstenite::{self, Message};

use crate::{create, history, join};

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
