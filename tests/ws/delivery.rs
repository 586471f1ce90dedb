//! What every socket of a chat receives: each message once and in one order,
//! the hello frame, no gap or repeat at the hello/live seam, chat updates.

use crate::common::*;

use std::time::Duration;

use serde_json::json;
use tokio::time::timeout;
use tokio_tungstenite::connect_async;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::{assert_fresh_message, create, history, join, join_with};

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
