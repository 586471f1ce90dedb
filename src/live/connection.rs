//! One live WebSocket connection: the `hello`, then a reader task that
//! handles client frames and a writer task that drains the socket's queue.
//!
//! The two halves run in separate tasks on purpose: a read half is polled
//! only when the client sends something, never again on every broadcast
//! (tungstenite zero-fills its read buffer on each poll, which dominated CPU
//! when one loop selected over both).

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde::Serialize;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message as WsMessage, Utf8Bytes};
use tokio_tungstenite::WebSocketStream;

use crate::app::App;
use crate::config::WsLimits;
use crate::domain::rooms::Room;
use crate::domain::throttle::{Rate, TokenBucket};
use crate::domain::views::{ChatView, MessageView};
use crate::live::hub::{close, Control, Outbound, Peer};
use crate::live::writer::{error_frame, frame, Op, Reply};
use crate::storage::chats;
use crate::storage::messages;
use crate::storage::users::User;

/// Messages in a `hello` without `?after=`.
pub const HELLO_HISTORY: u64 = 50;

/// How long a closing socket waits for the client's close reply.
const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// Small buffers: an idle socket should cost a few KiB, not tungstenite's
/// default 128 KiB read buffer.
pub fn websocket_config(limits: &WsLimits) -> WebSocketConfig {
    WebSocketConfig::default()
        // Client frames are small; a larger one grows the buffer as needed.
        .read_buffer_size(1024)
        // Frames fed in one batch go out in one write (see `write_loop`);
        // with 0 every frame was its own syscall (80% of CPU in max mode).
        .write_buffer_size(16 * 1024)
        .max_write_buffer_size(1024 * 1024)
        .max_message_size(Some(limits.max_frame_bytes))
        .max_frame_size(Some(limits.max_frame_bytes))
}

/// Who is connecting to which chat, decided before the upgrade.
pub struct Session {
    pub app: Arc<App>,
    pub room: Room,
    pub chat_id: i64,
    pub user: Option<User>,
    /// Scheme and host for links in this socket's frames.
    pub base: Arc<str>,
    /// `?after=<id>`: catch up from there instead of the last 50.
    pub after: Option<i64>,
}

/// Runs a socket to its end.
pub async fn run<S>(session: Session, socket: WebSocketStream<S>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let app = session.app.clone();
    let limits = app.config.ws.clone();
    let (tx, rx) = mpsc::channel(limits.queue_len.max(1));
    let peer = Peer {
        tx,
        control: Arc::new(Control::default()),
    };
    let (mut sink, stream) = socket.split();

    // Join first, then read history: a message committed in between is in
    // both, and the writer task drops the queued copy (see `write_loop`).
    let (member, online) = match app
        .hub
        .join(session.chat_id, session.base.clone(), peer.clone())
    {
        Ok(joined) => joined,
        Err(_) => {
            let _ = sink.send(close_message(close::GOING_AWAY)).await;
            return;
        }
    };
    let hello = hello(&session, online).await;
    let (hello_frame, last_id) = match hello {
        Ok(Some(hello)) => hello,
        Ok(None) | Err(_) => {
            // The chat went away (or the database failed) during the upgrade.
            app.hub.leave(session.chat_id, member);
            let deleted = frame(&serde_json::json!({"type": "chat_deleted"}));
            let _ = sink.send(WsMessage::Text(deleted)).await;
            let _ = sink.send(close_message(close::CHAT_DELETED)).await;
            return;
        }
    };

    let started = Instant::now();
    let writer = tokio::spawn(write_loop(
        sink,
        rx,
        peer.control.clone(),
        hello_frame,
        last_id,
        limits.ping_interval,
        started,
    ));
    let closing = read_loop(&session, stream, &peer, &limits, started).await;
    // Leave first, so the room hears of it now, not after the grace period.
    app.hub.leave(session.chat_id, member);
    peer.control.close(close::NORMAL);
    if let Some(mut stream) = closing {
        // We closed: give the client a moment to answer our close frame.
        let _ = tokio::time::timeout(CLOSE_GRACE, async {
            while let Some(Ok(message)) = stream.next().await {
                if matches!(message, WsMessage::Close(_)) {
                    break;
                }
            }
        })
        .await;
    }
    let _ = writer.await;
}

/// Builds the `hello` frame and returns it with the highest message id in it.
async fn hello(
    session: &Session,
    online: usize,
) -> Result<Option<(Utf8Bytes, i64)>, crate::http::error::ApiError> {
    let (room, chat_id, after) = (session.room, session.chat_id, session.after);
    let loaded = session
        .app
        .db
        .run(move |conn| {
            // One read snapshot: the history and the newest id agree.
            let tx = conn.transaction()?;
            let Some(chat) = chats::get(&tx, room, chat_id)? else {
                return Ok(None);
            };
            let history = match after {
                Some(after) => messages::all_after(&tx, chat_id, after)?,
                None => messages::last(&tx, chat_id, HELLO_HISTORY)?,
            };
            let newest = messages::newest_id(&tx, chat_id)?;
            tx.commit()?;
            Ok(Some((chat, history, newest)))
        })
        .await?;
    let Some((chat, history, newest)) = loaded else {
        return Ok(None);
    };
    // Everything up to `newest` was committed before this snapshot, so it
    // is in the hello (or older than `?after=`); a queued copy is skipped.
    // Not `after` itself: a client's `after` beyond the newest id must not
    // hide messages that come later.
    let last_id = newest;
    #[derive(Serialize)]
    struct Hello<'a> {
        #[serde(rename = "type")]
        kind: &'static str,
        chat: ChatView,
        user: Option<&'a str>,
        online: usize,
        messages: Vec<MessageView>,
    }
    let hello = frame(&Hello {
        kind: "hello",
        chat: ChatView::new(chat, &session.base),
        user: session.user.as_ref().map(|u| u.username.as_str()),
        online,
        messages: history
            .into_iter()
            .map(|m| MessageView::new(m, &session.base))
            .collect(),
    });
    Ok(Some((hello, last_id)))
}

fn close_message(code: u16) -> WsMessage {
    let reason = match code {
        close::GOING_AWAY => "going away (server shutdown or no answer to pings)",
        close::POLICY => "too slow: messages were not being read",
        close::TOO_BIG => "frame too large",
        close::CHAT_DELETED => "chat deleted",
        _ => "",
    };
    WsMessage::Close(Some(CloseFrame {
        code: CloseCode::from(code),
        reason: Utf8Bytes::from_static(reason),
    }))
}

/// Sends the `hello`, then queued frames, pings when the client is quiet,
/// and a close frame when asked to.
async fn write_loop<S>(
    mut sink: futures_util::stream::SplitSink<WebSocketStream<S>, WsMessage>,
    mut rx: mpsc::Receiver<Outbound>,
    control: Arc<Control>,
    hello: Utf8Bytes,
    hello_last_id: i64,
    ping_interval: Duration,
    started: Instant,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    if sink.send(WsMessage::Text(hello)).await.is_err() {
        control.close(close::NORMAL);
        return;
    }
    let mut ticker = tokio::time::interval(ping_interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker.tick().await;
    // When the ping we are waiting on an answer to was sent (time since start).
    let mut ping_sent: Option<Duration> = None;
    let code = loop {
        let outbound = tokio::select! {
            biased;
            () = control.closed() => break control.close_code().unwrap_or(close::NORMAL),
            outbound = rx.recv() => match outbound {
                Some(outbound) => outbound,
                None => break close::NORMAL,
            },
            _ = ticker.tick() => {
                // Whole microseconds, like `last_seen`, so a prompt pong
                // compares as after the ping.
                let now = Duration::from_micros(started.elapsed().as_micros() as u64);
                let seen = control.last_seen();
                if let Some(sent) = ping_sent {
                    if seen >= sent {
                        ping_sent = None; // answered (by the pong, or anything else)
                    } else if now.saturating_sub(sent) >= ping_interval {
                        tracing::debug!("closing a socket that stopped answering pings");
                        break close::GOING_AWAY;
                    } else {
                        continue;
                    }
                }
                if now.saturating_sub(seen) >= ping_interval {
                    if sink.send(WsMessage::Ping(Default::default())).await.is_err() {
                        break close::NORMAL;
                    }
                    ping_sent = Some(now);
                }
                continue;
            }
        };
        // Send what is waiting in one write: feed, then flush once.
        let mut next = Some(outbound);
        let mut close_with = None;
        let mut failed = false;
        while let Some(outbound) = next.take() {
            match outbound {
                Outbound::Text {
                    message_id: Some(id),
                    ..
                } if id <= hello_last_id => {}
                Outbound::Text { frame, .. } => {
                    if sink.feed(WsMessage::Text(frame)).await.is_err() {
                        failed = true;
                        break;
                    }
                }
                Outbound::Close(code) => {
                    close_with = Some(code);
                    break;
                }
            }
            next = rx.try_recv().ok();
        }
        if failed || sink.flush().await.is_err() {
            control.close(close::NORMAL);
            return;
        }
        if let Some(code) = close_with {
            control.close(code);
            break code;
        }
    };
    // Whatever ended the loop, the reader must stop too.
    control.close(code);
    if code != close::NORMAL {
        let _ = sink.send(close_message(code)).await;
    }
    // Flushes our close frame, or the reply tungstenite queued to the
    // client's close frame, which is what a client-initiated close needs.
    let closed = sink.close().await;
    tracing::debug!(code, ?closed, "socket writer done");
}

/// The socket's frame budget: `burst` frames at once, refilled at `rate`
/// per second.
fn frame_rate(limits: &WsLimits) -> Rate {
    Rate {
        burst: f64::from(limits.burst),
        per_sec: limits.rate_per_sec,
    }
}

/// Reads client frames until the client leaves (`None`) or the server
/// closes the socket (the stream is handed back for the close handshake).
async fn read_loop<S>(
    session: &Session,
    mut stream: futures_util::stream::SplitStream<WebSocketStream<S>>,
    peer: &Peer,
    limits: &WsLimits,
    started: Instant,
) -> Option<futures_util::stream::SplitStream<WebSocketStream<S>>>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut bucket = TokenBucket::full(frame_rate(limits), Instant::now());
    loop {
        let next = tokio::select! {
            next = stream.next() => next,
            () = peer.control.closed() => break,
        };
        peer.control.touch(started.elapsed());
        match next {
            Some(Ok(WsMessage::Text(text))) => {
                handle_text(session, peer, limits, &mut bucket, &text).await
            }
            Some(Ok(WsMessage::Binary(_))) => peer.send(error_frame(
                "invalid_json",
                "Binary frames are not supported; send JSON text.",
            )),
            Some(Ok(WsMessage::Close(_))) | None => return None,
            Some(Ok(_)) => {} // ping/pong: tungstenite answers pings itself
            Some(Err(WsError::Capacity(_))) => {
                peer.control.close(close::TOO_BIG);
                break;
            }
            Some(Err(error)) => {
                tracing::debug!(%error, "socket read failed");
                return None;
            }
        }
    }
    Some(stream)
}

/// A client frame, parsed.
enum Command {
    Message {
        text: serde_json::Value,
        nonce: Option<serde_json::Value>,
    },
    Edit {
        id: Option<i64>,
        text: serde_json::Value,
    },
    Delete {
        id: Option<i64>,
    },
    Ping,
}

/// Parses a client frame, or gives the `(code, detail)` of the error frame.
fn parse_command(text: &str) -> Result<Command, (&'static str, String)> {
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| ("invalid_json", format!("JSON parse error - {e}")))?;
    let serde_json::Value::Object(mut object) = value else {
        return Err(("invalid_json", "Expected a JSON object.".to_string()));
    };
    let kind = match object.get("type") {
        Some(serde_json::Value::String(kind)) => kind.clone(),
        None if object.contains_key("message") => "legacy".to_string(),
        Some(other) => return Err(("unknown_type", format!("Unknown frame type {other}."))),
        None => return Err(("unknown_type", "The frame has no \"type\".".to_string())),
    };
    let id = |object: &serde_json::Map<String, serde_json::Value>| {
        object.get("id").and_then(serde_json::Value::as_i64)
    };
    match kind.as_str() {
        "message" => Ok(Command::Message {
            text: object.remove("text").unwrap_or(serde_json::Value::Null),
            nonce: object.remove("nonce"),
        }),
        "legacy" => Ok(Command::Message {
            text: object.remove("message").unwrap_or(serde_json::Value::Null),
            nonce: object.remove("nonce"),
        }),
        "edit" => Ok(Command::Edit {
            id: id(&object),
            text: object.remove("text").unwrap_or(serde_json::Value::Null),
        }),
        "delete" => Ok(Command::Delete { id: id(&object) }),
        "ping" => Ok(Command::Ping),
        other => Err(("unknown_type", format!("Unknown frame type \"{other}\"."))),
    }
}

/// Checks a message text: a string, 1 to `max` characters after trimming.
pub fn message_text(
    value: &serde_json::Value,
    max: usize,
) -> Result<String, (&'static str, String)> {
    let text = match value {
        serde_json::Value::String(text) => text.trim(),
        serde_json::Value::Null => {
            return Err(("blank", crate::domain::rules::REQUIRED.to_string()))
        }
        _ => {
            return Err((
                "invalid_json",
                crate::domain::rules::NOT_A_STRING.to_string(),
            ))
        }
    };
    if text.is_empty() {
        return Err(("blank", crate::domain::rules::BLANK.to_string()));
    }
    if text.chars().count() > max {
        return Err((
            "max_length",
            format!("Ensure this field has no more than {max} characters."),
        ));
    }
    Ok(text.to_string())
}

/// Longest accepted nonce (it is echoed to everyone in the chat).
const MAX_NONCE_CHARS: usize = 128;

async fn handle_text(
    session: &Session,
    peer: &Peer,
    limits: &WsLimits,
    bucket: &mut TokenBucket,
    text: &str,
) {
    let command = match parse_command(text) {
        Ok(Command::Ping) => {
            peer.send(Utf8Bytes::from_static(r#"{"type":"pong"}"#));
            return;
        }
        Ok(command) => command,
        Err((code, detail)) => return peer.send(error_frame(code, &detail)),
    };
    let Some(user) = &session.user else {
        return peer.send(error_frame(
            "not_authenticated",
            "Authentication credentials were not provided.",
        ));
    };
    if let Err(wait) = bucket.take(frame_rate(limits), Instant::now()) {
        let detail = crate::domain::error::messages::throttled(wait);
        return peer.send(error_frame("throttled", &detail));
    }
    let chat_id = session.chat_id;
    let op = match command {
        Command::Message { text, nonce } => {
            let nonce_ok = match &nonce {
                None | Some(serde_json::Value::Null) | Some(serde_json::Value::Number(_)) => true,
                Some(serde_json::Value::String(s)) => s.chars().count() <= MAX_NONCE_CHARS,
                Some(_) => false,
            };
            if !nonce_ok {
                let detail = format!("\"nonce\" must be a string of at most {MAX_NONCE_CHARS} characters or a number.");
                return peer.send(error_frame("invalid_json", &detail));
            }
            match message_text(&text, limits.max_text_chars) {
                Ok(text) => Op::Post {
                    chat_id,
                    user_id: user.id,
                    text,
                    nonce: nonce.filter(|n| !n.is_null()),
                    origin: peer.clone(),
                },
                Err((code, detail)) => return peer.send(error_frame(code, &detail)),
            }
        }
        Command::Edit { id, text } => {
            let Some(id) = id else {
                return peer.send(error_frame("not_found", "Not found."));
            };
            match message_text(&text, limits.max_text_chars) {
                Ok(text) => Op::Edit {
                    chat_id,
                    message_id: id,
                    user_id: user.id,
                    text,
                    reply: Reply::Socket(peer.clone()),
                },
                Err((code, detail)) => return peer.send(error_frame(code, &detail)),
            }
        }
        Command::Delete { id } => {
            let Some(id) = id else {
                return peer.send(error_frame("not_found", "Not found."));
            };
            Op::Delete {
                chat_id,
                message_id: id,
                user_id: user.id,
                reply: Reply::Socket(peer.clone()),
            }
        }
        Command::Ping => return,
    };
    if session.app.writer.submit(op).await.is_err() {
        peer.send(error_frame("server_error", "A server error occurred."));
    }
}

/// Frames that concern a whole chat, sent by REST handlers.
pub mod chat_events {
    use super::*;

    /// `{"type": "chat_updated", "chat": Chat}` to every socket of the chat.
    pub fn updated(app: &App, chat: &crate::storage::chats::Chat) {
        app.hub.broadcast(chat.id, None, |base| {
            frame(&serde_json::json!({
                "type": "chat_updated",
                "chat": ChatView::new(chat.clone(), base),
            }))
        });
    }

    /// `{"type": "chat_deleted"}`, then close 4404, to every socket of the chat.
    pub fn deleted(app: &App, chat_id: i64) {
        let deleted = frame(&serde_json::json!({"type": "chat_deleted"}));
        app.hub
            .close_chat(chat_id, close::CHAT_DELETED, |_| deleted.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_parse() {
        assert!(matches!(
            parse_command(r#"{"type":"ping"}"#),
            Ok(Command::Ping)
        ));
        assert!(matches!(
            parse_command(r#"{"message":"hi"}"#),
            Ok(Command::Message { .. })
        ));
        assert_eq!(parse_command("nope").err().unwrap().0, "invalid_json");
        assert_eq!(parse_command("[1]").err().unwrap().0, "invalid_json");
        assert_eq!(
            parse_command(r#"{"type":"dance"}"#).err().unwrap().0,
            "unknown_type"
        );
        assert_eq!(
            parse_command(r#"{"text":"x"}"#).err().unwrap().0,
            "unknown_type"
        );
    }

    #[test]
    fn texts_are_checked() {
        assert_eq!(message_text(&serde_json::json!("  hi "), 5).unwrap(), "hi");
        assert_eq!(
            message_text(&serde_json::json!("   "), 5).unwrap_err().0,
            "blank"
        );
        assert_eq!(
            message_text(&serde_json::json!("toolong"), 5)
                .unwrap_err()
                .0,
            "max_length"
        );
        assert_eq!(
            message_text(&serde_json::json!(3), 5).unwrap_err().0,
            "invalid_json"
        );
    }

    #[test]
    fn the_frame_budget_allows_a_burst_then_throttles() {
        let limits = WsLimits {
            burst: 3,
            rate_per_sec: 1.0,
            ..WsLimits::default()
        };
        let (rate, now) = (frame_rate(&limits), Instant::now());
        let mut bucket = TokenBucket::full(rate, now);
        for _ in 0..3 {
            assert!(bucket.take(rate, now).is_ok());
        }
        assert_eq!(bucket.take(rate, now), Err(1));
    }
}
