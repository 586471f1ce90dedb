//! Testers and demos: throwaway instances, demo seeding, periodic reset.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common::*;

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
        assert_eq!(read_url_file(url_file).await, format!("{url}\n"));
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

/// The text of a `--print-url-file`, once there: chatd prints the URL
/// first and writes the file just after, so a reader may have to wait.
async fn read_url_file(path: &std::path::Path) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        match std::fs::read_to_string(path) {
            Ok(text) => return text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                assert!(
                    std::time::Instant::now() < deadline,
                    "{} was never written",
                    path.display()
                );
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            Err(e) => panic!("{}: {e}", path.display()),
        }
    }
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
    // Four users who write, and one staff user.
    assert_eq!((first.users, first.chats), (5, 12));
    assert!(first.messages >= 12 * 3);
    for room in ["films", "music", "books", "games"] {
        assert_eq!(app.chat_count(room).await, 3, "{room}");
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
    let moderator = demo_login(&app, chatd::ops::demo::STAFF).await;
    let (status, user) = app.get_user(&moderator).await;
    assert_eq!((status, &user["is_staff"]), (200, &serde_json::json!(true)));
    let alice = demo_login(&app, "alice").await;
    assert_eq!(app.get_user(&alice).await.1["is_staff"], false);
    // Images are drawn PNGs, served like uploads.
    let chat = app.get_ok("/api/chat/films/1/").await;
    let img = reqwest::get(chat["img"].as_str().unwrap()).await.unwrap();
    assert_eq!(img.headers()["content-type"], "image/png");
    assert_eq!(app.history("films", 1, "").await["count"], 5);

    let again = tokio::task::spawn_blocking(move || chatd::ops::demo::seed(&server_app))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        again,
        chatd::ops::demo::Seeded::default(),
        "nothing added twice"
    );
    assert_eq!(app.chat_count("films").await, 3);
    assert_eq!(app.history("films", 1, "").await["count"], 5);
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
    let (mut socket, _) = join_url(&app.ws_url("films", 1, &format!("token={token}"))).await;
    // The demo's moderator suspends the visitor: the audit log records it.
    let moderator = demo_login(&app, chatd::ops::demo::STAFF).await;
    let request = app
        .client
        .post(app.url("/api/admin/users/visitor/suspend/"))
        .bearer_auth(&moderator)
        .json(&serde_json::json!({"reason": "spam"}));
    assert_eq!(send(request).await.0, 200);

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
    assert_eq!(close_code(&mut socket).await, 4404);
    // The demo is back under the same URLs; the visitor's things are gone.
    assert_eq!(app.chat_count("films").await, 3);
    let (status, chat) = app.get_json("/api/chat/films/1/").await;
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
    let (status, body) = app.get_user(&token).await;
    assert_eq!(status, 401, "{body}");
    // The audit log survives the reset, and the moderator is still staff.
    let request = app
        .client
        .get(app.url("/api/admin/audit/"))
        .bearer_auth(&moderator);
    let (status, audit) = send(request).await;
    assert_eq!(status, 200, "{audit}");
    let first = &audit["results"][0];
    assert_eq!(
        (
            &first["actor"],
            &first["action"],
            &first["target"],
            &first["detail"]
        ),
        (
            &serde_json::json!("moderator"),
            &serde_json::json!("user.suspend"),
            &serde_json::json!("visitor"),
            &serde_json::json!("spam")
        )
    );
}

/// Logs a demo user in with the printed password; returns the access token.
async fn demo_login(app: &TestApp, name: &str) -> String {
    let request = app.client.post(app.url("/api/token/")).form(&[
        ("username", name),
        ("password", &chatd::ops::demo::password(name)),
    ]);
    let (status, body) = send(request).await;
    assert_eq!(status, 200, "{body}");
    body["access"].as_str().unwrap().to_string()
}
