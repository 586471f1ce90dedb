//! The message search index follows the writer instead of riding in its
//! commits.
//!
//! Indexing a message in FTS5 writes a new index segment at every commit;
//! inside the message writer's transaction that was a third of the time
//! between a message's arrival and its broadcast. So a message is stored
//! and broadcast first, and indexed a moment later in a batch of its own
//! (see `crate::live::writer`). `search_progress.indexed_upto` is the
//! newest message id the index holds: messages above it are indexed by
//! [`catch_up`], and the triggers of schema.sql keep indexed messages in
//! step when they are edited or deleted.
//!
//! Those batches commit without an fsync of their own (`synchronous =
//! NORMAL`): the index can always be rebuilt from the messages, and a batch
//! lost in a power cut is simply indexed again, because the mark it moved
//! is lost with it.

use rusqlite::{Connection, TransactionBehavior};

/// Messages indexed in one transaction at most.
pub const BATCH: i64 = 4096;

/// Where the index stands: the newest message id it holds, and the newest
/// message id there is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub indexed_upto: i64,
    pub newest: i64,
}

impl Progress {
    /// Messages waiting to be indexed (at most; ids have gaps).
    pub fn behind(&self) -> i64 {
        (self.newest - self.indexed_upto).max(0)
    }
}

/// Reads where the index stands.
pub fn progress(conn: &Connection) -> rusqlite::Result<Progress> {
    conn.prepare_cached(
        "SELECT (SELECT indexed_upto FROM search_progress),
                (SELECT COALESCE(MAX(id), 0) FROM messages)",
    )?
    .query_row([], |row| {
        Ok(Progress {
            indexed_upto: row.get(0)?,
            newest: row.get(1)?,
        })
    })
}

/// Indexes up to [`BATCH`] messages above the mark, oldest first, in one
/// transaction without an fsync, and returns where the index then stands.
pub fn catch_up(conn: &mut Connection) -> rusqlite::Result<Progress> {
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    let result = index_batch(conn);
    conn.pragma_update(None, "synchronous", "FULL")?;
    result
}

fn index_batch(conn: &mut Connection) -> rusqlite::Result<Progress> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let before = progress(&tx)?;
    let upto: Option<i64> = tx
        .prepare_cached(
            "SELECT MAX(id) FROM (SELECT id FROM messages WHERE id > ?1 ORDER BY id LIMIT ?2)",
        )?
        .query_row([before.indexed_upto, BATCH], |row| row.get(0))?;
    let Some(upto) = upto else {
        return Ok(before);
    };
    tx.prepare_cached(
        "INSERT INTO messages_fts (rowid, text)
         SELECT id, text FROM messages WHERE id > ?1 AND id <= ?2",
    )?
    .execute([before.indexed_upto, upto])?;
    tx.prepare_cached("UPDATE search_progress SET indexed_upto = ?1")?
        .execute([upto])?;
    tx.commit()?;
    Ok(Progress {
        indexed_upto: upto,
        newest: before.newest,
    })
}
