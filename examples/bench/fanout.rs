//! One fan-out run of `loadgen`: a chat with many sockets, one of which also
//! sends, at a fixed rate or as fast as the slowest receiver allows; and
//! its outcome (latency, deliveries per second, losses, server CPU).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::Either;
use futures_util::{SinkExt, StreamExt};
use tokio::sync::Notify;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use crate::common::{self, pct_ms};
use crate::process::Target;
use crate::ws::{bench_text, connect_ws, receive, Shared, Ws};
use crate::{split, Args};

pub struct FanoutOutcome {
    pub sent: u64,
    pub lost: u64,
    pub closed: usize,
    pub per_sec: f64,
    pub msgs_per_sec: f64,
    pub p50: f64,
    pub p99: f64,
    max: f64,
    pub persisted: Option<u64>,
    name: &'static str,
    sockets: usize,
    split: Option<split::Summary>,
    /// The server's CPU time per delivery, in microseconds, and its context
    /// switches per message sent, from the first send to the last
    /// delivery (none for an in-process baseline). Steadier than latency on
    /// a shared, noisy machine.
    pub cpu_us_per_delivery: Option<f64>,
    pub switches_per_msg: Option<f64>,
}

impl FanoutOutcome {
    /// The median of each figure over several runs; losses and closed
    /// sockets are summed.
    pub fn median(runs: Vec<FanoutOutcome>) -> FanoutOutcome {
        let median = |f: &dyn Fn(&FanoutOutcome) -> f64| {
            let mut values: Vec<f64> = runs.iter().map(f).collect();
            values.sort_by(|a, b| a.total_cmp(b));
            values[values.len() / 2]
        };
        FanoutOutcome {
            sent: runs.iter().map(|r| r.sent).sum(),
            lost: runs.iter().map(|r| r.lost).sum(),
            closed: runs.iter().map(|r| r.closed).sum(),
            per_sec: median(&|r| r.per_sec),
            msgs_per_sec: median(&|r| r.msgs_per_sec),
            p50: median(&|r| r.p50),
            p99: median(&|r| r.p99),
            max: median(&|r| r.max),
            persisted: None,
            name: runs[0].name,
            sockets: runs[0].sockets,
            split: None,
            cpu_us_per_delivery: median_of(&runs, |r| r.cpu_us_per_delivery),
            switches_per_msg: median_of(&runs, |r| r.switches_per_msg),
        }
    }
}

/// The median of a figure some runs may lack (none if any lacks it).
fn median_of(runs: &[FanoutOutcome], f: impl Fn(&FanoutOutcome) -> Option<f64>) -> Option<f64> {
    let mut values = runs.iter().map(f).collect::<Option<Vec<f64>>>()?;
    values.sort_by(|a, b| a.total_cmp(b));
    values.get(values.len() / 2).copied()
}

/// Prints each run's outcome (chatd's, the baseline's, ...); `None`s are
/// skipped.
pub fn print_fanout(outcomes: &[Option<&FanoutOutcome>]) {
    for o in outcomes.iter().flatten() {
        println!(
            "fan-out {} sockets ({}): sent {} msgs ({:.0}/s), {:.0} deliveries/s, p50 {:.2} ms p99 {:.2} ms max {:.2} ms, lost {}, closed {}, persisted {:?}",
            o.sockets, o.name, o.sent, o.msgs_per_sec, o.per_sec, o.p50, o.p99, o.max, o.lost, o.closed, o.persisted
        );
        if let Some(split) = &o.split {
            println!("  {split}");
        }
        if let (Some(cpu), Some(switches)) = (o.cpu_us_per_delivery, o.switches_per_msg) {
            println!(
                "  server CPU {cpu:.2} us per delivery, {switches:.1} context switches per message"
            );
        }
    }
}

/// One fan-out run against `target`: a fresh chat (chatd) with `sockets`
/// sockets; socket 0 also sends, at `rate` per second or, without a rate,
/// as fast as `--window` messages in flight allow.
pub async fn fanout_target(
    target: &Target,
    sockets: usize,
    rate: Option<f64>,
    args: &Args,
) -> anyhow::Result<FanoutOutcome> {
    static RUN: AtomicU64 = AtomicU64::new(0);
    let run = RUN.fetch_add(1, Ordering::Relaxed);
    let (chat, sender_path, path) = match &target.token {
        Some(token) => {
            let chat = common::create_chat(
                target.addr,
                token,
                "books",
                &format!("fanout run {run}"),
                "fan-out benchmark",
            )
            .await?;
            (
                chat,
                format!("/chat/books/{chat}/?token={token}"),
                format!("/chat/books/{chat}/"),
            )
        }
        None => {
            let chat = 1000 + run as i64;
            let path = format!("/chat/books/{chat}/");
            (chat, path.clone(), path)
        }
    };
    let epoch = Instant::now();
    let shared = Arc::new(Shared {
        delivered: AtomicU64::new(0),
        per_socket: (0..sockets).map(|_| AtomicU64::new(0)).collect(),
        progress: rate.is_none().then(Notify::new),
        split: (args.fanout_split && rate.is_some()).then(split::Split::default),
    });

    let sender_ws = connect_ws(target.addr, &sender_path).await?;
    let (mut sink, stream) = sender_ws.split();
    let mut receivers = vec![tokio::spawn(receive(
        Either::Left(stream),
        shared.clone(),
        0,
        epoch,
    ))];
    let others: Vec<anyhow::Result<Ws>> = futures_util::stream::iter(1..sockets)
        .map(|_| connect_ws(target.addr, &path))
        .buffer_unordered(32)
        .collect()
        .await;
    for (index, ws) in others.into_iter().enumerate() {
        receivers.push(tokio::spawn(receive(
            Either::Right(ws?),
            shared.clone(),
            index + 1,
            epoch,
        )));
    }
    // Let join notices (chatd's presence frames) settle.
    tokio::time::sleep(Duration::from_millis(500 + sockets as u64)).await;

    let pid = target.process.as_ref().map(common::ServerProcess::pid);
    let usage_before = pid.and_then(common::Usage::of);
    let duration = Duration::from_secs_f64(args.seconds);
    let started = Instant::now();
    let mut seq = 0u64;
    let sent: Result<(), WsError> = async {
        match rate {
            Some(rate) => loop {
                let due = Duration::from_secs_f64(seq as f64 / rate);
                if due >= duration {
                    break;
                }
                tokio::time::sleep_until((started + due).into()).await;
                sink.send(bench_text(epoch, seq)).await?;
                seq += 1;
            },
            None => {
                while started.elapsed() < duration {
                    let room = (shared.slowest() + args.window).saturating_sub(seq);
                    if room == 0 {
                        if let Some(progress) = &shared.progress {
                            let _ = tokio::time::timeout(
                                Duration::from_millis(100),
                                progress.notified(),
                            )
                            .await;
                        }
                        continue;
                    }
                    for _ in 0..room {
                        sink.feed(bench_text(epoch, seq)).await?;
                        seq += 1;
                    }
                    sink.flush().await?;
                }
            }
        }
        sink.send(Message::text(r#"{"type":"message","text":"bench-end"}"#))
            .await
    }
    .await;
    let send_secs = started.elapsed().as_secs_f64();
    if let Err(error) = sent {
        println!("{}: the sender's socket failed: {error}", target.name);
    }

    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let mut histogram = common::histogram();
    let mut last = started;
    let mut closed = 0;
    let mut open_sockets = Vec::new();
    let mut sender_stream = None;
    for receiver in receivers {
        let abort = receiver.abort_handle();
        match tokio::time::timeout_at(deadline, receiver).await {
            Ok(Ok((received, ws))) => {
                match ws {
                    Either::Left(stream) => sender_stream = Some(stream),
                    Either::Right(ws) => open_sockets.push(ws),
                }
                histogram.add(&received.histogram).expect("same bounds");
                if let Some(at) = received.last {
                    last = last.max(at);
                }
                if received.closed {
                    closed += 1;
                }
            }
            _ => {
                abort.abort();
                closed += 1;
            }
        }
    }
    let usage = pid
        .and_then(common::Usage::of)
        .zip(usage_before)
        .map(|(after, before)| after.since(before));
    let delivered = shared.delivered.load(Ordering::Relaxed);
    let expected = seq * sockets as u64;
    let persisted = match &target.token {
        Some(_) => {
            let (_, body) = common::call(
                target.addr,
                "GET",
                &format!("/api/chat/books/{chat}/messages/"),
                None,
                None,
            )
            .await?;
            body["count"].as_u64()
        }
        None => None,
    };
    let _ = sink.close().await;
    drop(sender_stream);
    drop(open_sockets);
    let active = last.duration_since(started).as_secs_f64().max(send_secs);
    Ok(FanoutOutcome {
        sent: seq,
        lost: expected.saturating_sub(delivered),
        closed,
        per_sec: delivered as f64 / active,
        msgs_per_sec: seq as f64 / send_secs,
        p50: pct_ms(&histogram, 50.0),
        p99: pct_ms(&histogram, 99.0),
        max: pct_ms(&histogram, 100.0),
        persisted,
        name: target.name,
        sockets,
        split: shared.split.as_ref().and_then(split::Split::summary),
        cpu_us_per_delivery: usage
            .filter(|_| delivered > 0)
            .map(|u| u.cpu.as_secs_f64() * 1e6 / delivered as f64),
        switches_per_msg: usage
            .filter(|_| seq > 0)
            .map(|u| u.switches as f64 / seq as f64),
    })
}
