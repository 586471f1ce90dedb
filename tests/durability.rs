//! Durability of the real binary: SIGKILL mid-stream loses no acknowledged
//! message and leaves an intact database; SIGTERM closes sockets with 1001,
//! commits what was sent, and exits 0.

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

/// Registers a writer and creates a books chat; returns the chat's id and
/// its socket URL with the writer's token.
async fn setup(server: &Chatd) -> (i64, String) {
    let token = server.api.user("writer").await;
    let chat = server.api.new_chat_id(&token, "books", "Durable").await;
    let url = server.api.ws_url("books", chat, &format!("token={token}"));
    (chat, url)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_stream_loses_no_acknowledged_message() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = start_binary(dir.path());
    let (chat, url) = setup(&server).await;
    let socket = connect(&url).await;
    let (mut sink, mut stream) = socket.split();

    // Send steadily until the server dies.
    let sender = tokio::spawn(async move {
        for n in 0..100_000 {
            let frame = json!({"type": "message", "text": format!("message {n}"), "nonce": n});
            if sink.send(Message::text(frame.to_string())).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    });
    // Record every acknowledged (broadcast) message; kill after 200 of them.
    let mut acknowledged = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(Ok(frame)) = stream.next().await {
            let Message::Text(text) = frame else { continue };
            let value: Value = serde_json::from_str(&text).unwrap();
            if value["type"] == "message" {
                acknowledged.push((
                    value["message"]["id"].as_i64().unwrap(),
                    value["message"]["text"].clone(),
                ));
                if acknowledged.len() == 200 {
                    server.child.kill().unwrap(); // SIGKILL
                    server.child.wait().unwrap();
                }
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the socket did not end after SIGKILL");
    sender.abort();
    assert!(
        acknowledged.len() >= 200,
        "only {} acknowledged",
        acknowledged.len()
    );

    let mut restarted = start_binary(dir.path());
    let stored: Vec<(i64, Value)> = restarted
        .api
        .all_messages("books", chat)
        .await
        .iter()
        .map(|m| (m["id"].as_i64().unwrap(), m["text"].clone()))
        .collect();
    for message in &acknowledged {
        assert!(
            stored.contains(message),
            "acknowledged {message:?} is missing after SIGKILL"
        );
    }
    let conn = rusqlite::Connection::open(dir.path().join("chat.db")).unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    restarted.child.kill().unwrap();
    restarted.child.wait().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_closes_sockets_with_1001_keeps_messages_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = start_binary(dir.path());
    let (chat, url) = setup(&server).await;
    let mut socket = connect(&url).await;
    for n in 0..20 {
        let frame = json!({"type": "message", "text": format!("before shutdown {n}")});
        socket.send(Message::text(frame.to_string())).await.unwrap();
    }
    // Wait for the hello and the 20 acknowledgements, then stop the server.
    let mut acknowledged = 0;
    while acknowledged < 20 {
        let frame = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        if let Message::Text(text) = frame {
            if serde_json::from_str::<Value>(&text).unwrap()["type"] == "message" {
                acknowledged += 1;
            }
        }
    }
    let status = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let close_code = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(frame) = socket.next().await {
            if let Ok(Message::Close(Some(close))) = frame {
                return Some(u16::from(close.code));
            }
        }
        None
    })
    .await
    .unwrap();
    assert_eq!(close_code, Some(1001));
    let exit = server.child.wait().unwrap();
    assert_eq!(exit.code(), Some(0), "{exit:?}");

    let mut restarted = start_binary(dir.path());
    let texts: Vec<String> = restarted
        .api
        .all_messages("books", chat)
        .await
        .iter()
        .map(|m| m["text"].as_str().unwrap().to_string())
        .collect();
    let expected: Vec<String> = (0..20).map(|n| format!("before shutdown {n}")).collect();
    assert_eq!(texts, expected);
    restarted.child.kill().unwrap();
    restarted.child.wait().unwrap();
}

/// The WAL is reused while messages keep coming: the writer checkpoints in
/// its quiet moments, so SQLite starts the file over instead of growing it
/// (a growing WAL makes every commit wait for the file system's journal).
/// 1,500 messages over 6 s write ~15 MB of WAL frames; without restarts
/// the file grows to that, with them it stays near one second's worth.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wal_is_reused_while_messages_keep_coming() {
    let app = spawn_app_with(|config| {
        config.ws.burst = 2000;
        config.ws.rate_per_sec = 2000.0;
    })
    .await;
    let token = app.user("steady").await;
    let chat = app.new_chat_id(&token, "books", "Steady").await;
    let mut ws = connect(&app.ws_url("books", chat, &format!("token={token}"))).await;
    next_json(&mut ws).await; // hello
    let wal = test_config(&app.data_dir())
        .db_path()
        .with_extension("db-wal");
    let mut largest = 0;
    let mut ticks = tokio::time::interval(Duration::from_millis(4));
    for n in 0..1500 {
        ticks.tick().await;
        post(&mut ws, &format!("steady {n}"), &n.to_string()).await;
        if n % 50 == 0 {
            largest = largest.max(std::fs::metadata(&wal).map_or(0, |m| m.len()));
        }
    }
    let mut acknowledged = 0;
    while acknowledged < 1500 {
        if next_non_presence(&mut ws).await["type"] == "message" {
            acknowledged += 1;
        }
    }
    largest = largest.max(std::fs::metadata(&wal).unwrap().len());
    assert!(
        largest < 8 << 20,
        "the WAL grew to {largest} bytes for 1,500 messages"
    );
}

/// REST writes that wait together are committed together (one transaction
/// on the write thread), each one still its own: duplicates in the same
/// burst are refused one by one, and whatever was acknowledged before a
/// SIGKILL is there after the restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_writes_committed_together_stay_separate_and_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = start_binary(dir.path());
    let token = server.api.user("maker").await;

    let burst = (0..40).map(|i| {
        let api = &server.api;
        let token = &token;
        async move {
            let title = if i < 10 {
                "Same".to_string()
            } else {
                format!("Chat {i}")
            };
            api.create_chat(token, &[("title", &title), ("room", "books")])
                .await
        }
    });
    let answers = futures_util::future::join_all(burst).await;
    let refused = json!({"non_field_errors": ["The fields room, title must make a unique set."]});
    let created = answers.iter().filter(|(status, _)| *status == 200).count();
    let duplicates: Vec<_> = answers
        .iter()
        .filter(|(status, _)| *status != 200)
        .collect();
    assert_eq!(created, 31, "{answers:?}");
    assert_eq!(duplicates.len(), 9);
    for (status, body) in duplicates {
        assert_eq!((*status, body), (400, &refused));
    }
    assert_eq!(server.api.chat_count("books").await, 31);

    // Creates under way when the server is killed.
    let api = server.api.clone();
    let maker = token.clone();
    let (acked_tx, mut acked_rx) = tokio::sync::mpsc::unbounded_channel();
    let writers: Vec<_> = (0..8)
        .map(|w| {
            let (api, token, acked) = (api.clone(), maker.clone(), acked_tx.clone());
            tokio::spawn(async move {
                for n in 0.. {
                    let title = format!("Kill {w}-{n}");
                    let fields = [("title", title.as_str()), ("room", "games")];
                    let request = api.client.post(api.url("/api/chat/")).bearer_auth(&token);
                    // The kill ends the connection: not acknowledged.
                    match request.form(&fields).send().await {
                        Ok(response) if response.status() == 200 => acked.send(title).unwrap(),
                        _ => break,
                    }
                }
            })
        })
        .collect();
    drop(acked_tx);
    tokio::time::sleep(Duration::from_millis(400)).await;
    server.child.kill().unwrap(); // SIGKILL
    server.child.wait().unwrap();
    for writer in writers {
        writer.await.unwrap();
    }
    let mut acknowledged = Vec::new();
    while let Some(title) = acked_rx.recv().await {
        acknowledged.push(title);
    }
    assert!(
        acknowledged.len() >= 20,
        "only {} acknowledged",
        acknowledged.len()
    );

    let mut restarted = start_binary(dir.path());
    let mut stored = std::collections::HashSet::new();
    let mut page = 1;
    loop {
        let body = restarted
            .api
            .get_ok(&format!("/api/chat/games/?page={page}"))
            .await;
        for chat in results(&body) {
            stored.insert(chat["title"].as_str().unwrap().to_string());
        }
        if body["next"].is_null() {
            break;
        }
        page += 1;
    }
    for title in &acknowledged {
        assert!(
            stored.contains(title),
            "acknowledged {title} is missing after SIGKILL"
        );
    }
    restarted.child.kill().unwrap();
    restarted.child.wait().unwrap();
}

/// SQLite is built to sync with `fdatasync` (`.cargo/config.toml`): a
/// plain `fsync` also writes the file's new mtime, a journal commit per
/// message commit on ext4. Traced with strace, which `.ci/run` installs;
/// without it this test fails rather than passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commits_sync_with_fdatasync_not_fsync() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // A database to write to, made by a server run.
    drop(start_binary(&data));
    let trace = dir.path().join("trace");
    let output = Command::new("strace")
        .args(["-f", "-qq", "-e", "trace=fsync,fdatasync", "-o"])
        .arg(&trace)
        .arg(env!("CARGO_BIN_EXE_chatd"))
        .args(["user", "create", "opal", "--email", "opal@example.com"])
        .arg("--data-dir")
        .arg(&data)
        .env("CHATD_USER_PASSWORD", PASSWORD)
        .output()
        .expect(
            "this test needs strace: install it with `apt-get install strace`, or skip \
             this test knowingly with `cargo test -- --skip commits_sync_with_fdatasync`",
        );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let trace = std::fs::read_to_string(&trace).unwrap();
    // Lines look like `1234  fdatasync(5) = 0`.
    let calls = |name: &str| {
        let call = format!("{name}(");
        trace
            .lines()
            .filter(|line| {
                line.split_whitespace()
                    .nth(1)
                    .is_some_and(|c| c.starts_with(&call))
            })
            .count()
    };
    assert!(calls("fdatasync") > 0, "no fdatasync in:\n{trace}");
    assert_eq!(calls("fsync"), 0, "fsync in:\n{trace}");
}
