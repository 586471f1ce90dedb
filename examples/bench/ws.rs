//! The WebSocket clients of `loadgen`: connecting with small buffers,
//! seeding a chat's history, the benchmark's timestamped `message` frames
//! and the receiver task that records each delivery's latency.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use futures_util::{SinkExt, Stream, StreamExt};
use hdrhistogram::Histogram;
use serde_json::json;
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use crate::{common, split};

// ----------------------------------------------------------------------------
// WebSockets

/// Small client buffers: the load generator shares the cores with the server.
fn client_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(16 * 1024)
        .write_buffer_size(0)
}

pub type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

pub async fn connect_ws(addr: SocketAddr, path: &str) -> anyhow::Result<Ws> {
    let url = format!("ws://{addr}{path}");
    let (ws, _) =
        tokio_tungstenite::connect_async_with_config(url.as_str(), Some(client_config()), true)
            .await
            .with_context(|| format!("connecting {url}"))?;
    Ok(ws)
}

/// Sends `texts` into a chatd chat and waits until all are echoed.
pub async fn seed_messages(
    addr: SocketAddr,
    token: &str,
    room: &str,
    chat: i64,
    texts: &[String],
) -> anyhow::Result<()> {
    let mut ws = connect_ws(addr, &format!("/chat/{room}/{chat}/?token={token}")).await?;
    for text in texts {
        ws.feed(Message::text(
            json!({"type": "message", "text": text}).to_string(),
        ))
        .await?;
    }
    ws.flush().await?;
    let mut echoed = 0;
    tokio::time::timeout(Duration::from_secs(30), async {
        while echoed < texts.len() {
            match ws.next().await {
                Some(Ok(Message::Text(t))) if t.starts_with(r#"{"type":"message""#) => echoed += 1,
                Some(Ok(_)) => {}
                _ => anyhow::bail!("socket closed while seeding"),
            }
        }
        anyhow::Ok(())
    })
    .await??;
    let _ = ws.close(None).await;
    Ok(())
}

/// A `message` frame of the benchmark, as the receivers see it.
enum BenchFrame {
    /// Sent `ns` after the epoch.
    Timed { ns: u64 },
    /// The end marker.
    End,
}

pub fn bench_text(epoch: Instant, seq: u64) -> Message {
    let ns = epoch.elapsed().as_nanos() as u64;
    Message::text(format!(r#"{{"type":"message","text":"bench {ns} {seq}"}}"#))
}

fn parse_bench(frame: &str) -> Option<BenchFrame> {
    if !frame.starts_with(r#"{"type":"message""#) {
        return None;
    }
    let at = frame.find(r#""text":"bench"#)?;
    let rest = &frame[at + r#""text":""#.len()..];
    if rest.starts_with("bench-end") {
        return Some(BenchFrame::End);
    }
    let rest = rest.strip_prefix("bench ")?;
    let rest = &rest[..rest.find('"')?];
    let (ns, _seq) = rest.split_once(' ')?;
    Some(BenchFrame::Timed {
        ns: ns.parse().ok()?,
    })
}

pub struct Shared {
    pub delivered: AtomicU64,
    /// Messages each socket received.
    pub per_socket: Vec<AtomicU64>,
    /// Max mode: woken on every delivery, so the sender can move its window.
    pub progress: Option<Notify>,
    /// `--fanout-split`: first and last delivery of each message.
    pub split: Option<split::Split>,
}

impl Shared {
    /// Messages the slowest socket received.
    pub fn slowest(&self) -> u64 {
        self.per_socket
            .iter()
            .map(|n| n.load(Ordering::Acquire))
            .min()
            .unwrap_or(0)
    }
}

pub struct Received {
    pub histogram: Histogram<u64>,
    pub last: Option<Instant>,
    /// The socket ended before the end marker.
    pub closed: bool,
}

/// Reads a socket until the end marker. Returns the socket too: it stays
/// open until every receiver is done, so no socket's leaving disturbs the
/// others (in chatd each leave is a `presence` frame to everyone).
pub async fn receive<S>(
    mut ws: S,
    shared: Arc<Shared>,
    index: usize,
    epoch: Instant,
) -> (Received, S)
where
    S: Stream<Item = Result<Message, WsError>> + Unpin,
{
    let mut histogram = common::histogram();
    let mut last = None;
    let mut closed = true;
    while let Some(item) = ws.next().await {
        match item {
            Ok(Message::Text(text)) => match parse_bench(&text) {
                Some(BenchFrame::Timed { ns }) => {
                    let now = epoch.elapsed();
                    let latency = now.saturating_sub(Duration::from_nanos(ns));
                    common::record_us(&mut histogram, latency);
                    if let Some(split) = &shared.split {
                        split.record(ns, latency);
                    }
                    last = Some(Instant::now());
                    shared.delivered.fetch_add(1, Ordering::Relaxed);
                    shared.per_socket[index].fetch_add(1, Ordering::Release);
                    if let Some(progress) = &shared.progress {
                        progress.notify_one();
                    }
                }
                Some(BenchFrame::End) => {
                    closed = false;
                    break;
                }
                None => {}
            },
            Ok(Message::Close(_)) | Err(_) => break,
            Ok(_) => {}
        }
    }
    let received = Received {
        histogram,
        last,
        closed,
    };
    (received, ws)
}
