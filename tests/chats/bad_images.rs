//! Uploads that are no image (text, truncated, a decompression bomb, a
//! plain string) or too large, refused with nothing kept.

use crate::common::*;

use serde_json::{json, Value};

use crate::create_with_image;

const NOT_A_FILE: &str = "The submitted data was not a file. Check the encoding type on the form.";

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
