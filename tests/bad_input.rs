//! Bad input where the contract is silent and DRF is right (found by sending
//! the same requests to chatd and to a DRF server built to the contract):
//! NUL characters, look-alike usernames, a body without a type, `null`
//! images, and the order of a PATCH's errors. Each answer is exact, and
//! nothing of the bad request is stored.

mod common;

use common::{json_of, spawn_app, PASSWORD};
use serde_json::json;

const NUL: &str = "Null characters are not allowed.";

#[tokio::test]
async fn nul_characters_are_refused_in_every_string_field() {
    let app = spawn_app().await;
    let token = app.user("nik").await;

    let (status, body) = app
        .create_chat(&token, &[("title", "Du\0ne"), ("room", "books")])
        .await;
    assert_eq!((status, body), (400, json!({"title": [NUL]})));
    let (status, body) = app
        .create_chat(
            &token,
            &[
                ("title", "Dune"),
                ("room", "books"),
                ("description", "a\0b"),
            ],
        )
        .await;
    assert_eq!((status, body), (400, json!({"description": [NUL]})));

    // Length and NUL are both reported, length first, as DRF's validators run.
    let long = format!("{}\0", "x".repeat(80));
    let (status, body) = app
        .create_chat(&token, &[("title", &long), ("room", "books")])
        .await;
    assert_eq!(
        (status, body),
        (
            400,
            json!({"title": ["Ensure this field has no more than 70 characters.", NUL]})
        )
    );

    let response = app
        .client
        .post(app.url("/api/register/"))
        .json(&json!({"username": "a\u{0}b", "email": "ab@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(response).await;
    assert_eq!(status, 400);
    assert_eq!(body["username"][0], NUL, "{body}");

    let listed = app
        .client
        .get(app.url("/api/chat/books/"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        json_of(listed).await.1["count"],
        0,
        "nothing bad was stored"
    );
}

/// Registers with form fields; the status and body.
async fn register(app: &common::TestApp, username: &str, email: &str) -> (u16, serde_json::Value) {
    let fields = [
        ("username", username),
        ("email", email),
        ("password", PASSWORD),
    ];
    let response = app
        .client
        .post(app.url("/api/register/"))
        .form(&fields)
        .send()
        .await
        .unwrap();
    json_of(response).await
}

#[tokio::test]
async fn usernames_are_nfkc_normalised_before_uniqueness() {
    let app = spawn_app().await;
    app.register("full").await;
    assert_eq!(
        register(&app, "ｆｕｌｌ", "other@example.com").await,
        (
            400,
            json!({"username": ["A user with that username already exists."]})
        )
    );

    // A fullwidth name of its own is stored in its normal form...
    assert_eq!(
        register(&app, "ｎｉｋ", "nik@example.com").await,
        (201, json!({"username": "nik", "email": "nik@example.com"}))
    );
    // ...and either spelling logs in.
    for login in ["nik", "ｎｉｋ"] {
        let response = app
            .client
            .post(app.url("/api/token/"))
            .form(&[("username", login), ("password", PASSWORD)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{login}");
    }
}

#[tokio::test]
async fn a_body_without_content_type_is_unsupported() {
    let app = spawn_app().await;
    let token = app.user("nik").await;
    let response = app
        .client
        .post(app.url("/api/chat/"))
        .bearer_auth(&token)
        .body("title=Dune&room=books")
        .send()
        .await
        .unwrap();
    assert_eq!(
        json_of(response).await,
        (
            415,
            json!({"detail": "Unsupported media type \"\" in request."})
        )
    );
    // No body and no type is an empty form, as in DRF.
    let response = app
        .client
        .post(app.url("/api/chat/"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        json_of(response).await,
        (
            400,
            json!({"title": ["This field is required."], "room": ["This field is required."]})
        )
    );
}

#[tokio::test]
async fn null_images_are_refused_and_delete_removes_an_avatar() {
    let app = spawn_app().await;
    let token = app.user("nik").await;
    let response = app
        .client
        .post(app.url("/api/chat/"))
        .bearer_auth(&token)
        .json(&json!({"title": "Dune", "room": "books", "img": null}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        json_of(response).await,
        (400, json!({"img": ["This field may not be null."]}))
    );

    let response = app
        .client
        .put(app.url("/api/profile/avatar/"))
        .bearer_auth(&token)
        .json(&json!({"avatar": null}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        json_of(response).await,
        (400, json!({"avatar": ["This field may not be null."]}))
    );

    let png = common::fixture("red.png");
    let form = reqwest::multipart::Form::new()
        .part("avatar", common::file_part(png, "red.png", "image/png"));
    let response = app
        .client
        .put(app.url("/api/profile/avatar/"))
        .bearer_auth(&token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(response).await;
    assert_eq!(status, 200);
    let url = body["avatar"].as_str().unwrap().to_string();
    let response = app
        .client
        .delete(app.url("/api/profile/avatar/"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(json_of(response).await, (200, json!({"avatar": null})));
    let gone = app.client.get(&url).send().await.unwrap();
    assert_eq!(gone.status(), 404, "the old file is removed");
}

#[tokio::test]
async fn a_patch_reports_field_errors_before_read_only_fields() {
    let app = spawn_app().await;
    let token = app.user("nik").await;
    let (_, chat) = app
        .create_chat(&token, &[("title", "Dune"), ("room", "books")])
        .await;
    let id = chat["chat"]["id"].as_i64().unwrap();
    let url = app.url(&format!("/api/chat/books/{id}/"));
    let patch = |body: serde_json::Value| {
        app.client
            .patch(&url)
            .bearer_auth(&token)
            .json(&body)
            .send()
    };
    let response = patch(json!({"title": "New", "description": "x".repeat(401)}))
        .await
        .unwrap();
    assert_eq!(
        json_of(response).await,
        (
            400,
            json!({"description": ["Ensure this field has no more than 400 characters."]})
        )
    );
    let response = patch(json!({"title": "New", "description": "ok"}))
        .await
        .unwrap();
    assert_eq!(
        json_of(response).await,
        (
            400,
            json!({"non_field_errors": ["Only the chat description and image can be changed."]})
        )
    );
}
