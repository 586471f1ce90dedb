//! The thread that makes the writes of [`store`](super::store) (users,
//! chats, avatars), committing the calls that wait for it together: one
//! transaction and one fsync for all of them, each call inside a savepoint
//! of its own, so a call that fails takes back only its own changes.
//! Callers hear back after the commit, never of something not on disk.
//!
//! One transaction per call made creating chats top out near 3,000/s on a
//! 2-core machine: each commit paid an fsync and the chat-title search
//! index writing a segment of its own (~290 µs a chat, ~75 µs when 16
//! share a transaction; BENCHMARKS.md).
//!
//! What may only happen once a write is stored (removing the file a new
//! image replaced) waits in [`after_commit`]. [`write_transaction`] is
//! here too: inside the shared transaction it is a savepoint.

use std::cell::RefCell;
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::mpsc;

use rusqlite::Connection;

use super::lanes::stopped;
use super::StorageError;

/// Calls committed in one transaction at most: enough for most of the
/// gain (16 chats share a transaction in ~1.2 ms), short enough that the
/// message writer, which waits for the same lock, is not held up long.
const MAX_BATCH: usize = 16;

/// Prepared statements the connection keeps (see `lanes`).
const STATEMENT_CACHE: usize = 64;

/// Told whether the transaction that held a call's changes was committed
/// (`Err`: why not).
type Finish = Box<dyn FnOnce(Result<(), StorageError>) + Send>;

/// A call waiting for the thread.
trait Call: Send {
    /// Runs it; its own outcome (the error's kind), and how to answer it.
    fn run(self: Box<Self>, conn: &mut Connection) -> (Result<(), StorageError>, Finish);
    /// Answers it without running it.
    fn refuse(self: Box<Self>, error: StorageError);
}

struct Job<F, T> {
    f: F,
    done: tokio::sync::oneshot::Sender<Result<T, StorageError>>,
}

impl<F, T> Call for Job<F, T>
where
    F: FnOnce(&mut Connection) -> Result<T, StorageError> + Send + 'static,
    T: Send + 'static,
{
    fn run(self: Box<Self>, conn: &mut Connection) -> (Result<(), StorageError>, Finish) {
        let Job { f, done } = *self;
        let result = f(conn);
        let outcome = match &result {
            Ok(_) => Ok(()),
            Err(error) => Err(error.again()),
        };
        let finish: Finish = Box::new(move |stored| {
            let _ = done.send(result.and_then(|value| stored.map(|()| value)));
        });
        (outcome, finish)
    }

    fn refuse(self: Box<Self>, error: StorageError) {
        let _ = self.done.send(Err(error));
    }
}

/// The writing thread's handle; the thread ends when it is dropped.
pub struct WriteLane {
    calls: mpsc::Sender<Box<dyn Call>>,
}

impl WriteLane {
    /// Starts the thread, named `name`, on a fresh connection.
    pub fn start(path: &Path, name: &str) -> anyhow::Result<WriteLane> {
        let conn = super::connect(path)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        let (calls, queue) = mpsc::channel();
        std::thread::Builder::new()
            .name(name.to_string())
            .spawn(move || serve(conn, &queue))?;
        Ok(WriteLane { calls })
    }

    /// Runs `f` on the writing connection, inside a savepoint of a
    /// transaction it may share, and awaits its result once committed.
    pub async fn run<T, F>(&self, f: F) -> Result<T, StorageError>
    where
        F: FnOnce(&mut Connection) -> Result<T, StorageError> + Send + 'static,
        T: Send + 'static,
    {
        let (done, result) = tokio::sync::oneshot::channel();
        self.calls
            .send(Box::new(Job { f, done }))
            .map_err(|_| stopped())?;
        // A call that panicked drops `done` unsent.
        result.await.map_err(|_| stopped())?
    }
}

thread_local! {
    /// On the writing thread: what the running call asked to do after the
    /// commit. Elsewhere `None`.
    static AFTER_COMMIT: RefCell<Option<Vec<AfterCommit>>> = const { RefCell::new(None) };
}

type AfterCommit = Box<dyn FnOnce(bool)>;

/// Runs `action` once the write being made is committed (`true`) or taken
/// back (`false`). Outside the writing thread writes commit as they go, so
/// it runs at once, with `true`.
pub fn after_commit(action: impl FnOnce(bool) + 'static) {
    let mut action = Some(action);
    AFTER_COMMIT.with(|queue| {
        if let Some(queue) = queue.borrow_mut().as_mut() {
            queue.extend(action.take().map(|a| Box::new(a) as AfterCommit));
        }
    });
    if let Some(action) = action {
        action(true);
    }
}

fn take_after_commit() -> Vec<AfterCommit> {
    AFTER_COMMIT.with(|queue| {
        queue
            .borrow_mut()
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    })
}

/// The thread's loop: whatever waits (up to [`MAX_BATCH`]), committed
/// together, until every handle is gone.
fn serve(mut conn: Connection, queue: &mpsc::Receiver<Box<dyn Call>>) {
    AFTER_COMMIT.with(|q| *q.borrow_mut() = Some(Vec::new()));
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        batch.extend(queue.try_iter().take(MAX_BATCH - 1));
        let mut batch = batch.into_iter();
        while batch.len() > 0 {
            if let Err(StorageError::Busy) = commit(&mut conn, &mut batch) {
                // Calls that queued up meanwhile have waited for the same
                // lock: they are answered now, so none waits longer than
                // one try (the busy timeout).
                for call in queue.try_iter() {
                    call.refuse(StorageError::Busy);
                }
            }
        }
    }
}

/// Runs calls of `batch` in one transaction and answers them. Stops early
/// (leaving the rest for a new transaction) when SQLite rolled the whole
/// transaction back under a call (a full disk does that). `Err`: the
/// transaction could not begin, and every call was refused with it.
fn commit(
    conn: &mut Connection,
    batch: &mut std::vec::IntoIter<Box<dyn Call>>,
) -> Result<(), StorageError> {
    if let Err(error) = conn.execute_batch("BEGIN IMMEDIATE") {
        let error = StorageError::from(error);
        tracing::warn!(%error, calls = batch.len(), "a write could not begin");
        for call in batch {
            call.refuse(error.again());
        }
        return Err(error);
    }
    let mut finishes: Vec<Finish> = Vec::new();
    let mut actions: Vec<AfterCommit> = Vec::new();
    let mut lost: Option<StorageError> = None;
    for call in batch.by_ref() {
        if let Err(error) = conn.execute_batch("SAVEPOINT call") {
            let error = StorageError::from(error);
            call.refuse(error.again());
            lost = Some(error);
            break;
        }
        let ran = std::panic::catch_unwind(AssertUnwindSafe(|| call.run(conn)));
        let own = take_after_commit();
        let outcome = match ran {
            Ok((outcome, finish)) => {
                finishes.push(finish);
                outcome
            }
            Err(_panic) => {
                tracing::error!("a database call panicked");
                Err(stopped())
            }
        };
        if conn.is_autocommit() {
            // The transaction is gone, with every call's changes so far.
            run_all(own, false);
            lost = Some(outcome.err().unwrap_or_else(|| {
                StorageError::other(anyhow::anyhow!("the write was rolled back"))
            }));
            break;
        }
        if outcome.is_ok() {
            actions.extend(own);
            let _ = conn.execute_batch("RELEASE call");
        } else {
            let _ = conn.execute_batch("ROLLBACK TO call; RELEASE call");
            run_all(own, false);
        }
    }
    let stored = match lost {
        Some(error) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(error)
        }
        None => conn.execute_batch("COMMIT").map_err(|error| {
            let _ = conn.execute_batch("ROLLBACK");
            StorageError::from(error)
        }),
    };
    if let Err(error) = &stored {
        tracing::error!(%error, calls = finishes.len(), "a write failed; nothing of it was stored");
    }
    run_all(actions, stored.is_ok());
    for finish in finishes {
        finish(stored.as_ref().map(|_| ()).map_err(StorageError::again));
    }
    Ok(())
}

fn run_all(actions: Vec<AfterCommit>, committed: bool) {
    for action in actions {
        action(committed);
    }
}

/// A transaction that takes the write lock when it begins (waiting for it
/// up to the busy timeout), for writes that read first: a deferred one
/// would read from a snapshot, and if another connection committed before
/// its first write, SQLite fails it with `SQLITE_BUSY` at once rather than
/// let it wait.
///
/// Inside a transaction already (a call of the write lane's shared one),
/// a savepoint instead.
pub fn write_transaction(conn: &mut Connection) -> rusqlite::Result<WriteTransaction<'_>> {
    if conn.is_autocommit() {
        conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map(WriteTransaction::Own)
    } else {
        conn.savepoint().map(WriteTransaction::Nested)
    }
}

/// What [`write_transaction`] began; rolled back when dropped uncommitted.
pub enum WriteTransaction<'c> {
    Own(rusqlite::Transaction<'c>),
    Nested(rusqlite::Savepoint<'c>),
}

impl WriteTransaction<'_> {
    pub fn commit(self) -> rusqlite::Result<()> {
        match self {
            WriteTransaction::Own(tx) => tx.commit(),
            WriteTransaction::Nested(savepoint) => savepoint.commit(),
        }
    }
}

impl std::ops::Deref for WriteTransaction<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        match self {
            WriteTransaction::Own(tx) => tx,
            WriteTransaction::Nested(savepoint) => savepoint,
        }
    }
}

#[cfg(test)]
mod tests;
