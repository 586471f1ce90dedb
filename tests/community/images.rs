//! Messages posted over REST (`POST …/messages/`): stored, then broadcast
//! with their image; bad text, bad or oversized images refused.

use serde_json::{json, Value};

use crate::common::*;
use crate::{messages_path, post_json, post_text, setup};

const NEEDS_TEXT_OR_IMAGE: &str = "A message needs text or an image.";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rest_post_is_stored_then_broadcast_with_its_image() {
    let app = spawn_app().await;
    let (token, chat) = setup(&app, "nik").await;
    let (mut ws, _) = join_url(&app.ws_url("books", chat, "")).await;

    let form = file_form(
        &[("text", "  look  ")],
        "image",
        fixture("red.png"),
        "a.png",
        "image/png",
    );
    let (status, message) = app.post_multipart(&token, &messages_path(chat), form).await;
    assert_eq!(status, 201, "{message}");
    let mut keys: Vec<&str> = message
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "chat",
            "edited",
            "id",
            "image",
            "is_deleted",
            "mentions",
            "reactions",
            "text",
            "timestamp",
            "user",
            "user_avatar",
            "user_name"
        ]
    );
    assert_eq!(message["text"], "look");
    assert_eq!(message["mentions"], json!([]));
    assert_eq!(message["reactions"], json!([]));
    let image = message["image"].as_str().unwrap();
    assert_upload_url(&app, image, "msg_img", "png");
    let (status, _, bytes) = app.fetch(image).await;
    assert_eq!((status, bytes), (200, fixture("red.png")));

    let frame = next_message(&mut ws).await;
    assert_eq!(frame["nonce"], Value::Null);
    assert_eq!(frame["message"], message);

    // An image alone is a message; so is text alone.
    let form = file_form(&[], "image", fixture("red.gif"), "b.gif", "image/gif");
    let (status, only_image) = app.post_multipart(&token, &messages_path(chat), form).await;
    assert_eq!(status, 201, "{only_image}");
    assert_eq!(only_image["text"], "");
    let text = post_text(&app, &token, chat, "words").await;
    assert_eq!(text["image"], Value::Null);
    // Broadcast in id order, each once.
    assert_eq!(id_of(&next_message(&mut ws).await), only_image["id"]);
    assert_eq!(id_of(&next_message(&mut ws).await), text["id"]);
    let history = app.all_messages("books", chat).await;
    assert_eq!(history, [message.clone(), only_image, text]);

    // Deleting hides the image.
    let url = app.url(&format!("{}{}/", messages_path(chat), message["id"]));
    let (status, _) = send_raw(app.client.delete(url).bearer_auth(&token)).await;
    assert_eq!(status, 204);
    let history = app.all_messages("books", chat).await;
    assert_eq!(history[0]["image"], Value::Null);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rest_post_refuses_bad_input() {
    let app = spawn_app_with(|config| config.max_upload_bytes = 2048).await;
    let (token, chat) = setup(&app, "nik").await;
    let path = messages_path(chat);

    for body in [json!({}), json!({"text": "   "}), json!({"text": null})] {
        assert_eq!(
            post_json(&app, &token, chat, body).await,
            (400, json!({"non_field_errors": [NEEDS_TEXT_OR_IMAGE]}))
        );
    }
    let long = "x".repeat(2001);
    assert_eq!(
        post_json(&app, &token, chat, json!({ "text": long })).await,
        (
            400,
            json!({"text": ["Ensure this field has no more than 2000 characters."]})
        )
    );
    let not_image = file_form(
        &[("text", "hi")],
        "image",
        b"not an image".to_vec(),
        "a.png",
        "image/png",
    );
    assert_eq!(
        app.post_multipart(&token, &path, not_image).await,
        (
            400,
            json!({"image": ["Upload a valid image. The file you uploaded was either not an image or a corrupted image."]})
        )
    );
    let big = file_form(&[], "image", vec![0u8; 4096], "big.png", "image/png");
    assert_eq!(
        app.post_multipart(&token, &path, big).await,
        (413, json!({"detail": "Request body too large."}))
    );
    let as_text = post_json(&app, &token, chat, json!({"image": "http://x/a.png"})).await;
    assert_eq!(
        as_text,
        (
            400,
            json!({"image": ["The submitted data was not a file. Check the encoding type on the form."]})
        )
    );
    let anonymous = app.client.post(app.url(&path)).json(&json!({"text": "hi"}));
    assert_eq!(
        send(anonymous).await,
        (
            401,
            json!({"detail": "Authentication credentials were not provided."})
        )
    );
    let (status, body) = post_json(&app, &token, chat + 1, json!({"text": "hi"})).await;
    assert_eq!((status, body), (404, not_found()));
    // Nothing of it was stored, and no file was left behind.
    assert!(app.all_messages("books", chat).await.is_empty());
    let files = std::fs::read_dir(app.data_dir().join("media/msg_img")).unwrap();
    assert_eq!(files.count(), 0);
}
