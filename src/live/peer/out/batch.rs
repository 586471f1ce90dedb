//! Batches: the relay publishes a committed batch inside [`Out::batched`],
//! which holds every direct write back and then writes each outbox once
//! (one `writev` for all of the batch's frames), sharing the outboxes of a
//! large batch out among tasks.

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

impl Out {
    /// Sockets one task writes at once: a batch's end writes this many
    /// outboxes and shares the rest out in chunks of it, and the hub
    /// writes rooms up to this size directly (`hub::DIRECT_MAX`).
    pub const PER_TASK: usize = 256;

    /// Runs `publish` with this thread's direct writes held back until it
    /// returns, then writes each outbox's frames in one `writev`: a batch
    /// of messages costs a socket one write, not one per message.
    pub fn batched<R>(publish: impl FnOnce() -> R) -> R {
        let outer = DEFERRED.with(|d| d.borrow_mut().replace(Vec::new()));
        let result = publish();
        let deferred = DEFERRED.with(|d| std::mem::replace(&mut *d.borrow_mut(), outer));
        if let Some(mut outs) = deferred {
            // A large room's writes are shared: chunks go to tasks the
            // runtime's other workers can take, the first stays here.
            // Order holds: a frame queued meanwhile waits behind these.
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                while outs.len() > Out::PER_TASK {
                    let chunk = outs.split_off(outs.len() - Out::PER_TASK);
                    runtime.spawn(async move { flush_each(chunk) });
                }
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
