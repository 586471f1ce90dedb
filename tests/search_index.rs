//! The search index follows the writer (src/storage/search_index.rs): a
//! message is broadcast first and indexed a moment later, yet a search
//! made after its acknowledgement finds it; edits and deletes of messages
//! not yet indexed, a mark above the newest message, and messages written by another
//! process all end up right; `chatd check` does not call waiting messages
//! a fault.

mod common;

use common::*;
use serde_json::json;

/// The ids of the messages a search for `q` finds.
async fn found(app: &ApiClient, q: &str) -> Vec<i64> {
    let query = serde_urlencoded::to_string([("q", q)]).unwrap();
    let (status, page) = app.get_json(&format!("/api/search/?{query}")).await;
    assert_eq!(status, 200, "{q:?}: {page}");
    ids(&results(&page))
}

/// `chatd check` exits 0 with the message index `ok`; returns its output.
fn assert_check_passes(data_dir: &std::path::Path) -> String {
    let output = chatd(&["check"], data_dir);
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("ok    search index messages_fts\n"),
        "{stdout}"
    );
    stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acknowledged_message_is_found_at_once_also_after_an_edit_or_delete() {
    let app = spawn_app_with(|config| config.ws.burst = 1000).await;
    let token = app.user("nik").await;
    let chat = app.new_chat_id(&token, "books", "Index").await;
    let mut ws = connect(&app.ws_url("books", chat, &format!("token={token}"))).await;
    next_json(&mut ws).await; // hello

    // Many at once: every one is found by a search made right after the
    // last acknowledgement (the index is brought up to date first).
    let mut posted = Vec::new();
    for n in 0..300 {
        post(&mut ws, &format!("zephyr number{n}"), &n.to_string()).await;
    }
    while posted.len() < 300 {
        let frame = next_non_presence(&mut ws).await;
        assert_eq!(frame["type"], "message", "{frame}");
        posted.push(id_of(&frame));
    }
    let query = serde_urlencoded::to_string([("q", "zephyr")]).unwrap();
    let (_, page) = app.get_json(&format!("/api/search/?{query}")).await;
    assert_eq!(page["count"], 300, "{page}");
    assert_eq!(found(&app, "number299").await, [posted[299]]);

    // Edited and deleted before anything could index them.
    let edited = post_and_wait(&mut ws, "original wording", "e").await;
    let id = edited["id"].as_i64().unwrap();
    send_json(
        &mut ws,
        json!({"type": "edit", "id": id, "text": "changed wording"}),
    )
    .await;
    assert_eq!(next_non_presence(&mut ws).await["type"], "message_edited");
    let gone = post_and_wait(&mut ws, "ephemeral words", "d").await;
    send_json(&mut ws, json!({"type": "delete", "id": gone["id"]})).await;
    assert_eq!(next_non_presence(&mut ws).await["type"], "message_deleted");
    assert!(found(&app, "original").await.is_empty());
    assert_eq!(found(&app, "changed wording").await, [id]);
    assert!(found(&app, "ephemeral").await.is_empty());

    // Once indexed, edits and deletes keep the index in step as before.
    send_json(
        &mut ws,
        json!({"type": "edit", "id": id, "text": "final text"}),
    )
    .await;
    assert_eq!(next_non_presence(&mut ws).await["type"], "message_edited");
    assert!(found(&app, "changed").await.is_empty());
    assert_eq!(found(&app, "final").await, [id]);

    assert_check_passes(&app.data_dir());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_newest_messages_deleted_with_their_chat_leave_the_index_right() {
    let app = spawn_app().await;
    let token = app.user("nik").await;
    let keep = app.new_chat_id(&token, "books", "Kept").await;
    let doomed = app.new_chat_id(&token, "books", "Doomed").await;
    send_message(&app, &token, "books", keep, "alpha").await;
    send_message(&app, &token, "books", doomed, "bravo").await;
    let last = send_message(&app, &token, "books", doomed, "charlie").await;
    assert_eq!(found(&app, "charlie").await, [last["id"].as_i64().unwrap()]);

    // The chat with the newest messages goes: the index's mark is now
    // above the newest message, and the next one is still indexed.
    let url = app.url(&format!("/api/chat/books/{doomed}/"));
    let (status, _) = send_raw(app.client.delete(url).bearer_auth(&token)).await;
    assert_eq!(status, 204);
    assert!(found(&app, "bravo").await.is_empty());
    let reused = send_message(&app, &token, "books", keep, "delta").await;
    assert_eq!(reused["id"], last["id"].as_i64().unwrap() + 1);
    assert_eq!(found(&app, "delta").await, [reused["id"].as_i64().unwrap()]);

    assert_check_passes(&app.data_dir());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_written_by_another_process_are_indexed_and_check_waits_for_them() {
    let dir = tempfile::tempdir().unwrap();
    let db = test_config(dir.path()).db_path();
    drop(chatd::storage::Db::open(&db).unwrap());
    let output = chatd(
        &[
            "user",
            "create",
            "old",
            "--email",
            "old@example.com",
            "--password",
            "x-very-long-password",
        ],
        dir.path(),
    );
    assert!(output.status.success(), "{output:?}");
    let insert = |text: &str| {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute(
            "INSERT OR IGNORE INTO chats (id, room, title, creator_id, created_at)
             VALUES (1, 'books', 'Imported', 1, '2024-01-01T00:00:00.000000Z')",
            [],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO messages (chat_id, user_id, text, created_at)
             VALUES (1, 1, ?1, '2024-01-01T00:00:01.000000Z')",
            [text],
        )
        .unwrap();
        conn.last_insert_rowid()
    };
    let imported = insert("imported archive");

    // Not indexed yet: a note, not a failure.
    let stdout = assert_check_passes(dir.path());
    assert!(
        stdout.contains(
            "note  search index: messages above id 0 are indexed by the server shortly\n"
        ),
        "{stdout}"
    );

    // The server indexes what it finds at start, and what another process
    // writes while it runs (within about a second).
    let app = start(test_config(dir.path()), dir).await;
    assert_eq!(found(&app, "archive").await, [imported]);
    let later = insert("imported later");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while found(&app, "later").await != [later] {
        assert!(std::time::Instant::now() < deadline, "never indexed");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let stdout = assert_check_passes(&app.data_dir());
    assert!(!stdout.contains("note  search index"), "{stdout}");
}
