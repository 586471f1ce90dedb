//! The seed document's list and PATCH examples, and their errors (wrong
//! room, not the owner, description too long).

use crate::common::*;

use serde_json::json;

use crate::{assert_chat, create_with_image, patch_form, Img, DESCRIPTION_TOO_LONG};

#[tokio::test]
async fn seed_list_example() {
    let app = spawn_app().await;
    let user1 = app.user("user1").await;
    let user2 = app.user("user2").await;
    let jpeg = fixture("red.jpg");
    let png = fixture("red.png");

    let (status, first) = create_with_image(
        &app,
        &user1,
        &[
            ("title", "Harry Potter characters"),
            ("room", "films"),
            ("description", "Who is your favorite character?"),
        ],
        jpeg,
        "Hurry.jpg",
        "image/jpeg",
    )
    .await;
    assert_eq!(status, 200, "{first}");
    let (status, second) = create_with_image(
        &app,
        &user2,
        &[
            ("title", "The Lord of the Rings films"),
            ("room", "films"),
            ("description", "Which film is the best in the series?"),
        ],
        png,
        "frodo.png",
        "image/png",
    )
    .await;
    assert_eq!(status, 200, "{second}");
    let third = app
        .new_chat(&user1, &[("title", "Friends"), ("room", "films")])
        .await;
    // A chat of another room is not listed.
    app.new_chat(&user2, &[("title", "Imagine Dragons"), ("room", "music")])
        .await;

    let (status, body) = app.get_json("/api/chat/films/").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({
            "count": 3,
            "next": null,
            "previous": null,
            "results": [first["chat"], second["chat"], third]
        })
    );
    let results = body["results"].as_array().unwrap();
    assert_chat(
        &app,
        &results[0],
        "Harry Potter characters",
        "films",
        Img::Uploaded("jpg"),
        "user1",
        Some("Who is your favorite character?"),
    );
    assert_chat(
        &app,
        &results[1],
        "The Lord of the Rings films",
        "films",
        Img::Uploaded("png"),
        "user2",
        Some("Which film is the best in the series?"),
    );
    assert_chat(
        &app,
        &results[2],
        "Friends",
        "films",
        Img::Default,
        "user1",
        None,
    );
    // Oldest first.
    let ids: Vec<i64> = results.iter().map(|c| c["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    let stamps: Vec<&str> = results
        .iter()
        .map(|c| c["timestamp"].as_str().unwrap())
        .collect();
    assert!(stamps.windows(2).all(|w| w[0] <= w[1]), "{stamps:?}");
}

#[tokio::test]
async fn seed_list_error_wrong_room() {
    let app = spawn_app().await;
    for path in ["/api/chat/movie/", "/api/chat/Films/", "/api/chat/movie"] {
        let (status, body) = app.get_json(path).await;
        assert_eq!(
            (status, body),
            (400, json!({"Error": "wrong room"})),
            "{path}"
        );
    }
}

#[tokio::test]
async fn seed_patch_description() {
    let app = spawn_app().await;
    let leslie = app.user("Leslie").await;
    let (status, body) = create_with_image(
        &app,
        &leslie,
        &[("title", "Imagine Dragons"), ("room", "music")],
        fixture("red.jpg"),
        "file.jpg",
        "image/jpeg",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let before = body["chat"].clone();
    let id = before["id"].as_i64().unwrap();
    let path = format!("/api/chat/music/{id}/");

    let (status, after) =
        patch_form(&app, &leslie, &path, &[("description", "Chat description")]).await;
    assert_eq!(status, 200, "{after}");
    let mut expected = before.clone();
    expected["description"] = json!("Chat description");
    assert_eq!(after, expected);
    assert_chat(
        &app,
        &after,
        "Imagine Dragons",
        "music",
        Img::Uploaded("jpg"),
        "Leslie",
        Some("Chat description"),
    );
    let (status, stored) = app.get_json(&path).await;
    assert_eq!((status, stored), (200, expected));
}

#[tokio::test]
async fn seed_patch_error_not_the_owner() {
    let app = spawn_app().await;
    let leslie = app.user("Leslie").await;
    let other = app.user("mallory").await;
    let chat = app
        .new_chat(&leslie, &[("title", "Imagine Dragons"), ("room", "music")])
        .await;
    let path = format!("/api/chat/music/{}/", chat["id"]);
    let (status, body) =
        patch_form(&app, &other, &path, &[("description", "Chat description")]).await;
    assert_eq!((status, body), (403, json!({"detail": FORBIDDEN})));
    let (status, stored) = app.get_json(&path).await;
    assert_eq!((status, stored), (200, chat));
}

#[tokio::test]
async fn seed_patch_error_description_too_long() {
    let app = spawn_app().await;
    let leslie = app.user("Leslie").await;
    let chat = app
        .new_chat(
            &leslie,
            &[
                ("title", "Imagine Dragons"),
                ("room", "music"),
                ("description", "old"),
            ],
        )
        .await;
    let path = format!("/api/chat/music/{}/", chat["id"]);
    let long = "d".repeat(401);
    let (status, body) = patch_form(&app, &leslie, &path, &[("description", &long)]).await;
    assert_eq!(
        (status, body),
        (400, json!({"description": [DESCRIPTION_TOO_LONG]}))
    );
    let (status, stored) = app.get_json(&path).await;
    assert_eq!((status, stored), (200, chat));
    // Exactly 400 is fine.
    let max = "d".repeat(400);
    let (status, body) = patch_form(&app, &leslie, &path, &[("description", &max)]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["description"], json!(max));
}
