//! The signed-in user (`GET /api/user/`) and the avatar: empty at first,
//! uploaded, served and shown on the user, refused, replaced.

use reqwest::multipart::Form;
use serde_json::{json, Value};

use crate::common::*;

#[tokio::test]
async fn user_endpoint_shows_the_signed_in_user() {
    let app = spawn_app().await;
    let token = app.user("alice").await;
    let (status, body) = app.get_user(&token).await;
    assert_eq!(status, 200, "{body}");
    let id = body["id"].as_i64().expect("id is an integer");
    assert!(id > 0);
    assert_eq!(
        body,
        json!({"id": id, "username": "alice", "email": "alice@example.com", "avatar": null, "is_staff": false})
    );
}

/// `GET /api/profile/avatar/` as `token`: status and JSON body.
async fn get_avatar(app: &TestApp, token: &str) -> (u16, Value) {
    let request = app.client.get(app.url("/api/profile/avatar/"));
    api(request.bearer_auth(token).send().await.unwrap()).await
}

async fn put_avatar(app: &TestApp, token: &str, form: Form) -> (u16, Value) {
    let response = app
        .client
        .put(app.url("/api/profile/avatar/"))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    api(response).await
}

/// `GET` of a media URL: status, `Content-Type` and body bytes.
async fn get_bytes(app: &TestApp, url: &str) -> (u16, Option<String>, Vec<u8>) {
    let (status, headers, bytes) = app.fetch(url).await;
    let content_type = headers
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string());
    (status, content_type, bytes)
}

#[tokio::test]
async fn avatar_starts_empty() {
    let app = spawn_app().await;
    let token = app.user("alice").await;
    assert_eq!(
        get_avatar(&app, &token).await,
        (200, json!({"avatar": null}))
    );
}

#[tokio::test]
async fn avatar_upload_is_served_and_shown_on_the_user() {
    let app = spawn_app().await;
    let token = app.user("alice").await;
    let png = fixture("red.png");
    let form = file_form(&[], "avatar", png.clone(), "red.png", "image/png");
    let (status, body) = put_avatar(&app, &token, form).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body.as_object().unwrap().len(), 1, "{body}");
    let url = body["avatar"]
        .as_str()
        .expect("avatar is a URL")
        .to_string();
    assert_upload_url(&app, &url, "avatars", "png");

    let (status, content_type, bytes) = get_bytes(&app, &url).await;
    assert_eq!(status, 200);
    assert_eq!(content_type.as_deref(), Some("image/png"));
    assert_eq!(bytes, png);

    assert_eq!(
        get_avatar(&app, &token).await,
        (200, json!({"avatar": url}))
    );

    let (status, user) = app.get_user(&token).await;
    assert_eq!(status, 200);
    assert_eq!(
        user,
        json!({
            "id": user["id"],
            "username": "alice",
            "email": "alice@example.com",
            "avatar": url,
            "is_staff": false,
        })
    );
}

#[tokio::test]
async fn avatar_put_without_a_file_is_400() {
    let app = spawn_app().await;
    let token = app.user("alice").await;
    let no_file = json!({"avatar": ["No file was submitted."]});
    // A multipart body without the field.
    let (status, body) = put_avatar(&app, &token, text_form(&[("other", "x")])).await;
    assert_eq!((status, body), (400, no_file.clone()));
    // No body at all.
    let response = app
        .client
        .put(app.url("/api/profile/avatar/"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(api(response).await, (400, no_file));
}

#[tokio::test]
async fn avatar_put_with_a_text_file_is_an_invalid_image() {
    let app = spawn_app().await;
    let token = app.user("alice").await;
    let form = file_form(
        &[],
        "avatar",
        b"just some text\n".to_vec(),
        "notes.txt",
        "text/plain",
    );
    assert_eq!(
        put_avatar(&app, &token, form).await,
        (400, json!({"avatar": [INVALID_IMAGE]}))
    );
    // A text file pretending to be a PNG is no better.
    let form = file_form(
        &[],
        "avatar",
        b"just some text\n".to_vec(),
        "fake.png",
        "image/png",
    );
    assert_eq!(
        put_avatar(&app, &token, form).await,
        (400, json!({"avatar": [INVALID_IMAGE]}))
    );
    // Nothing was stored.
    let (_, user) = app.get_user(&token).await;
    assert_eq!(user["avatar"], Value::Null);
}

#[tokio::test]
async fn replacing_the_avatar_removes_the_old_file() {
    let app = spawn_app().await;
    let token = app.user("alice").await;
    let form = file_form(&[], "avatar", fixture("red.png"), "a.png", "image/png");
    let (status, body) = put_avatar(&app, &token, form).await;
    assert_eq!(status, 200, "{body}");
    let old = body["avatar"].as_str().unwrap().to_string();
    assert_eq!(get_bytes(&app, &old).await.0, 200);

    let jpg = fixture("red.jpg");
    let form = file_form(&[], "avatar", jpg.clone(), "b.jpg", "image/jpeg");
    let (status, body) = put_avatar(&app, &token, form).await;
    assert_eq!(status, 200, "{body}");
    let new = body["avatar"].as_str().unwrap().to_string();
    assert_upload_url(&app, &new, "avatars", "jpg");
    assert_ne!(new, old);

    let response = app.client.get(&old).send().await.unwrap();
    assert_eq!(api(response).await, (404, json!({"detail": "Not found."})));
    let (status, content_type, bytes) = get_bytes(&app, &new).await;
    assert_eq!(status, 200);
    assert_eq!(content_type.as_deref(), Some("image/jpeg"));
    assert_eq!(bytes, jpg);

    let (_, user) = app.get_user(&token).await;
    assert_eq!(user["avatar"], json!(new));
}
