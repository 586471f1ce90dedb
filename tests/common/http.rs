//! HTTP helpers: a client of the REST API, response readers, the server's
//! fixed messages, and shape assertions of what it answers.

use reqwest::header::HeaderMap;
use reqwest::multipart::Form;
use reqwest::RequestBuilder;
use serde_json::{json, Value};

use super::PASSWORD;

/// A client of one chatd at `base` (`http://127.0.0.1:<port>`), with the
/// API calls tests repeat. A [`super::TestApp`] derefs to one; make one
/// with [`ApiClient::new`] for a chatd started some other way (a child
/// process).
#[derive(Clone)]
pub struct ApiClient {
    /// `http://127.0.0.1:<port>`
    pub base: String,
    /// Follows no redirects, so tests see them.
    pub client: reqwest::Client,
}

impl ApiClient {
    pub fn new(base: impl Into<String>) -> ApiClient {
        ApiClient {
            base: base.into(),
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// `ws://host:port/chat/<room>/<chat>/[?query]`
    pub fn ws_url(&self, room: &str, chat: i64, query: &str) -> String {
        let host = self.base.trim_start_matches("http://");
        if query.is_empty() {
            format!("ws://{host}/chat/{room}/{chat}/")
        } else {
            format!("ws://{host}/chat/{room}/{chat}/?{query}")
        }
    }

    // ---- accounts

    /// Registers `username` (e-mail `<username>@example.com`) with [`PASSWORD`].
    pub async fn register(&self, username: &str) {
        let response = self
            .client
            .post(self.url("/api/register/"))
            .form(&[
                ("username", username),
                ("email", &format!("{username}@example.com")),
                ("password", PASSWORD),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    }

    /// Logs in with [`PASSWORD`] and returns `(access, refresh)`.
    pub async fn login(&self, username: &str) -> (String, String) {
        let response = self
            .client
            .post(self.url("/api/token/"))
            .form(&[("username", username), ("password", PASSWORD)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        (
            body["access"].as_str().unwrap().to_string(),
            body["refresh"].as_str().unwrap().to_string(),
        )
    }

    /// Registers and logs in; returns the access token.
    pub async fn user(&self, username: &str) -> String {
        self.register(username).await;
        self.login(username).await.0
    }

    /// `GET /api/user/` with a token: status and JSON body (checked to be
    /// `application/json`).
    pub async fn get_user(&self, token: &str) -> (u16, Value) {
        let request = self.client.get(self.url("/api/user/")).bearer_auth(token);
        api(request.send().await.unwrap()).await
    }

    /// The id of a token's user (`GET /api/user/` must answer 200).
    pub async fn user_id(&self, token: &str) -> i64 {
        let (status, body) = self.get_user(token).await;
        assert_eq!(status, 200, "{body}");
        body["id"].as_i64().unwrap()
    }

    // ---- chats

    /// Creates a chat with form fields; returns the status and JSON body.
    pub async fn create_chat(&self, token: &str, fields: &[(&str, &str)]) -> (u16, Value) {
        let request = self.client.post(self.url("/api/chat/"));
        send(request.bearer_auth(token).form(fields)).await
    }

    /// Creates a chat that must succeed (200); returns the Chat object.
    pub async fn new_chat(&self, token: &str, fields: &[(&str, &str)]) -> Value {
        let (status, body) = self.create_chat(token, fields).await;
        assert_eq!(status, 200, "{body}");
        body["chat"].clone()
    }

    /// Multipart `POST <path>` of `form` with a token: status and JSON body.
    pub async fn post_multipart(&self, token: &str, path: &str, form: Form) -> (u16, Value) {
        let request = self.client.post(self.url(path)).bearer_auth(token);
        send(request.multipart(form)).await
    }

    /// Creates a chat titled `title` in `room` that must succeed; returns its id.
    pub async fn new_chat_id(&self, token: &str, room: &str, title: &str) -> i64 {
        let chat = self
            .new_chat(token, &[("title", title), ("room", room)])
            .await;
        chat["id"].as_i64().unwrap()
    }

    /// `GET <path>`: the response.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    /// `GET <path>`: status and JSON body.
    pub async fn get_json(&self, path: &str) -> (u16, Value) {
        json_of(self.get(path).await).await
    }

    /// `GET <path>`, which must answer 200; the JSON body.
    pub async fn get_ok(&self, path: &str) -> Value {
        let (status, body) = self.get_json(path).await;
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    /// The number of chats in a room (the list's `count`).
    pub async fn chat_count(&self, room: &str) -> u64 {
        let list = self.get_ok(&format!("/api/chat/{room}/")).await;
        list["count"].as_u64().unwrap()
    }

    /// A page of a chat's messages: `GET /api/chat/<room>/<chat>/messages/<query>`
    /// (200), e.g. with `query` `""` or `"?after=3"`.
    pub async fn history(&self, room: &str, chat: i64, query: &str) -> Value {
        let path = format!("/api/chat/{room}/{chat}/messages/{query}");
        self.get_ok(&path).await
    }

    /// Every message of a chat, walking the history pages by their `next`.
    pub async fn all_messages(&self, room: &str, chat: i64) -> Vec<Value> {
        let mut url = Some(self.url(&format!("/api/chat/{room}/{chat}/messages/")));
        let mut all = Vec::new();
        while let Some(next) = url {
            let (status, page) = send(self.client.get(&next)).await;
            assert_eq!(status, 200, "GET {next}: {page}");
            all.extend(results(&page));
            url = page["next"].as_str().map(str::to_string);
        }
        all
    }

    /// `GET` of an absolute URL (a media file, say): status, headers, body bytes.
    pub async fn fetch(&self, url: &str) -> (u16, HeaderMap, Vec<u8>) {
        let response = self.client.get(url).send().await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        (status, headers, response.bytes().await.unwrap().to_vec())
    }
}

// ---- responses

/// Status and JSON body of a response (panics on a non-JSON body).
pub async fn json_of(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text:?}"));
    (status, body)
}

/// Status and JSON body, after checking the response is `application/json`.
pub async fn api(response: reqwest::Response) -> (u16, Value) {
    assert_eq!(
        header(&response, "content-type").as_deref(),
        Some("application/json"),
        "content type of a {} response to {}",
        response.status(),
        response.url()
    );
    json_of(response).await
}

/// A response header as text.
pub fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_string())
}

/// Sends a request and returns its status and JSON body.
pub async fn send(request: RequestBuilder) -> (u16, Value) {
    json_of(request.send().await.unwrap()).await
}

/// Sends a request and returns status, headers and the JSON body.
pub async fn send_with_headers(request: RequestBuilder) -> (u16, HeaderMap, Value) {
    let response = request.send().await.unwrap();
    let headers = response.headers().clone();
    let (status, body) = json_of(response).await;
    (status, headers, body)
}

/// Sends a request and returns its status and raw body text.
pub async fn send_raw(request: RequestBuilder) -> (u16, String) {
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

/// The `results` of a list page.
pub fn results(page: &Value) -> Vec<Value> {
    page["results"].as_array().unwrap().clone()
}

// ---- the server's fixed messages

pub const FORBIDDEN: &str = "You do not have permission to perform this action.";
pub const NOT_PROVIDED: &str = "Authentication credentials were not provided.";
pub const INVALID_IMAGE: &str =
    "Upload a valid image. The file you uploaded was either not an image or a corrupted image.";
pub const REQUIRED: &str = "This field is required.";

/// `404 {"detail": "Not found."}`'s body.
pub fn not_found() -> Value {
    json!({"detail": "Not found."})
}

/// The body of a 401 for a bad, expired or wrong-type access token.
pub fn token_not_valid() -> Value {
    json!({"detail": "Given token not valid for any token type", "code": "token_not_valid"})
}

// ---- assertions

/// Asserts a 401 with `body` (as `application/json`) and
/// `WWW-Authenticate: Bearer realm="api"`.
pub async fn assert_unauthorized(response: reqwest::Response, body: Value) {
    let www = header(&response, "www-authenticate");
    assert_eq!(api(response).await, (401, body));
    assert_eq!(www.as_deref(), Some("Bearer realm=\"api\""));
}

/// Asserts `value` is a timestamp shaped `2023-08-03T08:51:26.593514Z`
/// (`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$`); returns it.
pub fn assert_timestamp(value: &Value) -> &str {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("timestamp {value} is not a string"));
    let bytes = text.as_bytes();
    let shape = bytes.len() == 27
        && bytes.iter().enumerate().all(|(i, &c)| match i {
            4 | 7 => c == b'-',
            10 => c == b'T',
            13 | 16 => c == b':',
            19 => c == b'.',
            26 => c == b'Z',
            _ => c.is_ascii_digit(),
        });
    assert!(
        shape,
        "timestamp {text:?} is not YYYY-MM-DDTHH:MM:SS.ffffffZ"
    );
    text
}

/// Like [`assert_timestamp`], and within a few minutes of now.
pub fn assert_recent_timestamp(value: &Value) -> &str {
    let text = assert_timestamp(value);
    let parsed = chrono::DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|e| panic!("timestamp {text:?}: {e}"))
        .with_timezone(&chrono::Utc);
    let age = chrono::Utc::now().signed_duration_since(parsed);
    assert!(
        age.num_seconds().abs() < 600,
        "timestamp {text:?} is not close to now"
    );
    text
}

/// Asserts `url` is an uploaded file's absolute URL:
/// `<base>/media/<folder>/<safe generated name>.<extension>`.
pub fn assert_upload_url(app: &ApiClient, url: &str, folder: &str, extension: &str) {
    let prefix = format!("{}/media/{folder}/", app.base);
    let name = url
        .strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("{url:?} does not start with {prefix:?}"));
    let stem = name
        .strip_suffix(&format!(".{extension}"))
        .unwrap_or_else(|| panic!("{url:?} does not end with .{extension}"));
    assert!(
        !stem.is_empty()
            && stem != "default"
            && stem
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
        "{url:?} has no safe generated name"
    );
}
