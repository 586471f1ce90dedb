//! `chatd doctor` against an in-process server: healthy, and with the
//! faults it is meant to diagnose.

mod common;

use std::process::Command;

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const STEPS: [&str; 6] = [
    "health",
    "account",
    "upload",
    "image",
    "websocket",
    "cleanup",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_healthy_instance_passes_every_step_and_is_left_clean() {
    let app = spawn_app().await;
    let report = chatd::ops::doctor::check(&app.base, |_| {}).await;
    let names: Vec<&str> = report.steps.iter().map(|s| s.name).collect();
    assert_eq!(names, STEPS);
    assert!(report.ok(), "{report:#?}");
    // What the check created is gone again.
    assert_eq!(app.chat_count("games").await, 0);
    let files = std::fs::read_dir(app.data_dir().join("media/chat_img"))
        .unwrap()
        .count();
    assert_eq!(files, 1, "only the default image is left");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_public_url_is_named() {
    let app = spawn_app_with(|c| c.public_url = Some("http://chat.example.org".into())).await;
    let report = chatd::ops::doctor::check(&app.base, |_| {}).await;
    assert!(!report.ok());
    let diagnosis = report.failure("image").expect("the image step fails");
    assert!(diagnosis.contains("--public-url"), "{diagnosis}");
    assert!(diagnosis.contains("http://chat.example.org"), "{diagnosis}");
    // The cleanup still ran.
    assert!(report.failure("cleanup").is_none(), "{report:#?}");
}

#[tokio::test]
async fn nothing_listening_is_a_health_failure() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let report = chatd::ops::doctor::check(&url, |_| {}).await;
    assert_eq!(report.steps.len(), 1);
    assert!(report.failure("health").unwrap().contains("cannot reach"));
}

/// A reverse proxy that forwards HTTP but, like a misconfigured nginx, drops
/// the `Upgrade` and `Connection` headers. Returns its base URL.
async fn proxy_dropping_upgrade_headers(upstream: std::net::SocketAddr) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if client.read(&mut byte).await.unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(byte[0]);
                }
                let head = String::from_utf8_lossy(&head).to_string();
                let mut rewritten: Vec<&str> = head
                    .split("\r\n")
                    .filter(|line| {
                        let lower = line.to_ascii_lowercase();
                        !lower.starts_with("upgrade:")
                            && !lower.starts_with("connection:")
                            && !line.is_empty()
                    })
                    .collect();
                rewritten.push("Connection: close");
                let Ok(mut server) = TcpStream::connect(upstream).await else {
                    return;
                };
                let head = format!("{}\r\n\r\n", rewritten.join("\r\n"));
                if server.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
            });
        }
    });
    format!("http://{addr}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proxy_that_drops_upgrade_headers_is_named() {
    let app = spawn_app().await;
    let upstream = app.server.as_ref().unwrap().local_addr();
    let proxy = proxy_dropping_upgrade_headers(upstream).await;
    let report = chatd::ops::doctor::check(&proxy, |_| {}).await;
    // Everything else works through the proxy...
    for step in ["health", "account", "upload", "cleanup"] {
        assert!(report.failure(step).is_none(), "{step}: {report:#?}");
    }
    // ...but the socket cannot be opened, and the diagnosis says why.
    let diagnosis = report
        .failure("websocket")
        .expect("the websocket step fails");
    assert!(diagnosis.contains("Upgrade"), "{diagnosis}");
    assert!(diagnosis.contains("426"), "{diagnosis}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_exits_0_only_when_all_pass() {
    let app = spawn_app().await;
    let base = app.base.clone();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_chatd"))
            .args(["doctor", &base])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    for step in STEPS {
        assert!(stdout.contains(&format!("ok    {step}")), "{stdout}");
    }

    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let output = Command::new(env!("CARGO_BIN_EXE_chatd"))
        .args(["doctor", &dead])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stdout).contains("FAIL  health"));
}
