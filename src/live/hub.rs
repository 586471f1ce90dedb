//! The WebSocket hub: which sockets are open in which chat, and fan-out of
//! frames to them. It carries bytes; what they say is
//! [`protocol`]'s business. It is also the local [`Fanout`]: an [`Event`]
//! is rendered per base URL and sent to the chat's sockets.
//!
//! Each socket has a bounded outbound queue. A broadcast serializes its frame
//! once per distinct base URL (links in frames are absolute; nearly always
//! there is one) and hands every recipient a reference-counted copy of the
//! same bytes. A recipient whose queue is full is not waited for: it is
//! told to close with 1008 and dropped from the chat, so one slow client
//! never slows a room or grows memory. A chat with no sockets has no entry.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::{mpsc, Notify};
use tokio_tungstenite::tungstenite::Utf8Bytes;

use crate::live::fanout::{Event, Fanout};
use crate::live::peer::{Outbound, Peer};
use crate::live::protocol::{self, close};

struct Member {
    id: u64,
    base: Arc<str>,
    peer: Peer,
}

#[derive(Default)]
struct State {
    chats: HashMap<i64, Vec<Member>>,
    sockets: usize,
    shutting_down: bool,
}

/// Why a socket could not join.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinError {
    TooManySockets,
    ShuttingDown,
}

/// All open sockets, by chat.
pub struct Hub {
    state: Mutex<State>,
    next_id: AtomicU64,
    max_sockets: usize,
    /// Woken when the last socket leaves (shutdown waits for it).
    empty: Notify,
}

impl Hub {
    pub fn new(max_sockets: usize) -> Hub {
        Hub {
            state: Mutex::new(State::default()),
            next_id: AtomicU64::new(1),
            max_sockets,
            empty: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain data behind; keep going.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// True when another socket may open (checked before the upgrade).
    pub fn has_room(&self) -> bool {
        let state = self.lock();
        !state.shutting_down && state.sockets < self.max_sockets
    }

    /// Open sockets over all chats.
    pub fn sockets(&self) -> usize {
        self.lock().sockets
    }

    /// Chats with at least one open socket.
    pub fn chats_with_sockets(&self) -> usize {
        self.lock().chats.len()
    }

    /// Sockets open in one chat.
    pub fn online(&self, chat_id: i64) -> usize {
        self.lock().chats.get(&chat_id).map_or(0, Vec::len)
    }

    /// Adds a socket to a chat and tells the others. Returns the member id
    /// and the number now online.
    pub fn join(
        &self,
        chat_id: i64,
        base: Arc<str>,
        peer: Peer,
    ) -> Result<(u64, usize), JoinError> {
        let mut state = self.lock();
        if state.shutting_down {
            return Err(JoinError::ShuttingDown);
        }
        if state.sockets >= self.max_sockets {
            return Err(JoinError::TooManySockets);
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        state.sockets += 1;
        let members = state.chats.entry(chat_id).or_default();
        members.push(Member { id, base, peer });
        let online = members.len();
        let frame = protocol::presence(online);
        let dropped = send_to(members, true, |_| frame.clone(), None, Some(id));
        let online = self.forget(&mut state, chat_id, &dropped).unwrap_or(online);
        Ok((id, online))
    }

    /// Removes a socket and tells the others in its chat.
    pub fn leave(&self, chat_id: i64, member_id: u64) {
        let mut state = self.lock();
        self.forget(&mut state, chat_id, &[member_id]);
    }

    /// Removes members; sends presence to the rest. Returns the new count.
    fn forget(&self, state: &mut State, chat_id: i64, ids: &[u64]) -> Option<usize> {
        let members = state.chats.get_mut(&chat_id)?;
        let before = members.len();
        members.retain(|member| !ids.contains(&member.id));
        let removed = before - members.len();
        let online = members.len();
        if removed > 0 && online > 0 {
            // Presence frames are droppable, so telling the others never
            // drops anyone else.
            let frame = protocol::presence(online);
            send_to(members, true, |_| frame.clone(), None, None);
        }
        if online == 0 {
            state.chats.remove(&chat_id);
        }
        state.sockets -= removed;
        if state.sockets == 0 {
            self.empty.notify_waiters();
        }
        Some(online)
    }

    /// Sends a frame to every socket of a chat. `make` builds the frame for a
    /// base URL; it runs once per distinct base.
    pub fn broadcast(
        &self,
        chat_id: i64,
        message_id: Option<i64>,
        make: impl FnMut(&str) -> Utf8Bytes,
    ) {
        let mut state = self.lock();
        let Some(members) = state.chats.get_mut(&chat_id) else {
            return;
        };
        let dropped = send_to(members, false, make, message_id, None);
        if !dropped.is_empty() {
            self.forget(&mut state, chat_id, &dropped);
        }
    }

    /// Sends a frame that may be dropped (a typing notice) to every socket
    /// of a chat but `except`; a full queue skips it rather than closing.
    pub fn broadcast_others(&self, chat_id: i64, except: &Peer, frame: Utf8Bytes) {
        let state = self.lock();
        let Some(members) = state.chats.get(&chat_id) else {
            return;
        };
        let skip = members
            .iter()
            .find(|m| Arc::ptr_eq(&m.peer.control, &except.control))
            .map(|m| m.id);
        send_to(members, true, |_| frame.clone(), None, skip);
    }

    /// Sends a last frame to every socket of a chat, closes them with
    /// `code`, and forgets the chat.
    pub fn close_chat(&self, chat_id: i64, code: u16, make: impl FnMut(&str) -> Utf8Bytes) {
        let mut state = self.lock();
        let Some(members) = state.chats.get_mut(&chat_id) else {
            return;
        };
        send_to(members, false, make, None, None);
        for member in members.iter() {
            // Queue the close behind the frame; if the queue is full, the
            // control block still closes the socket.
            if member.peer.tx.try_send(Outbound::Close(code)).is_err() {
                member.peer.control.close(code);
            }
        }
        let count = members.len();
        state.chats.remove(&chat_id);
        state.sockets -= count;
        if state.sockets == 0 {
            self.empty.notify_waiters();
        }
    }

    /// Refuses new sockets and asks every open one to close with 1001.
    pub fn shut_down(&self) {
        let mut state = self.lock();
        state.shutting_down = true;
        for member in state.chats.values().flatten() {
            member.peer.control.close(close::GOING_AWAY);
        }
    }

    /// Waits until every socket has left, at most `limit`.
    pub async fn wait_empty(&self, limit: Duration) -> bool {
        let all_gone = async {
            loop {
                // Created before the check, so a wake-up in between is kept.
                let notified = self.empty.notified();
                if self.sockets() == 0 {
                    return;
                }
                notified.await;
            }
        };
        tokio::time::timeout(limit, all_gone).await.is_ok()
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

/// Queues a frame for each member (but `skip`); returns the members whose
/// queue was full (they are told to close with 1008).
fn send_to(
    members: &[Member],
    droppable: bool,
    mut make: impl FnMut(&str) -> Utf8Bytes,
    message_id: Option<i64>,
    skip: Option<u64>,
) -> Vec<u64> {
    let mut frames: Vec<(&str, Utf8Bytes)> = Vec::with_capacity(1);
    let mut dropped = Vec::new();
    for member in members {
        if Some(member.id) == skip || member.peer.control.close_code().is_some() {
            continue;
        }
        let frame = match frames.iter().find(|(base, _)| *base == &*member.base) {
            Some((_, frame)) => frame.clone(),
            None => {
                let frame = make(&member.base);
                frames.push((&member.base, frame.clone()));
                frame
            }
        };
        match member
            .peer
            .tx
            .try_send(Outbound::Text { frame, message_id })
        {
            Ok(()) => {}
            // A presence count that does not fit is skipped (the next one
            // corrects it): when many leave at once, presence frames alone
            // must not push readers over the edge.
            Err(mpsc::error::TrySendError::Full(_)) if droppable => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                member.peer.control.close(close::POLICY);
                dropped.push(member.id);
            }
            // The socket is ending; its reader removes it.
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }
    dropped
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::peer::Control;

    fn peer(capacity: usize) -> (Peer, mpsc::Receiver<Outbound>) {
        let (tx, rx) = mpsc::channel(capacity);
        (
            Peer {
                tx,
                control: Arc::new(Control::default()),
            },
            rx,
        )
    }

    fn text(outbound: Outbound) -> String {
        match outbound {
            Outbound::Text { frame, .. } => frame.to_string(),
            Outbound::Close(code) => format!("close {code}"),
        }
    }

    #[test]
    fn presence_goes_to_the_others_and_empty_chats_vanish() {
        let hub = Hub::new(10);
        let (a, mut a_rx) = peer(8);
        let (b, mut b_rx) = peer(8);
        let (a_id, online) = hub.join(1, "http://h".into(), a).unwrap();
        assert_eq!(online, 1);
        let (b_id, online) = hub.join(1, "http://h".into(), b).unwrap();
        assert_eq!(online, 2);
        assert_eq!(
            text(a_rx.try_recv().unwrap()),
            r#"{"type":"presence","online":2}"#
        );
        assert!(
            b_rx.try_recv().is_err(),
            "the joiner gets no presence of its own"
        );
        hub.leave(1, a_id);
        assert_eq!(
            text(b_rx.try_recv().unwrap()),
            r#"{"type":"presence","online":1}"#
        );
        hub.leave(1, b_id);
        assert_eq!(hub.sockets(), 0);
        assert!(hub.lock().chats.is_empty());
    }

    #[test]
    fn a_full_queue_closes_that_socket_only() {
        let hub = Hub::new(10);
        let (slow, _slow_rx) = peer(1);
        let (fast, mut fast_rx) = peer(8);
        let slow_control = slow.control.clone();
        hub.join(1, "b".into(), slow).unwrap();
        hub.join(1, "b".into(), fast).unwrap();
        hub.broadcast(1, Some(1), |_| "one".into());
        hub.broadcast(1, Some(2), |_| "two".into());
        assert_eq!(slow_control.close_code(), Some(close::POLICY));
        assert_eq!(hub.online(1), 1);
        // The slow socket's queue filled up with the presence frame of the
        // second join, so "one" dropped it, and the others heard of it.
        assert_eq!(text(fast_rx.try_recv().unwrap()), "one");
        assert_eq!(
            text(fast_rx.try_recv().unwrap()),
            r#"{"type":"presence","online":1}"#
        );
        assert_eq!(text(fast_rx.try_recv().unwrap()), "two");
    }

    #[test]
    fn frames_are_built_once_per_base() {
        let hub = Hub::new(10);
        let mut receivers = Vec::new();
        for base in ["x", "x", "y"] {
            let (p, rx) = peer(8);
            hub.join(1, base.into(), p).unwrap();
            receivers.push(rx);
        }
        let mut built = Vec::new();
        hub.broadcast(1, None, |base| {
            built.push(base.to_string());
            base.to_string().into()
        });
        assert_eq!(built, ["x", "y"]);
    }

    #[test]
    fn as_the_fan_out_it_renders_events_and_closes_deleted_chats() {
        let hub = Hub::new(10);
        let (a, mut a_rx) = peer(8);
        hub.join(1, "http://h".into(), a).unwrap();
        hub.publish(1, Event::ChatDeleted);
        assert_eq!(
            text(a_rx.try_recv().unwrap()),
            protocol::chat_deleted().as_str()
        );
        assert_eq!(text(a_rx.try_recv().unwrap()), "close 4404");
        assert_eq!(hub.sockets(), 0);
    }

    #[test]
    fn socket_limit_and_shutdown() {
        let hub = Hub::new(1);
        let (a, _a_rx) = peer(8);
        let control = a.control.clone();
        hub.join(1, "b".into(), a).unwrap();
        let (b, _b_rx) = peer(8);
        assert_eq!(
            hub.join(2, "b".into(), b).unwrap_err(),
            JoinError::TooManySockets
        );
        hub.shut_down();
        assert_eq!(control.close_code(), Some(close::GOING_AWAY));
        assert!(!hub.has_room());
    }
}
