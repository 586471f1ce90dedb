//! The chat API (`/api/chat/`) over REST: chats created, listed, read,
//! changed and deleted, with their images. The helpers below are shared by
//! several modules:
//!
//! - `seed_create.rs`: the seed document's create requests and errors;
//! - `seed_list_patch.rs`: its list and PATCH examples and their errors;
//! - `paths.rs`: the room from the path, no credentials, no trailing slash;
//! - `fields.rs`: length boundaries, blanks, trimming, JSON bodies;
//! - `reading.rs`: pagination over 250 chats, empty rooms, one chat;
//! - `patch_and_delete.rs`: who may change or delete a chat, and how;
//! - `images.rs`: all four formats stored and served, replaced by PATCH;
//! - `bad_images.rs`: files that are no image, uploads over the limit;
//! - `storage.rs`: 50 concurrent creates, a restart.

mod bad_images;
#[path = "../common/mod.rs"]
mod common;
mod fields;
mod images;
mod patch_and_delete;
mod paths;
mod reading;
mod seed_create;
mod seed_list_patch;
mod storage;

use common::*;

use reqwest::header::HeaderMap;
use serde_json::{json, Value};

pub(crate) const UNIQUE: &str = "The fields room, title must make a unique set.";
pub(crate) const TITLE_TOO_LONG: &str = "Ensure this field has no more than 70 characters.";
pub(crate) const DESCRIPTION_TOO_LONG: &str = "Ensure this field has no more than 400 characters.";

/// Form-encoded PATCH (what `requests.patch(URL, data)` sends).
pub(crate) async fn patch_form(
    app: &TestApp,
    token: &str,
    path: &str,
    fields: &[(&str, &str)],
) -> (u16, Value) {
    send(
        app.client
            .patch(app.url(path))
            .bearer_auth(token)
            .form(fields),
    )
    .await
}

/// Creates a chat from a multipart form: text fields and an image file
/// under `img`. Returns the status and JSON body.
pub(crate) async fn create_with_image(
    app: &TestApp,
    token: &str,
    fields: &[(&str, &str)],
    bytes: Vec<u8>,
    filename: &str,
    mime: &str,
) -> (u16, Value) {
    let form = file_form(fields, "img", bytes, filename, mime);
    app.post_multipart(token, "/api/chat/", form).await
}

pub(crate) fn default_img(app: &TestApp) -> String {
    format!("{}/media/chat_img/default.jpg", app.base)
}

/// What a chat's `img` is expected to be.
#[derive(Clone, Copy)]
pub(crate) enum Img<'a> {
    /// The default image.
    Default,
    /// An uploaded image with this extension.
    Uploaded(&'a str),
}

/// Asserts that `chat` is exactly the Chat object with these fields (the
/// id and timestamp are checked for shape), and returns its id.
pub(crate) fn assert_chat(
    app: &TestApp,
    chat: &Value,
    title: &str,
    room: &str,
    img: Img<'_>,
    creator: &str,
    description: Option<&str>,
) -> i64 {
    let id = chat["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("no integer id in {chat}"));
    assert!(id > 0, "{chat}");
    let timestamp = assert_recent_timestamp(&chat["timestamp"]);
    let img = match img {
        Img::Default => default_img(app),
        Img::Uploaded(ext) => {
            let actual = chat["img"]
                .as_str()
                .unwrap_or_else(|| panic!("no img in {chat}"));
            assert_upload_url(app, actual, "chat_img", ext);
            actual.to_string()
        }
    };
    assert_eq!(
        chat,
        &json!({
            "id": id,
            "title": title,
            "room": room,
            "img": img,
            "creator": creator,
            "description": description,
            "url": format!("/chat/{room}/{id}/"),
            "timestamp": timestamp,
        })
    );
    id
}

pub(crate) fn assert_unauthenticated(status: u16, headers: &HeaderMap, body: &Value) {
    assert_eq!((status, body), (401, &json!({"detail": NOT_PROVIDED})));
    assert_eq!(headers["www-authenticate"], "Bearer realm=\"api\"");
}
