//! How long one thread takes to wake another on this machine: the price of
//! each hop between threads on the message path (socket task -> writer
//! thread -> socket tasks), which the fan-out benchmark pays per message.
//!
//! Two threads hand a token back and forth over channels, so each round
//! trip is two wakes. Measured back to back, and after the sender slept
//! 0.1 ms and 1 ms, as between the messages of a 1,000 msg/s run, by when
//! the other core has gone idle: on a virtual machine, waking an idle vCPU
//! goes through the hypervisor, and costs several times a hot wake.
//!
//! Run: `cargo run --release --example wake`.

use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

const ROUNDS: usize = 2_000;

fn main() {
    for pause in [
        Duration::ZERO,
        Duration::from_micros(100),
        Duration::from_millis(1),
    ] {
        let (to_peer, at_peer) = mpsc::sync_channel::<()>(1);
        let (to_main, at_main) = mpsc::sync_channel::<()>(1);
        let peer = thread::spawn(move || {
            while at_peer.recv().is_ok() {
                if to_main.send(()).is_err() {
                    break;
                }
            }
        });
        let mut round_trips =
            Histogram::<u64>::new_with_bounds(1, 10_000_000_000, 3).expect("histogram bounds");
        for _ in 0..ROUNDS {
            if !pause.is_zero() {
                thread::sleep(pause);
            }
            let start = Instant::now();
            to_peer.send(()).expect("the peer thread runs");
            at_main.recv().expect("the peer thread runs");
            let ns = (start.elapsed().as_nanos() as u64).clamp(1, 10_000_000_000);
            round_trips.record(ns).expect("in bounds");
        }
        drop(to_peer);
        peer.join().expect("the peer thread ends");
        let us = |q: f64| round_trips.value_at_quantile(q) as f64 / 1000.0;
        println!(
            "after a pause of {:>5} us: round trip (two wakes) p50 {:6.1} us  p90 {:6.1} us  p99 {:6.1} us",
            pause.as_micros(),
            us(0.5),
            us(0.9),
            us(0.99)
        );
    }
}
