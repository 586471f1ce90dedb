//! One live WebSocket connection: join the chat, send the `hello`, then a
//! reader task (here) that handles client frames while a writer task
//! ([`outbound`](crate::live::outbound)) writes what the socket's outbox
//! queued.
//!
//! The two halves run in separate tasks on purpose: the read half is
//! polled only when the client sends something, never on a broadcast
//! (tungstenite zero-fills its read buffer on each poll, which dominated CPU
//! when one loop selected over both).

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message as WsMessage, Utf8Bytes};
use tokio_tungstenite::WebSocketStream;

use crate::config::WsLimits;
use crate::domain::error::Error;
use crate::domain::throttle::{Rate, TokenBucket};
use crate::live::hub::SignedIn;
use crate::live::outbound::{drain, say_goodbye, write_loop, Opened};
use crate::live::peer::{Control, Out, Peer};
use crate::live::protocol::{self, close, Command};
use crate::live::stream::ReadSide;
use crate::live::writer::{Op, Reply};
use crate::live::Live;
use crate::rooms::Room;
use crate::storage::community::ReactionChange;
use crate::storage::users::User;
use crate::storage::StorageError;

/// Messages in a `hello` without `?after=`.
pub const HELLO_HISTORY: u64 = 50;

/// Messages in a `hello` with `?after=` at most; the client pages the rest
/// over REST (`more` tells it to).
pub const HELLO_CATCH_UP: u64 = 200;

/// How long a closing socket waits for the client's close reply.
const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// Small buffers: an idle socket should cost a few KiB, not tungstenite's
/// default 128 KiB read buffer.
pub fn websocket_config(limits: &WsLimits) -> WebSocketConfig {
    WebSocketConfig::default()
        // Client frames are small; a larger one grows the buffer as needed.
        .read_buffer_size(1024)
        // tungstenite writes only its pongs and close replies (to the
        // outbox, see `stream`).
        .write_buffer_size(0)
        .max_message_size(Some(limits.max_frame_bytes))
        .max_frame_size(Some(limits.max_frame_bytes))
}

/// Who is connecting to which chat, decided before the upgrade.
pub struct Session {
    pub live: Arc<Live>,
    pub room: Room,
    pub chat_id: i64,
    pub user: Option<User>,
    /// Scheme and host for links in this socket's frames.
    pub base: Arc<str>,
    /// `?after=<id>`: catch up from there instead of the last 50.
    pub after: Option<i64>,
}

/// Runs a socket to its end: `stream` after the handshake, and the bytes
/// read with the upgrade request (the client's first frames, perhaps).
pub async fn run(session: Session, stream: TcpStream, early: Bytes, config: WebSocketConfig) {
    let live = session.live.clone();
    let limits = &live.limits;
    let stream = Arc::new(stream);
    let out = Arc::new(Out::new(Some(stream.clone()), limits.queue_len));
    let peer = Peer {
        out: out.clone(),
        control: Arc::new(Control::default()),
    };
    let reader = ReadSide::new(stream, early, out.clone());
    let socket = WebSocketStream::from_raw_socket(reader, Role::Server, Some(config)).await;

    // Join first, then read history: a message committed in between is in
    // both, and the outbox drops the queued copy (see `Out::open`).
    let signed_in = session.user.as_ref().map(|user| SignedIn {
        user_id: user.id,
        token_version: user.token_version,
    });
    let (member, online) = match live.hub.join(
        session.chat_id,
        session.base.clone(),
        peer.clone(),
        signed_in,
    ) {
        Ok(joined) => joined,
        Err(_) => return refuse(&out, None, close::GOING_AWAY).await,
    };
    let opened = match hello(&session, online).await {
        Ok(Some(opened)) => opened,
        Ok(None) => {
            // The chat went away during the upgrade.
            live.hub.leave(session.chat_id, member);
            return refuse(&out, Some(protocol::chat_deleted()), close::CHAT_DELETED).await;
        }
        Err(error) => {
            // Not the chat's fault: the client should come back later.
            tracing::warn!(%error, "cannot open a socket");
            live.hub.leave(session.chat_id, member);
            return refuse(&out, None, close::TRY_AGAIN_LATER).await;
        }
    };

    let started = Instant::now();
    let writer = tokio::spawn(write_loop(
        out,
        peer.control.clone(),
        opened,
        limits.ping_interval,
        started,
    ));
    let closing = read_loop(&session, socket, &peer, started).await;
    // Leave first, so the room hears of it now, not after the grace period.
    live.hub.leave(session.chat_id, member);
    peer.control.close(close::NORMAL);
    if let Some(mut socket) = closing {
        // We closed: give the client a moment to answer our close frame.
        let _ = tokio::time::timeout(CLOSE_GRACE, async {
            while let Some(Ok(message)) = socket.next().await {
                if matches!(message, WsMessage::Close(_)) {
                    break;
                }
            }
        })
        .await;
    }
    let _ = writer.await;
}

/// Closes a socket that never got its `hello`, after `last` if given.
async fn refuse(out: &Out, last: Option<Utf8Bytes>, code: u16) {
    if let Some(frame) = last {
        // No message is ever skipped here: nothing but `last` goes out.
        out.open(crate::live::wire::text(frame.as_bytes()), i64::MAX);
        drain(out).await;
    }
    say_goodbye(out, code).await;
}

/// Builds the `hello` frame; `None` when the chat is gone.
async fn hello(session: &Session, online: usize) -> Result<Option<Opened>, StorageError> {
    // One read snapshot: the history and the newest id agree.
    let opening = session
        .live
        .db
        .opening(
            session.room,
            session.chat_id,
            session.after,
            HELLO_HISTORY,
            HELLO_CATCH_UP,
        )
        .await?;
    let Some(opening) = opening else {
        return Ok(None);
    };
    let user = session.user.as_ref().map(|u| u.username.as_str());
    let (hello, _) = protocol::hello(
        opening.chat,
        user,
        online,
        opening.history,
        opening.more,
        &session.base,
    );
    // Everything up to `newest` was committed before this snapshot, so it
    // is in the hello, older than `?after=`, or (with `more`) in the REST
    // pages the client reads next; a queued copy is skipped. Not `after`
    // itself: a client's `after` beyond the newest id must not hide
    // messages that come later.
    Ok(Some(Opened {
        hello,
        last_id: opening.newest,
        online,
    }))
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
async fn read_loop(
    session: &Session,
    mut stream: WebSocketStream<ReadSide>,
    peer: &Peer,
    started: Instant,
) -> Option<WebSocketStream<ReadSide>> {
    let mut bucket = TokenBucket::full(frame_rate(&session.live.limits), Instant::now());
    loop {
        let next = tokio::select! {
            next = stream.next() => next,
            () = peer.control.closed() => break,
        };
        peer.control.touch(started.elapsed());
        match next {
            Some(Ok(WsMessage::Text(text))) => handle_text(session, peer, &mut bucket, &text).await,
            Some(Ok(WsMessage::Binary(_))) => {
                peer.send(protocol::bad_frame(&protocol::BadFrame::binary()))
            }
            Some(Ok(WsMessage::Close(_))) => {
                // tungstenite queued its answer; this hands it to the outbox.
                let _ = stream.flush().await;
                return None;
            }
            None => return None,
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

/// Handles one client text frame: a write goes to the message writer (the
/// socket hears of it in the broadcast); anything refused is answered with
/// an `error` frame, and the socket stays open.
async fn handle_text(session: &Session, peer: &Peer, bucket: &mut TokenBucket, text: &str) {
    match op(session, peer, bucket, text) {
        Ok(Some(op)) => {
            if let Err(error) = session.live.writer.submit(op).await {
                peer.refuse(&error);
            }
        }
        Ok(None) => {}
        Err(frame) => peer.send(frame),
    }
}

/// What a client frame asks the writer to do: `Ok(None)` when it needs no
/// write (a ping, answered here), `Err` with the error frame when refused.
/// The checks run in this order: the frame, credentials, the frame budget,
/// then the command's values.
fn op(
    session: &Session,
    peer: &Peer,
    bucket: &mut TokenBucket,
    text: &str,
) -> Result<Option<Op>, Utf8Bytes> {
    let refused = |error: Error| protocol::error(&error);
    let command = match protocol::parse(text) {
        Ok(Command::Ping) => {
            peer.send(protocol::pong());
            return Ok(None);
        }
        Ok(command) => command,
        Err(bad) => return Err(protocol::bad_frame(&bad)),
    };
    let user = session
        .user
        .as_ref()
        .ok_or_else(|| refused(Error::NotAuthenticated))?;
    let user_id = user.id;
    if command == Command::Typing {
        // Before the frame budget: keystrokes must not use up the budget
        // of messages; the typing gate bounds what they cost.
        let live = &session.live;
        if live.typing.allow(session.chat_id, user_id, Instant::now()) {
            let frame = protocol::typing(&user.username);
            live.hub.broadcast_others(session.chat_id, peer, frame);
        }
        return Ok(None);
    }
    let limits = &session.live.limits;
    bucket
        .take(frame_rate(limits), Instant::now())
        .map_err(|wait| refused(Error::Throttled(wait)))?;
    let (chat_id, max) = (session.chat_id, limits.max_text_chars);
    let op = match command {
        Command::Message { text, nonce } => {
            let nonce = protocol::nonce(nonce).map_err(|bad| protocol::bad_frame(&bad))?;
            Op::Post {
                chat_id,
                user_id,
                text: protocol::message_text(text, max).map_err(refused)?,
                nonce,
                origin: peer.clone(),
            }
        }
        Command::Edit { id, text } => Op::Edit {
            chat_id,
            message_id: id.ok_or_else(|| refused(Error::NotFound))?,
            user_id,
            text: protocol::message_text(text, max).map_err(refused)?,
            reply: Reply::Socket(peer.clone()),
        },
        Command::Delete { id } => Op::Delete {
            chat_id,
            message_id: id.ok_or_else(|| refused(Error::NotFound))?,
            user_id,
            reply: Reply::Socket(peer.clone()),
        },
        Command::React { id, emoji } => Op::React {
            chat_id,
            message_id: id.ok_or_else(|| refused(Error::NotFound))?,
            user_id,
            emoji: protocol::emoji(emoji).map_err(refused)?,
            change: ReactionChange::Toggle,
            reply: Reply::Socket(peer.clone()),
        },
        Command::Read { id } => Op::Read {
            chat_id,
            user_id,
            last_read: id.ok_or_else(|| refused(Error::NotFound))?,
            reply: Reply::Socket(peer.clone()),
        },
        // Answered above.
        Command::Ping | Command::Typing => return Ok(None),
    };
    Ok(Some(op))
}

#[cfg(test)]
mod tests {
    use super::*;

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
