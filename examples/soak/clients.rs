//! The soak's WebSocket clients: the well-behaved ones, and those that never
//! read, flood, send malformed or oversized frames, or drop without a close.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use crate::{Counters, Seen};

/// A good client: sends every 500 ms, reads everything.
pub(super) async fn good(
    url: String,
    chat: i64,
    me: String,
    stop: Arc<AtomicBool>,
    counters: Arc<Counters>,
) -> anyhow::Result<Seen> {
    let (socket, _) = tokio_tungstenite::connect_async(&url).await?;
    let (mut sink, mut stream) = socket.split();
    let mut seen = Seen {
        chat,
        received: Vec::new(),
        own: Vec::new(),
    };
    let mut n = 0u64;
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    let mut hello = true;
    loop {
        tokio::select! {
            _ = tick.tick(), if !stop.load(Ordering::Relaxed) => {
                n += 1;
                let text = format!("{me} says {n}");
                let frame = json!({"type": "message", "text": text, "nonce": text});
                sink.send(Message::text(frame.to_string())).await?;
                counters.sent.fetch_add(1, Ordering::Relaxed);
            }
            frame = tokio::time::timeout(Duration::from_secs(3), stream.next()) => {
                let frame = match frame {
                    Err(_) if stop.load(Ordering::Relaxed) => break,
                    Err(_) => continue,
                    Ok(None) => anyhow::bail!("{me}: the server closed a good client"),
                    Ok(Some(frame)) => frame?,
                };
                let Message::Text(text) = frame else { continue };
                let value: Value = serde_json::from_str(&text)?;
                match value["type"].as_str() {
                    Some("hello") if hello => {
                        hello = false;
                        for m in value["messages"].as_array().into_iter().flatten() {
                            seen.received.push(m["id"].as_i64().unwrap_or(0));
                        }
                    }
                    Some("message") => {
                        let id = value["message"]["id"].as_i64().unwrap_or(0);
                        seen.received.push(id);
                        if value["message"]["user_name"] == me.as_str() {
                            seen.own.push((id, value["message"]["text"].as_str().unwrap_or("").to_string()));
                            counters.acknowledged.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    Some("error") => anyhow::bail!("{me}: a good client got an error frame: {value}"),
                    _ => {}
                }
            }
        }
    }
    let _ = sink.send(Message::Close(None)).await;
    Ok(seen)
}

/// Never reads while the load runs; the server should drop it once its
/// queue is full (1024 frames past the kernel's buffers: a minute or two
/// of the soak's traffic). Afterwards it reads what reached it, to see how
/// it was dropped: a 1008 close frame if the server's close got through,
/// else a reset (a close queued behind frames nobody reads never does).
pub(super) async fn slow_reader(url: String, stop: Arc<AtomicBool>, counters: Arc<Counters>) {
    let Ok((mut socket, _)) = tokio_tungstenite::connect_async(&url).await else {
        return;
    };
    while !stop.load(Ordering::Relaxed) {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    loop {
        match tokio::time::timeout(Duration::from_secs(2), socket.next()).await {
            Ok(Some(Ok(Message::Close(Some(close))))) => {
                if u16::from(close.code) == 1008 {
                    counters.dropped_slow.fetch_add(1, Ordering::Relaxed);
                }
                break;
            }
            Ok(Some(Ok(_))) => {}
            // Reset or ended without a close: dropped all the same.
            Ok(Some(Err(_)) | None) => {
                counters.dropped_slow.fetch_add(1, Ordering::Relaxed);
                break;
            }
            // Everything read and still open: not (yet) dropped.
            Err(_) => break,
        }
    }
}

/// Sends as fast as it can and reads (so it is throttled, not dropped).
pub(super) async fn flooder(url: String, stop: Arc<AtomicBool>, counters: Arc<Counters>) {
    let Ok((socket, _)) = tokio_tungstenite::connect_async(&url).await else {
        return;
    };
    let (mut sink, mut stream) = socket.split();
    let reader = {
        let counters = counters.clone();
        tokio::spawn(async move {
            while let Some(Ok(frame)) = stream.next().await {
                if let Message::Text(text) = frame {
                    if text.contains(r#""code":"throttled""#) {
                        counters.throttled.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        })
    };
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let frame = json!({"type": "message", "text": format!("flood {n}")});
        if sink.send(Message::text(frame.to_string())).await.is_err() {
            break;
        }
        if n % 50 == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let _ = sink.send(Message::Close(None)).await;
    reader.abort();
}

/// Sends malformed frames, and now and then one too large (close 1009).
pub(super) async fn malformed(url: String, stop: Arc<AtomicBool>, counters: Arc<Counters>) {
    let bad = [
        Message::text("{not json"),
        Message::text("[1,2,3]"),
        Message::text(r#"{"type":"dance"}"#),
        Message::text(r#"{"type":"message","text":"   "}"#),
        Message::text(r#"{"type":"edit","id":"x","text":"y"}"#),
        Message::text(r#"{"type":"delete","id":999999999}"#),
        Message::binary(vec![0u8, 159, 146, 150]),
    ];
    while !stop.load(Ordering::Relaxed) {
        let Ok((socket, _)) = tokio_tungstenite::connect_async(&url).await else {
            return;
        };
        let (mut sink, mut stream) = socket.split();
        for (i, frame) in bad.iter().cycle().take(40).enumerate() {
            if sink.send(frame.clone()).await.is_err() {
                break;
            }
            if i % 8 == 7 {
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        }
        // Over the server's 64 KiB frame limit.
        let _ = sink.send(Message::text("x".repeat(65 * 1024))).await;
        while let Ok(Some(Ok(frame))) =
            tokio::time::timeout(Duration::from_secs(5), stream.next()).await
        {
            match frame {
                Message::Text(text) if text.contains(r#""type":"error""#) => {
                    counters.error_frames.fetch_add(1, Ordering::Relaxed);
                }
                Message::Close(Some(close)) if u16::from(close.code) == 1009 => {
                    counters.closed_1009.fetch_add(1, Ordering::Relaxed);
                    break;
                }
                _ => {}
            }
        }
    }
}

/// Connects, sends, and drops the TCP connection without a close frame.
pub(super) async fn abrupt(url: String, stop: Arc<AtomicBool>, counters: Arc<Counters>) {
    while !stop.load(Ordering::Relaxed) {
        if let Ok((mut socket, _)) = tokio_tungstenite::connect_async(&url).await {
            let _ = socket.next().await; // hello
            let _ = socket
                .send(Message::text(
                    json!({"type": "message", "text": "here and gone"}).to_string(),
                ))
                .await;
            drop(socket);
            counters.abrupt.fetch_add(1, Ordering::Relaxed);
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}
