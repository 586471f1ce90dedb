//! How the tests call the API: every answer (and every message sent over a
//! chat's socket) is checked against the document.

use reqwest::multipart;
use reqwest::Method;
use serde_json::Value as Json;

use crate::common::{self, *};
use crate::schema::{assert_valid, validate};
use crate::{operation, resolve, template_segments, DOC};

/// Sends a message over the chat's WebSocket; checks the frame's message is
/// the documented Message, and returns its id.
pub(crate) async fn send_message(app: &TestApp, token: &str, chat: i64, text: &str) -> i64 {
    let message = common::send_message(app, token, "films", chat, text).await;
    assert_valid(&DOC["components"]["schemas"]["Message"], &message);
    message["id"].as_i64().unwrap()
}

/// Checks a response against the documented operation `method template`:
/// its status is documented, required headers are there, and its body has
/// a documented content type and matches the schema. Returns the status and
/// the JSON body (`null` when empty or not JSON).
pub(crate) async fn check(
    template: &str,
    method: &str,
    response: reqwest::Response,
) -> (u16, Json) {
    let op = operation(template, method);
    let status = response.status().as_u16();
    let where_ = format!("{} {template} → {status}", method.to_uppercase());
    let Some(documented) = op["responses"].get(status.to_string()).map(resolve) else {
        let text = response.text().await.unwrap_or_default();
        panic!("{where_}: status not documented ({text})");
    };
    if let Some(headers) = documented.get("headers").and_then(Json::as_object) {
        for (name, header) in headers {
            if resolve(header)["required"] == true {
                assert!(
                    response.headers().contains_key(name.as_str()),
                    "{where_}: no {name} header"
                );
            }
        }
    }
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string());
    let bytes = response.bytes().await.unwrap();
    let Some(content) = documented.get("content").and_then(Json::as_object) else {
        assert!(
            bytes.is_empty(),
            "{where_}: a body where none is documented"
        );
        return (status, Json::Null);
    };
    let content_type = content_type.unwrap_or_else(|| panic!("{where_}: no Content-Type"));
    let essence = content_type.split(';').next().unwrap().trim();
    let media = content
        .get(essence)
        .unwrap_or_else(|| panic!("{where_}: Content-Type {content_type} is not documented"));
    if essence != "application/json" {
        return (status, Json::Null);
    }
    let body: Json = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
        panic!(
            "{where_}: not JSON ({e}): {:?}",
            String::from_utf8_lossy(&bytes)
        )
    });
    let errors = validate(&media["schema"], &body);
    assert!(
        errors.is_empty(),
        "{where_}: {body}\ndoes not match the schema:\n{}",
        errors.join("\n")
    );
    (status, body)
}

/// A request body in one of the encodings the API accepts.
pub(crate) enum Body {
    Empty,
    Json(Json),
    Form(Vec<(String, String)>),
    Multipart(multipart::Form),
    Raw(&'static str, Vec<u8>),
}

pub(crate) fn form(pairs: &[(&str, &str)]) -> Body {
    Body::Form(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

pub(crate) fn image(field: &str, fixture_name: &str, mime: &str) -> Body {
    let bytes = fixture(fixture_name);
    Body::Multipart(file_form(&[], field, bytes, fixture_name, mime))
}

/// The documented path template a concrete path belongs to (the most
/// literal one when several match).
fn template_of(path: &str) -> String {
    let path = path.split('?').next().unwrap();
    let segments = template_segments(path);
    DOC["paths"]
        .as_object()
        .unwrap()
        .keys()
        .filter(|template| {
            let parts = template_segments(template);
            parts.len() == segments.len()
                && parts
                    .iter()
                    .zip(&segments)
                    .all(|(t, s)| t.starts_with('{') || t == s)
        })
        .min_by_key(|template| template.matches('{').count())
        .cloned()
        .unwrap_or_else(|| panic!("{path} matches no documented path"))
}

/// Someone calling the API (with a token or without); every answer is
/// checked against the document.
#[derive(Clone, Copy)]
pub(crate) struct Caller<'a> {
    pub(crate) app: &'a TestApp,
    pub(crate) token: Option<&'a str>,
}

impl Caller<'_> {
    pub(crate) async fn send(self, method: &str, path: &str, body: Body) -> (u16, Json) {
        let verb = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let mut request = self.app.client.request(verb, self.app.url(path));
        if let Some(token) = self.token {
            request = request.bearer_auth(token);
        }
        request = match body {
            Body::Empty => request,
            Body::Json(value) => request.json(&value),
            Body::Form(pairs) => request.form(&pairs),
            Body::Multipart(form) => request.multipart(form),
            Body::Raw(content_type, bytes) => {
                request.header("content-type", content_type).body(bytes)
            }
        };
        let response = request.send().await.unwrap();
        check(&template_of(path), method, response).await
    }

    pub(crate) async fn get(self, path: &str) -> (u16, Json) {
        self.send("get", path, Body::Empty).await
    }

    pub(crate) async fn delete(self, path: &str) -> (u16, Json) {
        self.send("delete", path, Body::Empty).await
    }

    pub(crate) async fn post(self, path: &str, body: Body) -> (u16, Json) {
        self.send("post", path, body).await
    }

    pub(crate) async fn patch(self, path: &str, body: Body) -> (u16, Json) {
        self.send("patch", path, body).await
    }

    pub(crate) async fn put(self, path: &str, body: Body) -> (u16, Json) {
        self.send("put", path, body).await
    }
}
