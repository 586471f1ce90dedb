//! The built `chatd` binary as a child process: started on a free port
//! (its URL read from its log line), killed when dropped.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use super::{ApiClient, SECRET};

/// A chatd child process and a client of it.
pub struct Chatd {
    pub child: Child,
    pub api: ApiClient,
}

impl Drop for Chatd {
    /// A test that fails midway must not leave a server running.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the built binary on a free port with the test secret and no
/// socket throttling; reads the URL from its log line.
pub fn start_binary(data_dir: &Path) -> Chatd {
    let mut child = Command::new(env!("CARGO_BIN_EXE_chatd"))
        .args(["--addr", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .args(["--secret", SECRET])
        .env("RUST_LOG", "chatd=info")
        .env("CHATD_WS_BURST", "100000")
        .env("CHATD_WS_RATE", "100000")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("chatd starts");
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let base = loop {
        let line = lines.next().expect("chatd logs its URL").unwrap();
        if let Some(rest) = line.split("listening on ").nth(1) {
            break rest.split_whitespace().next().unwrap().to_string();
        }
    };
    // Keep draining the log so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Chatd {
        child,
        api: ApiClient::new(base),
    }
}
