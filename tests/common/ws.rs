//! WebSocket helpers: opening a chat's socket, reading and sending its
//! JSON frames, and how it closes. Build URLs with [`ApiClient::ws_url`].

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio::time::{timeout, Instant};
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{connect_async, MaybeTlsStream, WebSocketStream};

use super::ApiClient;

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Longest wait for a frame that must come.
pub const WAIT: Duration = Duration::from_secs(5);
/// How long a socket must stay silent when nothing is expected.
pub const QUIET: Duration = Duration::from_millis(300);

/// Opens a socket (must succeed with 101).
pub async fn connect(url: &str) -> Ws {
    let (ws, response) = timeout(WAIT, connect_async(url))
        .await
        .expect("connect timed out")
        .unwrap_or_else(|e| panic!("cannot connect to {url}: {e:?}"));
    assert_eq!(response.status(), 101);
    ws
}

/// Opens a socket and reads its `hello` frame; returns both.
pub async fn join_url(url: &str) -> (Ws, Value) {
    let mut ws = connect(url).await;
    let hello = next_json(&mut ws).await;
    assert_eq!(hello["type"], "hello", "{hello}");
    (ws, hello)
}

/// The HTTP status a refused upgrade gets.
pub async fn refused_status(url: &str) -> u16 {
    match timeout(WAIT, connect_async(url))
        .await
        .expect("connect timed out")
    {
        Err(tungstenite::Error::Http(response)) => response.status().as_u16(),
        Err(other) => panic!("expected an HTTP refusal for {url}, got {other:?}"),
        Ok(_) => panic!("expected {url} to be refused, but it connected"),
    }
}

/// The next text frame as JSON (pings and pongs skipped), within [`WAIT`].
pub async fn next_json(ws: &mut Ws) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let next = tokio::time::timeout_at(deadline, ws.next())
            .await
            .expect("no frame within 5 s");
        match next {
            Some(Ok(Message::Text(text))) => {
                return serde_json::from_str(text.as_str())
                    .unwrap_or_else(|e| panic!("frame is not JSON ({e}): {text:?}"))
            }
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            other => panic!("expected a text frame, got {other:?}"),
        }
    }
}

/// The next text frame that is not a `presence` frame.
pub async fn next_non_presence(ws: &mut Ws) -> Value {
    loop {
        let frame = next_json(ws).await;
        if frame["type"] != "presence" {
            return frame;
        }
    }
}

/// The next frame, which must be a `message` frame; returns it whole.
pub async fn next_message(ws: &mut Ws) -> Value {
    let frame = next_json(ws).await;
    assert_eq!(frame["type"], "message", "{frame}");
    frame
}

/// The next frame, which must be an `error` frame with `code`.
pub async fn expect_error(ws: &mut Ws, code: &str) -> Value {
    let frame = next_json(ws).await;
    assert_eq!(frame["type"], "error", "{frame}");
    assert_eq!(frame["code"], code, "{frame}");
    assert!(
        frame["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{frame}"
    );
    frame
}

/// Asserts that no frame (other than ping/pong) arrives within [`QUIET`].
pub async fn assert_quiet(ws: &mut Ws) {
    let next = timeout(QUIET, async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                other => return other,
            }
        }
    })
    .await;
    if let Ok(frame) = next {
        panic!("expected no frame, got {frame:?}");
    }
}

/// Waits for the close frame (it must be the next frame) and returns its
/// code; then lets the closing handshake finish.
pub async fn close_code(ws: &mut Ws) -> u16 {
    let deadline = Instant::now() + WAIT;
    let code = loop {
        let next = tokio::time::timeout_at(deadline, ws.next())
            .await
            .expect("no close frame within 5 s");
        match next {
            Some(Ok(Message::Close(Some(frame)))) => break u16::from(frame.code),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    };
    finish_close(ws).await;
    code
}

/// Polls a closing socket until it ends, so our close reply goes out.
pub async fn finish_close(ws: &mut Ws) {
    let _ = timeout(Duration::from_secs(2), async {
        while let Some(Ok(_)) = ws.next().await {}
    })
    .await;
}

/// Sends a JSON text frame.
pub async fn send_json(ws: &mut Ws, value: Value) {
    ws.send(Message::text(value.to_string()))
        .await
        .expect("send failed");
}

/// Sends `{"type": "message", "text": text, "nonce": nonce}`.
pub async fn post(ws: &mut Ws, text: &str, nonce: &str) {
    send_json(ws, json!({"type": "message", "text": text, "nonce": nonce})).await;
}

/// Posts `text` and waits for its own `message` frame (by `nonce`),
/// skipping other frames; returns the stored message.
pub async fn post_and_wait(ws: &mut Ws, text: &str, nonce: &str) -> Value {
    post(ws, text, nonce).await;
    loop {
        let frame = next_json(ws).await;
        if frame["type"] == "message" && frame["nonce"] == nonce {
            return frame["message"].clone();
        }
    }
}

/// Sends a message as `token`'s user over a new socket to the chat;
/// returns the stored message.
pub async fn send_message(
    app: &ApiClient,
    token: &str,
    room: &str,
    chat: i64,
    text: &str,
) -> Value {
    let mut ws = connect(&app.ws_url(room, chat, &format!("token={token}"))).await;
    post_and_wait(&mut ws, text, "n").await
}

/// Ping, and expect the pong: the socket is still open and served.
pub async fn assert_alive(ws: &mut Ws) {
    send_json(ws, json!({"type": "ping"})).await;
    assert_eq!(next_json(ws).await, json!({"type": "pong"}));
}

/// The id of a `message` frame's message.
pub fn id_of(frame: &Value) -> i64 {
    frame["message"]["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("no message id in {frame}"))
}

/// The ids of messages.
pub fn ids(messages: &[Value]) -> Vec<i64> {
    messages.iter().map(|m| m["id"].as_i64().unwrap()).collect()
}
