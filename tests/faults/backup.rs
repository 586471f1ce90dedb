//! A backup taken under load (messages and image churn) restores every
//! acknowledged message and file.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use crate::common::*;
use crate::{all_chats, big_png, check, record_frame, run_chatd, Shared};

/// Creates chats with images and replaces each one's image right after,
/// until `stop`; every answer must be 200.
async fn churn_images(base: String, token: String, stop: Arc<AtomicBool>) {
    let api = ApiClient::new(base);
    let mut n = 0u32;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let title = format!("churn {n}");
        let form = file_form(
            &[("title", &title), ("room", "films")],
            "img",
            big_png(n as u8),
            "x.png",
            "image/png",
        );
        let (status, body) = api.post_multipart(&token, "/api/chat/", form).await;
        assert_eq!(status, 200, "{body}");
        let path = format!("/api/chat/films/{}/", body["chat"]["id"]);
        let form = file_form(&[], "img", big_png(!n as u8), "y.png", "image/png");
        let request = api.client.patch(api.url(&path)).bearer_auth(&token);
        let (status, body) = send(request.multipart(form)).await;
        assert_eq!(status, 200, "{body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_under_load_restores_every_acknowledged_message_and_file() {
    let mut config = test_config(Path::new("unused"));
    config.ws.rate_per_sec = 100_000.0;
    config.ws.burst = 100_000;
    let dir = tempfile::tempdir().unwrap();
    config.data_dir = dir.path().to_path_buf();
    let app = start(config, dir).await;
    let token = app.user("archivist").await;
    let chat = app.new_chat_id(&token, "books", "Archived").await;
    let url = app.ws_url("books", chat, &format!("token={token}"));
    let (socket, _) = join_url(&url).await;
    let (mut sink, mut stream) = socket.split();

    let stop = Arc::new(AtomicBool::new(false));
    let churn = tokio::spawn(churn_images(app.base.clone(), token.clone(), stop.clone()));
    let sender_stop = stop.clone();
    let sender = tokio::spawn(async move {
        for n in 0u64.. {
            if sender_stop.load(Ordering::Relaxed) {
                break;
            }
            let frame = json!({"type": "message", "text": format!("line {n}"), "nonce": n});
            sink.send(Message::text(frame.to_string())).await.unwrap();
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    });
    let tally = Shared::default();
    let reader_tally = tally.clone();
    let reader = tokio::spawn(async move {
        while let Some(Ok(frame)) = stream.next().await {
            if let Message::Text(text) = frame {
                record_frame(&serde_json::from_str(&text).unwrap(), &reader_tally);
            }
        }
    });
    tokio::time::sleep(Duration::from_millis(700)).await;

    // Everything acknowledged by now must be in the backup.
    let before: Vec<Value> = tally.lock().unwrap().acked.values().cloned().collect();
    assert!(
        before.len() > 50,
        "only {} messages before the backup",
        before.len()
    );
    let out = tempfile::tempdir().unwrap();
    let (file, media) = (out.path().join("chat.db"), out.path().join("media"));
    let data = app.data_dir();
    let args = [
        "backup".into(),
        file.clone().into_os_string(),
        "--with-media".into(),
        media.clone().into_os_string(),
        "--data-dir".into(),
        data.into_os_string(),
    ];
    let (status, stdout, stderr) = tokio::task::spawn_blocking(move || {
        let args: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
        run_chatd(&args)
    })
    .await
    .unwrap();
    assert_eq!(status, Some(0), "{stdout}{stderr}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    sender.await.unwrap();
    churn.await.unwrap();
    reader.abort();

    // Restore into a new directory and serve it.
    let (status, report, _) = check(out.path());
    assert_eq!(status, Some(0), "{report}");
    assert!(report.contains("ok    no stray files"), "{report}");
    let restored_dir = tempfile::tempdir().unwrap();
    let restored = start(test_config(out.path()), restored_dir).await;
    let stored = restored.all_messages("books", chat).await;
    let stored_ids: BTreeSet<i64> = ids(&stored).into_iter().collect();
    for message in &before {
        assert!(
            stored_ids.contains(&message["id"].as_i64().unwrap()),
            "acknowledged before the backup, missing after the restore: {message}"
        );
    }
    let chats = all_chats(&restored, "films").await;
    assert!(!chats.is_empty());
    for chat in chats {
        let (status, _, body) = restored.fetch(chat["img"].as_str().unwrap()).await;
        assert_eq!(status, 200, "{chat}");
        assert_eq!(body.len(), big_png(0).len());
    }
    eprintln!(
        "backup under load: {} messages acknowledged before it, {} in the copy",
        before.len(),
        stored.len()
    );
}
