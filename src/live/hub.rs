//! The WebSocket hub: which sockets are open in which chat, and fan-out of
//! frames to them. It carries bytes; what they say is
//! [`protocol`]'s business. It is also the local
//! [`Fanout`](crate::live::Fanout): an [`Event`](crate::live::Event) is
//! rendered per base URL and sent to the chat's sockets (see [`broadcast`]).
//!
//! Each socket has a bounded outbox ([`Out`](crate::live::peer::Out)). A
//! broadcast serializes and frames its frame once per distinct base URL
//! (links in frames are absolute; nearly always there is one) and gives
//! every recipient the same bytes: a room of up to [`DIRECT_MAX`] sockets
//! gets them written at once, by the publishing task; a larger one through
//! each socket's writer task, so the runtime's workers share the writes. A
//! recipient whose outbox is full is not waited for: it is told to close
//! with 1008 and dropped from the chat, so one slow client never slows a
//! room or grows memory. A chat with no sockets has no entry.
//!
//! Presence is a state, not an event: a join or a leave only marks the
//! chat; at most once per presence interval (250 ms, longer in very large
//! rooms) the current count is put into each socket's presence slot (see
//! [`Control::set_presence`](crate::live::peer::Control::set_presence)), which the socket's writer turns into one
//! frame. N sockets coming or going cost O(N) work and frames, not O(N²).
//!
//! The hub also knows who is signed in on each socket, so a user whose
//! tokens were revoked (deleted, suspended, new password) can be closed
//! out ([`Hub::revoke_user`], [`Hub::revoke_stale`]).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use crate::live::peer::Peer;
use crate::live::protocol::{self, close};
use broadcast::close_after_queued;

pub use broadcast::DIRECT_MAX;
pub use presence::PRESENCE_INTERVAL;

/// A user signed in on a socket, with the token version they signed in
/// under (a newer one in the database means their tokens were revoked).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignedIn {
    pub user_id: i64,
    pub token_version: i64,
}

#[derive(Clone)]
struct Member {
    base: Arc<str>,
    peer: Peer,
    user: Option<SignedIn>,
}

#[derive(Default)]
struct Room {
    members: HashMap<u64, Member>,
    /// The count last put into the members' presence slots.
    told: usize,
    /// When the slots were last filled.
    last_told: Option<Instant>,
    /// A later telling is scheduled.
    pending: bool,
}

#[derive(Default)]
struct State {
    chats: HashMap<i64, Room>,
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
    /// For the timers that tell a chat its count later.
    me: Weak<Hub>,
}

impl Hub {
    pub fn new(max_sockets: usize) -> Arc<Hub> {
        Arc::new_cyclic(|me| Hub {
            state: Mutex::new(State::default()),
            next_id: AtomicU64::new(1),
            max_sockets,
            empty: Notify::new(),
            me: me.clone(),
        })
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
        self.lock()
            .chats
            .get(&chat_id)
            .map_or(0, |room| room.members.len())
    }

    /// Adds a socket to a chat; the others hear of it within the presence
    /// interval. Returns the member id and the number now online.
    pub fn join(
        &self,
        chat_id: i64,
        base: Arc<str>,
        peer: Peer,
        user: Option<SignedIn>,
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
        let room = state.chats.entry(chat_id).or_default();
        room.members.insert(id, Member { base, peer, user });
        let online = room.members.len();
        self.count_changed(&mut state, chat_id);
        Ok((id, online))
    }

    /// Removes a socket; the others in its chat hear of it.
    pub fn leave(&self, chat_id: i64, member_id: u64) {
        let mut state = self.lock();
        self.forget(&mut state, chat_id, &[member_id]);
    }

    /// Removes members (O(1) each). Returns the new count.
    fn forget(&self, state: &mut State, chat_id: i64, ids: &[u64]) -> Option<usize> {
        let room = state.chats.get_mut(&chat_id)?;
        let removed = ids
            .iter()
            .filter(|id| room.members.remove(id).is_some())
            .count();
        let online = room.members.len();
        if online == 0 {
            state.chats.remove(&chat_id);
        } else if removed > 0 {
            self.count_changed(state, chat_id);
        }
        state.sockets -= removed;
        if state.sockets == 0 {
            self.empty.notify_waiters();
        }
        Some(online)
    }

    /// The chats with open sockets.
    pub fn open_chats(&self) -> Vec<i64> {
        self.lock().chats.keys().copied().collect()
    }

    /// The users signed in on open sockets, each once.
    pub fn signed_in(&self) -> Vec<i64> {
        let state = self.lock();
        let mut users: Vec<i64> = state
            .chats
            .values()
            .flat_map(|room| room.members.values())
            .filter_map(|member| member.user.map(|user| user.user_id))
            .collect();
        users.sort_unstable();
        users.dedup();
        users
    }

    /// Closes every socket `user_id` is signed in on (see `Hub::revoke`):
    /// the user was deleted or suspended, or their password changed.
    /// Returns how many were closed.
    pub fn revoke_user(&self, user_id: i64) -> usize {
        self.revoke(|user| user.user_id == user_id)
    }

    /// Closes the sockets of the `checked` users whose token version is
    /// no longer `current` (absent: the user is gone). Sockets opened
    /// under the current version stay. Returns how many were closed.
    pub fn revoke_stale(&self, checked: &[i64], current: &HashMap<i64, i64>) -> usize {
        self.revoke(|user| {
            checked.binary_search(&user.user_id).is_ok()
                && current.get(&user.user_id) != Some(&user.token_version)
        })
    }

    /// Sends each socket whose user matches an `error` frame
    /// (`not_authenticated`), then closes it with 4401; its reader takes it
    /// out of its chat.
    fn revoke(&self, matches: impl Fn(&SignedIn) -> bool) -> usize {
        let state = self.lock();
        let mut closed = 0;
        for member in state.chats.values().flat_map(|room| room.members.values()) {
            if member.user.as_ref().is_some_and(&matches) {
                member.peer.send(protocol::revoked());
                close_after_queued(&member.peer, close::NOT_AUTHENTICATED);
                closed += 1;
            }
        }
        closed
    }

    /// Refuses new sockets and asks every open one to close with 1001.
    pub fn shut_down(&self) {
        let mut state = self.lock();
        state.shutting_down = true;
        for member in state.chats.values().flat_map(|room| room.members.values()) {
            member.peer.control.close(close::GOING_AWAY);
        }
    }

    /// True once [`Hub::shut_down`] was called.
    pub fn is_shutting_down(&self) -> bool {
        self.lock().shutting_down
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

pub mod broadcast;
mod presence;
#[cfg(test)]
mod tests;
