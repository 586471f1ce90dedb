//! Testers and demos: throwaway instances, demo seeding, periodic reset.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use futures_util::StreamExt;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ephemeral_instances_run_side_by_side_and_clean_up() {
    let files = tempfile::tempdir().unwrap();
    let mut children = Vec::new();
    for n in 0..3 {
        let url_file = files.path().join(format!("url-{n}"));
        let mut child = Command::new(env!("CARGO_BIN_EXE_chatd"))
            .args(["--ephemeral", "--print-url-file"])
            .arg(&url_file)
            .env("RUST_LOG", "chatd=info")
            .env_remove("CHATD_ADDR")
            .env_remove("CHATD_DATA_DIR")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // The URL alone on a line, and the data directory in the log line.
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut data_dir = None;
        let url = loop {
            let line = lines.next().expect("chatd prints its URL").unwrap();
            if let Some(rest) = line.split("(data in ").nth(1) {
                data_dir = Some(std::path::PathBuf::from(rest.trim_end_matches(')')));
            }
            if line.starts_with("http://127.0.0.1:") {
                break line;
            }
        };
        std::thread::spawn(move || for _ in lines {});
        children.push((child, url, url_file, data_dir.expect("data dir logged")));
    }
    let urls: std::collections::HashSet<&String> =
        children.iter().map(|(_, url, _, _)| url).collect();
    assert_eq!(urls.len(), 3, "each instance has its own port");
    for (_, url, url_file, data_dir) in &children {
        assert_eq!(
            std::fs::read_to_string(url_file).unwrap(),
            format!("{url}\n")
        );
        assert!(data_dir.join("chat.db").exists());
        let (status, body) = json_of(reqwest::get(format!("{url}/healthz")).await.unwrap()).await;
        assert_eq!((status, body), (200, serde_json::json!({"status": "ok"})));
    }
    for (mut child, _, _, data_dir) in children {
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert_eq!(child.wait().unwrap().code(), Some(0));
        assert!(
            !data_dir.exists(),
            "{} should be removed",
            data_dir.display()
        );
    }
}

async fn count(app: &TestApp, room: &str) -> u64 {
    let (_, body) = json_of(
        app.client
            .get(app.url(&format!("/api/chat/{room}/")))
            .send()
            .await
            .unwrap(),
    )
    .await;
    body["count"].as_u64().unwrap()
}

#[tokio::test]
async fn seeding_fills_every_room_and_is_idempotent() {
    let app = spawn_app().await;
    let server_app = app.server.as_ref().unwrap().app().clone();
    let first = {
        let a = server_app.clone();
        tokio::task::spawn_blocking(move || chatd::ops::demo::seed(&a))
            .await
            .unwrap()
            .unwrap()
    };
    assert_eq!((first.users, first.chats), (4, 12));
    assert!(first.messages >= 12 * 3);
    for room in ["films", "music", "books", "games"] {
        assert_eq!(count(&app, room).await, 3, "{room}");
    }
    // Demo users log in with the printed passwords.
    let response = app
        .client
        .post(app.url("/api/token/"))
        .form(&[
            ("username", "alice"),
            ("password", &chatd::ops::demo::password("alice")),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    // Images are drawn PNGs, served like uploads.
    let (_, chat) = json_of(
        app.client
            .get(app.url("/api/chat/films/1/"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let img = reqwest::get(chat["img"].as_str().unwrap()).await.unwrap();
    assert_eq!(img.headers()["content-type"], "image/png");
    let (_, history) = json_of(
        app.client
            .get(app.url("/api/chat/films/1/messages/"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(history["count"], 5);

    let again = tokio::task::spawn_blocking(move || chatd::ops::demo::seed(&server_app))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        again,
        chatd::ops::demo::Seeded::default(),
        "nothing added twice"
    );
    assert_eq!(count(&app, "films").await, 3);
    let (_, history) = json_of(
        app.client
            .get(app.url("/api/chat/films/1/messages/"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(history["count"], 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_restores_the_demo_and_tells_connected_sockets() {
    let app = spawn_app().await;
    let server_app = app.server.as_ref().unwrap().app().clone();
    let a = server_app.clone();
    tokio::task::spawn_blocking(move || chatd::ops::demo::seed(&a))
        .await
        .unwrap()
        .unwrap();

    // A visitor changes things: a new user, a chat, a message in a demo chat.
    let token = app.user("visitor").await;
    let (status, _) = app
        .create_chat(&token, &[("title", "Visitor chat"), ("room", "films")])
        .await;
    assert_eq!(status, 200);
    let url = format!(
        "ws://{}/chat/films/1/?token={token}",
        app.base.trim_start_matches("http://")
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let hello = next_json(&mut socket).await;
    assert_eq!(hello["type"], "hello");

    let a = server_app.clone();
    let seeded = tokio::task::spawn_blocking(move || chatd::ops::demo::reset(&a))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(seeded.chats, 12);

    assert_eq!(
        next_json(&mut socket).await,
        serde_json::json!({"type": "chat_deleted"})
    );
    let close = tokio::time::timeout(Duration::from_secs(5), socket.next())
        .await
        .unwrap();
    match close {
        Some(Ok(Message::Close(Some(frame)))) => assert_eq!(u16::from(frame.code), 4404),
        other => panic!("expected close 4404, got {other:?}"),
    }
    // The demo is back under the same URLs; the visitor's things are gone.
    assert_eq!(count(&app, "films").await, 3);
    let (status, chat) = json_of(
        app.client
            .get(app.url("/api/chat/films/1/"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, chat["title"].as_str()),
        (200, Some("Harry Potter"))
    );
    let response = app
        .client
        .post(app.url("/api/token/"))
        .form(&[("username", "visitor"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let (status, body) = json_of(
        app.client
            .get(app.url("/api/user/"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 401, "{body}");
}

async fn next_json(
    socket: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
) -> Value {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(5), socket.next())
            .await
            .expect("a frame in time")
            .expect("socket open")
            .expect("frame ok");
        if let Message::Text(text) = frame {
            return serde_json::from_str(&text).unwrap();
        }
    }
}
