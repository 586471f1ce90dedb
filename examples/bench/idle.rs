//! The `idle` phase of `loadgen`: idle sockets held open on a fresh server
//! (hand-written handshakes, only the TCP stream kept), and KiB of VmRSS per
//! socket.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use futures_util::StreamExt;
use tokio::net::TcpStream;

use crate::common;
use crate::process::{start_baseline, start_chatd};
use crate::report::Report;
use crate::Args;

// ----------------------------------------------------------------------------
// Idle sockets

struct IdleOutcome {
    opened: usize,
    rss_after: u64,
    kib_per_socket: f64,
    connect_secs: f64,
}

/// Opens a WebSocket from `source` and keeps only the TCP stream (the
/// cheapest possible client).
async fn open_raw(server: SocketAddr, path: &str, source: Ipv4Addr) -> anyhow::Result<TcpStream> {
    Ok(common::ws_handshake(server, path, source).await?.0)
}

async fn idle_phase(
    args: &Args,
    chatd_bin: &std::path::Path,
    baseline_bin: &std::path::Path,
    chatd: bool,
    n: usize,
) -> anyhow::Result<IdleOutcome> {
    let target = if chatd {
        start_chatd(args, chatd_bin).await?
    } else {
        start_baseline(baseline_bin).await?
    };
    let chats = n.div_ceil(args.idle_per_chat);
    let mut paths = Vec::with_capacity(chats);
    for i in 0..chats {
        let id = match &target.token {
            Some(token) => {
                common::create_chat(target.addr, token, "music", &format!("idle {i}"), "idle")
                    .await?
            }
            None => i as i64 + 1,
        };
        paths.push(format!("/chat/music/{id}/"));
    }
    let pid = match &target.process {
        Some(process) => process.pid(),
        None => std::process::id(),
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = common::rss_kib(pid).unwrap_or(0);
    let started = Instant::now();
    let addr = target.addr;
    let per_chat = args.idle_per_chat;
    let results: Vec<anyhow::Result<TcpStream>> = futures_util::stream::iter(0..n)
        .map(|i| {
            let path = paths[i / per_chat].clone();
            // Spread sources over 127.0.0.2.. so ephemeral ports never run out.
            let source = Ipv4Addr::new(127, 0, 0, 2 + (i / 16_000) as u8);
            async move {
                tokio::time::timeout(Duration::from_secs(20), open_raw(addr, &path, source))
                    .await
                    .map_err(anyhow::Error::from)
                    .and_then(|r| r)
            }
        })
        .buffer_unordered(128)
        .collect()
        .await;
    let connect_secs = started.elapsed().as_secs_f64();
    let mut errors = std::collections::BTreeMap::new();
    let mut streams = Vec::with_capacity(n);
    for result in results {
        match result {
            Ok(stream) => streams.push(stream),
            Err(error) => *errors.entry(error.to_string()).or_insert(0) += 1,
        }
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = common::rss_kib(pid).unwrap_or(0);
    let opened = streams.len();
    let kib_per_socket = (after.saturating_sub(before)) as f64 / opened.max(1) as f64;
    println!(
        "idle ({}): {opened} of {n} sockets open in {connect_secs:.1}s; RSS {before} KiB -> {after} KiB: {kib_per_socket:.1} KiB/socket; errors {errors:?}",
        target.name
    );
    drop(streams);
    drop(target);
    Ok(IdleOutcome {
        opened,
        rss_after: after,
        kib_per_socket,
        connect_secs,
    })
}

/// Each count of `--idle-sockets`: chatd, then the baseline.
pub async fn idle_phases(
    args: &Args,
    chatd_bin: &Path,
    baseline_bin: &Path,
    report: &mut Report,
) -> anyhow::Result<()> {
    let limit = common::open_files_limit() as usize;
    for n in args.idle_sockets.split(',') {
        let n: usize = n.trim().parse().context("--idle-sockets")?;
        if n + 200 > limit {
            println!(
                "idle {n}: skipped: the open files limit is {limit} (a process cannot hold {n} sockets; \
                 raise it with `ulimit -n`)"
            );
            report.check(
                &format!("idle: {n} sockets held"),
                None,
                format!("not measurable here: RLIMIT_NOFILE is {limit}"),
            );
            continue;
        }
        let c = idle_phase(args, chatd_bin, baseline_bin, true, n).await?;
        let b = idle_phase(args, chatd_bin, baseline_bin, false, n).await?;
        let label = format!("idle {n} sockets");
        report.figure(
            &format!("idle_{n}_kib_per_socket"),
            &label,
            "KiB/socket",
            c.kib_per_socket,
            Some(b.kib_per_socket),
        );
        report.figure(
            &format!("idle_{n}_rss_mib"),
            &label,
            "RSS MiB after",
            c.rss_after as f64 / 1024.0,
            Some(b.rss_after as f64 / 1024.0),
        );
        report.figure(
            &format!("idle_{n}_connect_per_s"),
            &label,
            "upgrades/s",
            c.opened as f64 / c.connect_secs,
            Some(b.opened as f64 / b.connect_secs),
        );
        if n == 10_000 {
            report.check(
                "idle: <= 12 KiB/socket at 10,000",
                Some(c.kib_per_socket <= 12.0 && c.opened == n),
                format!(
                    "{:.1} KiB/socket, {} of {n} open",
                    c.kib_per_socket, c.opened
                ),
            );
        }
        if n >= 50_000 {
            report.check(
                "idle: 50,000 sockets held",
                Some(c.opened >= 50_000),
                format!("{} open", c.opened),
            );
        }
    }
    Ok(())
}
