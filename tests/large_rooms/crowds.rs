//! Hundreds of sockets in one chat: presence frames few, spaced and right
//! as a crowd joins or leaves at once, and 1001 for all at shutdown.

use std::time::Duration;

use futures_util::future::join_all;
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::time::{timeout, Instant};
use tokio_tungstenite::tungstenite::Message;

use crate::common::*;

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
