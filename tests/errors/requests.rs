//! Requests the server refuses or cuts off: unsupported, malformed and
//! oversized bodies (415, 400, 413), and headers never finished.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::*;

/// `POST /api/chat/` as `token` of a raw `body` with this `Content-Type`:
/// status and JSON body (checked to be `application/json`).
async fn post_raw(app: &TestApp, token: &str, content_type: &str, body: &str) -> (u16, Value) {
    let request = app.client.post(app.url("/api/chat/")).bearer_auth(token);
    let request = request.header("content-type", content_type);
    api(request.body(body.to_string()).send().await.unwrap()).await
}

/// `POST /api/chat/` as `token` of a JSON body: status and JSON body.
async fn post_json(app: &TestApp, token: &str, body: &Value) -> (u16, Value) {
    let request = app.client.post(app.url("/api/chat/")).bearer_auth(token);
    api(request.json(body).send().await.unwrap()).await
}

#[tokio::test]
async fn unsupported_content_type_is_415() {
    let app = spawn_app().await;
    let token = app.user("alice").await;
    let answer = post_raw(&app, &token, "text/plain", "title=Dune&room=books").await;
    assert_eq!(
        answer,
        (
            415,
            json!({"detail": "Unsupported media type \"text/plain\" in request."})
        )
    );
    assert_eq!(app.chat_count("books").await, 0);
}

#[tokio::test]
async fn malformed_json_is_400_json_parse_error() {
    let app = spawn_app().await;
    let token = app.user("alice").await;
    for body in [
        "{\"title\": ",
        r#"{"title": "Dune", "room": "#,
        "{title: 1}",
        "{not json}",
        "nope",
        "{\"a\": 1,}",
        r#"{"title": "x",}"#,
    ] {
        let (status, json) = post_raw(&app, &token, "application/json", body).await;
        assert_eq!(status, 400, "{body:?}: {json}");
        let object = json.as_object().expect("an object");
        assert_eq!(object.len(), 1, "only detail: {json}");
        let detail = json["detail"].as_str().expect("detail is a string");
        assert!(
            detail.starts_with("JSON parse error - ") && detail.len() > "JSON parse error - ".len(),
            "{body:?}: {detail:?}"
        );
    }
    assert_eq!(app.chat_count("films").await, 0);
    assert_eq!(app.chat_count("books").await, 0);
}

#[tokio::test]
async fn json_that_is_not_an_object_is_400_non_field_errors() {
    let app = spawn_app().await;
    let token = app.user("alice").await;
    let not_a_dictionary = (
        400,
        json!({"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]}),
    );
    let answer = post_json(&app, &token, &json!([{"title": "Dune", "room": "books"}])).await;
    assert_eq!(answer, not_a_dictionary);
    // The same on an endpoint without authentication.
    let response = app
        .client
        .post(app.url("/api/register/"))
        .json(&json!(["a", "b"]))
        .send()
        .await
        .unwrap();
    assert_eq!(api(response).await, not_a_dictionary);
}

#[tokio::test]
async fn json_body_over_64_kib_is_413() {
    let app = spawn_app().await;
    let token = app.user("alice").await;
    let body = json!({"title": "x".repeat(70 * 1024), "room": "books"});
    let answer = post_json(&app, &token, &body).await;
    assert_eq!(answer, (413, json!({"detail": "Request body too large."})));
    // The server is still fine afterwards.
    let (status, body) = app
        .create_chat(&token, &[("title", "Dune"), ("room", "books")])
        .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn urlencoded_body_over_64_kib_is_413() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(app.url("/api/register/"))
        .form(&[("username", "x".repeat(70 * 1024))])
        .send()
        .await
        .unwrap();
    assert_eq!(
        api(response).await,
        (413, json!({"detail": "Request body too large."}))
    );
}

#[tokio::test]
async fn broken_multipart_is_400() {
    let app = spawn_app().await;
    let token = app.user("alice").await;
    let body = "--OTHERBOUNDARY\r\n\
                Content-Disposition: form-data; name=\"title\"\r\n\r\n\
                Dune\r\n\
                --OTHERBOUNDARY--\r\n";
    let (status, json) = post_raw(
        &app,
        &token,
        "multipart/form-data; boundary=XYZBOUNDARY",
        body,
    )
    .await;
    assert_eq!(status, 400, "{json}");
    assert_eq!(json.as_object().unwrap().len(), 1, "only detail: {json}");
    let detail = json["detail"].as_str().expect("detail is a string");
    assert!(
        detail.starts_with("Multipart form parse error"),
        "{detail:?}"
    );
}

#[tokio::test]
async fn multipart_without_boundary_is_400() {
    let app = spawn_app().await;
    let token = app.user("alice").await;
    let (status, json) = post_raw(&app, &token, "multipart/form-data", "title=Dune").await;
    assert_eq!(status, 400, "{json}");
    let detail = json["detail"].as_str().expect("detail is a string");
    assert!(
        detail.starts_with("Multipart form parse error"),
        "{detail:?}"
    );
}

#[tokio::test]
async fn slow_request_headers_are_cut_off() {
    let app = spawn_app_with(|c| c.header_read_timeout = Duration::from_secs(1)).await;
    let addr = app.base.trim_start_matches("http://").to_string();
    let stream = tokio::net::TcpStream::connect(&addr).await.unwrap();

    // Start a request but never finish its headers.
    let mut pending: &[u8] = b"GET /healthz HTTP/1.1\r\n";
    while !pending.is_empty() {
        stream.writable().await.unwrap();
        match stream.try_write(pending) {
            Ok(n) => pending = &pending[n..],
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(e) => panic!("write failed: {e}"),
        }
    }
    let started = Instant::now();

    // The server must hang up: read sees end of stream (or a reset).
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        let mut buf = [0u8; 1024];
        loop {
            if stream.readable().await.is_err() {
                return;
            }
            match stream.try_read(&mut buf) {
                Ok(0) => return,
                // Anything sent before closing (e.g. a 408) is fine.
                Ok(_) => continue,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                Err(_) => return,
            }
        }
    })
    .await;
    assert!(
        closed.is_ok(),
        "the connection was still open after 5 s with unfinished headers"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "closed after {:?}, before the timeout could have fired",
        started.elapsed()
    );

    // A normal request on a new connection is still served.
    let response = app.get("/healthz").await;
    assert_eq!(api(response).await, (200, json!({"status": "ok"})));
}
