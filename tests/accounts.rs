mod common;
use common::*;

use chatd::auth::{Claims, TokenType};
use reqwest::multipart::Form;
use serde_json::{json, Value};

const INVALID_USERNAME: &str =
    "Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters.";
const TOO_SHORT: &str = "This password is too short. It must contain at least 8 characters.";
const TOO_COMMON: &str = "This password is too common.";
const NUMERIC: &str = "This password is entirely numeric.";
const SIMILAR_USERNAME: &str = "The password is too similar to the username.";
const NO_ACCOUNT: &str = "No active account found with the given credentials";

/// `POST <path>` of a JSON body: status and JSON body.
async fn post_json(app: &TestApp, path: &str, body: Value) -> (u16, Value) {
    let response = app.client.post(app.url(path)).json(&body).send().await;
    api(response.unwrap()).await
}

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

/// A token of `user_id` that expires at `exp`, signed with the test
/// servers' secret.
fn forge(token_type: TokenType, user_id: i64, exp: u64) -> String {
    let claims = Claims {
        token_type,
        exp,
        iat: 0,
        jti: "x".into(),
        user_id,
        ver: 0,
    };
    test_tokens().encode(&claims).unwrap()
}

/// Asserts that a write (`POST /api/chat/`) and a read (`GET /api/user/`)
/// with `token` are both 401 `token_not_valid`.
async fn assert_token_refused(app: &TestApp, token: &str) {
    let response = app
        .client
        .post(app.url("/api/chat/"))
        .bearer_auth(token)
        .form(&[("title", "Dune"), ("room", "books")])
        .send()
        .await
        .unwrap();
    assert_unauthorized(response, token_not_valid()).await;

    let response = app
        .client
        .get(app.url("/api/user/"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_unauthorized(response, token_not_valid()).await;
}

fn refresh_not_valid() -> Value {
    json!({"detail": "Token is invalid or expired", "code": "token_not_valid"})
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

/// Asserts a login's answer: 200 with exactly a refresh and an access
/// token, two different JWTs, and the access token is `username`'s.
async fn assert_logged_in(app: &TestApp, (status, body): (u16, Value), username: &str) {
    assert_eq!(status, 200, "{body}");
    let object = body.as_object().expect("an object");
    let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["access", "refresh"], "{body}");
    for key in ["access", "refresh"] {
        let token = body[key].as_str().expect("a string");
        assert_eq!(token.split('.').count(), 3, "{key} is a JWT: {token}");
    }
    assert_ne!(body["access"], body["refresh"]);
    let (status, user) = app.get_user(body["access"].as_str().unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(user["username"], username);
}

#[tokio::test]
async fn token_by_username_returns_refresh_and_access() {
    let app = spawn_app().await;
    app.register("alice").await;
    let login = json!({"username": "alice", "password": PASSWORD});
    let answer = post_json(&app, "/api/token/", login).await;
    assert_logged_in(&app, answer, "alice").await;
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
    assert_logged_in(&app, api(response).await, "alice").await;
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
        let login = json!({"username": username, "password": password});
        let answer = post_json(&app, "/api/token/", login).await;
        assert_eq!(answer, (401, json!({"detail": NO_ACCOUNT})), "{username:?}");
    }
}

#[tokio::test]
async fn token_without_fields_is_400() {
    let app = spawn_app().await;
    assert_eq!(
        post_json(&app, "/api/token/", json!({})).await,
        (400, json!({"username": [REQUIRED], "password": [REQUIRED]}))
    );
}

#[tokio::test]
async fn refresh_returns_a_working_access_token() {
    let app = spawn_app().await;
    app.register("alice").await;
    let (_, refresh) = app.login("alice").await;
    let (status, body) = post_json(&app, "/api/token/refresh/", json!({"refresh": refresh})).await;
    assert_eq!(status, 200, "{body}");
    let object = body.as_object().unwrap();
    assert_eq!(object.len(), 1, "{body}");
    let access = body["access"].as_str().expect("access is a string");
    let (status, user) = app.get_user(access).await;
    assert_eq!(status, 200, "{user}");
    assert_eq!(user["username"], "alice");
}

#[tokio::test]
async fn refresh_with_garbage_or_an_access_token_is_401() {
    let app = spawn_app().await;
    app.register("alice").await;
    let (access, _) = app.login("alice").await;
    for token in ["garbage", "not.a.token", access.as_str()] {
        let answer = post_json(&app, "/api/token/refresh/", json!({"refresh": token})).await;
        assert_eq!(answer, (401, refresh_not_valid()), "{token:?}");
    }
}

#[tokio::test]
async fn refresh_with_an_expired_refresh_token_is_401() {
    let app = spawn_app().await;
    let token = app.user("alice").await;
    let id = app.user_id(&token).await;
    let expired = forge(TokenType::Refresh, id, 1);
    let answer = post_json(&app, "/api/token/refresh/", json!({"refresh": expired})).await;
    assert_eq!(answer, (401, refresh_not_valid()));
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

    let response = app.get("/api/user/").await;
    assert_unauthorized(response, json!({"detail": NOT_PROVIDED})).await;

    let response = app.get("/api/profile/avatar/").await;
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

    assert_token_refused(&app, &tampered).await;
}

#[tokio::test]
async fn expired_access_token_is_401_token_not_valid() {
    let app = spawn_app().await;
    let token = app.user("alice").await;
    let id = app.user_id(&token).await;
    let expired = forge(TokenType::Access, id, 1);
    assert_token_refused(&app, &expired).await;
}

#[tokio::test]
async fn forged_unexpired_access_token_is_accepted() {
    // Sanity check for the forging above: the same claims, unexpired, work.
    let app = spawn_app().await;
    let token = app.user("alice").await;
    let id = app.user_id(&token).await;
    let forged = forge(TokenType::Access, id, 4_000_000_000);
    let (status, user) = app.get_user(&forged).await;
    assert_eq!(status, 200, "{user}");
    assert_eq!(user["id"], id);
}

#[tokio::test]
async fn refresh_token_used_as_access_is_401_token_not_valid() {
    let app = spawn_app().await;
    app.register("alice").await;
    let (_, refresh) = app.login("alice").await;
    assert_token_refused(&app, &refresh).await;
}

// ------------------------------------------------------------ user, avatar

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
