//! Checkpoints (copying the WAL back into the database), run by the writer
//! itself in its quiet moments.
//!
//! SQLite starts the WAL over from its beginning only when a checkpoint
//! has copied all of it and the next write begins. A checkpointing thread
//! of its own never got there while messages kept coming (each of its
//! passes took longer than the gap between two commits), so the WAL grew
//! by ~10 MB/s at 1,000 messages/s, and every commit that grows the file
//! makes `fdatasync` wait for the file system's journal: commits took
//! p50 279 µs against 124 µs once the writer checkpoints between its own
//! writes and the WAL is reused. A quiet writer checkpoints once a second;
//! a busy one at the latest every few seconds, between batches.

use std::time::{Duration, Instant};

use rusqlite::Connection;

/// How often a quiet writer checkpoints.
const EVERY: Duration = Duration::from_secs(1);

/// How long a busy writer goes without one at most.
const AT_THE_LATEST: Duration = Duration::from_secs(3);

pub(super) struct Checkpoints {
    last: Instant,
}

impl Checkpoints {
    pub(super) fn new() -> Checkpoints {
        Checkpoints {
            last: Instant::now(),
        }
    }

    /// When a quiet writer should checkpoint next.
    pub(super) fn due(&self) -> Instant {
        self.last + EVERY
    }

    /// True when the writer should checkpoint now, busy or not.
    pub(super) fn overdue(&self) -> bool {
        self.last.elapsed() >= AT_THE_LATEST
    }

    /// A passive checkpoint: it never waits for readers; what they still
    /// use is copied next time.
    pub(super) fn run(&mut self, conn: &Connection) {
        if let Err(error) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::warn!(%error, "checkpoint failed");
        }
        self.last = Instant::now();
    }
}
