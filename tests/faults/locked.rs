//! A database locked by another process: reads go on, writes wait out the
//! busy timeout and answer 503, and nothing refused is stored.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::*;

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
