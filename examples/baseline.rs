//! The bare-warp baseline server the benchmarks compare chatd with: the same
//! JSON shapes for the benchmarked routes, no database (see
//! `examples/bench/baseline_server.rs`).
//!
//! ```text
//! cargo run --release --example baseline -- --addr 127.0.0.1:0
//! ```
//!
//! Prints `baseline listening on http://<addr>` and serves until killed.
//! With `--fsync-dir <DIR>`, each WebSocket message is written to a journal
//! there and synced before it is fanned out (`bench/baseline_server/journal.rs`).
//! Loopback only: any other address is refused.

use std::net::SocketAddr;

use clap::Parser;

#[path = "bench/baseline_server.rs"]
mod baseline_server;

#[derive(Parser)]
#[command(about = "Bare warp 0.4 baseline for the chatd benchmarks")]
struct Args {
    /// Loopback address to listen on (port 0 picks one).
    #[arg(long, default_value = "127.0.0.1:0")]
    addr: SocketAddr,
    /// Write and `fdatasync` each message to a journal in this directory
    /// before fanning it out (the durable reference `loadgen` compares
    /// chatd's message latency with).
    #[arg(long)]
    fsync_dir: Option<std::path::PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::ensure!(
        args.addr.ip().is_loopback(),
        "the baseline listens on loopback addresses only"
    );
    let journal = args
        .fsync_dir
        .as_deref()
        .map(baseline_server::journal::Journal::create)
        .transpose()?;
    let listener = baseline_server::bind(args.addr)?;
    println!("baseline listening on http://{}", listener.local_addr()?);
    baseline_server::serve(listener, journal).await;
    Ok(())
}
