//! Slow and dead clients: one that never reads or stops answering pings is
//! dropped, while readers that keep up (or idle and answer pings) stay.

use crate::common::*;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::time::{timeout, Instant};
use tokio_tungstenite::tungstenite::{self, Message};

use crate::{create, history, join};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_is_dropped_and_the_others_keep_receiving() {
    let app = spawn_app_with(|c| {
        c.ws.queue_len = 8;
        c.ws.burst = 10_000;
        c.ws.rate_per_sec = 100_000.0;
    })
    .await;
    let token = app.user("alice").await;
    let chat = create(&app, &token, "Dune").await;

    let (mut reader, _) = join(&app, chat, None).await;
    let (mut sender, _) = join(&app, chat, Some(&token)).await;
    assert_eq!(
        next_json(&mut reader).await,
        json!({"type": "presence", "online": 2})
    );
    // The slow client: its hello is never read, nor anything after it.
    let mut slow = connect(&app.ws_url("films", chat, "")).await;
    for ws in [&mut reader, &mut sender] {
        assert_eq!(
            next_json(ws).await,
            json!({"type": "presence", "online": 3})
        );
    }

    let dropped = Arc::new(AtomicBool::new(false));
    let reading = {
        let dropped = dropped.clone();
        tokio::spawn(async move {
            let mut ids = Vec::new();
            let mut presences = Vec::new();
            loop {
                let frame = next_json(&mut reader).await;
                match frame["type"].as_str() {
                    Some("message") => {
                        ids.push(id_of(&frame));
                        if frame["message"]["text"] == "the end" {
                            return (reader, ids, presences);
                        }
                    }
                    Some("presence") => {
                        presences.push(frame["online"].as_u64().unwrap());
                        dropped.store(true, Ordering::SeqCst);
                    }
                    _ => panic!("unexpected {frame}"),
                }
            }
        })
    };

    // Keep a few messages in flight (fewer than the queue holds), so the
    // reader is never far behind; the slow client's socket buffers fill up.
    const WINDOW: usize = 4;
    const MAX: usize = 20_000;
    let text = "ü".repeat(1500);
    let started = Instant::now();
    let mut echoed = Vec::new();
    let mut sent = 0;
    let mut extra = 0;
    while sent < MAX && extra < 20 {
        post(&mut sender, &text, "s").await;
        sent += 1;
        if dropped.load(Ordering::SeqCst) {
            extra += 1;
        }
        if sent > WINDOW {
            echoed.push(id_of(&next_non_presence(&mut sender).await));
        }
        assert!(started.elapsed() < Duration::from_secs(25), "too slow");
    }
    assert!(
        dropped.load(Ordering::SeqCst),
        "the slow client was not dropped after {sent} messages"
    );
    post(&mut sender, "the end", "end").await;
    while echoed.len() < sent + 1 {
        let frame = next_json(&mut sender).await;
        if frame["type"] == "presence" {
            assert_eq!(frame["online"], 2);
            continue;
        }
        assert_eq!(frame["type"], "message", "{frame}");
        echoed.push(id_of(&frame));
    }
    let (_reader, read, presences) = timeout(Duration::from_secs(10), reading)
        .await
        .expect("reader timed out")
        .unwrap();
    assert_eq!(read, echoed, "the reader missed messages");
    assert_eq!(presences, [2]);

    // The slow client: whatever it was sent, then 1008 (or the end).
    let drained = timeout(Duration::from_secs(10), async {
        let mut texts = 0;
        loop {
            match slow.next().await {
                Some(Ok(Message::Text(_))) => texts += 1,
                Some(Ok(Message::Close(frame))) => {
                    return (texts, frame.map(|f| u16::from(f.code)))
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return (texts, None),
            }
        }
    })
    .await
    .expect("the slow client was never closed");
    assert!(drained.0 < sent + 2, "{drained:?}");
    assert_eq!(drained.1, Some(1008), "{drained:?}");
}

/// Reads `total` message frames (skipping presence) from a socket; returns
/// their ids, or what ended the socket first.
async fn collect_messages<S>(stream: &mut S, total: usize) -> Result<Vec<i64>, String>
where
    S: futures_util::Stream<Item = Result<Message, tungstenite::Error>> + Unpin,
{
    let mut ids = Vec::with_capacity(total);
    while ids.len() < total {
        let next = match timeout(Duration::from_secs(10), stream.next()).await {
            Ok(next) => next,
            Err(_) => return Err(format!("timed out after {} messages", ids.len())),
        };
        match next {
            Some(Ok(Message::Text(text))) => {
                let frame: Value = serde_json::from_str(text.as_str()).unwrap();
                match frame["type"].as_str() {
                    Some("message") => ids.push(id_of(&frame)),
                    Some("presence") => {}
                    _ => return Err(format!("unexpected frame {frame}")),
                }
            }
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
            other => return Err(format!("after {} messages: {other:?}", ids.len())),
        }
    }
    Ok(ids)
}

/// Everyone sends no more than the default burst allows, and every client
/// reads as fast as it can: nobody is "too slow", so nobody may be closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_room_within_the_limits_does_not_disconnect_readers_that_keep_up() {
    let app = spawn_app().await;
    let token = app.user("alice").await;
    let chat = create(&app, &token, "Dune").await;
    const SENDERS: usize = 20;
    const EACH: usize = 30; // the default burst
    const TOTAL: usize = SENDERS * EACH;

    let (mut reader, _) = join(&app, chat, None).await;
    let mut senders = Vec::new();
    for _ in 0..SENDERS {
        senders.push(join(&app, chat, Some(&token)).await.0);
    }
    let reading = tokio::spawn(async move { collect_messages(&mut reader, TOTAL).await });
    let mut sending = Vec::new();
    for (k, ws) in senders.into_iter().enumerate() {
        sending.push(tokio::spawn(async move {
            let (mut sink, mut stream) = ws.split();
            let echoes = tokio::spawn(async move { collect_messages(&mut stream, TOTAL).await });
            let mut frames = futures_util::stream::iter((0..EACH).map(|i| {
                let text = format!("sender {k} message {i}");
                Ok(Message::text(
                    json!({"type": "message", "text": text}).to_string(),
                ))
            }));
            sink.send_all(&mut frames).await.expect("send failed");
            let echoed = echoes.await.unwrap();
            (sink, echoed)
        }));
    }
    let mut sequences = Vec::new();
    for task in sending {
        let (_sink, echoed) = task.await.unwrap();
        sequences.push(echoed);
    }
    let read = reading.await.unwrap().expect("the reader was disconnected");
    assert_eq!(read.len(), TOTAL);
    assert!(read.windows(2).all(|w| w[0] < w[1]));
    for (k, echoed) in sequences.into_iter().enumerate() {
        assert_eq!(
            echoed.unwrap_or_else(|e| panic!("sender {k} was disconnected: {e}")),
            read
        );
    }
    let page = history(&app, chat, "?page=6").await;
    assert_eq!(page["count"], TOTAL);
    assert_eq!(ids(&results(&page)), read[500..]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_client_that_answers_pings_stays_connected() {
    let app = spawn_app_with(|c| c.ws.ping_interval = Duration::from_millis(100)).await;
    let token = app.user("alice").await;
    let chat = create(&app, &token, "Dune").await;
    let (mut ws, _) = join(&app, chat, Some(&token)).await;

    // Send nothing, but keep reading: tungstenite answers every ping with a
    // pong, as browsers do. That is a live client, for 60 ping intervals.
    let mut pings = 0;
    let until = Instant::now() + Duration::from_secs(6);
    while let Ok(next) = tokio::time::timeout_at(until, ws.next()).await {
        match next {
            Some(Ok(Message::Ping(_))) => pings += 1,
            other => panic!("an idle client answering pings got {other:?} after {pings} pings"),
        }
    }
    assert!(pings >= 5, "idle sockets are pinged: {pings} pings");
    assert_alive(&mut ws).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_answering_pings_is_dropped_and_the_room_is_told() {
    let app = spawn_app_with(|c| c.ws.ping_interval = Duration::from_millis(200)).await;
    let token = app.user("alice").await;
    let chat = create(&app, &token, "Dune").await;
    let (mut a, _) = join(&app, chat, Some(&token)).await;
    // Never read: it never answers a ping.
    let mut dead = connect(&app.ws_url("films", chat, "")).await;
    assert_eq!(
        next_json(&mut a).await,
        json!({"type": "presence", "online": 2})
    );

    // `a` keeps talking (so it is never idle) until the room shrinks.
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut dropped = false;
    while !dropped && Instant::now() < deadline {
        send_json(&mut a, json!({"type": "ping"})).await;
        loop {
            let frame = next_json(&mut a).await;
            if frame == json!({"type": "pong"}) {
                break;
            }
            assert_eq!(frame, json!({"type": "presence", "online": 1}));
            dropped = true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        dropped,
        "a socket silent for 15 ping intervals is still in the room"
    );

    // The dead client's connection ends (after whatever was queued).
    timeout(WAIT, async {
        while let Some(Ok(message)) = dead.next().await {
            if matches!(message, Message::Close(_)) {
                break;
            }
        }
    })
    .await
    .expect("the dead socket was never closed");
}
