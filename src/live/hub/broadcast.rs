//! Broadcasts: a frame to every socket of a chat, and the hub as the local
//! [`Fanout`]. Frames are framed once per base URL ([`wire`]) and pushed to
//! each socket's outbox, written at once in rooms of up to [`DIRECT_MAX`]
//! sockets (outside the hub's lock), queued for the writer tasks in larger
//! ones, except inside the relay's batch, where every room's writes are
//! held back and written when the batch ends ([`Out::batched`]).

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use tokio_tungstenite::tungstenite::Utf8Bytes;

use super::{Hub, Member};
use crate::live::fanout::{Event, Fanout};
use crate::live::peer::{Control, Out, Peer};
use crate::live::protocol::{self, close};
use crate::live::wire;

/// Rooms up to this many sockets get a broadcast written by the publishing
/// task itself (one `write` per socket, nothing woken); larger rooms share
/// the writes among the runtime's workers through the sockets' writer
/// tasks (BENCHMARKS.md, "seventh session"). Inside the relay's batch
/// every room is held back and written when the batch ends, from
/// `Out::SHARED_FROM` sockets with helper tasks (`Out::batched`, "eighth",
/// "ninth" and "eleventh session").
pub const DIRECT_MAX: usize = Out::PER_TASK;

/// Whether a room of `members` sockets gets its frames written by the
/// publishing task.
fn writes_directly(members: usize) -> bool {
    members <= DIRECT_MAX
}

impl Hub {
    /// Sends a frame to every socket of a chat. `make` builds the frame for a
    /// base URL; it runs once per distinct base.
    pub fn broadcast(
        &self,
        chat_id: i64,
        message_id: Option<i64>,
        make: impl FnMut(&str) -> Utf8Bytes,
    ) {
        let mut state = self.lock();
        let Some(room) = state.chats.get(&chat_id) else {
            return;
        };
        if writes_directly(room.members.len()) {
            // Written outside the hub's lock: the writes take a while,
            // and joins, leaves and other chats must not wait for them.
            let members = room.members.clone();
            drop(state);
            let dropped = send_to(&members, make, message_id);
            if !dropped.is_empty() {
                self.forget(&mut self.lock(), chat_id, &dropped);
            }
        } else {
            // Only queued (cheap); a copy of a large room would cost more.
            let dropped = send_to(&room.members, make, message_id);
            if !dropped.is_empty() {
                self.forget(&mut state, chat_id, &dropped);
            }
        }
    }

    /// Sends a frame that may be dropped (a typing notice) to every socket
    /// of a chat but `except`; a full queue skips it rather than closing.
    pub fn broadcast_others(&self, chat_id: i64, except: &Peer, frame: Utf8Bytes) {
        let state = self.lock();
        let Some(room) = state.chats.get(&chat_id) else {
            return;
        };
        let direct = writes_directly(room.members.len());
        let peers: Vec<Peer> = room
            .members
            .values()
            .filter(|member| {
                !Arc::ptr_eq(&member.peer.control, &except.control)
                    && member.peer.control.close_code().is_none()
            })
            .map(|member| member.peer.clone())
            .collect();
        drop(state);
        let frame = wire::text(frame.as_bytes());
        for peer in peers {
            // Full or closing: this notice is skipped, nobody is closed.
            let _ = peer.out.push(&frame, None, direct);
        }
    }

    /// Sends a last frame to every socket of a chat, closes them with
    /// `code`, and forgets the chat.
    pub fn close_chat(&self, chat_id: i64, code: u16, make: impl FnMut(&str) -> Utf8Bytes) {
        let mut state = self.lock();
        let Some(room) = state.chats.remove(&chat_id) else {
            return;
        };
        send_to(&room.members, make, None);
        for member in room.members.values() {
            close_after_queued(&member.peer, code);
        }
        state.sockets -= room.members.len();
        if state.sockets == 0 {
            self.empty.notify_waiters();
        }
    }
}

/// This server's sockets hear of events directly.
impl Fanout for Hub {
    fn publish(&self, chat_id: i64, event: Event) {
        match &event {
            // Tagged with its id, so a socket whose `hello` carried the
            // message skips it.
            Event::MessagePosted { message, .. } => {
                self.broadcast(chat_id, Some(message.id), |base| {
                    protocol::event(&event, base)
                });
            }
            Event::ChatDeleted => {
                self.close_chat(chat_id, close::CHAT_DELETED, |base| {
                    protocol::event(&event, base)
                });
            }
            _ => self.broadcast(chat_id, None, |base| protocol::event(&event, base)),
        }
    }
}

/// Queues a close behind the frames already queued; if the queue is full,
/// the control block still closes the socket.
pub(super) fn close_after_queued(peer: &Peer, code: u16) {
    if peer.out.close_after(code).is_err() {
        peer.control.close(code);
    }
}

/// Sends a frame to each member; returns the members whose outbox was
/// full (they are told to close with 1008).
fn send_to(
    members: &HashMap<u64, Member>,
    mut make: impl FnMut(&str) -> Utf8Bytes,
    message_id: Option<i64>,
) -> Vec<u64> {
    let mut frames: Vec<(&str, Bytes)> = Vec::with_capacity(1);
    let mut dropped = Vec::new();
    // Inside a batch every room is written directly: held back until the
    // batch ends, then shared out in chunks (`Out::batched`).
    let direct = writes_directly(members.len()) || Out::in_batch();
    for (&id, member) in members {
        let control: &Control = &member.peer.control;
        if control.close_code().is_some() {
            continue;
        }
        let index = match frames.iter().position(|(base, _)| *base == &*member.base) {
            Some(index) => index,
            None => {
                frames.push((&member.base, wire::text(make(&member.base).as_bytes())));
                frames.len() - 1
            }
        };
        let frame = &frames[index].1;
        if member.peer.out.push(frame, message_id, direct).is_err() {
            control.close(close::POLICY);
            dropped.push(id);
        }
    }
    dropped
}
