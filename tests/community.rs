//! The community features over real sockets (API.md, "Community
//! features"): image messages posted over REST, reactions, typing, read
//! markers with unread counts, and mentions. Search is in tests/search.rs.

mod common;

use common::*;
use serde_json::{json, Value};

const NEEDS_TEXT_OR_IMAGE: &str = "A message needs text or an image.";
const INVALID_EMOJI: &str =
    "Enter a valid emoji: 1 to 32 bytes, no whitespace, no ASCII letters or digits.";
const TOO_MANY_EMOJI: &str = "Ensure this field has no more than 20 distinct values.";

fn messages_path(chat: i64) -> String {
    format!("/api/chat/books/{chat}/messages/")
}

/// `POST …/messages/` with a JSON body as `token`'s user.
async fn post_json(app: &TestApp, token: &str, chat: i64, body: Value) -> (u16, Value) {
    let request = app.client.post(app.url(&messages_path(chat)));
    send(request.bearer_auth(token).json(&body)).await
}

/// Posts `text` over REST (201); returns the Message.
async fn post_text(app: &TestApp, token: &str, chat: i64, text: &str) -> Value {
    let (status, body) = post_json(app, token, chat, json!({ "text": text })).await;
    assert_eq!(status, 201, "{body}");
    body
}

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

/// A user and a chat of theirs in `books`.
async fn setup(app: &TestApp, name: &str) -> (String, i64) {
    let token = app.user(name).await;
    let chat = app
        .new_chat_id(&token, "books", &format!("{name}'s chat"))
        .await;
    (token, chat)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rest_post_is_stored_then_broadcast_with_its_image() {
    let app = spawn_app().await;
    let (token, chat) = setup(&app, "nik").await;
    let (mut ws, _) = join_url(&app.ws_url("books", chat, "")).await;

    let form = file_form(
        &[("text", "  look  ")],
        "image",
        fixture("red.png"),
        "a.png",
        "image/png",
    );
    let (status, message) = app.post_multipart(&token, &messages_path(chat), form).await;
    assert_eq!(status, 201, "{message}");
    let mut keys: Vec<&str> = message
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "chat",
            "edited",
            "id",
            "image",
            "is_deleted",
            "mentions",
            "reactions",
            "text",
            "timestamp",
            "user",
            "user_avatar",
            "user_name"
        ]
    );
    assert_eq!(message["text"], "look");
    assert_eq!(message["mentions"], json!([]));
    assert_eq!(message["reactions"], json!([]));
    let image = message["image"].as_str().unwrap();
    assert_upload_url(&app, image, "msg_img", "png");
    let (status, _, bytes) = app.fetch(image).await;
    assert_eq!((status, bytes), (200, fixture("red.png")));

    let frame = next_message(&mut ws).await;
    assert_eq!(frame["nonce"], Value::Null);
    assert_eq!(frame["message"], message);

    // An image alone is a message; so is text alone.
    let form = file_form(&[], "image", fixture("red.gif"), "b.gif", "image/gif");
    let (status, only_image) = app.post_multipart(&token, &messages_path(chat), form).await;
    assert_eq!(status, 201, "{only_image}");
    assert_eq!(only_image["text"], "");
    let text = post_text(&app, &token, chat, "words").await;
    assert_eq!(text["image"], Value::Null);
    // Broadcast in id order, each once.
    assert_eq!(id_of(&next_message(&mut ws).await), only_image["id"]);
    assert_eq!(id_of(&next_message(&mut ws).await), text["id"]);
    let history = app.all_messages("books", chat).await;
    assert_eq!(history, [message.clone(), only_image, text]);

    // Deleting hides the image.
    let url = app.url(&format!("{}{}/", messages_path(chat), message["id"]));
    let (status, _) = send_raw(app.client.delete(url).bearer_auth(&token)).await;
    assert_eq!(status, 204);
    let history = app.all_messages("books", chat).await;
    assert_eq!(history[0]["image"], Value::Null);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rest_post_refuses_bad_input() {
    let app = spawn_app_with(|config| config.max_upload_bytes = 2048).await;
    let (token, chat) = setup(&app, "nik").await;
    let path = messages_path(chat);

    for body in [json!({}), json!({"text": "   "}), json!({"text": null})] {
        assert_eq!(
            post_json(&app, &token, chat, body).await,
            (400, json!({"non_field_errors": [NEEDS_TEXT_OR_IMAGE]}))
        );
    }
    let long = "x".repeat(2001);
    assert_eq!(
        post_json(&app, &token, chat, json!({ "text": long })).await,
        (
            400,
            json!({"text": ["Ensure this field has no more than 2000 characters."]})
        )
    );
    let not_image = file_form(
        &[("text", "hi")],
        "image",
        b"not an image".to_vec(),
        "a.png",
        "image/png",
    );
    assert_eq!(
        app.post_multipart(&token, &path, not_image).await,
        (
            400,
            json!({"image": ["Upload a valid image. The file you uploaded was either not an image or a corrupted image."]})
        )
    );
    let big = file_form(&[], "image", vec![0u8; 4096], "big.png", "image/png");
    assert_eq!(
        app.post_multipart(&token, &path, big).await,
        (413, json!({"detail": "Request body too large."}))
    );
    let as_text = post_json(&app, &token, chat, json!({"image": "http://x/a.png"})).await;
    assert_eq!(
        as_text,
        (
            400,
            json!({"image": ["The submitted data was not a file. Check the encoding type on the form."]})
        )
    );
    let anonymous = app.client.post(app.url(&path)).json(&json!({"text": "hi"}));
    assert_eq!(
        send(anonymous).await,
        (
            401,
            json!({"detail": "Authentication credentials were not provided."})
        )
    );
    let (status, body) = post_json(&app, &token, chat + 1, json!({"text": "hi"})).await;
    assert_eq!((status, body), (404, not_found()));
    // Nothing of it was stored, and no file was left behind.
    assert!(app.all_messages("books", chat).await.is_empty());
    let files = std::fs::read_dir(app.data_dir().join("media/msg_img")).unwrap();
    assert_eq!(files.count(), 0);
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_markers_never_move_back_and_count_unread() {
    let app = spawn_app().await;
    let (nik, chat) = setup(&app, "nik").await;
    let ann = app.user("ann").await;
    let mut ids = Vec::new();
    for text in ["one", "two", "three"] {
        ids.push(
            post_text(&app, &nik, chat, text).await["id"]
                .as_i64()
                .unwrap(),
        );
    }
    let read = |token: &str, chat: i64, body: Value| {
        let request = app
            .client
            .post(app.url(&format!("/api/chat/books/{chat}/read/")));
        send(request.bearer_auth(token.to_string()).json(&body))
    };
    assert_eq!(
        read(&ann, chat, json!({"last_read": ids[0]})).await,
        (200, json!({"chat": chat, "last_read": ids[0], "unread": 2}))
    );
    assert_eq!(
        read(&ann, chat, json!({"last_read": ids[2]})).await,
        (200, json!({"chat": chat, "last_read": ids[2], "unread": 0}))
    );
    // Back is not a direction.
    assert_eq!(
        read(&ann, chat, json!({"last_read": ids[1]})).await,
        (200, json!({"chat": chat, "last_read": ids[2], "unread": 0}))
    );
    // Own messages are never unread.
    assert_eq!(
        read(&nik, chat, json!({"last_read": ids[0]})).await.1["unread"],
        0
    );
    let other_chat = app.new_chat_id(&nik, "books", "elsewhere").await;
    let foreign = post_text(&app, &nik, other_chat, "x").await["id"]
        .as_i64()
        .unwrap();
    assert_eq!(
        read(&ann, chat, json!({"last_read": foreign})).await,
        (
            400,
            json!({"last_read": [format!("Invalid pk \"{foreign}\" - object does not exist.")]})
        )
    );
    assert_eq!(
        read(&ann, chat, json!({})).await,
        (400, json!({"last_read": ["This field is required."]}))
    );
    assert_eq!(
        read(&ann, chat, json!({"last_read": "x"})).await,
        (400, json!({"last_read": ["A valid integer is required."]}))
    );
    let anonymous = app
        .client
        .post(app.url(&format!("/api/chat/books/{chat}/read/")));
    assert_eq!(send(anonymous.json(&json!({"last_read": 1}))).await.0, 401);

    // Over the socket: a refusal is an error frame; success is silent and
    // shows in the user's chats.
    let mut ws = connect(&app.ws_url("books", other_chat, &format!("token={ann}"))).await;
    next_json(&mut ws).await;
    send_json(&mut ws, json!({"type": "read", "id": ids[0]})).await;
    let error = expect_error(&mut ws, "not_found").await;
    assert_eq!(
        error["detail"],
        format!("Invalid pk \"{}\" - object does not exist.", ids[0])
    );
    send_json(&mut ws, json!({"type": "read", "id": foreign})).await;
    assert_quiet(&mut ws).await;
    let mine = app
        .client
        .get(app.url("/api/user/chats/"))
        .bearer_auth(&ann);
    let (status, page) = send(mine).await;
    assert_eq!(status, 200);
    let rows = results(&page);
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["id"], other_chat, "most recent activity first");
    assert_eq!(rows[0]["last_read"], foreign);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn my_chats_list_unread_counts_mentions_and_the_last_message() {
    let app = spawn_app().await;
    let (nik, quiet) = setup(&app, "nik").await;
    let ann = app.user("ann").await;
    let busy = app.new_chat_id(&ann, "books", "busy").await;
    let untouched = app.new_chat_id(&ann, "books", "untouched").await;
    post_text(&app, &ann, untouched, "nik never came here").await;
    post_text(&app, &nik, busy, "hello").await;
    post_text(&app, &ann, busy, "hi @nik").await;
    let last = post_text(&app, &ann, busy, "how are you, @NIK?").await;

    let mine = app
        .client
        .get(app.url("/api/user/chats/"))
        .bearer_auth(&nik);
    let (status, page) = send(mine).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(
        (page["count"].clone(), page["next"].clone()),
        (json!(2), Value::Null)
    );
    let rows = results(&page);
    assert_eq!(rows[0]["id"], busy);
    assert_eq!(rows[0]["title"], "busy");
    assert_eq!(rows[0]["url"], format!("/chat/books/{busy}/"));
    assert_eq!(rows[0]["last_read"], 0);
    assert_eq!(rows[0]["unread"], 2);
    assert_eq!(rows[0]["unread_mentions"], 2);
    assert_eq!(rows[0]["last_message"], last);
    assert_eq!(rows[1]["id"], quiet);
    assert_eq!(rows[1]["last_message"], Value::Null);
    assert_eq!(rows[1]["unread"], 0);

    let (status, _) = send(app.client.get(app.url("/api/user/chats/"))).await;
    assert_eq!(status, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mentions_name_existing_users_and_follow_edits_and_deletes() {
    let app = spawn_app().await;
    let (nik, chat) = setup(&app, "nik").await;
    let ann = app.user("ann").await;
    app.register("bob.smith").await;
    let first = post_text(
        &app,
        &ann,
        chat,
        "@nik, @ghost and @bob.smith. mail nik@example.com",
    )
    .await;
    assert_eq!(first["mentions"], json!(["nik", "bob.smith"]));
    let second = post_text(&app, &ann, chat, "nobody here @nobody").await;
    assert_eq!(second["mentions"], json!([]));

    // Over the socket too, and an edit re-reads the names.
    let mut ws = connect(&app.ws_url("books", chat, &format!("token={ann}"))).await;
    next_json(&mut ws).await;
    let third = post_and_wait(&mut ws, "thanks @Nik!", "n").await;
    assert_eq!(third["mentions"], json!(["nik"]));
    send_json(
        &mut ws,
        json!({"type": "edit", "id": second["id"], "text": "now @nik"}),
    )
    .await;
    let edited = next_non_presence(&mut ws).await;
    assert_eq!(edited["type"], "message_edited");
    assert_eq!(edited["message"]["mentions"], json!(["nik"]));
    let url = app.url(&format!("{}{}/", messages_path(chat), third["id"]));
    let (status, body) = send(
        app.client
            .patch(url)
            .bearer_auth(&ann)
            .json(&json!({"text": "no one"})),
    )
    .await;
    assert_eq!((status, body["mentions"].clone()), (200, json!([])));

    let feed = |token: &str| {
        send(
            app.client
                .get(app.url("/api/user/mentions/"))
                .bearer_auth(token.to_string()),
        )
    };
    let (status, page) = feed(&nik).await;
    assert_eq!(status, 200);
    assert_eq!(
        ids(&results(&page)),
        [
            second["id"].as_i64().unwrap(),
            first["id"].as_i64().unwrap()
        ]
    );
    assert_eq!(results(&page)[0]["text"], "now @nik");

    let url = app.url(&format!("{}{}/", messages_path(chat), first["id"]));
    send_raw(app.client.delete(url).bearer_auth(&ann)).await;
    let (_, page) = feed(&nik).await;
    assert_eq!(page["count"], 1);
    let (_, page) = feed(&ann).await;
    assert_eq!(page["count"], 0);
    let (status, _) = send(app.client.get(app.url("/api/user/mentions/"))).await;
    assert_eq!(status, 401);
}
