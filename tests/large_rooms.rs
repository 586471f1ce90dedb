//! Large rooms and long absences (API.md): presence as a coalesced state,
//! cheap mass joins and leaves, bounded catch-up, 1011 on a server failure
//! at open, and revocation that reaches open sockets.

mod common;
use common::*;

use std::time::Duration;

use futures_util::future::join_all;
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::time::{timeout, Instant};
use tokio_tungstenite::tungstenite::Message;

/// Sockets in one chat for the presence tests.
const CROWD: usize = 300;

/// The shortest time between two presence frames to one socket.
const INTERVAL: Duration = Duration::from_millis(250);

/// Arrival jitter allowed between two presence frames (they are written by
/// one task per socket and read here by another).
const JITTER: Duration = Duration::from_millis(150);

async fn crowd_app() -> TestApp {
    spawn_app_with(|c| c.ws.max_sockets_per_ip = 2 * CROWD).await
}

/// Opens `n` read-only sockets to a chat at once; returns them with the
/// online count each `hello` gave.
async fn open_crowd(app: &TestApp, chat: i64, n: usize) -> Vec<(Ws, u64)> {
    let url = app.ws_url("films", chat, "");
    join_all((0..n).map(|_| {
        let url = url.clone();
        async move {
            let (ws, hello) = join_url(&url).await;
            (ws, hello["online"].as_u64().unwrap())
        }
    }))
    .await
}

/// Opens `n` sockets at once, each read from its `hello` on (so arrival
/// times are true) until it has heard `target` online; returns how long
/// the opening took and each socket's presence frames.
async fn crowd_hearing(
    app: &TestApp,
    chat: i64,
    n: usize,
    target: u64,
) -> (Duration, Vec<(Ws, Vec<(Instant, u64)>)>) {
    let url = app.ws_url("films", chat, "");
    let started = Instant::now();
    let (opened_tx, mut opened_rx) = tokio::sync::mpsc::unbounded_channel();
    let readers: Vec<_> = (0..n)
        .map(|_| {
            let (url, opened) = (url.clone(), opened_tx.clone());
            tokio::spawn(async move {
                let (mut ws, hello) = join_url(&url).await;
                let _ = opened.send(());
                let heard =
                    presence_until(&mut ws, hello["online"].as_u64().unwrap(), target).await;
                (ws, heard)
            })
        })
        .collect();
    for _ in 0..n {
        opened_rx.recv().await.expect("a socket failed to open");
    }
    let ramp = started.elapsed();
    let heard = join_all(readers)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    (ramp, heard)
}

/// Reads a socket until it has heard `target` as the online count (or its
/// hello said so), then for a quiet second more; returns when each presence
/// frame came, with its count.
async fn presence_until(ws: &mut Ws, hello: u64, target: u64) -> Vec<(Instant, u64)> {
    let mut heard = Vec::new();
    let mut current = hello;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let wait = if current == target {
            Duration::from_secs(1)
        } else {
            deadline.saturating_duration_since(Instant::now())
        };
        let Ok(next) = timeout(wait, ws.next()).await else {
            assert_eq!(current, target, "no presence {target} within 20 s");
            return heard;
        };
        match next {
            Some(Ok(Message::Text(text))) => {
                let frame: Value = serde_json::from_str(&text).unwrap();
                assert_eq!(frame["type"], "presence", "{frame}");
                current = frame["online"].as_u64().unwrap();
                heard.push((Instant::now(), current));
            }
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
            other => panic!("expected presence frames, got {other:?}"),
        }
    }
}

/// Presence frames to one socket come at most once per interval.
fn assert_spaced(heard: &[(Instant, u64)]) {
    for pair in heard.windows(2) {
        let gap = pair[1].0 - pair[0].0;
        assert!(
            gap + JITTER >= INTERVAL,
            "two presence frames {gap:?} apart: {heard:?}"
        );
    }
}

/// Closes a socket from the client side; true when the server answered
/// the close handshake within 2 s.
async fn close_answered(mut ws: Ws) -> bool {
    if ws.send(Message::Close(None)).await.is_err() {
        return false;
    }
    timeout(Duration::from_secs(2), async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Close(_))) => return true,
                Some(Ok(_)) => continue,
                _ => return false,
            }
        }
    })
    .await
    .unwrap_or(false)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crowd_joining_gets_few_presence_frames_and_the_right_count() {
    let app = crowd_app().await;
    let token = app.user("alice").await;
    let chat = app.new_chat_id(&token, "films", "Crowd").await;

    let (ramp, crowd) = crowd_hearing(&app, chat, CROWD, CROWD as u64).await;
    let heard: Vec<_> = crowd.into_iter().map(|(_ws, heard)| heard).collect();

    let most = heard.iter().map(Vec::len).max().unwrap();
    let total: usize = heard.iter().map(Vec::len).sum();
    eprintln!("ramp of {CROWD} sockets: {ramp:?}; presence frames: at most {most} per socket, {total} in all");
    for socket in &heard {
        assert_spaced(socket);
    }
    // One frame per interval of the ramp at most, plus the last count.
    let bound = (ramp.as_millis() / INTERVAL.as_millis()) as usize + 2;
    assert!(
        most <= bound,
        "{most} presence frames to one socket over a {ramp:?} ramp"
    );
    assert!(
        total <= bound * CROWD,
        "{total} presence frames in all: not O(N)"
    );
    // The old hub sent one per join to everyone: N²/2 = 45,000 here.
    assert!(total < CROWD * 10, "{total}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crowd_leaving_at_once_gets_every_close_answered_and_the_count_right() {
    let app = crowd_app().await;
    let token = app.user("alice").await;
    let chat = app.new_chat_id(&token, "films", "Crowd").await;
    // The one who stays reads on a thread of its own, so the arrival
    // times it records are not those of this busy runtime.
    let url = app.ws_url("films", chat, "");
    let (joined_tx, joined_rx) = tokio::sync::oneshot::channel();
    let (settled_tx, settled_rx) = tokio::sync::oneshot::channel();
    let (go_tx, go_rx) = tokio::sync::oneshot::channel::<()>();
    let stayer = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let (mut ws, _) = join_url(&url).await;
            joined_tx.send(()).unwrap();
            presence_until(&mut ws, 1, CROWD as u64 + 1).await;
            settled_tx.send(()).unwrap();
            go_rx.await.unwrap();
            let heard = presence_until(&mut ws, CROWD as u64 + 1, 1).await;
            assert_alive(&mut ws).await;
            heard
        })
    });
    joined_rx.await.unwrap();
    let crowd = open_crowd(&app, chat, CROWD).await;
    settled_rx.await.unwrap();

    go_tx.send(()).unwrap();
    let started = Instant::now();
    let answered = join_all(crowd.into_iter().map(|(ws, _)| close_answered(ws))).await;
    let leaving = started.elapsed();
    let unanswered = answered.iter().filter(|ok| !**ok).count();
    assert_eq!(unanswered, 0, "{unanswered} of {CROWD} closes unanswered");

    let heard = tokio::task::spawn_blocking(move || stayer.join().unwrap())
        .await
        .unwrap();
    eprintln!(
        "{CROWD} left in {leaving:?}; the one who stayed got {} presence frames",
        heard.len()
    );
    assert_spaced(&heard);
    let bound = (started.elapsed().as_millis() / INTERVAL.as_millis()) as usize + 2;
    assert!(heard.len() <= bound, "{heard:?}");
    assert_eq!(heard.last().unwrap().1, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_with_a_crowd_in_one_chat_closes_every_socket_with_1001() {
    let mut app = crowd_app().await;
    let token = app.user("alice").await;
    let chat = app.new_chat_id(&token, "films", "Crowd").await;
    let crowd = open_crowd(&app, chat, CROWD).await;

    let server = app.server.take().unwrap();
    let started = Instant::now();
    let (stopped, codes) = tokio::join!(
        server.shutdown(),
        join_all(crowd.into_iter().map(|(mut ws, _)| async move {
            // Presence frames may come first; the close frame must follow.
            loop {
                match timeout(WAIT, ws.next()).await.expect("no close within 5 s") {
                    Some(Ok(Message::Close(Some(frame)))) => {
                        finish_close(&mut ws).await;
                        return u16::from(frame.code);
                    }
                    Some(Ok(Message::Text(_) | Message::Ping(_) | Message::Pong(_))) => {}
                    other => panic!("expected a close frame, got {other:?}"),
                }
            }
        }))
    );
    stopped.expect("clean shutdown");
    eprintln!("shutdown with {CROWD} sockets took {:?}", started.elapsed());
    assert!(codes.iter().all(|&code| code == 1001), "{codes:?}");
}

/// Posts `n` messages of `chars` characters over one socket as fast as
/// the server takes them; returns their ids once all are echoed.
async fn post_many(app: &TestApp, token: &str, chat: i64, n: usize, chars: usize) -> Vec<i64> {
    let ws = connect(&app.ws_url("films", chat, &format!("token={token}"))).await;
    let (mut sink, mut stream) = ws.split();
    let sending = tokio::spawn(async move {
        for i in 0..n {
            let text = format!("{i:05}{}", "x".repeat(chars - 5));
            let frame = serde_json::json!({"type": "message", "text": text, "nonce": i});
            sink.send(Message::text(frame.to_string())).await.unwrap();
        }
        sink
    });
    let mut ids = Vec::with_capacity(n);
    while ids.len() < n {
        let next = timeout(Duration::from_secs(30), stream.next())
            .await
            .expect("echoes stopped");
        if let Some(Ok(Message::Text(text))) = next {
            let frame: Value = serde_json::from_str(&text).unwrap();
            match frame["type"].as_str() {
                Some("message") => ids.push(frame["message"]["id"].as_i64().unwrap()),
                Some("hello" | "presence") => {}
                _ => panic!("{frame}"),
            }
        }
    }
    let mut sink = sending.await.unwrap();
    let _ = sink.close().await;
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconnect_after_a_5_mb_backlog_sees_every_message_exactly_once() {
    let app = spawn_app_with(|c| {
        c.ws.burst = 1_000_000;
        c.ws.rate_per_sec = 1_000_000.0;
        c.ws.queue_len = 4096;
    })
    .await;
    let token = app.user("alice").await;
    let chat = app.new_chat_id(&token, "films", "Backlog").await;
    let seen_before = post_many(&app, &token, chat, 1, 10).await[0];

    // Away: 2,600 messages of 2,000 characters (about 5.5 MB) arrive.
    let backlog = post_many(&app, &token, chat, 2600, 2000).await;

    // Back: the hello carries the first 200, says more, and the socket lives.
    let (mut ws, hello) =
        join_url(&app.ws_url("films", chat, &format!("after={seen_before}"))).await;
    assert_eq!(hello["more"], true);
    let mut got = ids(hello["messages"].as_array().unwrap());
    assert_eq!(got, backlog[..200]);

    // New messages keep coming while the client pages the rest.
    let live = {
        let (app_base, token) = (app.base.clone(), token.clone());
        tokio::spawn(async move {
            let poster = ApiClient::new(app_base);
            let mut sent = Vec::new();
            for i in 0..30 {
                sent.push(id_of_message(
                    &send_message(&poster, &token, "films", chat, &format!("live {i}")).await,
                ));
            }
            sent
        })
    };
    loop {
        let last = *got.last().unwrap();
        let page = app.history("films", chat, &format!("?after={last}")).await;
        let page_ids = ids(&results(&page));
        assert!(page_ids.len() <= 100);
        got.extend(page_ids);
        if page["next"].is_null() {
            break;
        }
    }
    let live = live.await.unwrap();
    // The rest come on the socket; some may be in the pages too.
    let mut on_socket = Vec::new();
    while on_socket.len() < live.len() {
        let frame = next_non_presence(&mut ws).await;
        assert_eq!(frame["type"], "message", "{frame}");
        let id = id_of(&frame);
        if !on_socket.contains(&id) {
            on_socket.push(id);
        }
        assert!(
            !got[..200].contains(&id),
            "the socket repeated a hello message"
        );
    }
    assert_eq!(on_socket, live, "live frames in id order");
    assert!(
        got.windows(2).all(|w| w[0] < w[1]),
        "hello and pages ascend without repeats"
    );
    for id in on_socket {
        if !got.contains(&id) {
            got.push(id);
        }
    }
    let expected: Vec<i64> = backlog.iter().chain(&live).copied().collect();
    assert_eq!(got.len(), expected.len());
    assert_eq!(got, expected, "every message exactly once, in order");
    assert_served(&mut ws).await;
}

#[tokio::test]
async fn a_short_catch_up_says_no_more() {
    let app = spawn_app_with(|c| {
        c.ws.burst = 1_000;
        c.ws.rate_per_sec = 1_000.0;
    })
    .await;
    let token = app.user("alice").await;
    let chat = app.new_chat_id(&token, "films", "Short").await;
    let sent = post_many(&app, &token, chat, 200, 10).await;
    let (_ws, hello) = join_url(&app.ws_url("films", chat, "after=0")).await;
    assert_eq!(hello["more"], false);
    assert_eq!(ids(hello["messages"].as_array().unwrap()), sent);
    let (_ws, hello) = join_url(&app.ws_url("films", chat, &format!("after={}", sent[0]))).await;
    assert_eq!(
        (
            hello["more"].clone(),
            hello["messages"].as_array().unwrap().len()
        ),
        (serde_json::json!(false), 199)
    );
    let more = post_many(&app, &token, chat, 1, 10).await;
    let (_ws, hello) = join_url(&app.ws_url("films", chat, "after=0")).await;
    assert_eq!(hello["more"], true);
    assert_eq!(ids(hello["messages"].as_array().unwrap()), sent);
    // Without ?after= the last 50, and never more.
    let (_ws, hello) = join_url(&app.ws_url("films", chat, "")).await;
    assert_eq!(hello["more"], false);
    let last: Vec<i64> = sent[151..].iter().chain(&more).copied().collect();
    assert_eq!(ids(hello["messages"].as_array().unwrap()), last);
}

fn id_of_message(message: &Value) -> i64 {
    message["id"].as_i64().unwrap()
}

#[tokio::test]
async fn a_database_failure_while_opening_closes_with_1011_and_a_retry_works() {
    let app = spawn_app().await;
    let token = app.user("alice").await;
    let chat = app.new_chat_id(&token, "films", "Fragile").await;
    let url = app.ws_url("films", chat, &format!("token={token}"));

    // The chat is there (the check before the upgrade passes), but its
    // messages cannot be read: a real database error during the hello.
    let db = rusqlite::Connection::open(app.data_dir().join("chat.db")).unwrap();
    db.execute_batch("ALTER TABLE messages RENAME TO messages_away")
        .unwrap();
    let mut ws = connect(&url).await;
    assert_eq!(close_code(&mut ws).await, 1011, "not chat_deleted/4404");
    assert_eq!(
        app.get_json(&format!("/api/chat/films/{chat}/")).await.0,
        200
    );

    // Once the database is well again, the retry the client makes works.
    db.execute_batch("ALTER TABLE messages_away RENAME TO messages")
        .unwrap();
    let (mut ws, hello) = join_url(&url).await;
    assert_eq!(hello["chat"]["id"], chat);
    post_and_wait(&mut ws, "back", "n").await;
}

/// `chatd` (the real binary) on the test server's data directory.
fn chatd(args: &[&str], app: &TestApp) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_chatd"))
        .args(args)
        .arg("--data-dir")
        .arg(app.data_dir())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "chatd {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Alice and Bob in Bob's chat, each on a socket; returns the app,
/// Alice's token, the chat and both sockets.
async fn alice_and_bob() -> (TestApp, String, i64, Ws, Ws) {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let chat = app.new_chat_id(&bob, "films", "Revocation").await;
    let (alice_ws, _) = join_url(&app.ws_url("films", chat, &format!("token={alice}"))).await;
    let (bob_ws, _) = join_url(&app.ws_url("films", chat, &format!("token={bob}"))).await;
    (app, alice, chat, alice_ws, bob_ws)
}

/// Alice's socket is told and closed with 4401 within 5 s, her old token
/// opens no socket, and Bob's socket stays.
async fn assert_revoked(app: &TestApp, alice: &str, chat: i64, mut alice_ws: Ws, mut bob_ws: Ws) {
    let started = Instant::now();
    expect_revoked(&mut alice_ws).await;
    assert_eq!(close_code(&mut alice_ws).await, 4401);
    assert!(started.elapsed() < WAIT, "{:?}", started.elapsed());
    let url = app.ws_url("films", chat, &format!("token={alice}"));
    assert_eq!(refused_status(&url).await, 401);
    // Bob may hear Alice go first.
    assert_served(&mut bob_ws).await;
}

/// The next frame but presence ones is the `not_authenticated` error.
async fn expect_revoked(ws: &mut Ws) {
    loop {
        match timeout(WAIT, ws.next()).await.expect("no frame within 5 s") {
            Some(Ok(Message::Text(text))) => {
                let frame: Value = serde_json::from_str(&text).unwrap();
                if frame["type"] != "presence" {
                    assert_eq!(frame["type"], "error", "{frame}");
                    assert_eq!(frame["code"], "not_authenticated", "{frame}");
                    assert!(frame["detail"].as_str().is_some_and(|d| !d.is_empty()));
                    return;
                }
            }
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
            other => panic!("expected the error frame, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn deleting_a_user_over_the_api_closes_their_sockets_with_4401() {
    let (app, alice, chat, alice_ws, bob_ws) = alice_and_bob().await;
    let deleted = app
        .client
        .delete(app.url("/api/user/"))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    assert_revoked(&app, &alice, chat, alice_ws, bob_ws).await;
}

#[tokio::test]
async fn deleting_a_user_from_the_command_line_closes_their_sockets_with_4401() {
    let (app, alice, chat, alice_ws, bob_ws) = alice_and_bob().await;
    chatd(&["user", "delete", "alice"], &app);
    assert_revoked(&app, &alice, chat, alice_ws, bob_ws).await;
}

#[tokio::test]
async fn a_new_password_from_the_command_line_closes_the_old_sockets_only() {
    let (app, alice, chat, alice_ws, bob_ws) = alice_and_bob().await;
    chatd(
        &[
            "user",
            "set-password",
            "alice",
            "--password",
            "a brand new passphrase",
        ],
        &app,
    );
    assert_revoked(&app, &alice, chat, alice_ws, bob_ws).await;
    // Signed in again with the new password, a socket stays open.
    let login = app
        .client
        .post(app.url("/api/token/"))
        .form(&[
            ("username", "alice"),
            ("password", "a brand new passphrase"),
        ])
        .send()
        .await
        .unwrap();
    let token = login.json::<Value>().await.unwrap()["access"]
        .as_str()
        .unwrap()
        .to_string();
    let (mut ws, hello) = join_url(&app.ws_url("films", chat, &format!("token={token}"))).await;
    assert_eq!(hello["user"], "alice");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    post_and_wait(&mut ws, "still here", "n").await;
}

/// Ping, and expect the pong (presence frames may come first).
async fn assert_served(ws: &mut Ws) {
    send_json(ws, serde_json::json!({"type": "ping"})).await;
    assert_eq!(next_non_presence(ws).await["type"], "pong");
}

#[tokio::test]
async fn a_chat_deleted_with_its_creator_from_the_command_line_is_closed_with_4404() {
    let (app, _alice, chat, mut alice_ws, _bob_ws) = alice_and_bob().await;
    // Bob created the chat; it goes with him.
    let started = Instant::now();
    chatd(&["user", "delete", "bob"], &app);
    loop {
        let frame = next_json(&mut alice_ws).await;
        if frame["type"] != "presence" {
            assert_eq!(frame, serde_json::json!({"type": "chat_deleted"}));
            break;
        }
    }
    assert_eq!(close_code(&mut alice_ws).await, 4404);
    assert!(started.elapsed() < WAIT, "{:?}", started.elapsed());
    let (status, _) = app.get_json(&format!("/api/chat/films/{chat}/")).await;
    assert_eq!(status, 404);
}
