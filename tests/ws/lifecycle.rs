//! A socket's life: presence as sockets join and leave, catching up with
//! `?after=` on reconnecting, and a server shutdown that closes with 1001.

use crate::common::*;

use std::time::Duration;

use serde_json::{json, Value};
use tokio::time::timeout;

use crate::{create, history, join, join_with};

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
