//! Faults of the machine a server runs on: a full disk, a database locked
//! by another process, a crash mid-upload, a damaged database at start, a
//! backup taken under load. The data directory of the disk-full test is a
//! small tmpfs: mounting one needs root, which CI has, so a failed mount
//! fails the test.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

const OUT_OF_SPACE: &str = "The server is out of storage space.";

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

/// An uncompressed PNG of about 40 KB.
fn big_png(seed: u8) -> Vec<u8> {
    let rgb: Vec<u8> = (0..116 * 116 * 3).map(|i| (i as u8) ^ seed).collect();
    chatd::ops::png::encode_rgb(116, 116, &rgb)
}

/// Every chat of a room, walking the list's pages.
async fn all_chats(api: &ApiClient, room: &str) -> Vec<Value> {
    let mut url = Some(api.url(&format!("/api/chat/{room}/")));
    let mut all = Vec::new();
    while let Some(next) = url {
        let (status, page) = send(api.client.get(&next)).await;
        assert_eq!(status, 200, "GET {next}: {page}");
        all.extend(results(&page));
        url = page["next"].as_str().map(str::to_string);
    }
    all
}

/// What happened to the writes of a load: which were stored, which refused.
#[derive(Default, Debug)]
struct Tally {
    /// Titles of chats created (200) and refused (507).
    created: Vec<String>,
    refused: Vec<String>,
    /// How many of the refused creates carried an image.
    refused_uploads: usize,
    /// WebSocket messages: nonce → stored message, and refusals.
    acked: BTreeMap<u64, Value>,
    unavailable: usize,
    pongs: usize,
}

type Shared = Arc<Mutex<Tally>>;

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

/// Reads a socket's frames into the tally: own `message` frames by nonce,
/// `unavailable` refusals; any other error frame fails the test.
fn record_frame(frame: &Value, tally: &Shared) {
    match frame["type"].as_str() {
        Some("message") => {
            let nonce = frame["nonce"].as_u64().expect("our nonce");
            tally
                .lock()
                .unwrap()
                .acked
                .insert(nonce, frame["message"].clone());
        }
        Some("error") => {
            assert_eq!(frame["code"], "unavailable", "{frame}");
            assert_eq!(frame["detail"], OUT_OF_SPACE, "{frame}");
            tally.lock().unwrap().unavailable += 1;
        }
        Some("pong") => tally.lock().unwrap().pongs += 1,
        _ => {}
    }
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

const BUSY: &str = "The server is busy, try again.";

/// Holds the write lock of `db` from another connection (as an `sqlite3`
/// shell's `BEGIN IMMEDIATE` would) for `hold`; returns once it is taken.
fn lock_database(db: PathBuf, hold: Duration) -> std::thread::JoinHandle<()> {
    let (taken, wait) = std::sync::mpsc::channel();
    let holder = std::thread::spawn(move || {
        let conn = rusqlite::Connection::open(db).unwrap();
        conn.execute_batch("BEGIN IMMEDIATE").unwrap();
        taken.send(()).unwrap();
        std::thread::sleep(hold);
        conn.execute_batch("COMMIT").unwrap();
    });
    wait.recv().unwrap();
    holder
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_database_delays_writes_then_answers_503_and_loses_nothing() {
    let app = spawn_app().await;
    let token = app.user("patient").await;
    let chat = app.new_chat_id(&token, "books", "Locked").await;
    let url = app.ws_url("books", chat, &format!("token={token}"));
    let (mut ws, _) = join_url(&url).await;
    let before = post_and_wait(&mut ws, "before the lock", "0").await;

    let locked_at = Instant::now();
    let holder = lock_database(app.data_dir().join("chat.db"), Duration::from_secs(10));
    post(&mut ws, "during the lock", "1").await;

    // Reads go on while another process holds the write lock.
    let read = Instant::now();
    assert_eq!(app.chat_count("books").await, 1);
    assert!(
        read.elapsed() < Duration::from_secs(1),
        "{:?}",
        read.elapsed()
    );

    // A create waits out the busy timeout, then is told to come back.
    let request = app
        .client
        .post(app.url("/api/chat/"))
        .bearer_auth(&token)
        .form(&[("title", "Impatient"), ("room", "books")]);
    let started = Instant::now();
    let response = request.send().await.unwrap();
    let waited = started.elapsed();
    assert_eq!(header(&response, "retry-after").as_deref(), Some("5"));
    assert_eq!(api(response).await, (503, json!({"detail": BUSY})));
    assert!(
        waited >= Duration::from_millis(4500) && waited < Duration::from_secs(8),
        "answered after {waited:?}"
    );
    // So does a REST edit, which joins the message writer's retries (the
    // socket's message is in them) and gets its 503 after the next one.
    let path = format!("/api/chat/books/{chat}/messages/{}/", before["id"]);
    let request = app.client.patch(app.url(&path)).bearer_auth(&token);
    let started = Instant::now();
    let response = request
        .json(&json!({"text": "edited"}))
        .send()
        .await
        .unwrap();
    let waited = started.elapsed();
    assert_eq!(header(&response, "retry-after").as_deref(), Some("5"));
    assert_eq!(api(response).await, (503, json!({"detail": BUSY})));
    assert!(waited < Duration::from_secs(3), "answered after {waited:?}");

    // The socket's message is acknowledged only once it is stored, after
    // the lock is gone, and the socket was served meanwhile.
    assert_alive(&mut ws).await;
    let frame = tokio::time::timeout(Duration::from_secs(40), next_non_presence(&mut ws))
        .await
        .expect("the message is stored once the lock goes");
    assert_eq!(frame["type"], "message", "{frame}");
    assert_eq!(frame["nonce"], "1");
    assert!(
        locked_at.elapsed() >= Duration::from_millis(9500),
        "acknowledged after {:?}, while the lock was held",
        locked_at.elapsed()
    );
    holder.join().unwrap();

    let texts: Vec<Value> = app
        .all_messages("books", chat)
        .await
        .iter()
        .map(|m| m["text"].clone())
        .collect();
    assert_eq!(texts, [json!("before the lock"), json!("during the lock")]);
    app.new_chat_id(&token, "books", "After the lock").await;
}

/// Sends `request` after `delay`: its status, body and how long it waited.
async fn answered_after(
    request: reqwest::RequestBuilder,
    delay: Duration,
) -> (u16, Value, Duration) {
    tokio::time::sleep(delay).await;
    let started = Instant::now();
    let (status, body) = send(request).await;
    (status, body, started.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_database_answers_every_rest_write_within_its_busy_timeout() {
    let app = spawn_app().await;
    let token = app.user("hurried").await;
    let chat = app.new_chat_id(&token, "games", "Busy").await;
    let messages = format!("/api/chat/games/{chat}/messages/");
    let (status, first) = send(
        app.client
            .post(app.url(&messages))
            .bearer_auth(&token)
            .form(&[("text", "before the lock")]),
    )
    .await;
    assert_eq!(status, 201, "{first}");

    let holder = lock_database(app.data_dir().join("chat.db"), Duration::from_secs(12));
    let patch_chat = || {
        app.client
            .patch(app.url(&format!("/api/chat/games/{chat}/")))
            .bearer_auth(&token)
            .form(&[("description", "while locked")])
    };
    let post_message = || {
        app.client
            .post(app.url(&messages))
            .bearer_auth(&token)
            .form(&[("text", "while locked")])
    };
    let react = app
        .client
        .put(app.url(&format!("{messages}{}/reactions/👍/", first["id"])))
        .bearer_auth(&token);
    let read = app
        .client
        .post(app.url(&format!("/api/chat/games/{chat}/read/")))
        .bearer_auth(&token)
        .json(&json!({"last_read": first["id"]}));
    let second = Duration::from_secs(1);
    // Chat writes go through one lane, message writes through the message
    // writer; either way, each request that arrives while the lock is held
    // hears back within the 5 s busy timeout, however many came before it.
    let answers = futures_util::future::join_all([
        Box::pin(answered_after(post_message(), Duration::ZERO))
            as std::pin::Pin<Box<dyn std::future::Future<Output = _>>>,
        Box::pin(answered_after(patch_chat(), Duration::ZERO)),
        Box::pin(answered_after(patch_chat(), second)),
        Box::pin(answered_after(read, 2 * second)),
        Box::pin(answered_after(react, 3 * second)),
        Box::pin(answered_after(patch_chat(), 4 * second)),
        Box::pin(answered_after(post_message(), 6 * second)),
        Box::pin(answered_after(patch_chat(), 6 * second)),
    ])
    .await;
    for (index, (status, body, waited)) in answers.into_iter().enumerate() {
        assert_eq!(
            (status, body),
            (503, json!({"detail": BUSY})),
            "request {index}"
        );
        assert!(
            waited < Duration::from_secs(6),
            "request {index} waited {waited:?}"
        );
    }
    holder.join().unwrap();

    // Nothing refused was stored; writes work again at once.
    let texts: Vec<Value> = app
        .all_messages("games", chat)
        .await
        .iter()
        .map(|m| m["text"].clone())
        .collect();
    assert_eq!(texts, [json!("before the lock")]);
    let (status, _) = send(patch_chat()).await;
    assert_eq!(status, 200);
}

/// Runs the binary with `args` to its end (within 30 s): exit code,
/// stdout, stderr.
fn run_chatd(args: &[&std::ffi::OsStr]) -> (Option<i32>, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_chatd"))
        .args(args)
        .env("RUST_LOG", "chatd=info")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("chatd {args:?} did not exit within 30 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).to_string(),
        String::from_utf8_lossy(&output.stderr).to_string(),
    )
}

/// `chatd check --data-dir <dir>`.
fn check(dir: &Path) -> (Option<i32>, String, String) {
    run_chatd(&["check".as_ref(), "--data-dir".as_ref(), dir.as_os_str()])
}

/// Every file name in a media folder of `data`.
fn files_in(data: &Path, folder: &str) -> BTreeSet<String> {
    std::fs::read_dir(data.join("media").join(folder))
        .unwrap()
        .map(|e| format!("{folder}/{}", e.unwrap().file_name().to_string_lossy()))
        .collect()
}

/// The media paths the database of `data` names.
fn named_files(data: &Path) -> BTreeSet<String> {
    let conn = rusqlite::Connection::open(data.join("chat.db")).unwrap();
    let mut query = conn
        .prepare("SELECT img FROM chats WHERE img IS NOT NULL UNION SELECT avatar FROM users WHERE avatar IS NOT NULL")
        .unwrap();
    let named = query
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    named
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_mid_upload_leaves_no_dangling_row_and_strays_go_at_the_next_start() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let mut server = start_binary(data);
    let token = server.api.user("uploader").await;
    let stop = Arc::new(AtomicBool::new(false));
    let mut uploaders = Vec::new();
    for task in 0..4 {
        let (base, token, stop) = (server.api.base.clone(), token.clone(), stop.clone());
        uploaders.push(tokio::spawn(async move {
            let api = ApiClient::new(base);
            for n in 0.. {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let title = format!("upload {task}-{n}");
                let form = file_form(
                    &[("title", &title), ("room", "films")],
                    "img",
                    big_png(n as u8),
                    "x.png",
                    "image/png",
                );
                let request = api.client.post(api.url("/api/chat/")).bearer_auth(&token);
                // The server dies under some of these.
                let _ = request.multipart(form).send().await;
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server.child.kill().unwrap(); // SIGKILL
    server.child.wait().unwrap();
    stop.store(true, Ordering::Relaxed);
    for uploader in uploaders {
        uploader.await.unwrap();
    }

    // No row points at a missing file.
    let named = named_files(data);
    assert!(named.len() > 3, "only {} uploads got in", named.len());
    let on_disk = files_in(data, "chat_img");
    for file in &named {
        assert!(on_disk.contains(file), "{file} is named but missing");
    }
    // What a crash between the file and its row leaves, for certain, in
    // each folder uploads go to; and files someone else put there, which
    // stay whatever they look like: only names chatd generates are its own.
    let hex = "0123456789abcdef0123456789abcdef";
    let crash_left = [
        format!("chat_img/{hex}.png"),
        format!("avatars/{hex}.jpg"),
        format!("msg_img/{hex}.webp"),
        format!("chat_img/{hex}.part"),
    ];
    let not_chatds = [
        "chat_img/mine.png".to_string(),
        "chat_img/x.jpg".to_string(),
        "chat_img/notes.part".to_string(),
        "avatars/me.jpg".to_string(),
        format!("avatars/{}.png", hex.to_uppercase()),
        format!("msg_img/{hex}.jpeg"),
        format!("msg_img/{}.png", &hex[..16]),
    ];
    for file in &crash_left {
        std::fs::write(data.join("media").join(file), b"left by a crash").unwrap();
    }
    for file in &not_chatds {
        std::fs::write(data.join("media").join(file), b"put there by hand").unwrap();
    }
    let (status, out, err) = check(data);
    assert_eq!(status, Some(0), "{out}{err}");
    assert!(out.contains("ok    media"), "{out}");
    let strays = out
        .lines()
        .find(|l| l.starts_with("warn  stray files: "))
        .unwrap_or_else(|| panic!("check reports no stray files: {out}"));
    let all_media = || -> BTreeSet<String> {
        ["chat_img", "avatars", "msg_img"]
            .into_iter()
            .flat_map(|folder| files_in(data, folder))
            .collect()
    };
    let kept: BTreeSet<String> = named
        .iter()
        .chain(&not_chatds)
        .cloned()
        .chain(["chat_img/default.jpg".to_string()])
        .collect();
    let on_disk = all_media();
    let partial = on_disk
        .difference(&kept)
        .filter(|f| f.ends_with(".part"))
        .count();
    let orphans = on_disk.len() - kept.len() - partial;
    assert!(partial >= 1 && orphans >= 3, "{on_disk:?}");
    assert!(
        strays.contains(&format!("{orphans} no row names, {partial} half-written")),
        "{strays}"
    );
    assert!(strays.contains("(removed at the next start)"), "{strays}");

    // The next start removes them, and only them.
    let restarted = start_binary(data);
    assert_eq!(all_media(), kept);
    for chat in all_chats(&restarted.api, "films").await {
        let (status, _, _) = restarted.api.fetch(chat["img"].as_str().unwrap()).await;
        assert_eq!(status, 200, "{chat}");
    }
    let (status, out, _) = check(data);
    assert_eq!(status, Some(0), "{out}");
    assert!(out.contains("ok    no stray files"), "{out}");
}

/// Starts `chatd` on `data_dir` and expects it to refuse: exit status 1,
/// one line on stderr, no panic. Returns that line.
fn refused_start(data_dir: &Path) -> String {
    let (status, out, err) = run_chatd(&[
        "--addr".as_ref(),
        "127.0.0.1:0".as_ref(),
        "--secret".as_ref(),
        SECRET.as_ref(),
        "--data-dir".as_ref(),
        data_dir.as_os_str(),
    ]);
    assert_eq!(status, Some(1), "stdout: {out}\nstderr: {err}");
    assert!(
        !err.contains("panicked") && !out.contains("panicked"),
        "{err}"
    );
    assert!(!out.contains("listening"), "{out}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "not one line: {err}");
    lines[0].to_string()
}

/// The names and contents of the files in `dir`.
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let contents = std::fs::read(e.path()).unwrap_or_default();
            (e.file_name().to_string_lossy().to_string(), contents)
        })
        .collect()
}

#[test]
fn a_damaged_database_stops_the_start_with_one_line_naming_it() {
    // Not a database at all.
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("chat.db");
    std::fs::write(&db, "this is no database, just text\n".repeat(200)).unwrap();
    let before = snapshot(dir.path());
    let line = refused_start(dir.path());
    assert_eq!(
        line,
        format!(
            "chatd: {} is damaged (file is not a database); run `chatd check --data-dir {}` or restore a backup",
            db.display(),
            dir.path().display()
        )
    );
    assert_eq!(
        snapshot(dir.path()),
        before,
        "a failed start changed the directory"
    );
    let (status, out, err) = check(dir.path());
    assert_eq!(status, Some(1), "{out}{err}");
    assert!(
        out.starts_with(&format!("FAIL  integrity: {} is damaged", db.display())),
        "{out}{err}"
    );

    // A real database whose schema page is overwritten.
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("chat.db");
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);")
        .unwrap();
    drop(conn);
    let mut bytes = std::fs::read(&db).unwrap();
    bytes[100..4096].fill(0xA5);
    std::fs::write(&db, &bytes).unwrap();
    let line = refused_start(dir.path());
    assert!(
        line.starts_with(&format!("chatd: {} is damaged (", db.display()))
            && line.contains("run `chatd check --data-dir"),
        "{line}"
    );

    // chatd's own database with a page past the first ones damaged (the
    // users table's): opening it reads only the schema; the start's first
    // queries find the damage, and say so in the same line.
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("chat.db");
    drop(chatd::storage::Db::open(&db).unwrap());
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
        .unwrap();
    let page: usize = conn
        .query_row(
            "SELECT rootpage FROM sqlite_master WHERE name = 'users'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    drop(conn);
    let mut bytes = std::fs::read(&db).unwrap();
    bytes[(page - 1) * 4096..page * 4096].fill(0xFF);
    std::fs::write(&db, &bytes).unwrap();
    assert_eq!(
        refused_start(dir.path()),
        format!(
            "chatd: {} is damaged (database disk image is malformed); run `chatd check --data-dir {}` or restore a backup",
            db.display(),
            dir.path().display()
        )
    );

    // A database path that is a directory (root reads any file, so this
    // stands in for one chatd may not read).
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("chat.db");
    std::fs::create_dir(&db).unwrap();
    let line = refused_start(dir.path());
    assert!(
        line.starts_with(&format!("chatd: {} cannot be opened (", db.display())),
        "{line}"
    );

    // A data directory that is a file.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("data");
    std::fs::write(&file, "a file").unwrap();
    let line = refused_start(&file);
    assert_eq!(
        line,
        format!(
            "chatd: {} is not a directory; give --data-dir a directory (it is created if missing)",
            file.display()
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_database_stops_the_start_while_uploads_are_there_and_nothing_is_removed() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let server = start_binary(data);
    let token = server.api.user("keeper").await;
    for (title, name, mime) in [
        ("Red", "red.png", "image/png"),
        ("Gif", "red.gif", "image/gif"),
    ] {
        let fields = [("title", title), ("room", "films")];
        let form = file_form(&fields, "img", fixture(name), name, mime);
        let (status, body) = server.api.post_multipart(&token, "/api/chat/", form).await;
        assert_eq!(status, 200, "{body}");
    }
    drop(server);
    let (db, media) = (data.join("chat.db"), data.join("media"));
    let media_files = || ["chat_img", "avatars", "msg_img"].map(|f| snapshot(&media.join(f)));
    let uploaded = media_files();
    assert_eq!(uploaded[0].len(), 3, "{:?}", uploaded[0].keys()); // and default.jpg
    let refusal = |state: &str| {
        format!(
            "chatd: {} {state}, but {} holds 2 uploaded files; restore chat.db from a backup, \
             or move {} away to start afresh",
            db.display(),
            media.display(),
            media.display()
        )
    };

    // Deleted with its WAL (`rm chat.db*`), then truncated (`: > chat.db`):
    // SQLite would take either for a new database, whose start-up sweep
    // would remove every upload.
    for file in ["chat.db", "chat.db-wal", "chat.db-shm"] {
        let _ = std::fs::remove_file(data.join(file));
    }
    for state in ["is missing", "is empty"] {
        if state == "is empty" {
            std::fs::write(&db, b"").unwrap();
        }
        let before = snapshot(data);
        assert_eq!(refused_start(data), refusal(state));
        assert_eq!(snapshot(data), before, "a refused start changed {state}");
        assert_eq!(media_files(), uploaded, "a refused start changed the media");
    }
    // The operator commands refuse an empty file too.
    let (status, out, err) = check(data);
    assert_eq!(
        (status, out.as_str(), err),
        (
            Some(1),
            "",
            format!(
                "chatd: {} is empty; restore it from a backup\n",
                db.display()
            )
        )
    );

    // What the line says to do starts afresh and keeps the old media.
    std::fs::rename(&media, data.join("media.old")).unwrap();
    drop(start_binary(data));
    assert!(media.join("chat_img/default.jpg").is_file());
    let moved =
        ["chat_img", "avatars", "msg_img"].map(|f| snapshot(&data.join("media.old").join(f)));
    assert_eq!(moved, uploaded);
    // So does a data directory that is new.
    let fresh = tempfile::tempdir().unwrap();
    drop(start_binary(&fresh.path().join("new")));
}

/// Creates chats with images and replaces each one's image right after,
/// until `stop`; every answer must be 200.
async fn churn_images(base: String, token: String, stop: Arc<AtomicBool>) {
    let api = ApiClient::new(base);
    let mut n = 0u32;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let title = format!("churn {n}");
        let form = file_form(
            &[("title", &title), ("room", "films")],
            "img",
            big_png(n as u8),
            "x.png",
            "image/png",
        );
        let (status, body) = api.post_multipart(&token, "/api/chat/", form).await;
        assert_eq!(status, 200, "{body}");
        let path = format!("/api/chat/films/{}/", body["chat"]["id"]);
        let form = file_form(&[], "img", big_png(!n as u8), "y.png", "image/png");
        let request = api.client.patch(api.url(&path)).bearer_auth(&token);
        let (status, body) = send(request.multipart(form)).await;
        assert_eq!(status, 200, "{body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_under_load_restores_every_acknowledged_message_and_file() {
    let mut config = test_config(Path::new("unused"));
    config.ws.rate_per_sec = 100_000.0;
    config.ws.burst = 100_000;
    let dir = tempfile::tempdir().unwrap();
    config.data_dir = dir.path().to_path_buf();
    let app = start(config, dir).await;
    let token = app.user("archivist").await;
    let chat = app.new_chat_id(&token, "books", "Archived").await;
    let url = app.ws_url("books", chat, &format!("token={token}"));
    let (socket, _) = join_url(&url).await;
    let (mut sink, mut stream) = socket.split();

    let stop = Arc::new(AtomicBool::new(false));
    let churn = tokio::spawn(churn_images(app.base.clone(), token.clone(), stop.clone()));
    let sender_stop = stop.clone();
    let sender = tokio::spawn(async move {
        for n in 0u64.. {
            if sender_stop.load(Ordering::Relaxed) {
                break;
            }
            let frame = json!({"type": "message", "text": format!("line {n}"), "nonce": n});
            sink.send(Message::text(frame.to_string())).await.unwrap();
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    });
    let tally = Shared::default();
    let reader_tally = tally.clone();
    let reader = tokio::spawn(async move {
        while let Some(Ok(frame)) = stream.next().await {
            if let Message::Text(text) = frame {
                record_frame(&serde_json::from_str(&text).unwrap(), &reader_tally);
            }
        }
    });
    tokio::time::sleep(Duration::from_millis(700)).await;

    // Everything acknowledged by now must be in the backup.
    let before: Vec<Value> = tally.lock().unwrap().acked.values().cloned().collect();
    assert!(
        before.len() > 50,
        "only {} messages before the backup",
        before.len()
    );
    let out = tempfile::tempdir().unwrap();
    let (file, media) = (out.path().join("chat.db"), out.path().join("media"));
    let data = app.data_dir();
    let args = [
        "backup".into(),
        file.clone().into_os_string(),
        "--with-media".into(),
        media.clone().into_os_string(),
        "--data-dir".into(),
        data.into_os_string(),
    ];
    let (status, stdout, stderr) = tokio::task::spawn_blocking(move || {
        let args: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
        run_chatd(&args)
    })
    .await
    .unwrap();
    assert_eq!(status, Some(0), "{stdout}{stderr}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    sender.await.unwrap();
    churn.await.unwrap();
    reader.abort();

    // Restore into a new directory and serve it.
    let (status, report, _) = check(out.path());
    assert_eq!(status, Some(0), "{report}");
    assert!(report.contains("ok    no stray files"), "{report}");
    let restored_dir = tempfile::tempdir().unwrap();
    let restored = start(test_config(out.path()), restored_dir).await;
    let stored = restored.all_messages("books", chat).await;
    let stored_ids: BTreeSet<i64> = ids(&stored).into_iter().collect();
    for message in &before {
        assert!(
            stored_ids.contains(&message["id"].as_i64().unwrap()),
            "acknowledged before the backup, missing after the restore: {message}"
        );
    }
    let chats = all_chats(&restored, "films").await;
    assert!(!chats.is_empty());
    for chat in chats {
        let (status, _, body) = restored.fetch(chat["img"].as_str().unwrap()).await;
        assert_eq!(status, 200, "{chat}");
        assert_eq!(body.len(), big_png(0).len());
    }
    eprintln!(
        "backup under load: {} messages acknowledged before it, {} in the copy",
        before.len(),
        stored.len()
    );
}
