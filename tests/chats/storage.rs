//! What the store keeps: exactly one chat from 50 concurrent creates of
//! one title, all 50 of different titles, and everything across a restart.

use crate::common::*;

use std::sync::Arc;

use reqwest::header::CONTENT_TYPE;
use serde_json::{json, Value};

use crate::{assert_chat, create_with_image, default_img, Img, UNIQUE};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_creates_of_one_title_give_exactly_one_chat() {
    let app = spawn_app().await;
    let token = app.user("alice").await;
    let barrier = Arc::new(tokio::sync::Barrier::new(50));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let client = app.client.clone();
        let url = app.url("/api/chat/");
        let token = token.clone();
        let barrier = barrier.clone();
        tasks.spawn(async move {
            barrier.wait().await;
            let response = client
                .post(url)
                .bearer_auth(token)
                .form(&[("title", "Race"), ("room", "films")])
                .send()
                .await
                .unwrap();
            json_of(response).await
        });
    }
    let mut ok = Vec::new();
    let mut unique = 0;
    while let Some(result) = tasks.join_next().await {
        let (status, body) = result.unwrap();
        match status {
            200 => ok.push(body),
            400 => {
                assert_eq!(body, json!({"non_field_errors": [UNIQUE]}));
                unique += 1;
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!((ok.len(), unique), (1, 49));
    assert_chat(
        &app,
        &ok[0]["chat"],
        "Race",
        "films",
        Img::Default,
        "alice",
        None,
    );
    let (status, body) = app.get_json("/api/chat/films/").await;
    assert_eq!(
        (status, body),
        (
            200,
            json!({"count": 1, "next": null, "previous": null, "results": [ok[0]["chat"]]})
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_creates_of_different_titles_all_succeed() {
    let app = spawn_app().await;
    let token = app.user("alice").await;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..50 {
        let client = app.client.clone();
        let url = app.url("/api/chat/");
        let token = token.clone();
        tasks.spawn(async move {
            let title = format!("parallel {i}");
            let response = client
                .post(url)
                .bearer_auth(token)
                .form(&[("title", title.as_str()), ("room", "games")])
                .send()
                .await
                .unwrap();
            json_of(response).await
        });
    }
    let mut ids = std::collections::BTreeSet::new();
    while let Some(result) = tasks.join_next().await {
        let (status, body) = result.unwrap();
        assert_eq!(status, 200, "{body}");
        ids.insert(body["chat"]["id"].as_i64().unwrap());
    }
    assert_eq!(ids.len(), 50);
    assert_eq!(app.chat_count("games").await, 50);
}

#[tokio::test]
async fn restart_keeps_users_chats_and_files() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    app.user("bob").await;
    let png = fixture("red.png");
    let (status, body) = create_with_image(
        &app,
        &alice,
        &[
            ("title", "Dune"),
            ("room", "books"),
            ("description", "Spice"),
        ],
        png.clone(),
        "d.png",
        "image/png",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let with_image = body["chat"].clone();
    let plain = app
        .new_chat(&alice, &[("title", "Plain"), ("room", "books")])
        .await;
    let old_base = app.base.clone();
    let (status, list_before) = app.get_json("/api/chat/books/").await;
    assert_eq!(status, 200);

    let app = app.restart().await;
    // Absolute URLs follow the request's host (the port may differ).
    let rebase = |chat: &Value| {
        let mut chat = chat.clone();
        let img = chat["img"]
            .as_str()
            .unwrap()
            .replacen(&old_base, &app.base, 1);
        chat["img"] = json!(img);
        chat
    };

    // Users: both can log in, and the old access token still works.
    app.login("alice").await;
    app.login("bob").await;
    let (status, body) = app
        .create_chat(&alice, &[("title", "After"), ("room", "books")])
        .await;
    assert_eq!(status, 200, "{body}");
    assert_chat(
        &app,
        &body["chat"],
        "After",
        "books",
        Img::Default,
        "alice",
        None,
    );
    assert!(body["chat"]["id"].as_i64() > plain["id"].as_i64());

    // Chats.
    for chat in [&with_image, &plain] {
        let (status, stored) = app
            .get_json(&format!("/api/chat/books/{}/", chat["id"]))
            .await;
        assert_eq!((status, stored), (200, rebase(chat)));
    }
    let mut expected_list = list_before.clone();
    expected_list["results"] = json!([rebase(&with_image), rebase(&plain), body["chat"]]);
    expected_list["count"] = json!(3);
    let (status, list_after) = app.get_json("/api/chat/books/").await;
    assert_eq!((status, list_after), (200, expected_list));
    // Titles are still unique.
    let (status, body) = app
        .create_chat(&alice, &[("title", "Dune"), ("room", "books")])
        .await;
    assert_eq!((status, body), (400, json!({"non_field_errors": [UNIQUE]})));

    // Files.
    let img = rebase(&with_image)["img"].as_str().unwrap().to_string();
    let (status, headers, bytes) = app.fetch(&img).await;
    assert_eq!(status, 200);
    assert_eq!(headers[CONTENT_TYPE], "image/png");
    assert_eq!(bytes, png);
    let (status, _, _) = app.fetch(&default_img(&app)).await;
    assert_eq!(status, 200);
}
