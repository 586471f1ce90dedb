//! The outbound half of a socket: a task of its own that writes the
//! `hello`, then whatever the socket's queue holds, pings a quiet client,
//! and ends with the close frame.
//!
//! Frames waiting in the queue go out in one write (fed, then flushed
//! once): with a flush per frame, every frame was its own syscall, and
//! that was 80% of the CPU under full load.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::stream::SplitSink;
use futures_util::SinkExt;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;
use tokio::time::sleep_until;
use tokio_tungstenite::tungstenite::{Message as WsMessage, Utf8Bytes};
use tokio_tungstenite::WebSocketStream;

use crate::live::hub::PRESENCE_INTERVAL;
use crate::live::peer::{Control, Outbound};
use crate::live::protocol::{self, close};

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
pub async fn write_loop<S>(
    mut sink: SplitSink<WebSocketStream<S>, WsMessage>,
    mut rx: mpsc::Receiver<Outbound>,
    control: Arc<Control>,
    opened: Opened,
    ping_interval: Duration,
    started: Instant,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let Opened {
        hello,
        last_id: hello_last_id,
        online,
    } = opened;
    // The count the client last heard; an equal one is not repeated.
    let mut told = online;
    if sink.send(WsMessage::Text(hello)).await.is_err() {
        control.close(close::NORMAL);
        return;
    }
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
    // Made once and kept across frames: futures built anew on every wake
    // registered and dropped two waiters and a timer entry per frame, for
    // each socket of a broadcast.
    let closed = control.closed();
    let presence_set = control.presence_set();
    let presence_timer = sleep_until(Instant::now().into());
    tokio::pin!(closed, presence_set, presence_timer);
    let code = loop {
        let outbound = tokio::select! {
            biased;
            () = &mut closed => break control.close_code().unwrap_or(close::NORMAL),
            outbound = rx.recv() => match outbound {
                Some(outbound) => outbound,
                None => break close::NORMAL,
            },
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
            // Often the client's close frame arrived first and tungstenite
            // refuses further frames; closing the sink still flushes the
            // close reply it queued, which the client waits for.
            control.close(close::NORMAL);
            let _ = sink.close().await;
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
        let _ = sink.send(protocol::close_frame(code)).await;
    }
    // Flushes our close frame, or the reply tungstenite queued to the
    // client's close frame, which is what a client-initiated close needs.
    let closed = sink.close().await;
    tracing::debug!(code, ?closed, "socket writer done");
}

/// The presence frame waiting in the socket's slot, unless the client
/// already has that count.
fn presence(control: &Control, told: &mut usize) -> Option<Outbound> {
    match control.take_presence() {
        Some(online) if online != *told => {
            *told = online;
            Some(Outbound::Text {
                frame: protocol::presence(online),
                message_id: None,
            })
        }
        _ => None,
    }
}
