//! Registration (`/api/register/`) in JSON, urlencoded and multipart: the
//! username, e-mail and password rules, errors of several fields together.

use serde_json::{json, Value};

use crate::common::*;
use crate::post_json;

const INVALID_USERNAME: &str =
    "Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters.";
const TOO_SHORT: &str = "This password is too short. It must contain at least 8 characters.";
const TOO_COMMON: &str = "This password is too common.";
const NUMERIC: &str = "This password is entirely numeric.";
const SIMILAR_USERNAME: &str = "The password is too similar to the username.";

async fn register_json(app: &TestApp, body: Value) -> (u16, Value) {
    post_json(app, "/api/register/", body).await
}

/// Registers `username` with `password` (e-mail `<username>@example.com`).
async fn register_with_password(app: &TestApp, username: &str, password: &str) -> (u16, Value) {
    register_json(
        app,
        json!({
            "username": username,
            "email": format!("{username}@example.com"),
            "password": password,
        }),
    )
    .await
}

#[tokio::test]
async fn register_with_json_returns_201_with_username_and_email() {
    let app = spawn_app().await;
    let body = register_with_password(&app, "alice", PASSWORD).await;
    assert_eq!(
        body,
        (
            201,
            json!({"username": "alice", "email": "alice@example.com"})
        )
    );
    // The account works.
    app.login("alice").await;
}

#[tokio::test]
async fn register_with_form_urlencoded_returns_201() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(app.url("/api/register/"))
        .form(&[
            ("username", "bob"),
            ("email", "bob@example.com"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        api(response).await,
        (201, json!({"username": "bob", "email": "bob@example.com"}))
    );
    app.login("bob").await;
}

#[tokio::test]
async fn register_with_multipart_returns_201() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(app.url("/api/register/"))
        .multipart(text_form(&[
            ("username", "carol"),
            ("email", "carol@example.com"),
            ("password", PASSWORD),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(
        api(response).await,
        (
            201,
            json!({"username": "carol", "email": "carol@example.com"})
        )
    );
}

#[tokio::test]
async fn register_without_fields_requires_all_three() {
    let app = spawn_app().await;
    assert_eq!(
        register_json(&app, json!({})).await,
        (
            400,
            json!({"username": [REQUIRED], "email": [REQUIRED], "password": [REQUIRED]})
        )
    );
    // The same with an empty urlencoded body.
    let response = app
        .client
        .post(app.url("/api/register/"))
        .form(&[] as &[(&str, &str)])
        .send()
        .await
        .unwrap();
    assert_eq!(
        api(response).await,
        (
            400,
            json!({"username": [REQUIRED], "email": [REQUIRED], "password": [REQUIRED]})
        )
    );
}

#[tokio::test]
async fn register_rejects_invalid_username_characters() {
    let app = spawn_app().await;
    for username in ["bad name", "bad!name", "semi;colon", "slash/name"] {
        let body = register_json(
            &app,
            json!({"username": username, "email": "someone@example.com", "password": PASSWORD}),
        )
        .await;
        assert_eq!(
            body,
            (400, json!({"username": [INVALID_USERNAME]})),
            "{username:?}"
        );
    }
}

#[tokio::test]
async fn register_accepts_every_allowed_username_character() {
    let app = spawn_app().await;
    let body = register_json(
        &app,
        json!({"username": "a.b+c-d_e@f9", "email": "abc@example.com", "password": PASSWORD}),
    )
    .await;
    assert_eq!(
        body,
        (
            201,
            json!({"username": "a.b+c-d_e@f9", "email": "abc@example.com"})
        )
    );
}

#[tokio::test]
async fn register_rejects_username_over_150_characters() {
    let app = spawn_app().await;
    let body = register_json(
        &app,
        json!({"username": "a".repeat(151), "email": "long@example.com", "password": PASSWORD}),
    )
    .await;
    assert_eq!(
        body,
        (
            400,
            json!({"username": ["Ensure this field has no more than 150 characters."]})
        )
    );
    // Exactly 150 is fine.
    let body = register_json(
        &app,
        json!({"username": "a".repeat(150), "email": "long@example.com", "password": PASSWORD}),
    )
    .await;
    assert_eq!(
        body,
        (
            201,
            json!({"username": "a".repeat(150), "email": "long@example.com"})
        )
    );
}

#[tokio::test]
async fn register_rejects_duplicate_username_case_insensitively() {
    let app = spawn_app().await;
    app.register("alice").await;
    for username in ["alice", "ALICE", "Alice"] {
        let body = register_json(
            &app,
            json!({"username": username, "email": "other@example.com", "password": PASSWORD}),
        )
        .await;
        assert_eq!(
            body,
            (
                400,
                json!({"username": ["A user with that username already exists."]})
            ),
            "{username:?}"
        );
    }
}

#[tokio::test]
async fn register_rejects_duplicate_email() {
    let app = spawn_app().await;
    app.register("alice").await;
    let body = register_json(
        &app,
        json!({"username": "bob", "email": "alice@example.com", "password": PASSWORD}),
    )
    .await;
    assert_eq!(
        body,
        (
            400,
            json!({"email": ["A user with that email already exists."]})
        )
    );
}

#[tokio::test]
async fn register_reports_taken_username_and_email_together() {
    let app = spawn_app().await;
    app.register("alice").await;
    let body = register_json(
        &app,
        json!({"username": "alice", "email": "alice@example.com", "password": PASSWORD}),
    )
    .await;
    assert_eq!(
        body,
        (
            400,
            json!({
                "username": ["A user with that username already exists."],
                "email": ["A user with that email already exists."],
            })
        )
    );
}

#[tokio::test]
async fn register_rejects_invalid_email() {
    let app = spawn_app().await;
    for email in [
        "not-an-email",
        "no-at-sign.example.com",
        "a@b",
        "@example.com",
    ] {
        let body = register_json(
            &app,
            json!({"username": "dave", "email": email, "password": PASSWORD}),
        )
        .await;
        assert_eq!(
            body,
            (400, json!({"email": ["Enter a valid email address."]})),
            "{email:?}"
        );
    }
}

#[tokio::test]
async fn register_rejects_short_password() {
    let app = spawn_app().await;
    assert_eq!(
        register_with_password(&app, "erin", "zq7kd").await,
        (400, json!({"password": [TOO_SHORT]}))
    );
}

#[tokio::test]
async fn register_rejects_entirely_numeric_password() {
    let app = spawn_app().await;
    assert_eq!(
        register_with_password(&app, "erin", "73915486207").await,
        (400, json!({"password": [NUMERIC]}))
    );
}

#[tokio::test]
async fn register_rejects_common_passwords() {
    let app = spawn_app().await;
    assert_eq!(
        register_with_password(&app, "erin", "password").await,
        (400, json!({"password": [TOO_COMMON]}))
    );
    assert_eq!(
        register_with_password(&app, "erin", "12345678").await,
        (400, json!({"password": [TOO_COMMON, NUMERIC]}))
    );
}

#[tokio::test]
async fn register_rejects_password_similar_to_username() {
    let app = spawn_app().await;
    // "alexander1" is also in Django's common-password list.
    assert_eq!(
        register_with_password(&app, "alexander", "alexander1").await,
        (400, json!({"password": [SIMILAR_USERNAME, TOO_COMMON]}))
    );
    assert_eq!(
        register_with_password(&app, "alexander", "xalexander-9").await,
        (400, json!({"password": [SIMILAR_USERNAME]}))
    );
}

#[tokio::test]
async fn register_reports_password_problems_together_in_django_order() {
    let app = spawn_app().await;
    assert_eq!(
        register_with_password(&app, "frank", "1234").await,
        (400, json!({"password": [TOO_SHORT, TOO_COMMON, NUMERIC]}))
    );
    // All four validators at once: similarity first.
    assert_eq!(
        register_with_password(&app, "12345", "1234").await,
        (
            400,
            json!({"password": [SIMILAR_USERNAME, TOO_SHORT, TOO_COMMON, NUMERIC]})
        )
    );
}

#[tokio::test]
async fn register_reports_errors_of_several_fields_together() {
    let app = spawn_app().await;
    let body = register_json(
        &app,
        json!({"username": "bad name", "email": "nope", "password": "1234"}),
    )
    .await;
    assert_eq!(
        body,
        (
            400,
            json!({
                "username": [INVALID_USERNAME],
                "email": ["Enter a valid email address."],
                "password": [TOO_SHORT, TOO_COMMON, NUMERIC],
            })
        )
    );
}
