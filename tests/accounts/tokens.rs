//! Tokens: logins by name or e-mail, refreshes, and tokens on requests
//! (none, tampered, expired, forged, a refresh token used as access).

use chatd::auth::{Claims, TokenType};
use serde_json::{json, Value};

use crate::common::*;
use crate::post_json;

const NO_ACCOUNT: &str = "No active account found with the given credentials";

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
