//! The servers under test as child processes: starting chatd and the
//! baseline, and the `process` phase (ready time, RSS, binary size).

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use crate::common::{self, ServerProcess};
use crate::report::Report;
use crate::{baseline_server, Args};

/// A server under test.
pub struct Target {
    pub name: &'static str,
    pub addr: SocketAddr,
    /// The child process (none for an in-process baseline).
    pub process: Option<ServerProcess>,
    /// chatd: an access token of the benchmark user.
    pub token: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

// ----------------------------------------------------------------------------
// Servers

pub async fn start_chatd(args: &Args, bin: &std::path::Path) -> anyhow::Result<Target> {
    let dir = common::data_dir(args.tmp.as_deref())?;
    let process = common::spawn_chatd(bin, dir.path(), common::CHATD_BENCH_ENV)?;
    let addr = process.addr;
    common::wait_healthy(addr, Duration::from_secs(20)).await?;
    let token = common::register_and_login(addr, "benchuser").await?;
    Ok(Target {
        name: "chatd",
        addr,
        process: Some(process),
        token: Some(token),
        _dir: Some(dir),
    })
}

pub async fn start_baseline(bin: &std::path::Path) -> anyhow::Result<Target> {
    let (addr, process) = if bin.exists() {
        let process = common::spawn_baseline(bin, None)?;
        (process.addr, Some(process))
    } else {
        println!(
            "{} not found: running the baseline in-process (no RSS figures for it)",
            bin.display()
        );
        let addr = baseline_server::spawn(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await?;
        (addr, None)
    };
    common::wait_healthy(addr, Duration::from_secs(20)).await?;
    Ok(Target {
        name: "baseline",
        addr,
        process,
        token: None,
        _dir: None,
    })
}

/// The baseline that writes and syncs each message before fanning it out
/// (`baseline --fsync-dir`, its journal where chatd keeps its data): the
/// fan-out phase's durable reference. None without the baseline binary.
pub async fn start_durable_baseline(
    args: &Args,
    bin: &std::path::Path,
) -> anyhow::Result<Option<Target>> {
    if !bin.exists() {
        return Ok(None);
    }
    let dir = common::data_dir(args.tmp.as_deref())?;
    let process = common::spawn_baseline(bin, Some(dir.path()))?;
    let addr = process.addr;
    common::wait_healthy(addr, Duration::from_secs(20)).await?;
    Ok(Some(Target {
        name: "baseline+fsync",
        addr,
        process: Some(process),
        token: None,
        _dir: Some(dir),
    }))
}

// ----------------------------------------------------------------------------
// Process figures

pub async fn process_phase(
    args: &Args,
    chatd_bin: &std::path::Path,
    baseline_bin: &std::path::Path,
    report: &mut Report,
) -> anyhow::Result<()> {
    const RUNS: usize = 5;
    let mut figures = Vec::new();
    for chatd in [true, false] {
        if !chatd && !baseline_bin.exists() {
            figures.push(None);
            continue;
        }
        let mut ready = Vec::new();
        let mut rss_ready = Vec::new();
        let mut rss_idle = Vec::new();
        for _ in 0..RUNS {
            let dir = common::data_dir(args.tmp.as_deref())?;
            let process = if chatd {
                common::spawn_chatd(chatd_bin, dir.path(), &[])?
            } else {
                common::spawn_baseline(baseline_bin, None)?
            };
            common::wait_healthy(process.addr, Duration::from_secs(20)).await?;
            ready.push(process.spawned.elapsed().as_secs_f64() * 1000.0);
            rss_ready.push(process.rss_kib() as f64 / 1024.0);
            tokio::time::sleep(Duration::from_millis(500)).await;
            rss_idle.push(process.rss_kib() as f64 / 1024.0);
        }
        let median = |mut v: Vec<f64>| {
            v.sort_by(|a, b| a.total_cmp(b));
            v[v.len() / 2]
        };
        let bin = if chatd { chatd_bin } else { baseline_bin };
        let size = std::fs::metadata(bin)?.len() as f64 / 1024.0 / 1024.0;
        figures.push(Some((
            median(ready),
            median(rss_ready),
            median(rss_idle),
            size,
        )));
    }
    let (c, b) = (figures[0].expect("chatd"), figures[1]);
    report.figure(
        "ready_ms",
        "process",
        "ready ms (median of 5)",
        c.0,
        b.map(|b| b.0),
    );
    report.figure(
        "rss_ready_mib",
        "process",
        "RSS MiB at ready",
        c.1,
        b.map(|b| b.1),
    );
    report.figure(
        "rss_idle_mib",
        "process",
        "RSS MiB idle 0.5s",
        c.2,
        b.map(|b| b.2),
    );
    report.figure("binary_mib", "process", "binary MiB", c.3, b.map(|b| b.3));
    report.check(
        "process: idle RSS <= 15 MiB",
        Some(c.2 <= 15.0),
        format!("{:.1} MiB", c.2),
    );
    report.check(
        "process: ready <= 100 ms",
        Some(c.0 <= 100.0),
        format!("{:.1} ms", c.0),
    );
    report.check(
        "process: binary <= 15 MiB",
        Some(c.3 <= 15.0),
        format!("{:.2} MiB", c.3),
    );
    Ok(())
}
