use std::sync::{Arc, Mutex};

use super::*;

fn lane() -> (tempfile::TempDir, std::path::PathBuf, Arc<WriteLane>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    Connection::open(&path)
        .unwrap()
        .execute_batch("CREATE TABLE t (x TEXT NOT NULL UNIQUE)")
        .unwrap();
    let lane = WriteLane::start(&path, "test-write").unwrap();
    (dir, path, Arc::new(lane))
}

fn rows(path: &Path) -> Vec<String> {
    let conn = Connection::open(path).unwrap();
    let mut select = conn.prepare("SELECT x FROM t ORDER BY x").unwrap();
    select
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

type Write = dyn FnOnce(&mut Connection) -> Result<(), StorageError> + Send;

fn insert(conn: &Connection, x: &str) -> Result<(), StorageError> {
    conn.execute("INSERT INTO t (x) VALUES (?1)", [x])?;
    Ok(())
}

/// Holds the lane's thread until the returned sender is dropped or used,
/// so the calls queued meanwhile run as one batch.
async fn hold(lane: &Arc<WriteLane>) -> (std::sync::mpsc::Sender<()>, tokio::task::JoinHandle<()>) {
    let (release, held) = std::sync::mpsc::channel::<()>();
    let (started, running) = tokio::sync::oneshot::channel::<()>();
    let lane = lane.clone();
    let handle = tokio::spawn(async move {
        lane.run(move |_| {
            started.send(()).unwrap();
            let _ = held.recv();
            Ok(())
        })
        .await
        .unwrap()
    });
    running.await.unwrap();
    (release, handle)
}

#[tokio::test]
async fn calls_that_wait_together_commit_together_and_a_failing_one_takes_back_only_its_own() {
    let (_dir, path, lane) = lane();
    let (release, held) = hold(&lane).await;
    let call = |f: Box<Write>| {
        let lane = lane.clone();
        tokio::spawn(async move { lane.run(f).await })
    };
    let a = call(Box::new(|conn| insert(conn, "a")));
    // Its first row is taken back with it.
    let b = call(Box::new(|conn| {
        insert(conn, "b")?;
        insert(conn, "a")
    }));
    // A nested transaction left uncommitted is rolled back, not the batch.
    let c = call(Box::new(|conn| {
        let tx = crate::storage::write_transaction(conn)?;
        insert(&tx, "c-dropped")?;
        drop(tx);
        insert(conn, "c")
    }));
    let d = call(Box::new(|conn| {
        let tx = crate::storage::write_transaction(conn)?;
        insert(&tx, "d")?;
        Ok(tx.commit()?)
    }));
    let e = call(Box::new(|_| panic!("a bug in one call")));
    let f = call(Box::new(|conn| insert(conn, "f")));
    // Queued behind the held call (one batch); none is answered before.
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert!(!a.is_finished());
    drop(release);
    held.await.unwrap();

    assert!(a.await.unwrap().is_ok());
    assert!(matches!(b.await.unwrap(), Err(StorageError::Other(_))));
    assert!(c.await.unwrap().is_ok());
    assert!(d.await.unwrap().is_ok());
    assert!(e.await.unwrap().is_err());
    assert!(f.await.unwrap().is_ok());
    assert_eq!(rows(&path), ["a", "c", "d", "f"]);
}

#[tokio::test]
async fn after_commit_runs_once_the_call_is_stored_or_taken_back() {
    let (_dir, path, lane) = lane();
    let told = Arc::new(Mutex::new(Vec::new()));
    let (release, held) = hold(&lane).await;
    let kept = {
        let told = told.clone();
        lane.run(move |conn| {
            insert(conn, "kept")?;
            after_commit(move |stored| told.lock().unwrap().push(("kept", stored)));
            Ok(())
        })
    };
    let failed = {
        let told = told.clone();
        lane.run(move |conn| {
            insert(conn, "failed")?;
            after_commit(move |stored| told.lock().unwrap().push(("failed", stored)));
            insert(conn, "failed")
        })
    };
    drop(release);
    let (kept, failed) = tokio::join!(kept, failed);
    held.await.unwrap();
    assert!(kept.is_ok());
    assert!(failed.is_err());
    let mut told = told.lock().unwrap().clone();
    told.sort();
    assert_eq!(told, [("failed", false), ("kept", true)]);
    assert_eq!(rows(&path), ["kept"]);

    // Off the writing thread writes commit as they go: at once.
    let now = std::rc::Rc::new(std::cell::Cell::new(None));
    let set = now.clone();
    after_commit(move |stored| set.set(Some(stored)));
    assert_eq!(now.get(), Some(true));
}
