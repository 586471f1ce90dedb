//! The message writer: one thread owns the only connection that writes
//! messages, and commits them in groups.
//!
//! Sockets and REST handlers queue operations; the thread takes whatever is
//! waiting (up to [`MAX_BATCH`]), applies it in one transaction with
//! `synchronous=FULL`, commits, and only then publishes the results, as
//! [`Event`](crate::live::fanout::Event)s, in commit order (from a task of the runtime, see `relay`).
//! So a `message` frame always means "this is on disk", one fsync covers
//! many messages, and every socket sees messages in id order (which
//! `?after=<id>` catch-up relies on). Refusals are domain [`Error`]s, told
//! to whoever asked.
//!
//! A batch that cannot be stored is stored not at all: on a full disk each
//! of its senders is told `unavailable` and later batches go on; when
//! another process holds the database locked, the batch is kept and tried
//! again for up to `batch::BUSY_RETRY_FOR` (REST callers get their 503 after the
//! first try), so nothing is acknowledged before it is stored and a lock
//! shorter than that loses nothing.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use crate::domain::error::Error;
use crate::live::fanout::Fanout;
use crate::live::peer::Peer;
use crate::metrics::Metrics;
use crate::storage;
use crate::storage::community::ReactionChange;
use crate::storage::messages::Message;

/// Most operations committed in one transaction. A batch's messages reach
/// each socket's queue at once, so this stays well below the default queue
/// length (`WsLimits::queue_len`): a burst that fits the rate limits never
/// looks like a slow client.
pub const MAX_BATCH: usize = 256;

/// Operations waiting for the writer at most; senders wait beyond that.
const QUEUE: usize = 8192;

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
    /// Answered once every message committed so far is in the search index.
    Searchable(oneshot::Sender<()>),
}

/// The handle sockets and handlers queue operations on.
#[derive(Clone)]
pub struct Writer {
    tx: mpsc::Sender<Op>,
    /// True while committed messages wait for the search index.
    index_behind: Arc<AtomicBool>,
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
        // Not after a commit, before its broadcast (SQLite's automatic
        // checkpoints run inside the COMMIT): in quiet moments instead
        // (see `checkpoint`).
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        let (tx, rx) = mpsc::channel(QUEUE);
        let index_behind = Arc::new(AtomicBool::new(false));
        let mut indexing = Indexing::new(index_behind.clone());
        // Before any handle exists, so the first search already knows of
        // messages another process wrote while the server was down.
        indexing.look(&conn);
        // Only for waiting on the queue with a deadline (upkeep's).
        let clock = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()?;
        let relay = Relay::start(fanout);
        std::thread::Builder::new()
            .name("chatd-writer".into())
            .spawn(move || run(conn, rx, &relay, &metrics, indexing, &clock))?;
        Ok(Writer { tx, index_behind })
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

    /// Returns once every message acknowledged so far can be found by a
    /// search (usually at once: the index is seldom behind).
    pub async fn searchable(&self) {
        if !self.index_behind.load(Ordering::Acquire) {
            return;
        }
        let (done, wait) = oneshot::channel();
        if self.tx.send(Op::Searchable(done)).await.is_ok() {
            let _ = wait.await;
        }
    }

    /// Returns once everything queued so far is committed.
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Op::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    }
}

fn run(
    mut conn: Connection,
    mut rx: mpsc::Receiver<Op>,
    relay: &Relay,
    metrics: &Metrics,
    mut indexing: Indexing,
    clock: &tokio::runtime::Runtime,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut checkpoints = Checkpoints::new();
    loop {
        let deadline = indexing.wake_at().min(checkpoints.due());
        // Waiting operations always come first (`timeout_at` polls the
        // queue before the deadline).
        let next =
            clock.block_on(async { tokio::time::timeout_at(deadline.into(), rx.recv()).await });
        let first = match next {
            Ok(Some(op)) => op,
            Ok(None) => break,
            Err(_quiet) => {
                if Instant::now() >= checkpoints.due() {
                    checkpoints.run(&conn);
                }
                indexing.when_quiet(&mut conn);
                continue;
            }
        };
        batch.push(first);
        top_up(&mut rx, &mut batch);
        let searches = take_searches(&mut batch);
        if !batch.is_empty() {
            batch::commit_batch(
                &mut conn,
                &mut rx,
                &mut batch,
                relay,
                metrics,
                &mut indexing,
            );
        }
        if !searches.is_empty() {
            indexing.catch_up(&mut conn, true);
            for search in searches {
                let _ = search.send(());
            }
        } else if indexing.overdue() {
            indexing.catch_up(&mut conn, false);
        }
        if checkpoints.overdue() {
            checkpoints.run(&conn);
        }
    }
}

/// Takes the searches' requests out of a batch (they are answered after
/// the batch, once the index holds it).
fn take_searches(batch: &mut Vec<Op>) -> Vec<oneshot::Sender<()>> {
    batch
        .extract_if(.., |op| matches!(op, Op::Searchable(_)))
        .filter_map(|op| match op {
            Op::Searchable(done) => Some(done),
            _ => None,
        })
        .collect()
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

mod apply;
mod batch;
mod checkpoint;
mod community;
mod finish;
mod indexing;
mod relay;

use checkpoint::Checkpoints;
use indexing::Indexing;
use relay::Relay;
#[cfg(test)]
mod tests;

pub use community::ReadState;
