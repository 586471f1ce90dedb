mod common;
use common::*;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

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

/// Asserts a 405 JSON answer naming `method`, with `Allow: <allow>`.
async fn assert_not_allowed(response: reqwest::Response, method: &str, allow: &str) {
    let url = response.url().to_string();
    let allowed = header(&response, "allow");
    let body = json!({"detail": format!("Method \"{method}\" not allowed.")});
    assert_eq!(api(response).await, (405, body), "{method} {url}");
    assert_eq!(allowed.as_deref(), Some(allow), "{method} {url}");
}

/// A response read off a raw socket.
#[derive(Debug)]
struct RawResponse {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl RawResponse {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }
}

/// Sends `GET <path>` exactly as written (no client-side normalization of
/// `..` or percent-escapes, which reqwest's URL parser would apply).
async fn raw_get(app: &TestApp, path: &str) -> RawResponse {
    let addr = app.base.trim_start_matches("http://").to_string();
    let path = path.to_string();
    tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(&addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).unwrap();
        parse_raw(&raw)
    })
    .await
    .unwrap()
}

fn parse_raw(raw: &[u8]) -> RawResponse {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of headers");
    let head = String::from_utf8(raw[..split].to_vec()).unwrap();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("status line {status_line:?}"));
    let headers: Vec<(String, String)> = lines
        .map(|line| {
            let (name, value) = line.split_once(':').unwrap();
            (name.trim().to_string(), value.trim().to_string())
        })
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers.iter().any(|(n, v)| {
        n.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
    });
    if chunked {
        body = dechunk(&body);
    }
    RawResponse {
        status,
        headers,
        body,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n").unwrap();
        let size_text = std::str::from_utf8(&data[..line_end]).unwrap();
        let size = usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16).unwrap();
        data = &data[line_end + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

// ------------------------------------------------------------------- 404

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

// -------------------------------------------------------- request bodies

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

// ----------------------------------------------------------------- media

/// `GET` of the default chat image, with extra request headers.
async fn default_image(app: &TestApp, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut request = app.client.get(app.url("/media/chat_img/default.jpg"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn media_serves_the_default_image_with_caching_headers() {
    let app = spawn_app().await;
    let response = default_image(&app, &[]).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        header(&response, "content-type").as_deref(),
        Some("image/jpeg")
    );
    assert!(header(&response, "etag").is_some_and(|t| !t.is_empty()));
    let last_modified = header(&response, "last-modified").expect("Last-Modified");
    assert!(
        httpdate_like(&last_modified),
        "Last-Modified is an HTTP date: {last_modified:?}"
    );
    assert_eq!(
        header(&response, "x-content-type-options").as_deref(),
        Some("nosniff")
    );
    let bytes = response.bytes().await.unwrap();
    assert!(bytes.starts_with(&[0xFF, 0xD8]), "a JPEG");
}

/// `Sun, 06 Nov 1994 08:49:37 GMT`
fn httpdate_like(text: &str) -> bool {
    text.len() == 29 && text.ends_with(" GMT") && text.as_bytes()[3] == b','
}

#[tokio::test]
async fn media_if_none_match_is_304_with_an_empty_body() {
    let app = spawn_app().await;
    let etag = header(&default_image(&app, &[]).await, "etag").unwrap();
    let response = default_image(&app, &[("if-none-match", &etag)]).await;
    assert_eq!(response.status(), 304);
    assert_eq!(header(&response, "etag").as_deref(), Some(etag.as_str()));
    assert!(response.bytes().await.unwrap().is_empty());

    // Another tag is not a match.
    let response = default_image(&app, &[("if-none-match", "\"something-else\"")]).await;
    assert_eq!(response.status(), 200);
    assert!(!response.bytes().await.unwrap().is_empty());
}

/// If-None-Match compares weakly (RFC 9110 13.1.2): the tag a client or a
/// proxy marked weak still names the same file.
#[tokio::test]
async fn media_if_none_match_with_a_weak_tag_is_304() {
    let app = spawn_app().await;
    let etag = header(&default_image(&app, &[]).await, "etag").unwrap();
    let weak = format!("W/{etag}");
    for tags in [weak.clone(), format!("\"something-else\", {weak}")] {
        let response = default_image(&app, &[("if-none-match", &tags)]).await;
        assert_eq!(response.status(), 304, "{tags}");
        assert_eq!(header(&response, "etag").as_deref(), Some(etag.as_str()));
        assert!(response.bytes().await.unwrap().is_empty());
    }
    // A weak tag of another version is not a match, whatever the date says.
    let last_modified = header(&default_image(&app, &[]).await, "last-modified").unwrap();
    let response = default_image(
        &app,
        &[
            ("if-none-match", "W/\"something-else\""),
            ("if-modified-since", &last_modified),
        ],
    )
    .await;
    assert_eq!(response.status(), 200);
    assert!(!response.bytes().await.unwrap().is_empty());
}

#[tokio::test]
async fn media_if_modified_since_is_304() {
    let app = spawn_app().await;
    let last_modified = header(&default_image(&app, &[]).await, "last-modified").unwrap();
    let response = default_image(&app, &[("if-modified-since", &last_modified)]).await;
    assert_eq!(response.status(), 304);
    assert!(response.bytes().await.unwrap().is_empty());

    // A date long before is not.
    let response = default_image(
        &app,
        &[("if-modified-since", "Sun, 06 Nov 1994 08:49:37 GMT")],
    )
    .await;
    assert_eq!(response.status(), 200);
    assert!(!response.bytes().await.unwrap().is_empty());
}

#[tokio::test]
async fn media_refuses_traversal_listings_and_missing_files() {
    let app = spawn_app().await;
    // The data directory holds these next to media/.
    assert!(app.data_dir().join("chat.db").exists());
    for path in [
        "/media/../chat.db",
        "/media/../secret.key",
        "/media/chat_img/../../secret.key",
        "/media/chat_img/../../chat.db",
        "/media/%2e%2e/chat.db",
        "/media/%2E%2E/chat.db",
        "/media/chat_img/%2e%2e/%2e%2e/chat.db",
        "/media/chat_img/..%2f..%2fchat.db",
        "/media/chat_img%2f..%2f..%2fchat.db",
        "/media/chat_img/",
        "/media/chat_img",
        "/media/avatars/",
        "/media/",
        "/media",
        "/media/avatars/nope.png",
        "/media/chat_img/nope.jpg",
    ] {
        let response = raw_get(&app, path).await;
        assert_eq!(response.status, 404, "{path}: {response:?}");
        assert_eq!(
            response.header("content-type"),
            Some("application/json"),
            "{path}"
        );
        assert_eq!(response.json(), not_found(), "{path}");
    }
}

#[tokio::test]
async fn media_missing_file_is_404_json_through_a_client_too() {
    let app = spawn_app().await;
    for path in [
        "/media/avatars/nope.png",
        "/media/chat_img/",
        "/media/",
        "/media/secret.key",
    ] {
        let response = app.get(path).await;
        assert_eq!(api(response).await, (404, not_found()), "{path}");
    }
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

// ------------------------------------------------------------ operations

#[tokio::test]
async fn healthz_is_ok() {
    let app = spawn_app().await;
    let response = app.get("/healthz").await;
    assert_eq!(api(response).await, (200, json!({"status": "ok"})));
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
