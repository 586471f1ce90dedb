//! The bigroom phase's run against one server: ramp, settle, fan-out from
//! socket 0, and the mass close, with the server's RSS and CPU.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use hdrhistogram::Histogram;
use tokio::io::AsyncWriteExt;
use tokio::sync::Semaphore;

use super::client::{client, mask_key, masked, message_frame};
use super::{Outcome, Params, Shared, Slot};
use crate::common;

/// CPU seconds (user + system) a process has used (0 when unknown).
fn cpu_secs(pid: u32) -> f64 {
    common::cpu_time(pid).map_or(0.0, |cpu| cpu.as_secs_f64())
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
