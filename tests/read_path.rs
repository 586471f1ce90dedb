//! The read path: list and history pages are served from a cache of
//! rendered pages, so every write (REST or WebSocket, by any client) must
//! show in the very next GET of every page it changes, under any `Host`
//! and under `--public-url`, and the cache must stay within its budget.

mod common;
use common::*;

use serde_json::{json, Value};

const HOSTS: [&str; 2] = ["one.example:8080", "two.example"];

/// `GET path` with `Host: host`: the JSON body (must be 200).
async fn get_as(app: &TestApp, host: &str, path: &str) -> Value {
    let request = app.client.get(app.url(path)).header("host", host);
    let (status, body) = send(request).await;
    assert_eq!(status, 200, "GET {path} as {host}: {body}");
    body
}

/// Every page a write to `chat` of films may change, under every host,
/// read twice (so the second read is a cache hit when nothing changed).
async fn read_all(app: &TestApp, chat: i64) -> Vec<(String, String, Value)> {
    let mut pages = Vec::new();
    for path in [
        "/api/chat/films/".to_string(),
        format!("/api/chat/films/{chat}/messages/"),
        format!("/api/chat/films/{chat}/messages/?after=0"),
    ] {
        for host in HOSTS {
            let first = get_as(app, host, &path).await;
            assert_eq!(get_as(app, host, &path).await, first, "{path} as {host}");
            pages.push((host.to_string(), path.clone(), first));
        }
    }
    pages
}

fn chat_in(list: &Value, id: i64) -> Option<&Value> {
    list["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
}

fn texts(history: &Value) -> Vec<String> {
    results(history)
        .iter()
        .map(|m| m["text"].as_str().unwrap().to_string())
        .collect()
}

/// The pages of `chat` under `host`, as [`read_all`] returned them.
fn pages_of(pages: &[(String, String, Value)], host: &str) -> (Value, Value, Value) {
    let mine: Vec<&Value> = pages
        .iter()
        .filter(|(h, _, _)| h == host)
        .map(|(_, _, v)| v)
        .collect();
    (mine[0].clone(), mine[1].clone(), mine[2].clone())
}

#[tokio::test]
async fn every_write_shows_in_the_very_next_get_of_every_page() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let chat = app.new_chat_id(&alice, "films", "Heat").await;
    read_all(&app, chat).await;

    // A chat created by another user is in the next list.
    let other = app.new_chat_id(&bob, "films", "Ronin").await;
    for (_, path, page) in read_all(&app, chat).await {
        if path == "/api/chat/films/" {
            assert_eq!(page["count"], 2);
            assert!(chat_in(&page, other).is_some(), "{page}");
        }
    }

    // A PATCH of the description.
    let (status, body) = send(
        app.client
            .patch(app.url(&format!("/api/chat/films/{chat}/")))
            .bearer_auth(&alice)
            .form(&[("description", "changed")]),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    for host in HOSTS {
        let (list, _, _) = pages_of(&read_all(&app, chat).await, host);
        assert_eq!(chat_in(&list, chat).unwrap()["description"], "changed");
    }

    // A message over another client's socket, read as soon as its echo came.
    let posted = send_message(&app, &bob, "films", chat, "first").await;
    let id = posted["id"].as_i64().unwrap();
    for host in HOSTS {
        let (_, history, after) = pages_of(&read_all(&app, chat).await, host);
        assert_eq!(texts(&history), ["first"]);
        assert_eq!(texts(&after), ["first"]);
    }

    // A WebSocket edit, seen by a socket of another user.
    let mut watcher = connect(&app.ws_url("films", chat, &format!("token={alice}"))).await;
    assert_eq!(next_json(&mut watcher).await["type"], "hello");
    let mut ws = connect(&app.ws_url("films", chat, &format!("token={bob}"))).await;
    send_json(&mut ws, json!({"type": "edit", "id": id, "text": "edited"})).await;
    loop {
        let frame = next_non_presence(&mut watcher).await;
        if frame["type"] == "message_edited" {
            break;
        }
    }
    let (_, history, _) = pages_of(&read_all(&app, chat).await, HOSTS[0]);
    assert_eq!(texts(&history), ["edited"]);

    // A REST edit and a REST delete, answered after the pages expired.
    let path = format!("/api/chat/films/{chat}/messages/{id}/");
    let edit = app.client.patch(app.url(&path)).bearer_auth(&bob);
    let (status, body) = send(edit.form(&[("text", "again")])).await;
    assert_eq!(status, 200, "{body}");
    let (_, history, _) = pages_of(&read_all(&app, chat).await, HOSTS[1]);
    assert_eq!(texts(&history), ["again"]);
    let (status, _) = send_raw(app.client.delete(app.url(&path)).bearer_auth(&bob)).await;
    assert_eq!(status, 204);
    let (_, history, after) = pages_of(&read_all(&app, chat).await, HOSTS[0]);
    assert_eq!(results(&history)[0]["is_deleted"], true);
    assert_eq!(results(&after)[0]["is_deleted"], true);

    // An avatar shows on every message of its user, with each host's links.
    send_message(&app, &bob, "films", chat, "second").await;
    read_all(&app, chat).await;
    let form = file_form(&[], "avatar", fixture("red.png"), "red.png", "image/png");
    let put = app.client.put(app.url("/api/profile/avatar/"));
    let (status, body) = send(put.bearer_auth(&bob).multipart(form)).await;
    assert_eq!(status, 200, "{body}");
    for host in HOSTS {
        let (_, history, _) = pages_of(&read_all(&app, chat).await, host);
        let avatar = results(&history)[1]["user_avatar"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(
            avatar.starts_with(&format!("http://{host}/media/avatars/")),
            "{avatar}"
        );
    }

    // Deleting bob takes his chat and his messages out of every page.
    let (status, _) = send_raw(app.client.delete(app.url("/api/user/")).bearer_auth(&bob)).await;
    assert_eq!(status, 204);
    for host in HOSTS {
        let (list, history, _) = pages_of(&read_all(&app, chat).await, host);
        assert_eq!(list["count"], 1, "{list}");
        assert!(chat_in(&list, other).is_none());
        assert_eq!(history["count"], 0, "{history}");
    }

    // Deleting the chat: its history is a 404 at once, the list shrinks.
    let (status, _) = send_raw(
        app.client
            .delete(app.url(&format!("/api/chat/films/{chat}/")))
            .bearer_auth(&alice),
    )
    .await;
    assert_eq!(status, 204);
    for host in HOSTS {
        let path = format!("/api/chat/films/{chat}/messages/");
        let request = app.client.get(app.url(&path)).header("host", host);
        assert_eq!(send(request).await, (404, not_found()));
        assert_eq!(get_as(&app, host, "/api/chat/films/").await["count"], 0);
    }
}

#[tokio::test]
async fn pages_under_another_host_link_to_that_host() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    app.new_chat_id(&alice, "films", "Heat").await;
    for host in HOSTS {
        let list = get_as(&app, host, "/api/chat/films/").await;
        let img = results(&list)[0]["img"].as_str().unwrap().to_string();
        assert!(img.starts_with(&format!("http://{host}/media/")), "{img}");
    }
}

#[tokio::test]
async fn under_a_public_url_every_page_links_to_it_and_sees_every_write() {
    let public = "https://chat.example.org";
    let app = spawn_app_with(|c| c.public_url = Some(public.into())).await;
    let alice = app.user("alice").await;
    let chat = app.new_chat_id(&alice, "films", "Heat").await;
    for round in 0..3 {
        send_message(&app, &alice, "films", chat, &format!("m{round}")).await;
        for host in HOSTS {
            let history = get_as(&app, host, &format!("/api/chat/films/{chat}/messages/")).await;
            assert_eq!(history["count"], round + 1, "{history}");
            let list = get_as(&app, host, "/api/chat/films/?page=1").await;
            let img = results(&list)[0]["img"].as_str().unwrap().to_string();
            assert!(img.starts_with(public), "{img}");
            assert_eq!(list["next"], Value::Null);
        }
    }
}

/// Readers hammer a page while messages are posted: a page read before a
/// commit must never be kept and served after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_read_during_a_write_is_not_served_after_it() {
    let app = spawn_app_with(|c| {
        c.ws.rate_per_sec = 10_000.0;
        c.ws.burst = 10_000;
    })
    .await;
    let alice = app.user("alice").await;
    let chat = app.new_chat_id(&alice, "films", "Heat").await;
    let path = format!("/api/chat/films/{chat}/messages/");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut readers = Vec::new();
    for _ in 0..4 {
        let (client, url, stop) = (app.client.clone(), app.url(&path), stop.clone());
        readers.push(tokio::spawn(async move {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                client
                    .get(&url)
                    .send()
                    .await
                    .unwrap()
                    .bytes()
                    .await
                    .unwrap();
            }
        }));
    }
    let mut ws = connect(&app.ws_url("films", chat, &format!("token={alice}"))).await;
    for n in 1..=60 {
        post_and_wait(&mut ws, &format!("m{n}"), &format!("n{n}")).await;
        assert_eq!(app.history("films", chat, "").await["count"], n);
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for reader in readers {
        reader.await.unwrap();
    }
}

#[tokio::test]
async fn the_page_cache_stays_within_its_budget() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    for n in 0..100 {
        app.new_chat_id(&alice, "films", &format!("chat {n}")).await;
    }
    let pages = app.server.as_ref().unwrap().pages();
    let page = app
        .get("/api/chat/films/")
        .await
        .bytes()
        .await
        .unwrap()
        .len();
    assert!(page > 15_000, "a full page is {page} bytes");
    // Distinct query strings are distinct pages: enough to fill the budget
    // more than twice over.
    let many = 2 * chatd::http::cache::BUDGET / page + 10;
    for n in 0..many {
        app.get_ok(&format!("/api/chat/films/?n={n}")).await;
        assert!(pages.bytes() <= chatd::http::cache::BUDGET);
    }
    assert!(
        pages.bytes() > chatd::http::cache::BUDGET / 2,
        "{}",
        pages.bytes()
    );
    assert!(pages.len() < many);
}

/// `chatd user delete` while the server runs writes from another
/// connection; the watcher expires the cached pages within a second.
#[tokio::test]
async fn a_write_by_another_process_shows_within_a_second() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    app.new_chat_id(&alice, "films", "Heat").await;
    app.new_chat_id(&bob, "films", "Ronin").await;
    assert_eq!(app.chat_count("films").await, 2);
    chatd::ops::users::delete_user(&app.data_dir(), "bob").unwrap();
    let started = std::time::Instant::now();
    while app.chat_count("films").await != 1 {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(2),
            "still cached"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
