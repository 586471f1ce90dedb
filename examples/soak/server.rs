//! The chatd child process under test (start, log, RSS) and the soak's REST
//! side: accounts, the background REST load, and reading a chat's history.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};

use crate::{Counters, PASSWORD};

pub(super) fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

pub(super) fn start_server(
    binary: &str,
    dir: &std::path::Path,
    log: Arc<Mutex<Vec<String>>>,
) -> anyhow::Result<(Child, String)> {
    let mut child = Command::new(binary)
        .args(["--addr", "127.0.0.1:0", "--data-dir"])
        .arg(dir)
        .args(["--rate-limit", "off"])
        // Warnings and errors, and the line that names the URL.
        .env("RUST_LOG", "chatd=warn,chatd::ops::serve=info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            anyhow::anyhow!("cannot start {binary} (run `cargo build --release` first): {e}")
        })?;
    let stdout = child.stdout.take().expect("piped");
    let stderr = child.stderr.take().expect("piped");
    let mut lines = BufReader::new(stdout).lines();
    // A chatd that never names its URL is stopped, so this cannot wait
    // forever (reading its output blocks).
    let named = Arc::new(AtomicBool::new(false));
    let watchdog = (named.clone(), child.id());
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(30));
        if !watchdog.0.load(Ordering::Relaxed) {
            let _ = Command::new("kill").arg(watchdog.1.to_string()).status();
        }
    });
    let url = loop {
        let line = lines
            .next()
            .ok_or_else(|| anyhow::anyhow!("chatd exited without naming its URL within 30 s"))??;
        if let Some(rest) = line.split("listening on ").nth(1) {
            named.store(true, Ordering::Relaxed);
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

pub(super) async fn account(
    http: &reqwest::Client,
    base: &str,
    name: &str,
) -> anyhow::Result<String> {
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

pub(super) fn ws_url(base: &str, room: &str, chat: i64, token: &str) -> String {
    format!(
        "ws://{}/chat/{room}/{chat}/?token={token}",
        base.trim_start_matches("http://")
    )
}

pub(super) async fn rest_load(
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

pub(super) async fn history(
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
