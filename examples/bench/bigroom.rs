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
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use tokio::net::tcp::OwnedWriteHalf;

#[path = "bigroom/client.rs"]
mod client;
#[path = "bigroom/run.rs"]
mod run;

pub use run::run;

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
