//! Where a committed batch is published and answered: on a task of the
//! async runtime, not on the writer's thread.
//!
//! Each socket a thread outside the runtime wakes is a remote wake: it goes
//! through the runtime's shared queue and often unparks a worker for that
//! one socket. On two cores the woken worker preempted the writer, wrote to
//! a socket or two and parked again, over and over for one message (the
//! writer switched ~10 times per message), and one core did nearly all the
//! writes. Handing the batch to this task costs one wake; the sockets it
//! wakes go to its worker's own queue, and the other worker steals half of
//! them, as when a socket task publishes (BENCHMARKS.md, "third session").
//!
//! Outcomes keep their order: one task finishes the batches in commit
//! order, each one's publishes, refusals and answers as [`finish`] makes
//! them, so a REST caller still hears back after the chat's sockets were
//! told.

use std::sync::Arc;

use tokio::sync::mpsc;

use super::finish::finish;
use super::{Done, Op};
use crate::domain::error::Error;
use crate::live::fanout::Fanout;
use crate::live::peer::Out;

/// A committed batch: each operation with its outcome, in commit order.
pub(super) type Finished = Vec<(Op, Result<Done, Error>)>;

/// Batches handed over and not yet finished, at most; the writer waits
/// beyond that, as it waited for its own publishing before.
const QUEUE: usize = 64;

pub(super) struct Relay {
    /// None without a runtime: then the writer finishes batches itself.
    tx: Option<mpsc::Sender<Finished>>,
    fanout: Arc<dyn Fanout>,
}

impl Relay {
    /// Starts the task on the current runtime, if there is one.
    pub(super) fn start(fanout: Arc<dyn Fanout>) -> Relay {
        let tx = tokio::runtime::Handle::try_current().ok().map(|runtime| {
            let (tx, mut rx) = mpsc::channel::<Finished>(QUEUE);
            let fanout = fanout.clone();
            runtime.spawn(async move {
                while let Some(batch) = rx.recv().await {
                    finish_all(batch, &*fanout);
                }
            });
            tx
        });
        Relay { tx, fanout }
    }

    /// Publishes and answers a committed batch; called on the writer's
    /// thread (outside any runtime).
    pub(super) fn finish(&self, batch: Finished) {
        let batch = match &self.tx {
            Some(tx) => match tx.blocking_send(batch) {
                Ok(()) => return,
                // The runtime is gone (shutting down): finish it here.
                Err(mpsc::error::SendError(batch)) => batch,
            },
            None => batch,
        };
        finish_all(batch, &*self.fanout);
    }
}

/// Publishes and answers a batch; each socket gets the batch's frames in
/// one write (see [`Out::batched`]).
fn finish_all(batch: Finished, fanout: &dyn Fanout) {
    Out::batched(|| {
        for (op, outcome) in batch {
            finish(op, outcome, fanout);
        }
    });
}
