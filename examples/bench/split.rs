//! `loadgen --fanout-split`: each fan-out message's latency split in two,
//! the wait for its first delivery and the spread from the first to the
//! last of its deliveries. The first tells the server's own delay per
//! message (hops, the commit) apart from the time it takes to write to
//! every socket, which the p50/p99 over all deliveries mix together.
//! Off by default: it takes a lock per delivery in the load generator.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;

/// The first and the last delivery of each message, by its send time.
#[derive(Default)]
pub struct Split {
    /// Send time (ns since the run's epoch) -> (first, last) latency in µs.
    by_message: Mutex<HashMap<u64, (u64, u64)>>,
}

/// Percentiles of one run, in milliseconds.
pub struct Summary {
    pub first_p50: f64,
    pub first_p99: f64,
    pub spread_p50: f64,
    pub spread_p99: f64,
}

impl Split {
    /// One delivery of the message sent at `sent_ns`, `latency_us` after it.
    pub fn record(&self, sent_ns: u64, latency_us: u64) {
        let mut by_message = self.by_message.lock().unwrap_or_else(|e| e.into_inner());
        by_message
            .entry(sent_ns)
            .and_modify(|(first, last)| {
                *first = (*first).min(latency_us);
                *last = (*last).max(latency_us);
            })
            .or_insert((latency_us, latency_us));
    }

    /// Percentiles over the messages of the run (none without deliveries).
    pub fn summary(&self) -> Option<Summary> {
        let by_message = self.by_message.lock().unwrap_or_else(|e| e.into_inner());
        let mut firsts: Vec<u64> = by_message.values().map(|(first, _)| *first).collect();
        let mut spreads: Vec<u64> = by_message.values().map(|(f, l)| l - f).collect();
        Some(Summary {
            first_p50: percentile_ms(&mut firsts, 0.50)?,
            first_p99: percentile_ms(&mut firsts, 0.99)?,
            spread_p50: percentile_ms(&mut spreads, 0.50)?,
            spread_p99: percentile_ms(&mut spreads, 0.99)?,
        })
    }
}

fn percentile_ms(values: &mut [u64], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    let at = ((values.len() as f64 * q) as usize).min(values.len() - 1);
    Some(values[at] as f64 / 1000.0)
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "first delivery p50 {:.2} p99 {:.2} ms, first->last p50 {:.2} p99 {:.2} ms",
            self.first_p50, self.first_p99, self.spread_p50, self.spread_p99
        )
    }
}
