//! Starts that must be refused with one line: a damaged database or data
//! directory, a lost database beside uploads (nothing is removed).

use std::collections::BTreeMap;
use std::path::Path;

use crate::common::*;
use crate::{check, run_chatd};

/// Starts `chatd` on `data_dir` and expects it to refuse: exit status 1,
/// one line on stderr, no panic. Returns that line.
fn refused_start(data_dir: &Path) -> String {
    let (status, out, err) = run_chatd(&[
        "--addr".as_ref(),
        "127.0.0.1:0".as_ref(),
        "--secret".as_ref(),
        SECRET.as_ref(),
        "--data-dir".as_ref(),
        data_dir.as_os_str(),
    ]);
    assert_eq!(status, Some(1), "stdout: {out}\nstderr: {err}");
    assert!(
        !err.contains("panicked") && !out.contains("panicked"),
        "{err}"
    );
    assert!(!out.contains("listening"), "{out}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "not one line: {err}");
    lines[0].to_string()
}

/// The names and contents of the files in `dir`.
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let contents = std::fs::read(e.path()).unwrap_or_default();
            (e.file_name().to_string_lossy().to_string(), contents)
        })
        .collect()
}

#[test]
fn a_damaged_database_stops_the_start_with_one_line_naming_it() {
    // Not a database at all.
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("chat.db");
    std::fs::write(&db, "this is no database, just text\n".repeat(200)).unwrap();
    let before = snapshot(dir.path());
    let line = refused_start(dir.path());
    assert_eq!(
        line,
        format!(
            "chatd: {} is damaged (file is not a database); run `chatd check --data-dir {}` or restore a backup",
            db.display(),
            dir.path().display()
        )
    );
    assert_eq!(
        snapshot(dir.path()),
        before,
        "a failed start changed the directory"
    );
    let (status, out, err) = check(dir.path());
    assert_eq!(status, Some(1), "{out}{err}");
    assert!(
        out.starts_with(&format!("FAIL  integrity: {} is damaged", db.display())),
        "{out}{err}"
    );

    // A real database whose schema page is overwritten.
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("chat.db");
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);")
        .unwrap();
    drop(conn);
    let mut bytes = std::fs::read(&db).unwrap();
    bytes[100..4096].fill(0xA5);
    std::fs::write(&db, &bytes).unwrap();
    let line = refused_start(dir.path());
    assert!(
        line.starts_with(&format!("chatd: {} is damaged (", db.display()))
            && line.contains("run `chatd check --data-dir"),
        "{line}"
    );

    // chatd's own database with a page past the first ones damaged (the
    // users table's): opening it reads only the schema; the start's first
    // queries find the damage, and say so in the same line.
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("chat.db");
    drop(chatd::storage::Db::open(&db).unwrap());
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
        .unwrap();
    let page: usize = conn
        .query_row(
            "SELECT rootpage FROM sqlite_master WHERE name = 'users'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    drop(conn);
    let mut bytes = std::fs::read(&db).unwrap();
    bytes[(page - 1) * 4096..page * 4096].fill(0xFF);
    std::fs::write(&db, &bytes).unwrap();
    assert_eq!(
        refused_start(dir.path()),
        format!(
            "chatd: {} is damaged (database disk image is malformed); run `chatd check --data-dir {}` or restore a backup",
            db.display(),
            dir.path().display()
        )
    );

    // A database path that is a directory (root reads any file, so this
    // stands in for one chatd may not read).
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("chat.db");
    std::fs::create_dir(&db).unwrap();
    let line = refused_start(dir.path());
    assert!(
        line.starts_with(&format!("chatd: {} cannot be opened (", db.display())),
        "{line}"
    );

    // A data directory that is a file.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("data");
    std::fs::write(&file, "a file").unwrap();
    let line = refused_start(&file);
    assert_eq!(
        line,
        format!(
            "chatd: {} is not a directory; give --data-dir a directory (it is created if missing)",
            file.display()
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_database_stops_the_start_while_uploads_are_there_and_nothing_is_removed() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let server = start_binary(data);
    let token = server.api.user("keeper").await;
    for (title, name, mime) in [
        ("Red", "red.png", "image/png"),
        ("Gif", "red.gif", "image/gif"),
    ] {
        let fields = [("title", title), ("room", "films")];
        let form = file_form(&fields, "img", fixture(name), name, mime);
        let (status, body) = server.api.post_multipart(&token, "/api/chat/", form).await;
        assert_eq!(status, 200, "{body}");
    }
    drop(server);
    let (db, media) = (data.join("chat.db"), data.join("media"));
    let media_files = || ["chat_img", "avatars", "msg_img"].map(|f| snapshot(&media.join(f)));
    let uploaded = media_files();
    assert_eq!(uploaded[0].len(), 3, "{:?}", uploaded[0].keys()); // and default.jpg
    let refusal = |state: &str| {
        format!(
            "chatd: {} {state}, but {} holds 2 uploaded files; restore chat.db from a backup, \
             or move {} away to start afresh",
            db.display(),
            media.display(),
            media.display()
        )
    };

    // Deleted with its WAL (`rm chat.db*`), then truncated (`: > chat.db`):
    // SQLite would take either for a new database, whose start-up sweep
    // would remove every upload.
    for file in ["chat.db", "chat.db-wal", "chat.db-shm"] {
        let _ = std::fs::remove_file(data.join(file));
    }
    for state in ["is missing", "is empty"] {
        if state == "is empty" {
            std::fs::write(&db, b"").unwrap();
        }
        let before = snapshot(data);
        assert_eq!(refused_start(data), refusal(state));
        assert_eq!(snapshot(data), before, "a refused start changed {state}");
        assert_eq!(media_files(), uploaded, "a refused start changed the media");
    }
    // The operator commands refuse an empty file too.
    let (status, out, err) = check(data);
    assert_eq!(
        (status, out.as_str(), err),
        (
            Some(1),
            "",
            format!(
                "chatd: {} is empty; restore it from a backup\n",
                db.display()
            )
        )
    );

    // What the line says to do starts afresh and keeps the old media.
    std::fs::rename(&media, data.join("media.old")).unwrap();
    drop(start_binary(data));
    assert!(media.join("chat_img/default.jpg").is_file());
    let moved =
        ["chat_img", "avatars", "msg_img"].map(|f| snapshot(&data.join("media.old").join(f)));
    assert_eq!(moved, uploaded);
    // So does a data directory that is new.
    let fresh = tempfile::tempdir().unwrap();
    drop(start_binary(&fresh.path().join("new")));
}
