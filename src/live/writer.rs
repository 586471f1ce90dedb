//! The message writer: one thread owns the only connection that writes
//! messages, and commits them in groups.
//!
//! Sockets and REST handlers queue operations; the thread takes whatever is
//! waiting (up to [`MAX_BATCH`]), applies it in one transaction with
//! `synchronous=FULL`, commits, and only then publishes the results, as
//! [`Event`]s, in commit order. So a `message` frame always means "this is
//! on disk", one fsync covers many messages, and every socket sees messages
//! in id order (which `?after=<id>` catch-up relies on). Refusals are
//! domain [`Error`]s, told to whoever asked.
//!
//! A batch that cannot be stored is stored not at all: on a full disk each
//! of its senders is told `unavailable` and later batches go on; when
//! another process holds the database locked, the batch is kept and tried
//! again for up to [`BUSY_RETRY_FOR`] (REST callers get their 503 after the
//! first try), so nothing is acknowledged before it is stored and a lock
//! shorter than that loses nothing.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use crate::domain::error::Error;
use crate::live::fanout::Fanout;
use crate::live::peer::Peer;
use crate::metrics::Metrics;
use crate::storage::community::ReactionChange;
use crate::storage::messages::Message;
use crate::storage::{self, StorageError};

/// Most operations committed in one transaction. A batch's messages reach
/// each socket's queue at once, so this stays well below the default queue
/// length (`WsLimits::queue_len`): a burst that fits the rate limits never
/// looks like a slow client.
pub const MAX_BATCH: usize = 256;

/// Operations waiting for the writer at most; senders wait beyond that.
const QUEUE: usize = 8192;

/// How long a batch that finds the database locked by another process
/// (a backup tool, an `sqlite3` shell) is tried again before its senders
/// are told `unavailable`, and how long each retry waits for the lock:
/// short, so REST calls that join the batch meanwhile get their 503 soon.
const BUSY_RETRY_FOR: Duration = Duration::from_secs(30);
const BUSY_RETRY_WAIT: Duration = Duration::from_secs(1);

/// Where the outcome of an edit, delete, reaction or read marker goes.
#[derive(Debug)]
pub enum Reply<T = Message> {
    /// A socket: it is told of a refusal (success is the broadcast).
    Socket(Peer),
    /// A REST handler waiting for the outcome.
    Http(oneshot::Sender<Result<T, Error>>),
}

/// One write to make.
#[derive(Debug)]
pub enum Op {
    /// A new message from a socket.
    Post {
        chat_id: i64,
        user_id: i64,
        text: String,
        nonce: Option<serde_json::Value>,
        origin: Peer,
    },
    Edit {
        chat_id: i64,
        message_id: i64,
        user_id: i64,
        text: String,
        reply: Reply,
    },
    Delete {
        chat_id: i64,
        message_id: i64,
        user_id: i64,
        reply: Reply,
    },
    /// A new message from a REST handler: text (may be empty) and/or the
    /// media path of an image already stored.
    PostHttp {
        chat_id: i64,
        user_id: i64,
        text: String,
        image: Option<String>,
        reply: oneshot::Sender<Result<Message, Error>>,
    },
    /// Adds, removes or toggles `user_id`'s reaction `emoji` (checked).
    React {
        chat_id: i64,
        message_id: i64,
        user_id: i64,
        emoji: String,
        change: ReactionChange,
        reply: Reply,
    },
    /// Moves `user_id`'s read marker in the chat forward to `last_read`, a
    /// message of that chat.
    Read {
        chat_id: i64,
        user_id: i64,
        last_read: i64,
        reply: Reply<ReadState>,
    },
    /// Answered once everything queued before it is committed.
    Flush(oneshot::Sender<()>),
}

/// The handle sockets and handlers queue operations on.
#[derive(Clone)]
pub struct Writer {
    tx: mpsc::Sender<Op>,
}

impl Writer {
    /// Opens the writer's connection and starts its thread. The thread ends
    /// when every handle is dropped.
    pub fn start(
        db_path: &Path,
        fanout: Arc<dyn Fanout>,
        metrics: Arc<Metrics>,
    ) -> anyhow::Result<Writer> {
        let conn = storage::connect(db_path)?;
        // Checkpoints copy the WAL into the database with fsyncs of their
        // own (3.5 ms median, 10 ms at worst here); inside the writer they
        // held up every broadcast behind them. A thread of its own does
        // them instead, and stops when the writer stops.
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        let checkpoints = storage::connect(db_path)?;
        let (alive, writer_gone) = std::sync::mpsc::channel::<()>();
        std::thread::Builder::new()
            .name("chatd-checkpoint".into())
            .spawn(move || checkpoint_every_second(&checkpoints, &writer_gone))?;
        let (tx, rx) = mpsc::channel(QUEUE);
        std::thread::Builder::new()
            .name("chatd-writer".into())
            .spawn(move || {
                run(conn, rx, &*fanout, &metrics);
                drop(alive);
            })?;
        Ok(Writer { tx })
    }

    /// Queues an operation, waiting while the queue is full.
    pub async fn submit(&self, op: Op) -> Result<(), Error> {
        self.tx
            .send(op)
            .await
            .map_err(|_| Error::internal(anyhow::anyhow!("the message writer has stopped")))
    }

    /// Edits a message for a REST handler.
    pub async fn edit(
        &self,
        chat_id: i64,
        message_id: i64,
        user_id: i64,
        text: String,
    ) -> Result<Message, Error> {
        self.ask(|reply| Op::Edit {
            chat_id,
            message_id,
            user_id,
            text,
            reply,
        })
        .await
    }

    /// Deletes a message for a REST handler.
    pub async fn delete(
        &self,
        chat_id: i64,
        message_id: i64,
        user_id: i64,
    ) -> Result<Message, Error> {
        self.ask(|reply| Op::Delete {
            chat_id,
            message_id,
            user_id,
            reply,
        })
        .await
    }

    /// Queues the op `make` builds around a reply, and waits for the answer.
    async fn ask<T>(&self, make: impl FnOnce(Reply<T>) -> Op) -> Result<T, Error> {
        let (reply, answer) = oneshot::channel();
        self.submit(make(Reply::Http(reply))).await?;
        answer.await.map_err(Error::internal)?
    }

    /// Returns once everything queued so far is committed.
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Op::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    }
}

/// A passive checkpoint every second (it never blocks the writer), until
/// the writer thread ends.
fn checkpoint_every_second(conn: &Connection, writer_gone: &std::sync::mpsc::Receiver<()>) {
    while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
        writer_gone.recv_timeout(std::time::Duration::from_secs(1))
    {
        if let Err(error) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::warn!(%error, "checkpoint failed");
        }
    }
}

fn run(mut conn: Connection, mut rx: mpsc::Receiver<Op>, fanout: &dyn Fanout, metrics: &Metrics) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = rx.blocking_recv() {
        batch.push(first);
        top_up(&mut rx, &mut batch);
        commit_batch(&mut conn, &mut rx, &mut batch, fanout, metrics);
    }
}

/// Adds whatever is waiting to the batch, up to [`MAX_BATCH`].
fn top_up(rx: &mut mpsc::Receiver<Op>, batch: &mut Vec<Op>) {
    while batch.len() < MAX_BATCH {
        match rx.try_recv() {
            Ok(op) => batch.push(op),
            Err(_) => break,
        }
    }
}

/// What an applied operation leads to after the commit.
enum Done {
    Posted(Message),
    Edited(Message),
    Deleted(Message),
    Reacted(Message),
    Read(ReadState),
    Flushed,
}

fn commit_batch(
    conn: &mut Connection,
    rx: &mut mpsc::Receiver<Op>,
    batch: &mut Vec<Op>,
    fanout: &dyn Fanout,
    metrics: &Metrics,
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
                    refuse_http(batch);
                    top_up(rx, batch);
                    let _ = conn.busy_timeout(BUSY_RETRY_WAIT);
                    retried = true;
                    continue;
                }
                tracing::error!(%error, ops = batch.len(), "message batch failed; nothing of it was stored");
                // Every op hears the same kind of failure: a full disk is
                // `unavailable` to each of them, not a server error.
                break batch
                    .iter()
                    .map(|_| Err(Error::Storage(same_kind(&error))))
                    .collect();
            }
        }
    };
    if retried {
        let _ = conn.busy_timeout(storage::BUSY_TIMEOUT);
    }
    for (op, outcome) in batch.drain(..).zip(outcomes) {
        finish(op, outcome, fanout);
    }
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
    let (http, kept): (Vec<Op>, Vec<Op>) = batch.drain(..).partition(|op| {
        matches!(
            op,
            Op::Edit {
                reply: Reply::Http(_),
                ..
            } | Op::Delete {
                reply: Reply::Http(_),
                ..
            }
        )
    });
    batch.extend(kept);
    for op in http {
        refuse(op, Error::Storage(StorageError::Busy));
    }
}

/// A storage error of the same kind as `error`, for one more op of a
/// failed batch (the cause itself is logged once).
fn same_kind(error: &StorageError) -> StorageError {
    match error {
        StorageError::Full => StorageError::Full,
        StorageError::Busy => StorageError::Busy,
        StorageError::Other(_) => StorageError::other(anyhow::anyhow!("the message batch failed")),
    }
}

mod apply;
mod community;
mod finish;

use finish::{finish, refuse};
#[cfg(test)]
mod tests;

pub use community::ReadState;
