//! Operator commands on a live instance: backup, check, user management.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common::*;

/// Creates a chat with a fixture as its image (200); returns the Chat.
async fn post_image_chat(
    app: &TestApp,
    token: &str,
    fields: &[(&str, &str)],
    fixture_name: &str,
    mime: &str,
) -> serde_json::Value {
    let form = file_form(fields, "img", fixture(fixture_name), fixture_name, mime);
    let (status, body) = app.post_multipart(token, "/api/chat/", form).await;
    assert_eq!(status, 200, "{body}");
    body["chat"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_while_running_is_a_consistent_copy_with_media() {
    let app = spawn_app().await;
    let token = app.user("keeper").await;
    let fields = [("title", "Backed up"), ("room", "music")];
    post_image_chat(&app, &token, &fields, "red.png", "image/png").await;

    let out = tempfile::tempdir().unwrap();
    let copy = out.path().join("copy.db");
    let media = out.path().join("media");
    let dir = app.data_dir();
    let (copy2, media2) = (copy.clone(), media.clone());
    let output = tokio::task::spawn_blocking(move || {
        chatd(
            &[
                "backup",
                copy2.to_str().unwrap(),
                "--with-media",
                media2.to_str().unwrap(),
            ],
            &dir,
        )
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let conn = rusqlite::Connection::open(&copy).unwrap();
    let title: String = conn
        .query_row("SELECT title FROM chats", [], |row| row.get(0))
        .unwrap();
    assert_eq!(title, "Backed up");
    let img: String = conn
        .query_row("SELECT img FROM chats", [], |row| row.get(0))
        .unwrap();
    assert_eq!(std::fs::read(media.join(&img)).unwrap(), fixture("red.png"));
    assert!(media.join("chat_img/default.jpg").exists());

    // A backup never overwrites.
    let output = chatd(&["backup", copy.to_str().unwrap()], &app.data_dir());
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("exists already"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_and_backup_find_missing_images() {
    let app = spawn_app().await;
    let token = app.user("checker").await;
    let fields = [("title", "Checked"), ("room", "books")];
    let chat = post_image_chat(&app, &token, &fields, "red.gif", "image/gif").await;

    let output = chatd(&["check"], &app.data_dir());
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    assert_eq!(
        stdout(&output),
        "ok    integrity\nok    foreign keys\nok    search index messages_fts\n\
         ok    search index chats_fts\nok    media (1 files)\nok    no stray files\n"
    );

    let img = chat["img"]
        .as_str()
        .unwrap()
        .split("/media/")
        .nth(1)
        .unwrap()
        .to_string();
    std::fs::remove_file(app.data_dir().join("media").join(&img)).unwrap();
    let output = chatd(&["check"], &app.data_dir());
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stdout(&output).contains(&format!("FAIL  media: 1 missing, e.g. {img}")),
        "{}",
        stdout(&output)
    );

    // A backup with media cannot keep its promise (every named file
    // copied): it says which file, after trying newer snapshots.
    let out = tempfile::tempdir().unwrap();
    let (copy, media) = (out.path().join("copy.db"), out.path().join("media"));
    let output = chatd(
        &[
            "backup",
            copy.to_str().unwrap(),
            "--with-media",
            media.to_str().unwrap(),
        ],
        &app.data_dir(),
    );
    assert_eq!(output.status.code(), Some(1));
    let media_from = app.data_dir().join("media");
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        format!(
            "chatd: {img} is named by the database but missing from {}; \
             `chatd check` lists every such file\n",
            media_from.display()
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_are_managed_without_sql_and_password_changes_revoke_tokens() {
    let app = spawn_app().await;
    let dir = app.data_dir();

    let created = Command::new(env!("CARGO_BIN_EXE_chatd"))
        .args([
            "user",
            "create",
            "opal",
            "--email",
            "opal@example.com",
            "--data-dir",
        ])
        .arg(&dir)
        .env("CHATD_USER_PASSWORD", PASSWORD)
        .output()
        .unwrap();
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    // The same rules as registering.
    let weak = Command::new(env!("CARGO_BIN_EXE_chatd"))
        .args([
            "user",
            "create",
            "weak",
            "--email",
            "weak@example.com",
            "--password",
            "12345678",
            "--data-dir",
        ])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(weak.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&weak.stderr).contains("This password is too common."));

    let (access, refresh) = app.login("opal").await;
    assert_eq!(app.get_user(&access).await.0, 200);
    let list = stdout(&chatd(&["user", "list"], &dir));
    assert!(
        list.contains("opal") && list.contains("opal@example.com"),
        "{list}"
    );

    // A new password: old tokens stop working, the new password works.
    let changed = chatd(
        &[
            "user",
            "set-password",
            "opal",
            "--password",
            "a brand new passphrase",
        ],
        &dir,
    );
    assert!(
        changed.status.success(),
        "{}",
        String::from_utf8_lossy(&changed.stderr)
    );
    assert_eq!(app.get_user(&access).await, (401, token_not_valid()));
    let (status, _) = json_of(
        app.client
            .post(app.url("/api/token/refresh/"))
            .form(&[("refresh", &refresh)])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 401);
    let login = app
        .client
        .post(app.url("/api/token/"))
        .form(&[("username", "opal"), ("password", "a brand new passphrase")])
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    let (new_access, _) = {
        let body: serde_json::Value = login.json().await.unwrap();
        (body["access"].as_str().unwrap().to_string(), ())
    };

    let deleted = chatd(&["user", "delete", "opal"], &dir);
    assert!(deleted.status.success());
    assert_eq!(
        app.get_user(&new_access).await,
        (
            401,
            serde_json::json!({"detail": "User not found", "code": "user_not_found"})
        )
    );
    let missing = chatd(&["user", "delete", "opal"], &dir);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no user opal"));
}

/// `chatd audit | head -1`, `chatd user list | head -1`: the reader goes
/// after one line with more than a pipe's 64 KiB still to come. The
/// command ends as if it had printed everything: status 0, nothing on
/// standard error (no panic, no backtrace).
#[test]
fn a_reader_that_stops_early_ends_the_output_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let db = test_config(dir.path()).db_path();
    drop(chatd::storage::Db::open(&db).unwrap());
    // Written directly: 3,000 accounts through `chatd user create` would
    // hash 3,000 passwords.
    let mut conn = rusqlite::Connection::open(&db).unwrap();
    let tx = conn.transaction().unwrap();
    for n in 0..3000 {
        let name = format!("reader{n}");
        let email = format!("{name}@example.com");
        chatd::storage::users::insert(&tx, &name, &email, "-").unwrap();
        chatd::storage::audit::record(&tx, "operator", "user.create", &name, "").unwrap();
    }
    tx.commit().unwrap();

    // The line read, without the audit's timestamp (its second field).
    let untimed = |line: &str| {
        let mut fields: Vec<&str> = line.split('\t').collect();
        if fields.len() > 1 {
            fields.remove(1);
        }
        fields.join("\t")
    };
    let header = "    id  username                 email                            chats  joined                       status\n";
    for (args, first) in [
        (
            &["audit", "--limit", "3000"][..],
            "3000\toperator\tuser.create\treader2999\t\n",
        ),
        (&["user", "list"][..], header),
    ] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_chatd"))
            .args(args)
            .arg("--data-dir")
            .arg(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        // The reader is dropped: the pipe's read end is closed.
        let output = child.wait_with_output().unwrap();
        assert_eq!(untimed(&line), first, "{args:?}");
        assert_eq!(
            (
                output.status.code(),
                String::from_utf8_lossy(&output.stderr)
            ),
            (Some(0), "".into()),
            "{args:?}"
        );
    }
}

/// Standard error into a pipe nobody reads (`chatd ... 2>&1 | head -0`):
/// a refused start still exits with status 1, and `invite create`, which
/// says there how long its code is valid, still succeeds. `eprintln!`
/// panicked on the broken pipe (status 101).
#[test]
fn an_unread_standard_error_changes_no_exit_status() {
    let dir = tempfile::tempdir().unwrap();
    let without_reader = |args: &[&str]| {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        Command::new(env!("CARGO_BIN_EXE_chatd"))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(writer)
            .output()
            .unwrap()
    };
    let file = dir.path().join("a-file");
    std::fs::write(&file, "not a directory").unwrap();
    let refused = without_reader(&["--data-dir", file.to_str().unwrap()]);
    assert_eq!(refused.status.code(), Some(1));

    drop(chatd::storage::Db::open(&test_config(dir.path()).db_path()).unwrap());
    let data = dir.path().to_str().unwrap();
    let invite = without_reader(&["invite", "create", "--data-dir", data]);
    assert_eq!(invite.status.code(), Some(0));
    let code = String::from_utf8(invite.stdout).unwrap();
    assert_eq!(code.trim().len(), code.len() - 1, "one line: {code:?}");
    assert!(code.len() > 16, "{code:?}");
}

/// A secret too short to sign with stops the start before the data
/// directory gets a database: trying again with a good secret starts as
/// on a fresh machine.
#[test]
fn a_refused_secret_leaves_no_database_behind() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_chatd"))
        .args([
            "--secret",
            "too-short",
            "--addr",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stderr).into_owned()
        ),
        (
            Some(1),
            "chatd: the secret must be at least 16 characters long\n".to_string()
        )
    );
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "{left:?}");
}
