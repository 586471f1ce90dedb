//! The `bigroom` phase of the load generator: N sockets in ONE chat.
//!
//! 1. **Ramp**: N sockets open (at most `concurrency` handshakes in flight),
//!    from source addresses spread over 127.0.0.2.. ; each waits for its
//!    `hello`. Ramp time is from the first connect to the last `hello`;
//!    hello latency is per socket, from its TCP connect to its `hello`.
//! 2. **Settle**: until no `presence` frame arrived for 1 s. RSS of the
//!    server is read before the ramp, at its end and after the settle.
//!    `presence` frames are counted per socket (chatd sends one to every
//!    member on every join).
//! 3. **Fan-out**: socket 0 sends `rate` messages a second for `send_for`;
//!    every socket must receive every one. Latency is from a send timestamp
//!    carried in the text.
//! 4. **Close**: every socket sends a close frame at once; a close is
//!    answered when the server's close frame comes back within 2 s. The
//!    phase waits up to 30 s to tell late answers from sockets the server
//!    dropped without a close frame (or left open).
//!
//! The clients are raw TCP streams with a hand-written WebSocket framing
//! (server frames are unmasked and never fragmented by tungstenite; client
//! frames are masked): 10,000 tungstenite clients would take much of the
//! 2 cores that the server under test needs.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::Context;
use hdrhistogram::Histogram;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::Semaphore;

use crate::common;

/// How the phase runs.
pub struct Params {
    pub sockets: usize,
    /// Handshakes in flight at once.
    pub concurrency: usize,
    /// Loopback source addresses (127.0.0.2 ..) the sockets are spread over.
    pub sources: usize,
    /// Messages per second of the one sender.
    pub rate: f64,
    pub send_for: Duration,
    /// Bound on the ramp, and (again) on the settle.
    pub limit: Duration,
}

/// The figures of one server.
#[derive(Debug, Default)]
pub struct Outcome {
    pub name: &'static str,
    pub requested: usize,
    pub opened: usize,
    pub errors: BTreeMap<String, usize>,
    pub ramp_secs: f64,
    pub hello_p50: f64,
    pub hello_p99: f64,
    pub hello_max: f64,
    pub rss_before_kib: u64,
    pub rss_ramp_kib: u64,
    pub rss_settled_kib: u64,
    /// Server CPU (user + system) over the ramp, and the load generator's.
    pub server_cpu_ramp: f64,
    pub client_cpu_ramp: f64,
    pub settle_secs: f64,
    /// `presence` frames received over ramp + settle: total, per socket
    /// (mean), most on one socket.
    pub presence_total: u64,
    pub presence_mean: f64,
    pub presence_max: u64,
    pub presence_fanout: u64,
    pub presence_close: u64,
    pub sent: u64,
    pub delivered: u64,
    pub lost: u64,
    /// Sockets that missed at least one message.
    pub short_sockets: usize,
    pub fanout_p50: f64,
    pub fanout_p99: f64,
    pub fanout_max: f64,
    /// Close codes of closes the server started (before ours), by code.
    pub server_closes: BTreeMap<u16, usize>,
    pub close_sent: usize,
    /// Close frames back within 2 s, later (within 30 s), never: the TCP
    /// connection ended without one, or was still open after 30 s.
    pub close_answered: usize,
    pub close_late: usize,
    pub close_dropped: usize,
    pub close_open: usize,
    pub close_p50: f64,
    pub close_p99: f64,
    /// When the last close answer came, after the first close was sent.
    pub close_last_secs: f64,
}

impl Outcome {
    /// (RSS after − before) / sockets opened, in KiB.
    pub fn kib_per_socket(&self, after: u64) -> f64 {
        after.saturating_sub(self.rss_before_kib) as f64 / self.opened.max(1) as f64
    }

    pub fn print(&self) {
        println!(
            "bigroom ({}): {} of {} sockets in {:.2}s; hello p50 {:.2} ms p99 {:.2} ms max {:.2} ms; errors {:?}",
            self.name, self.opened, self.requested, self.ramp_secs, self.hello_p50, self.hello_p99,
            self.hello_max, self.errors
        );
        println!(
            "bigroom ({}): CPU over the ramp: server {:.2}s, load generator {:.2}s; settled {:.2}s after",
            self.name, self.server_cpu_ramp, self.client_cpu_ramp, self.settle_secs
        );
        println!(
            "bigroom ({}): RSS {} KiB before -> {} KiB at ramp end ({:.2} KiB/socket) -> {} KiB settled ({:.2} KiB/socket)",
            self.name,
            self.rss_before_kib,
            self.rss_ramp_kib,
            self.kib_per_socket(self.rss_ramp_kib),
            self.rss_settled_kib,
            self.kib_per_socket(self.rss_settled_kib)
        );
        println!(
            "bigroom ({}): presence frames over the ramp: {} ({:.1}/socket, max {} on one); during fan-out {}, during close {}",
            self.name, self.presence_total, self.presence_mean, self.presence_max,
            self.presence_fanout, self.presence_close
        );
        println!(
            "bigroom ({}): fan-out {} msgs, {} delivered, {} lost ({} sockets short); p50 {:.2} ms p99 {:.2} ms max {:.2} ms; server-side closes {:?}",
            self.name, self.sent, self.delivered, self.lost, self.short_sockets, self.fanout_p50,
            self.fanout_p99, self.fanout_max, self.server_closes
        );
        println!(
            "bigroom ({}): closes sent {}, answered within 2 s {}, later {} (last {:.2}s after the first close), \
             TCP closed without a close frame {}, still open after 30 s {}; answer p50 {:.1} ms p99 {:.1} ms",
            self.name, self.close_sent, self.close_answered, self.close_late, self.close_last_secs,
            self.close_dropped, self.close_open, self.close_p50, self.close_p99
        );
    }
}

/// What one socket saw; written by its task, read by the phase.
#[derive(Default)]
struct Slot {
    /// ns since the epoch when the `hello` came (0: not yet).
    hello_at: AtomicU64,
    hello_us: AtomicU64,
    presence: AtomicU64,
    messages: AtomicU64,
    close_sent: AtomicU64,
    close_reply: AtomicU64,
    /// ns since the epoch when the stream ended (0: not yet).
    ended: AtomicU64,
    /// A close the server started: its code (1005 without one).
    server_close: AtomicU32,
    writer: OnceLock<Arc<tokio::sync::Mutex<OwnedWriteHalf>>>,
}

struct Shared {
    epoch: Instant,
    slots: Vec<Slot>,
    hellos: AtomicU64,
    failed: AtomicU64,
    /// 0: ramp and settle, 1: fan-out, 2: close.
    phase: AtomicUsize,
    presence: [AtomicU64; 3],
    delivered: AtomicU64,
    /// Sockets that got the server's close frame or whose stream ended
    /// after they sent theirs.
    close_done: AtomicU64,
    latencies: Mutex<Histogram<u64>>,
    errors: Mutex<BTreeMap<String, usize>>,
}

impl Shared {
    fn now_ns(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }

    fn error(&self, error: String) {
        self.failed.fetch_add(1, Ordering::Relaxed);
        *self.errors.lock().unwrap().entry(error).or_insert(0) += 1;
    }
}

/// CPU seconds (user + system) a process has used.
fn cpu_secs(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // Fields after the command name (which may hold spaces): state is 3rd,
    // utime the 14th and stime the 15th.
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return 0.0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // USER_HZ is 100 on Linux.
    (ticks(11) + ticks(12)) as f64 / 100.0
}

/// A client frame: FIN, `opcode`, masked with `key`.
fn masked(opcode: u8, payload: &[u8], key: [u8; 4]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 14);
    out.push(0x80 | opcode);
    let len = payload.len();
    if len < 126 {
        out.push(0x80 | len as u8);
    } else if len <= 0xffff {
        out.push(0x80 | 126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0x80 | 127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    out.extend_from_slice(&key);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    out
}

fn mask_key(index: usize) -> [u8; 4] {
    ((index as u32).wrapping_mul(2_654_435_761) ^ 0x5a5a_5a5a).to_be_bytes()
}

/// The read half of a client socket with its frame buffer.
struct Reader {
    half: OwnedReadHalf,
    buf: Vec<u8>,
    pos: usize,
}

impl Reader {
    /// (first byte, payload start, payload end) of a complete frame at `pos`.
    fn parse(&self) -> Option<(u8, usize, usize)> {
        let b = &self.buf[self.pos..];
        if b.len() < 2 {
            return None;
        }
        let mut at = 2usize;
        let mut len = (b[1] & 0x7f) as usize;
        if len == 126 {
            if b.len() < 4 {
                return None;
            }
            len = u16::from_be_bytes([b[2], b[3]]) as usize;
            at = 4;
        } else if len == 127 {
            if b.len() < 10 {
                return None;
            }
            len = u64::from_be_bytes(b[2..10].try_into().expect("8 bytes")) as usize;
            at = 10;
        }
        if b[1] & 0x80 != 0 {
            at += 4; // servers never mask; skip a key all the same
        }
        if b.len() < at + len {
            return None;
        }
        Some((b[0], self.pos + at, self.pos + at + len))
    }

    /// The next frame's opcode and payload; None at the end of the stream.
    async fn next(&mut self) -> std::io::Result<Option<(u8, &[u8])>> {
        loop {
            if let Some((first, start, end)) = self.parse() {
                self.pos = end;
                return Ok(Some((first & 0x0f, &self.buf[start..end])));
            }
            if self.pos > 0 {
                self.buf.drain(..self.pos);
                self.pos = 0;
            }
            self.buf.reserve(4096);
            if self.half.read_buf(&mut self.buf).await? == 0 {
                return Ok(None);
            }
        }
    }
}

/// A WebSocket handshake from `source`; the bytes after the 101 head stay
/// in the reader.
async fn open(
    server: SocketAddr,
    path: &str,
    source: Ipv4Addr,
) -> anyhow::Result<(Reader, OwnedWriteHalf)> {
    let (stream, buf, end) = common::ws_handshake(server, path, source).await?;
    let (half, writer) = stream.into_split();
    Ok((
        Reader {
            half,
            buf,
            pos: end,
        },
        writer,
    ))
}

const BENCH_PREFIX: &str = r#""text":"big "#;

fn message_frame(epoch: Instant, seq: u64) -> Vec<u8> {
    let ns = epoch.elapsed().as_nanos() as u64;
    let text = format!(r#"{{"type":"message","text":"big {ns} {seq}"}}"#);
    masked(0x1, text.as_bytes(), mask_key(0))
}

/// Send time (ns since the epoch) of a benchmark `message` frame.
fn bench_ns(text: &str) -> Option<u64> {
    let at = text.find(BENCH_PREFIX)? + BENCH_PREFIX.len();
    let rest = &text[at..];
    rest[..rest.find(' ')?].parse().ok()
}

/// One client socket, from connect to the end of its stream.
async fn client(
    shared: Arc<Shared>,
    index: usize,
    server: SocketAddr,
    path: String,
    source: Ipv4Addr,
    permits: Arc<Semaphore>,
    limit: Duration,
) {
    let slot = &shared.slots[index];
    let key = mask_key(index);
    let Ok(permit) = permits.acquire_owned().await else {
        return;
    };
    let started = Instant::now();
    let opened = tokio::time::timeout(limit, async {
        let (mut reader, writer) = open(server, &path, source).await?;
        loop {
            match reader.next().await? {
                Some((0x1, payload)) if payload.starts_with(br#"{"type":"hello""#) => break,
                Some((0x8, _)) | None => anyhow::bail!("closed before the hello"),
                Some(_) => {}
            }
        }
        anyhow::Ok((reader, writer))
    })
    .await;
    let (mut reader, writer) = match opened {
        Ok(Ok(opened)) => opened,
        Ok(Err(error)) => return shared.error(error.to_string()),
        Err(_) => return shared.error(format!("no hello within {limit:?}")),
    };
    slot.hello_us
        .store(started.elapsed().as_micros() as u64, Ordering::Relaxed);
    slot.hello_at.store(shared.now_ns(), Ordering::Release);
    shared.hellos.fetch_add(1, Ordering::AcqRel);
    drop(permit);
    let writer = Arc::new(tokio::sync::Mutex::new(writer));
    let _ = slot.writer.set(writer.clone());

    loop {
        let Ok(Some((opcode, payload))) = reader.next().await else {
            slot.ended.store(shared.now_ns(), Ordering::Release);
            if slot.close_sent.load(Ordering::Acquire) != 0 {
                shared.close_done.fetch_add(1, Ordering::AcqRel);
            }
            break;
        };
        match opcode {
            0x1 => {
                if payload.starts_with(br#"{"type":"presence""#) {
                    slot.presence.fetch_add(1, Ordering::Relaxed);
                    let phase = shared.phase.load(Ordering::Relaxed);
                    shared.presence[phase].fetch_add(1, Ordering::Relaxed);
                } else if payload.starts_with(br#"{"type":"message""#) {
                    let sent = std::str::from_utf8(payload).ok().and_then(bench_ns);
                    if let Some(sent) = sent {
                        let us = shared.now_ns().saturating_sub(sent) / 1000;
                        common::record_us(
                            &mut shared.latencies.lock().unwrap(),
                            Duration::from_micros(us),
                        );
                        slot.messages.fetch_add(1, Ordering::Relaxed);
                        shared.delivered.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            0x8 => {
                if slot.close_sent.load(Ordering::Acquire) != 0 {
                    slot.close_reply.store(shared.now_ns(), Ordering::Release);
                    shared.close_done.fetch_add(1, Ordering::AcqRel);
                } else {
                    let code = match payload {
                        [a, b, ..] => u16::from_be_bytes([*a, *b]),
                        _ => 1005,
                    };
                    slot.server_close.store(u32::from(code), Ordering::Release);
                    let reply = masked(0x8, &payload[..payload.len().min(2)], key);
                    let _ = writer.lock().await.write_all(&reply).await;
                }
                break;
            }
            0x9 => {
                let pong = masked(0xA, payload, key);
                let _ = writer.lock().await.write_all(&pong).await;
            }
            _ => {}
        }
    }
}

fn histogram_of(values: impl Iterator<Item = u64>) -> Histogram<u64> {
    let mut histogram = common::histogram();
    for us in values {
        common::record_us(&mut histogram, Duration::from_micros(us));
    }
    histogram
}

/// Runs the phase against one server. `pid` is the server's process (for
/// RSS and CPU); socket 0 connects on `sender_path`, the others on `path`.
pub async fn run(
    name: &'static str,
    server: SocketAddr,
    pid: u32,
    sender_path: &str,
    path: &str,
    params: &Params,
) -> anyhow::Result<Outcome> {
    let n = params.sockets;
    let shared = Arc::new(Shared {
        epoch: Instant::now(),
        slots: (0..n).map(|_| Slot::default()).collect(),
        hellos: AtomicU64::new(0),
        failed: AtomicU64::new(0),
        phase: AtomicUsize::new(0),
        presence: Default::default(),
        delivered: AtomicU64::new(0),
        close_done: AtomicU64::new(0),
        latencies: Mutex::new(common::histogram()),
        errors: Mutex::new(BTreeMap::new()),
    });
    let mut out = Outcome {
        name,
        requested: n,
        ..Outcome::default()
    };
    let me = std::process::id();
    tokio::time::sleep(Duration::from_secs(1)).await;
    out.rss_before_kib = common::rss_kib(pid).unwrap_or(0);
    let (server_cpu, client_cpu) = (cpu_secs(pid), cpu_secs(me));

    // 1. Ramp.
    let permits = Arc::new(Semaphore::new(params.concurrency.max(1)));
    let ramp_start = shared.now_ns();
    let mut tasks = Vec::with_capacity(n);
    for index in 0..n {
        let path = if index == 0 { sender_path } else { path };
        let source = Ipv4Addr::new(127, 0, 0, 2 + (index % params.sources.clamp(1, 250)) as u8);
        tasks.push(tokio::spawn(client(
            shared.clone(),
            index,
            server,
            path.to_string(),
            source,
            permits.clone(),
            params.limit,
        )));
    }
    let deadline = Instant::now() + params.limit;
    let mut reported = Instant::now();
    loop {
        let done = shared.hellos.load(Ordering::Acquire) + shared.failed.load(Ordering::Acquire);
        if done >= n as u64 || Instant::now() >= deadline {
            break;
        }
        if reported.elapsed() >= Duration::from_secs(10) {
            reported = Instant::now();
            println!(
                "bigroom ({name}): {} hellos, {} failed, {} presence frames so far ({:.0}s)",
                shared.hellos.load(Ordering::Relaxed),
                shared.failed.load(Ordering::Relaxed),
                shared.presence[0].load(Ordering::Relaxed),
                Duration::from_nanos(shared.now_ns() - ramp_start).as_secs_f64()
            );
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    out.rss_ramp_kib = common::rss_kib(pid).unwrap_or(0);
    out.server_cpu_ramp = cpu_secs(pid) - server_cpu;
    out.client_cpu_ramp = cpu_secs(me) - client_cpu;
    let ramp_end = Instant::now();
    let last_hello = shared
        .slots
        .iter()
        .map(|s| s.hello_at.load(Ordering::Acquire))
        .max()
        .unwrap_or(0);
    out.ramp_secs = Duration::from_nanos(last_hello.saturating_sub(ramp_start)).as_secs_f64();
    out.opened = shared.hellos.load(Ordering::Acquire) as usize;
    let hellos = histogram_of(
        shared
            .slots
            .iter()
            .filter(|s| s.hello_at.load(Ordering::Acquire) != 0)
            .map(|s| s.hello_us.load(Ordering::Relaxed)),
    );
    out.hello_p50 = common::pct_ms(&hellos, 50.0);
    out.hello_p99 = common::pct_ms(&hellos, 99.0);
    out.hello_max = common::pct_ms(&hellos, 100.0);

    // 2. Settle: until no presence frame came for 1 s.
    let settle_deadline = Instant::now() + params.limit;
    let mut last = shared.presence[0].load(Ordering::Relaxed);
    let mut quiet_since = Instant::now();
    while Instant::now() < settle_deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = shared.presence[0].load(Ordering::Relaxed);
        if now != last {
            last = now;
            quiet_since = Instant::now();
        } else if quiet_since.elapsed() >= Duration::from_secs(1) {
            break;
        }
    }
    out.settle_secs = quiet_since.duration_since(ramp_end).as_secs_f64();
    out.rss_settled_kib = common::rss_kib(pid).unwrap_or(0);
    let opened: Vec<&Slot> = shared
        .slots
        .iter()
        .filter(|s| s.hello_at.load(Ordering::Acquire) != 0)
        .collect();
    out.presence_total = opened
        .iter()
        .map(|s| s.presence.load(Ordering::Relaxed))
        .sum();
    out.presence_mean = out.presence_total as f64 / opened.len().max(1) as f64;
    out.presence_max = opened
        .iter()
        .map(|s| s.presence.load(Ordering::Relaxed))
        .max()
        .unwrap_or(0);

    // 3. Fan-out from socket 0.
    shared.phase.store(1, Ordering::Relaxed);
    let sender = shared.slots[0]
        .writer
        .get()
        .cloned()
        .context("the sender's socket (socket 0) did not open")?;
    let started = Instant::now();
    let mut seq = 0u64;
    loop {
        let due = Duration::from_secs_f64(seq as f64 / params.rate);
        if due >= params.send_for {
            break;
        }
        tokio::time::sleep_until((started + due).into()).await;
        let frame = message_frame(shared.epoch, seq);
        if let Err(error) = sender.lock().await.write_all(&frame).await {
            println!("bigroom ({name}): the sender's socket failed: {error}");
            break;
        }
        seq += 1;
    }
    out.sent = seq;
    let expected = seq * out.opened as u64;
    let deadline = Instant::now() + Duration::from_secs(15);
    while shared.delivered.load(Ordering::Acquire) < expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    out.delivered = shared.delivered.load(Ordering::Acquire);
    out.lost = expected.saturating_sub(out.delivered);
    out.short_sockets = opened
        .iter()
        .filter(|s| s.messages.load(Ordering::Relaxed) < seq)
        .count();
    {
        let latencies = shared.latencies.lock().unwrap();
        out.fanout_p50 = common::pct_ms(&latencies, 50.0);
        out.fanout_p99 = common::pct_ms(&latencies, 99.0);
        out.fanout_max = common::pct_ms(&latencies, 100.0);
    }
    for slot in &opened {
        let code = slot.server_close.load(Ordering::Acquire);
        if code != 0 {
            *out.server_closes.entry(code as u16).or_insert(0) += 1;
        }
    }

    // 4. Every socket closes at once.
    shared.phase.store(2, Ordering::Relaxed);
    for (index, slot) in shared.slots.iter().enumerate() {
        if slot.server_close.load(Ordering::Acquire) != 0 {
            continue;
        }
        let Some(writer) = slot.writer.get() else {
            continue;
        };
        // Marked sent first, so a fast reply is never taken for the
        // server's own close.
        slot.close_sent.store(shared.now_ns(), Ordering::Release);
        let frame = masked(0x8, &1000u16.to_be_bytes(), mask_key(index));
        if writer.lock().await.write_all(&frame).await.is_ok() {
            out.close_sent += 1;
        } else {
            slot.close_sent.store(0, Ordering::Release);
        }
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while (shared.close_done.load(Ordering::Acquire) as usize) < out.close_sent
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut answers = Vec::new();
    let (mut first_sent, mut last_reply) = (u64::MAX, 0);
    for slot in &shared.slots {
        let (sent, reply) = (
            slot.close_sent.load(Ordering::Acquire),
            slot.close_reply.load(Ordering::Acquire),
        );
        if sent == 0 {
            continue;
        }
        first_sent = first_sent.min(sent);
        if reply == 0 {
            if slot.ended.load(Ordering::Acquire) != 0 {
                out.close_dropped += 1;
            } else {
                out.close_open += 1;
            }
            continue;
        }
        last_reply = last_reply.max(reply);
        let us = reply.saturating_sub(sent) / 1000;
        if us <= 2_000_000 {
            out.close_answered += 1;
        } else {
            out.close_late += 1;
        }
        answers.push(us);
    }
    out.close_last_secs = Duration::from_nanos(last_reply.saturating_sub(first_sent)).as_secs_f64();
    let answers = histogram_of(answers.into_iter());
    out.close_p50 = common::pct_ms(&answers, 50.0);
    out.close_p99 = common::pct_ms(&answers, 99.0);
    out.presence_fanout = shared.presence[1].load(Ordering::Relaxed);
    out.presence_close = shared.presence[2].load(Ordering::Relaxed);
    out.errors = shared.errors.lock().unwrap().clone();

    // Every client socket is gone before the next server starts.
    for task in &tasks {
        task.abort();
    }
    for task in tasks {
        let _ = task.await;
    }
    drop(shared);
    Ok(out)
}
