//! SIGKILL during uploads: no row names a missing file, and the files a
//! crash leaves are reported by `chatd check` and removed at the next start.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::common::*;
use crate::{all_chats, big_png, check};

/// Every file name in a media folder of `data`.
fn files_in(data: &Path, folder: &str) -> BTreeSet<String> {
    std::fs::read_dir(data.join("media").join(folder))
        .unwrap()
        .map(|e| format!("{folder}/{}", e.unwrap().file_name().to_string_lossy()))
        .collect()
}

/// The media paths the database of `data` names.
fn named_files(data: &Path) -> BTreeSet<String> {
    let conn = rusqlite::Connection::open(data.join("chat.db")).unwrap();
    let mut query = conn
        .prepare("SELECT img FROM chats WHERE img IS NOT NULL UNION SELECT avatar FROM users WHERE avatar IS NOT NULL")
        .unwrap();
    let named = query
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    named
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_mid_upload_leaves_no_dangling_row_and_strays_go_at_the_next_start() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let mut server = start_binary(data);
    let token = server.api.user("uploader").await;
    let stop = Arc::new(AtomicBool::new(false));
    let mut uploaders = Vec::new();
    for task in 0..4 {
        let (base, token, stop) = (server.api.base.clone(), token.clone(), stop.clone());
        uploaders.push(tokio::spawn(async move {
            let api = ApiClient::new(base);
            for n in 0.. {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let title = format!("upload {task}-{n}");
                let form = file_form(
                    &[("title", &title), ("room", "films")],
                    "img",
                    big_png(n as u8),
                    "x.png",
                    "image/png",
                );
                let request = api.client.post(api.url("/api/chat/")).bearer_auth(&token);
                // The server dies under some of these.
                let _ = request.multipart(form).send().await;
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server.child.kill().unwrap(); // SIGKILL
    server.child.wait().unwrap();
    stop.store(true, Ordering::Relaxed);
    for uploader in uploaders {
        uploader.await.unwrap();
    }

    // No row points at a missing file.
    let named = named_files(data);
    assert!(named.len() > 3, "only {} uploads got in", named.len());
    let on_disk = files_in(data, "chat_img");
    for file in &named {
        assert!(on_disk.contains(file), "{file} is named but missing");
    }
    // What a crash between the file and its row leaves, for certain, in
    // each folder uploads go to; and files someone else put there, which
    // stay whatever they look like: only names chatd generates are its own.
    let hex = "0123456789abcdef0123456789abcdef";
    let crash_left = [
        format!("chat_img/{hex}.png"),
        format!("avatars/{hex}.jpg"),
        format!("msg_img/{hex}.webp"),
        format!("chat_img/{hex}.part"),
    ];
    let not_chatds = [
        "chat_img/mine.png".to_string(),
        "chat_img/x.jpg".to_string(),
        "chat_img/notes.part".to_string(),
        "avatars/me.jpg".to_string(),
        format!("avatars/{}.png", hex.to_uppercase()),
        format!("msg_img/{hex}.jpeg"),
        format!("msg_img/{}.png", &hex[..16]),
    ];
    for file in &crash_left {
        std::fs::write(data.join("media").join(file), b"left by a crash").unwrap();
    }
    for file in &not_chatds {
        std::fs::write(data.join("media").join(file), b"put there by hand").unwrap();
    }
    let (status, out, err) = check(data);
    assert_eq!(status, Some(0), "{out}{err}");
    assert!(out.contains("ok    media"), "{out}");
    let strays = out
        .lines()
        .find(|l| l.starts_with("warn  stray files: "))
        .unwrap_or_else(|| panic!("check reports no stray files: {out}"));
    let all_media = || -> BTreeSet<String> {
        ["chat_img", "avatars", "msg_img"]
            .into_iter()
            .flat_map(|folder| files_in(data, folder))
            .collect()
    };
    let kept: BTreeSet<String> = named
        .iter()
        .chain(&not_chatds)
        .cloned()
        .chain(["chat_img/default.jpg".to_string()])
        .collect();
    let on_disk = all_media();
    let partial = on_disk
        .difference(&kept)
        .filter(|f| f.ends_with(".part"))
        .count();
    let orphans = on_disk.len() - kept.len() - partial;
    assert!(partial >= 1 && orphans >= 3, "{on_disk:?}");
    assert!(
        strays.contains(&format!("{orphans} no row names, {partial} half-written")),
        "{strays}"
    );
    assert!(strays.contains("(removed at the next start)"), "{strays}");

    // The next start removes them, and only them.
    let restarted = start_binary(data);
    assert_eq!(all_media(), kept);
    for chat in all_chats(&restarted.api, "films").await {
        let (status, _, _) = restarted.api.fetch(chat["img"].as_str().unwrap()).await;
        assert_eq!(status, 200, "{chat}");
    }
    let (status, out, _) = check(data);
    assert_eq!(status, Some(0), "{out}");
    assert!(out.contains("ok    no stray files"), "{out}");
}
