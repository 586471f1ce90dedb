//! Faults of the machine a server runs on: a full disk, a database locked
//! by another process, a crash mid-upload, a damaged database at start, a
//! backup taken under load. The data directory of the disk-full test is a
//! small tmpfs: mounting one needs root, which CI has, so a failed mount
//! fails the test. Modules:
//!
//! - `disk_full.rs`: a tmpfs filled under load refuses writes, keeps what was acknowledged, recovers;
//! - `locked.rs`: a database locked by another process delays writes, then answers 503;
//! - `crash.rs`: SIGKILL during uploads leaves no dangling row; strays go at the next start;
//! - `damaged.rs`: a damaged database or data directory, or a lost database, stops the start;
//! - `backup.rs`: a backup taken under load restores every acknowledged message and file.

mod backup;
#[path = "../common/mod.rs"]
mod common;
mod crash;
mod damaged;
mod disk_full;
mod locked;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

pub(crate) const OUT_OF_SPACE: &str = "The server is out of storage space.";

/// An uncompressed PNG of about 40 KB.
pub(crate) fn big_png(seed: u8) -> Vec<u8> {
    let rgb: Vec<u8> = (0..116 * 116 * 3).map(|i| (i as u8) ^ seed).collect();
    chatd::ops::png::encode_rgb(116, 116, &rgb)
}

/// Every chat of a room, walking the list's pages.
pub(crate) async fn all_chats(api: &ApiClient, room: &str) -> Vec<Value> {
    let mut url = Some(api.url(&format!("/api/chat/{room}/")));
    let mut all = Vec::new();
    while let Some(next) = url {
        let (status, page) = send(api.client.get(&next)).await;
        assert_eq!(status, 200, "GET {next}: {page}");
        all.extend(results(&page));
        url = page["next"].as_str().map(str::to_string);
    }
    all
}

/// What happened to the writes of a load: which were stored, which refused.
#[derive(Default, Debug)]
pub(crate) struct Tally {
    /// Titles of chats created (200) and refused (507).
    pub(crate) created: Vec<String>,
    pub(crate) refused: Vec<String>,
    /// How many of the refused creates carried an image.
    pub(crate) refused_uploads: usize,
    /// WebSocket messages: nonce → stored message, and refusals.
    pub(crate) acked: BTreeMap<u64, Value>,
    pub(crate) unavailable: usize,
    pub(crate) pongs: usize,
}

pub(crate) type Shared = Arc<Mutex<Tally>>;

/// Reads a socket's frames into the tally: own `message` frames by nonce,
/// `unavailable` refusals; any other error frame fails the test.
pub(crate) fn record_frame(frame: &Value, tally: &Shared) {
    match frame["type"].as_str() {
        Some("message") => {
            let nonce = frame["nonce"].as_u64().expect("our nonce");
            tally
                .lock()
                .unwrap()
                .acked
                .insert(nonce, frame["message"].clone());
        }
        Some("error") => {
            assert_eq!(frame["code"], "unavailable", "{frame}");
            assert_eq!(frame["detail"], OUT_OF_SPACE, "{frame}");
            tally.lock().unwrap().unavailable += 1;
        }
        Some("pong") => tally.lock().unwrap().pongs += 1,
        _ => {}
    }
}

/// Runs the binary with `args` to its end (within 30 s): exit code,
/// stdout, stderr.
pub(crate) fn run_chatd(args: &[&std::ffi::OsStr]) -> (Option<i32>, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_chatd"))
        .args(args)
        .env("RUST_LOG", "chatd=info")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("chatd {args:?} did not exit within 30 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).to_string(),
        String::from_utf8_lossy(&output.stderr).to_string(),
    )
}

/// `chatd check --data-dir <dir>`.
pub(crate) fn check(dir: &Path) -> (Option<i32>, String, String) {
    run_chatd(&["check".as_ref(), "--data-dir".as_ref(), dir.as_os_str()])
}
