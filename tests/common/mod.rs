//! Test harness: starts a real chatd in-process on a random port with a
//! temporary data directory, and talks to it over real sockets.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use chatd::{Config, RunningServer, Server};
use reqwest::multipart::{Form, Part};
use serde_json::Value;

/// A password that passes every password rule.
pub const PASSWORD: &str = "correct horse battery";

/// The signing secret every test server uses, so tests can forge tokens.
pub const SECRET: &str = "test-secret-for-chatd-tests";

pub struct TestApp {
    pub server: Option<RunningServer>,
    /// `http://127.0.0.1:<port>`
    pub base: String,
    pub client: reqwest::Client,
    pub dir: tempfile::TempDir,
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
        base: server.url(),
        server: Some(server),
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        dir,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    /// Stops the server and starts a new one on the same data directory.
    pub async fn restart(mut self) -> TestApp {
        let server = self.server.take().unwrap();
        server.shutdown().await.expect("clean shutdown");
        let config = test_config(self.dir.path());
        start(config, self.dir).await
    }

    /// Registers `username` (e-mail `<username>@example.com`) with [`PASSWORD`].
    pub async fn register(&self, username: &str) {
        let response = self
            .client
            .post(self.url("/api/register/"))
            .form(&[
                ("username", username),
                ("email", &format!("{username}@example.com")),
                ("password", PASSWORD),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    }

    /// Logs in and returns `(access, refresh)`.
    pub async fn login(&self, username: &str) -> (String, String) {
        let response = self
            .client
            .post(self.url("/api/token/"))
            .form(&[("username", username), ("password", PASSWORD)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        (
            body["access"].as_str().unwrap().to_string(),
            body["refresh"].as_str().unwrap().to_string(),
        )
    }

    /// Registers and logs in; returns the access token.
    pub async fn user(&self, username: &str) -> String {
        self.register(username).await;
        self.login(username).await.0
    }

    /// Creates a chat with form fields; returns the status and JSON body.
    pub async fn create_chat(&self, token: &str, fields: &[(&str, &str)]) -> (u16, Value) {
        let response = self
            .client
            .post(self.url("/api/chat/"))
            .bearer_auth(token)
            .form(fields)
            .send()
            .await
            .unwrap();
        json_of(response).await
    }
}

/// Status and JSON body of a response (panics on a non-JSON body).
pub async fn json_of(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text:?}"));
    (status, body)
}

/// The bytes of a fixture under `tests/fixtures/`.
pub fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name),
    )
    .unwrap()
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
