//! Read markers that never move back and unread counts, the "My chats"
//! list, and mentions (existing users only, following edits and deletes).

use serde_json::{json, Value};

use crate::common::*;
use crate::{messages_path, post_text, setup};

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
    // Read as DRF's IntegerField reads it: a fraction of zeros is whole.
    assert_eq!(
        read(&nik, chat, json!({"last_read": format!("{}.0", ids[1])})).await,
        (200, json!({"chat": chat, "last_read": ids[1], "unread": 0}))
    );
    assert_eq!(
        read(&nik, chat, json!({"last_read": ids[2] as f64})).await,
        (200, json!({"chat": chat, "last_read": ids[2], "unread": 0}))
    );
    assert_eq!(
        read(&ann, chat, json!({"last_read": 1.5})).await,
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
