//! Reactions (toggled over the socket, set over REST, in a stable order,
//! bad emoji and the 21st refused) and typing frames.

use serde_json::{json, Value};

use crate::common::*;
use crate::{messages_path, post_text, setup};

const INVALID_EMOJI: &str =
    "Enter a valid emoji: 1 to 32 bytes, no whitespace, no ASCII letters or digits.";
const TOO_MANY_EMOJI: &str = "Ensure this field has no more than 20 distinct values.";

/// `PUT` (add) or `DELETE` (remove) a reaction over REST.
async fn react(
    app: &TestApp,
    token: &str,
    chat: i64,
    id: i64,
    emoji: &str,
    add: bool,
) -> (u16, Value) {
    let path = format!("/api/chat/books/{chat}/messages/{id}/reactions/{emoji}/");
    let url = app.url(&path);
    let request = if add {
        app.client.put(url)
    } else {
        app.client.delete(url)
    };
    send(request.bearer_auth(token)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reactions_toggle_over_the_socket_and_are_set_over_rest() {
    let app = spawn_app().await;
    let (nik, chat) = setup(&app, "nik").await;
    let ann = app.user("ann").await;
    let message = post_text(&app, &nik, chat, "react to me").await;
    let id = message["id"].as_i64().unwrap();
    let mut nik_ws = connect(&app.ws_url("books", chat, &format!("token={nik}"))).await;
    next_json(&mut nik_ws).await;
    let (mut watcher, _) = join_url(&app.ws_url("books", chat, "")).await;

    send_json(
        &mut nik_ws,
        json!({"type": "react", "id": id, "emoji": "👍"}),
    )
    .await;
    let frame = next_non_presence(&mut watcher).await;
    assert_eq!(frame["type"], "reactions");
    assert_eq!(frame["message"]["id"], id);
    assert_eq!(
        frame["message"]["reactions"],
        json!([{"emoji": "👍", "users": ["nik"]}])
    );
    assert_eq!(next_non_presence(&mut nik_ws).await, frame);

    let (status, body) = react(&app, &ann, chat, id, "%F0%9F%8E%89", true).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = react(&app, &ann, chat, id, "%F0%9F%91%8D", true).await;
    assert_eq!(status, 200, "{body}");
    // PUT twice is one reaction.
    let (_, body) = react(&app, &ann, chat, id, "%F0%9F%91%8D", true).await;
    assert_eq!(
        body["reactions"],
        json!([{"emoji": "👍", "users": ["nik", "ann"]}, {"emoji": "🎉", "users": ["ann"]}])
    );
    for _ in 0..3 {
        assert_eq!(next_non_presence(&mut watcher).await["type"], "reactions");
    }
    // The socket's react toggles it off again: 👍 keeps its place (its
    // first use) while ann still reacts with it; REST DELETE removes.
    send_json(
        &mut nik_ws,
        json!({"type": "react", "id": id, "emoji": "👍"}),
    )
    .await;
    let frame = next_non_presence(&mut watcher).await;
    assert_eq!(
        frame["message"]["reactions"],
        json!([{"emoji": "👍", "users": ["ann"]}, {"emoji": "🎉", "users": ["ann"]}])
    );
    let (status, body) = react(&app, &ann, chat, id, "%F0%9F%91%8D", false).await;
    assert_eq!(status, 200);
    assert_eq!(
        body["reactions"],
        json!([{"emoji": "🎉", "users": ["ann"]}])
    );
    // Gone from everyone, an emoji used again is a new first use: last.
    let (_, body) = react(&app, &nik, chat, id, "%F0%9F%91%8D", true).await;
    assert_eq!(
        body["reactions"],
        json!([{"emoji": "🎉", "users": ["ann"]}, {"emoji": "👍", "users": ["nik"]}])
    );
    let stored = app.history("books", chat, "").await;
    assert_eq!(results(&stored)[0]["reactions"], body["reactions"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_emoji_keeps_its_place_and_users_their_order_while_anyone_reacts() {
    let app = spawn_app().await;
    let (nik, chat) = setup(&app, "nik").await;
    let ann = app.user("ann").await;
    let bob = app.user("bob").await;
    let id = post_text(&app, &nik, chat, "order").await["id"]
        .as_i64()
        .unwrap();
    let (thumbs, heart) = ("%F0%9F%91%8D", "%E2%9D%A4%EF%B8%8F");
    for (token, emoji) in [
        (&bob, thumbs),
        (&ann, heart),
        (&ann, thumbs),
        (&nik, thumbs),
    ] {
        assert_eq!(react(&app, token, chat, id, emoji, true).await.0, 200);
    }
    let (_, body) = react(&app, &bob, chat, id, thumbs, false).await;
    assert_eq!(
        body["reactions"],
        json!([{"emoji": "👍", "users": ["ann", "nik"]}, {"emoji": "❤️", "users": ["ann"]}])
    );
    // Taking back a later reaction moves nothing either.
    let (_, body) = react(&app, &ann, chat, id, thumbs, false).await;
    assert_eq!(
        body["reactions"],
        json!([{"emoji": "👍", "users": ["nik"]}, {"emoji": "❤️", "users": ["ann"]}])
    );
    let (_, body) = react(&app, &bob, chat, id, thumbs, true).await;
    assert_eq!(
        body["reactions"],
        json!([{"emoji": "👍", "users": ["nik", "bob"]}, {"emoji": "❤️", "users": ["ann"]}])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reactions_refuse_bad_emoji_and_the_21st_distinct_one() {
    let app = spawn_app().await;
    let (nik, chat) = setup(&app, "nik").await;
    let id = post_text(&app, &nik, chat, "hi").await["id"]
        .as_i64()
        .unwrap();
    let long = "%F0%9F%91%8D".repeat(9); // 36 bytes
    for bad in [
        "a",
        "%F0%9F%91%8Dx",
        "1",
        "%20",
        "%F0%9F%91%8D%20%F0%9F%91%8D",
        long.as_str(),
    ] {
        assert_eq!(
            react(&app, &nik, chat, id, bad, true).await,
            (400, json!({"emoji": [INVALID_EMOJI]})),
            "{bad}"
        );
    }
    let mut ws = connect(&app.ws_url("books", chat, &format!("token={nik}"))).await;
    next_json(&mut ws).await;
    send_json(&mut ws, json!({"type": "react", "id": id, "emoji": "ok"})).await;
    let error = expect_error(&mut ws, "invalid").await;
    assert_eq!(error["detail"], INVALID_EMOJI);
    send_json(
        &mut ws,
        json!({"type": "react", "id": id + 100, "emoji": "👍"}),
    )
    .await;
    expect_error(&mut ws, "not_found").await;

    let emoji: Vec<String> = (0..21)
        .map(|i| char::from_u32(0x1F600 + i).unwrap().to_string())
        .collect();
    for e in &emoji[..20] {
        let (status, body) = react(&app, &nik, chat, id, e, true).await;
        assert_eq!(status, 200, "{body}");
    }
    assert_eq!(
        react(&app, &nik, chat, id, &emoji[20], true).await,
        (400, json!({"emoji": [TOO_MANY_EMOJI]}))
    );
    // Another user may still join an emoji already there.
    let ann = app.user("ann").await;
    let (status, body) = react(&app, &ann, chat, id, &emoji[0], true).await;
    assert_eq!(status, 200);
    assert_eq!(body["reactions"].as_array().unwrap().len(), 20);
    assert_eq!(body["reactions"][0]["users"], json!(["nik", "ann"]));

    let anonymous = app
        .client
        .put(app.url(&format!("{}{id}/reactions/🎉/", messages_path(chat))));
    assert_eq!(send(anonymous).await.0, 401);
    let deleted = app.url(&format!("{}{id}/", messages_path(chat)));
    send_raw(app.client.delete(deleted).bearer_auth(&nik)).await;
    assert_eq!(
        react(&app, &nik, chat, id, &emoji[0], true).await,
        (404, not_found())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typing_reaches_the_others_at_most_once_in_three_seconds() {
    let app = spawn_app().await;
    let (nik, chat) = setup(&app, "nik").await;
    let mut nik_ws = connect(&app.ws_url("books", chat, &format!("token={nik}"))).await;
    next_json(&mut nik_ws).await;
    let (mut other, _) = join_url(&app.ws_url("books", chat, "")).await;
    next_json(&mut nik_ws).await; // presence

    send_json(&mut nik_ws, json!({"type": "typing"})).await;
    assert_eq!(
        next_json(&mut other).await,
        json!({"type": "typing", "user": "nik"})
    );
    send_json(&mut nik_ws, json!({"type": "typing"})).await;
    assert_quiet(&mut other).await;
    assert_quiet(&mut nik_ws).await;
    // Not stored, and a read-only socket may not type.
    assert!(app.all_messages("books", chat).await.is_empty());
    send_json(&mut other, json!({"type": "typing"})).await;
    expect_error(&mut other, "not_authenticated").await;

    tokio::time::sleep(std::time::Duration::from_millis(3050)).await;
    send_json(&mut nik_ws, json!({"type": "typing"})).await;
    assert_eq!(next_json(&mut other).await["user"], "nik");
}
