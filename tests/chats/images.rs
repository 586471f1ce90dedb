//! Chat images that are images: each of the four formats stored under a
//! fresh name and served, and an image replaced or added by PATCH.

use crate::common::*;

use reqwest::header::CONTENT_TYPE;
use serde_json::{json, Value};

use crate::{assert_chat, create_with_image, default_img, Img};

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
