//! Soak test: chatd under mixed REST + WebSocket load for a few minutes while
//! some clients misbehave, then checks that nothing was lost or repeated,
//! that memory came back down, and that the log has no errors.
//!
//! ```text
//! cargo build --release && cargo run --release --example soak -- --seconds 120
//! ```
//!
//! Loopback only, bounded in time; the server is the release binary run as a
//! child process (so its memory is its own) and is stopped by PID.
//!
//! Well-behaved clients send a message every half second and read
//! everything. Around them: slow readers that never read (dropped once
//! their queue is full: 1008, or a reset when the close cannot get through),
//! flooders (throttled), clients sending malformed and oversized frames
//! (error frames, close 1009), clients that drop their connection without a
//! close, and REST traffic (listing rooms, history, creating chats, some with
//! taken titles, fetching images).

use std::collections::{BTreeSet, HashMap};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use serde_json::{json, Value};

mod clients;
mod server;

use clients::{abrupt, flooder, good, malformed, slow_reader};
use server::{account, history, rest_load, rss_kib, start_server, ws_url};

#[derive(Parser)]
struct Args {
    /// How long the load runs.
    #[arg(long, default_value_t = 120)]
    seconds: u64,
    /// The chatd binary to test.
    #[arg(long, default_value = "target/release/chatd")]
    binary: String,
    /// Well-behaved clients per chat.
    #[arg(long, default_value_t = 5)]
    good_per_chat: usize,
}

const PASSWORD: &str = "soak test password 1";
const ROOMS: [&str; 4] = ["films", "music", "books", "games"];

#[derive(Default)]
struct Counters {
    sent: AtomicU64,
    acknowledged: AtomicU64,
    throttled: AtomicU64,
    error_frames: AtomicU64,
    dropped_slow: AtomicU64,
    closed_1009: AtomicU64,
    abrupt: AtomicU64,
    rest_ok: AtomicU64,
    rest_4xx: AtomicU64,
    rest_5xx: AtomicU64,
}

/// What each good client saw: chat id, ids received in order, and the
/// (id, text) of its own acknowledged messages.
struct Seen {
    chat: i64,
    received: Vec<i64>,
    own: Vec<(i64, String)>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let dir = tempfile::tempdir()?;
    let log = Arc::new(Mutex::new(Vec::new()));
    let (mut child, base) = start_server(&args.binary, dir.path(), log.clone())?;
    let pid = child.id();
    let result = run(&args, &base, pid, log.clone()).await;
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let exit = child.wait()?;
    let ok = match result {
        Ok(ok) => ok && exit.success(),
        Err(error) => {
            eprintln!("soak failed: {error:#}");
            false
        }
    };
    // `exit` skips destructors: the data directory goes first.
    drop(dir);
    std::process::exit(if ok { 0 } else { 1 });
}

async fn run(
    args: &Args,
    base: &str,
    pid: u32,
    log: Arc<Mutex<Vec<String>>>,
) -> anyhow::Result<bool> {
    let http = reqwest::Client::new();
    let owner = account(&http, base, "soak-owner").await?;
    let mut chats = Vec::new();
    for room in ROOMS {
        let chat: Value = http
            .post(format!("{base}/api/chat/"))
            .bearer_auth(&owner)
            .json(&json!({"title": format!("soak {room}"), "room": room}))
            .send()
            .await?
            .json()
            .await?;
        let id = chat["chat"]["id"]
            .as_i64()
            .ok_or_else(|| anyhow::anyhow!("no chat: {chat}"))?;
        chats.push((room.to_string(), id));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_start = rss_kib(pid);

    let stop = Arc::new(AtomicBool::new(false));
    let counters = Arc::new(Counters::default());
    let mut goods = Vec::new();
    let mut others = Vec::new();
    for (i, (room, chat)) in chats.iter().enumerate() {
        for g in 0..args.good_per_chat {
            let name = format!("good-{i}-{g}");
            let token = account(&http, base, &name).await?;
            goods.push(tokio::spawn(good(
                ws_url(base, room, *chat, &token),
                *chat,
                name,
                stop.clone(),
                counters.clone(),
            )));
        }
        let token = account(&http, base, &format!("bad-{i}")).await?;
        let url = ws_url(base, room, *chat, &token);
        others.push(tokio::spawn(slow_reader(
            url.clone(),
            stop.clone(),
            counters.clone(),
        )));
        others.push(tokio::spawn(flooder(
            url.clone(),
            stop.clone(),
            counters.clone(),
        )));
        others.push(tokio::spawn(malformed(
            url.clone(),
            stop.clone(),
            counters.clone(),
        )));
        others.push(tokio::spawn(abrupt(url, stop.clone(), counters.clone())));
    }
    let rest_tasks = if std::env::var("SOAK_SKIP")
        .unwrap_or_default()
        .contains("rest")
    {
        0
    } else {
        2
    };
    for _ in 0..rest_tasks {
        others.push(tokio::spawn(rest_load(
            base.to_string(),
            owner.clone(),
            chats.clone(),
            stop.clone(),
            counters.clone(),
        )));
    }

    let started = Instant::now();
    let mut rss_peak = 0;
    while started.elapsed() < Duration::from_secs(args.seconds) {
        tokio::time::sleep(Duration::from_secs(1)).await;
        rss_peak = rss_peak.max(rss_kib(pid));
    }
    stop.store(true, Ordering::Relaxed);
    let mut seen = Vec::new();
    let mut problems = Vec::new();
    for task in goods {
        match task.await {
            Ok(Ok(s)) => seen.push(s),
            Ok(Err(error)) => problems.push(format!("{error:#}")),
            Err(error) => problems.push(error.to_string()),
        }
    }
    for task in others {
        let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
    }
    // Let the server notice every departure and free what it held.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let rss_end = rss_kib(pid);
    let threads = std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|d| d.count())
        .unwrap_or(0);
    println!("server threads after: {threads}");
    if std::env::var_os("SOAK_HOLD").is_some() {
        println!("holding for inspection: pid {pid}");
        tokio::time::sleep(Duration::from_secs(60)).await;
    }

    // Every acknowledged message is stored exactly once; every good reader
    // saw its chat's messages in order, without gaps or repeats.
    let mut histories: HashMap<i64, Vec<Value>> = HashMap::new();
    for (room, chat) in &chats {
        histories.insert(*chat, history(&http, base, room, *chat).await?);
    }
    for s in &seen {
        let stored = &histories[&s.chat];
        let ids: Vec<i64> = stored.iter().filter_map(|m| m["id"].as_i64()).collect();
        if ids.windows(2).any(|w| w[0] >= w[1]) {
            problems.push(format!(
                "chat {}: history ids not strictly increasing",
                s.chat
            ));
        }
        for (id, text) in &s.own {
            let copies = stored.iter().filter(|m| m["text"] == text.as_str()).count();
            if copies != 1 || !ids.contains(id) {
                problems.push(format!(
                    "chat {}: acknowledged message {id} {text:?} stored {copies} times",
                    s.chat
                ));
            }
        }
        if s.received.windows(2).any(|w| w[0] >= w[1]) {
            problems.push(format!(
                "chat {}: a reader got ids out of order or twice",
                s.chat
            ));
        }
        // From the first id it saw to the last, it saw every stored message.
        if let (Some(first), Some(last)) = (s.received.first(), s.received.last()) {
            let expected: BTreeSet<i64> = ids
                .iter()
                .copied()
                .filter(|id| id >= first && id <= last)
                .collect();
            let got: BTreeSet<i64> = s.received.iter().copied().collect();
            let missed = expected.difference(&got).count();
            if missed > 0 {
                problems.push(format!(
                    "chat {}: a reader missed {missed} stored messages",
                    s.chat
                ));
            }
        }
    }
    let errors: Vec<String> = log
        .lock()
        .unwrap()
        .iter()
        .filter(|l| l.contains("ERROR") || l.contains("panicked"))
        .cloned()
        .collect();
    if !errors.is_empty() {
        problems.push(format!(
            "{} error lines in the log, e.g. {}",
            errors.len(),
            errors[0]
        ));
    }
    if counters.rest_5xx.load(Ordering::Relaxed) > 0 {
        problems.push("REST answered 5xx".into());
    }
    // Every malformed client's connection ends with an oversized frame.
    if counters.closed_1009.load(Ordering::Relaxed) == 0 {
        problems.push("no oversized frame was closed with 1009".into());
    }
    let c = |a: &AtomicU64| a.load(Ordering::Relaxed);
    let stored: usize = histories.values().map(Vec::len).sum();
    println!(
        "soak: {} s, {} good clients, 4 chats",
        args.seconds,
        seen.len()
    );
    println!(
        "{:<32} {:>12}",
        "messages sent by good clients",
        c(&counters.sent)
    );
    println!(
        "{:<32} {:>12}",
        "acknowledged to their senders",
        c(&counters.acknowledged)
    );
    println!("{:<32} {:>12}", "stored messages (all clients)", stored);
    println!(
        "{:<32} {:>12}",
        "throttled frames (flooders)",
        c(&counters.throttled)
    );
    println!(
        "{:<32} {:>12}",
        "error frames (malformed)",
        c(&counters.error_frames)
    );
    println!(
        "{:<32} {:>12}",
        "never-read dropped (1008/reset)",
        c(&counters.dropped_slow)
    );
    println!(
        "{:<32} {:>12}",
        "closed 1009 (oversized)",
        c(&counters.closed_1009)
    );
    println!("{:<32} {:>12}", "abrupt disconnects", c(&counters.abrupt));
    println!("{:<32} {:>12}", "REST 2xx/3xx", c(&counters.rest_ok));
    println!(
        "{:<32} {:>12}",
        "REST 4xx (expected)",
        c(&counters.rest_4xx)
    );
    println!("{:<32} {:>12}", "REST 5xx", c(&counters.rest_5xx));
    println!("{:<32} {:>9} KiB", "server RSS at start", rss_start);
    println!("{:<32} {:>9} KiB", "server RSS peak", rss_peak);
    println!("{:<32} {:>9} KiB", "server RSS after", rss_end);
    for problem in &problems {
        println!("PROBLEM: {problem}");
    }
    let summary = json!({
        "seconds": args.seconds,
        "sent": c(&counters.sent),
        "acknowledged": c(&counters.acknowledged),
        "stored": stored,
        "throttled": c(&counters.throttled),
        "error_frames": c(&counters.error_frames),
        "dropped_slow": c(&counters.dropped_slow),
        "closed_1009": c(&counters.closed_1009),
        "abrupt": c(&counters.abrupt),
        "rest_ok": c(&counters.rest_ok),
        "rest_4xx": c(&counters.rest_4xx),
        "rest_5xx": c(&counters.rest_5xx),
        "rss_start_kib": rss_start,
        "rss_peak_kib": rss_peak,
        "rss_end_kib": rss_end,
        "problems": problems.len(),
    });
    println!("{summary}");
    Ok(problems.is_empty())
}
