//! The shared test harness. Every integration test file that talks to a
//! server starts with `mod common; use common::*;` (a suite that is a
//! directory, `tests/<suite>/main.rs`, with `#[path = "../common/mod.rs"]
//! mod common;`), and finds here:
//!
//! - this file: a real chatd started in-process on a random port with a
//!   temporary data directory ([`spawn_app`], [`TestApp`]), the test secret
//!   and password, tokens signed like the server's, and fixtures;
//! - `http.rs`: [`ApiClient`] (a [`TestApp`] derefs to one), with the API
//!   calls tests repeat (register and log in, create a chat, read a chat's
//!   messages...), response helpers ([`api`], [`json_of`], [`send`],
//!   [`header`]), the server's fixed messages and shape assertions;
//! - `binary.rs`: the built binary as a child process ([`start_binary`]);
//! - `ws.rs`: WebSocket helpers ([`connect`], [`next_json`], [`post`],
//!   [`close_code`], [`send_message`]...).
//!
//! A helper used by more than one test file belongs here, not in a copy.
#![allow(dead_code)]

mod binary;
mod http;
mod ws;

// Not every test file uses both; the unused half is no mistake there.
#[allow(unused_imports)]
pub use binary::*;
#[allow(unused_imports)]
pub use http::*;
#[allow(unused_imports)]
pub use ws::*;

use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chatd::auth::Tokens;
use chatd::{Config, RunningServer, Server};
use reqwest::multipart::{Form, Part};

/// A password that passes every password rule.
pub const PASSWORD: &str = "correct horse battery";

/// The signing secret every test server uses, so tests can forge tokens.
pub const SECRET: &str = "test-secret-for-chatd-tests";

/// A chatd running in this process, its client and its data directory.
/// Everything [`ApiClient`] offers is callable on it directly
/// (`app.user("alice")`, `app.base`, `app.client`).
pub struct TestApp {
    pub server: Option<RunningServer>,
    pub api: ApiClient,
    pub dir: tempfile::TempDir,
}

impl Deref for TestApp {
    type Target = ApiClient;

    fn deref(&self) -> &ApiClient {
        &self.api
    }
}

/// The configuration tests start from: port 0 and a given data directory.
pub fn test_config(data_dir: &Path) -> Config {
    let mut config = Config::new(data_dir);
    config.addr = "127.0.0.1:0".parse().unwrap();
    config.secret = Some(SECRET.to_string());
    config
}

/// Starts a server with the default test configuration.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Starts a server after `adjust` has changed its configuration.
pub async fn spawn_app_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = test_config(dir.path());
    adjust(&mut config);
    start(config, dir).await
}

/// Starts a server on an existing data directory (restarts).
pub async fn start(config: Config, dir: tempfile::TempDir) -> TestApp {
    let server = Server::bind(config).await.expect("server starts").spawn();
    TestApp {
        api: ApiClient::new(server.url()),
        server: Some(server),
        dir,
    }
}

impl TestApp {
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    /// Registers `username`, makes them staff as `chatd user set-staff`
    /// does (while the server runs), logs in; returns the access token.
    pub async fn staff_user(&self, username: &str) -> String {
        self.register(username).await;
        let (dir, name) = (self.data_dir(), username.to_string());
        tokio::task::spawn_blocking(move || chatd::ops::moderation::set_staff(&dir, &name, true))
            .await
            .unwrap()
            .expect("set-staff");
        self.login(username).await.0
    }

    /// Stops the server and starts a new one on the same data directory.
    pub async fn restart(mut self) -> TestApp {
        let server = self.server.take().unwrap();
        server.shutdown().await.expect("clean shutdown");
        let config = test_config(self.dir.path());
        start(config, self.dir).await
    }
}

/// Tokens signed with [`SECRET`], as the test servers sign theirs (for
/// forging expired or altered tokens).
pub fn test_tokens() -> Tokens {
    Tokens::new(SECRET, Duration::from_secs(60), Duration::from_secs(60))
}

/// Runs the `chatd` binary with `args` on `data_dir` (an operator
/// command), without a password in the environment.
pub fn chatd(args: &[&str], data_dir: &Path) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_chatd"))
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .env_remove("CHATD_USER_PASSWORD")
        .output()
        .unwrap()
}

/// A command's standard output as text.
pub fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).to_string()
}

/// The path of a fixture under `tests/fixtures/`.
pub fn fixture_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The bytes of a fixture under `tests/fixtures/`.
pub fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(fixture_path(name)).unwrap()
}

/// A multipart file part.
pub fn file_part(bytes: Vec<u8>, filename: &str, mime: &str) -> Part {
    Part::bytes(bytes)
        .file_name(filename.to_string())
        .mime_str(mime)
        .unwrap()
}

/// A multipart form of text fields.
pub fn text_form(fields: &[(&str, &str)]) -> Form {
    fields.iter().fold(Form::new(), |form, (name, value)| {
        form.text(name.to_string(), value.to_string())
    })
}

/// A multipart form with text fields and one file part named `field`.
pub fn file_form(
    fields: &[(&str, &str)],
    field: &str,
    bytes: Vec<u8>,
    filename: &str,
    mime: &str,
) -> Form {
    text_form(fields).part(field.to_string(), file_part(bytes, filename, mime))
}
