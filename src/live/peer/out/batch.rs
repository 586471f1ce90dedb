//! Batches: the relay publishes a committed batch inside [`Out::batched`],
//! which holds every direct write back and then writes each outbox once
//! (one `writev` for all of the batch's frames), with helper tasks for a
//! batch of [`Out::SHARED_FROM`] outboxes or more.

use std::cell::RefCell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use super::{Flushed, Out, Queue};

thread_local! {
    /// Inside [`Out::batched`]: the outboxes whose direct writes wait for
    /// the end of the batch.
    static DEFERRED: RefCell<Option<Vec<Arc<Out>>>> = const { RefCell::new(None) };
}

/// Writes an outbox; what the kernel does not take now is left to the
/// socket's writer task.
fn flush_one(out: &Out) {
    if out.flush() != Flushed::Empty {
        out.waiting.notify_one();
    }
}

/// A batch's outboxes, each written by whichever task claims it first.
struct Claims {
    outs: Vec<Arc<Out>>,
    next: AtomicUsize,
    /// Outboxes one claimer writes at most before it returns.
    limit: usize,
}

impl Claims {
    /// Claims and writes outboxes until `limit` are written or none is
    /// left.
    fn work(&self) {
        for _ in 0..self.limit {
            let next = self.next.fetch_add(1, Ordering::Relaxed);
            let Some(out) = self.outs.get(next) else {
                return;
            };
            flush_one(out);
        }
    }
}

/// Writes the outboxes of a batch. From [`Out::SHARED_FROM`] of them, and
/// inside a runtime, it writes some here while helper tasks, which the
/// runtime's other workers can take, claim outboxes from the same list. A
/// room of up to [`Out::PER_TASK`] gets one helper and is written before
/// this returns, helper or not (a helper that starts late takes only what
/// is left); a larger room is written [`Out::LARGE_CHUNK`] outboxes per
/// task (this one and one helper per further chunk), in turns with other
/// tasks. Order holds: a frame queued meanwhile waits behind these
/// (`Queue::deferred`).
fn write_all(outs: Vec<Arc<Out>>) {
    let runtime = (outs.len() >= Out::SHARED_FROM)
        .then(tokio::runtime::Handle::try_current)
        .and_then(Result::ok);
    let Some(runtime) = runtime else {
        return outs.iter().for_each(|out| flush_one(out));
    };
    let limit = if outs.len() <= Out::PER_TASK {
        Out::PER_TASK
    } else {
        Out::LARGE_CHUNK
    };
    let claims = Arc::new(Claims {
        outs,
        next: AtomicUsize::new(0),
        limit,
    });
    let helpers = claims.outs.len().div_ceil(limit).max(2) - 1;
    for _ in 0..helpers {
        let claims = claims.clone();
        runtime.spawn(async move { claims.work() });
    }
    // A task spawned on a worker thread waits in that worker's LIFO slot,
    // which the others never steal from, and wakes nobody. One more spawn
    // moves the last helper to the queue the other workers steal from, and
    // wakes one of them.
    runtime.spawn(async {});
    claims.work();
}

impl Out {
    /// Rooms up to this size are written by a batch's end with one helper
    /// at most (the relay may write them all), and by the hub directly
    /// outside a batch (`hub::DIRECT_MAX`).
    pub const PER_TASK: usize = 256;

    /// In a room above [`Out::PER_TASK`] sockets, each task of a batch's
    /// end writes this many outboxes at most, and the batch starts a
    /// helper per further chunk. A task writing 256 sockets held its
    /// worker ~1.5 ms at fan-out 1,000, and the sender's next frame waited
    /// behind it to be read (p50 1.9 ms in the runs that missed); with
    /// chunks of 64 the p99 ratio was 1.13x against 1.56x (medians of 11
    /// rounds each; 32 and 128 did worse), bigroom no worse
    /// (BENCHMARKS.md, "twelfth session").
    pub const LARGE_CHUNK: usize = 64;

    /// Batches of at least this many outboxes get helper tasks, so that
    /// both CPUs of a small machine write: one task writing a room of 100
    /// took twice the bare-warp baseline's time from the first delivery
    /// to the last (each loopback write runs the receiver's side too,
    /// ~5 µs). Helpers claim outboxes one at a time rather than take a
    /// fixed half: the worker a helper wakes started ~0.2 ms late (p50,
    /// on two busy cores), and its half then finished last (BENCHMARKS.md,
    /// "eleventh session"). Below this size, waking another worker costs
    /// more than the writes it would take over.
    pub const SHARED_FROM: usize = 40;

    /// Runs `publish` with this thread's direct writes held back until it
    /// returns, then writes each outbox's frames in one `writev`: a batch
    /// of messages costs a socket one write, not one per message.
    pub fn batched<R>(publish: impl FnOnce() -> R) -> R {
        let outer = DEFERRED.with(|d| d.borrow_mut().replace(Vec::new()));
        let result = publish();
        let deferred = DEFERRED.with(|d| std::mem::replace(&mut *d.borrow_mut(), outer));
        if let Some(outs) = deferred {
            write_all(outs);
        }
        result
    }

    /// True inside [`Out::batched`] on this thread: direct writes are
    /// held back (so cheap enough to make under a lock).
    pub fn in_batch() -> bool {
        DEFERRED.with(|d| d.borrow().is_some())
    }

    /// Inside [`Out::batched`], when a direct write could go out now:
    /// holds it back (the first frame enlists the outbox with the batch).
    /// False outside a batch, and when frames wait for other reasons.
    pub(super) fn defer(self: &Arc<Self>, queue: &mut Queue) -> bool {
        if self.stream.is_none() || queue.hello_last_id.is_none() {
            return false;
        }
        if queue.deferred {
            return true;
        }
        if !queue.items.is_empty() {
            return false;
        }
        DEFERRED.with(|d| match d.borrow_mut().as_mut() {
            None => false,
            Some(list) => {
                list.push(self.clone());
                queue.deferred = true;
                true
            }
        })
    }
}
