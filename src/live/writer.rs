//! The message writer: one thread owns the only connection that writes
//! messages, and commits them in groups.
//!
//! Sockets and REST handlers queue operations; the thread takes whatever is
//! waiting (up to [`MAX_BATCH`]), applies it in one transaction with
//! `synchronous=FULL`, commits, and only then broadcasts the results in
//! commit order. So a `message` frame always means "this is on disk", one
//! fsync covers many messages, and every socket sees messages in id order
//! (which `?after=<id>` catch-up relies on).

use std::path::Path;
use std::sync::Arc;

use rusqlite::Connection;
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Utf8Bytes;

use crate::domain::views::MessageView;
use crate::http::error::ApiError;
use crate::live::hub::{Hub, Peer};
use crate::metrics::Metrics;
use crate::storage::messages::{self, Message};
use crate::storage::{self, is_foreign_key_violation, now_timestamp};

/// Most operations committed in one transaction. A batch's messages reach
/// each socket's queue at once, so this stays well below the default queue
/// length (`WsLimits::queue_len`): a burst that fits the rate limits never
/// looks like a slow client.
pub const MAX_BATCH: usize = 256;

/// Operations waiting for the writer at most; senders wait beyond that.
const QUEUE: usize = 8192;

/// Where the outcome of an edit or delete goes.
#[derive(Debug)]
pub enum Reply {
    /// A socket: errors become `error` frames (success is the broadcast).
    Socket(Peer),
    /// A REST handler waiting for the changed message.
    Http(oneshot::Sender<Result<Message, WriteError>>),
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
    /// Answered once everything queued before it is committed.
    Flush(oneshot::Sender<()>),
}

/// Why an operation was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteError {
    /// No such chat, or no such (undeleted) message in it.
    NotFound,
    /// Someone else's message.
    PermissionDenied,
    /// The database failed.
    Internal,
}

impl WriteError {
    /// `(code, detail)` of the socket `error` frame.
    pub fn code_and_detail(&self) -> (&'static str, &'static str) {
        match self {
            WriteError::NotFound => ("not_found", "Not found."),
            WriteError::PermissionDenied => (
                "permission_denied",
                "You do not have permission to perform this action.",
            ),
            WriteError::Internal => ("server_error", "A server error occurred."),
        }
    }
}

impl From<WriteError> for ApiError {
    fn from(error: WriteError) -> ApiError {
        match error {
            WriteError::NotFound => ApiError::not_found(),
            WriteError::PermissionDenied => ApiError::permission_denied(),
            WriteError::Internal => {
                ApiError::internal(anyhow::anyhow!("the message writer failed"))
            }
        }
    }
}

/// The handle sockets and handlers queue operations on.
#[derive(Clone)]
pub struct Writer {
    tx: mpsc::Sender<Op>,
}

impl Writer {
    /// Opens the writer's connection and starts its thread. The thread ends
    /// when every handle is dropped.
    pub fn start(db_path: &Path, hub: Arc<Hub>, metrics: Arc<Metrics>) -> anyhow::Result<Writer> {
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
                run(conn, rx, &hub, &metrics);
                drop(alive);
            })?;
        Ok(Writer { tx })
    }

    /// Queues an operation, waiting while the queue is full.
    pub async fn submit(&self, op: Op) -> Result<(), ApiError> {
        self.tx
            .send(op)
            .await
            .map_err(|_| ApiError::internal(anyhow::anyhow!("the message writer has stopped")))
    }

    /// Edits a message for a REST handler.
    pub async fn edit(
        &self,
        chat_id: i64,
        message_id: i64,
        user_id: i64,
        text: String,
    ) -> Result<Message, ApiError> {
        let (reply, answer) = oneshot::channel();
        self.submit(Op::Edit {
            chat_id,
            message_id,
            user_id,
            text,
            reply: Reply::Http(reply),
        })
        .await?;
        Ok(answer.await.map_err(ApiError::internal)??)
    }

    /// Deletes a message for a REST handler.
    pub async fn delete(
        &self,
        chat_id: i64,
        message_id: i64,
        user_id: i64,
    ) -> Result<Message, ApiError> {
        let (reply, answer) = oneshot::channel();
        self.submit(Op::Delete {
            chat_id,
            message_id,
            user_id,
            reply: Reply::Http(reply),
        })
        .await?;
        Ok(answer.await.map_err(ApiError::internal)??)
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

fn run(mut conn: Connection, mut rx: mpsc::Receiver<Op>, hub: &Hub, metrics: &Metrics) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = rx.blocking_recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(op) => batch.push(op),
                Err(_) => break,
            }
        }
        commit_batch(&mut conn, &mut batch, hub, metrics);
    }
}

/// What an applied operation leads to after the commit.
enum Done {
    Posted(Message),
    Edited(Message),
    Deleted(Message),
    Flushed,
}

fn commit_batch(conn: &mut Connection, batch: &mut Vec<Op>, hub: &Hub, metrics: &Metrics) {
    let applied = (|| -> rusqlite::Result<Vec<Result<Done, WriteError>>> {
        // Edits and deletes read before they write.
        let tx = storage::write_transaction(conn)?;
        let mut outcomes = Vec::with_capacity(batch.len());
        for op in batch.iter() {
            outcomes.push(apply(&tx, op)?);
        }
        tx.commit()?;
        Ok(outcomes)
    })();
    let outcomes = match applied {
        Ok(outcomes) => {
            let posted = outcomes
                .iter()
                .filter(|o| matches!(o, Ok(Done::Posted(_))))
                .count();
            metrics.batch(batch.len(), posted);
            outcomes
        }
        Err(error) => {
            tracing::error!(%error, ops = batch.len(), "message batch failed; nothing of it was stored");
            batch.iter().map(|_| Err(WriteError::Internal)).collect()
        }
    };
    for (op, outcome) in batch.drain(..).zip(outcomes) {
        finish(op, outcome, hub);
    }
}

/// Applies one operation inside the batch's transaction. `Ok(Err(_))` is a
/// refusal (the batch goes on); `Err(_)` aborts the batch.
fn apply(conn: &Connection, op: &Op) -> rusqlite::Result<Result<Done, WriteError>> {
    match op {
        Op::Post {
            chat_id,
            user_id,
            text,
            ..
        } => match messages::insert(conn, *chat_id, *user_id, text, &now_timestamp()) {
            Ok(id) => Ok(messages::get(conn, id)?
                .map(Done::Posted)
                .ok_or(WriteError::NotFound)),
            // The chat (or the user) was deleted meanwhile.
            Err(error) if is_foreign_key_violation(&error) => Ok(Err(WriteError::NotFound)),
            Err(error) => Err(error),
        },
        Op::Edit {
            chat_id,
            message_id,
            user_id,
            text,
            ..
        } => {
            let message = match own_message(conn, *chat_id, *message_id, *user_id)? {
                Ok(message) => message,
                Err(refusal) => return Ok(Err(refusal)),
            };
            messages::edit(conn, message.id, text, &now_timestamp())?;
            Ok(messages::get(conn, message.id)?
                .map(Done::Edited)
                .ok_or(WriteError::NotFound))
        }
        Op::Delete {
            chat_id,
            message_id,
            user_id,
            ..
        } => {
            let message = match own_message(conn, *chat_id, *message_id, *user_id)? {
                Ok(message) => message,
                Err(refusal) => return Ok(Err(refusal)),
            };
            messages::soft_delete(conn, message.id)?;
            Ok(messages::get(conn, message.id)?
                .map(Done::Deleted)
                .ok_or(WriteError::NotFound))
        }
        Op::Flush(_) => Ok(Ok(Done::Flushed)),
    }
}

/// The message if it is in the chat, not deleted, and `user_id` wrote it.
fn own_message(
    conn: &Connection,
    chat_id: i64,
    message_id: i64,
    user_id: i64,
) -> rusqlite::Result<Result<Message, WriteError>> {
    Ok(match messages::get(conn, message_id)? {
        Some(message) if message.chat_id == chat_id && !message.is_deleted => {
            if message.user_id == user_id {
                Ok(message)
            } else {
                Err(WriteError::PermissionDenied)
            }
        }
        _ => Err(WriteError::NotFound),
    })
}

/// After the commit: broadcast, then answer whoever asked.
fn finish(op: Op, outcome: Result<Done, WriteError>, hub: &Hub) {
    match outcome {
        Ok(Done::Posted(message)) => {
            let nonce = match &op {
                Op::Post { nonce, .. } => nonce.as_ref(),
                _ => None,
            };
            hub.broadcast(message.chat_id, Some(message.id), |base| {
                frame(&MessageFrame {
                    kind: "message",
                    message: MessageView::new(message.clone(), base),
                    nonce: Some(nonce.unwrap_or(&serde_json::Value::Null)),
                })
            });
        }
        Ok(Done::Edited(message)) | Ok(Done::Deleted(message)) => {
            let kind = if message.is_deleted {
                "message_deleted"
            } else {
                "message_edited"
            };
            hub.broadcast(message.chat_id, None, |base| {
                frame(&MessageFrame {
                    kind,
                    message: MessageView::new(message.clone(), base),
                    nonce: None,
                })
            });
            if let Op::Edit {
                reply: Reply::Http(reply),
                ..
            }
            | Op::Delete {
                reply: Reply::Http(reply),
                ..
            } = op
            {
                let _ = reply.send(Ok(message));
            }
        }
        Ok(Done::Flushed) => {
            if let Op::Flush(done) = op {
                let _ = done.send(());
            }
        }
        Err(refusal) => match op {
            Op::Post { origin, .. } => send_error(&origin, &refusal),
            Op::Edit { reply, .. } | Op::Delete { reply, .. } => match reply {
                Reply::Socket(peer) => send_error(&peer, &refusal),
                Reply::Http(reply) => {
                    let _ = reply.send(Err(refusal));
                }
            },
            Op::Flush(done) => {
                let _ = done.send(());
            }
        },
    }
}

fn send_error(peer: &Peer, refusal: &WriteError) {
    let (code, detail) = refusal.code_and_detail();
    peer.send(error_frame(code, detail));
}

/// `message`, `message_edited` and `message_deleted` frames.
#[derive(Serialize)]
struct MessageFrame<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    message: MessageView,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<&'a serde_json::Value>,
}

/// Serializes a frame once; clones of the result share the bytes.
pub fn frame<T: Serialize>(value: &T) -> Utf8Bytes {
    match serde_json::to_string(value) {
        Ok(text) => text.into(),
        Err(error) => {
            tracing::error!(%error, "frame serialization failed");
            Utf8Bytes::from_static(
                r#"{"type":"error","code":"server_error","detail":"A server error occurred."}"#,
            )
        }
    }
}

/// `{"type": "error", "code": ..., "detail": ...}`
pub fn error_frame(code: &str, detail: &str) -> Utf8Bytes {
    frame(&serde_json::json!({"type": "error", "code": code, "detail": detail}))
}
