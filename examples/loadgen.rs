//! Load generator: measures chatd and the bare-warp baseline
//! (`examples/baseline.rs`) in the same run and reports chatd's figures as
//! ratios to the baseline's. Loopback only; every phase is bounded by
//! `--seconds` and stops by itself.
//!
//! ```text
//! cargo build --release --bin chatd && cargo build --release --examples
//! ulimit -n 20000   # the idle-socket phase holds that many sockets
//! target/release/examples/loadgen --seconds 10
//! ```
//!
//! Phases (`--only a,b,..`; all by default, in this order):
//! - `process`: ready time (spawn → `/healthz` 200), idle RSS, binary size;
//! - `list`: `GET /api/chat/films/` (100-chat page) at `--connections`;
//! - `history`: `GET /api/chat/films/<id>/messages/` (100-message page);
//! - `create`: `POST /api/chat/` (chatd only);
//! - `fanout`: one chat, 100 sockets with 1 sender at 1,000 msg/s, and 1,000
//!   sockets at 100 msg/s (`--fanout-sockets` picks); latency from a send
//!   timestamp in the text (`--fanout-split`: also each message's first
//!   delivery and the spread to its last, see `bench/split.rs`);
//! - `max`: one chat, 100 sockets, the sender as fast as the slowest
//!   receiver allows (at most `--window` messages sent and not yet received
//!   by every socket); chatd's count is checked in the REST history
//!   afterwards;
//! - `idle`: `--idle-sockets` idle sockets (`--idle-per-chat` per chat) on a
//!   fresh server, KiB of VmRSS per socket;
//! - `bigroom` (only when named: it takes minutes): `--bigroom-sockets`
//!   sockets in ONE chat of a fresh server: ramp time and hello latency,
//!   KiB of VmRSS per socket, `presence` frames per socket, fan-out latency
//!   and losses of 1 sender at `--bigroom-rate` for `--seconds`, then every
//!   socket closes at once and the server's close answers are counted (see
//!   `bench/bigroom.rs`).
//! - `search` (only when named: it builds 1,000,000 messages first): `GET /api/search/?q=` at `--search-connections` over a data
//!   set of `--search-messages` messages it builds itself (chatd only; see
//!   `bench/search.rs`).
//!
//! chatd runs as a child process of the release binary (`--chatd`) with a
//! temporary data directory and rate limits raised; the baseline as a child
//! process of `target/release/examples/baseline` (or in-process if that is
//! missing). Prints a table, the targets, and one line of JSON.

use std::path::PathBuf;
use std::time::Instant;

use clap::Parser;
use serde_json::json;

#[path = "bench/baseline_server.rs"]
mod baseline_server;
#[path = "bench/bigroom.rs"]
mod bigroom;
#[path = "bench/bigroom_phase.rs"]
mod bigroom_phase;
#[path = "bench/common.rs"]
mod common;
#[path = "bench/fanout.rs"]
mod fanout;
#[path = "bench/fanout_phase.rs"]
mod fanout_phase;
#[path = "bench/http_load.rs"]
mod http_load;
#[path = "bench/idle.rs"]
mod idle;
#[path = "bench/process.rs"]
mod process;
#[path = "bench/report.rs"]
mod report;
#[path = "bench/search.rs"]
mod search;
#[path = "bench/split.rs"]
mod split;
#[path = "bench/ws.rs"]
mod ws;

use process::{start_baseline, start_chatd};
use report::Report;

#[derive(Parser)]
#[command(about = "Benchmarks chatd against a bare warp baseline on loopback")]
struct Args {
    /// Measured seconds of each run (after the warm-up).
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Warm-up seconds before each REST run.
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,
    /// HTTP connections of the REST runs.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Phases to run, comma-separated: process,list,history,create,fanout,max,idle
    /// (the default), and bigroom and search (only when named).
    #[arg(long, default_value = "process,list,history,create,fanout,max,idle")]
    only: String,
    /// Search: messages in the data set.
    #[arg(long, default_value_t = 1_000_000)]
    search_messages: u64,
    /// Search: keep the data set in this directory and reuse it on the next
    /// run (default: a temporary directory, built anew).
    #[arg(long)]
    search_data: Option<PathBuf>,
    /// Search: HTTP connections searching at once.
    #[arg(long, default_value_t = 4)]
    search_connections: usize,
    /// Fixed-rate fan-out: runs of each server (taking turns); figures are
    /// the medians.
    #[arg(long, default_value_t = 3)]
    repeat: usize,
    /// Fixed-rate fan-out runs to make, by sockets, comma-separated: 100
    /// (at 1,000 msg/s) and 1000 (at 100 msg/s).
    #[arg(long, default_value = "100,1000")]
    fanout_sockets: String,
    /// Fixed-rate fan-out: also print, per run, each message's first
    /// delivery and the spread to its last (a lock per delivery in the load
    /// generator).
    #[arg(long)]
    fanout_split: bool,
    /// Fixed-rate fan-out at 1,000 msg/s: skip the durable reference (the
    /// baseline syncing each message to a journal before sending it).
    #[arg(long)]
    no_fsync_reference: bool,
    /// Idle-socket counts to try, comma-separated.
    #[arg(long, default_value = "10000")]
    idle_sockets: String,
    /// Idle sockets per chat.
    #[arg(long, default_value_t = 100)]
    idle_per_chat: usize,
    /// Max mode: messages sent and not yet received by the slowest socket;
    /// keep it well under chatd's socket queue (1024 frames), or chatd closes
    /// receivers that fall that far behind (1008).
    #[arg(long, default_value_t = 256)]
    window: u64,
    /// Bigroom: sockets in the one chat.
    #[arg(long, default_value_t = 10_000)]
    bigroom_sockets: usize,
    /// Bigroom: messages per second of the one sender (for `--seconds`).
    #[arg(long, default_value_t = 10.0)]
    bigroom_rate: f64,
    /// Bigroom: WebSocket handshakes in flight at once during the ramp.
    #[arg(long, default_value_t = 128)]
    bigroom_concurrency: usize,
    /// Bigroom: loopback source addresses (127.0.0.2 ..) the sockets are spread over.
    #[arg(long, default_value_t = 8)]
    bigroom_sources: usize,
    /// Bigroom: bound, in seconds, on the ramp and (again) on the settle after it.
    #[arg(long, default_value_t = 300.0)]
    bigroom_limit: f64,
    /// The chatd binary (default: target/release/chatd).
    #[arg(long)]
    chatd: Option<PathBuf>,
    /// The baseline binary (default: target/release/examples/baseline).
    #[arg(long)]
    baseline: Option<PathBuf>,
    /// Where chatd's temporary data directories go (default: the system temp dir).
    #[arg(long)]
    tmp: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let phases: Vec<&str> = args.only.split(',').map(str::trim).collect();
    let has = |phase: &str| phases.contains(&phase);
    let profile = common::profile_dir();
    let chatd_bin = args.chatd.clone().unwrap_or_else(|| profile.join("chatd"));
    let baseline_bin = args
        .baseline
        .clone()
        .unwrap_or_else(|| profile.join("examples").join("baseline"));
    anyhow::ensure!(
        chatd_bin.exists(),
        "{} not found: run `cargo build --release --bin chatd` first",
        chatd_bin.display()
    );
    let machine = common::machine();
    println!("machine: {machine}");
    println!(
        "open files limit: {} (children inherit it)",
        common::open_files_limit()
    );
    let mut report = Report::default();
    report.summary.insert("machine".into(), machine);
    report.summary.insert("seconds".into(), json!(args.seconds));

    if has("process") {
        process::process_phase(&args, &chatd_bin, &baseline_bin, &mut report).await?;
    }

    let rest = ["list", "history", "create", "fanout", "max"];
    if rest.iter().any(|p| has(p)) {
        let chatd = start_chatd(&args, &chatd_bin).await?;
        let baseline = start_baseline(&baseline_bin).await?;
        println!("chatd at {} , baseline at {}", chatd.addr, baseline.addr);
        let token = chatd.token.clone().expect("chatd token");
        let started = Instant::now();
        for i in 0..baseline_server::SEED_CHATS {
            common::create_chat(
                chatd.addr,
                &token,
                "films",
                &baseline_server::seed_title(i),
                &baseline_server::seed_description(i),
            )
            .await?;
        }
        println!(
            "seeded {} chats in chatd in {:.2}s",
            baseline_server::SEED_CHATS,
            started.elapsed().as_secs_f64()
        );
        if has("list") {
            http_load::list_phase(&args, &chatd, &baseline, &mut report).await?;
        }
        if has("history") {
            http_load::history_phase(&args, &chatd, &baseline, &token, &mut report).await?;
        }
        if has("create") {
            http_load::create_phase(&args, &chatd, &token, &mut report).await?;
        }
        if has("fanout") {
            fanout_phase::fanout_phase(&args, &chatd, &baseline, &baseline_bin, &mut report)
                .await?;
        }
        if has("max") {
            fanout_phase::max_phase(&args, &chatd, &baseline, &mut report).await?;
        }
        drop(chatd);
        drop(baseline);
    }

    if has("search") {
        search::search_phase(
            &chatd_bin,
            args.tmp.as_deref(),
            args.search_data.as_deref(),
            args.search_messages,
            args.search_connections,
            args.warmup,
            args.seconds,
            &mut report,
        )
        .await?;
    }

    if has("idle") {
        idle::idle_phases(&args, &chatd_bin, &baseline_bin, &mut report).await?;
    }

    if has("bigroom") {
        bigroom_phase::bigroom_phase(&args, &chatd_bin, &baseline_bin, &mut report).await?;
    }

    report::print(report);
    Ok(())
}
