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
//! everything. Around them: slow readers that never read (closed with 1008),
//! flooders (throttled), clients sending malformed and oversized frames
//! (error frames, close 1009), clients that drop their connection without a
//! close, and REST traffic (listing rooms, history, creating chats, some with
//! taken titles, fetching images).

use std::collections::{BTreeSet, HashMap};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

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
    closed_1008: AtomicU64,
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

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

fn start_server(
    binary: &str,
    dir: &std::path::Path,
    log: Arc<Mutex<Vec<String>>>,
) -> anyhow::Result<(Child, String)> {
    let mut child = Command::new(binary)
        .args(["--addr", "127.0.0.1:0", "--data-dir"])
        .arg(dir)
        .args(["--rate-limit", "off"])
        .env("RUST_LOG", "chatd=warn,chatd::http::server=info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            anyhow::anyhow!("cannot start {binary} (run `cargo build --release` first): {e}")
        })?;
    let stdout = child.stdout.take().expect("piped");
    let stderr = child.stderr.take().expect("piped");
    let mut lines = BufReader::new(stdout).lines();
    let url = loop {
        let line = lines
            .next()
            .ok_or_else(|| anyhow::anyhow!("chatd exited early"))??;
        if let Some(rest) = line.split("listening on ").nth(1) {
            break rest
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_string();
        }
    };
    let out_log = log.clone();
    std::thread::spawn(move || {
        lines
            .map_while(Result::ok)
            .for_each(|l| out_log.lock().unwrap().push(l))
    });
    std::thread::spawn(move || {
        BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
            .for_each(|l| log.lock().unwrap().push(l))
    });
    Ok((child, url))
}

async fn account(http: &reqwest::Client, base: &str, name: &str) -> anyhow::Result<String> {
    http.post(format!("{base}/api/register/"))
        .json(&json!({"username": name, "email": format!("{name}@example.com"), "password": PASSWORD}))
        .send()
        .await?;
    let body: Value = http
        .post(format!("{base}/api/token/"))
        .json(&json!({"username": name, "password": PASSWORD}))
        .send()
        .await?
        .json()
        .await?;
    body["access"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| anyhow::anyhow!("no token for {name}: {body}"))
}

fn ws_url(base: &str, room: &str, chat: i64, token: &str) -> String {
    format!(
        "ws://{}/chat/{room}/{chat}/?token={token}",
        base.trim_start_matches("http://")
    )
}

/// A good client: sends every 500 ms, reads everything.
async fn good(
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

/// Never reads while the load runs; the server should drop it with 1008
/// once its queue is full. Afterwards it reads what reached it, to see how
/// it was closed.
async fn slow_reader(url: String, stop: Arc<AtomicBool>, counters: Arc<Counters>) {
    let Ok((mut socket, _)) = tokio_tungstenite::connect_async(&url).await else {
        return;
    };
    while !stop.load(Ordering::Relaxed) {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    while let Ok(Some(Ok(frame))) =
        tokio::time::timeout(Duration::from_secs(2), socket.next()).await
    {
        if let Message::Close(Some(close)) = frame {
            if u16::from(close.code) == 1008 {
                counters.closed_1008.fetch_add(1, Ordering::Relaxed);
            }
            break;
        }
    }
}

/// Sends as fast as it can and reads (so it is throttled, not dropped).
async fn flooder(url: String, stop: Arc<AtomicBool>, counters: Arc<Counters>) {
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
async fn malformed(url: String, stop: Arc<AtomicBool>, counters: Arc<Counters>) {
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
        let _ = sink.send(Message::text("x".repeat(20 * 1024))).await;
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
async fn abrupt(url: String, stop: Arc<AtomicBool>, counters: Arc<Counters>) {
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

async fn rest_load(
    base: String,
    token: String,
    chats: Vec<(String, i64)>,
    stop: Arc<AtomicBool>,
    counters: Arc<Counters>,
) {
    let http = reqwest::Client::new();
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let (room, chat) = &chats[n as usize % chats.len()];
        let request = match n % 5 {
            0 => http.get(format!("{base}/api/chat/{room}/")),
            1 => http.get(format!("{base}/api/chat/{room}/{chat}/messages/?page=last")),
            2 => http
                .post(format!("{base}/api/chat/{room}/"))
                .bearer_auth(&token)
                // Every other title is taken: a 400 each time.
                .form(&[
                    ("title", format!("rest chat {}", n / 2)),
                    ("description", "made under load".into()),
                ]),
            3 => http.get(format!("{base}/media/chat_img/default.jpg")),
            _ => http.get(format!("{base}/api/chat/{room}/{chat}/")),
        };
        match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                let _ = response.bytes().await;
                let counter = match status {
                    200..=399 => &counters.rest_ok,
                    400..=499 => &counters.rest_4xx,
                    _ => &counters.rest_5xx,
                };
                counter.fetch_add(1, Ordering::Relaxed);
            }
            Err(_) => {
                counters.rest_5xx.fetch_add(1, Ordering::Relaxed);
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn history(
    http: &reqwest::Client,
    base: &str,
    room: &str,
    chat: i64,
) -> anyhow::Result<Vec<Value>> {
    let mut next = Some(format!("{base}/api/chat/{room}/{chat}/messages/"));
    let mut all = Vec::new();
    while let Some(url) = next {
        let page: Value = http.get(&url).send().await?.json().await?;
        all.extend(page["results"].as_array().cloned().unwrap_or_default());
        next = page["next"].as_str().map(str::to_string);
    }
    Ok(all)
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
        "closed 1008 (never read)",
        c(&counters.closed_1008)
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
        "closed_1008": c(&counters.closed_1008),
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
