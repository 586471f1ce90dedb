//! When the writer brings the search index up to date
//! (`crate::storage::search_index`): in the quiet moments after messages
//! are broadcast, in batches, so indexing never sits between a message and
//! its broadcast; at once when a search asks; and between busy batches when
//! it has fallen far behind.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rusqlite::Connection;

use crate::storage::search_index::{self, Progress};

/// How long new messages wait for a quiet writer before they are indexed:
/// short, so a search finds them even without asking; long enough that
/// indexing comes in batches (one index segment per batch).
pub(super) const QUIET: Duration = Duration::from_millis(50);

/// Indexed even while the writer stays busy, once it is this far behind.
const MAX_BEHIND: Duration = Duration::from_secs(1);

/// How often an idle writer looks for messages written by another process
/// (the demo reset, an import), which it was not told of.
const LOOK_EVERY: Duration = Duration::from_secs(1);

/// What the writer knows of the index.
pub(super) struct Indexing {
    /// When the oldest message not yet indexed was committed.
    behind_since: Option<Instant>,
    /// Posts committed since the index was last up to date.
    waiting: i64,
    /// When a quiet writer next looks for messages of other processes.
    next_look: Instant,
    /// Shared with the [`Writer`](super::Writer) handles: true while
    /// messages wait, so a search asks the writer to index them first.
    behind: Arc<AtomicBool>,
}

impl Indexing {
    pub(super) fn new(behind: Arc<AtomicBool>) -> Indexing {
        Indexing {
            behind_since: None,
            waiting: 0,
            next_look: Instant::now() + LOOK_EVERY,
            behind,
        }
    }

    /// Messages were committed that the index does not hold yet. Called
    /// before they are broadcast, so a search that follows a broadcast sees
    /// the flag.
    pub(super) fn posted(&mut self, count: usize) {
        if count == 0 {
            return;
        }
        self.waiting += count as i64;
        self.behind_since.get_or_insert_with(Instant::now);
        self.behind.store(true, Ordering::Release);
    }

    /// When the writer should stop waiting for operations: to index, or to
    /// look for messages of other processes.
    pub(super) fn wake_at(&self) -> Instant {
        self.behind_since
            .map_or(self.next_look, |since| since + QUIET)
    }

    /// The writer found no operation waiting until [`wake_at`](Self::wake_at):
    /// indexes what waits long enough, or looks for others' messages.
    pub(super) fn when_quiet(&mut self, conn: &mut Connection) {
        let now = Instant::now();
        match self.behind_since {
            Some(since) if now >= since + QUIET => self.catch_up(conn, false),
            Some(_) => {}
            None if now >= self.next_look => {
                self.look(conn);
                self.next_look = now + LOOK_EVERY;
            }
            None => {}
        }
    }

    /// True when the writer should index now, busy or not.
    pub(super) fn overdue(&self) -> bool {
        self.waiting >= search_index::BATCH
            || self
                .behind_since
                .is_some_and(|since| since.elapsed() >= MAX_BEHIND)
    }

    /// Looks for messages another process wrote.
    pub(super) fn look(&mut self, conn: &Connection) {
        match search_index::progress(conn) {
            Ok(progress) if progress.behind() > 0 => self.posted(progress.behind() as usize),
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "reading the search index's progress failed"),
        }
    }

    /// Indexes one batch (`all`: every waiting message). A failure (a full
    /// disk) is logged and tried again later; searches meanwhile miss the
    /// newest messages, nothing else does.
    pub(super) fn catch_up(&mut self, conn: &mut Connection, all: bool) {
        let mut upto = None;
        loop {
            match search_index::catch_up(conn) {
                Ok(Progress {
                    indexed_upto,
                    newest,
                }) if indexed_upto >= newest => {
                    self.behind_since = None;
                    self.waiting = 0;
                    self.behind.store(false, Ordering::Release);
                    return;
                }
                Ok(progress) if all && upto != Some(progress.indexed_upto) => {
                    upto = Some(progress.indexed_upto);
                }
                Ok(_) => {
                    self.waiting -= search_index::BATCH;
                    return;
                }
                Err(error) => {
                    tracing::warn!(%error, "indexing new messages for search failed; trying again");
                    self.behind_since = Some(Instant::now());
                    return;
                }
            }
        }
    }
}
