//! Pieces shared by the benchmark programs (`loadgen`, `ingest`): a minimal
//! keep-alive HTTP/1.1 client, server processes and their RSS, latency
//! histograms, the machine description and table printing.
#![allow(dead_code)]

use std::path::Path;
use std::time::Duration;

use hdrhistogram::Histogram;

#[path = "common/http.rs"]
mod http;
#[path = "common/process.rs"]
mod process;
#[path = "common/ws.rs"]
mod ws;

pub use http::*;
pub use process::*;
// Unused in `ingest`, which opens no WebSocket by hand (like `dead_code` above).
#[allow(unused_imports)]
pub use ws::*;

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
