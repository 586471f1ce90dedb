//! Routes: unknown paths are 404 JSON, a wrong method 405 with `Allow`
//! (the media files' too), every API answer is JSON but 204's, and health.

use serde_json::json;

use crate::common::*;

/// Asserts a 405 JSON answer naming `method`, with `Allow: <allow>`.
async fn assert_not_allowed(response: reqwest::Response, method: &str, allow: &str) {
    let url = response.url().to_string();
    let allowed = header(&response, "allow");
    let body = json!({"detail": format!("Method \"{method}\" not allowed.")});
    assert_eq!(api(response).await, (405, body), "{method} {url}");
    assert_eq!(allowed.as_deref(), Some(allow), "{method} {url}");
}

#[tokio::test]
async fn unknown_paths_are_404_json() {
    let app = spawn_app().await;
    for path in [
        "/nope/",
        "/nope",
        "/static/nope.js",
        "/api/",
        "/api",
        "/api/chat/films/1/extra/",
        "/api/users/",
        "/api/token/refresh/extra/",
    ] {
        let response = app.get(path).await;
        assert_eq!(api(response).await, (404, not_found()), "{path}");
    }
    // Whatever the method.
    let response = app.client.post(app.url("/nope/")).send().await.unwrap();
    assert_eq!(api(response).await, (404, not_found()));
    let response = app.client.delete(app.url("/api/")).send().await.unwrap();
    assert_eq!(api(response).await, (404, not_found()));
}

#[tokio::test]
async fn unknown_chat_is_404_json() {
    let app = spawn_app().await;
    let response = app.get("/api/chat/films/999/").await;
    assert_eq!(api(response).await, (404, not_found()));
}

// ------------------------------------------------------------------- 405

#[tokio::test]
async fn wrong_method_on_a_chat_is_405_with_allow() {
    let app = spawn_app().await;
    let token = app.user("alice").await;
    let response = app
        .client
        .put(app.url("/api/chat/films/1/"))
        .bearer_auth(&token)
        .json(&json!({"description": "x"}))
        .send()
        .await
        .unwrap();
    assert_not_allowed(response, "PUT", "GET, PATCH, DELETE, HEAD, OPTIONS").await;
}

#[tokio::test]
async fn get_on_create_chat_is_405_with_allow() {
    let app = spawn_app().await;
    let response = app.get("/api/chat/").await;
    assert_not_allowed(response, "GET", "POST, OPTIONS").await;
}

#[tokio::test]
async fn get_on_register_is_405_with_allow() {
    let app = spawn_app().await;
    for path in ["/api/register/", "/api/token/", "/api/token/refresh/"] {
        let response = app.get(path).await;
        assert_not_allowed(response, "GET", "POST, OPTIONS").await;
    }
}

#[tokio::test]
async fn put_on_register_names_the_method() {
    let app = spawn_app().await;
    let response = app
        .client
        .put(app.url("/api/register/"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_not_allowed(response, "PUT", "POST, OPTIONS").await;
}

#[tokio::test]
async fn media_post_is_405() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(app.url("/media/chat_img/default.jpg"))
        .send()
        .await
        .unwrap();
    assert_not_allowed(response, "POST", "GET, HEAD, OPTIONS").await;
}

// ---------------------------------------------------------- content type

#[tokio::test]
async fn every_api_response_is_json_except_204() {
    let app = spawn_app().await;
    let token = app.user("alice").await;
    // 200, 400, 401, 404 and 405 responses are all JSON.
    let requests = [
        app.client.get(app.url("/healthz")),
        app.client.get(app.url("/api/chat/films/")),
        app.client.get(app.url("/api/chat/movies/")),
        app.client.get(app.url("/api/user/")),
        app.client.get(app.url("/api/user/")).bearer_auth(&token),
        app.client.get(app.url("/nope/")),
        app.client.patch(app.url("/api/chat/")),
        app.client.post(app.url("/api/token/")).json(&json!({})),
        app.client
            .post(app.url("/api/token/"))
            .json(&json!({"username": "x", "password": "y"})),
    ];
    for request in requests {
        let response = request.send().await.unwrap();
        api(response).await;
    }
    // 204 has no body.
    let (status, body) = app
        .create_chat(&token, &[("title", "Dune"), ("room", "books")])
        .await;
    assert_eq!(status, 200, "{body}");
    let id = body["chat"]["id"].as_i64().unwrap();
    let response = app
        .client
        .delete(app.url(&format!("/api/chat/books/{id}/")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    assert!(response.bytes().await.unwrap().is_empty());
}

#[tokio::test]
async fn healthz_is_ok() {
    let app = spawn_app().await;
    let response = app.get("/healthz").await;
    assert_eq!(api(response).await, (200, json!({"status": "ok"})));
}
