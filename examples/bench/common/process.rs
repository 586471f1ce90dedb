//! Server child processes for the benchmarks (chatd and the baseline, on free
//! loopback ports) and what they use: RSS, CPU time, open files, the machine.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;

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
    let mut command = Command::new(bin);
    command
        .arg("--data-dir")
        .arg(data_dir)
        .envs(env.iter().copied());
    spawn("chatd", command)
}

/// Starts the baseline example binary on a free loopback port; with
/// `fsync_dir`, the durable one (`baseline --fsync-dir`).
pub fn spawn_baseline(bin: &Path, fsync_dir: Option<&Path>) -> anyhow::Result<ServerProcess> {
    let mut command = Command::new(bin);
    match fsync_dir {
        Some(dir) => {
            command.arg("--fsync-dir").arg(dir);
            spawn("baseline+fsync", command)
        }
        None => spawn("baseline", command),
    }
}

/// Runs `command` with `--addr` on a free loopback port, its output to
/// /dev/null and its errors to ours.
fn spawn(name: &'static str, mut command: Command) -> anyhow::Result<ServerProcess> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, free_port()?));
    let spawned = Instant::now();
    let child = command
        .arg("--addr")
        .arg(addr.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("cannot start {}", command.get_program().display()))?;
    Ok(ServerProcess {
        name,
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

/// CPU time (user + system) of all of a process's threads, living and
/// ended, from /proc (Linux).
pub fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces): utime and
    // stime are the 12th and 13th, in clock ticks (USER_HZ: 100 on Linux).
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
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
        let cpu = cpu_time(pid)?;
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
        Some(Usage { cpu, switches })
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
