//! Reading chats: a room's list paged over 250 chats (`next`, `previous`,
//! bad page numbers), empty rooms, and one chat by room and id.

use crate::common::*;

use serde_json::{json, Value};

use crate::{assert_chat, Img};

fn titles(page: &Value) -> Vec<String> {
    page["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|chat| chat["title"].as_str().unwrap().to_string())
        .collect()
}

fn expected_titles(range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("chat {i:03}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pagination_over_250_chats() {
    let app = spawn_app().await;
    let token = app.user("alice").await;
    // Created one after another so creation order is title order.
    for i in 0..250 {
        let title = format!("chat {i:03}");
        let (status, body) = app
            .create_chat(&token, &[("title", &title), ("room", "films")])
            .await;
        assert_eq!(status, 200, "{body}");
    }
    // Chats of other rooms are not counted.
    app.new_chat(&token, &[("title", "chat 000"), ("room", "music")])
        .await;

    let list = format!("{}/api/chat/films/", app.base);
    let (status, page1) = app.get_json("/api/chat/films/").await;
    assert_eq!(status, 200, "{page1}");
    assert_eq!(page1["count"], json!(250));
    assert_eq!(page1["next"], json!(format!("{list}?page=2")));
    assert_eq!(page1["previous"], json!(null));
    assert_eq!(titles(&page1), expected_titles(0..100));
    for chat in page1["results"].as_array().unwrap() {
        let title = chat["title"].as_str().unwrap();
        assert_chat(&app, chat, title, "films", Img::Default, "alice", None);
    }

    // Walk forward with `next`.
    let (status, page2) = send(app.client.get(page1["next"].as_str().unwrap())).await;
    assert_eq!(status, 200, "{page2}");
    assert_eq!(page2["count"], json!(250));
    assert_eq!(page2["next"], json!(format!("{list}?page=3")));
    assert_eq!(page2["previous"], json!(list));
    assert_eq!(titles(&page2), expected_titles(100..200));

    let (status, page3) = send(app.client.get(page2["next"].as_str().unwrap())).await;
    assert_eq!(status, 200, "{page3}");
    assert_eq!(page3["count"], json!(250));
    assert_eq!(page3["next"], json!(null));
    assert_eq!(page3["previous"], json!(format!("{list}?page=2")));
    assert_eq!(titles(&page3), expected_titles(200..250));

    // Ids increase across all pages (oldest first).
    let ids: Vec<i64> = [&page1, &page2, &page3]
        .iter()
        .flat_map(|page| page["results"].as_array().unwrap().clone())
        .map(|chat| chat["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids.len(), 250);
    assert!(ids.windows(2).all(|w| w[0] < w[1]));

    // And back with `previous`: the very same pages.
    let (status, back2) = send(app.client.get(page3["previous"].as_str().unwrap())).await;
    assert_eq!((status, &back2), (200, &page2));
    let (status, back1) = send(app.client.get(page2["previous"].as_str().unwrap())).await;
    assert_eq!((status, &back1), (200, &page1));

    // Explicit page numbers.
    let (status, explicit1) = app.get_json("/api/chat/films/?page=1").await;
    assert_eq!((status, &explicit1), (200, &page1));
    let (status, explicit3) = app.get_json("/api/chat/films/?page=3").await;
    assert_eq!((status, &explicit3), (200, &page3));

    for bad in ["4", "0", "abc", "-1", ""] {
        let (status, body) = app.get_json(&format!("/api/chat/films/?page={bad}")).await;
        assert_eq!(
            (status, body),
            (404, json!({"detail": "Invalid page."})),
            "page={bad}"
        );
    }

    // The other room has one page.
    let (status, body) = app.get_json("/api/chat/music/").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["count"], json!(1));
    assert_eq!(body["next"], json!(null));
    assert_eq!(body["previous"], json!(null));
}

#[tokio::test]
async fn empty_room_lists_nothing() {
    let app = spawn_app().await;
    for room in ["films", "music", "books", "games"] {
        let (status, body) = app.get_json(&format!("/api/chat/{room}/")).await;
        assert_eq!(
            (status, body),
            (
                200,
                json!({"count": 0, "next": null, "previous": null, "results": []})
            ),
            "{room}"
        );
    }
    let (status, body) = app.get_json("/api/chat/films/?page=2").await;
    assert_eq!((status, body), (404, json!({"detail": "Invalid page."})));
}

#[tokio::test]
async fn get_one_chat() {
    let app = spawn_app().await;
    let token = app.user("alice").await;
    let chat = app
        .new_chat(
            &token,
            &[
                ("title", "Dune"),
                ("room", "books"),
                ("description", "Spice"),
            ],
        )
        .await;
    let id = chat["id"].as_i64().unwrap();

    // Anyone may read.
    let (status, body) = app.get_json(&format!("/api/chat/books/{id}/")).await;
    assert_eq!((status, &body), (200, &chat));
    assert_chat(
        &app,
        &body,
        "Dune",
        "books",
        Img::Default,
        "alice",
        Some("Spice"),
    );

    let (status, body) = app.get_json(&format!("/api/chat/movie/{id}/")).await;
    assert_eq!((status, body), (400, json!({"Error": "wrong room"})));

    let (status, body) = app.get_json(&format!("/api/chat/films/{id}/")).await;
    assert_eq!((status, body), (404, json!({"detail": "Not found."})));

    for unknown in [id + 1000, 0, 999_999_999] {
        let (status, body) = app.get_json(&format!("/api/chat/books/{unknown}/")).await;
        assert_eq!(
            (status, body),
            (404, json!({"detail": "Not found."})),
            "{unknown}"
        );
    }
    let (status, body) = app.get_json("/api/chat/books/abc/").await;
    assert_eq!((status, body), (404, json!({"detail": "Not found."})));
}
