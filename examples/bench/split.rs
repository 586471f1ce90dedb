//! `loadgen --fanout-split`: each fan-out message's latency split in two,
//! the wait for its first delivery and the spread from the first to the
//! last of its deliveries. The first tells the server's own delay per
//! message (hops, the commit) apart from the time it takes to write to
//! every socket, which the p50/p99 over all deliveries mix together.
//! Off by default: it takes a lock per delivery in the load generator.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

use crate::common::{histogram, pct_ms, record_us};

/// The first and the last delivery of each message, by its send time.
#[derive(Default)]
pub struct Split {
    /// Send time (ns since the run's epoch) -> (first, last) latency.
    by_message: Mutex<HashMap<u64, (Duration, Duration)>>,
}

/// Percentiles of one run, in milliseconds.
pub struct Summary {
    pub first_p50: f64,
    pub first_p99: f64,
    pub spread_p50: f64,
    pub spread_p99: f64,
}

impl Split {
    /// One delivery of the message sent at `sent_ns`, `latency` after it.
    pub fn record(&self, sent_ns: u64, latency: Duration) {
        let mut by_message = self.by_message.lock().unwrap_or_else(|e| e.into_inner());
        by_message
            .entry(sent_ns)
            .and_modify(|(first, last)| {
                *first = (*first).min(latency);
                *last = (*last).max(latency);
            })
            .or_insert((latency, latency));
    }

    /// Percentiles over the messages of the run (none without deliveries).
    pub fn summary(&self) -> Option<Summary> {
        let by_message = self.by_message.lock().unwrap_or_else(|e| e.into_inner());
        if by_message.is_empty() {
            return None;
        }
        let (mut firsts, mut spreads) = (histogram(), histogram());
        for (first, last) in by_message.values() {
            record_us(&mut firsts, *first);
            record_us(&mut spreads, *last - *first);
        }
        Some(Summary {
            first_p50: pct_ms(&firsts, 50.0),
            first_p99: pct_ms(&firsts, 99.0),
            spread_p50: pct_ms(&spreads, 50.0),
            spread_p99: pct_ms(&spreads, 99.0),
        })
    }
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
