//! A socket's writer task: puts the `hello` first in line, writes what
//! its outbox queued (frames that could not be written at once, see
//! [`Out`]), the latest presence count and pings to a quiet client, and
//! ends with the close frame.
//!
//! Queued frames go out in one `writev` per wake; most frames of a small
//! room never come here, the broadcast wrote them already.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::time::sleep_until;
use tokio_tungstenite::tungstenite::Utf8Bytes;

use crate::live::hub::PRESENCE_INTERVAL;
use crate::live::peer::{Control, Flushed, Out};
use crate::live::protocol::{self, close};
use crate::live::wire;

/// How long the last frames and the close frame may take to go out.
const LAST_WORDS: Duration = Duration::from_secs(5);

/// What the socket's first frame says.
pub struct Opened {
    /// The `hello` frame.
    pub hello: Utf8Bytes,
    /// `message` frames up to this id are not sent (the client has them,
    /// or reads them over REST).
    pub last_id: i64,
    /// The online count the `hello` gave.
    pub online: usize,
}

/// Sends the `hello`, then queued frames and the latest presence count,
/// pings when the client is quiet, and a close frame when asked to.
pub async fn write_loop(
    out: Arc<Out>,
    control: Arc<Control>,
    opened: Opened,
    ping_interval: Duration,
    started: Instant,
) {
    let Opened {
        hello,
        last_id,
        online,
    } = opened;
    // The count the client last heard; an equal one is not repeated.
    let mut told = online;
    out.open(wire::text(hello.as_bytes()), last_id);
    let mut ticker = tokio::time::interval(ping_interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker.tick().await;
    // When the ping we are waiting on an answer to was sent (time since start).
    let mut ping_sent: Option<Duration> = None;
    // When the last presence frame went out, and when the next may (the
    // hub tells a chat once per interval; this holds per socket too, also
    // when this task ran late).
    let mut presence_sent: Option<Instant> = None;
    let mut presence_due: Option<Instant> = None;
    // Made once and kept across wakes: futures built anew on every wake
    // registered and dropped waiters and a timer entry each time.
    let closed = control.closed();
    let presence_set = control.presence_set();
    let presence_timer = sleep_until(Instant::now().into());
    let waiting = out.waiting();
    tokio::pin!(closed, presence_set, presence_timer, waiting);
    let code = loop {
        let blocked = match out.flush() {
            Flushed::Empty => false,
            Flushed::Blocked => true,
            Flushed::Failed => {
                control.close(close::NORMAL);
                return;
            }
            Flushed::Close(code) => break code,
        };
        let frame = tokio::select! {
            biased;
            () = &mut closed => break control.close_code().unwrap_or(close::NORMAL),
            () = &mut waiting => {
                waiting.set(out.waiting());
                continue;
            }
            ready = out.writable(), if blocked => {
                if ready.is_err() {
                    control.close(close::NORMAL);
                    return;
                }
                continue;
            }
            () = &mut presence_set, if presence_due.is_none() => {
                presence_set.set(control.presence_set());
                let now = Instant::now();
                match presence_sent.map(|at| at + PRESENCE_INTERVAL) {
                    Some(due) if due > now => {
                        presence_due = Some(due);
                        presence_timer.as_mut().reset(due.into());
                        continue;
                    }
                    _ => match presence(&control, &mut told) {
                        Some(frame) => { presence_sent = Some(now); frame }
                        None => continue,
                    },
                }
            }
            () = &mut presence_timer, if presence_due.is_some() => {
                presence_due = None;
                match presence(&control, &mut told) {
                    Some(frame) => { presence_sent = Some(Instant::now()); frame }
                    None => continue,
                }
            }
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
                    out.send_own(wire::ping());
                    ping_sent = Some(now);
                }
                continue;
            }
        };
        out.send_own(wire::text(frame.as_bytes()));
    };
    // Whatever ended the loop, the reader must stop too.
    control.close(code);
    say_goodbye(&out, code).await;
    tracing::debug!(code, "socket writer done");
}

/// Ends a socket: its close frame (unless the client's close was answered
/// already) after the rest of a frame begun, written within `LAST_WORDS`.
pub async fn say_goodbye(out: &Out, code: u16) {
    out.finish(code);
    let _ = tokio::time::timeout(LAST_WORDS, drain(out)).await;
}

/// Writes everything queued, waiting for the stream as needed.
pub async fn drain(out: &Out) {
    loop {
        match out.flush() {
            Flushed::Blocked => {
                if out.writable().await.is_err() {
                    return;
                }
            }
            Flushed::Empty | Flushed::Failed | Flushed::Close(_) => return,
        }
    }
}

/// The presence frame waiting in the socket's slot, unless the client
/// already has that count.
fn presence(control: &Control, told: &mut usize) -> Option<Utf8Bytes> {
    match control.take_presence() {
        Some(online) if online != *told => {
            *told = online;
            Some(protocol::presence(online))
        }
        _ => None,
    }
}
