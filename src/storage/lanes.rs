//! Database threads: a small fixed set of threads, each owning one SQLite
//! connection (so its cached prepared statements live as long as the
//! server), taking jobs from one shared queue.
//!
//! This replaced a `spawn_blocking` plus an r2d2 checkout per call: under
//! 64 keep-alive connections that made ~97 threads, and a sixth of the CPU
//! went to condvar waits and wakes. Here a call is one queue push and one
//! oneshot wake, and the number of threads is fixed.

use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use rusqlite::Connection;

use super::StorageError;

type Job = Box<dyn FnOnce(&mut Connection) + Send>;

/// Prepared statements each connection keeps (rusqlite's default is 16;
/// every query of storage fits in this many).
const STATEMENT_CACHE: usize = 64;

/// A set of threads with a connection each, fed through one queue. The
/// threads end when the last handle is dropped.
pub struct Lane {
    jobs: mpsc::Sender<Job>,
}

impl Lane {
    /// Starts `threads` threads named `name-N`, each on a fresh connection.
    pub fn start(path: &Path, name: &str, threads: usize) -> anyhow::Result<Lane> {
        let (jobs, queue) = mpsc::channel::<Job>();
        // One receiver, shared: the idle thread holding the lock waits in
        // `recv`, the others wait for the lock. Each job goes to one thread.
        let queue = Arc::new(Mutex::new(queue));
        for index in 0..threads {
            let conn = super::connect(path)?;
            conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("{name}-{index}"))
                .spawn(move || serve(conn, &queue))?;
        }
        Ok(Lane { jobs })
    }

    /// Runs `f` on one of the lane's connections and awaits its result.
    pub async fn run<T, F>(&self, f: F) -> Result<T, StorageError>
    where
        F: FnOnce(&mut Connection) -> Result<T, StorageError> + Send + 'static,
        T: Send + 'static,
    {
        let (done, result) = tokio::sync::oneshot::channel();
        self.jobs
            .send(Box::new(move |conn: &mut Connection| {
                let _ = done.send(f(conn));
            }))
            .map_err(|_| stopped())?;
        // A job that panicked drops `done` unsent.
        result.await.map_err(|_| stopped())?
    }
}

/// What a caller hears when its call's thread is gone or the call
/// panicked (the write lane's too).
pub(super) fn stopped() -> StorageError {
    StorageError::other(anyhow::anyhow!(
        "a database call failed or its thread stopped"
    ))
}

/// One thread's loop: jobs until every handle is gone. A panicking job
/// is logged and the thread goes on with the next (its transaction, if
/// any, was rolled back when it unwound).
fn serve(mut conn: Connection, queue: &Mutex<mpsc::Receiver<Job>>) {
    loop {
        let job = {
            let queue = queue.lock().unwrap_or_else(|p| p.into_inner());
            match queue.recv() {
                Ok(job) => job,
                Err(_) => return,
            }
        };
        if std::panic::catch_unwind(AssertUnwindSafe(|| job(&mut conn))).is_err() {
            tracing::error!("a database job panicked");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lane(threads: usize) -> (tempfile::TempDir, Lane) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chat.db");
        super::super::Db::open(&path).unwrap();
        let lane = Lane::start(&path, "test", threads).unwrap();
        (dir, lane)
    }

    #[tokio::test]
    async fn jobs_run_on_the_lanes_threads() {
        let (_dir, lane) = lane(2);
        let mut names = std::collections::HashSet::new();
        for _ in 0..20 {
            let name = lane
                .run(|conn| {
                    conn.query_row("SELECT 1", [], |_| Ok(()))?;
                    Ok(std::thread::current().name().unwrap().to_string())
                })
                .await
                .unwrap();
            names.insert(name);
        }
        assert!(
            names.iter().all(|n| n == "test-0" || n == "test-1"),
            "{names:?}"
        );
    }

    #[tokio::test]
    async fn a_panicking_job_fails_its_call_and_the_thread_goes_on() {
        let (_dir, lane) = lane(1);
        let failed = lane
            .run(|_| -> Result<(), StorageError> { panic!("boom") })
            .await;
        assert!(failed.is_err());
        let after = lane.run(|_| Ok(7)).await.unwrap();
        assert_eq!(after, 7);
    }
}
