mod common;
use common::*;

use std::sync::Arc;

use reqwest::header::{HeaderMap, CONTENT_TYPE};
use serde_json::{json, Value};

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

const NOT_A_FILE: &str = "The submitted data was not a file. Check the encoding type on the form.";
const UNIQUE: &str = "The fields room, title must make a unique set.";
const TITLE_TOO_LONG: &str = "Ensure this field has no more than 70 characters.";
const DESCRIPTION_TOO_LONG: &str = "Ensure this field has no more than 400 characters.";

/// Form-encoded PATCH (what `requests.patch(URL, data)` sends).
async fn patch_form(
    app: &TestApp,
    token: &str,
    path: &str,
    fields: &[(&str, &str)],
) -> (u16, Value) {
    send(
        app.client
            .patch(app.url(path))
            .bearer_auth(token)
            .form(fields),
    )
    .await
}

/// Creates a chat from a multipart form: text fields and an image file
/// under `img`. Returns the status and JSON body.
async fn create_with_image(
    app: &TestApp,
    token: &str,
    fields: &[(&str, &str)],
    bytes: Vec<u8>,
    filename: &str,
    mime: &str,
) -> (u16, Value) {
    let form = file_form(fields, "img", bytes, filename, mime);
    app.post_multipart(token, "/api/chat/", form).await
}

/// Multipart PATCH: text fields and an image file under `img`.
async fn patch_image(
    app: &TestApp,
    token: &str,
    path: &str,
    fields: &[(&str, &str)],
    bytes: Vec<u8>,
    filename: &str,
    mime: &str,
) -> (u16, Value) {
    let form = file_form(fields, "img", bytes, filename, mime);
    send(
        app.client
            .patch(app.url(path))
            .bearer_auth(token)
            .multipart(form),
    )
    .await
}

fn default_img(app: &TestApp) -> String {
    format!("{}/media/chat_img/default.jpg", app.base)
}

/// What a chat's `img` is expected to be.
#[derive(Clone, Copy)]
enum Img<'a> {
    /// The default image.
    Default,
    /// An uploaded image with this extension.
    Uploaded(&'a str),
}

/// Asserts that `chat` is exactly the Chat object with these fields (the
/// id and timestamp are checked for shape), and returns its id.
fn assert_chat(
    app: &TestApp,
    chat: &Value,
    title: &str,
    room: &str,
    img: Img<'_>,
    creator: &str,
    description: Option<&str>,
) -> i64 {
    let id = chat["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("no integer id in {chat}"));
    assert!(id > 0, "{chat}");
    let timestamp = assert_recent_timestamp(&chat["timestamp"]);
    let img = match img {
        Img::Default => default_img(app),
        Img::Uploaded(ext) => {
            let actual = chat["img"]
                .as_str()
                .unwrap_or_else(|| panic!("no img in {chat}"));
            assert_upload_url(app, actual, "chat_img", ext);
            actual.to_string()
        }
    };
    assert_eq!(
        chat,
        &json!({
            "id": id,
            "title": title,
            "room": room,
            "img": img,
            "creator": creator,
            "description": description,
            "url": format!("/chat/{room}/{id}/"),
            "timestamp": timestamp,
        })
    );
    id
}

fn assert_unauthenticated(status: u16, headers: &HeaderMap, body: &Value) {
    assert_eq!((status, body), (401, &json!({"detail": NOT_PROVIDED})));
    assert_eq!(headers["www-authenticate"], "Bearer realm=\"api\"");
}

/// Position of `needle` in `text` (for key-order checks of raw bodies).
fn pos(text: &str, needle: &str) -> usize {
    text.find(needle)
        .unwrap_or_else(|| panic!("{needle:?} not in {text}"))
}

// ---------------------------------------------------------------------------
// 1. The seed document, request by request
// ---------------------------------------------------------------------------

#[tokio::test]
async fn seed_create_with_form_data_returns_the_chat() {
    let app = spawn_app().await;
    let token = app.user("userName").await;
    let (status, body) = app
        .create_chat(
            &token,
            &[
                ("title", "Harry Potter"),
                ("room", "films"),
                ("description", "Discussion of characters"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let object = body.as_object().unwrap();
    assert_eq!(object.keys().collect::<Vec<_>>(), ["chat"], "{body}");
    assert_eq!(body["chat"].as_object().unwrap().len(), 8, "{body}");
    let id = assert_chat(
        &app,
        &body["chat"],
        "Harry Potter",
        "films",
        Img::Default,
        "userName",
        Some("Discussion of characters"),
    );
    // It is stored as shown.
    let (status, stored) = app.get_json(&format!("/api/chat/films/{id}/")).await;
    assert_eq!((status, &stored), (200, &body["chat"]));
}

#[tokio::test]
async fn seed_create_with_an_image_file_returns_its_absolute_url() {
    let app = spawn_app().await;
    let token = app.user("userName").await;
    let jpeg = fixture("red.jpg");
    let (status, body) = create_with_image(
        &app,
        &token,
        &[
            ("title", "Harry Potter"),
            ("room", "films"),
            ("description", "Discussion of characters"),
        ],
        jpeg.clone(),
        "file.jpeg",
        "image/jpeg",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body.as_object().unwrap().len(), 1, "{body}");
    assert_chat(
        &app,
        &body["chat"],
        "Harry Potter",
        "films",
        Img::Uploaded("jpg"),
        "userName",
        Some("Discussion of characters"),
    );
    let (status, headers, bytes) = app.fetch(body["chat"]["img"].as_str().unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(headers[CONTENT_TYPE], "image/jpeg");
    assert_eq!(bytes, jpeg);
}

#[tokio::test]
async fn seed_create_error_invalid_room() {
    let app = spawn_app().await;
    let token = app.user("userName").await;
    let (status, body) = app
        .create_chat(
            &token,
            &[
                ("title", "Harry Potter"),
                ("room", "movie"),
                ("description", "Discussion of characters"),
            ],
        )
        .await;
    assert_eq!(
        (status, body),
        (400, json!({"room": ["\"movie\" is not a valid choice."]}))
    );
    assert_eq!(app.chat_count("films").await, 0);
}

#[tokio::test]
async fn seed_create_error_title_and_room_required() {
    let app = spawn_app().await;
    let token = app.user("userName").await;
    let (status, text) = send_raw(
        app.client
            .post(app.url("/api/chat/"))
            .bearer_auth(&token)
            .form(&[("description", "Discussion of characters")]),
    )
    .await;
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        (status, body),
        (
            400,
            json!({
                "title": ["This field is required."],
                "room": ["This field is required."]
            })
        )
    );
    // Reported in the seed's order.
    assert!(pos(&text, "\"title\"") < pos(&text, "\"room\""), "{text}");

    // An entirely empty form gives the same answer.
    let (status, body) = app.create_chat(&token, &[]).await;
    assert_eq!(
        (status, body),
        (
            400,
            json!({
                "title": ["This field is required."],
                "room": ["This field is required."]
            })
        )
    );
}

#[tokio::test]
async fn seed_create_error_title_repeated_in_room() {
    let app = spawn_app().await;
    let token = app.user("userName").await;
    let fields = [("title", "Harry Potter"), ("room", "films")];
    app.new_chat(&token, &fields).await;
    let (status, body) = app.create_chat(&token, &fields).await;
    assert_eq!((status, body), (400, json!({"non_field_errors": [UNIQUE]})));
    // Another user cannot take the title in that room either.
    let other = app.user("other").await;
    let (status, body) = app.create_chat(&other, &fields).await;
    assert_eq!((status, body), (400, json!({"non_field_errors": [UNIQUE]})));
    assert_eq!(app.chat_count("films").await, 1);
}

#[tokio::test]
async fn seed_create_error_description_and_title_too_long() {
    let app = spawn_app().await;
    let token = app.user("userName").await;
    let title = "t".repeat(71);
    let description = "d".repeat(401);
    let (status, text) = send_raw(
        app.client
            .post(app.url("/api/chat/"))
            .bearer_auth(&token)
            .form(&[
                ("title", title.as_str()),
                ("room", "films"),
                ("description", description.as_str()),
            ]),
    )
    .await;
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        (status, body),
        (
            400,
            json!({
                "description": [DESCRIPTION_TOO_LONG],
                "title": [TITLE_TOO_LONG]
            })
        )
    );
    assert!(
        pos(&text, "\"description\"") < pos(&text, "\"title\""),
        "{text}"
    );
    assert_eq!(app.chat_count("films").await, 0);
}

#[tokio::test]
async fn seed_list_example() {
    let app = spawn_app().await;
    let user1 = app.user("user1").await;
    let user2 = app.user("user2").await;
    let jpeg = fixture("red.jpg");
    let png = fixture("red.png");

    let (status, first) = create_with_image(
        &app,
        &user1,
        &[
            ("title", "Harry Potter characters"),
            ("room", "films"),
            ("description", "Who is your favorite character?"),
        ],
        jpeg,
        "Hurry.jpg",
        "image/jpeg",
    )
    .await;
    assert_eq!(status, 200, "{first}");
    let (status, second) = create_with_image(
        &app,
        &user2,
        &[
            ("title", "The Lord of the Rings films"),
            ("room", "films"),
            ("description", "Which film is the best in the series?"),
        ],
        png,
        "frodo.png",
        "image/png",
    )
    .await;
    assert_eq!(status, 200, "{second}");
    let third = app
        .new_chat(&user1, &[("title", "Friends"), ("room", "films")])
        .await;
    // A chat of another room is not listed.
    app.new_chat(&user2, &[("title", "Imagine Dragons"), ("room", "music")])
        .await;

    let (status, body) = app.get_json("/api/chat/films/").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({
            "count": 3,
            "next": null,
            "previous": null,
            "results": [first["chat"], second["chat"], third]
        })
    );
    let results = body["results"].as_array().unwrap();
    assert_chat(
        &app,
        &results[0],
        "Harry Potter characters",
        "films",
        Img::Uploaded("jpg"),
        "user1",
        Some("Who is your favorite character?"),
    );
    assert_chat(
        &app,
        &results[1],
        "The Lord of the Rings films",
        "films",
        Img::Uploaded("png"),
        "user2",
        Some("Which film is the best in the series?"),
    );
    assert_chat(
        &app,
        &results[2],
        "Friends",
        "films",
        Img::Default,
        "user1",
        None,
    );
    // Oldest first.
    let ids: Vec<i64> = results.iter().map(|c| c["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    let stamps: Vec<&str> = results
        .iter()
        .map(|c| c["timestamp"].as_str().unwrap())
        .collect();
    assert!(stamps.windows(2).all(|w| w[0] <= w[1]), "{stamps:?}");
}

#[tokio::test]
async fn seed_list_error_wrong_room() {
    let app = spawn_app().await;
    for path in ["/api/chat/movie/", "/api/chat/Films/", "/api/chat/movie"] {
        let (status, body) = app.get_json(path).await;
        assert_eq!(
            (status, body),
            (400, json!({"Error": "wrong room"})),
            "{path}"
        );
    }
}

#[tokio::test]
async fn seed_patch_description() {
    let app = spawn_app().await;
    let leslie = app.user("Leslie").await;
    let (status, body) = create_with_image(
        &app,
        &leslie,
        &[("title", "Imagine Dragons"), ("room", "music")],
        fixture("red.jpg"),
        "file.jpg",
        "image/jpeg",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let before = body["chat"].clone();
    let id = before["id"].as_i64().unwrap();
    let path = format!("/api/chat/music/{id}/");

    let (status, after) =
        patch_form(&app, &leslie, &path, &[("description", "Chat description")]).await;
    assert_eq!(status, 200, "{after}");
    let mut expected = before.clone();
    expected["description"] = json!("Chat description");
    assert_eq!(after, expected);
    assert_chat(
        &app,
        &after,
        "Imagine Dragons",
        "music",
        Img::Uploaded("jpg"),
        "Leslie",
        Some("Chat description"),
    );
    let (status, stored) = app.get_json(&path).await;
    assert_eq!((status, stored), (200, expected));
}

#[tokio::test]
async fn seed_patch_error_not_the_owner() {
    let app = spawn_app().await;
    let leslie = app.user("Leslie").await;
    let other = app.user("mallory").await;
    let chat = app
        .new_chat(&leslie, &[("title", "Imagine Dragons"), ("room", "music")])
        .await;
    let path = format!("/api/chat/music/{}/", chat["id"]);
    let (status, body) =
        patch_form(&app, &other, &path, &[("description", "Chat description")]).await;
    assert_eq!((status, body), (403, json!({"detail": FORBIDDEN})));
    let (status, stored) = app.get_json(&path).await;
    assert_eq!((status, stored), (200, chat));
}

#[tokio::test]
async fn seed_patch_error_description_too_long() {
    let app = spawn_app().await;
    let leslie = app.user("Leslie").await;
    let chat = app
        .new_chat(
            &leslie,
            &[
                ("title", "Imagine Dragons"),
                ("room", "music"),
                ("description", "old"),
            ],
        )
        .await;
    let path = format!("/api/chat/music/{}/", chat["id"]);
    let long = "d".repeat(401);
    let (status, body) = patch_form(&app, &leslie, &path, &[("description", &long)]).await;
    assert_eq!(
        (status, body),
        (400, json!({"description": [DESCRIPTION_TOO_LONG]}))
    );
    let (status, stored) = app.get_json(&path).await;
    assert_eq!((status, stored), (200, chat));
    // Exactly 400 is fine.
    let max = "d".repeat(400);
    let (status, body) = patch_form(&app, &leslie, &path, &[("description", &max)]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["description"], json!(max));
}

// ---------------------------------------------------------------------------
// 2. Creating in a room given by the path; trailing slashes
// ---------------------------------------------------------------------------

#[tokio::test]
async fn create_in_room_from_path() {
    let app = spawn_app().await;
    let token = app.user("alice").await;
    let (status, body) = send(
        app.client
            .post(app.url("/api/chat/books/"))
            .bearer_auth(&token)
            .form(&[("title", "Dune"), ("description", "Spice")]),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body.as_object().unwrap().len(), 1, "{body}");
    let id = assert_chat(
        &app,
        &body["chat"],
        "Dune",
        "books",
        Img::Default,
        "alice",
        Some("Spice"),
    );
    let (status, stored) = app.get_json(&format!("/api/chat/books/{id}/")).await;
    assert_eq!((status, &stored), (200, &body["chat"]));

    // The same title again in that room is a unique-set error.
    let (status, body) = send(
        app.client
            .post(app.url("/api/chat/books/"))
            .bearer_auth(&token)
            .form(&[("title", "Dune")]),
    )
    .await;
    assert_eq!((status, body), (400, json!({"non_field_errors": [UNIQUE]})));

    // Missing title: only the title is reported (the room comes from the path).
    let (status, body) = send(
        app.client
            .post(app.url("/api/chat/games/"))
            .bearer_auth(&token)
            .form(&[("description", "x")]),
    )
    .await;
    assert_eq!(
        (status, body),
        (400, json!({"title": ["This field is required."]}))
    );
}

#[tokio::test]
async fn create_in_wrong_room_from_path() {
    let app = spawn_app().await;
    let token = app.user("alice").await;
    for path in ["/api/chat/movie/", "/api/chat/movie"] {
        let (status, body) = send(
            app.client
                .post(app.url(path))
                .bearer_auth(&token)
                .form(&[("title", "Dune")]),
        )
        .await;
        assert_eq!(
            (status, body),
            (400, json!({"Error": "wrong room"})),
            "{path}"
        );
    }
    for room in ["films", "music", "books", "games"] {
        assert_eq!(app.chat_count(room).await, 0);
    }
}

#[tokio::test]
async fn create_without_credentials_is_401() {
    let app = spawn_app().await;
    for path in ["/api/chat/", "/api/chat/films/"] {
        let (status, headers, body) = send_with_headers(
            app.client
                .post(app.url(path))
                .form(&[("title", "Dune"), ("room", "films")]),
        )
        .await;
        assert_unauthenticated(status, &headers, &body);
    }
    let (status, headers, body) = send_with_headers(
        app.client
            .post(app.url("/api/chat/"))
            .bearer_auth("not-a-token")
            .form(&[("title", "Dune"), ("room", "films")]),
    )
    .await;
    assert_eq!(
        (status, body),
        (
            401,
            json!({
                "detail": "Given token not valid for any token type",
                "code": "token_not_valid"
            })
        )
    );
    assert_eq!(headers["www-authenticate"], "Bearer realm=\"api\"");
    assert_eq!(app.chat_count("films").await, 0);
}

#[tokio::test]
async fn paths_without_trailing_slash_work() {
    let app = spawn_app().await;
    let token = app.user("alice").await;

    let (status, body) = send(
        app.client
            .post(app.url("/api/chat"))
            .bearer_auth(&token)
            .form(&[("title", "One"), ("room", "games")]),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let one = body["chat"].clone();
    assert_chat(&app, &one, "One", "games", Img::Default, "alice", None);

    let (status, body) = send(
        app.client
            .post(app.url("/api/chat/games"))
            .bearer_auth(&token)
            .form(&[("title", "Two")]),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let two = body["chat"].clone();
    assert_chat(&app, &two, "Two", "games", Img::Default, "alice", None);

    let (status, body) = app.get_json("/api/chat/games").await;
    assert_eq!(
        (status, body),
        (
            200,
            json!({"count": 2, "next": null, "previous": null, "results": [one, two]})
        )
    );

    let path = format!("/api/chat/games/{}", one["id"]);
    let (status, body) = app.get_json(&path).await;
    assert_eq!((status, body), (200, one.clone()));

    let (status, body) = patch_form(&app, &token, &path, &[("description", "new")]).await;
    let mut expected = one.clone();
    expected["description"] = json!("new");
    assert_eq!((status, body), (200, expected));

    let (status, text) = send_raw(app.client.delete(app.url(&path)).bearer_auth(&token)).await;
    assert_eq!((status, text.as_str()), (204, ""));
    let (status, body) = app.get_json(&path).await;
    assert_eq!((status, body), (404, json!({"detail": "Not found."})));
}

// ---------------------------------------------------------------------------
// 3. Field boundaries and body encodings
// ---------------------------------------------------------------------------

#[tokio::test]
async fn title_length_boundary_is_70_characters() {
    let app = spawn_app().await;
    let token = app.user("alice").await;
    // Characters, not bytes: 70 two-byte characters are fine.
    let title70 = "é".repeat(70);
    let chat = app
        .new_chat(&token, &[("title", &title70), ("room", "films")])
        .await;
    assert_chat(&app, &chat, &title70, "films", Img::Default, "alice", None);
    let ascii70 = "a".repeat(70);
    app.new_chat(&token, &[("title", &ascii70), ("room", "films")])
        .await;

    let title71 = "é".repeat(71);
    let (status, body) = app
        .create_chat(&token, &[("title", &title71), ("room", "films")])
        .await;
    assert_eq!((status, body), (400, json!({"title": [TITLE_TOO_LONG]})));
    let ascii71 = "a".repeat(71);
    let (status, body) = app
        .create_chat(&token, &[("title", &ascii71), ("room", "films")])
        .await;
    assert_eq!((status, body), (400, json!({"title": [TITLE_TOO_LONG]})));
    assert_eq!(app.chat_count("films").await, 2);
}

#[tokio::test]
async fn description_length_boundary_is_400_characters() {
    let app = spawn_app().await;
    let token = app.user("alice").await;
    let d400 = "ж".repeat(400);
    let chat = app
        .new_chat(
            &token,
            &[("title", "ok"), ("room", "films"), ("description", &d400)],
        )
        .await;
    assert_chat(
        &app,
        &chat,
        "ok",
        "films",
        Img::Default,
        "alice",
        Some(&d400),
    );

    let d401 = "ж".repeat(401);
    let (status, body) = app
        .create_chat(
            &token,
            &[
                ("title", "too long"),
                ("room", "films"),
                ("description", &d401),
            ],
        )
        .await;
    assert_eq!(
        (status, body),
        (400, json!({"description": [DESCRIPTION_TOO_LONG]}))
    );
    assert_eq!(app.chat_count("films").await, 1);
}

#[tokio::test]
async fn blank_titles_are_rejected() {
    let app = spawn_app().await;
    let token = app.user("alice").await;
    for title in ["   ", "", "\t \n"] {
        let (status, body) = app
            .create_chat(&token, &[("title", title), ("room", "films")])
            .await;
        assert_eq!(
            (status, body),
            (400, json!({"title": ["This field may not be blank."]})),
            "{title:?}"
        );
    }
    assert_eq!(app.chat_count("films").await, 0);
}

#[tokio::test]
async fn titles_and_descriptions_are_trimmed() {
    let app = spawn_app().await;
    let token = app.user("alice").await;
    let chat = app
        .new_chat(
            &token,
            &[
                ("title", "  Dune \n"),
                ("room", "books"),
                ("description", "  Spice  "),
            ],
        )
        .await;
    assert_chat(
        &app,
        &chat,
        "Dune",
        "books",
        Img::Default,
        "alice",
        Some("Spice"),
    );
    // The trimmed title is what must be unique.
    let (status, body) = app
        .create_chat(&token, &[("title", "Dune"), ("room", "books")])
        .await;
    assert_eq!((status, body), (400, json!({"non_field_errors": [UNIQUE]})));
    let (status, body) = app
        .create_chat(&token, &[("title", " Dune "), ("room", "books")])
        .await;
    assert_eq!((status, body), (400, json!({"non_field_errors": [UNIQUE]})));
    // 70 characters plus surrounding spaces is within the limit.
    let padded = format!("   {}   ", "x".repeat(70));
    let chat = app
        .new_chat(&token, &[("title", &padded), ("room", "books")])
        .await;
    assert_eq!(chat["title"], json!("x".repeat(70)));
}

#[tokio::test]
async fn same_title_in_another_room_is_allowed() {
    let app = spawn_app().await;
    let token = app.user("alice").await;
    let films = app
        .new_chat(&token, &[("title", "Dune"), ("room", "films")])
        .await;
    let books = app
        .new_chat(&token, &[("title", "Dune"), ("room", "books")])
        .await;
    assert_chat(&app, &films, "Dune", "films", Img::Default, "alice", None);
    assert_chat(&app, &books, "Dune", "books", Img::Default, "alice", None);
    assert_ne!(films["id"], books["id"]);
    let (status, body) = app
        .create_chat(&token, &[("title", "Dune"), ("room", "books")])
        .await;
    assert_eq!((status, body), (400, json!({"non_field_errors": [UNIQUE]})));
    assert_eq!(app.chat_count("films").await, 1);
    assert_eq!(app.chat_count("books").await, 1);
}

#[tokio::test]
async fn json_bodies_are_accepted() {
    let app = spawn_app().await;
    let token = app.user("alice").await;
    let (status, body) = send(
        app.client
            .post(app.url("/api/chat/"))
            .bearer_auth(&token)
            .json(&json!({"title": "Dune", "room": "books", "description": "Spice"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let id = assert_chat(
        &app,
        &body["chat"],
        "Dune",
        "books",
        Img::Default,
        "alice",
        Some("Spice"),
    );

    // The same validation applies.
    let (status, body) = send(
        app.client
            .post(app.url("/api/chat/"))
            .bearer_auth(&token)
            .json(&json!({"title": "Dune", "room": "books"})),
    )
    .await;
    assert_eq!((status, body), (400, json!({"non_field_errors": [UNIQUE]})));
    let (status, body) = send(
        app.client
            .post(app.url("/api/chat/"))
            .bearer_auth(&token)
            .json(&json!({"room": "movie"})),
    )
    .await;
    assert_eq!(
        (status, body),
        (
            400,
            json!({
                "title": ["This field is required."],
                "room": ["\"movie\" is not a valid choice."]
            })
        )
    );
    // null description is "not given".
    let (status, body) = send(
        app.client
            .post(app.url("/api/chat/music/"))
            .bearer_auth(&token)
            .json(&json!({"title": "Queen", "description": null})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_chat(
        &app,
        &body["chat"],
        "Queen",
        "music",
        Img::Default,
        "alice",
        None,
    );

    // JSON PATCH.
    let path = format!("/api/chat/books/{id}/");
    let (status, body) = send(
        app.client
            .patch(app.url(&path))
            .bearer_auth(&token)
            .json(&json!({"description": "Arrakis"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_chat(
        &app,
        &body,
        "Dune",
        "books",
        Img::Default,
        "alice",
        Some("Arrakis"),
    );
}

// ---------------------------------------------------------------------------
// 4. Pagination
// ---------------------------------------------------------------------------

fn titles(page: &Value) -> Vec<String> {
    page["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|chat| chat["title"].as_str().unwrap().to_string())
        .collect()
}

fn expected_titles(range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("chat {i:03}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pagination_over_250_chats() {
    let app = spawn_app().await;
    let token = app.user("alice").await;
    // Created one after another so creation order is title order.
    for i in 0..250 {
        let title = format!("chat {i:03}");
        let (status, body) = app
            .create_chat(&token, &[("title", &title), ("room", "films")])
            .await;
        assert_eq!(status, 200, "{body}");
    }
    // Chats of other rooms are not counted.
    app.new_chat(&token, &[("title", "chat 000"), ("room", "music")])
        .await;

    let list = format!("{}/api/chat/films/", app.base);
    let (status, page1) = app.get_json("/api/chat/films/").await;
    assert_eq!(status, 200, "{page1}");
    assert_eq!(page1["count"], json!(250));
    assert_eq!(page1["next"], json!(format!("{list}?page=2")));
    assert_eq!(page1["previous"], json!(null));
    assert_eq!(titles(&page1), expected_titles(0..100));
    for chat in page1["results"].as_array().unwrap() {
        let title = chat["title"].as_str().unwrap();
        assert_chat(&app, chat, title, "films", Img::Default, "alice", None);
    }

    // Walk forward with `next`.
    let (status, page2) = send(app.client.get(page1["next"].as_str().unwrap())).await;
    assert_eq!(status, 200, "{page2}");
    assert_eq!(page2["count"], json!(250));
    assert_eq!(page2["next"], json!(format!("{list}?page=3")));
    assert_eq!(page2["previous"], json!(list));
    assert_eq!(titles(&page2), expected_titles(100..200));

    let (status, page3) = send(app.client.get(page2["next"].as_str().unwrap())).await;
    assert_eq!(status, 200, "{page3}");
    assert_eq!(page3["count"], json!(250));
    assert_eq!(page3["next"], json!(null));
    assert_eq!(page3["previous"], json!(format!("{list}?page=2")));
    assert_eq!(titles(&page3), expected_titles(200..250));

    // Ids increase across all pages (oldest first).
    let ids: Vec<i64> = [&page1, &page2, &page3]
        .iter()
        .flat_map(|page| page["results"].as_array().unwrap().clone())
        .map(|chat| chat["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids.len(), 250);
    assert!(ids.windows(2).all(|w| w[0] < w[1]));

    // And back with `previous`: the very same pages.
    let (status, back2) = send(app.client.get(page3["previous"].as_str().unwrap())).await;
    assert_eq!((status, &back2), (200, &page2));
    let (status, back1) = send(app.client.get(page2["previous"].as_str().unwrap())).await;
    assert_eq!((status, &back1), (200, &page1));

    // Explicit page numbers.
    let (status, explicit1) = app.get_json("/api/chat/films/?page=1").await;
    assert_eq!((status, &explicit1), (200, &page1));
    let (status, explicit3) = app.get_json("/api/chat/films/?page=3").await;
    assert_eq!((status, &explicit3), (200, &page3));

    for bad in ["4", "0", "abc", "-1", ""] {
        let (status, body) = app.get_json(&format!("/api/chat/films/?page={bad}")).await;
        assert_eq!(
            (status, body),
            (404, json!({"detail": "Invalid page."})),
            "page={bad}"
        );
    }

    // The other room has one page.
    let (status, body) = app.get_json("/api/chat/music/").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["count"], json!(1));
    assert_eq!(body["next"], json!(null));
    assert_eq!(body["previous"], json!(null));
}

#[tokio::test]
async fn empty_room_lists_nothing() {
    let app = spawn_app().await;
    for room in ["films", "music", "books", "games"] {
        let (status, body) = app.get_json(&format!("/api/chat/{room}/")).await;
        assert_eq!(
            (status, body),
            (
                200,
                json!({"count": 0, "next": null, "previous": null, "results": []})
            ),
            "{room}"
        );
    }
    let (status, body) = app.get_json("/api/chat/films/?page=2").await;
    assert_eq!((status, body), (404, json!({"detail": "Invalid page."})));
}

// ---------------------------------------------------------------------------
// 5. One chat
// ---------------------------------------------------------------------------

#[tokio::test]
async fn get_one_chat() {
    let app = spawn_app().await;
    let token = app.user("alice").await;
    let chat = app
        .new_chat(
            &token,
            &[
                ("title", "Dune"),
                ("room", "books"),
                ("description", "Spice"),
            ],
        )
        .await;
    let id = chat["id"].as_i64().unwrap();

    // Anyone may read.
    let (status, body) = app.get_json(&format!("/api/chat/books/{id}/")).await;
    assert_eq!((status, &body), (200, &chat));
    assert_chat(
        &app,
        &body,
        "Dune",
        "books",
        Img::Default,
        "alice",
        Some("Spice"),
    );

    let (status, body) = app.get_json(&format!("/api/chat/movie/{id}/")).await;
    assert_eq!((status, body), (400, json!({"Error": "wrong room"})));

    let (status, body) = app.get_json(&format!("/api/chat/films/{id}/")).await;
    assert_eq!((status, body), (404, json!({"detail": "Not found."})));

    for unknown in [id + 1000, 0, 999_999_999] {
        let (status, body) = app.get_json(&format!("/api/chat/books/{unknown}/")).await;
        assert_eq!(
            (status, body),
            (404, json!({"detail": "Not found."})),
            "{unknown}"
        );
    }
    let (status, body) = app.get_json("/api/chat/books/abc/").await;
    assert_eq!((status, body), (404, json!({"detail": "Not found."})));
}

// ---------------------------------------------------------------------------
// 6. Permissions on PATCH and DELETE
// ---------------------------------------------------------------------------

#[tokio::test]
async fn owner_may_patch_and_delete() {
    let app = spawn_app().await;
    let token = app.user("alice").await;
    let chat = app
        .new_chat(&token, &[("title", "Dune"), ("room", "books")])
        .await;
    let path = format!("/api/chat/books/{}/", chat["id"]);

    let (status, body) = patch_form(&app, &token, &path, &[("description", "Spice")]).await;
    let mut expected = chat.clone();
    expected["description"] = json!("Spice");
    assert_eq!((status, body), (200, expected.clone()));

    // An empty PATCH changes nothing.
    let (status, body) = patch_form(&app, &token, &path, &[]).await;
    assert_eq!((status, body), (200, expected));

    let (status, text) = send_raw(app.client.delete(app.url(&path)).bearer_auth(&token)).await;
    assert_eq!((status, text.as_str()), (204, ""));
    let (status, body) = app.get_json(&path).await;
    assert_eq!((status, body), (404, json!({"detail": "Not found."})));
    // Deleting again is a 404, as is changing it.
    let (status, body) = send(app.client.delete(app.url(&path)).bearer_auth(&token)).await;
    assert_eq!((status, body), (404, json!({"detail": "Not found."})));
    let (status, body) = patch_form(&app, &token, &path, &[("description", "x")]).await;
    assert_eq!((status, body), (404, json!({"detail": "Not found."})));
    assert_eq!(app.chat_count("books").await, 0);
    // The title is free again.
    app.new_chat(&token, &[("title", "Dune"), ("room", "books")])
        .await;
}

#[tokio::test]
async fn other_users_may_not_patch_or_delete() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let chat = app
        .new_chat(&alice, &[("title", "Dune"), ("room", "books")])
        .await;
    let path = format!("/api/chat/books/{}/", chat["id"]);

    let (status, body) = patch_form(&app, &bob, &path, &[("description", "mine")]).await;
    assert_eq!((status, body), (403, json!({"detail": FORBIDDEN})));
    let (status, body) = send(app.client.delete(app.url(&path)).bearer_auth(&bob)).await;
    assert_eq!((status, body), (403, json!({"detail": FORBIDDEN})));

    let (status, body) = app.get_json(&path).await;
    assert_eq!((status, body), (200, chat));
}

#[tokio::test]
async fn anonymous_patch_and_delete_are_401() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let chat = app
        .new_chat(&alice, &[("title", "Dune"), ("room", "books")])
        .await;
    let path = format!("/api/chat/books/{}/", chat["id"]);

    let (status, headers, body) = send_with_headers(
        app.client
            .patch(app.url(&path))
            .form(&[("description", "anon")]),
    )
    .await;
    assert_unauthenticated(status, &headers, &body);
    let (status, headers, body) = send_with_headers(app.client.delete(app.url(&path))).await;
    assert_unauthenticated(status, &headers, &body);

    let (status, body) = app.get_json(&path).await;
    assert_eq!((status, body), (200, chat));
}

#[tokio::test]
async fn patch_of_other_fields_is_rejected() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let chat = app
        .new_chat(&alice, &[("title", "Dune"), ("room", "books")])
        .await;
    let path = format!("/api/chat/books/{}/", chat["id"]);
    let only = json!({"non_field_errors": ["Only the chat description and image can be changed."]});

    let (status, body) = patch_form(&app, &alice, &path, &[("title", "Dune 2")]).await;
    assert_eq!((status, body), (400, only.clone()));
    let (status, body) = patch_form(
        &app,
        &alice,
        &path,
        &[("title", "Dune 2"), ("description", "x")],
    )
    .await;
    assert_eq!((status, body), (400, only.clone()));
    let (status, body) = patch_form(&app, &alice, &path, &[("room", "films")]).await;
    assert_eq!((status, body), (400, only.clone()));
    let (status, body) = send(
        app.client
            .patch(app.url(&path))
            .bearer_auth(&alice)
            .json(&json!({"title": "Dune 2"})),
    )
    .await;
    assert_eq!((status, body), (400, only));

    let (status, body) = app.get_json(&path).await;
    assert_eq!((status, body), (200, chat));
}

#[tokio::test]
async fn patch_and_delete_check_room_and_id() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let chat = app
        .new_chat(&alice, &[("title", "Dune"), ("room", "books")])
        .await;
    let id = chat["id"].as_i64().unwrap();

    let (status, body) = patch_form(
        &app,
        &alice,
        &format!("/api/chat/movie/{id}/"),
        &[("description", "x")],
    )
    .await;
    assert_eq!((status, body), (400, json!({"Error": "wrong room"})));
    let (status, body) = patch_form(
        &app,
        &alice,
        &format!("/api/chat/films/{id}/"),
        &[("description", "x")],
    )
    .await;
    assert_eq!((status, body), (404, json!({"detail": "Not found."})));
    let (status, body) = send(
        app.client
            .delete(app.url(&format!("/api/chat/films/{id}/")))
            .bearer_auth(&alice),
    )
    .await;
    assert_eq!((status, body), (404, json!({"detail": "Not found."})));
    let (status, body) = send(
        app.client
            .delete(app.url(&format!("/api/chat/books/{}/", id + 1000)))
            .bearer_auth(&alice),
    )
    .await;
    assert_eq!((status, body), (404, json!({"detail": "Not found."})));

    let (status, body) = app.get_json(&format!("/api/chat/books/{id}/")).await;
    assert_eq!((status, body), (200, chat));
}

#[tokio::test]
async fn delete_removes_the_chat_and_its_own_image() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let png = fixture("red.png");
    let (status, body) = create_with_image(
        &app,
        &alice,
        &[("title", "Dune"), ("room", "books")],
        png.clone(),
        "dune.png",
        "image/png",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let chat = body["chat"].clone();
    let img = chat["img"].as_str().unwrap().to_string();
    assert_upload_url(&app, &img, "chat_img", "png");
    // A chat with the default image, deleted too: the default must survive.
    let plain = app
        .new_chat(&alice, &[("title", "Plain"), ("room", "books")])
        .await;

    let (status, _, bytes) = app.fetch(&img).await;
    assert_eq!((status, bytes), (200, png));

    let path = format!("/api/chat/books/{}/", chat["id"]);
    let (status, text) = send_raw(app.client.delete(app.url(&path)).bearer_auth(&alice)).await;
    assert_eq!((status, text.as_str()), (204, ""));
    let plain_path = format!("/api/chat/books/{}/", plain["id"]);
    let (status, text) =
        send_raw(app.client.delete(app.url(&plain_path)).bearer_auth(&alice)).await;
    assert_eq!((status, text.as_str()), (204, ""));

    let (status, body) = app.get_json(&path).await;
    assert_eq!((status, body), (404, json!({"detail": "Not found."})));
    let (status, _, _) = app.fetch(&img).await;
    assert_eq!(status, 404, "the chat's image still serves after DELETE");

    let (status, headers, bytes) = app.fetch(&default_img(&app)).await;
    assert_eq!(status, 200);
    assert_eq!(headers[CONTENT_TYPE], "image/jpeg");
    assert!(!bytes.is_empty());
    assert_eq!(app.chat_count("books").await, 0);
}

// ---------------------------------------------------------------------------
// 7. Images
// ---------------------------------------------------------------------------

#[tokio::test]
async fn valid_images_of_each_format_are_stored_and_served() {
    let app = spawn_app().await;
    let token = app.user("alice").await;
    let cases = [
        ("red.jpg", "image/jpeg", "jpg"),
        ("red.png", "image/png", "png"),
        ("red.gif", "image/gif", "gif"),
        ("red.webp", "image/webp", "webp"),
    ];
    for (name, mime, ext) in cases {
        let bytes = fixture(name);
        let title = format!("image {ext}");
        // The file name the client gives does not matter; the content does.
        let (status, body) = create_with_image(
            &app,
            &token,
            &[("title", &title), ("room", "films")],
            bytes.clone(),
            "upload.bin",
            "application/octet-stream",
        )
        .await;
        assert_eq!(status, 200, "{name}: {body}");
        assert_chat(
            &app,
            &body["chat"],
            &title,
            "films",
            Img::Uploaded(ext),
            "alice",
            None,
        );
        let (status, headers, served) = app.fetch(body["chat"]["img"].as_str().unwrap()).await;
        assert_eq!(status, 200, "{name}");
        assert_eq!(headers[CONTENT_TYPE], mime, "{name}");
        assert_eq!(headers["x-content-type-options"], "nosniff", "{name}");
        assert_eq!(served, bytes, "{name}");
    }
    // The default image is served the same way.
    let (status, headers, bytes) = app.fetch(&default_img(&app)).await;
    assert_eq!(status, 200);
    assert_eq!(headers[CONTENT_TYPE], "image/jpeg");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert!(bytes.starts_with(&[0xFF, 0xD8]));
}

#[tokio::test]
async fn images_are_stored_under_fresh_names() {
    let app = spawn_app().await;
    let token = app.user("alice").await;
    let mut urls = Vec::new();
    for title in ["a", "b"] {
        let (status, body) = create_with_image(
            &app,
            &token,
            &[("title", title), ("room", "films")],
            fixture("red.jpg"),
            "same.jpg",
            "image/jpeg",
        )
        .await;
        assert_eq!(status, 200, "{body}");
        urls.push(body["chat"]["img"].as_str().unwrap().to_string());
    }
    assert_ne!(urls[0], urls[1]);
    assert!(!urls[0].contains("same"), "{}", urls[0]);
}

#[tokio::test]
async fn text_file_named_jpg_is_not_an_image() {
    let app = spawn_app().await;
    let token = app.user("alice").await;
    let (status, body) = create_with_image(
        &app,
        &token,
        &[("title", "Dune"), ("room", "films")],
        b"this is just some text, not a picture\n".to_vec(),
        "x.jpg",
        "image/jpeg",
    )
    .await;
    assert_eq!((status, body), (400, json!({"img": [INVALID_IMAGE]})));
    assert_eq!(app.chat_count("films").await, 0);
}

#[tokio::test]
async fn truncated_jpeg_is_not_an_image() {
    let app = spawn_app().await;
    let token = app.user("alice").await;
    let jpeg = fixture("red.jpg");
    let half = jpeg[..jpeg.len() / 2].to_vec();
    let (status, body) = create_with_image(
        &app,
        &token,
        &[("title", "Dune"), ("room", "films")],
        half,
        "red.jpg",
        "image/jpeg",
    )
    .await;
    assert_eq!((status, body), (400, json!({"img": [INVALID_IMAGE]})));
    assert_eq!(app.chat_count("films").await, 0);
}

/// A decompression bomb: a real PNG whose header claims 100000 x 100000
/// pixels (10^10, over Pillow's limit of 178,956,970) is refused as the
/// chat image, the avatar and a message's image alike, and nothing is kept.
#[tokio::test]
async fn image_whose_header_claims_too_many_pixels_is_not_an_image() {
    let app = spawn_app().await;
    let token = app.user("alice").await;
    let mut bomb = fixture("red.png");
    bomb[16..20].copy_from_slice(&100_000u32.to_be_bytes());
    bomb[20..24].copy_from_slice(&100_000u32.to_be_bytes());

    let (status, body) = create_with_image(
        &app,
        &token,
        &[("title", "Dune"), ("room", "films")],
        bomb.clone(),
        "bomb.png",
        "image/png",
    )
    .await;
    assert_eq!((status, body), (400, json!({"img": [INVALID_IMAGE]})));
    assert_eq!(app.chat_count("films").await, 0);

    let form = file_form(&[], "avatar", bomb.clone(), "bomb.png", "image/png");
    let avatar = app
        .client
        .put(app.url("/api/profile/avatar/"))
        .bearer_auth(&token)
        .multipart(form);
    assert_eq!(
        send(avatar).await,
        (400, json!({"avatar": [INVALID_IMAGE]}))
    );
    assert_eq!(app.get_user(&token).await.1["avatar"], Value::Null);

    let chat = app.new_chat_id(&token, "films", "Dune").await;
    let path = format!("/api/chat/films/{chat}/messages/");
    let form = file_form(&[("text", "hi")], "image", bomb, "bomb.png", "image/png");
    assert_eq!(
        app.post_multipart(&token, &path, form).await,
        (400, json!({"image": [INVALID_IMAGE]}))
    );
    assert!(app.all_messages("films", chat).await.is_empty());
}

#[tokio::test]
async fn image_errors_are_reported_with_other_field_errors() {
    let app = spawn_app().await;
    let token = app.user("alice").await;
    let (status, body) = create_with_image(
        &app,
        &token,
        &[("room", "movie")],
        b"GIF89a nope".to_vec(),
        "x.gif",
        "image/gif",
    )
    .await;
    assert_eq!(
        (status, body),
        (
            400,
            json!({
                "title": ["This field is required."],
                "room": ["\"movie\" is not a valid choice."],
                "img": [INVALID_IMAGE]
            })
        )
    );
}

#[tokio::test]
async fn img_as_plain_string_is_not_a_file() {
    let app = spawn_app().await;
    let token = app.user("alice").await;
    // As the seed's example literally sends it: a form field `img=file.jpeg`.
    let (status, body) = app
        .create_chat(
            &token,
            &[
                ("title", "Harry Potter"),
                ("room", "films"),
                ("description", "Discussion of characters"),
                ("img", "file.jpeg"),
            ],
        )
        .await;
    assert_eq!((status, body), (400, json!({"img": [NOT_A_FILE]})));
    // A multipart text part is no file either.
    let (status, body) = app
        .post_multipart(
            &token,
            "/api/chat/",
            text_form(&[
                ("title", "Harry Potter"),
                ("room", "films"),
                ("img", "file.jpeg"),
            ]),
        )
        .await;
    assert_eq!((status, body), (400, json!({"img": [NOT_A_FILE]})));
    assert_eq!(app.chat_count("films").await, 0);
}

#[tokio::test]
async fn upload_over_the_limit_is_413() {
    let app = spawn_app_with(|c| c.max_upload_bytes = 1024).await;
    let token = app.user("alice").await;
    // A real JPEG padded past the limit (padding after the end marker is
    // allowed, so only the size is wrong with it).
    let mut big = fixture("red.jpg");
    big.resize(4096, 0);
    assert!(big.len() > 1024);
    let (status, body) = create_with_image(
        &app,
        &token,
        &[("title", "Big"), ("room", "films")],
        big,
        "big.jpg",
        "image/jpeg",
    )
    .await;
    assert_eq!(
        (status, body),
        (413, json!({"detail": "Request body too large."}))
    );
    assert_eq!(app.chat_count("films").await, 0);

    // A file within the limit still works on this server.
    let small = fixture("red.jpg");
    assert!(small.len() <= 1024);
    let (status, body) = create_with_image(
        &app,
        &token,
        &[("title", "Big"), ("room", "films")],
        small,
        "small.jpg",
        "image/jpeg",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(app.chat_count("films").await, 1);
}

#[tokio::test]
async fn patch_with_a_new_image_replaces_the_old_one() {
    let app = spawn_app().await;
    let token = app.user("alice").await;
    let jpeg = fixture("red.jpg");
    let gif = fixture("red.gif");
    let (status, body) = create_with_image(
        &app,
        &token,
        &[
            ("title", "Dune"),
            ("room", "books"),
            ("description", "Spice"),
        ],
        jpeg,
        "a.jpg",
        "image/jpeg",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let before = body["chat"].clone();
    let old_img = before["img"].as_str().unwrap().to_string();
    let path = format!("/api/chat/books/{}/", before["id"]);

    let (status, after) =
        patch_image(&app, &token, &path, &[], gif.clone(), "b.gif", "image/gif").await;
    assert_eq!(status, 200, "{after}");
    assert_chat(
        &app,
        &after,
        "Dune",
        "books",
        Img::Uploaded("gif"),
        "alice",
        Some("Spice"),
    );
    let new_img = after["img"].as_str().unwrap().to_string();
    assert_ne!(new_img, old_img);
    let mut expected = before.clone();
    expected["img"] = json!(new_img);
    assert_eq!(after, expected);

    let (status, headers, bytes) = app.fetch(&new_img).await;
    assert_eq!(status, 200);
    assert_eq!(headers[CONTENT_TYPE], "image/gif");
    assert_eq!(bytes, gif);
    let (status, _, _) = app.fetch(&old_img).await;
    assert_eq!(status, 404, "the replaced image still serves");

    let (status, stored) = app.get_json(&path).await;
    assert_eq!((status, stored), (200, expected));

    // A bad image in a PATCH changes nothing.
    let nope = b"nope".to_vec();
    let (status, body) = patch_image(&app, &token, &path, &[], nope, "c.png", "image/png").await;
    assert_eq!((status, body), (400, json!({"img": [INVALID_IMAGE]})));
    let (status, _, bytes) = app.fetch(&new_img).await;
    assert_eq!((status, bytes), (200, gif));
}

#[tokio::test]
async fn default_image_chat_gets_an_image_by_patch() {
    let app = spawn_app().await;
    let token = app.user("alice").await;
    let chat = app
        .new_chat(&token, &[("title", "Dune"), ("room", "books")])
        .await;
    let path = format!("/api/chat/books/{}/", chat["id"]);
    let webp = fixture("red.webp");
    let fields = [("description", "Spice")];
    let (status, body) = patch_image(
        &app,
        &token,
        &path,
        &fields,
        webp.clone(),
        "w.webp",
        "image/webp",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_chat(
        &app,
        &body,
        "Dune",
        "books",
        Img::Uploaded("webp"),
        "alice",
        Some("Spice"),
    );
    let (status, _, bytes) = app.fetch(body["img"].as_str().unwrap()).await;
    assert_eq!((status, bytes), (200, webp));
    // The default image is untouched.
    let (status, _, _) = app.fetch(&default_img(&app)).await;
    assert_eq!(status, 200);
}

// ---------------------------------------------------------------------------
// 8. Concurrency
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_creates_of_one_title_give_exactly_one_chat() {
    let app = spawn_app().await;
    let token = app.user("alice").await;
    let barrier = Arc::new(tokio::sync::Barrier::new(50));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let client = app.client.clone();
        let url = app.url("/api/chat/");
        let token = token.clone();
        let barrier = barrier.clone();
        tasks.spawn(async move {
            barrier.wait().await;
            let response = client
                .post(url)
                .bearer_auth(token)
                .form(&[("title", "Race"), ("room", "films")])
                .send()
                .await
                .unwrap();
            json_of(response).await
        });
    }
    let mut ok = Vec::new();
    let mut unique = 0;
    while let Some(result) = tasks.join_next().await {
        let (status, body) = result.unwrap();
        match status {
            200 => ok.push(body),
            400 => {
                assert_eq!(body, json!({"non_field_errors": [UNIQUE]}));
                unique += 1;
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!((ok.len(), unique), (1, 49));
    assert_chat(
        &app,
        &ok[0]["chat"],
        "Race",
        "films",
        Img::Default,
        "alice",
        None,
    );
    let (status, body) = app.get_json("/api/chat/films/").await;
    assert_eq!(
        (status, body),
        (
            200,
            json!({"count": 1, "next": null, "previous": null, "results": [ok[0]["chat"]]})
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_creates_of_different_titles_all_succeed() {
    let app = spawn_app().await;
    let token = app.user("alice").await;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..50 {
        let client = app.client.clone();
        let url = app.url("/api/chat/");
        let token = token.clone();
        tasks.spawn(async move {
            let title = format!("parallel {i}");
            let response = client
                .post(url)
                .bearer_auth(token)
                .form(&[("title", title.as_str()), ("room", "games")])
                .send()
                .await
                .unwrap();
            json_of(response).await
        });
    }
    let mut ids = std::collections::BTreeSet::new();
    while let Some(result) = tasks.join_next().await {
        let (status, body) = result.unwrap();
        assert_eq!(status, 200, "{body}");
        ids.insert(body["chat"]["id"].as_i64().unwrap());
    }
    assert_eq!(ids.len(), 50);
    assert_eq!(app.chat_count("games").await, 50);
}

// ---------------------------------------------------------------------------
// 9. Restart
// ---------------------------------------------------------------------------

#[tokio::test]
async fn restart_keeps_users_chats_and_files() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    app.user("bob").await;
    let png = fixture("red.png");
    let (status, body) = create_with_image(
        &app,
        &alice,
        &[
            ("title", "Dune"),
            ("room", "books"),
            ("description", "Spice"),
        ],
        png.clone(),
        "d.png",
        "image/png",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let with_image = body["chat"].clone();
    let plain = app
        .new_chat(&alice, &[("title", "Plain"), ("room", "books")])
        .await;
    let old_base = app.base.clone();
    let (status, list_before) = app.get_json("/api/chat/books/").await;
    assert_eq!(status, 200);

    let app = app.restart().await;
    // Absolute URLs follow the request's host (the port may differ).
    let rebase = |chat: &Value| {
        let mut chat = chat.clone();
        let img = chat["img"]
            .as_str()
            .unwrap()
            .replacen(&old_base, &app.base, 1);
        chat["img"] = json!(img);
        chat
    };

    // Users: both can log in, and the old access token still works.
    app.login("alice").await;
    app.login("bob").await;
    let (status, body) = app
        .create_chat(&alice, &[("title", "After"), ("room", "books")])
        .await;
    assert_eq!(status, 200, "{body}");
    assert_chat(
        &app,
        &body["chat"],
        "After",
        "books",
        Img::Default,
        "alice",
        None,
    );
    assert!(body["chat"]["id"].as_i64() > plain["id"].as_i64());

    // Chats.
    for chat in [&with_image, &plain] {
        let (status, stored) = app
            .get_json(&format!("/api/chat/books/{}/", chat["id"]))
            .await;
        assert_eq!((status, stored), (200, rebase(chat)));
    }
    let mut expected_list = list_before.clone();
    expected_list["results"] = json!([rebase(&with_image), rebase(&plain), body["chat"]]);
    expected_list["count"] = json!(3);
    let (status, list_after) = app.get_json("/api/chat/books/").await;
    assert_eq!((status, list_after), (200, expected_list));
    // Titles are still unique.
    let (status, body) = app
        .create_chat(&alice, &[("title", "Dune"), ("room", "books")])
        .await;
    assert_eq!((status, body), (400, json!({"non_field_errors": [UNIQUE]})));

    // Files.
    let img = rebase(&with_image)["img"].as_str().unwrap().to_string();
    let (status, headers, bytes) = app.fetch(&img).await;
    assert_eq!(status, 200);
    assert_eq!(headers[CONTENT_TYPE], "image/png");
    assert_eq!(bytes, png);
    let (status, _, _) = app.fetch(&default_img(&app)).await;
    assert_eq!(status, 200);
}
