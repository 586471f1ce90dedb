//! Field boundaries (70 and 400 characters, not bytes), blank and padded
//! titles, one title per room, and JSON bodies under the same rules.

use crate::common::*;

use serde_json::json;

use crate::{assert_chat, Img, DESCRIPTION_TOO_LONG, TITLE_TOO_LONG, UNIQUE};

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
