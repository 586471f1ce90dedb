//! The seed document's create requests, one by one: form data, an image
//! file, and each of its error examples (with the order errors are told in).

use crate::common::*;

use reqwest::header::CONTENT_TYPE;
use serde_json::{json, Value};

use crate::{assert_chat, create_with_image, Img, DESCRIPTION_TOO_LONG, TITLE_TOO_LONG, UNIQUE};

/// Position of `needle` in `text` (for key-order checks of raw bodies).
fn pos(text: &str, needle: &str) -> usize {
    text.find(needle)
        .unwrap_or_else(|| panic!("{needle:?} not in {text}"))
}

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
