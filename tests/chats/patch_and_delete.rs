//! PATCH and DELETE of a chat: only its owner may, only the description
//! and image change, room and id are checked, and a deleted chat's image goes.

use crate::common::*;

use reqwest::header::CONTENT_TYPE;
use serde_json::json;

use crate::{assert_unauthenticated, create_with_image, default_img, patch_form};

#[tokio::test]
async fn owner_may_patch_and_delete() {
    let app = spawn_app().await;
    let token = app.user("alice").await;
    let chat = app
        .new_chat(&token, &[("title", "Dune"), ("room", "books")])
        .await;
    let path = format!("/api/chat/books/{}/", chat["id"]);

    let (status, body) = patch_form(&app, &token, &path, &[("description", "Spice")]).await;
    let mut expected = chat.clone();
    expected["description"] = json!("Spice");
    assert_eq!((status, body), (200, expected.clone()));

    // An empty PATCH changes nothing.
    let (status, body) = patch_form(&app, &token, &path, &[]).await;
    assert_eq!((status, body), (200, expected));

    let (status, text) = send_raw(app.client.delete(app.url(&path)).bearer_auth(&token)).await;
    assert_eq!((status, text.as_str()), (204, ""));
    let (status, body) = app.get_json(&path).await;
    assert_eq!((status, body), (404, json!({"detail": "Not found."})));
    // Deleting again is a 404, as is changing it.
    let (status, body) = send(app.client.delete(app.url(&path)).bearer_auth(&token)).await;
    assert_eq!((status, body), (404, json!({"detail": "Not found."})));
    let (status, body) = patch_form(&app, &token, &path, &[("description", "x")]).await;
    assert_eq!((status, body), (404, json!({"detail": "Not found."})));
    assert_eq!(app.chat_count("books").await, 0);
    // The title is free again.
    app.new_chat(&token, &[("title", "Dune"), ("room", "books")])
        .await;
}

#[tokio::test]
async fn other_users_may_not_patch_or_delete() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let chat = app
        .new_chat(&alice, &[("title", "Dune"), ("room", "books")])
        .await;
    let path = format!("/api/chat/books/{}/", chat["id"]);

    let (status, body) = patch_form(&app, &bob, &path, &[("description", "mine")]).await;
    assert_eq!((status, body), (403, json!({"detail": FORBIDDEN})));
    let (status, body) = send(app.client.delete(app.url(&path)).bearer_auth(&bob)).await;
    assert_eq!((status, body), (403, json!({"detail": FORBIDDEN})));

    let (status, body) = app.get_json(&path).await;
    assert_eq!((status, body), (200, chat));
}

#[tokio::test]
async fn anonymous_patch_and_delete_are_401() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let chat = app
        .new_chat(&alice, &[("title", "Dune"), ("room", "books")])
        .await;
    let path = format!("/api/chat/books/{}/", chat["id"]);

    let (status, headers, body) = send_with_headers(
        app.client
            .patch(app.url(&path))
            .form(&[("description", "anon")]),
    )
    .await;
    assert_unauthenticated(status, &headers, &body);
    let (status, headers, body) = send_with_headers(app.client.delete(app.url(&path))).await;
    assert_unauthenticated(status, &headers, &body);

    let (status, body) = app.get_json(&path).await;
    assert_eq!((status, body), (200, chat));
}

#[tokio::test]
async fn patch_of_other_fields_is_rejected() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let chat = app
        .new_chat(&alice, &[("title", "Dune"), ("room", "books")])
        .await;
    let path = format!("/api/chat/books/{}/", chat["id"]);
    let only = json!({"non_field_errors": ["Only the chat description and image can be changed."]});

    let (status, body) = patch_form(&app, &alice, &path, &[("title", "Dune 2")]).await;
    assert_eq!((status, body), (400, only.clone()));
    let (status, body) = patch_form(
        &app,
        &alice,
        &path,
        &[("title", "Dune 2"), ("description", "x")],
    )
    .await;
    assert_eq!((status, body), (400, only.clone()));
    let (status, body) = patch_form(&app, &alice, &path, &[("room", "films")]).await;
    assert_eq!((status, body), (400, only.clone()));
    let (status, body) = send(
        app.client
            .patch(app.url(&path))
            .bearer_auth(&alice)
            .json(&json!({"title": "Dune 2"})),
    )
    .await;
    assert_eq!((status, body), (400, only));

    let (status, body) = app.get_json(&path).await;
    assert_eq!((status, body), (200, chat));
}

#[tokio::test]
async fn patch_and_delete_check_room_and_id() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let chat = app
        .new_chat(&alice, &[("title", "Dune"), ("room", "books")])
        .await;
    let id = chat["id"].as_i64().unwrap();

    let (status, body) = patch_form(
        &app,
        &alice,
        &format!("/api/chat/movie/{id}/"),
        &[("description", "x")],
    )
    .await;
    assert_eq!((status, body), (400, json!({"Error": "wrong room"})));
    let (status, body) = patch_form(
        &app,
        &alice,
        &format!("/api/chat/films/{id}/"),
        &[("description", "x")],
    )
    .await;
    assert_eq!((status, body), (404, json!({"detail": "Not found."})));
    let (status, body) = send(
        app.client
            .delete(app.url(&format!("/api/chat/films/{id}/")))
            .bearer_auth(&alice),
    )
    .await;
    assert_eq!((status, body), (404, json!({"detail": "Not found."})));
    let (status, body) = send(
        app.client
            .delete(app.url(&format!("/api/chat/books/{}/", id + 1000)))
            .bearer_auth(&alice),
    )
    .await;
    assert_eq!((status, body), (404, json!({"detail": "Not found."})));

    let (status, body) = app.get_json(&format!("/api/chat/books/{id}/")).await;
    assert_eq!((status, body), (200, chat));
}

#[tokio::test]
async fn delete_removes_the_chat_and_its_own_image() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let png = fixture("red.png");
    let (status, body) = create_with_image(
        &app,
        &alice,
        &[("title", "Dune"), ("room", "books")],
        png.clone(),
        "dune.png",
        "image/png",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let chat = body["chat"].clone();
    let img = chat["img"].as_str().unwrap().to_string();
    assert_upload_url(&app, &img, "chat_img", "png");
    // A chat with the default image, deleted too: the default must survive.
    let plain = app
        .new_chat(&alice, &[("title", "Plain"), ("room", "books")])
        .await;

    let (status, _, bytes) = app.fetch(&img).await;
    assert_eq!((status, bytes), (200, png));

    let path = format!("/api/chat/books/{}/", chat["id"]);
    let (status, text) = send_raw(app.client.delete(app.url(&path)).bearer_auth(&alice)).await;
    assert_eq!((status, text.as_str()), (204, ""));
    let plain_path = format!("/api/chat/books/{}/", plain["id"]);
    let (status, text) =
        send_raw(app.client.delete(app.url(&plain_path)).bearer_auth(&alice)).await;
    assert_eq!((status, text.as_str()), (204, ""));

    let (status, body) = app.get_json(&path).await;
    assert_eq!((status, body), (404, json!({"detail": "Not found."})));
    let (status, _, _) = app.fetch(&img).await;
    assert_eq!(status, 404, "the chat's image still serves after DELETE");

    let (status, headers, bytes) = app.fetch(&default_img(&app)).await;
    assert_eq!(status, 200);
    assert_eq!(headers[CONTENT_TYPE], "image/jpeg");
    assert!(!bytes.is_empty());
    assert_eq!(app.chat_count("books").await, 0);
}
