//! Batches: the relay publishes a committed batch inside [`Out::batched`],
//! which holds every direct write back and then writes each outbox once
//! (one `writev` for all of the batch's frames), sharing the outboxes of a
//! batch of [`Out::SHARED_FROM`] or more out among tasks.

use std::cell::RefCell;
use std::sync::Arc;

use super::{Flushed, Out, Queue};

thread_local! {
    /// Inside [`Out::batched`]: the outboxes whose direct writes wait for
    /// the end of the batch.
    static DEFERRED: RefCell<Option<Vec<Arc<Out>>>> = const { RefCell::new(None) };
}

/// Writes each outbox; what the kernel does not take now is left to the
/// socket's writer task.
fn flush_each(outs: Vec<Arc<Out>>) {
    for out in outs {
        if out.flush() != Flushed::Empty {
            out.waiting.notify_one();
        }
    }
}

/// Leaves the first chunk of `outs` to write here and spawns a task for
/// each other chunk (halves, or chunks of [`Out::PER_TASK`]), which the
/// runtime's other workers can take. Order holds: a frame queued meanwhile
/// waits behind these (`Queue::deferred`).
fn share_out(outs: &mut Vec<Arc<Out>>) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let chunk = Out::PER_TASK.min(outs.len().div_ceil(2));
    while outs.len() > chunk {
        let rest = outs.split_off(outs.len() - chunk);
        runtime.spawn(async move { flush_each(rest) });
    }
    // A task spawned on a worker thread waits in that worker's LIFO slot,
    // which the others never steal from, and wakes nobody: the last chunk
    // would be written here, after this one. One more spawn moves it to
    // the queue the other workers steal from, and wakes one of them.
    runtime.spawn(async {});
}

impl Out {
    /// Sockets one task writes at most: a batch's end shares larger ones
    /// out in chunks of at most this many, and the hub writes rooms up to
    /// this size directly (`hub::DIRECT_MAX`).
    pub const PER_TASK: usize = 256;

    /// Batches of at least this many outboxes are written by two tasks or
    /// more at once, so that both CPUs of a small machine write: one task
    /// writing a room of 100 took twice the bare-warp baseline's time from
    /// the first delivery to the last (each loopback write runs the
    /// receiver's side too, ~5 µs). Below it, waking another worker costs
    /// more than the writes it would take over.
    pub const SHARED_FROM: usize = 40;

    /// Runs `publish` with this thread's direct writes held back until it
    /// returns, then writes each outbox's frames in one `writev`: a batch
    /// of messages costs a socket one write, not one per message.
    pub fn batched<R>(publish: impl FnOnce() -> R) -> R {
        let outer = DEFERRED.with(|d| d.borrow_mut().replace(Vec::new()));
        let result = publish();
        let deferred = DEFERRED.with(|d| std::mem::replace(&mut *d.borrow_mut(), outer));
        if let Some(mut outs) = deferred {
            if outs.len() >= Out::SHARED_FROM {
                share_out(&mut outs);
            }
            flush_each(outs);
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
