//! Media files (`/media/`): caching headers and revalidation (ETag, weak
//! tags, dates), traversal, listings and missing files as 404 JSON (their
//! 405 is with the others in `routes.rs`).

use std::io::{Read, Write};
use std::time::Duration;

use serde_json::Value;

use crate::common::*;

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
