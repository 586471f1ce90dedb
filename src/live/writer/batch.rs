//! One batch: applied in one transaction and committed, then published
//! and answered; refused whole when it cannot be stored, and tried again
//! while another process holds the database locked.

use std::time::{Duration, Instant};

use rusqlite::Connection;
use tokio::sync::mpsc;

use super::finish::refuse;
use super::indexing::Indexing;
use super::relay::Relay;
use super::{apply, top_up, Done, Op, Reply};
use crate::domain::error::Error;
use crate::metrics::Metrics;
use crate::storage::{self, StorageError};

/// How long a batch that finds the database locked by another process
/// (a backup tool, an `sqlite3` shell) is tried again before its senders
/// are told `unavailable`, and how long each retry waits for the lock:
/// short, so REST calls that join the batch meanwhile get their 503 soon.
const BUSY_RETRY_FOR: Duration = Duration::from_secs(30);
const BUSY_RETRY_WAIT: Duration = Duration::from_secs(1);

/// Applies and commits one batch, then hands it to the relay, which
/// publishes and answers it.
pub(super) fn commit_batch(
    conn: &mut Connection,
    rx: &mut mpsc::Receiver<Op>,
    batch: &mut Vec<Op>,
    relay: &Relay,
    metrics: &Metrics,
    indexing: &mut Indexing,
) {
    let started = Instant::now();
    let mut retried = false;
    let outcomes = loop {
        match try_batch(conn, batch) {
            Ok(outcomes) => {
                let posted = outcomes
                    .iter()
                    .filter(|o| matches!(o, Ok(Done::Posted(_))))
                    .count();
                metrics.batch(batch.len(), posted);
                indexing.posted(posted);
                break outcomes;
            }
            Err(error) => {
                let error = StorageError::from(error);
                if matches!(error, StorageError::Busy) && started.elapsed() < BUSY_RETRY_FOR {
                    // The REST callers of this try get their 503 now;
                    // socket ops stay, in order, with what queued up
                    // meanwhile, and are tried again.
                    if !retried {
                        tracing::warn!(
                            ops = batch.len(),
                            "the database is locked by another process; retrying the message batch"
                        );
                    }
                    // Whatever queued up during this try has waited for
                    // the lock too: its REST callers are answered now, so
                    // none waits longer than one try (about 5 s).
                    top_up(rx, batch);
                    refuse_http(batch);
                    let _ = conn.busy_timeout(BUSY_RETRY_WAIT);
                    retried = true;
                    continue;
                }
                tracing::error!(%error, ops = batch.len(), "message batch failed; nothing of it was stored");
                // Every op hears the same kind of failure: a full disk is
                // `unavailable` to each of them, not a server error.
                break batch
                    .iter()
                    .map(|_| Err(Error::Storage(error.again())))
                    .collect();
            }
        }
    };
    if retried {
        let _ = conn.busy_timeout(storage::BUSY_TIMEOUT);
    }
    relay.finish(batch.drain(..).zip(outcomes).collect());
}

/// Applies a batch in one transaction; nothing of it is stored on an error.
fn try_batch(conn: &mut Connection, batch: &[Op]) -> rusqlite::Result<Vec<Result<Done, Error>>> {
    // Edits and deletes read before they write.
    let tx = storage::write_transaction(conn)?;
    let mut outcomes = Vec::with_capacity(batch.len());
    for op in batch {
        outcomes.push(apply::apply(&tx, op)?);
    }
    tx.commit()?;
    Ok(outcomes)
}

/// Answers the REST callers of a batch that found the database locked
/// with `Busy` (503), and keeps the rest of it in order.
fn refuse_http(batch: &mut Vec<Op>) {
    let (http, kept): (Vec<Op>, Vec<Op>) = batch.drain(..).partition(from_http);
    batch.extend(kept);
    for op in http {
        refuse(op, Error::Storage(StorageError::Busy));
    }
}

/// Whether a REST handler waits for this op (a socket's ops are kept and
/// tried again; so are flushes and searches, which wait for the batch).
fn from_http(op: &Op) -> bool {
    match op {
        Op::PostHttp { .. } => true,
        Op::Edit { reply, .. } | Op::Delete { reply, .. } | Op::React { reply, .. } => {
            matches!(reply, Reply::Http(_))
        }
        Op::Read { reply, .. } => matches!(reply, Reply::Http(_)),
        Op::Post { .. } | Op::Flush(_) | Op::Searchable(_) => false,
    }
}
