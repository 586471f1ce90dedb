//! Creating in a room given by the path (and a wrong one), creating
//! without credentials, and every chat route without its trailing slash.

use crate::common::*;

use serde_json::json;

use crate::{assert_chat, assert_unauthenticated, patch_form, Img, UNIQUE};

#[tokio::test]
async fn create_in_room_from_path() {
    let app = spawn_app().await;
    let token = app.user("alice").await;
    let (status, body) = send(
        app.client
            .post(app.url("/api/chat/books/"))
            .bearer_auth(&token)
            .form(&[("title", "Dune"), ("description", "Spice")]),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body.as_object().unwrap().len(), 1, "{body}");
    let id = assert_chat(
        &app,
        &body["chat"],
        "Dune",
        "books",
        Img::Default,
        "alice",
        Some("Spice"),
    );
    let (status, stored) = app.get_json(&format!("/api/chat/books/{id}/")).await;
    assert_eq!((status, &stored), (200, &body["chat"]));

    // The same title again in that room is a unique-set error.
    let (status, body) = send(
        app.client
            .post(app.url("/api/chat/books/"))
            .bearer_auth(&token)
            .form(&[("title", "Dune")]),
    )
    .await;
    assert_eq!((status, body), (400, json!({"non_field_errors": [UNIQUE]})));

    // Missing title: only the title is reported (the room comes from the path).
    let (status, body) = send(
        app.client
            .post(app.url("/api/chat/games/"))
            .bearer_auth(&token)
            .form(&[("description", "x")]),
    )
    .await;
    assert_eq!(
        (status, body),
        (400, json!({"title": ["This field is required."]}))
    );
}

#[tokio::test]
async fn create_in_wrong_room_from_path() {
    let app = spawn_app().await;
    let token = app.user("alice").await;
    for path in ["/api/chat/movie/", "/api/chat/movie"] {
        let (status, body) = send(
            app.client
                .post(app.url(path))
                .bearer_auth(&token)
                .form(&[("title", "Dune")]),
        )
        .await;
        assert_eq!(
            (status, body),
            (400, json!({"Error": "wrong room"})),
            "{path}"
        );
    }
    for room in ["films", "music", "books", "games"] {
        assert_eq!(app.chat_count(room).await, 0);
    }
}

#[tokio::test]
async fn create_without_credentials_is_401() {
    let app = spawn_app().await;
    for path in ["/api/chat/", "/api/chat/films/"] {
        let (status, headers, body) = send_with_headers(
            app.client
                .post(app.url(path))
                .form(&[("title", "Dune"), ("room", "films")]),
        )
        .await;
        assert_unauthenticated(status, &headers, &body);
    }
    let (status, headers, body) = send_with_headers(
        app.client
            .post(app.url("/api/chat/"))
            .bearer_auth("not-a-token")
            .form(&[("title", "Dune"), ("room", "films")]),
    )
    .await;
    assert_eq!(
        (status, body),
        (
            401,
            json!({
                "detail": "Given token not valid for any token type",
                "code": "token_not_valid"
            })
        )
    );
    assert_eq!(headers["www-authenticate"], "Bearer realm=\"api\"");
    assert_eq!(app.chat_count("films").await, 0);
}

#[tokio::test]
async fn paths_without_trailing_slash_work() {
    let app = spawn_app().await;
    let token = app.user("alice").await;

    let (status, body) = send(
        app.client
            .post(app.url("/api/chat"))
            .bearer_auth(&token)
            .form(&[("title", "One"), ("room", "games")]),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let one = body["chat"].clone();
    assert_chat(&app, &one, "One", "games", Img::Default, "alice", None);

    let (status, body) = send(
        app.client
            .post(app.url("/api/chat/games"))
            .bearer_auth(&token)
            .form(&[("title", "Two")]),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let two = body["chat"].clone();
    assert_chat(&app, &two, "Two", "games", Img::Default, "alice", None);

    let (status, body) = app.get_json("/api/chat/games").await;
    assert_eq!(
        (status, body),
        (
            200,
            json!({"count": 2, "next": null, "previous": null, "results": [one, two]})
        )
    );

    let path = format!("/api/chat/games/{}", one["id"]);
    let (status, body) = app.get_json(&path).await;
    assert_eq!((status, body), (200, one.clone()));

    let (status, body) = patch_form(&app, &token, &path, &[("description", "new")]).await;
    let mut expected = one.clone();
    expected["description"] = json!("new");
    assert_eq!((status, body), (200, expected));

    let (status, text) = send_raw(app.client.delete(app.url(&path)).bearer_auth(&token)).await;
    assert_eq!((status, text.as_str()), (204, ""));
    let (status, body) = app.get_json(&path).await;
    assert_eq!((status, body), (404, json!({"detail": "Not found."})));
}
