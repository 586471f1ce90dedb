mod common;
use common::*;

use std::time::Duration;

use chatd::auth::{Claims, TokenType, Tokens};
use reqwest::multipart::Form;
use serde_json::{json, Value};

const REQUIRED: &str = "This field is required.";
const INVALID_USERNAME: &str =
    "Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters.";
const TOO_SHORT: &str = "This password is too short. It must contain at least 8 characters.";
const TOO_COMMON: &str = "This password is too common.";
const NUMERIC: &str = "This password is entirely numeric.";
const SIMILAR_USERNAME: &str = "The password is too similar to the username.";
const INVALID_IMAGE: &str =
    "Upload a valid image. The file you uploaded was either not an image or a corrupted image.";
const NOT_PROVIDED: &str = "Authentication credentials were not provided.";
const NO_ACCOUNT: &str = "No active account found with the given credentials";

/// Status and JSON body, after checking the response is `application/json`.
async fn api(response: reqwest::Response) -> (u16, Value) {
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string());
    assert_eq!(
        content_type.as_deref(),
        Some("application/json"),
        "content type of a {} response",
        response.status()
    );
    json_of(response).await
}

async fn register_json(app: &TestApp, body: Value) -> (u16, Value) {
    let response = app
        .client
        .post(app.url("/api/register/"))
        .json(&body)
        .send()
        .await
        .unwrap();
    api(response).await
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

async fn get_user(app: &TestApp, token: &str) -> (u16, Value) {
    let response = app
        .client
        .get(app.url("/api/user/"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    api(response).await
}

fn forge(claims: &Claims) -> String {
    Tokens::new(
        SECRET.as_bytes().to_vec(),
        Duration::from_secs(60),
        Duration::from_secs(60),
    )
    .encode(claims)
    .unwrap()
}

fn token_not_valid() -> Value {
    json!({"detail": "Given token not valid for any token type", "code": "token_not_valid"})
}

fn refresh_not_valid() -> Value {
    json!({"detail": "Token is invalid or expired", "code": "token_not_valid"})
}

/// Asserts a 401 with `body` and `WWW-Authenticate: Bearer realm="api"`.
async fn assert_unauthorized(response: reqwest::Response, body: Value) {
    let www = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_string());
    assert_eq!(api(response).await, (401, body));
    assert_eq!(www.as_deref(), Some("Bearer realm=\"api\""));
}

// ---------------------------------------------------------------- register

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

// ------------------------------------------------------------------ tokens

fn assert_token_pair(body: &Value) {
    let object = body.as_object().expect("an object");
    let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["access", "refresh"], "{body}");
    for key in ["access", "refresh"] {
        let token = body[key].as_str().expect("a string");
        assert_eq!(token.split('.').count(), 3, "{key} is a JWT: {token}");
    }
    assert_ne!(body["access"], body["refresh"]);
}

#[tokio::test]
async fn token_by_username_returns_refresh_and_access() {
    let app = spawn_app().await;
    app.register("alice").await;
    let response = app
        .client
        .post(app.url("/api/token/"))
        .json(&json!({"username": "alice", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let (status, body) = api(response).await;
    assert_eq!(status, 200, "{body}");
    assert_token_pair(&body);
    let (status, user) = get_user(&app, body["access"].as_str().unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(user["username"], "alice");
}

#[tokio::test]
async fn token_by_email_returns_refresh_and_access() {
    let app = spawn_app().await;
    app.register("alice").await;
    let response = app
        .client
        .post(app.url("/api/token/"))
        .form(&[("username", "alice@example.com"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    let (status, body) = api(response).await;
    assert_eq!(status, 200, "{body}");
    assert_token_pair(&body);
    let (status, user) = get_user(&app, body["access"].as_str().unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(user["username"], "alice");
}

#[tokio::test]
async fn token_with_wrong_password_or_unknown_user_is_401() {
    let app = spawn_app().await;
    app.register("alice").await;
    for (username, password) in [
        ("alice", "wrong password here"),
        ("nobody", PASSWORD),
        ("nobody@example.com", PASSWORD),
    ] {
        let response = app
            .client
            .post(app.url("/api/token/"))
            .json(&json!({"username": username, "password": password}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            api(response).await,
            (401, json!({"detail": NO_ACCOUNT})),
            "{username:?}"
        );
    }
}

#[tokio::test]
async fn token_without_fields_is_400() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(app.url("/api/token/"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        api(response).await,
        (400, json!({"username": [REQUIRED], "password": [REQUIRED]}))
    );
}

#[tokio::test]
async fn refresh_returns_a_working_access_token() {
    let app = spawn_app().await;
    app.register("alice").await;
    let (_, refresh) = app.login("alice").await;
    let response = app
        .client
        .post(app.url("/api/token/refresh/"))
        .json(&json!({"refresh": refresh}))
        .send()
        .await
        .unwrap();
    let (status, body) = api(response).await;
    assert_eq!(status, 200, "{body}");
    let object = body.as_object().unwrap();
    assert_eq!(object.len(), 1, "{body}");
    let access = body["access"].as_str().expect("access is a string");
    let (status, user) = get_user(&app, access).await;
    assert_eq!(status, 200, "{user}");
    assert_eq!(user["username"], "alice");
}

#[tokio::test]
async fn refresh_with_garbage_or_an_access_token_is_401() {
    let app = spawn_app().await;
    app.register("alice").await;
    let (access, _) = app.login("alice").await;
    for token in ["garbage", "not.a.token", access.as_str()] {
        let response = app
            .client
            .post(app.url("/api/token/refresh/"))
            .json(&json!({"refresh": token}))
            .send()
            .await
            .unwrap();
        assert_eq!(api(response).await, (401, refresh_not_valid()), "{token:?}");
    }
}

#[tokio::test]
async fn refresh_with_an_expired_refresh_token_is_401() {
    let app = spawn_app().await;
    let token = app.user("alice").await;
    let id = get_user(&app, &token).await.1["id"].as_i64().unwrap();
    let expired = forge(&Claims {
        token_type: TokenType::Refresh,
        exp: 1,
        iat: 0,
        jti: "x".into(),
        user_id: id,
        ver: 0,
    });
    let response = app
        .client
        .post(app.url("/api/token/refresh/"))
        .json(&json!({"refresh": expired}))
        .send()
        .await
        .unwrap();
    assert_eq!(api(response).await, (401, refresh_not_valid()));
}

// ------------------------------------------------------ tokens on requests

#[tokio::test]
async fn write_without_credentials_is_401_with_www_authenticate() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(app.url("/api/chat/"))
        .form(&[("title", "Dune"), ("room", "books")])
        .send()
        .await
        .unwrap();
    assert_unauthorized(response, json!({"detail": NOT_PROVIDED})).await;

    let response = app.client.get(app.url("/api/user/")).send().await.unwrap();
    assert_unauthorized(response, json!({"detail": NOT_PROVIDED})).await;

    let response = app
        .client
        .get(app.url("/api/profile/avatar/"))
        .send()
        .await
        .unwrap();
    assert_unauthorized(response, json!({"detail": NOT_PROVIDED})).await;
}

#[tokio::test]
async fn tampered_token_is_401_token_not_valid() {
    let app = spawn_app().await;
    let token = app.user("alice").await;
    // Flip the first character of the signature.
    let at = token.rfind('.').unwrap() + 1;
    let mut tampered = token.clone();
    let flipped = if tampered.as_bytes()[at] == b'A' {
        "B"
    } else {
        "A"
    };
    tampered.replace_range(at..at + 1, flipped);
    assert_ne!(tampered, token);

    let response = app
        .client
        .post(app.url("/api/chat/"))
        .bearer_auth(&tampered)
        .form(&[("title", "Dune"), ("room", "books")])
        .send()
        .await
        .unwrap();
    assert_unauthorized(response, token_not_valid()).await;

    let response = app
        .client
        .get(app.url("/api/user/"))
        .bearer_auth(&tampered)
        .send()
        .await
        .unwrap();
    assert_unauthorized(response, token_not_valid()).await;
}

#[tokio::test]
async fn expired_access_token_is_401_token_not_valid() {
    let app = spawn_app().await;
    let token = app.user("alice").await;
    let id = get_user(&app, &token).await.1["id"].as_i64().unwrap();
    let expired = forge(&Claims {
        token_type: TokenType::Access,
        exp: 1,
        iat: 0,
        jti: "x".into(),
        user_id: id,
        ver: 0,
    });
    let response = app
        .client
        .post(app.url("/api/chat/"))
        .bearer_auth(&expired)
        .form(&[("title", "Dune"), ("room", "books")])
        .send()
        .await
        .unwrap();
    assert_unauthorized(response, token_not_valid()).await;

    let response = app
        .client
        .get(app.url("/api/user/"))
        .bearer_auth(&expired)
        .send()
        .await
        .unwrap();
    assert_unauthorized(response, token_not_valid()).await;
}

#[tokio::test]
async fn forged_unexpired_access_token_is_accepted() {
    // Sanity check for the forging above: the same claims, unexpired, work.
    let app = spawn_app().await;
    let token = app.user("alice").await;
    let id = get_user(&app, &token).await.1["id"].as_i64().unwrap();
    let forged = forge(&Claims {
        token_type: TokenType::Access,
        exp: 4_000_000_000,
        iat: 0,
        jti: "x".into(),
        user_id: id,
        ver: 0,
    });
    let (status, user) = get_user(&app, &forged).await;
    assert_eq!(status, 200, "{user}");
    assert_eq!(user["id"], id);
}

#[tokio::test]
async fn refresh_token_used_as_access_is_401_token_not_valid() {
    let app = spawn_app().await;
    app.register("alice").await;
    let (_, refresh) = app.login("alice").await;
    let response = app
        .client
        .post(app.url("/api/chat/"))
        .bearer_auth(&refresh)
        .form(&[("title", "Dune"), ("room", "books")])
        .send()
        .await
        .unwrap();
    assert_unauthorized(response, token_not_valid()).await;

    let response = app
        .client
        .get(app.url("/api/user/"))
        .bearer_auth(&refresh)
        .send()
        .await
        .unwrap();
    assert_unauthorized(response, token_not_valid()).await;
}

// ------------------------------------------------------------ user, avatar

#[tokio::test]
async fn user_endpoint_shows_the_signed_in_user() {
    let app = spawn_app().await;
    let token = app.user("alice").await;
    let (status, body) = get_user(&app, &token).await;
    assert_eq!(status, 200, "{body}");
    let id = body["id"].as_i64().expect("id is an integer");
    assert!(id > 0);
    assert_eq!(
        body,
        json!({"id": id, "username": "alice", "email": "alice@example.com", "avatar": null})
    );
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

/// Asserts `url` is `<base>/media/avatars/<safe name>.<extension>`.
fn assert_avatar_url(app: &TestApp, url: &str, extension: &str) {
    let prefix = format!("{}/media/avatars/", app.base);
    let name = url
        .strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("{url} starts with {prefix}"));
    let stem = name
        .strip_suffix(&format!(".{extension}"))
        .unwrap_or_else(|| panic!("{url} ends with .{extension}"));
    assert!(
        !stem.is_empty()
            && stem
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
        "safe generated name: {url}"
    );
}

async fn get_bytes(app: &TestApp, url: &str) -> (u16, Option<String>, Vec<u8>) {
    let response = app.client.get(url).send().await.unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string());
    (
        status,
        content_type,
        response.bytes().await.unwrap().to_vec(),
    )
}

#[tokio::test]
async fn avatar_starts_empty() {
    let app = spawn_app().await;
    let token = app.user("alice").await;
    let response = app
        .client
        .get(app.url("/api/profile/avatar/"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(api(response).await, (200, json!({"avatar": null})));
}

#[tokio::test]
async fn avatar_upload_is_served_and_shown_on_the_user() {
    let app = spawn_app().await;
    let token = app.user("alice").await;
    let png = fixture("red.png");
    let form = Form::new().part("avatar", file_part(png.clone(), "red.png", "image/png"));
    let (status, body) = put_avatar(&app, &token, form).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body.as_object().unwrap().len(), 1, "{body}");
    let url = body["avatar"]
        .as_str()
        .expect("avatar is a URL")
        .to_string();
    assert_avatar_url(&app, &url, "png");

    let (status, content_type, bytes) = get_bytes(&app, &url).await;
    assert_eq!(status, 200);
    assert_eq!(content_type.as_deref(), Some("image/png"));
    assert_eq!(bytes, png);

    let response = app
        .client
        .get(app.url("/api/profile/avatar/"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(api(response).await, (200, json!({"avatar": url})));

    let (status, user) = get_user(&app, &token).await;
    assert_eq!(status, 200);
    assert_eq!(
        user,
        json!({
            "id": user["id"],
            "username": "alice",
            "email": "alice@example.com",
            "avatar": url,
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
    let form = Form::new().part(
        "avatar",
        file_part(b"just some text\n".to_vec(), "notes.txt", "text/plain"),
    );
    assert_eq!(
        put_avatar(&app, &token, form).await,
        (400, json!({"avatar": [INVALID_IMAGE]}))
    );
    // A text file pretending to be a PNG is no better.
    let form = Form::new().part(
        "avatar",
        file_part(b"just some text\n".to_vec(), "fake.png", "image/png"),
    );
    assert_eq!(
        put_avatar(&app, &token, form).await,
        (400, json!({"avatar": [INVALID_IMAGE]}))
    );
    // Nothing was stored.
    let (_, user) = get_user(&app, &token).await;
    assert_eq!(user["avatar"], Value::Null);
}

#[tokio::test]
async fn replacing_the_avatar_removes_the_old_file() {
    let app = spawn_app().await;
    let token = app.user("alice").await;
    let form = Form::new().part(
        "avatar",
        file_part(fixture("red.png"), "a.png", "image/png"),
    );
    let (status, body) = put_avatar(&app, &token, form).await;
    assert_eq!(status, 200, "{body}");
    let old = body["avatar"].as_str().unwrap().to_string();
    assert_eq!(get_bytes(&app, &old).await.0, 200);

    let jpg = fixture("red.jpg");
    let form = Form::new().part("avatar", file_part(jpg.clone(), "b.jpg", "image/jpeg"));
    let (status, body) = put_avatar(&app, &token, form).await;
    assert_eq!(status, 200, "{body}");
    let new = body["avatar"].as_str().unwrap().to_string();
    assert_avatar_url(&app, &new, "jpg");
    assert_ne!(new, old);

    let response = app.client.get(&old).send().await.unwrap();
    assert_eq!(api(response).await, (404, json!({"detail": "Not found."})));
    let (status, content_type, bytes) = get_bytes(&app, &new).await;
    assert_eq!(status, 200);
    assert_eq!(content_type.as_deref(), Some("image/jpeg"));
    assert_eq!(bytes, jpg);

    let (_, user) = get_user(&app, &token).await;
    assert_eq!(user["avatar"], json!(new));
}
