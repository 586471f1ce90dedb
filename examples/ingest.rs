//! Durable message ingest: messages per second committed with
//! `synchronous=FULL` through chatd's real write path. Loopback only,
//! bounded by `--seconds`.
//!
//! ```text
//! cargo build --release --bin chatd && cargo build --release --examples
//! target/release/examples/ingest --seconds 10
//! ```
//!
//! Two modes (`--mode writer|ws|both`, both by default):
//! - `writer`: drives `chatd::live::writer::Writer` in-process, as the sockets do:
//!   `--senders` tasks queue `Op::Post` as fast as the writer's queue takes
//!   them; an observer socket joined to the hub counts the `message` frames
//!   the writer broadcasts after each group commit. The clock stops once
//!   the search index holds them too; afterwards rows and index entries are
//!   counted in the database.
//! - `ws`: the whole server: `--senders` authenticated WebSockets into a
//!   chatd child process, one chat each, each keeping `--window` messages in
//!   flight (sent, not yet echoed back after the commit). Afterwards every
//!   chat's message count is checked over REST.
//!
//! Prints a table and one line of JSON. Target: 30,000 messages/s.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio::io::AsyncReadExt;
use tokio_tungstenite::tungstenite::Message;

use chatd::live::fanout::{Event, Fanout};
use chatd::live::hub::Hub;
use chatd::live::peer::{Control, Out, Peer};
use chatd::live::wire;
use chatd::live::writer::{Op, Writer};
use chatd::rooms::Room;
use chatd::storage::chats::{self, NewChat};

#[path = "bench/common.rs"]
mod common;

#[derive(Parser)]
#[command(about = "Durable message ingest through chatd's group-commit writer")]
struct Args {
    /// Measured seconds of each mode.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// writer, ws or both.
    #[arg(long, default_value = "both")]
    mode: String,
    /// Concurrent senders (tasks in writer mode, sockets in ws mode).
    #[arg(long, default_value_t = 32)]
    senders: usize,
    /// ws mode: messages in flight per socket.
    #[arg(long, default_value_t = 32)]
    window: u64,
    /// The chatd binary for ws mode (default: target/release/chatd).
    #[arg(long)]
    chatd: Option<PathBuf>,
    /// Where the temporary data directories go (default: the system temp dir).
    #[arg(long)]
    tmp: Option<PathBuf>,
}

struct Outcome {
    mode: &'static str,
    committed: u64,
    per_sec: f64,
    verified: bool,
    detail: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    println!("machine: {}", common::machine());
    let mut outcomes = Vec::new();
    if matches!(args.mode.as_str(), "writer" | "both") {
        outcomes.push(writer_mode(&args).await?);
    }
    if matches!(args.mode.as_str(), "ws" | "both") {
        outcomes.push(ws_mode(&args).await?);
    }
    let rows: Vec<Vec<String>> = outcomes
        .iter()
        .map(|o| {
            vec![
                o.mode.to_string(),
                o.committed.to_string(),
                format!("{:.0}", o.per_sec),
                if o.per_sec >= 30_000.0 {
                    "met"
                } else {
                    "MISSED"
                }
                .to_string(),
                if o.verified { "yes" } else { "NO" }.to_string(),
                o.detail.clone(),
            ]
        })
        .collect();
    println!();
    common::print_table(
        &[
            "mode",
            "committed",
            "msgs/s",
            ">= 30,000/s",
            "all on disk",
            "detail",
        ],
        &rows,
    );
    let summary: serde_json::Map<String, serde_json::Value> = outcomes
        .iter()
        .map(|o| {
            (
                format!("ingest_{}", o.mode),
                json!({
                    "committed": o.committed,
                    "msgs_per_s": common::round(o.per_sec, 1),
                    "target_met": o.per_sec >= 30_000.0,
                    "verified": o.verified,
                }),
            )
        })
        .collect();
    println!();
    println!("{}", serde_json::Value::Object(summary));
    Ok(())
}

/// A peer that nobody reads (the senders' origin: the writer only uses it
/// to report refusals).
fn quiet_peer() -> Peer {
    Peer {
        out: Arc::new(Out::new(None, 1 << 16)),
        control: Arc::new(Control::default()),
    }
}

/// An observer socket: a real loopback TCP stream whose far end is read
/// and thrown away, so the hub writes every broadcast as it would to a
/// client.
async fn observer() -> anyhow::Result<Peer> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let mut far = tokio::net::TcpStream::connect(listener.local_addr()?).await?;
    let (near, _) = listener.accept().await?;
    tokio::spawn(async move {
        let mut buf = vec![0; 64 * 1024];
        while far.read(&mut buf).await.is_ok_and(|n| n > 0) {}
    });
    let out = Arc::new(Out::new(Some(Arc::new(near)), 1 << 16));
    out.open(wire::text(b"{}"), 0);
    Ok(Peer {
        out,
        control: Arc::new(Control::default()),
    })
}

/// Counts the messages the writer publishes, then hands them to the hub.
struct Counting {
    committed: Arc<AtomicU64>,
    hub: Arc<Hub>,
}

impl Fanout for Counting {
    fn publish(&self, chat_id: i64, event: Event) {
        if matches!(event, Event::MessagePosted { .. }) {
            self.committed.fetch_add(1, Ordering::Relaxed);
        }
        self.hub.publish(chat_id, event);
    }
}

async fn writer_mode(args: &Args) -> anyhow::Result<Outcome> {
    let dir = common::data_dir(args.tmp.as_deref())?;
    let path = dir.path().join("chat.db");
    // Creates the schema; the pool itself is not needed.
    chatd::storage::Db::open(&path)?;
    let (user_id, chat_id) = {
        let conn = chatd::storage::connect(&path)?;
        let user = chatd::storage::users::insert(&conn, "ingest", "ingest@example.com", "-")
            .map_err(|_| anyhow::anyhow!("cannot insert the benchmark user"))?;
        let chat = chats::insert(
            &conn,
            &NewChat {
                room: Room::Films,
                title: "ingest".into(),
                description: None,
                img: None,
                creator_id: user.id,
            },
        )?;
        (user.id, chat.id)
    };

    let hub = Hub::new(16);
    let committed = Arc::new(AtomicU64::new(0));
    let counting = Arc::new(Counting {
        committed: committed.clone(),
        hub: hub.clone(),
    });
    let writer = Writer::start(
        &path,
        counting,
        Arc::new(chatd::metrics::Metrics::default()),
    )?;
    // The observer: one socket in the chat, read as fast as frames come.
    hub.join(chat_id, Arc::from("http://bench"), observer().await?, None)
        .map_err(|e| anyhow::anyhow!("join: {e:?}"))?;
    let origin = quiet_peer();

    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(args.seconds);
    let submitted = Arc::new(AtomicU64::new(0));
    let mut senders = Vec::new();
    for sender in 0..args.senders {
        let writer = writer.clone();
        let origin = origin.clone();
        let submitted = submitted.clone();
        senders.push(tokio::spawn(async move {
            let mut n = 0u64;
            while Instant::now() < deadline {
                writer
                    .submit(Op::Post {
                        chat_id,
                        user_id,
                        text: format!("ingest message {sender}-{n}"),
                        nonce: None,
                        origin: origin.clone(),
                    })
                    .await
                    .map_err(|_| anyhow::anyhow!("the writer stopped"))?;
                n += 1;
                submitted.fetch_add(1, Ordering::Relaxed);
            }
            anyhow::Ok(())
        }));
    }
    for sender in senders {
        sender.await??;
    }
    writer.flush().await;
    // Stored and findable: the search index follows the writer, and the
    // time it needs to catch up counts.
    writer.searchable().await;
    let elapsed = started.elapsed().as_secs_f64();
    let committed = committed.load(Ordering::Relaxed);
    let submitted = submitted.load(Ordering::Relaxed);
    let conn = chatd::storage::connect(&path)?;
    let rows: u64 = conn.query_row("SELECT COUNT(*) FROM messages", [], |row| row.get(0))?;
    let indexed: u64 = conn.query_row("SELECT COUNT(*) FROM messages_fts_docsize", [], |row| {
        row.get(0)
    })?;
    let per_sec = committed as f64 / elapsed;
    println!(
        "writer: {submitted} submitted, {committed} committed and broadcast, {rows} rows, {indexed} indexed, {per_sec:.0} msgs/s"
    );
    Ok(Outcome {
        mode: "writer",
        committed,
        per_sec,
        verified: rows == submitted && committed == submitted && indexed == rows,
        detail: format!(
            "{} senders, {submitted} submitted, {rows} rows, {indexed} indexed",
            args.senders
        ),
    })
}

async fn ws_mode(args: &Args) -> anyhow::Result<Outcome> {
    let chatd_bin = args
        .chatd
        .clone()
        .unwrap_or_else(|| common::profile_dir().join("chatd"));
    let dir = common::data_dir(args.tmp.as_deref())?;
    let server = common::spawn_chatd(&chatd_bin, dir.path(), common::CHATD_BENCH_ENV)?;
    let addr = server.addr;
    common::wait_healthy(addr, Duration::from_secs(20)).await?;
    let token = common::register_and_login(addr, "ingest").await?;
    let mut chats = Vec::new();
    for i in 0..args.senders {
        chats.push(
            common::create_chat(addr, &token, "films", &format!("ingest {i}"), "ingest").await?,
        );
    }

    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(args.seconds);
    let echoed = Arc::new(AtomicU64::new(0));
    let mut sockets = Vec::new();
    for &chat in &chats {
        let echoed = echoed.clone();
        let url = format!("ws://{addr}/chat/films/{chat}/?token={token}");
        let window = args.window;
        sockets.push(tokio::spawn(async move {
            sender_socket(&url, window, deadline, &echoed).await
        }));
    }
    let mut sent = 0;
    for socket in sockets {
        sent += socket.await??;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let echoed = echoed.load(Ordering::Relaxed);
    let mut stored = 0;
    for &chat in &chats {
        stored += history_count(addr, chat).await?;
    }
    let per_sec = echoed as f64 / elapsed;
    println!("ws: {sent} sent, {echoed} echoed after commit, {stored} in the REST history, {per_sec:.0} msgs/s");
    drop(server);
    Ok(Outcome {
        mode: "ws",
        committed: echoed,
        per_sec,
        verified: stored == sent && echoed == sent,
        detail: format!(
            "{} sockets x {} in flight, {sent} sent, {stored} in history",
            args.senders, args.window
        ),
    })
}

/// One sender: keeps `window` messages in flight until `deadline`, then
/// waits for the rest of its echoes. Returns how many it sent.
async fn sender_socket(
    url: &str,
    window: u64,
    deadline: Instant,
    echoed: &AtomicU64,
) -> anyhow::Result<u64> {
    let (mut ws, _) = tokio_tungstenite::connect_async_with_config(url, None, true)
        .await
        .with_context(|| format!("connecting {url}"))?;
    let (mut sent, mut back) = (0u64, 0u64);
    loop {
        let open = Instant::now() < deadline;
        if open && sent < back + window {
            while sent < back + window {
                ws.feed(Message::text(format!(
                    r#"{{"type":"message","text":"ingest {sent}"}}"#
                )))
                .await?;
                sent += 1;
            }
            ws.flush().await?;
        }
        if !open && back == sent {
            break;
        }
        match tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
            Ok(Some(Ok(Message::Text(text)))) if text.starts_with(r#"{"type":"message""#) => {
                back += 1;
                echoed.fetch_add(1, Ordering::Relaxed);
            }
            Ok(Some(Ok(_))) => {}
            _ => anyhow::bail!("socket ended with {} of {sent} echoed", back),
        }
    }
    let _ = ws.close(None).await;
    Ok(sent)
}

async fn history_count(addr: SocketAddr, chat: i64) -> anyhow::Result<u64> {
    let (status, body) = common::call(
        addr,
        "GET",
        &format!("/api/chat/films/{chat}/messages/"),
        None,
        None,
    )
    .await?;
    anyhow::ensure!(status == 200, "history: {status}");
    body["count"].as_u64().context("no count")
}
