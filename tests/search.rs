//! Search over real sockets (API.md, "Community features"): messages by
//! every word as a prefix, accent- and case-insensitive, best match first;
//! chats by title and description; no user input read as FTS5 syntax.
//! Also: a version 1 database is migrated and indexed on start, and
//! `chatd check` checks the search indexes.

mod common;

use common::*;
use serde_json::{json, Value};

async fn post_text(app: &TestApp, token: &str, chat: i64, text: &str) -> i64 {
    let url = app.url(&format!("/api/chat/books/{chat}/messages/"));
    let (status, body) = send(
        app.client
            .post(url)
            .bearer_auth(token)
            .json(&json!({ "text": text })),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    body["id"].as_i64().unwrap()
}

/// `GET /api/search/?<query>` (query already encoded): status and body.
async fn search(app: &TestApp, query: &str) -> (u16, Value) {
    app.get_json(&format!("/api/search/?{query}")).await
}

/// The ids of the messages a search for `q` finds (200).
async fn found(app: &TestApp, q: &str) -> Vec<i64> {
    let query = serde_urlencoded::to_string([("q", q)]).unwrap();
    let (status, page) = search(app, &query).await;
    assert_eq!(status, 200, "{q:?}: {page}");
    ids(&results(&page))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_word_matches_as_a_prefix_without_case_or_accents() {
    let app = spawn_app().await;
    let token = app.user("nik").await;
    let books = app.new_chat_id(&token, "books", "Cooking").await;
    let films = app.new_chat_id(&token, "films", "Films").await;
    let creme = post_text(&app, &token, books, "Crème brûlée is the best dessert").await;
    let cream = post_text(&app, &token, books, "CREME fraiche, not brulee").await;
    let other = post_text(&app, &token, books, "nothing to see").await;
    let url = app.url(&format!("/api/chat/films/{films}/messages/"));
    let (status, film) = send(
        app.client
            .post(url)
            .bearer_auth(&token)
            .json(&json!({"text": "Brûlée scenes"})),
    )
    .await;
    assert_eq!(status, 201);

    assert_eq!(
        found(&app, "creme brul").await,
        [cream, creme],
        "ties: newest first"
    );
    assert_eq!(found(&app, "dessert crème").await, [creme]);
    assert_eq!(found(&app, "brûlée").await.len(), 3);
    assert!(found(&app, "creme missingword").await.is_empty());
    assert_eq!(found(&app, "NOTHING").await, [other]);

    let (status, page) = search(&app, "q=brulee&room=films").await;
    assert_eq!(status, 200);
    let hits = results(&page);
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0]["chat_title"], "Films");
    assert_eq!(hits[0]["room"], "films");
    assert_eq!(hits[0]["id"], film["id"]);
    assert_eq!(hits[0]["text"], "Brûlée scenes");
    let (_, page) = search(&app, &format!("q=brulee&chat={books}")).await;
    assert_eq!(ids(&results(&page)), [cream, creme]);

    // Edits re-index; deleted messages never match.
    let edit = app.url(&format!("/api/chat/books/{books}/messages/{other}/"));
    let (status, _) = send(
        app.client
            .patch(edit.clone())
            .bearer_auth(&token)
            .json(&json!({"text": "quiche"})),
    )
    .await;
    assert_eq!(status, 200);
    assert!(found(&app, "nothing").await.is_empty());
    assert_eq!(found(&app, "quich").await, [other]);
    send_raw(app.client.delete(edit).bearer_auth(&token)).await;
    assert!(found(&app, "quiche").await.is_empty());

    assert_eq!(
        search(&app, "").await,
        (400, json!({"q": ["This field is required."]}))
    );
    assert_eq!(
        search(&app, "q=%20").await,
        (400, json!({"q": ["This field may not be blank."]}))
    );
    assert_eq!(
        search(&app, "q=x&room=movie").await,
        (400, json!({"room": ["\"movie\" is not a valid choice."]}))
    );
    assert_eq!(
        search(&app, "q=x&chat=one").await,
        (400, json!({"chat": ["A valid integer is required."]}))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn best_match_first() {
    let app = spawn_app().await;
    let token = app.user("nik").await;
    let chat = app.new_chat_id(&token, "books", "Ranking").await;
    let strong = post_text(&app, &token, chat, "dune dune dune").await;
    let weak = post_text(
        &app,
        &token,
        chat,
        &format!("dune {}", "filler ".repeat(40)),
    )
    .await;
    assert_eq!(found(&app, "dune").await, [strong, weak]);
}

/// `ids`, sorted: for checks of what matches, not of the ranking.
fn sorted(mut ids: Vec<i64>) -> Vec<i64> {
    ids.sort_unstable();
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prefix_finds_every_longer_word_however_many_there_are() {
    // Words longer than the prefix indexes (3 characters) are searched as
    // the index's terms that start with them, up to a limit past which the
    // word stays a prefix query: both ways must find the same messages.
    let app = spawn_app().await;
    let token = app.user("nik").await;
    let chat = app.new_chat_id(&token, "books", "Dunes").await;
    let dune = post_text(&app, &token, chat, "Dune").await;
    let dunes = post_text(&app, &token, chat, "dunes and sand").await;
    let dunedain = post_text(&app, &token, chat, "Dúnedain of the north, on sand").await;
    let dun = post_text(&app, &token, chat, "a dun horse").await;
    assert_eq!(
        sorted(found(&app, "dun").await),
        [dune, dunes, dunedain, dun]
    );
    assert_eq!(sorted(found(&app, "DÙNE").await), [dune, dunes, dunedain]);
    assert_eq!(found(&app, "dunes").await, [dunes]);
    assert_eq!(found(&app, "dunedain").await, [dunedain]);
    assert_eq!(sorted(found(&app, "sand dune").await), [dunes, dunedain]);
    assert_eq!(found(&app, "sand dune north").await, [dunedain]);
    assert!(found(&app, "dunesx").await.is_empty());

    let many = chatd::storage::search::MAX_EXPANSION as i64 + 16;
    let mut wordy = Vec::new();
    for i in 0..many {
        wordy.push(post_text(&app, &token, chat, &format!("wordy{i} sand")).await);
    }
    assert_eq!(sorted(found(&app, "wordy").await), wordy);
    assert_eq!(sorted(found(&app, "sand wordy").await).len(), wordy.len());
    let sevens: Vec<i64> = (0..many)
        .filter(|i| i.to_string().starts_with('7'))
        .map(|i| wordy[i as usize])
        .collect();
    assert_eq!(sorted(found(&app, "Wordy7").await), sevens);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_syntax_is_searched_as_words_and_never_fails() {
    let app = spawn_app().await;
    let token = app.user("nik").await;
    let chat = app.new_chat_id(&token, "books", "Syntax").await;
    let near = post_text(&app, &token, chat, "NEAR the door, or not").await;
    let quoted = post_text(&app, &token, chat, "she said \"hello\" (twice)").await;
    for q in [
        "\"",
        "\"hello",
        "hello\"",
        "\"\"",
        "*",
        "hello*",
        "-hello",
        "NOT",
        "AND",
        "OR",
        "NEAR(",
        "NEAR(door or, 2)",
        "(",
        ")",
        "((hello))",
        "^hello",
        "col:hello",
        "text:hello",
        "{text}: hello",
        "+",
        "hello + said",
        "'",
        "\\",
        "%",
        "\u{0301}",
        "\u{0}",
        "💥",
    ] {
        let query = serde_urlencoded::to_string([("q", q)]).unwrap();
        let (status, body) = search(&app, &query).await;
        assert_eq!(status, 200, "{q:?}: {body}");
    }
    assert_eq!(found(&app, "NEAR(door").await, [near]);
    assert_eq!(found(&app, "\"hello\" (twice").await, [quoted]);
    assert_eq!(found(&app, "or NOT").await, [near]);
    assert_eq!(found(&app, "-said").await, [quoted], "- is no negation");
    assert!(found(&app, "***").await.is_empty());

    // 10,000 characters, of many words or one.
    let many = "hello ".repeat(1700);
    assert_eq!(found(&app, &many).await, [quoted]);
    let one = "h".repeat(10_000);
    assert!(found(&app, &one).await.is_empty());
    let mixed = "\"NEAR( -*".repeat(1200);
    assert_eq!(found(&app, &mixed).await, [near]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_can_be_searched_by_title_and_description() {
    let app = spawn_app().await;
    let token = app.user("nik").await;
    let dune = app
        .new_chat(
            &token,
            &[
                ("title", "Dune"),
                ("room", "books"),
                ("description", "Arrakis, spice"),
            ],
        )
        .await;
    let emma = app
        .new_chat(&token, &[("title", "Émma"), ("room", "books")])
        .await;
    app.new_chat(&token, &[("title", "Dune"), ("room", "films")])
        .await;

    let app = &app;
    let list = |q: &str| {
        let query = serde_urlencoded::to_string([("search", q)]).unwrap();
        let path = format!("/api/chat/books/?{query}");
        async move { app.get_ok(&path).await }
    };
    let page = list("dun").await;
    assert_eq!(page["count"], 1);
    assert_eq!(results(&page), std::slice::from_ref(&dune));
    assert_eq!(results(&list("SPI arrak").await), vec![dune]);
    assert_eq!(results(&list("emma").await), vec![emma]);
    assert_eq!(list("emma dune").await["count"], 0);
    assert_eq!(list("\"NEAR(").await["count"], 0);
    // Nothing searchable filters nothing.
    assert_eq!(list("").await["count"], 2);
    assert_eq!(list("**").await["count"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_1_database_is_migrated_and_indexed_on_start() {
    let dir = tempfile::tempdir().unwrap();
    let config = test_config(dir.path());
    {
        let conn = rusqlite::Connection::open(config.db_path()).unwrap();
        conn.execute_batch(&String::from_utf8(fixture("schema_v1.sql")).unwrap())
            .unwrap();
        conn.execute_batch(
            "PRAGMA user_version = 1;
             INSERT INTO users (username, username_key, email, email_key, password_hash, created_at)
             VALUES ('old', 'old', 'o@x.io', 'o@x.io', '-', '2023-01-01T00:00:00.000000Z');
             INSERT INTO chats (room, title, description, creator_id, created_at)
             VALUES ('books', 'Old times', NULL, 1, '2023-01-01T00:00:00.000000Z');
             INSERT INTO messages (chat_id, user_id, text, created_at)
             VALUES (1, 1, 'Ancient café history', '2023-01-01T00:00:01.000000Z');",
        )
        .unwrap();
    }
    let app = start(config, dir).await;
    let history = app.history("books", 1, "").await;
    let message = &results(&history)[0];
    assert_eq!(message["image"], Value::Null);
    assert_eq!(message["reactions"], json!([]));
    assert_eq!(found(&app, "cafe hist").await, [1]);
    assert_eq!(app.get_ok("/api/chat/books/?search=old").await["count"], 1);
    // New messages are indexed too.
    let token = app.user("nik").await;
    let new = post_text(&app, &token, 1, "a new café").await;
    assert_eq!(found(&app, "café").await, [new, 1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_covers_the_search_indexes_and_message_images() {
    let app = spawn_app().await;
    let token = app.user("nik").await;
    let chat = app.new_chat_id(&token, "books", "Checked").await;
    post_text(&app, &token, chat, "indexed words").await;
    let form = file_form(&[], "image", fixture("red.png"), "a.png", "image/png");
    let path = format!("/api/chat/books/{chat}/messages/");
    let (status, message) = app.post_multipart(&token, &path, form).await;
    assert_eq!(status, 201);

    let check = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_chatd"))
            .args(["check", "--data-dir"])
            .arg(app.data_dir())
            .output()
            .unwrap()
    };
    let output = check();
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("ok    search index messages_fts\n"),
        "{stdout}"
    );
    assert!(stdout.contains("ok    media (1 files)\n"), "{stdout}");

    // An index entry for a row that is not there, and a lost image.
    let conn = rusqlite::Connection::open(test_config(&app.data_dir()).db_path()).unwrap();
    conn.execute(
        "INSERT INTO messages_fts (rowid, text) VALUES (999, 'ghost')",
        [],
    )
    .unwrap();
    let image = message["image"]
        .as_str()
        .unwrap()
        .split("/media/")
        .nth(1)
        .unwrap();
    std::fs::remove_file(app.data_dir().join("media").join(image)).unwrap();
    let output = check();
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("FAIL  search index messages_fts"),
        "{stdout}"
    );
    assert!(stdout.contains("FAIL  media: 1 missing"), "{stdout}");
}
