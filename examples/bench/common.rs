//! Pieces shared by the benchmark programs (`loadgen`, `ingest`): a minimal
//! keep-alive HTTP/1.1 client, server processes and their RSS, latency
//! histograms, the machine description and table printing.
#![allow(dead_code)]

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use hdrhistogram::Histogram;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Password of the benchmark user (passes chatd's password rules).
pub const PASSWORD: &str = "correct horse battery staple";

// ----------------------------------------------------------------------------
// HTTP

/// One keep-alive HTTP/1.1 connection. Responses must carry a
/// `Content-Length` (hyper sets it for the bodies chatd and warp send).
pub struct HttpConn {
    stream: TcpStream,
    buf: Vec<u8>,
}

/// A response: status and (when asked for) the body.
pub struct HttpResponse {
    pub status: u16,
    pub body_len: usize,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// The bytes of a request. `body` is sent form-urlencoded when present.
pub fn request_bytes(
    method: &str,
    path: &str,
    host: SocketAddr,
    token: Option<&str>,
    form: Option<&str>,
) -> Vec<u8> {
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\n");
    if let Some(token) = token {
        request.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    match form {
        Some(form) => {
            request.push_str(&format!(
                "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{form}",
                form.len()
            ));
        }
        None => request.push_str("\r\n"),
    }
    request.into_bytes()
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

impl HttpConn {
    pub async fn connect(addr: SocketAddr) -> anyhow::Result<HttpConn> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(HttpConn {
            stream,
            buf: Vec::with_capacity(32 * 1024),
        })
    }

    /// Sends a request and reads its response; keeps the body if `keep_body`.
    pub async fn send(&mut self, request: &[u8], keep_body: bool) -> anyhow::Result<HttpResponse> {
        self.stream.write_all(request).await?;
        loop {
            if let Some(end) = find(&self.buf, b"\r\n\r\n") {
                let head = std::str::from_utf8(&self.buf[..end]).context("response head")?;
                let status: u16 = head
                    .split(' ')
                    .nth(1)
                    .and_then(|s| s.parse().ok())
                    .context("status line")?;
                let mut length = 0usize;
                for line in head.split("\r\n").skip(1) {
                    if let Some((name, value)) = line.split_once(':') {
                        if name.eq_ignore_ascii_case("content-length") {
                            length = value.trim().parse()?;
                        } else if name.eq_ignore_ascii_case("transfer-encoding") {
                            bail!("chunked responses are not supported by this client");
                        }
                    }
                }
                let total = end + 4 + length;
                while self.buf.len() < total {
                    self.read_more().await?;
                }
                let body = if keep_body {
                    self.buf[end + 4..total].to_vec()
                } else {
                    Vec::new()
                };
                self.buf.drain(..total);
                return Ok(HttpResponse {
                    status,
                    body_len: length,
                    body,
                });
            }
            self.read_more().await?;
        }
    }

    async fn read_more(&mut self) -> anyhow::Result<()> {
        self.buf.reserve(32 * 1024);
        if self.stream.read_buf(&mut self.buf).await? == 0 {
            bail!("connection closed by the server");
        }
        Ok(())
    }
}

/// One request on a fresh connection; returns status and JSON body.
pub async fn call(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    form: Option<&[(&str, &str)]>,
) -> anyhow::Result<(u16, serde_json::Value)> {
    let form = form.map(|pairs| serde_urlencoded::to_string(pairs).expect("form"));
    let mut conn = HttpConn::connect(addr).await?;
    let response = conn
        .send(
            &request_bytes(method, path, addr, token, form.as_deref()),
            true,
        )
        .await?;
    Ok((response.status, response.json()))
}

/// Registers `username` and returns an access token.
/// A WebSocket upgrade of `path` from `source`, handshake written by hand
/// (the cheapest client): the stream, and the bytes read with the 101
/// head; frames start at the returned offset.
pub async fn ws_handshake(
    server: SocketAddr,
    path: &str,
    source: Ipv4Addr,
) -> anyhow::Result<(TcpStream, Vec<u8>, usize)> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.bind(SocketAddr::from((source, 0)))?;
    let mut stream = socket.connect(server).await?;
    stream.set_nodelay(true)?;
    stream
        .write_all(
            format!(
                "GET {path} HTTP/1.1\r\nHost: {server}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                 Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            )
            .as_bytes(),
        )
        .await?;
    let mut buf = Vec::with_capacity(4096);
    let end = loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
        if stream.read_buf(&mut buf).await? == 0 {
            bail!("closed during the handshake");
        }
    };
    anyhow::ensure!(
        buf.starts_with(b"HTTP/1.1 101"),
        "no upgrade: {}",
        String::from_utf8_lossy(&buf[..buf.len().min(80)])
    );
    Ok((stream, buf, end))
}

pub async fn register_and_login(addr: SocketAddr, username: &str) -> anyhow::Result<String> {
    let email = format!("{username}@example.com");
    let (status, body) = call(
        addr,
        "POST",
        "/api/register/",
        None,
        Some(&[
            ("username", username),
            ("email", &email),
            ("password", PASSWORD),
        ]),
    )
    .await?;
    anyhow::ensure!(status == 201, "register: {status} {body}");
    let (status, body) = call(
        addr,
        "POST",
        "/api/token/",
        None,
        Some(&[("username", username), ("password", PASSWORD)]),
    )
    .await?;
    anyhow::ensure!(status == 200, "token: {status} {body}");
    body["access"]
        .as_str()
        .map(str::to_string)
        .context("no access token")
}

/// Creates a chat and returns its id.
pub async fn create_chat(
    addr: SocketAddr,
    token: &str,
    room: &str,
    title: &str,
    description: &str,
) -> anyhow::Result<i64> {
    let (status, body) = call(
        addr,
        "POST",
        "/api/chat/",
        Some(token),
        Some(&[
            ("title", title),
            ("room", room),
            ("description", description),
        ]),
    )
    .await?;
    anyhow::ensure!(status == 200, "create chat: {status} {body}");
    body["chat"]["id"].as_i64().context("no chat id")
}

/// Waits until `GET /healthz` answers 200; returns how long that took.
pub async fn wait_healthy(addr: SocketAddr, limit: Duration) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let request = request_bytes("GET", "/healthz", addr, None, None);
    loop {
        if let Ok(mut conn) = HttpConn::connect(addr).await {
            if let Ok(response) = conn.send(&request, false).await {
                if response.status == 200 {
                    return Ok(started.elapsed());
                }
            }
        }
        if started.elapsed() > limit {
            bail!("{addr} not healthy after {limit:?}");
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

// ----------------------------------------------------------------------------
// Processes

/// A free loopback port (bound, read, released).
pub fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?.port())
}

/// `target/release` (or debug) beside the running example binary.
pub fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    // target/<profile>/examples/<name>
    exe.parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// A server child process, killed (by its pid) when dropped.
pub struct ServerProcess {
    pub name: &'static str,
    pub child: Child,
    pub addr: SocketAddr,
    /// When the process was spawned.
    pub spawned: Instant,
}

impl ServerProcess {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn rss_kib(&self) -> u64 {
        rss_kib(self.pid()).unwrap_or(0)
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Rate limits high enough that the load generators are never throttled.
pub const CHATD_BENCH_ENV: &[(&str, &str)] = &[
    ("CHATD_WS_RATE", "1000000"),
    ("CHATD_WS_BURST", "1000000"),
    ("CHATD_MAX_SOCKETS", "200000"),
    // Every benchmark client comes from loopback addresses.
    ("CHATD_MAX_SOCKETS_PER_IP", "1000000"),
    ("CHATD_RATE_LIMIT", "off"),
    ("CHATD_MAX_CONNECTIONS", "100000"),
];

/// Starts the chatd release binary on a free loopback port with `data_dir`.
/// Its log (chatd's default level) goes to /dev/null.
pub fn spawn_chatd(
    bin: &Path,
    data_dir: &Path,
    env: &[(&str, &str)],
) -> anyhow::Result<ServerProcess> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, free_port()?));
    let spawned = Instant::now();
    let child = Command::new(bin)
        .arg("--addr")
        .arg(addr.to_string())
        .arg("--data-dir")
        .arg(data_dir)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("cannot start {}", bin.display()))?;
    Ok(ServerProcess {
        name: "chatd",
        child,
        addr,
        spawned,
    })
}

/// Starts the baseline example binary on a free loopback port.
pub fn spawn_baseline(bin: &Path) -> anyhow::Result<ServerProcess> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, free_port()?));
    let spawned = Instant::now();
    let child = Command::new(bin)
        .arg("--addr")
        .arg(addr.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("cannot start {}", bin.display()))?;
    Ok(ServerProcess {
        name: "baseline",
        child,
        addr,
        spawned,
    })
}

/// VmRSS of a process, in KiB.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
}

/// What a process spent: CPU time of all its threads (living and ended)
/// and context switches of its living threads.
#[derive(Debug, Clone, Copy)]
pub struct Usage {
    pub cpu: Duration,
    pub switches: u64,
}

impl Usage {
    /// Reads a process's usage from /proc (Linux).
    pub fn of(pid: u32) -> Option<Usage> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // Fields after the command name (which may hold spaces): utime and
        // stime are the 12th and 13th, in clock ticks (USER_HZ: 100 on Linux).
        let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
        let ticks: u64 =
            fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
        let mut switches = 0;
        for task in std::fs::read_dir(format!("/proc/{pid}/task")).ok()? {
            let status =
                std::fs::read_to_string(task.ok()?.path().join("status")).unwrap_or_default();
            switches += status
                .lines()
                .filter(|line| line.contains("ctxt_switches:"))
                .filter_map(|line| line.split_whitespace().nth(1)?.parse::<u64>().ok())
                .sum::<u64>();
        }
        Some(Usage {
            cpu: Duration::from_millis(ticks * 10),
            switches,
        })
    }

    /// What was spent since `before`.
    pub fn since(self, before: Usage) -> Usage {
        Usage {
            cpu: self.cpu.saturating_sub(before.cpu),
            switches: self.switches.saturating_sub(before.switches),
        }
    }
}

/// The soft limit on open files of this process (children inherit it).
pub fn open_files_limit() -> u64 {
    std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|limits| {
            limits
                .lines()
                .find(|line| line.starts_with("Max open files"))
                .and_then(|line| line.split_whitespace().nth(3))
                .and_then(|soft| soft.parse().ok())
        })
        .unwrap_or(1024)
}

/// `nproc`, CPU model and memory, for the report.
pub fn machine() -> serde_json::Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name"))
        .and_then(|rest| rest.split_once(':'))
        .map(|(_, model)| model.trim().to_string())
        .unwrap_or_default();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_kib: u64 = meminfo
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .unwrap_or(0);
    let nproc = std::thread::available_parallelism().map_or(1, |n| n.get());
    serde_json::json!({
        "nproc": nproc,
        "cpu": model,
        "mem_gib": (mem_kib as f64 / 1024.0 / 1024.0 * 10.0).round() / 10.0,
    })
}

// ----------------------------------------------------------------------------
// Histograms and output

/// Latencies in microseconds, 1 µs .. 100 s, 3 significant digits.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 100_000_000, 3).expect("histogram bounds")
}

pub fn record_us(histogram: &mut Histogram<u64>, elapsed: Duration) {
    let us = (elapsed.as_micros() as u64).clamp(1, 100_000_000);
    histogram.record(us).expect("in bounds");
}

/// A percentile in milliseconds.
pub fn pct_ms(histogram: &Histogram<u64>, percentile: f64) -> f64 {
    if histogram.is_empty() {
        return 0.0;
    }
    histogram.value_at_quantile(percentile / 100.0) as f64 / 1000.0
}

/// Rounds for display and JSON.
pub fn round(value: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits);
    (value * scale).round() / scale
}

/// Prints rows as an aligned text table.
pub fn print_table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if i < widths.len() {
                widths[i] = widths[i].max(cell.len());
            }
        }
    }
    let line = |cells: Vec<&str>| {
        let parts: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<width$}", width = widths[i]))
            .collect();
        println!("| {} |", parts.join(" | "));
    };
    line(header.to_vec());
    println!(
        "|{}|",
        widths
            .iter()
            .map(|w| "-".repeat(w + 2))
            .collect::<Vec<_>>()
            .join("|")
    );
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
}

/// A fresh data directory for one server run, under `parent` (default: the
/// system temp dir), removed when dropped.
pub fn data_dir(parent: Option<&Path>) -> anyhow::Result<tempfile::TempDir> {
    let builder = {
        let mut b = tempfile::Builder::new();
        b.prefix("chatd-bench-");
        b
    };
    Ok(match parent {
        Some(parent) => builder.tempdir_in(parent)?,
        None => builder.tempdir()?,
    })
}
