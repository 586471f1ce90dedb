//! A full disk (a small tmpfs filled under load): writes are refused with
//! 507, what was acknowledged is kept, and writes work again once space is freed.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use crate::common::*;
use crate::{all_chats, big_png, record_frame, Shared, Tally, OUT_OF_SPACE};

/// A tmpfs of a given size mounted on a fresh temporary directory, unmounted
/// when dropped (lazily, so a file a server still holds open cannot stop it).
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Tmpfs {
        let dir = tempfile::tempdir().unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .expect("mount runs");
        assert!(
            status.success(),
            "cannot mount a tmpfs on {} ({status}); the fault tests need root",
            dir.path().display()
        );
        Tmpfs { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// Fills the filesystem holding `dir` with the file `dir/<name>`, then gives
/// `spare` bytes back; returns the file's path.
fn fill(dir: &Path, name: &str, spare: u64) -> PathBuf {
    let path = dir.join(name);
    let mut file = std::fs::File::create(&path).unwrap();
    let chunk = vec![0u8; 64 * 1024];
    loop {
        match file.write(&chunk) {
            Ok(0) => break,
            Ok(_) => continue,
            Err(error) if error.raw_os_error() == Some(28) => break, // ENOSPC
            Err(error) => panic!("filling {}: {error}", path.display()),
        }
    }
    let len = file.metadata().unwrap().len();
    file.set_len(len.saturating_sub(spare)).unwrap();
    path
}

/// Creates chats (every other one with a ~40 KB image) until `stop`; each
/// answer must be 200 or the documented 507.
async fn create_chats(base: String, token: String, stop: Arc<AtomicBool>, tally: Shared) {
    let api = ApiClient::new(base);
    let mut n = 0u32;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let title = format!("load {n}");
        let upload = n.is_multiple_of(2);
        let (status, body) = if upload {
            let png = big_png(n as u8);
            let form = file_form(
                &[("title", &title), ("room", "games")],
                "img",
                png,
                "x.png",
                "image/png",
            );
            api.post_multipart(&token, "/api/chat/", form).await
        } else {
            api.create_chat(&token, &[("title", &title), ("room", "games")])
                .await
        };
        {
            let mut t = tally.lock().unwrap();
            match status {
                200 => t.created.push(title),
                507 => {
                    assert_eq!(body, json!({"detail": OUT_OF_SPACE}));
                    t.refused.push(title);
                    t.refused_uploads += usize::from(upload);
                }
                _ => panic!("a create under a filling disk answered {status} {body}"),
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Waits up to `limit` until `done` holds of the tally; false if it never does.
async fn wait_until(tally: &Shared, limit: Duration, done: impl Fn(&Tally) -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while !done(&tally.lock().unwrap()) {
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_refuses_writes_keeps_what_was_acknowledged_and_recovers() {
    let fs = Tmpfs::mount("4m");
    let data = fs.path().to_path_buf();
    let mut config = test_config(&data);
    config.ws.rate_per_sec = 100_000.0;
    config.ws.burst = 100_000;
    let app = start(config, tempfile::tempdir().unwrap()).await;
    let token = app.user("filler").await;
    let chat = app.new_chat_id(&token, "books", "Filling up").await;
    let url = app.ws_url("books", chat, &format!("token={token}"));
    let (socket, _) = join_url(&url).await;
    let (mut sink, mut stream) = socket.split();

    // Leave 1 MB, then write until the disk is full.
    let filler = fill(&data, "filler", 1024 * 1024);
    let stop = Arc::new(AtomicBool::new(false));
    let tally = Shared::default();
    let creates = tokio::spawn(create_chats(
        app.base.clone(),
        token.clone(),
        stop.clone(),
        tally.clone(),
    ));
    let reader_tally = tally.clone();
    let reader = tokio::spawn(async move {
        while let Some(Ok(frame)) = stream.next().await {
            if let Message::Text(text) = frame {
                record_frame(&serde_json::from_str(&text).unwrap(), &reader_tally);
            }
        }
    });
    let text = "x".repeat(900);
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut sent = 0u64;
    loop {
        let frame = json!({"type": "message", "text": format!("{sent} {text}"), "nonce": sent});
        sink.send(Message::text(frame.to_string())).await.unwrap();
        sent += 1;
        tokio::time::sleep(Duration::from_millis(2)).await;
        let t = tally.lock().unwrap();
        if t.unavailable >= 3 && t.refused.len() >= 3 && t.refused_uploads >= 1 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the disk never filled up: {sent} sent, {} acked, {} unavailable, {} created, {} refused",
            t.acked.len(),
            t.unavailable,
            t.created.len(),
            t.refused.len()
        );
    }
    stop.store(true, Ordering::Relaxed);
    creates.await.unwrap();
    // Every message sent gets exactly one answer: stored or refused.
    let answered = wait_until(&tally, Duration::from_secs(20), |t| {
        t.acked.len() as u64 + t.unavailable as u64 == sent
    });
    assert!(
        answered.await,
        "not every message was answered: {sent} sent"
    );

    // Full: reads work, the socket is open, an upload is refused whole.
    let _still_full = fill(&data, "filler2", 0);
    assert_eq!(all_chats(&app, "books").await.len(), 1);
    app.all_messages("books", chat).await;
    sink.send(Message::text(json!({"type": "ping"}).to_string()))
        .await
        .unwrap();
    let form = file_form(
        &[("title", "too big"), ("room", "music")],
        "img",
        big_png(7),
        "x.png",
        "image/png",
    );
    let response = app
        .client
        .post(app.url("/api/chat/"))
        .bearer_auth(&token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(api(response).await, (507, json!({"detail": OUT_OF_SPACE})));
    assert_no_stray_media(&app, &data).await;

    // Space freed: writes work again, without a restart.
    std::fs::remove_file(&filler).unwrap();
    std::fs::remove_file(data.join("filler2")).unwrap();
    app.new_chat_id(&token, "music", "After the storm").await;
    let form = file_form(
        &[("title", "an image again"), ("room", "music")],
        "img",
        big_png(9),
        "x.png",
        "image/png",
    );
    assert_eq!(app.post_multipart(&token, "/api/chat/", form).await.0, 200);
    let frame = json!({"type": "message", "text": "after", "nonce": sent});
    sink.send(Message::text(frame.to_string())).await.unwrap();
    let stored = wait_until(&tally, Duration::from_secs(10), |t| {
        t.acked.contains_key(&sent) && t.pongs == 1
    });
    assert!(
        stored.await,
        "no pong while full, or a message after freeing space was not stored"
    );
    reader.abort();
    let _ = reader.await;

    // Exactly what was acknowledged is stored: no refused message slipped
    // in, no acknowledged one is missing, in the order of the acknowledgements.
    let tally = std::mem::take(&mut *tally.lock().unwrap());
    let acked: Vec<Value> = tally.acked.values().cloned().collect();
    let mut acked_by_id = acked.clone();
    acked_by_id.sort_by_key(|m| m["id"].as_i64());
    assert_eq!(app.all_messages("books", chat).await, acked_by_id);
    assert_eq!(
        ids(&acked),
        ids(&acked_by_id),
        "ids follow the sending order"
    );
    let titles: BTreeSet<String> = all_chats(&app, "games")
        .await
        .iter()
        .map(|c| c["title"].as_str().unwrap().to_string())
        .collect();
    let created: BTreeSet<String> = tally.created.iter().cloned().collect();
    assert_eq!(titles, created, "refused: {:?}", tally.refused);
    assert_no_stray_media(&app, &data).await;
    let conn = rusqlite::Connection::open(data.join("chat.db")).unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    eprintln!(
        "disk full: {} messages stored, {} refused; {} chats created, {} refused ({} with an image)",
        tally.acked.len(),
        tally.unavailable,
        tally.created.len(),
        tally.refused.len(),
        tally.refused_uploads
    );
}

/// No `.part` file anywhere under the media folder, and every chat image
/// on disk is one a chat names (or the default).
async fn assert_no_stray_media(app: &ApiClient, data: &Path) {
    let mut named = BTreeSet::new();
    for room in ["films", "music", "books", "games"] {
        for chat in all_chats(app, room).await {
            let img = chat["img"].as_str().unwrap();
            named.insert(img.rsplit('/').next().unwrap().to_string());
        }
    }
    for folder in ["chat_img", "avatars"] {
        for entry in std::fs::read_dir(data.join("media").join(folder)).unwrap() {
            let name = entry.unwrap().file_name().to_string_lossy().to_string();
            assert!(!name.ends_with(".part"), "a partial upload is left: {name}");
            if folder == "chat_img" {
                assert!(named.contains(&name), "no chat names {folder}/{name}");
            }
        }
    }
    for name in &named {
        assert!(
            data.join("media/chat_img").join(name).is_file(),
            "{name} is missing"
        );
    }
}
